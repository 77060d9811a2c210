package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/models/glove/internal/table"
)

func TestTokenLike(t *testing.T) {
	for w, want := range map[string]bool{
		"car": true, "e-mail": true, "mid-1990s": true, "über": true, "1999": true,
		"": false, ",": false, "-": false, "-car": false, "car-": false, "a--b": false,
		"Car": false, "don't": false, "u.s.": false, "c++": false,
	} {
		assert.Equal(t, want, tokenLike(w), "%q", w)
	}
}

func vec(dims, index int, xs ...float64) []float64 {
	v := make([]float64, dims+2)
	copy(v, xs)
	v[dims+1] = float64(index)
	return v
}

func TestConvert(t *testing.T) {
	w := &wink{
		Dimensions: 3,
		Words:      []string{"the", ",", "car", "van", "zebra"},
		Vectors: map[string][]float64{
			"the":   vec(3, 0, 1, 2, 2),
			",":     vec(3, 1, 5, 5, 5),
			"car":   vec(3, 2, 0, -4, 3),
			"van":   vec(3, 3, 0, -4, 3.1),
			"zebra": vec(3, 4, 9, 0, 0),
		},
	}
	tb, err := convert(w, 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"the", "car", "van"}, tb.Words, "punctuation dropped, rank order kept, first n")

	b, err := table.Encode(tb)
	require.NoError(t, err)
	got, err := table.Decode(b)
	require.NoError(t, err)
	require.Equal(t, tb, got)
	// Rows come back as unit vectors within the int8 step.
	for i, raw := range [][]float64{{1, 2, 2}, {0, -4, 3}, {0, -4, 3.1}} {
		n := math.Sqrt(raw[0]*raw[0] + raw[1]*raw[1] + raw[2]*raw[2])
		for j := range raw {
			assert.InDelta(t, raw[j]/n, float64(got.Rows[i*3+j])*float64(got.Scales[i]), 1.0/127, "row %d", i)
		}
	}

	w.Vectors["car"][4] = 7
	_, err = convert(w, 3)
	assert.ErrorContains(t, err, "not in rank order")
	delete(w.Vectors, "car")
	_, err = convert(w, 3)
	assert.ErrorContains(t, err, "no vector")
}

func TestEncodeRefusesWhatDecodeWouldNot(t *testing.T) {
	for name, tb := range map[string]*table.Table{
		"no words":    {Dims: 1},
		"zero dims":   {Dims: 0, Words: []string{"a"}, Scales: []float32{1}},
		"short rows":  {Dims: 2, Words: []string{"a"}, Scales: []float32{1}, Rows: []int8{1}},
		"empty word":  {Dims: 1, Words: []string{""}, Scales: []float32{1}, Rows: []int8{1}},
		"bad UTF-8":   {Dims: 1, Words: []string{"\xff"}, Scales: []float32{1}, Rows: []int8{1}},
		"NaN scale":   {Dims: 1, Words: []string{"a"}, Scales: []float32{float32(math.NaN())}, Rows: []int8{1}},
		"minus scale": {Dims: 1, Words: []string{"a"}, Scales: []float32{-1}, Rows: []int8{1}},
	} {
		_, err := table.Encode(tb)
		assert.Error(t, err, name)
	}
}
