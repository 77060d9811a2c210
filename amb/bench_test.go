package amb_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-os/agentos/amb"
)

// latencies collects publish→deliver latencies (bounded sample).
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	if len(l.d) < 1<<20 {
		l.d = append(l.d, d)
	}
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	b.ReportMetric(float64(l.d[len(l.d)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(l.d[len(l.d)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkMemoryPublishDeliver publishes one message per iteration to N
// subscribers and waits for every delivery; msgs/s counts deliveries.
//
// mode=stream keeps publishing (throughput, latency includes queueing);
// mode=ping waits for all deliveries of one message before the next
// (latency of an idle bus).
func BenchmarkMemoryPublishDeliver(b *testing.B) {
	for _, mode := range []string{"stream", "ping"} {
		for _, n := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("mode=%s/subs=%d", mode, n), func(b *testing.B) {
				bus := amb.NewMemory(&amb.MemoryOptions{QueueSize: 4096})
				defer bus.Close()
				var lat latencies
				var delivered atomic.Int64
				var wg sync.WaitGroup
				for range n {
					_, err := bus.Subscribe(context.Background(), "bench.topic", func(_ context.Context, d amb.Delivery) error {
						lat.add(time.Since(d.Time))
						delivered.Add(1)
						wg.Done()
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				ctx := context.Background()
				payload := make([]byte, 128)
				b.ReportAllocs()
				start := time.Now()
				for b.Loop() {
					wg.Add(n)
					if err := bus.Publish(ctx, "bench.topic", amb.Message{Payload: payload}); err != nil {
						b.Fatal(err)
					}
					if mode == "ping" {
						wg.Wait()
					}
				}
				wg.Wait()
				b.ReportMetric(float64(delivered.Load())/time.Since(start).Seconds(), "deliveries/s")
				lat.report(b)
			})
		}
	}
}

// BenchmarkChannelFanout is the baseline: the same fan-out over plain
// buffered channels, one goroutine per receiver.
func BenchmarkChannelFanout(b *testing.B) {
	type msg struct {
		at      time.Time
		payload []byte
	}
	for _, mode := range []string{"stream", "ping"} {
		for _, n := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("mode=%s/subs=%d", mode, n), func(b *testing.B) {
				var lat latencies
				var delivered atomic.Int64
				var wg, done sync.WaitGroup
				chans := make([]chan msg, n)
				for i := range chans {
					chans[i] = make(chan msg, 4096)
					done.Go(func() {
						for m := range chans[i] {
							lat.add(time.Since(m.at))
							delivered.Add(1)
							wg.Done()
						}
					})
				}
				payload := make([]byte, 128)
				b.ReportAllocs()
				start := time.Now()
				for b.Loop() {
					wg.Add(n)
					m := msg{at: time.Now(), payload: payload}
					for _, c := range chans {
						c <- m
					}
					if mode == "ping" {
						wg.Wait()
					}
				}
				wg.Wait()
				b.ReportMetric(float64(delivered.Load())/time.Since(start).Seconds(), "deliveries/s")
				lat.report(b)
				for _, c := range chans {
					close(c)
				}
				done.Wait()
			})
		}
	}
}
