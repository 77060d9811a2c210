package cmvk

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/glove"
)

func TestQuantities(t *testing.T) {
	num := func(v float64) Quantity { return Quantity{Value: v} }
	for _, tc := range []struct {
		in   string
		want []Quantity
	}{
		{"", nil},
		{"no figures here", nil},
		{"1,234.5 and 1234.5", []Quantity{{Value: 1234.5, Step: 0.1}, {Value: 1234.5, Step: 0.1}}},
		{"1,2,3", []Quantity{num(1), num(2), num(3)}},
		{"$1.2 million", []Quantity{{Value: 1.2e6, Step: 1e5}}},
		{"1,200,000 dollars", []Quantity{num(1.2e6)}},
		{"€3,200", []Quantity{num(3200)}},
		{"85k, 4.5M, 2bn", []Quantity{num(85000), {Value: 4.5e6, Step: 1e5}, num(2e9)}},
		{"25% or 12 percent or 8 per cent", []Quantity{{Value: 25, Percent: true}, {Value: 12, Percent: true}, {Value: 8, Percent: true}}},
		{"Three apples, twenty-one pears, a hundred plums, two dozen eggs", []Quantity{num(3), num(21), num(100), num(24)}},
		{"three hundred and five", []Quantity{num(305)}},
		{"two thousand five hundred", []Quantity{num(2500)}},
		{"twice", []Quantity{num(2)}},
		{"once, and a cat", nil},
		{"30 minutes", []Quantity{{Value: 1800, Unit: "time"}}},
		{"10mg", []Quantity{{Value: 0.01, Unit: "mass"}}},
		{"100 degrees Celsius = 100 °C", []Quantity{{Value: 100, Unit: "temperatureC"}, {Value: 100, Unit: "temperatureC"}}},
		{"Version 1.10", []Quantity{{Literal: "1.10"}}},
		{"v1.2.3 and 10.0.0.1", []Quantity{{Literal: "1.2.3"}, {Literal: "10.0.0.1"}}},
		{"On 2024-03-15", []Quantity{{Literal: "2024-03-15"}}},
		{"555-0142", []Quantity{num(555), num(142)}},
		{"-17.25 +5 .5", []Quantity{{Value: -17.25, Step: 0.01}, num(5), {Value: 0.5, Step: 0.1}}},
		{"x-1", []Quantity{num(1)}},
		{"1.5e3", []Quantity{{Value: 1500, Step: 100}}},
		{"1e400", []Quantity{num(math.Inf(1))}},
		{"3 pm", []Quantity{num(3)}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Quantities(tc.in)
			require.NoError(t, err)
			require.Len(t, got, len(tc.want))
			for i, w := range tc.want {
				g := got[i]
				require.InDelta(t, w.Value, g.Value, 1e-9*max(1, math.Abs(w.Value)), "value %d", i)
				if math.IsInf(w.Value, 0) {
					require.Equal(t, w.Value, g.Value)
				}
				require.InDelta(t, w.Step, g.Step, 1e-9*max(1, w.Step), "step %d", i)
				require.Equal(t, w.Percent, g.Percent, "percent %d", i)
				require.Equal(t, w.Unit, g.Unit, "unit %d", i)
				require.Equal(t, w.Literal, g.Literal, "literal %d", i)
			}
		})
	}
	_, err := Quantities(strings.Repeat("1 ", MaxNumbers+1))
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = Quantities(strings.Repeat("one ", MaxNumbers+1))
	require.NoError(t, err, "adjacent number words are one number")
}

func TestQuantityDrift(t *testing.T) {
	for _, tc := range []struct {
		name, a, b string
		drift      float64
	}{
		{"both empty", "", "", 0},
		{"neither has figures", "yes", "no", 0},
		{"one empty", "42", "", 1},
		{"identical", "The total is 1500.", "The total is 1500.", 0},
		{"scale word vs digits", "$1.2 million", "1,200,000 dollars", 0},
		{"percent vs fraction", "25%", "0.25", 0},
		{"number word", "Three apples", "3 apples", 0},
		{"rounded restatement", "Approximately 3.14", "3.14159", 0},
		{"other order", "12 items at 3.50 each, 42.00 in total", "42.00 total for 12 items at 3.50", 0},
		{"unit conversion", "90 minutes", "1.5 hours", 0},
		{"an integer is exact", "2", "2.1", 1},
		{"decimals beyond the coarser step", "Rate: 4.25%", "Rate: 4.5%", 1},
		{"unit family differs", "30 seconds", "30 mg", 1},
		{"scale differs", "4.5 million", "4.5 billion", 1},
		{"version", "Version 1.10", "Version 1.1", 1},
		{"one of three", "18, 21, 19", "18, 21, 20", 1.0 / 3},
		{"missing one", "18, 21, 19", "18, 21", 1.0 / 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := QuantityDrift(tc.a, tc.b, DefaultTolerance)
			require.NoError(t, err)
			require.InDelta(t, tc.drift, s.Drift, 1e-9)
			require.Equal(t, 1.0, s.Confidence)
			r, err := QuantityDrift(tc.b, tc.a, DefaultTolerance)
			require.NoError(t, err)
			require.InDelta(t, s.Drift, r.Drift, 1e-9, "symmetric")
		})
	}
	_, err := QuantityDrift("1", "1", Tolerance{Abs: -1})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = QuantityDrift(strings.Repeat("1 ", MaxNumbers+1), "1", DefaultTolerance)
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestFiguresConflict(t *testing.T) {
	for _, tc := range []struct {
		name, a, b string
		conflict   bool
	}{
		{"none", "Paris.", "Paris is the capital.", false},
		{"the same", "At 3 pm.", "The meeting is at 3 pm.", false},
		{"changed", "At 3 pm.", "At 5 pm.", true},
		{"omitted is not a conflict", "On 2024-03-15 revenue was 1,200.", "Revenue was 1200.", false},
		{"added is not a conflict", "Take 200 mg.", "Take 200 mg every 6 hours.", false},
		{"one of three changed", "12 at 3.50, 42.00 total", "12 at 3.50, 40.00 total", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := FiguresConflict(tc.a, tc.b, DefaultTolerance)
			require.NoError(t, err)
			require.Equal(t, tc.conflict, got)
		})
	}
	_, _, err := FiguresConflict("1", "2", Tolerance{Rel: math.NaN()})
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestJSONValueDrift(t *testing.T) {
	for _, tc := range []struct {
		name, a, b string
		drift      float64
		err        error
	}{
		{"both empty", "", " \n", 0, nil},
		{"one empty", `{"a":1}`, "", 1, nil},
		{"identical", `{"a":1}`, `{"a":1}`, 0, nil},
		{"key order and layout", `{"a":1,"b":{"c":true,"d":null}}`, "{\n \"b\": {\"d\": null, \"c\": true},\n \"a\": 1\n}", 0, nil},
		{"number forms", `{"p":10.0,"q":1e2}`, `{"p":10,"q":100}`, 0, nil},
		{"string normalised", `{"q":"  Caf\u00e9  au lait"}`, `{"q":"café au LAIT"}`, 0, nil},
		{"fenced", "```json\n{\"a\":1}\n```", `{"a":1}`, 0, nil},
		{"bare fence", "```\n[1]\n```", `[1]`, 0, nil},
		{"empty containers", `{"a":[],"b":{}}`, `{"a":[ ],"b":{ }}`, 0, nil},
		{"value changed", `{"a":1,"b":2}`, `{"a":1,"b":3}`, 0.5, nil},
		{"boolean flipped", `{"ok":true}`, `{"ok":false}`, 1, nil},
		{"type changed", `{"n":36}`, `{"n":"36"}`, 1, nil},
		{"null vs zero", `{"n":null}`, `{"n":0}`, 1, nil},
		{"list reversed", `[1,2,3]`, `[3,2,1]`, 2.0 / 3, nil},
		{"list longer", `[1,2]`, `[1,2,3,4]`, 0.5, nil},
		{"key missing", `{"a":1,"b":2}`, `{"a":1}`, 0.5, nil},
		{"shape mismatch", `{"items":[1,2]}`, `{"items":{"0":1,"1":2}}`, 1, nil},
		{"scalar vs object", `1`, `{"a":1}`, 1, nil},
		{"empty vs filled", `{}`, `{"error":"x"}`, 1, nil},
		{"not json", `{"a":`, `{}`, 0, ErrNotJSON},
		{"prose", `{"a":1}`, `The answer is 1.`, 0, ErrNotJSON},
		{"trailing data", `{} {}`, `{}`, 0, ErrNotJSON},
		{"too deep", strings.Repeat("[", MaxJSONDepth+2) + strings.Repeat("]", MaxJSONDepth+2), `[]`, 0, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := JSONValueDrift(tc.a, tc.b, DefaultTolerance)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.InDelta(t, tc.drift, s.Drift, 1e-9)
			r, err := JSONValueDrift(tc.b, tc.a, DefaultTolerance)
			require.NoError(t, err)
			require.InDelta(t, s.Drift, r.Drift, 1e-9, "symmetric")
		})
	}
	_, err := JSONValueDrift(`1`, `1`, Tolerance{Abs: -1})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	var sb strings.Builder
	sb.WriteString("[")
	for i := range MaxJSONPaths + 1 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString("0")
	}
	sb.WriteString("]")
	_, err = JSONValueDrift(sb.String(), `[]`, DefaultTolerance)
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestCodeTokenDrift(t *testing.T) {
	sum := "func sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total\n}\n"
	for _, tc := range []struct {
		name, a, b string
		zero       bool // drift 0, else > 0
	}{
		{"both empty", "", "  \n", true},
		{"identical", sum, sum, true},
		{"renamed", sum, strings.NewReplacer("sum", "add", "xs", "values", "total", "acc", "x", "v").Replace(sum), true},
		{"comments and layout", "func f(s string) int { return len(s) }", "// f measures s.\nfunc f(s string) int {\n\treturn len(s) /* bytes */\n}\n", true},
		{"python renamed", "def mean(xs):\n    return sum(xs) / len(xs)\n", "def average(v):  # the mean\n  return sum(v) / len(v)\n", true},
		{"f-string hole renamed", "def greet(name):\n    print(f\"Hi {name}\")\n", "def greet(who):\n    print(f\"Hi {who}\")\n", true},
		{"SQL keyword case", "SELECT a FROM t WHERE id = 7;", "select a\nfrom t\nwhere id = 7;", true},
		{"number forms", "x = 1.0", "x = 1", true},
		{"operator", sum, strings.Replace(sum, "+=", "-=", 1), false},
		{"comparison", "if a < b {}", "if a <= b {}", false},
		{"literal", "x = 30", "x = 3000", false},
		{"string literal", `log("a")`, `log("b")`, false},
		{"called function", "if ok() {\n\tallow()\n}", "if ok() {\n\tdeny()\n}", false},
		{"member", "os.Remove(p)", "os.RemoveAll(p)", false},
		{"SQL names are kept", "SELECT a FROM t;", "SELECT b FROM t;", false},
		{"python block", "for i in xs:\n    a += i\n    b += 1\n", "for i in xs:\n    a += i\nb += 1\n", false},
		{"one empty", sum, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := CodeTokenDrift(tc.a, tc.b)
			require.NoError(t, err)
			if tc.zero {
				require.Zero(t, s.Drift, "%v\n%v", CodeTokens(tc.a), CodeTokens(tc.b))
			} else {
				require.Positive(t, s.Drift, "%v\n%v", CodeTokens(tc.a), CodeTokens(tc.b))
			}
			require.Equal(t, 1.0, s.Confidence)
		})
	}
	s, err := CodeTokenDrift(sum, "")
	require.NoError(t, err)
	require.Equal(t, disjoint, s)
	_, err = CodeTokenDrift(strings.Repeat("x ", MaxSequence+1), "x")
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestContradiction(t *testing.T) {
	for _, tc := range []struct {
		name, a, b           string
		contradicts, verdict bool
	}{
		{"both empty", "", "", false, false},
		{"identical", "The account is active.", "The account is active.", false, false},
		{"negation", "The account is active.", "The account is not active.", true, false},
		{"contraction", "The job has finished.", "The job hasn't finished.", true, false},
		{"cannot", "You can deploy on Friday.", "You cannot deploy on Friday.", true, false},
		{"antonym", "The bridge is open to traffic.", "The bridge is closed to traffic.", true, false},
		{"prefix antonym", "The drug is safe for children.", "The drug is unsafe for children.", true, false},
		{"negated antonym agrees", "The office is closed on holidays.", "On holidays the office does not open.", false, false},
		{"verb of failing", "The test passed.", "The test failed.", true, false},
		{"failing restated", "The file could not be opened.", "Opening the file failed.", false, false},
		{"rather than", "Dolphins are mammals, not fish.", "Dolphins are mammals rather than fish.", false, false},
		{"verdicts", "Yes, approve it.", "No, reject it.", true, true},
		{"bare verdicts", "True.", "False.", true, true},
		{"same verdict", "Yes, it opens on Sundays.", "Yes — the store is open on Sundays.", false, false},
		{"verdict word inside a sentence is not one", "Yes the meeting is on.", "No meeting today.", false, false},
		{"different claims", "The account is active.", "Bananas are not blue.", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Contradiction(tc.a, tc.b)
			require.Equal(t, tc.contradicts, p.Contradicts, "%+v", p)
			require.Equal(t, tc.verdict, p.Verdicts, "%+v", p)
			q := Contradiction(tc.b, tc.a)
			require.Equal(t, p.Contradicts, q.Contradicts, "symmetric")
			s, err := PolarityDrift(tc.a, tc.b)
			require.NoError(t, err)
			if tc.contradicts {
				require.Equal(t, 1.0, s.Drift)
			} else {
				require.Zero(t, s.Drift)
			}
		})
	}
	s, err := PolarityDrift("yes", " ")
	require.NoError(t, err)
	require.Equal(t, disjoint, s)

	// Linear in the words: two texts of 20,000 distinct words each, every
	// one with its negative-prefix twin on the other side.
	var a, b strings.Builder
	for i := range 20000 {
		w := "w" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
		a.WriteString(w + " ")
		b.WriteString("un" + w + " ")
	}
	p := Contradiction(a.String(), b.String())
	require.Positive(t, p.Flips)
}

func TestFactualDrift(t *testing.T) {
	g, err := glove.New()
	require.NoError(t, err)
	ctx := context.Background()
	for _, tc := range []struct {
		name, a, b string
		drift      float64 // -1: the cosine drift
	}{
		{"both empty", "", "", 0},
		{"one empty", "Paris.", " ", 1},
		{"identical", "The answer is Paris.", "The answer is Paris.", 0},
		{"paraphrase keeps cosine", "The capital of France is Paris.", "Paris is the capital city of France.", -1},
		{"negation", "You can deploy on Friday.", "You cannot deploy on Friday.", 1},
		{"figure", "The meeting is at 3 pm on Tuesday.", "The meeting is at 5 pm on Tuesday.", 1},
		{"restated figure", "The park cost $2.5 million.", "The park cost 2,500,000 dollars.", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compare(ctx, Factual, tc.a, tc.b, g.Embed)
			require.NoError(t, err)
			want := tc.drift
			if want < 0 {
				cos, err := Compare(ctx, Cosine, tc.a, tc.b, g.Embed)
				require.NoError(t, err)
				want = cos.Drift
				require.Less(t, want, General.Threshold)
			}
			require.InDelta(t, want, s.Drift, 1e-9)
		})
	}
	_, err = Compare(ctx, Factual, "a", "b", nil)
	require.ErrorIs(t, err, ErrNoEmbedder)
	// Without texts (a monitor's embeddings alone) only the cosine counts.
	s, err := FactualDrift(Score{Drift: 0.2, Confidence: 1}, "", "x")
	require.NoError(t, err)
	require.Equal(t, Score{Drift: 0.2, Confidence: 1}, s)
}

// TestFactualMonitor: the composite works in a Monitor, with texts and
// with embeddings given alone.
func TestFactualMonitor(t *testing.T) {
	g, err := glove.New()
	require.NoError(t, err)
	var alerts []Alert
	m, err := NewMonitor(General, WithWindow(1), WithMonitorEmbedder(g.Embed), WithAlarm(func(_ context.Context, a Alert) { alerts = append(alerts, a) }))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = m.Observe(ctx, "agent", "task", Observation{Text: "You can deploy on Friday."})
	require.NoError(t, err)
	o, err := m.Observe(ctx, "agent", "task", Observation{Text: "You cannot deploy on Friday."})
	require.NoError(t, err)
	require.Equal(t, 1.0, o.Sample)
	require.True(t, o.Alarmed)
	require.Len(t, alerts, 1)

	v, err := g.Embed(ctx, "hello world")
	require.NoError(t, err)
	_, err = m.Observe(ctx, "agent", "vectors", Observation{Embedding: v})
	require.NoError(t, err)
	o, err = m.Observe(ctx, "agent", "vectors", Observation{Embedding: v})
	require.NoError(t, err)
	require.Zero(t, o.Sample)
}
