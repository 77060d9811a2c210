package recorder_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/stretchr/testify/require"
)

// kernelPair returns the two entries a governed syscall records, as the
// kernel fills them for a tool call: a decision with short args and the
// tool's version in meta, and an outcome with a result digest.
func kernelPair(i int) (decision, outcome recorder.Entry) {
	at := time.Date(2026, 3, 1, 12, 0, 0, i, time.UTC)
	trace := fmt.Sprintf("act-%08d", i)
	decision = recorder.Entry{Time: at, Kind: recorder.KindDecision, Trace: trace, Agent: "agent-001",
		Op: agentos.OpExec, Tool: "sql.query", Args: []byte(`{"limit":10,"q":"select 1"}`),
		Meta: map[string]string{"version": "1.2.0"}, PolicyVersion: "v1", Rule: "allow-sql",
		Effect: agentos.Allow, Status: "permitted"}
	outcome = recorder.Entry{Time: at.Add(time.Microsecond), Kind: recorder.KindOutcome, Trace: trace,
		Agent: "agent-001", Op: agentos.OpExec, Tool: "sql.query", PolicyVersion: "v1", Rule: "allow-sql",
		Effect: agentos.Allow, Status: recorder.StatusOK, Duration: time.Microsecond,
		ResultDigest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
	return decision, outcome
}

// pairs are kernel entries made ahead, so that the benchmarks measure the
// recorder and not the making of its input.
var pairs = func() (out [1024][2]recorder.Entry) {
	for i := range out {
		out[i][0], out[i][1] = kernelPair(i)
	}
	return out
}()

type shape struct {
	name string
	run  func(b testing.TB, r *recorder.Recorder, i int)
}

var shapes = []shape{
	{"entry", func(b testing.TB, r *recorder.Recorder, i int) {
		d := pairs[i%len(pairs)][0]
		if _, err := r.Append(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}},
	{"pair", func(b testing.TB, r *recorder.Recorder, i int) {
		d, o := pairs[i%len(pairs)][0], pairs[i%len(pairs)][1]
		if _, err := r.Append(context.Background(), d); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Append(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}},
}

// sqliteAppend measures the SQLite in-memory recorder (what Open("") was)
// on a shape over n iterations: the baseline of the ratio that
// BenchmarkMemoryAppend reports. It runs before the benchmark's timed loop
// (testing.Benchmark cannot run inside a benchmark).
func sqliteAppend(b *testing.B, s shape, n int) (nsPerOp, allocsPerOp float64) {
	r, err := recorder.OpenSQLiteMemory(&recorder.Options{Durability: recorder.Buffered})
	require.NoError(b, err)
	defer r.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := range n {
		s.run(b, r, i)
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return float64(elapsed.Nanoseconds()) / float64(n), float64(after.Mallocs-before.Mallocs) / float64(n)
}

// BenchmarkMemoryAppend appends one kernel decision entry, or a decision
// and outcome pair, to the in-memory recorder the kernel uses by default
// (Open("") in Buffered mode), and reports how many times faster than the
// SQLite in-memory recorder it is (sqlite-ns/op and x-vs-sqlite, measured
// in the same run).
func BenchmarkMemoryAppend(b *testing.B) {
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			baseNs, baseAllocs := sqliteAppend(b, s, 20_000)
			r, err := recorder.Open("", &recorder.Options{Durability: recorder.Buffered})
			require.NoError(b, err)
			defer r.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.run(b, r, i)
				i++
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(baseNs, "sqlite-ns/op")
			b.ReportMetric(baseAllocs, "sqlite-allocs/op")
			b.ReportMetric(baseNs/ns, "x-vs-sqlite")
		})
	}
}

// BenchmarkMemoryAppendBounded appends pairs to a recorder bounded by
// MaxEntries, in its steady state: every append evicts one entry, and the
// heap reuses the memory of evicted ones instead of growing (a growing
// heap's first touch of new pages is part of BenchmarkMemoryAppend's cost).
func BenchmarkMemoryAppendBounded(b *testing.B) {
	r, err := recorder.Open("", &recorder.Options{Durability: recorder.Buffered, MaxEntries: 100_000})
	require.NoError(b, err)
	defer r.Close()
	for i := range 100_000 {
		shapes[1].run(b, r, i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		shapes[1].run(b, r, i)
		i++
	}
}

// appendPair appends a new decision and outcome pair, its strings made
// afresh as the kernel makes them for each syscall.
func appendPair(b *testing.B, r *recorder.Recorder, i int) {
	d, o := kernelPair(i)
	if _, err := r.Append(context.Background(), d); err != nil {
		b.Fatal(err)
	}
	if _, err := r.Append(context.Background(), o); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMemoryAppendParallel appends pairs from GOMAXPROCS goroutines.
func BenchmarkMemoryAppendParallel(b *testing.B) {
	r, err := recorder.Open("", &recorder.Options{Durability: recorder.Buffered})
	require.NoError(b, err)
	defer r.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			shapes[1].run(b, r, i)
			i++
		}
	})
}

// BenchmarkMemoryQuery queries a store of 100 000 kernel entries (and
// verifies it): one trace (through the trace index, which the first query
// by trace builds: see BenchmarkMemoryTraceIndex for that first query),
// the newest 20 entries of an agent, and a page of 256 after a cursor.
func BenchmarkMemoryQuery(b *testing.B) {
	const n = 50_000
	r, err := recorder.Open("", nil)
	require.NoError(b, err)
	defer r.Close()
	ctx := context.Background()
	for i := range n {
		appendPair(b, r, i)
	}
	cases := []struct {
		name string
		f    recorder.Filter
		want int
	}{
		{"trace", recorder.Filter{Trace: fmt.Sprintf("act-%08d", n/2)}, 2},
		{"newest-20", recorder.Filter{Agent: "agent-001", Order: recorder.Descending, Limit: 20}, 20},
		{"page-after", recorder.Filter{After: n, Limit: 256}, 256},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got := 0
				for _, err := range r.Query(ctx, c.f) {
					if err != nil {
						b.Fatal(err)
					}
					got++
				}
				if got != c.want {
					b.Fatalf("got %d entries, want %d", got, c.want)
				}
			}
		})
	}
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rep, err := r.Verify(ctx)
			if err != nil || !rep.OK {
				b.Fatal(err, rep.Broken)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(2*n), "ns/entry")
	})
}

// BenchmarkMemoryBytesPerEntry appends 1 000 000 kernel entries (500 000
// decision and outcome pairs) and reports the heap they hold per entry.
// Run it alone: go test -run '^$' -bench BytesPerEntry -benchtime 1x ./recorder/
func BenchmarkMemoryBytesPerEntry(b *testing.B) {
	for b.Loop() {
		const pairs = 500_000
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r, err := recorder.Open("", &recorder.Options{Durability: recorder.Buffered})
		require.NoError(b, err)
		for i := range pairs {
			appendPair(b, r, i)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(2*pairs), "heap-bytes/entry")
		runtime.KeepAlive(r)
		require.NoError(b, r.Close())
	}
}
