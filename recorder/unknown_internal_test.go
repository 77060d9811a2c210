package recorder

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// referenceUnknown is the plainest statement of an unknown outcome: a
// permitted decision with no outcome of its trace later in the chain, and
// no later permitted decision of its trace (which the tracker cannot tell
// apart from it). Quadratic; for tests.
func referenceUnknown(es []Entry) []uint64 {
	var out []uint64
	for i, d := range es {
		if d.Kind != KindDecision || d.Status != StatusPermitted {
			continue
		}
		answered := false
		for _, o := range es[i+1:] {
			if o.Trace != d.Trace {
				continue
			}
			if o.Kind == KindOutcome {
				answered = true
			}
			if o.Kind == KindOutcome || o.Kind == KindDecision && o.Status == StatusPermitted {
				break
			}
		}
		if !answered {
			out = append(out, d.Seq)
		}
	}
	return out
}

// randomChain is a chain of n entries over a few traces: decisions
// (permitted or denied), outcomes, signals, in any order.
func randomChain(rng *rand.Rand, n, traces int) []Entry {
	es := make([]Entry, n)
	kinds := []Kind{KindDecision, KindDecision, KindOutcome, KindOutcome, KindSignal}
	for i := range es {
		e := Entry{Seq: uint64(i + 1), Trace: fmt.Sprintf("t%d", rng.IntN(traces)), Kind: kinds[rng.IntN(len(kinds))]}
		if e.Kind == KindDecision {
			e.Status = StatusPermitted
			if rng.IntN(4) == 0 {
				e.Status = StatusDenied
			}
		}
		es[i] = e
	}
	return es
}

// The tracker agrees with the reference over random chains, the list and
// the count; with a small MaxOpenDecisions it gives up the oldest
// decisions, so it may report more, never fewer.
func TestOutcomeTrackerDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 500 {
		es := randomChain(rng, rng.IntN(200), 1+rng.IntN(60))
		want := referenceUnknown(es)
		got := unknownOutcomes(slices.Values(es))
		require.EqualValues(t, len(want), got.Count, "round %d", round)
		if len(want) == 0 {
			require.Nil(t, got.Seqs, "round %d", round)
		} else {
			require.Equal(t, want, got.Seqs, "round %d", round)
		}

		tr := newOutcomeTracker()
		tr.limit = 1 + rng.IntN(5)
		for _, e := range es {
			tr.observe(e.Seq, e.Kind, e.Status, e.Trace)
			require.LessOrEqual(t, len(tr.open), tr.limit)
			require.LessOrEqual(t, len(tr.order)-tr.head, 2*len(tr.open)+64, "order stays bounded")
		}
		small := tr.result()
		require.GreaterOrEqual(t, small.Count, uint64(len(want)), "round %d", round)
		for _, s := range want {
			require.Contains(t, small.Seqs, s, "round %d: a true unknown is never hidden", round)
		}
	}
}

// Seqs lists at most MaxUnknownListed, the first ones; Count counts all.
func TestUnknownListBound(t *testing.T) {
	n := MaxUnknownListed + 10
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Seq: uint64(i + 1), Kind: KindDecision, Status: StatusPermitted, Trace: fmt.Sprintf("t%d", i)}
	}
	u := unknownOutcomes(slices.Values(es))
	require.EqualValues(t, n, u.Count)
	require.Len(t, u.Seqs, MaxUnknownListed)
	require.Equal(t, uint64(1), u.Seqs[0])
	require.True(t, slices.IsSorted(u.Seqs))
}
