package glove

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// reference is the plainest statement of Embed for lowercase words separated
// by spaces, all in the table: dequantise each row, weigh it by a/(a+p(rank))
// computed afresh, sum in float64, normalise. Embed folds the weight into the
// row scale at load and sums in float32; this pins the two together.
func reference(e *Embedder, raw []float32, words []string) []float64 {
	sum := make([]float64, e.dims)
	for _, w := range words {
		i := int(e.index[w])
		p := 1 / (float64(i+1) * (math.Log(vocabSize) + 0.5772156649))
		weight := sifA / (sifA + p)
		for j := range e.dims {
			sum[j] += weight * float64(raw[i]) * float64(e.rows[i*e.dims+j])
		}
	}
	var n float64
	for _, x := range sum {
		n += x * x
	}
	for j := range sum {
		sum[j] /= math.Sqrt(n)
	}
	return sum
}

func TestEmbedMatchesReference(t *testing.T) {
	e, err := New()
	require.NoError(t, err)
	// The raw per-row scales, before the weights were folded in.
	fresh, err := decode(vectorsBin, "test")
	require.NoError(t, err)
	raw := make([]float32, len(fresh.scales))
	for i := range raw {
		raw[i] = fresh.scales[i] / float32(fresh.sif(i+1))
	}
	check := func(words []string) {
		got, err := e.Embed(context.Background(), strings.Join(words, " "))
		require.NoError(t, err)
		want := reference(e, raw, words)
		for j := range want {
			require.InDelta(t, want[j], float64(got[j]), 2e-5, "%q dim %d", words, j)
		}
	}
	// Every word of the table is one token of itself: none is split,
	// expanded or hashed by the tokenizer.
	for _, w := range e.words {
		check([]string{w})
	}
	rng := rand.New(rand.NewPCG(10, 10))
	for range 5000 {
		words := make([]string, 1+rng.IntN(12))
		for k := range words {
			// Frequent words more often, as in text.
			words[k] = e.words[int(float64(len(e.words))*math.Pow(rng.Float64(), 3))]
		}
		check(words)
	}
}
