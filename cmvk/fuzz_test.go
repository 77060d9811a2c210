package cmvk

import (
	"errors"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func checkScore(t *testing.T, s Score) {
	t.Helper()
	require.True(t, s.Drift >= 0 && s.Drift <= 1, "drift %v", s.Drift)
	require.True(t, s.Confidence >= 0 && s.Confidence <= 1, "confidence %v", s.Confidence)
}

func FuzzJSONShapeDrift(f *testing.F) {
	for _, s := range [][2]string{
		{`{"a":1}`, `{"a":"x"}`}, {`[1,[2,[3]]]`, `[]`}, {`{"a":`, `{}`}, {`null`, `true`},
		{`{"a.b":{"c":[{"d":null}]}}`, `{} {}`}, {"\"\\u00e9\"", `1e400`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		s, err := JSONShapeDrift(a, b)
		if err != nil {
			return
		}
		checkScore(t, s)
		self, err := JSONShapeDrift(a, a)
		require.NoError(t, err)
		require.Zero(t, self.Drift)
	})
}

func FuzzCodeShapeDrift(f *testing.F) {
	f.Add("if x > 1 {\n\tprint(\"a\")\n}\n", "if (y) { z = 'q' }")
	f.Add("`raw\n", "\"unterminated\\")
	f.Add("\t\t  mixed\n  dedent\n", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		s, err := CodeShapeDrift(a, b)
		if err != nil {
			require.ErrorIs(t, err, ErrTooLarge)
			return
		}
		checkScore(t, s)
	})
}

func FuzzNumbers(f *testing.F) {
	for _, s := range []string{"1,234.5 and -3e-2", "1e999", ".5.5", "+-1", "2020-01-02", "1,23,456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, err := Numbers(s)
		if err != nil {
			require.ErrorIs(t, err, ErrTooLarge)
			return
		}
		for _, n := range ns {
			require.False(t, math.IsNaN(n))
		}
		d, err := NumericDrift(s, s, DefaultTolerance)
		require.NoError(t, err)
		require.Zero(t, d.Drift)
	})
}

func FuzzLexicalDrift(f *testing.F) {
	f.Add("The capital is Paris.", "Paris is the capital.")
	f.Add("", "x")
	f.Add("a\nb\n", "a\n\n\nb")
	f.Add("\xff\xfe", "é")
	f.Fuzz(func(t *testing.T, a, b string) {
		if utf8.RuneCountInString(a) > 2000 || utf8.RuneCountInString(b) > 2000 {
			return // the quadratic bound is tested elsewhere; keep fuzzing fast
		}
		for _, f := range []func(a, b string) (Score, error){LexicalDrift, SequenceDrift} {
			s, err := f(a, b)
			require.NoError(t, err)
			checkScore(t, s)
			self, err := f(a, a)
			require.NoError(t, err)
			require.Zero(t, self.Drift)
		}
	})
}

func FuzzJSDrift(f *testing.F) {
	f.Add(1.0, 0.0, 0.0, 1.0)
	f.Add(0.3, 0.7, 0.5, 0.5)
	f.Add(-1.0, 1.0, 1.0, 1.0)
	f.Add(1e-300, 1e300, 1.0, 0.0)
	f.Fuzz(func(t *testing.T, p0, p1, q0, q1 float64) {
		s, err := JSDrift([]float64{p0, p1}, []float64{q0, q1})
		if err != nil {
			return
		}
		checkScore(t, s)
	})
}

func FuzzQuantities(f *testing.F) {
	for _, s := range []string{
		"$1.2 million", "1,200,000 dollars", "25% vs 0.25", "three hundred and five", "twenty-one",
		"a dozen", "85k 4.5M 2bn", "10mg 30 minutes 100 °C", "Version 1.10 v1.2.3", "2024-03-15",
		"555-0142", "0e400 1.5e400 -1e-400", "1,23,456", "+-.5", "per cent", "a", "twenty-", "°",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		qs, err := Quantities(s)
		if err != nil {
			require.ErrorIs(t, err, ErrTooLarge)
			return
		}
		for _, q := range qs {
			require.False(t, math.IsNaN(q.Value), "%q: %+v", s, q)
			require.False(t, math.IsNaN(q.Step) || math.IsInf(q.Step, 0) || q.Step < 0, "%q: %+v", s, q)
			if q.Literal != "" {
				require.Zero(t, q.Value)
			}
			require.True(t, q.equal(q, DefaultTolerance), "%q: %+v", s, q)
		}
		d, err := QuantityDrift(s, s, DefaultTolerance)
		require.NoError(t, err)
		require.Zero(t, d.Drift)
	})
}

func FuzzJSONValueDrift(f *testing.F) {
	for _, s := range [][2]string{
		{`{"a":1}`, `{"a":1.0}`}, {`[1,[2,[3]]]`, `[]`}, {`{"a":`, `{}`}, {`null`, `true`},
		{"```json\n{\"a\":[{}]}\n```", `{"a":[{}]}`}, {"\"\\u00e9\"", `1e400`}, {"```", "``````"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		s, err := JSONValueDrift(a, b, DefaultTolerance)
		if err != nil {
			require.True(t, errors.Is(err, ErrNotJSON) || errors.Is(err, ErrTooLarge), "%v", err)
			return
		}
		checkScore(t, s)
		r, err := JSONValueDrift(b, a, DefaultTolerance)
		require.NoError(t, err)
		require.InDelta(t, s.Drift, r.Drift, 1e-12)
		self, err := JSONValueDrift(a, a, DefaultTolerance)
		if err != nil { // a blank b took the one-empty case without parsing a
			require.True(t, blank(unfence(b)), "%v", err)
			return
		}
		require.Zero(t, self.Drift)
	})
}

func FuzzCodeTokenDrift(f *testing.F) {
	f.Add("if x > 1 {\n\tprint(\"a\")\n}\n", "if (y) { z = 'q' }")
	f.Add("def f(x):\n    return f\"{x}\"  # c\n", "/* open\n")
	f.Add("func (s *T) M(v int) { s.v = v }", "SELECT 1;")
	f.Add("`raw\n", "\"unterminated\\")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 4000 || len(b) > 4000 {
			return // the quadratic bound is tested elsewhere; keep fuzzing fast
		}
		s, err := CodeTokenDrift(a, b)
		require.NoError(t, err)
		checkScore(t, s)
		self, err := CodeTokenDrift(a, a)
		require.NoError(t, err)
		require.Zero(t, self.Drift)
	})
}

func FuzzContradiction(f *testing.F) {
	f.Add("Yes, the drug is safe.", "No, the drug is not safe.")
	f.Add("The office is closed.", "The office does not open.")
	f.Add("can't won't isn't", "’s ' '' n't")
	f.Add("\xff\xfeunsafe", "safe\u00a0")
	f.Fuzz(func(t *testing.T, a, b string) {
		p := Contradiction(a, b)
		require.True(t, p.Overlap >= 0 && p.Overlap <= 1, "%+v", p)
		require.False(t, Contradiction(a, a).Contradicts, "a text contradicts itself")
		s, err := PolarityDrift(a, b)
		require.NoError(t, err)
		checkScore(t, s)
	})
}
