package cmvk

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/require"
)

func TestRatio(t *testing.T) {
	// Expected values are those of Python's
	// difflib.SequenceMatcher(None, a, b, autojunk=False).ratio().
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"", "", 1},
		{"abc", "", 0},
		{"abc", "abc", 1},
		{"abcd", "bcde", 0.75},
		{"qabxcd", "abycdf", 2 * 4.0 / 12},
		{"private Thread currentThread;", "private volatile Thread currentThread;", 2 * 29.0 / 67},
		{"abxcd", "abcd", 2 * 4.0 / 9},
		{"xyz", "abc", 0},
	} {
		t.Run(tc.a+"|"+tc.b, func(t *testing.T) {
			require.InDelta(t, tc.want, Ratio([]rune(tc.a), []rune(tc.b)), 1e-12)
			require.InDelta(t, tc.want, Ratio([]rune(tc.b), []rune(tc.a)), 0.2, "roughly symmetric")
		})
	}
}

// naiveMatching is the plainest Ratcliff/Obershelp: find the earliest
// longest common block by brute force and recurse. Ratio's indexed version
// must agree with it everywhere.
func naiveMatching(a, b []rune) int {
	besti, bestj, best := 0, 0, 0
	for i := range a {
		for j := range b {
			k := 0
			for i+k < len(a) && j+k < len(b) && a[i+k] == b[j+k] {
				k++
			}
			if k > best {
				besti, bestj, best = i, j, k
			}
		}
	}
	if best == 0 {
		return 0
	}
	return best + naiveMatching(a[:besti], b[:bestj]) + naiveMatching(a[besti+best:], b[bestj+best:])
}

func TestRatioMatchesNaive(t *testing.T) {
	// A generated space: every pair of strings over a 3-letter alphabet up
	// to length 5, plus longer pseudo-random ones.
	var words []string
	var gen func(string)
	gen = func(s string) {
		words = append(words, s)
		if len(s) == 4 {
			return
		}
		for _, c := range "abc" {
			gen(s + string(c))
		}
	}
	gen("")
	seed := uint32(1)
	for range 50 {
		var sb strings.Builder
		for range 40 {
			seed = seed*1664525 + 1013904223
			sb.WriteByte("abcd"[seed>>30])
		}
		words = append(words, sb.String())
	}
	for _, a := range words {
		for _, b := range words[len(words)-60:] {
			ra, rb := []rune(a), []rune(b)
			require.Equal(t, naiveMatching(ra, rb), matchingElements(ra, rb), "%q %q", a, b)
		}
	}
}

func TestEditLCSJaccard(t *testing.T) {
	for _, tc := range []struct {
		a, b      string
		edit, lcs int
		jaccard   float64
	}{
		{"", "", 0, 0, 1},
		{"kitten", "sitting", 3, 4, 3.0 / 7},
		{"abc", "", 3, 0, 0},
		{"abc", "abc", 0, 3, 1},
		{"flaw", "lawn", 2, 3, 3.0 / 5},
	} {
		t.Run(tc.a+"|"+tc.b, func(t *testing.T) {
			a, b := []rune(tc.a), []rune(tc.b)
			require.Equal(t, tc.edit, EditDistance(a, b))
			require.Equal(t, tc.edit, EditDistance(b, a))
			require.Equal(t, tc.lcs, LCSLength(a, b))
			require.InDelta(t, tc.jaccard, Jaccard(a, b), 1e-12)
		})
	}
}

func TestLexicalDrift(t *testing.T) {
	for _, tc := range []struct {
		name       string
		a, b       string
		drift      float64
		confidence float64
	}{
		{"both empty", "", "", 0, 1},
		{"one empty", "Paris", "", 1, 1},
		{"other empty", "", "Paris", 1, 1},
		{"identical", "The capital is Paris.\nYes.", "The capital is Paris.\nYes.", 0, 1},
		// chars: "abcd"/"abce" ratio 0.75; words: 0; lines 1.
		// drift = 0.3·0.25 + 0.5·1 + 0 = 0.575; sub-drifts {0.25,1,0}
		{"one word changed", "abcd", "abce", 0.575, 1 - stddev(0.25, 1, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LexicalDrift(tc.a, tc.b)
			require.NoError(t, err)
			require.InDelta(t, tc.drift, s.Drift, 1e-12)
			require.InDelta(t, tc.confidence, s.Confidence, 1e-12)
		})
	}
	_, err := LexicalDrift(strings.Repeat("x", MaxSequence+1), "y")
	require.ErrorIs(t, err, ErrTooLarge)
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func stddev(xs ...float64) float64 {
	var m, v float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return math.Sqrt(v / float64(len(xs)))
}

func TestSequenceDrift(t *testing.T) {
	s, err := SequenceDrift("", "")
	require.NoError(t, err)
	require.Equal(t, identical, s)
	s, err = SequenceDrift("a b", "")
	require.NoError(t, err)
	require.Equal(t, disjoint, s)
	s, err = SequenceDrift("a b c", "a b c")
	require.NoError(t, err)
	require.Equal(t, identical, s)
	// a b c d vs a b x d: edit 1/4, Jaccard 1 − 3/5, LCS 1 − 3/4.
	s, err = SequenceDrift("a b c d", "a b x d")
	require.NoError(t, err)
	require.InDelta(t, 0.4*0.25+0.3*0.4+0.3*0.25, s.Drift, 1e-12)
	require.InDelta(t, 1-stddev(0.25, 0.4, 0.25), s.Confidence, 1e-12)
}

func TestJSONShapeDrift(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a, b  string
		drift float64
		err   error
	}{
		{"same shape other values", `{"a":1,"b":["x","y"]}`, `{"b":["z"], "a": 2.5}`, 0, nil},
		{"type changed", `{"a":1}`, `{"a":"1"}`, 1 - 1.0/3, nil},
		{"key added", `{"a":1}`, `{"a":1,"b":null}`, 1 - 2.0/3, nil},
		{"scalars", `true`, `false`, 0, nil},
		{"root types differ", `[]`, `{}`, 1, nil},
		{"key with dot", `{"a.b":1}`, `{"a":{"b":1}}`, 1 - 1.0/4, nil},
		{"not json", `{"a":`, `{}`, 0, ErrNotJSON},
		{"trailing data", `{} {}`, `{}`, 0, ErrNotJSON},
		{"empty", ``, `{}`, 0, ErrNotJSON},
		{"too deep", strings.Repeat("[", MaxJSONDepth+2) + strings.Repeat("]", MaxJSONDepth+2), `[]`, 0, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := JSONShapeDrift(tc.a, tc.b)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.ErrorIs(t, err, agentos.ErrInvalid)
				return
			}
			require.NoError(t, err)
			require.InDelta(t, tc.drift, s.Drift, 1e-12)
			require.Equal(t, 1.0, s.Confidence)
		})
	}
	paths, err := JSONShape(`{"k":[1,{"z":null}]}`)
	require.NoError(t, err)
	require.Equal(t, []string{`$."k":array`, `$."k"[]."z":null`, `$."k"[]:number`, `$."k"[]:object`, `$:object`}, paths)
}

func TestCodeShape(t *testing.T) {
	require.Equal(t,
		[]string{"w", "w", ">", "n", "{", "$", ">", "w", "(", "s", ",", "w", ".", "w", ")", "$", "<", "}", "$"},
		CodeShape("if x > 1 {\n    print(\"a\\\"b\", os.args)\n}\n"))
	a := "for i := 0; i < n; i++ {\n\tsum += xs[i]\n}\n"
	b := "for j := 1; j < m; j++ {\n\ttotal += ys[j]\n}\n"
	s, err := CodeShapeDrift(a, b)
	require.NoError(t, err)
	require.Equal(t, identical, s, "renamed identifiers and numbers keep the shape")
	c := "for i := 0; i < n; i++ {\nsum += xs[i]\n"
	s, err = CodeShapeDrift(a, c)
	require.NoError(t, err)
	require.Greater(t, s.Drift, 0.05, "a lost brace and indentation move it")
	s, err = CodeShapeDrift("  \n\n", "")
	require.NoError(t, err)
	require.Equal(t, identical, s)
	s, err = CodeShapeDrift("x", "")
	require.NoError(t, err)
	require.Equal(t, disjoint, s)
}

func TestNumericDrift(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a, b  string
		tol   Tolerance
		drift float64
	}{
		{"no numbers", "hello", "world", DefaultTolerance, 0},
		{"one side without", "42", "forty-two", DefaultTolerance, 1},
		{"equal", "total 1,234.50 EUR, 3 items", "3 items: 1234.5 total... no: 1234.5, 3", DefaultTolerance, 1},
		{"same order", "a 1,234.50 b 3", "x 1234.5 y 3.0000001", DefaultTolerance, 0},
		{"exponent", "6.02e23", "602000000000000000000000", DefaultTolerance, 0},
		{"within abs", "1.00", "1.04", Tolerance{Abs: 0.05}, 0},
		{"outside rel", "100 200", "101 200", Tolerance{Rel: 0.001}, 0.5},
		{"extra number", "1 2", "1 2 3", DefaultTolerance, 1 - 2.0/3},
		{"exact", "0.1", "0.1000001", Tolerance{}, 1},
		{"overflow", "1e999", "1e999", Tolerance{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NumericDrift(tc.a, tc.b, tc.tol)
			require.NoError(t, err)
			require.InDelta(t, tc.drift, s.Drift, 1e-12)
		})
	}
	_, err := NumericDrift("1", "1", Tolerance{Rel: math.NaN()})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = NumericDrift(strings.Repeat("1 ", MaxNumbers+1), "1", DefaultTolerance)
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestVectorDrifts(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	fns := map[Metric]func(a, b []float32) (Score, error){
		Cosine: CosineDrift, Euclidean: EuclideanDrift, Manhattan: ManhattanDrift, Chebyshev: ChebyshevDrift,
	}
	for _, tc := range []struct {
		name string
		a, b []float32
		want map[Metric]float64 // drift per metric; nil means the edge-case score below
		edge Score
		err  error
	}{
		{name: "both empty", edge: identical},
		{name: "both zero", a: []float32{0, 0}, b: []float32{0, 0}, edge: identical},
		{name: "one empty", a: []float32{1}, edge: disjoint},
		{name: "one zero", a: []float32{1, 2}, b: []float32{0, 0}, edge: disjoint},
		{name: "shape mismatch", a: []float32{1, 2}, b: []float32{1, 2, 3}, edge: mismatch},
		{name: "NaN", a: []float32{nan}, b: []float32{1}, err: ErrNotFinite},
		{name: "Inf", a: []float32{1}, b: []float32{inf}, err: ErrNotFinite},
		{name: "identical", a: []float32{1, 2, 3}, b: []float32{1, 2, 3},
			want: map[Metric]float64{Cosine: 0, Euclidean: 0, Manhattan: 0, Chebyshev: 0}},
		{name: "scaled", a: []float32{1, 0}, b: []float32{3, 0},
			want: map[Metric]float64{Cosine: 0, Euclidean: 0.5, Manhattan: 0.5, Chebyshev: 0.5}},
		{name: "orthogonal", a: []float32{1, 0}, b: []float32{0, 1},
			want: map[Metric]float64{Cosine: 1, Euclidean: math.Sqrt2 / 2, Manhattan: 1, Chebyshev: 0.5}},
		{name: "opposite", a: []float32{1, -2}, b: []float32{-1, 2},
			want: map[Metric]float64{Cosine: 1, Euclidean: 1, Manhattan: 1, Chebyshev: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for m, f := range fns {
				s, err := f(tc.a, tc.b)
				if tc.err != nil {
					require.ErrorIs(t, err, tc.err, m)
					continue
				}
				require.NoError(t, err, m)
				if tc.want == nil {
					require.Equal(t, tc.edge, s, m)
					continue
				}
				require.InDelta(t, tc.want[m], s.Drift, 1e-6, m)
				require.Equal(t, 1.0, s.Confidence)
				s2, err := CompareVectors(m, tc.b, tc.a)
				require.NoError(t, err)
				require.InDelta(t, s.Drift, s2.Drift, 1e-12, "symmetric")
			}
		})
	}
	_, err := CompareVectors(Lexical, nil, nil)
	require.ErrorIs(t, err, ErrUnknown)
}

func TestJSDrift(t *testing.T) {
	for _, tc := range []struct {
		name string
		p, q []float64
		want Score
		err  error
	}{
		{name: "both empty", want: identical},
		{name: "one empty", p: []float64{1}, want: disjoint},
		{name: "same after normalising", p: []float64{1, 3}, q: []float64{0.25, 0.75}, want: identical},
		{name: "disjoint support", p: []float64{1, 0}, q: []float64{0, 5}, want: disjoint},
		{name: "length mismatch", p: []float64{1}, q: []float64{1, 1}, want: mismatch},
		{name: "negative", p: []float64{1, -1}, q: []float64{1, 1}, err: ErrNegative},
		{name: "NaN", p: []float64{math.NaN()}, q: []float64{1}, err: ErrNotFinite},
		{name: "Inf", p: []float64{1}, q: []float64{math.Inf(1)}, err: ErrNotFinite},
		{name: "overflowing sum", p: []float64{math.MaxFloat64, math.MaxFloat64}, q: []float64{1, 1}, err: ErrNotFinite},
		{name: "zero mass", p: []float64{0, 0}, q: []float64{1, 1}, err: ErrZeroMass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := JSDrift(tc.p, tc.q)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.ErrorIs(t, err, agentos.ErrInvalid)
				return
			}
			require.NoError(t, err)
			require.InDelta(t, tc.want.Drift, s.Drift, 1e-12)
			require.Equal(t, tc.want.Confidence, s.Confidence)
		})
	}
	// A half-overlap: p = (1, 0), q = (½, ½): JS = ½·ln(4/3)·... computed directly.
	s, err := JSDrift([]float64{1, 0}, []float64{0.5, 0.5})
	require.NoError(t, err)
	m := []float64{0.75, 0.25}
	js := 0.5*(1*math.Log(1/m[0])) + 0.5*(0.5*math.Log(0.5/m[0])+0.5*math.Log(0.5/m[1]))
	require.InDelta(t, js/math.Ln2, s.Drift, 1e-12)
}

func TestCompareAndProfiles(t *testing.T) {
	ctx := context.Background()
	_, err := Compare(ctx, Cosine, "a", "b", nil)
	require.ErrorIs(t, err, ErrNoEmbedder)
	_, err = Compare(ctx, Metric("nope"), "a", "b", nil)
	require.ErrorIs(t, err, ErrUnknown)
	require.ErrorIs(t, err, agentos.ErrNotFound)
	boom := errors.New("boom")
	_, err = Compare(ctx, Cosine, "a", "b", func(context.Context, string) ([]float32, error) { return nil, boom })
	require.ErrorIs(t, err, boom)
	s, err := Compare(ctx, Cosine, "", "", nil)
	require.ErrorIs(t, err, ErrNoEmbedder, "the embedder is checked before the edge cases")
	s, err = Compare(ctx, Euclidean, "", "x", func(context.Context, string) ([]float32, error) { return []float32{1}, nil })
	require.NoError(t, err)
	require.Equal(t, disjoint, s)
	s, err = Compare(ctx, Numeric, "pi is 3.14159", "3.14159", nil)
	require.NoError(t, err)
	require.Equal(t, identical, s)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Compare(cctx, Cosine, "a", "b", func(context.Context, string) ([]float32, error) { return []float32{1}, nil })
	require.ErrorIs(t, err, context.Canceled)

	for _, p := range Profiles() {
		require.NoError(t, p.Validate(), p.Name)
		got, err := ProfileByName(p.Name)
		require.NoError(t, err)
		require.Equal(t, p, got)
	}
	require.Equal(t, Profile{Name: "financial", Metric: Factual, Threshold: 0.18}, Financial)
	require.True(t, Factual.Embedding())
	_, err = CompareVectors(Factual, []float32{1}, []float32{1})
	require.ErrorIs(t, err, ErrUnknown, "the composite needs the texts")
	_, err = ProfileByName("astrology")
	require.ErrorIs(t, err, ErrUnknown)
	require.ErrorIs(t, Profile{Metric: Cosine, Threshold: math.NaN()}.Validate(), agentos.ErrInvalid)
	require.ErrorIs(t, Profile{Metric: Cosine, Threshold: 1.5}.Validate(), agentos.ErrInvalid)
	require.ErrorIs(t, Profile{Metric: "x", Threshold: 0.5}.Validate(), agentos.ErrInvalid)
}
