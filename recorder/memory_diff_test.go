package recorder_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/stretchr/testify/require"
)

var diffSeed = flag.Uint64("recorder.seed", 0, "seed of TestMemoryMatchesSQLite (0: a fresh one per run)")

// pick returns one of vs at random.
func pick[T any](rng *rand.Rand, vs ...T) T { return vs[rng.IntN(len(vs))] }

var diffBase = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// randomEntry returns an entry whose fields come from small alphabets, so
// that filters match some entries and not others, with args written in
// non-canonical form, meta now and then, and times out of order.
func randomEntry(rng *rand.Rand) recorder.Entry {
	e := recorder.Entry{
		Time:          diffBase.Add(time.Duration(rng.IntN(600)) * time.Second).Add(time.Duration(rng.IntN(1000))),
		Trace:         pick(rng, "t-0", "t-1", "t-2", "t-3", "t-4", "t-5", "t-6", "t-7"),
		Agent:         pick[agentos.AgentID](rng, "", "a0", "a1", "a2"),
		Kind:          pick(rng, recorder.KindDecision, recorder.KindDecision, recorder.KindOutcome, recorder.KindOutcome, recorder.KindSignal, recorder.KindLifecycle, recorder.KindPanic),
		Op:            pick[agentos.Op](rng, "", agentos.OpExec, agentos.OpRead, agentos.OpSend),
		Tool:          pick(rng, "", "", "sql.query", "http.get"),
		Path:          pick(rng, "", "/tmp/x", "/é/ü"),
		PayloadType:   pick(rng, "", "", "text/plain", "example.com/billing.Invoice"),
		PolicyVersion: pick(rng, "", "v1"),
		Rule:          pick(rng, "", "r1", "r2"),
		Effect:        pick(rng, agentos.Allow, agentos.Deny, agentos.Effect(2), agentos.Effect(3)),
		Message:       pick(rng, "", "no", "a <b> & c"),
		Status:        pick[recorder.Status](rng, "", recorder.StatusOK, recorder.StatusError, recorder.StatusDenied, "permitted"),
		Error:         pick(rng, "", "boom"),
		Duration:      time.Duration(rng.IntN(3)) * time.Millisecond,
		ResultDigest:  pick(rng, "", "sha256:00ff"),
		Detail:        pick(rng, "", "SIGSTOP", "line1\nline2"),
	}
	switch rng.IntN(4) {
	case 0:
		e.Args = []byte(fmt.Sprintf(` { "z": %d, "a" : [1, 2.50, "x<y"], "m": {"b": true, "a": null} } `, rng.IntN(100)))
	case 1:
		e.Args = []byte(`"just a string"`)
	}
	if rng.IntN(3) == 0 {
		e.Meta = map[string]string{"direction": pick(rng, "pipe", "publish"), "sender": pick(rng, "a0", "a<1>")}
	}
	if (e.Kind == recorder.KindDecision || e.Kind == recorder.KindOutcome) && rng.IntN(50) == 0 {
		e.Trace = "" // refused by both
	}
	return e
}

// randomFilter sets the fields of the set in mask (bit i: field i) from
// small alphabets that include values no entry has, and After, Before,
// Limit and Order over a wide range, huge values included.
func randomFilter(rng *rand.Rand, mask int, n int) recorder.Filter {
	var f recorder.Filter
	at := func() time.Time { return diffBase.Add(time.Duration(rng.IntN(700)-50) * time.Second) }
	if mask&1 != 0 {
		f.Agent = pick[agentos.AgentID](rng, "a0", "a1", "a2", "zz")
	}
	if mask&2 != 0 {
		f.Op = pick[agentos.Op](rng, agentos.OpExec, agentos.OpRead, agentos.OpSend, agentos.OpWrite)
	}
	if mask&4 != 0 {
		f.Tool = pick(rng, "sql.query", "http.get", "none")
	}
	if mask&8 != 0 {
		f.PayloadType = pick(rng, "text/plain", "example.com/billing.Invoice", "x")
	}
	if mask&16 != 0 {
		f.Kind = pick(rng, recorder.Kinds()...)
	}
	if mask&32 != 0 {
		f.Trace = pick(rng, "t-0", "t-3", "t-7", "t-99")
	}
	if mask&64 != 0 {
		for range 1 + rng.IntN(3) {
			f.Effects = append(f.Effects, agentos.Effect(rng.IntN(5)))
		}
	}
	if mask&128 != 0 {
		f.Since = at()
	}
	if mask&256 != 0 {
		f.Until = at()
	}
	bound := func() uint64 {
		switch rng.IntN(10) {
		case 0:
			return 0
		case 1:
			return math.MaxUint64 - uint64(rng.IntN(3))
		case 2:
			return math.MaxInt64 + uint64(rng.IntN(3))
		}
		return uint64(rng.IntN(n + 10))
	}
	if rng.IntN(2) == 0 {
		f.After = bound()
	}
	if rng.IntN(2) == 0 {
		f.Before = bound()
	}
	switch rng.IntN(4) {
	case 0:
		f.Limit = 1 + rng.IntN(5)
	case 1:
		f.Limit = rng.IntN(n + 10)
	}
	if rng.IntN(2) == 0 {
		f.Order = recorder.Descending
	}
	return f
}

type result struct {
	entries []recorder.Entry
	err     string
}

func collect(t *testing.T, r *recorder.Recorder, f recorder.Filter) result {
	var res result
	for e, err := range r.Query(context.Background(), f) {
		if err != nil {
			res.err = err.Error()
			break
		}
		res.entries = append(res.entries, e)
	}
	return res
}

// TestMemoryMatchesSQLite appends the same random workload to an SQLite
// file and to the in-memory store and checks that they answer alike: the
// same sequence numbers and errors, byte-identical exports (so identical
// hashes), the same Stats and Verify reports, and the same results for
// every combination of filter fields, each with random values, bounds,
// limits and orders. The seed is fresh on every run unless -recorder.seed
// fixes it; a failure logs it.
func TestMemoryMatchesSQLite(t *testing.T) {
	seeds := []uint64{1, 2, *diffSeed}
	if *diffSeed == 0 {
		seeds[2] = uint64(time.Now().UnixNano())
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("seed %d (rerun with -recorder.seed=%d)", seed, seed)
			rng := rand.New(rand.NewPCG(seed, 0))
			ctx := context.Background()
			file := mustOpen(t, tempPath(t, "rec.db"), &recorder.Options{Durability: recorder.Buffered})
			mem := mustOpen(t, "", nil)
			require.True(t, mem.InMemory())
			n := 300 + rng.IntN(300)
			for range n {
				e := randomEntry(rng)
				s1, err1 := file.Append(ctx, e)
				s2, err2 := mem.Append(ctx, e)
				require.Equal(t, s1, s2)
				require.Equal(t, err1 == nil, err2 == nil, "file: %v, memory: %v", err1, err2)
				if err1 != nil {
					require.Equal(t, err1.Error(), err2.Error())
				}
			}
			require.NoError(t, file.Flush(ctx))
			require.Equal(t, file.Anchor(), mem.Anchor())

			var fx, mx bytes.Buffer
			require.NoError(t, file.Export(ctx, &fx))
			require.NoError(t, mem.Export(ctx, &mx))
			require.Equal(t, fx.String(), mx.String(), "exports differ")

			fs, err := file.Stats(ctx)
			require.NoError(t, err)
			ms, err := mem.Stats(ctx)
			require.NoError(t, err)
			fs.Path = ""
			require.Equal(t, fs, ms)

			fr, err := file.Verify(ctx)
			require.NoError(t, err)
			mr, err := mem.Verify(ctx)
			require.NoError(t, err)
			require.True(t, mr.OK)
			require.Equal(t, fr, mr)
			a := mem.Anchor()
			fr, err = file.VerifyAnchor(ctx, a)
			require.NoError(t, err)
			mr, err = mem.VerifyAnchor(ctx, a)
			require.NoError(t, err)
			require.Equal(t, fr, mr)

			queries, found := 0, 0
			check := func(f recorder.Filter) {
				want := collect(t, file, f)
				require.Equal(t, want, collect(t, mem, f), "filter %+v", f)
				queries++
				if len(want.entries) > 0 {
					found++
				}
			}
			for mask := range 1 << 9 {
				for range 3 {
					check(randomFilter(rng, mask, n))
				}
			}
			for range 2000 {
				check(randomFilter(rng, rng.IntN(1<<9), n))
			}
			// The alphabets are small enough that many filters match.
			require.Greater(t, found, queries/10, "%d of %d queries found entries", found, queries)
			neg := recorder.Filter{Limit: -1}
			require.Equal(t, collect(t, file, neg), collect(t, mem, neg))
		})
	}
}

// An export of the memory store imports into an SQLite file, and an
// export of a file into memory, with the same hashes and verifying chains.
func TestMemoryExportImportAcrossStores(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	mem := mustOpen(t, "", nil)
	for range 200 {
		mem.Append(ctx, randomEntry(rng))
	}
	var mx bytes.Buffer
	require.NoError(t, mem.Export(ctx, &mx))

	file, err := recorder.Import(ctx, bytes.NewReader(mx.Bytes()), tempPath(t, "imported.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { file.Close() })
	rep, err := file.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK)
	require.Equal(t, mem.Anchor(), file.Anchor())
	var fx bytes.Buffer
	require.NoError(t, file.Export(ctx, &fx))
	require.Equal(t, mx.String(), fx.String())

	back, err := recorder.Import(ctx, bytes.NewReader(fx.Bytes()), "", nil)
	require.NoError(t, err)
	t.Cleanup(func() { back.Close() })
	require.True(t, back.InMemory())
	rep, err = back.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK)
	require.Equal(t, file.Anchor(), back.Anchor())
	var bx bytes.Buffer
	require.NoError(t, back.Export(ctx, &bx))
	require.Equal(t, fx.String(), bx.String())
	// The imported recorder goes on appending from the imported head.
	seq, err := back.Append(ctx, randomEntryWithTrace(rng))
	require.NoError(t, err)
	require.Equal(t, file.Anchor().Seq+1, seq)
}

func randomEntryWithTrace(rng *rand.Rand) recorder.Entry {
	e := randomEntry(rng)
	e.Trace = "t-x"
	return e
}
