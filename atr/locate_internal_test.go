package atr

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// randomArgs builds an argument tree of the given depth budget, now and
// then with a value checkArgs must refuse.
func randomArgs(rng *rand.Rand, depth int, budget *int) any {
	*budget--
	switch n := rng.IntN(14); {
	case depth <= 0 || *budget <= 0 || n < 2:
		return []any{nil, true, "s", int64(-3), uint8(7), 1.5, float32(2)}[rng.IntN(7)]
	case n == 2:
		return []any{math.NaN(), math.Inf(1), float32(math.Inf(-1)), "\xff", struct{}{}, map[string]string{}, []string{}}[rng.IntN(7)]
	case n < 8:
		a := make([]any, rng.IntN(4))
		for i := range a {
			a[i] = randomArgs(rng, depth-1, budget)
		}
		return a
	default:
		m := map[string]any{}
		for i := range rng.IntN(4) {
			k := string(rune('a' + i))
			if rng.IntN(30) == 0 {
				k = "\xfe"
			}
			m[k] = randomArgs(rng, depth-1, budget)
		}
		return m
	}
}

// TestCheckArgsPasses is the differential test of checkArgs's fast pass
// against its reporting pass, over generated trees (some past the depth
// bound) wider than the hand-written cases.
func TestCheckArgsPasses(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	refused := 0
	for i := range 20_000 {
		budget := 200
		args, ok := randomArgs(rng, 3+rng.IntN(8), &budget).(map[string]any)
		if !ok {
			continue
		}
		if i%50 == 0 {
			// Bury the tree near the depth bound, on either side of it.
			for range MaxArgDepth - 4 + rng.IntN(4) {
				args = map[string]any{"d": args}
			}
		}
		nodes := 0
		fast := argsOK(args, 1, &nodes)
		slow := checkArgsSlow("t", args)
		if fast {
			// The slow pass only runs after the fast one fails; when both
			// accept, it reports its fail-closed fallback.
			require.ErrorContains(t, slow, "not a JSON-like value")
		} else {
			refused++
			require.Error(t, slow)
			require.NotContains(t, slow.Error(), "not a JSON-like value", "the slow pass must name a value the fast pass refused: %v", args)
		}
	}
	require.Greater(t, refused, 100)
}
