package signals_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos/signals"
)

// The hot path: Enter and done on a running agent, the caller passing its
// agent context (the same for every syscall).
func BenchmarkEnterDone(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := newDispatcher("bench")
	b.ReportAllocs()
	for b.Loop() {
		_, done, err := d.Enter(ctx)
		if err != nil {
			b.Fatal(err)
		}
		done()
	}
}

// Worst case: a different caller context on every syscall.
func BenchmarkEnterDoneFreshContext(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := newDispatcher("bench")
	b.ReportAllocs()
	for b.Loop() {
		c := context.WithValue(ctx, ctxKey{}, 1)
		_, done, err := d.Enter(c)
		if err != nil {
			b.Fatal(err)
		}
		done()
	}
}

// Baseline: what a naive gate costs at least, a cancellable context per
// syscall.
func BenchmarkBaselineWithCancelCause(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		c, cancel := context.WithCancelCause(ctx)
		_ = c
		cancel(nil)
	}
}

func BenchmarkEnterDoneParallel(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := newDispatcher("bench")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, done, err := d.Enter(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			done()
		}
	})
}

func BenchmarkCommit(b *testing.B) {
	d := newDispatcher("bench")
	fn := func() error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Commit(fn); err != nil {
			b.Fatal(err)
		}
	}
}

// SIGSTOP observed at the gate. Each iteration: SIGSTOP (stop-ns: the
// Send; every gate entered after it returns blocks), a syscall issued by
// another goroutine until it is seen blocked at the gate (block-ns), then
// SIGCONT until that syscall has passed the gate (cont-ns).
func BenchmarkStopLatency(b *testing.B) {
	d := newDispatcher("bench")
	ctx := context.Background()
	again, passed := make(chan struct{}), make(chan struct{})
	go func() {
		for range again {
			_, done, err := d.Enter(ctx)
			if err == nil {
				done()
			}
			passed <- struct{}{}
		}
	}()
	var stop, block, cont time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		_ = d.Send(ctx, signals.SIGSTOP, "")
		t1 := time.Now()
		again <- struct{}{}
		for d.Waiting() == 0 {
			runtime.Gosched()
		}
		t2 := time.Now()
		_ = d.Send(ctx, signals.SIGCONT, "")
		<-passed
		t3 := time.Now()
		stop += t1.Sub(t0)
		block += t2.Sub(t1)
		cont += t3.Sub(t2)
		n++
	}
	close(again)
	b.ReportMetric(float64(stop.Nanoseconds())/float64(n), "stop-ns")
	b.ReportMetric(float64(block.Nanoseconds())/float64(n), "block-ns")
	b.ReportMetric(float64(cont.Nanoseconds())/float64(n), "cont-ns")
}

// Baseline for BenchmarkStopLatency: a round trip between two goroutines
// over unbuffered channels.
func BenchmarkBaselineChanRoundTrip(b *testing.B) {
	ping, pong := make(chan struct{}), make(chan struct{})
	go func() {
		for range ping {
			pong <- struct{}{}
		}
	}()
	for b.Loop() {
		ping <- struct{}{}
		<-pong
	}
	close(ping)
}

const killFanout = 64

// Kill latency: SIGKILL to the return of the last of 64 syscalls blocked in
// flight on their context (kill-ns).
func BenchmarkKillLatency(b *testing.B) {
	var total time.Duration
	n := 0
	for b.Loop() {
		d := newDispatcher("bench")
		var entered, returned sync.WaitGroup
		entered.Add(killFanout)
		returned.Add(killFanout)
		for range killFanout {
			go func() {
				defer returned.Done()
				sctx, done, err := d.Enter(context.Background())
				entered.Done()
				if err != nil {
					return
				}
				defer done()
				<-sctx.Done()
			}()
		}
		entered.Wait()
		t0 := time.Now()
		_ = d.Send(context.Background(), signals.SIGKILL, "")
		returned.Wait()
		total += time.Since(t0)
		n++
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(n), "kill-ns")
}

// Baseline for BenchmarkKillLatency: cancelling one context that 64
// goroutines wait on.
func BenchmarkBaselineCancelFanout(b *testing.B) {
	var total time.Duration
	n := 0
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		var entered, returned sync.WaitGroup
		entered.Add(killFanout)
		returned.Add(killFanout)
		for range killFanout {
			go func() {
				defer returned.Done()
				entered.Done()
				<-ctx.Done()
			}()
		}
		entered.Wait()
		t0 := time.Now()
		cancel()
		returned.Wait()
		total += time.Since(t0)
		n++
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(n), "kill-ns")
}
