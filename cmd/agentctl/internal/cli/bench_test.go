//go:build unix

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// benchEntries is the size of the benchmarks' recorder: 100 000 entries,
// or AGENTCTL_BENCH_ENTRIES (1000000 for the figures of the issue). The
// file is built once and kept in the temporary directory
// (agentctl-bench-N.db), so later runs skip the build; delete it to
// rebuild.
func benchEntries(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("AGENTCTL_BENCH_ENTRIES"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(b, err, "AGENTCTL_BENCH_ENTRIES")
		require.Positive(b, v)
		n = v
	}
	return n
}

var benchFiles sync.Map // entries → path

// benchFile returns a recorder of n entries: syscalls of 16 agents, each a
// decision and an outcome, one in five denied.
func benchFile(b *testing.B, n int) string {
	if p, ok := benchFiles.Load(n); ok {
		return p.(string)
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("agentctl-bench-%d.db", n))
	if r, err := recorder.Open(path, &recorder.Options{ReadOnly: true}); err == nil {
		head := r.Anchor().Seq
		r.Close()
		if head == uint64(n) {
			benchFiles.Store(n, path)
			return path
		}
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := recorder.Open(path, &recorder.Options{Durability: recorder.Buffered, QueueSize: 8192, BatchSize: 4096})
	require.NoError(b, err)
	for i := range n {
		agent := agentos.AgentID(fmt.Sprintf("agent-%02d", i%16))
		trace := fmt.Sprintf("t%d", i/2)
		e := recorder.Entry{Time: t0.Add(time.Duration(i) * time.Millisecond), Trace: trace, Agent: agent,
			Op: agentos.OpExec, Tool: "search", Args: []byte(`{"q":"benchmark query"}`)}
		if i%2 == 0 {
			e.Kind, e.Rule, e.Effect, e.Status = recorder.KindDecision, "search", agentos.Allow, recorder.StatusPermitted
			if i%10 == 0 {
				e.Rule, e.Effect, e.Status, e.Message = "no-search", agentos.Deny, recorder.StatusDenied, "denied"
			}
		} else {
			e.Kind, e.Status, e.Duration = recorder.KindOutcome, recorder.StatusOK, time.Millisecond
		}
		_, err := r.Append(ctx, e)
		require.NoError(b, err)
	}
	require.NoError(b, r.Close())
	benchFiles.Store(n, path)
	return path
}

// pair runs lib and cli alternately, b.N times each, and reports each
// one's wall time and CPU time (of the whole process: garbage collection
// included) per run, and their ratios (cli/lib). Each run starts after a
// collection, so that neither pays for the other's garbage, and the order
// alternates; the CPU ratio is the steadier of the two on a loaded machine.
func pair(b *testing.B, lib, cli func() error) {
	var wall, cpu [2]time.Duration
	runs := 0
	fns := [2]func() error{lib, cli}
	for b.Loop() {
		for k := range 2 {
			i := (runs + k) % 2
			runtime.GC()
			c0, s := cpuTime(b), time.Now()
			require.NoError(b, fns[i]())
			wall[i] += time.Since(s)
			cpu[i] += cpuTime(b) - c0
		}
		runs++
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(runs) }
	b.ReportMetric(per(wall[0]), "lib-ns/run")
	b.ReportMetric(per(wall[1]), "agentctl-ns/run")
	b.ReportMetric(float64(wall[1])/float64(wall[0]), "ratio")
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "cpu-ratio")
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mainOK(args ...string) func() error {
	return func() error {
		if code := Main(args, nil, io.Discard, io.Discard); code != ExitOK {
			return fmt.Errorf("agentctl %v: exit %d", args, code)
		}
		return nil
	}
}

// BenchmarkVerify compares "agentctl verify FILE" with the library's
// Verify of the same file (open read-only, Verify, Close).
//
//	go test -run '^$' -bench 'Benchmark(Verify|Log)$' -benchtime 3x ./cmd/agentctl/internal/cli/
func BenchmarkVerify(b *testing.B) {
	n := benchEntries(b)
	path := benchFile(b, n)
	ctx := context.Background()
	lib := func() error {
		r, err := recorder.Open(path, &recorder.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		defer r.Close()
		rep, err := r.Verify(ctx)
		if err == nil && (!rep.OK || rep.Entries != uint64(n)) {
			err = fmt.Errorf("verify: %+v", rep)
		}
		return err
	}
	b.ReportAllocs()
	pair(b, lib, mainOK("verify", path))
}

// BenchmarkLog compares "agentctl log FILE" (every entry, to a discarded
// stdout) in the table and jsonl formats with the library's Query of
// every entry.
func BenchmarkLog(b *testing.B) {
	n := benchEntries(b)
	path := benchFile(b, n)
	ctx := context.Background()
	lib := func() error {
		r, err := recorder.Open(path, &recorder.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		defer r.Close()
		seen := 0
		for _, err := range r.Query(ctx, recorder.Filter{}) {
			if err != nil {
				return err
			}
			seen++
		}
		if seen != n {
			return fmt.Errorf("query: %d entries, want %d", seen, n)
		}
		return nil
	}
	for _, format := range []string{"table", "jsonl"} {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			pair(b, lib, mainOK("log", "--format", format, path))
		})
	}
}

// BenchmarkEntryWriter measures what log adds to the library's Query per
// entry: formatting one kernel-like decision entry and writing it to a
// discarded stdout. Compare with BenchmarkLog's lib-ns/run divided by the
// file's entries.
func BenchmarkEntryWriter(b *testing.B) {
	en := recorder.Entry{Seq: 123456, Time: time.Date(2026, 1, 1, 0, 0, 1, 5e6, time.UTC), Trace: "5209e2f34a7c-4",
		Agent: "agent-07", Kind: recorder.KindDecision, Op: agentos.OpExec, Tool: "search",
		Args: []byte(`{"q":"benchmark query"}`), Meta: map[string]string{"version": "1.0.0"},
		PolicyVersion: "fixture@7+1b2b24ee032c", Rule: "search", Effect: agentos.Allow, Status: recorder.StatusPermitted}
	for _, format := range []string{"table", "jsonl"} {
		b.Run(format, func(b *testing.B) {
			w := newEntryWriter(&env{stdout: io.Discard, format: format})
			b.ReportAllocs()
			for b.Loop() {
				if err := w.write(&en); err != nil {
					b.Fatal(err)
				}
			}
			require.NoError(b, w.close())
		})
	}
}
