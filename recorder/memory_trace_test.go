package recorder

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/require"
)

var traceSeed = flag.Uint64("recorder.traceseed", 0, "seed of TestMemoryTraceIndexMatchesScan (0: a fresh one per run)")

// collect runs a query to its end.
func collect(t *testing.T, seq func(func(Entry, error) bool)) ([]Entry, error) {
	t.Helper()
	var out []Entry
	for e, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// randomTraceFilter returns a filter by one of the traces of
// TestMemoryTraceIndexMatchesScan, now and then with the other fields
// set too.
func randomTraceFilter(rng *rand.Rand, head uint64) Filter {
	f := Filter{Trace: fmt.Sprintf("t-%d", rng.IntN(12))}
	if rng.IntN(3) == 0 {
		f.Agent = agentos.AgentID(fmt.Sprintf("a%d", rng.IntN(3)))
	}
	if rng.IntN(3) == 0 {
		f.Kind = []Kind{KindDecision, KindOutcome, KindSignal}[rng.IntN(3)]
	}
	if rng.IntN(3) == 0 && head > 0 {
		f.After = rng.Uint64N(head + 2)
	}
	if rng.IntN(3) == 0 && head > 0 {
		f.Before = rng.Uint64N(head + 2)
	}
	if rng.IntN(3) == 0 {
		f.Limit = rng.IntN(4)
	}
	if rng.IntN(2) == 0 {
		f.Order = Descending
	}
	if rng.IntN(4) == 0 {
		f.Effects = []agentos.Effect{agentos.Allow}
	}
	if rng.IntN(6) == 0 {
		f.Since = time.Unix(0, int64(rng.IntN(2000)))
	}
	return f
}

// TestMemoryTraceIndexMatchesScan holds queries by trace through the
// index to the scan they replace: random appends to stores with and
// without MaxEntries (so that eviction trims the index), queries by trace
// with random other filter fields at random points, the index built by
// the first of them and kept by every append and eviction after it.
func TestMemoryTraceIndexMatchesScan(t *testing.T) {
	seed := *traceSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (-recorder.traceseed to repeat)", seed)
	rng := rand.New(rand.NewPCG(seed, 12))
	ctx := context.Background()
	for _, max := range []int{0, 1, 3, 17, 1500} {
		t.Run(fmt.Sprintf("max=%d", max), func(t *testing.T) {
			o := (&Options{MaxEntries: max}).withDefaults()
			m := newMemStore(&o, Anchor{})
			queries, found := 0, 0
			for i := range 4000 {
				e := Entry{
					Time:   time.Unix(0, int64(i)),
					Trace:  fmt.Sprintf("t-%d", rng.IntN(12)),
					Agent:  agentos.AgentID(fmt.Sprintf("a%d", rng.IntN(3))),
					Kind:   []Kind{KindDecision, KindOutcome, KindSignal}[rng.IntN(3)],
					Effect: agentos.Effect(rng.IntN(2)),
				}
				if e.Kind == KindSignal && rng.IntN(2) == 0 {
					e.Trace = "" // not indexed
				}
				_, err := m.append(ctx, e)
				require.NoError(t, err)
				if i < 200 || rng.IntN(25) != 0 {
					continue // the first 200 appends find no index
				}
				queries++
				f := randomTraceFilter(rng, m.anchor().Seq)
				got, err := collect(t, m.query(ctx, f))
				require.NoError(t, err)
				want, err := collect(t, m.queryWith(ctx, f, false))
				require.NoError(t, err)
				require.Equal(t, want, got, "filter %+v after %d appends", f, i+1)
				found += len(got)
			}
			require.NotNil(t, m.traces)
			require.Positive(t, queries)
			require.Positive(t, found, "no query found anything: the comparison proves little")
			// The index holds one position per indexed entry held.
			held := 0
			for _, l := range m.traces {
				held += len(l)
			}
			v, _, err := m.view()
			require.NoError(t, err)
			indexed := 0
			for i := range v.n {
				if tr, ok := traceOf(v.at(i).body); ok && tr != "" {
					indexed++
				}
			}
			require.Equal(t, indexed, held)
			if max > 0 {
				require.LessOrEqual(t, held, max)
			}
		})
	}
}

// An append builds no index; the first query by trace does.
func TestMemoryTraceIndexLazy(t *testing.T) {
	ctx := context.Background()
	o := (&Options{}).withDefaults()
	m := newMemStore(&o, Anchor{})
	for i := range 10 {
		_, err := m.append(ctx, Entry{Trace: fmt.Sprintf("t-%d", i%3), Kind: KindDecision})
		require.NoError(t, err)
	}
	_, err := collect(t, m.query(ctx, Filter{Agent: "x"}))
	require.NoError(t, err)
	require.Nil(t, m.traces, "a query not by trace builds no index")
	got, err := collect(t, m.query(ctx, Filter{Trace: "t-1"}))
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Len(t, m.traces, 3)
	_, err = m.append(ctx, Entry{Trace: "t-1", Kind: KindOutcome})
	require.NoError(t, err)
	require.Len(t, m.traces["t-1"], 4)
	m.close()
	require.Nil(t, m.traces)
	_, err = collect(t, m.query(ctx, Filter{Trace: "t-1"}))
	require.ErrorIs(t, err, agentos.ErrClosed)
}

// A store holding a body that does not decode (only tampering makes one)
// has no index: a query by trace scans and reports the entry as the scan
// does.
func TestMemoryTraceIndexUndecodable(t *testing.T) {
	ctx := context.Background()
	o := (&Options{}).withDefaults()
	m := newMemStore(&o, Anchor{})
	_, err := m.append(ctx, Entry{Trace: "t-1", Kind: KindDecision})
	require.NoError(t, err)
	m.mu.Lock()
	m.put(&memEntry{body: "t-1 and no fields", seq: 2})
	m.mu.Unlock()
	for _, useIndex := range []bool{true, false} {
		_, err = collect(t, m.queryWith(ctx, Filter{Trace: "t-1"}, useIndex))
		require.ErrorIs(t, err, ErrCorrupt)
	}
	require.True(t, m.unindexed)
	require.Nil(t, m.traces)
}

// Appends, evictions and queries by trace at once: run with -race.
func TestMemoryTraceIndexConcurrent(t *testing.T) {
	ctx := context.Background()
	o := (&Options{MaxEntries: 64}).withDefaults()
	m := newMemStore(&o, Anchor{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 2000 {
				_, err := m.append(ctx, Entry{Trace: fmt.Sprintf("t-%d", i%5), Agent: agentos.AgentID(fmt.Sprint(w)), Kind: KindDecision})
				require.NoError(t, err)
			}
		})
	}
	wg.Go(func() {
		for i := range 500 {
			got, err := collect(t, m.query(ctx, Filter{Trace: fmt.Sprintf("t-%d", i%5)}))
			require.NoError(t, err)
			for _, e := range got {
				require.Equal(t, fmt.Sprintf("t-%d", i%5), e.Trace)
			}
		}
	})
	wg.Wait()
}

// BenchmarkMemoryTraceIndex measures what the trace index costs: build,
// the first query by trace over 100 000 kernel entries (the index built
// from nothing, as that query does); and a kernel decision and outcome
// pair appended to a store of MaxEntries 100 000 in its steady state
// (every append evicts), with no index (as until the first query by
// trace) and with one kept up to date.
//
//	go test -run '^$' -bench '^BenchmarkMemoryTraceIndex$' -cpu 1 -count 3 ./recorder/
func BenchmarkMemoryTraceIndex(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	pair := func(i int) (d, o Entry) {
		at := time.Date(2026, 3, 1, 12, 0, 0, i, time.UTC)
		trace := fmt.Sprintf("act-%08d", i)
		d = Entry{Time: at, Kind: KindDecision, Trace: trace, Agent: "agent-001", Op: agentos.OpExec,
			Tool: "sql.query", Args: []byte(`{"limit":10,"q":"select 1"}`), Meta: map[string]string{"version": "1.2.0"},
			PolicyVersion: "v1", Rule: "allow-sql", Effect: agentos.Allow, Status: "permitted"}
		o = Entry{Time: at.Add(time.Microsecond), Kind: KindOutcome, Trace: trace, Agent: "agent-001",
			Op: agentos.OpExec, Tool: "sql.query", PolicyVersion: "v1", Rule: "allow-sql", Effect: agentos.Allow,
			Status: StatusOK, Duration: time.Microsecond,
			ResultDigest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
		return d, o
	}
	fill := func(b *testing.B, max int) *memStore {
		o := (&Options{MaxEntries: max}).withDefaults()
		m := newMemStore(&o, Anchor{})
		for i := range n / 2 {
			d, oc := pair(i)
			if _, err := m.append(ctx, d); err != nil {
				b.Fatal(err)
			}
			if _, err := m.append(ctx, oc); err != nil {
				b.Fatal(err)
			}
		}
		return m
	}
	b.Run("build", func(b *testing.B) {
		m := fill(b, 0)
		b.ReportAllocs()
		for b.Loop() {
			m.mu.Lock()
			m.traces = nil
			m.mu.Unlock()
			if _, l, ok, err := m.traceView("act-00000007"); err != nil || !ok || len(l) != 2 {
				b.Fatal(err, ok, l)
			}
		}
	})
	for _, indexed := range []bool{false, true} {
		b.Run(fmt.Sprintf("append-pair/indexed=%v", indexed), func(b *testing.B) {
			m := fill(b, n)
			if indexed {
				if _, _, ok, err := m.traceView("act-00000007"); err != nil || !ok {
					b.Fatal(err, ok)
				}
			}
			ps := make([][2]Entry, 1024)
			for i := range ps {
				ps[i][0], ps[i][1] = pair(n + i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := &ps[i%len(ps)]
				if _, err := m.append(ctx, p[0]); err != nil {
					b.Fatal(err)
				}
				if _, err := m.append(ctx, p[1]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
