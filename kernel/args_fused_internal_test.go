package kernel

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/require"
)

// TestCopyArgsJSONMatchesSteps holds copyArgsJSON to its reference, the
// two steps it fuses (copyArgs, then marshalArgs of the copy), over
// generated arguments: the same copy, the same bytes, the same refusals.
func TestCopyArgsJSONMatchesSteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	accepted, refused := 0, 0
	check := func(in map[string]any) {
		t.Helper()
		cp, js, err := copyArgsJSON(in)
		wantCp, wantErr := copyArgs(in)
		if wantErr != nil {
			require.Error(t, err, "args %#v", in)
			require.ErrorIs(t, err, agentos.ErrInvalid)
			if len(in) <= 1 {
				// One offending value: the same refusal whatever the
				// order of the map.
				require.EqualError(t, err, wantErr.Error())
			}
			refused++
			return
		}
		require.NoError(t, err, "args %#v", in)
		require.Equal(t, wantCp, cp)
		wantJS, err := marshalArgs(wantCp)
		require.NoError(t, err)
		require.Equal(t, string(wantJS), string(js))
		std, err := json.Marshal(cp)
		require.NoError(t, err)
		require.Equal(t, string(std), string(js))
		accepted++
	}
	for range 20000 {
		in := map[string]any{}
		for range rng.IntN(smallArgs + 16) { // beyond smallArgs too: the entries grow onto the heap
			in["k"+strconv.Itoa(rng.IntN(30))] = genJSONLike(rng, 1)
		}
		check(in)
	}
	for _, in := range []map[string]any{
		nil, {}, {"q": "weather in Paris"}, {"b": 1, "a": int8(2), "c": uint64(3)},
		{"bad": "\xff"}, {"\xff": 1}, {"f": math.Inf(1)}, {"u": uint64(math.MaxUint64)},
		{"t": struct{}{}}, {"n": json.Number("1.5")}, {"n": json.Number("x")},
		{"<&>": []string{"\u2028"}}, {"m": map[string]string{"k": "v"}},
	} {
		check(in)
	}
	require.Greater(t, accepted, 5000)
	require.Greater(t, refused, 5)
}

// FuzzCopyArgsJSON compares copyArgsJSON with copyArgs and marshalArgs on
// arbitrary keys and string values.
func FuzzCopyArgsJSON(f *testing.F) {
	f.Add("q", "weather in Paris", "b", 1.5)
	f.Add("<a>", "\u2028\xff", "", -0.0)
	f.Add("\xed\xa0\x80", "x", "y", 1e21)
	f.Fuzz(func(t *testing.T, k1, v1, k2 string, x float64) {
		in := map[string]any{k1: v1, k2: []any{x, v1, map[string]any{k1: nil}}}
		cp, js, err := copyArgsJSON(in)
		wantCp, wantErr := copyArgs(in)
		if wantErr != nil {
			require.ErrorIs(t, err, agentos.ErrInvalid)
			return
		}
		require.NoError(t, err)
		require.Equal(t, wantCp, cp)
		wantJS, err := marshalArgs(wantCp)
		require.NoError(t, err)
		require.Equal(t, string(wantJS), string(js))
	})
}
