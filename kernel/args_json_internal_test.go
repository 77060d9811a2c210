package kernel

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/agent-os/agentos/internal/jsonenc"
	"github.com/stretchr/testify/require"
)

// jsonPieces are the string fragments generated strings are made of: the
// characters encoding/json escapes, multi-byte runes, U+2028/U+2029 and
// invalid UTF-8.
var jsonPieces = []string{
	"a", "Z", " ", "\"", "\\", "/", "<", ">", "&", "\x00", "\x01", "\b", "\f", "\n", "\r", "\t", "\x1f", "\x7f",
	"é", "日本", "\u2028", "\u2029", "\u2027", "\u202a", "😀", "\xff", "\xe2\x80", "\ufffd", "<script>",
}

func genString(r *rand.Rand) string {
	var s string
	for range r.IntN(6) {
		s += jsonPieces[r.IntN(len(jsonPieces))]
	}
	return s
}

func genFloat(r *rand.Rand) float64 {
	switch r.IntN(6) {
	case 0:
		return []float64{0, math.Copysign(0, -1), 1e-6, 1e-7, 1e21, 1e20, 999999999999999999999.0, 5e-324, math.MaxFloat64, -1.5e-9, 0.1, 1.0 / 3}[r.IntN(12)]
	case 1:
		return r.Float64()
	case 2:
		return math.Float64frombits(r.Uint64())
	default:
		return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(60)-30))
	}
}

// genJSONLike returns a value of the kinds a caller passes to Exec.
func genJSONLike(r *rand.Rand, depth int) any {
	n := 9
	if depth > 3 {
		n = 6
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return genString(r)
	case 3:
		return []any{r.Int64() - math.MaxInt64/2, r.IntN(100), uint32(r.Uint32()), int8(-3)}[r.IntN(4)]
	case 4, 5:
		return genFloat(r)
	case 6:
		m := map[string]any{}
		for range r.IntN(20) {
			m[genString(r)] = genJSONLike(r, depth+1)
		}
		return m
	case 7:
		m := map[string]string{}
		for range r.IntN(3) {
			m[genString(r)] = genString(r)
		}
		return m
	default:
		l := make([]any, r.IntN(4))
		for i := range l {
			l[i] = genJSONLike(r, depth+1)
		}
		return l
	}
}

// TestArgsJSONMatchesMarshal holds marshalArgs to json.Marshal, byte for
// byte, over generated arguments: the decision entry records, and digests
// when it cuts them, the bytes json.Marshal gave before.
func TestArgsJSONMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	checked := 0
	for range 20000 {
		in := map[string]any{}
		for range rng.IntN(24) { // over 16 keys too: the key array grows
			in["k"+strconv.Itoa(rng.IntN(30))] = genJSONLike(rng, 1)
		}
		cp, err := copyArgs(in)
		if err != nil {
			continue // invalid UTF-8, non-finite floats: refused before encoding
		}
		want, err := json.Marshal(cp)
		require.NoError(t, err)
		got, err := marshalArgs(cp)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "args %#v", cp)
		checked++
	}
	require.Greater(t, checked, 5000)

	// Strings and floats straight, invalid UTF-8 included, and the
	// values only a hand-built map holds.
	for range 20000 {
		s, f := genString(rng), genFloat(rng)
		require.Equal(t, mustMarshal(t, s), string(jsonenc.AppendString(nil, s, true)), "string %q", s)
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			require.Equal(t, mustMarshal(t, f), string(appendJSONFloat(nil, f)), "float %v", f)
		}
	}
	for _, v := range []map[string]any{nil, {"m": map[string]any(nil)}, {"l": []any(nil)}} {
		got, err := marshalArgs(v)
		require.NoError(t, err)
		require.Equal(t, mustMarshal(t, v), string(got))
	}
	_, ok := appendArgsJSON(nil, map[string]any{"f": math.NaN()})
	require.False(t, ok, "non-finite floats are left to json.Marshal, which refuses them")
	_, ok = appendArgsJSON(nil, map[string]any{"x": struct{}{}})
	require.False(t, ok)
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// FuzzArgsJSON compares the encoder with json.Marshal on arbitrary
// strings (as a key and as a value) and floats.
func FuzzArgsJSON(f *testing.F) {
	for _, s := range jsonPieces {
		f.Add(s, 1.5, int64(-7))
	}
	f.Add("<a href=\"x\">\u2028</a>", 1e21, int64(math.MinInt64))
	f.Add("\xed\xa0\x80", 1e-7, int64(0))
	f.Fuzz(func(t *testing.T, s string, x float64, n int64) {
		v := map[string]any{s: []any{s, n, nil, true, map[string]any{"k": s}}}
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v["f"] = x
		}
		want, err := json.Marshal(v)
		require.NoError(t, err)
		got, ok := appendArgsJSON(nil, v)
		require.True(t, ok)
		require.Equal(t, string(want), string(got))
	})
}
