package recorder_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/stretchr/testify/require"
)

// recorderIndexes are the secondary indexes of the recorder's schema
// (store.go) and, created by the benchmark, those it used to have:
// BenchmarkIndexCost drops each in turn.
var recorderIndexes = []string{"entries_agent", "entries_op", "entries_tool", "entries_payload_type",
	"entries_effect", "entries_kind", "entries_trace", "entries_time"}

// formerIndexes are the indexes of the first schema that store.go no
// longer creates; withFormerIndexes puts them back for the comparison.
var formerIndexes = map[string]string{
	"entries_op":     "CREATE INDEX entries_op ON entries(op)",
	"entries_effect": "CREATE INDEX entries_effect ON entries(effect)",
	"entries_kind":   "CREATE INDEX entries_kind ON entries(kind)",
}

// syscallEntry is the i-th entry of a governed workload: 100 agents, a
// decision then an outcome per syscall (own trace), four ops, one in 50
// decisions a denial, one in 100 entries a signal, tools on exec.
func syscallEntry(i int, at time.Time) recorder.Entry {
	n := i / 2
	ops := []agentos.Op{agentos.OpWrite, agentos.OpRead, agentos.OpExec, agentos.OpSend}
	e := recorder.Entry{Time: at.Add(time.Duration(i) * time.Millisecond), Trace: fmt.Sprintf("%016x", n),
		Agent: agentos.AgentID(fmt.Sprintf("agent-%d", n%100)), Op: ops[n%4], Path: "/mem/working/task.txt",
		PolicyVersion: "bench@1", Rule: "memory", Effect: agentos.Allow, Kind: recorder.KindDecision,
		Status: recorder.StatusPermitted}
	if e.Op == agentos.OpExec {
		e.Tool, e.Path = fmt.Sprintf("tool.%d", n%20), ""
	}
	if n%50 == 0 {
		e.Effect, e.Status, e.Rule = agentos.Deny, recorder.StatusDenied, "secrets"
	}
	switch {
	case i%100 == 99:
		e.Kind, e.Status, e.Detail = recorder.KindSignal, "", "SIGSTOP"
	case i%2 == 1:
		e.Kind, e.Status, e.Duration = recorder.KindOutcome, recorder.StatusOK, time.Millisecond
	}
	return e
}

// dropIndexes gives a recorder file (closed) every index of
// recorderIndexes but those named.
func dropIndexes(t testing.TB, path string, names []string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	require.NoError(t, err)
	defer db.Close()
	for _, q := range formerIndexes {
		_, err := db.Exec(strings.Replace(q, "CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
		require.NoError(t, err)
	}
	for _, n := range names {
		_, err := db.Exec("DROP INDEX " + n)
		require.NoError(t, err)
	}
}

func copyDB(t testing.TB, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.Create(to)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
}

// BenchmarkIndexCost measures, from the eight indexes of the first schema,
// with each dropped in turn, with op, effect and kind dropped (the schema
// store.go creates now) and with all dropped, the append throughput (WriteAhead with
// one appender: µs per Append; with 64 appenders and Buffered: entries/s)
// (and the CPU time per Buffered append and the file bytes per entry, which
// other work on a shared machine disturbs less) and the time of the reads that might need the index, over a file of
// 100 000 entries of a governed workload (syscallEntry): the first page of
// Query by trace, agent, op, tool, kind, effect and a time window, Stats
// and Verify.
//
//	go test -run '^$' -bench '^BenchmarkIndexCost$' -benchtime 1x ./recorder/
func BenchmarkIndexCost(b *testing.B) {
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const filled = 100_000
	full := tempPath(b, "full.db")
	r, err := recorder.Open(full, &recorder.Options{Durability: recorder.Buffered})
	require.NoError(b, err)
	for i := range filled {
		_, err := r.Append(ctx, syscallEntry(i, at))
		require.NoError(b, err)
	}
	require.NoError(b, r.Close())

	type variant struct {
		name string
		drop []string
	}
	variants := []variant{{"drop=none", nil}}
	for _, ix := range recorderIndexes {
		variants = append(variants, variant{"drop=" + ix, []string{ix}})
	}
	variants = append(variants,
		variant{"drop=op,effect,kind(schema)", []string{"entries_op", "entries_effect", "entries_kind"}},
		variant{"drop=all", recorderIndexes})
	for _, v := range variants {
		name, drop := v.name, v.drop
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				measureAppends(b, drop, at)
				measureReads(b, full, drop, at, filled)
			}
		})
	}
}

// fresh returns an empty recorder file without the indexes in drop,
// opened with o, and its path.
func fresh(b *testing.B, drop []string, o *recorder.Options) (*recorder.Recorder, string) {
	p := tempPath(b, "fresh.db")
	r, err := recorder.Open(p, nil)
	require.NoError(b, err)
	require.NoError(b, r.Close())
	dropIndexes(b, p, drop)
	r, err = recorder.Open(p, o)
	require.NoError(b, err)
	return r, p
}

// cpuTime is the CPU time (user and system) of the process so far: less
// disturbed than wall time by other work on a shared machine.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func measureAppends(b *testing.B, drop []string, at time.Time) {
	ctx := context.Background()
	// WriteAhead, one appender: a decision waits, its outcome rides along.
	r, _ := fresh(b, drop, nil)
	const one = 300
	start := time.Now()
	for i := range one {
		e := syscallEntry(i, at)
		var err error
		if e.Kind == recorder.KindOutcome {
			_, err = r.AppendLater(ctx, e)
		} else {
			_, err = r.Append(ctx, e)
		}
		require.NoError(b, err)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/one*2, "wa1-µs/syscall")
	require.NoError(b, r.Close())

	// WriteAhead, 64 appenders.
	r, _ = fresh(b, drop, nil)
	const many = 8192
	start = time.Now()
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := g; i < many; i += 64 {
				if _, err := r.Append(ctx, syscallEntry(i, at)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(many/time.Since(start).Seconds(), "wa64-entries/s")
	require.NoError(b, r.Close())

	// Buffered.
	r, p := fresh(b, drop, &recorder.Options{Durability: recorder.Buffered})
	const buffered = 30_000
	start = time.Now()
	cpu := cpuTime(b)
	for i := range buffered {
		_, err := r.Append(ctx, syscallEntry(i, at))
		require.NoError(b, err)
	}
	require.NoError(b, r.Flush(ctx))
	b.ReportMetric(buffered/time.Since(start).Seconds(), "buffered-entries/s")
	b.ReportMetric(float64((cpuTime(b)-cpu).Nanoseconds())/buffered/1000, "buffered-cpu-µs/entry")
	require.NoError(b, r.Close())
	fi, err := os.Stat(p)
	require.NoError(b, err)
	b.ReportMetric(float64(fi.Size())/buffered, "file-bytes/entry")
}

func measureReads(b *testing.B, full string, drop []string, at time.Time, filled int) {
	ctx := context.Background()
	p := tempPath(b, "copy.db")
	copyDB(b, full, p)
	dropIndexes(b, p, drop)
	r, err := recorder.Open(p, &recorder.Options{ReadOnly: true})
	require.NoError(b, err)
	defer r.Close()
	mid := filled / 2
	queries := []struct {
		metric string
		f      recorder.Filter
	}{
		{"trace-µs", recorder.Filter{Trace: fmt.Sprintf("%016x", mid/2)}},
		{"agent-µs", recorder.Filter{Agent: "agent-42", Limit: 256, Order: recorder.Descending}},
		{"op-µs", recorder.Filter{Op: agentos.OpSend, Limit: 256, Order: recorder.Descending}},
		{"tool-µs", recorder.Filter{Tool: "tool.6", Limit: 256, Order: recorder.Descending}},
		{"kind-µs", recorder.Filter{Kind: recorder.KindSignal, Limit: 256, Order: recorder.Descending}},
		{"effect-µs", recorder.Filter{Effects: []agentos.Effect{agentos.Deny}, Limit: 256, Order: recorder.Descending}},
		{"time-µs", recorder.Filter{Since: at.Add(time.Duration(mid) * time.Millisecond),
			Until: at.Add(time.Duration(mid+200) * time.Millisecond)}},
	}
	for _, q := range queries {
		start := time.Now()
		n := 0
		for _, err := range r.Query(ctx, q.f) {
			require.NoError(b, err)
			n++
		}
		require.Positive(b, n, q.metric)
		b.ReportMetric(float64(time.Since(start).Microseconds()), q.metric)
	}
	start := time.Now()
	_, err = r.Stats(ctx)
	require.NoError(b, err)
	b.ReportMetric(float64(time.Since(start).Microseconds()), "stats-µs")
	start = time.Now()
	rep, err := r.Verify(ctx)
	require.NoError(b, err)
	require.True(b, rep.OK)
	b.ReportMetric(float64(time.Since(start).Microseconds()), "verify-µs")
}
