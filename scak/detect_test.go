package scak_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/scak"
)

func newDetector(t testing.TB, opts ...scak.DetectorOption) *scak.Detector {
	t.Helper()
	d, err := scak.NewDetector(opts...)
	require.NoError(t, err)
	return d
}

// Each built-in family recognises its phrasings, whatever the case, the
// apostrophes and the spacing.
func TestDetectorFamilies(t *testing.T) {
	d := newDetector(t)
	cases := map[string][]string{
		scak.FamilyEmpty: {"", "   ", "\n\t", "...", "—", "[]", "{}", "?!"},
		"no-data": {
			"No data found.", "no results", "NO RECORDS WERE FOUND", "Sorry, no matches.",
			"Nothing was returned for that query.", "The search returned no results.",
			"I couldn’t find any information about that.", "I could not locate the invoice.",
			"There are no records of that shipment.", "Zero results were found.", "0 rows returned.",
			"I was unable to retrieve the customer's history.", "The query came up empty.",
			"None found.", "We came back with nothing.", "Not found.",
		},
		"not-available": {
			"The figures are not available.", "That information is unavailable at this time.",
			"Not available.", "- Revenue: not available", "The data has not been published.",
			"No mention of it anywhere.", "The breakdown is not publicly disclosed.",
		},
		"insufficient-info": {
			"Insufficient information.", "There is not enough data to answer.",
			"I do not have enough context to say.", "It is not possible to determine the total.",
			"The answer cannot be determined from the documents.", "The data is inconclusive.",
			"Without more details I can only guess.",
		},
		"cannot-answer": {
			"I can't answer that.", "I am unable to help with this.", "I don't know.",
			"We're not able to provide that.", "I'm not able to answer.", "No idea, sorry.",
			"That is beyond my knowledge.", "I have no way of knowing.",
		},
		"refusal": {
			"As an AI language model, I cannot browse.", "I must decline this request.",
			"That is out of scope.", "This falls outside the scope of this assistant.",
			"I'm not authorized to share that.", "I am not in a position to comment.",
		},
		"deferral": {
			"Please try again later.", "The service is temporarily unavailable.",
			"Check back tomorrow.", "I'll get back to you.",
			"Please contact the support team for help.",
			"You may want to consult the official documentation.",
		},
		"placeholder": {"N/A", "n/a.", "TBD", "TODO", "null", "Lorem ipsum dolor sit amet", "[Insert answer here]", "Your answer here"},
	}
	for fam, texts := range cases {
		for _, text := range texts {
			t.Run(fam+"/"+text, func(t *testing.T) {
				m := d.Match(scak.Answer{Text: text})
				require.True(t, m.Found(), "no match; normalised %q", d.Normalize(text))
				assert.True(t, d.GiveUp(m), "match %+v is under the threshold", m)
				// A terse answer can match several families; the
				// strongest wins, which must be the one expected or
				// one as strong.
				if m.Family != fam {
					other := d.Match(scak.Answer{Text: text})
					assert.GreaterOrEqual(t, other.Confidence, famConfidence(t, d, fam), "matched %s (%q), want %s", m.Family, m.Text, fam)
				}
			})
		}
	}
}

func famConfidence(t *testing.T, d *scak.Detector, name string) float64 {
	for _, f := range d.Families() {
		if f.Name == name {
			return f.Confidence
		}
	}
	t.Fatalf("no family %q", name)
	return 0
}

// Answers that use the families' words innocently are not give-ups.
func TestDetectorInnocentAnswers(t *testing.T) {
	d := newDetector(t)
	for _, text := range []string{
		"Paris is the capital of France.",
		"The pharmacy is not available on weekends, but it opens at 8am on weekdays.",
		"No results were lost during the migration.",
		"If no results are found, the API returns an empty list.",
		"Whether no data is found or not, the job exits 0.",
		"The function returns nil when no match is found.",
		`The message "No data found" means the filter excluded every row.`,
		"The 'service unavailable' page appears during maintenance.",
		"There is no need to restart.",
		"I couldn't be happier with the result: sales rose 20%.",
		"Nothing is wrong with the configuration.",
		"Try again with the --force flag to overwrite.",
		"Lorem Ipsum is the placeholder text typesetters use.",
		"The data shows a 4% rise.",
	} {
		t.Run(text, func(t *testing.T) {
			m := d.Match(scak.Answer{Text: text})
			assert.False(t, d.GiveUp(m), "flagged by %s (%q, %.2f)", m.Family, m.Text, m.Confidence)
		})
	}
}

// "Nothing was found" is faithful when the tool results were empty, or
// when the caller says empty is right; it is a stronger give-up when they
// held data. Families that refuse or defer ignore the evidence.
func TestDetectorEvidence(t *testing.T) {
	d := newDetector(t)
	const noData = "I couldn't find any orders for this customer."
	bare := d.Match(scak.Answer{Text: noData})
	require.True(t, d.GiveUp(bare))

	for _, empty := range [][]string{
		{""}, {"[]"}, {"{}"}, {"null"}, {`{"orders": []}`}, {`{"orders": [], "count": 0}`}, {"0 rows"},
		{"No results."}, {"  \n"}, {"[]", ""}, {"no such user"},
	} {
		m := d.Match(scak.Answer{Text: noData, Evidence: empty})
		assert.True(t, m.Faithful, "evidence %q", empty)
		assert.False(t, d.GiveUp(m), "evidence %q", empty)
	}
	for _, full := range [][]string{
		{`[{"id": 1}]`}, {"Order 1182: shipped"}, {"[]", `{"orders": [{"id": 7}]}`}, {`{"count": 3}`},
		{strings.Repeat("x", 5000)},
	} {
		m := d.Match(scak.Answer{Text: noData, Evidence: full})
		assert.False(t, m.Faithful, "evidence %q", full)
		assert.Greater(t, m.Confidence, bare.Confidence, "evidence %q", full)
		assert.LessOrEqual(t, m.Confidence, 0.99)
	}
	m := d.Match(scak.Answer{Text: noData, EmptyOK: true})
	assert.True(t, m.Faithful)

	// Only the first 64 results are examined: past them, all empty so
	// far, the evidence says nothing either way.
	many := make([]string, 100)
	m = d.Match(scak.Answer{Text: noData, Evidence: many})
	assert.False(t, m.Faithful)
	assert.Equal(t, bare.Confidence, m.Confidence)
	many[10] = "data"
	assert.Greater(t, d.Match(scak.Answer{Text: noData, Evidence: many}).Confidence, bare.Confidence)

	// A deferral is a give-up whatever the tools returned.
	m = d.Match(scak.Answer{Text: "Please try again later.", Evidence: []string{"[]"}, EmptyOK: true})
	assert.True(t, d.GiveUp(m))
	assert.Equal(t, "deferral", m.Family)
}

func TestNormalize(t *testing.T) {
	d := newDetector(t)
	for in, want := range map[string]string{
		"I CAN’T   find\tit":              "i can not find it",
		"We won't, they didn't, I'm sure": "we will not, they did not, i am sure",
		"It’s “quoted” text":              `it is "quoted" text`,
		"cannot\u00a0say":                 "can not say",
		"  leading and trailing  ":        "leading and trailing",
		"Revenue: 3.5M. Next":             "revenue: 3.5m. next",
		"N/A":                             "n/a",
		"ÉTÉ Ünïcode":                     "été ünïcode",
		"bad \xff byte":                   "bad byte",
		"İSTANBUL Kelvin":                 "istanbul kelvin",
		"You'll, they'd, we've, you're":   "you will, they would, we have, you are",
	} {
		assert.Equal(t, want, d.Normalize(in), "in %q", in)
	}
}

// Only the first and last bytes set by WithScan are examined: a give-up
// opening or closing a long answer is seen, one buried in its middle is
// not.
func TestDetectorScanBound(t *testing.T) {
	d := newDetector(t, scak.WithScan(256, 128))
	filler := strings.Repeat("The quarterly report lists revenue by region and product line. ", 20)
	require.Greater(t, len(filler), 1000)
	assert.True(t, d.GiveUp(d.Match(scak.Answer{Text: "I could not find the Q3 figures. " + filler})))
	assert.True(t, d.GiveUp(d.Match(scak.Answer{Text: filler + " Sorry, I could not find the Q3 figures."})))
	assert.False(t, d.Match(scak.Answer{Text: filler + " I could not find the Q3 figures. " + filler}).Found())
	assert.LessOrEqual(t, len(d.Normalize(filler+filler)), 2*(256+128))

	// A phrase does not span the cut between head and tail.
	d = newDetector(t, scak.WithScan(8, 8))
	assert.False(t, d.Match(scak.Answer{Text: "xxxx no " + strings.Repeat("y", 100) + " data found"}).Found())
}

func TestCustomFamilies(t *testing.T) {
	d := newDetector(t, scak.WithFamilies(
		scak.Family{Name: "escalation", Confidence: 0.8, Phrases: []string{"@i have|will escalat* ~3 human|operator|tier"}},
		scak.Family{Name: "ticket-ref", Confidence: 0.75, Regexps: []string{`see ticket [a-z]+-\d+`}},
	))
	m := d.Match(scak.Answer{Text: "I have escalated this to a human operator."})
	assert.Equal(t, "escalation", m.Family)
	assert.Equal(t, "i have escalated this to a human", m.Text)
	m = d.Match(scak.Answer{Text: "See ticket OPS-1234 for details."})
	assert.Equal(t, "ticket-ref", m.Family)
	assert.Equal(t, "see ticket ops-1234", m.Text)

	names := []string{}
	for _, f := range d.Families() {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"empty", "no-data", "not-available", "insufficient-info", "cannot-answer", "refusal", "deferral", "placeholder", "escalation", "ticket-ref"}, names)
	// Families returns copies.
	fs := d.Families()
	fs[1].Phrases[0] = "changed"
	assert.NotEqual(t, "changed", d.Families()[1].Phrases[0])
	assert.Equal(t, scak.Families()[1].Phrases, d.Families()[1].Phrases)

	only := newDetector(t, scak.WithoutBuiltinFamilies(), scak.WithFamilies(scak.Family{Name: "x", Confidence: 1, Phrases: []string{"zork"}}))
	assert.False(t, only.Match(scak.Answer{Text: "No data found."}).Found())
	assert.False(t, only.Match(scak.Answer{Text: ""}).Found(), "no empty family without the built-ins")
	assert.True(t, only.Match(scak.Answer{Text: "Zork!"}).Found())
}

func TestDetectorInvalid(t *testing.T) {
	fam := func(name string, conf float64, phrases ...string) scak.DetectorOption {
		return scak.WithFamilies(scak.Family{Name: name, Confidence: conf, Phrases: phrases})
	}
	for name, opts := range map[string][]scak.DetectorOption{
		"bad regexp":          {scak.WithFamilies(scak.Family{Name: "r", Confidence: 1, Regexps: []string{"(unclosed"}})},
		"long regexp":         {scak.WithFamilies(scak.Family{Name: "r", Confidence: 1, Regexps: []string{strings.Repeat("a", 2000)}})},
		"duplicate name":      {fam("no-data", 0.5, "x")},
		"bad name":            {fam("No Data", 0.5, "x")},
		"empty name":          {fam("", 0.5, "x")},
		"zero confidence":     {fam("x", 0, "x")},
		"confidence over 1":   {fam("x", 1.5, "x")},
		"no phrases":          {fam("x", 0.5)},
		"contraction":         {fam("x", 0.5, "can't find")},
		"upper case":          {fam("x", 0.5, "No data")},
		"punctuation":         {fam("x", 0.5, "no-data")},
		"unknown macro":       {fam("x", 0.5, "no @nothing")},
		"gap first":           {fam("x", 0.5, "~2 data")},
		"gap last":            {fam("x", 0.5, "data ~2")},
		"gap too wide":        {fam("x", 0.5, "no ~9 data")},
		"optional first":      {fam("x", 0.5, "[no] data")},
		"prefix first":        {fam("x", 0.5, "dat* found")},
		"only anchors":        {fam("x", 0.5, "^ $")},
		"bad phrase conf":     {fam("x", 0.5, "no data =2")},
		"empty alternative":   {fam("x", 0.5, "no data|")},
		"too many elements":   {fam("x", 0.5, strings.Repeat("a ", 17))},
		"nil option":          {nil},
		"threshold 0":         {scak.WithThreshold(0)},
		"threshold over 1":    {scak.WithThreshold(1.1)},
		"scan 0":              {scak.WithScan(0, 10)},
		"scan too big":        {scak.WithScan(scak.MaxScan, 1)},
		"nil judge":           {scak.WithJudge(nil, scak.JudgeUndecided)},
		"bad judge when":      {scak.WithJudge(scak.JudgeFunc(nil), scak.JudgeWhen(9))},
		"nil clock":           {scak.WithDetectorClock(nil)},
		"no family at all":    {scak.WithoutBuiltinFamilies()},
		"too many families":   {manyFamilies(70)},
		"too many phrases":    {scak.WithFamilies(scak.Family{Name: "x", Confidence: 1, Phrases: repeat("a", 300)})},
		"optional empty":      {fam("x", 0.5, "no []")},
		"bad anchor position": {fam("x", 0.5, "no ^ data")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := scak.NewDetector(opts...)
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
}

func manyFamilies(n int) scak.DetectorOption {
	var fs []scak.Family
	for i := range n {
		fs = append(fs, scak.Family{Name: "f" + strings.Repeat("x", i%10) + string(rune('a'+i%26)) + string(rune('a'+i/26)), Confidence: 1, Phrases: []string{"zork"}})
	}
	return scak.WithFamilies(fs...)
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// Detect consults the judge only where the patterns do not decide (by
// default), and a judge's failure is an error, never a pass.
func TestDetectWithJudge(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var asked []string
	judge := scak.JudgeFunc(func(ctx context.Context, a scak.Answer) (scak.Judgement, error) {
		asked = append(asked, a.Text)
		switch {
		case strings.Contains(a.Text, "fail"):
			return scak.Judgement{}, errors.New("model down")
		case strings.Contains(a.Text, "hmm"):
			return scak.Judgement{GiveUp: true, Confidence: 0.9, Reason: "evasive"}, nil
		}
		return scak.Judgement{GiveUp: false, Confidence: 0.8, Reason: "answers"}, nil
	})
	ctx := context.Background()
	clock := scak.WithDetectorClock(func() time.Time { return at })

	d := newDetector(t, scak.WithJudge(judge, scak.JudgeUndecided), clock)
	// Decided by the patterns: no judge.
	f, ok, err := d.Detect(ctx, scak.Answer{Agent: "a1", Task: "q3", Text: "No data found."})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, scak.Failure{Kind: scak.KindGiveUp, Agent: "a1", Task: "q3", Rule: "no-data", Evidence: "no data found", Confidence: 0.9, At: at}, f)
	_, ok, err = d.Detect(ctx, scak.Answer{Text: "Paris is the capital of France."})
	require.NoError(t, err)
	require.False(t, ok)
	require.Empty(t, asked)
	// A weak match is undecided: the judge decides.
	f, ok, err = d.Detect(ctx, scak.Answer{Agent: "a1", Text: "hmm, I'm not sure"})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, scak.KindJudged, f.Kind)
	assert.Equal(t, scak.RuleJudge, f.Rule)
	assert.Contains(t, f.Evidence, "evasive")
	_, ok, err = d.Detect(ctx, scak.Answer{Text: "Could you please clarify which account?"})
	require.NoError(t, err)
	require.False(t, ok, "the judge said it answers")
	// The judge failing is an error wrapping ErrJudge and its cause.
	_, ok, err = d.Detect(ctx, scak.Answer{Text: "fail: I am not sure"})
	require.ErrorIs(t, err, scak.ErrJudge)
	require.ErrorContains(t, err, "model down")
	require.False(t, ok)
	require.Len(t, asked, 3)

	// JudgeUnflagged also asks about answers no family matched, not
	// about faithful ones.
	asked = nil
	d = newDetector(t, scak.WithJudge(judge, scak.JudgeUnflagged), clock)
	f, ok, err = d.Detect(ctx, scak.Answer{Text: "hmm, the archive is silent on that"})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, scak.KindJudged, f.Kind)
	_, ok, err = d.Detect(ctx, scak.Answer{Text: "No results.", Evidence: []string{"[]"}})
	require.NoError(t, err)
	require.False(t, ok)
	require.Len(t, asked, 1)

	// JudgeAlways: the judge's word is final.
	d = newDetector(t, scak.WithJudge(judge, scak.JudgeAlways), clock)
	_, ok, err = d.Detect(ctx, scak.Answer{Text: "No data found."})
	require.NoError(t, err)
	require.False(t, ok)

	// A cancelled context is an error before any work.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = d.Detect(cctx, scak.Answer{Text: "No data found."})
	require.ErrorIs(t, err, context.Canceled)
}

// The detector is safe for concurrent use (run with -race).
func TestDetectorConcurrent(t *testing.T) {
	d := newDetector(t)
	set := loadLabelled(t)
	want := make([]bool, len(set))
	for i, l := range set {
		want[i] = d.GiveUp(d.Match(scak.Answer{Text: l.Text, Evidence: l.Evidence, EmptyOK: l.EmptyOK}))
	}
	done := make(chan error, 4)
	for range 4 {
		go func() {
			for i, l := range set {
				if got := d.GiveUp(d.Match(scak.Answer{Text: l.Text, Evidence: l.Evidence, EmptyOK: l.EmptyOK})); got != want[i] {
					done <- errors.New("different result for " + l.Text)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		require.NoError(t, <-done)
	}
}

// FuzzDetect: any text and evidence is matched without a panic, within the
// scan bound, and a match's text is valid UTF-8 within its bound.
func FuzzDetect(f *testing.F) {
	for _, s := range []string{"", "No data found.", "I couldn’t find it", "\xff\xfe", `"no data" found`, "n/a", "can't won't shan't", strings.Repeat("no ", 2000), "'quoted' 'x", "a.b.c. d", "İK"} {
		f.Add(s, "[]")
	}
	d, err := scak.NewDetector(scak.WithScan(512, 256))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text, evidence string) {
		m := d.Match(scak.Answer{Text: text, Evidence: []string{evidence}})
		if m.Found() {
			if m.Confidence <= 0 || m.Confidence > 1 {
				t.Fatalf("confidence %v", m.Confidence)
			}
			if !utf8.ValidString(m.Text) || len(m.Text) > 256 {
				t.Fatalf("match text %q", m.Text)
			}
		}
		if n := len(d.Normalize(text)); n > 4*(512+256)+16 {
			t.Fatalf("normalised %d bytes from %d", n, len(text))
		}
	})
}
