package recorder_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos/recorder"
	"github.com/stretchr/testify/require"
)

// BenchmarkGroupCommit measures WriteAhead group commit with 64 appenders
// doing what the kernel does per syscall (Append of the decision, which
// waits for its commit, then AppendLater of the outcome), for bounds on the
// entries of one transaction (Options.MaxBatch): throughput in entries/s
// and the p50 and p99 latency of the waiting Append. MaxBatch=1 is a
// commit (an fsync) per entry.
//
//	go test -run '^$' -bench '^BenchmarkGroupCommit$' -benchtime 1x ./recorder/
func BenchmarkGroupCommit(b *testing.B) {
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, maxBatch := range []int{1, 8, 32, 128, 4096} {
		b.Run("maxbatch="+strconv.Itoa(maxBatch), func(b *testing.B) {
			for b.Loop() {
				r, err := recorder.Open(tempPath(b, "gc.db"), &recorder.Options{MaxBatch: maxBatch})
				require.NoError(b, err)
				const appenders, syscalls = 64, 4096
				lat := make([][]time.Duration, appenders)
				start := time.Now()
				var wg sync.WaitGroup
				for g := range appenders {
					wg.Go(func() {
						for i := g; i < syscalls; i += appenders {
							t0 := time.Now()
							if _, err := r.Append(ctx, syscallEntry(2*i, at)); err != nil {
								b.Error(err)
								return
							}
							lat[g] = append(lat[g], time.Since(t0))
							if _, err := r.AppendLater(ctx, syscallEntry(2*i+1, at)); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				require.NoError(b, r.Flush(ctx))
				elapsed := time.Since(start)
				require.NoError(b, r.Close())
				all := slices.Concat(lat...)
				slices.Sort(all)
				b.ReportMetric(2*syscalls/elapsed.Seconds(), "entries/s")
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}
