package cmvk

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/scripted"
)

func TestParseCritique(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Critique
		bad  bool
	}{
		{name: "full", in: `{"ok":true,"confidence":0.9,"issues":["a"],"strategy":" retry "}`, want: Critique{OK: true, Confidence: 0.9, Issues: []string{"a"}, Strategy: "retry"}},
		{name: "minimal", in: ` {"ok":false,"confidence":0} `, want: Critique{Confidence: 0}},
		{name: "missing ok", in: `{"confidence":1}`, bad: true},
		{name: "missing confidence", in: `{"ok":true}`, bad: true},
		{name: "confidence above 1", in: `{"ok":true,"confidence":1.5}`, bad: true},
		{name: "negative confidence", in: `{"ok":true,"confidence":-0.1}`, bad: true},
		{name: "unknown field", in: `{"ok":true,"confidence":1,"approve":true}`, bad: true},
		{name: "trailing", in: `{"ok":true,"confidence":1} {}`, bad: true},
		{name: "prose", in: `Looks good! {"ok":true,"confidence":1}`, bad: true},
		{name: "fenced", in: "```json\n{\"ok\":true,\"confidence\":1}\n```", bad: true},
		{name: "null", in: `null`, bad: true},
		{name: "array", in: `[true]`, bad: true},
		{name: "empty", in: ``, bad: true},
		{name: "ok as string", in: `{"ok":"true","confidence":1}`, bad: true},
		{name: "too many issues", in: `{"ok":false,"confidence":1,"issues":[` + strings.Repeat(`"x",`, MaxIssues) + `"x"]}`, bad: true},
		{name: "long issue", in: `{"ok":false,"confidence":1,"issues":["` + strings.Repeat("x", 1025) + `"]}`, bad: true},
		{name: "long strategy", in: `{"ok":false,"confidence":1,"strategy":"` + strings.Repeat("x", MaxStrategyBytes+1) + `"}`, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCritique(tc.in)
			if tc.bad {
				require.ErrorIs(t, err, ErrBadCritique)
				require.ErrorIs(t, err, agentos.ErrInvalid)
				require.False(t, c.OK, "an unreadable critique is never an approval")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, c)
		})
	}
}

func TestParseDraft(t *testing.T) {
	for _, tc := range []struct {
		in, strategy, answer string
		bad                  bool
	}{
		{in: "STRATEGY: Divide  and Conquer\n\nThe answer is 4.\n", strategy: "divide and conquer", answer: "The answer is 4."},
		{in: "strategy:x\ny", strategy: "x", answer: "y"},
		{in: "The answer is 4.", bad: true},
		{in: "STRATEGY:\nanswer", bad: true},
		{in: "STRATEGY: x", bad: true},
		{in: "STRATEGY: x\n   \n", bad: true},
		{in: "STRATEGY: " + strings.Repeat("y", MaxStrategyBytes+1) + "\nz", bad: true},
		{in: "STRATEGY: \xff\nz", bad: true},
		{in: "PLAN: x\ny", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			s, a, err := ParseDraft(tc.in)
			if tc.bad {
				require.ErrorIs(t, err, ErrBadDraft)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.strategy, s)
			require.Equal(t, tc.answer, a)
		})
	}
}

func TestRefineApprovedAfterBans(t *testing.T) {
	gen := scripted.MustNew(scripted.Otherwise().ReplySequence(
		"STRATEGY: guess\n5",
		"no strategy line here",
		"STRATEGY: Guess\n6", // a banned strategy, in another case
		"STRATEGY: arithmetic\n2 + 2 = 4",
		"STRATEGY: proof\n4",
	))
	ver := scripted.MustNew(
		scripted.When(scripted.Contains("Strategy: guess")).Reply(`{"ok":false,"confidence":0.95,"issues":["5 is wrong"],"strategy":"arithmetic"}`),
		scripted.When(scripted.Contains("Strategy: arithmetic")).Reply(`Sure, looks right!`),
		scripted.When(scripted.Contains("Strategy: proof")).Reply(`{"ok":true,"confidence":0.9}`),
	)
	res, err := Refine(context.Background(), gen, ver, "What is 2+2?", RefineOptions{})
	require.NoError(t, err)
	require.True(t, res.Accepted)
	require.Equal(t, "4", res.Answer)
	require.Equal(t, "proof", res.Strategy)
	require.Equal(t, 0.9, res.Confidence)
	require.Equal(t, []string{"guess", "arithmetic"}, res.Banned)
	var outcomes []Outcome
	for _, r := range res.Rounds {
		outcomes = append(outcomes, r.Outcome)
	}
	require.Equal(t, []Outcome{Rejected, BadDraft, BannedStrategy, BadCritique, Approved}, outcomes)
	require.ErrorIs(t, res.Rounds[1].Err, ErrBadDraft)
	require.ErrorIs(t, res.Rounds[3].Err, ErrBadCritique)

	// The verifier was asked three times: the banned repeat and the bad
	// draft never reached it.
	require.Len(t, ver.Calls(), 3)
	// The generator was told about the bans and the last critique.
	calls := gen.Calls()
	require.Len(t, calls, 5)
	second := scripted.LastUser(calls[1])
	require.Contains(t, second, "Banned strategies (they failed): guess")
	require.Contains(t, second, "- 5 is wrong")
	require.Contains(t, second, "The verifier suggests: arithmetic")
	require.Contains(t, scripted.LastUser(calls[4]), "guess; arithmetic")
}

func TestRefineUnverified(t *testing.T) {
	gen := scripted.MustNew(scripted.Otherwise().ReplySequence("STRATEGY: a\nx", "STRATEGY: b\ny"))
	ver := scripted.MustNew(scripted.Otherwise().Reply(`{"ok":true,"confidence":0.5}`))
	res, err := Refine(context.Background(), gen, ver, "task", RefineOptions{Rounds: 2})
	require.ErrorIs(t, err, ErrUnverified)
	require.False(t, res.Accepted)
	require.Empty(t, res.Answer)
	require.Equal(t, []string{"a", "b"}, res.Banned)
	require.Equal(t, Unconvinced, res.Rounds[1].Outcome)

	res, err = Refine(context.Background(), gen, ver, "task", RefineOptions{MinConfidence: 0.5, Rounds: 1})
	require.ErrorIs(t, err, scripted.ErrExhausted, "the sequence is spent: a model error stops Refine")
	require.Empty(t, res.Rounds)
}

func TestRefineErrors(t *testing.T) {
	okGen := scripted.MustNew(scripted.Otherwise().Reply("STRATEGY: a\nx"))
	okVer := scripted.MustNew(scripted.Otherwise().Reply(`{"ok":true,"confidence":1}`))
	boom := errors.New("verifier down")
	for _, tc := range []struct {
		name     string
		gen, ver agentos.Model
		task     string
		opts     RefineOptions
		want     error
	}{
		{"nil generator", nil, okVer, "t", RefineOptions{}, agentos.ErrInvalid},
		{"nil verifier", okGen, nil, "t", RefineOptions{}, agentos.ErrInvalid},
		{"empty task", okGen, okVer, "  ", RefineOptions{}, agentos.ErrInvalid},
		{"task too long", okGen, okVer, "abc", RefineOptions{MaxAnswerBytes: 2}, agentos.ErrInvalid},
		{"too many rounds", okGen, okVer, "t", RefineOptions{Rounds: MaxRounds + 1}, agentos.ErrInvalid},
		{"bad confidence", okGen, okVer, "t", RefineOptions{MinConfidence: 1.5}, agentos.ErrInvalid},
		{"verifier fails", okGen, scripted.MustNew(scripted.Otherwise().Fail(boom)), "t", RefineOptions{}, boom},
		{"draft too large", scripted.MustNew(scripted.Otherwise().Reply("STRATEGY: a\n" + strings.Repeat("x", 100))), okVer, "t", RefineOptions{MaxAnswerBytes: 50}, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Refine(context.Background(), tc.gen, tc.ver, tc.task, tc.opts)
			require.ErrorIs(t, err, tc.want)
			require.False(t, res.Accepted)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Refine(ctx, okGen, okVer, "t", RefineOptions{})
	require.ErrorIs(t, err, context.Canceled)
}

func FuzzParseCritique(f *testing.F) {
	for _, s := range []string{`{"ok":true,"confidence":0.9}`, `{"ok":false,"confidence":0,"issues":["x"],"strategy":"y"}`, `null`, `{"ok":true}`, `{"ok":true,"confidence":1e999}`, "{\"ok\":true,\"confidence\":1}\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCritique(s)
		if err != nil {
			require.ErrorIs(t, err, ErrBadCritique)
			require.Zero(t, c.Confidence)
			require.False(t, c.OK)
			return
		}
		require.True(t, c.Confidence >= 0 && c.Confidence <= 1)
		require.LessOrEqual(t, len(c.Issues), MaxIssues)
	})
}

func FuzzParseDraft(f *testing.F) {
	for _, s := range []string{"STRATEGY: a\nb", "strategy :  A  B \n\n c", "x", "STRATEGY:\n", "STRATEGY: \xff\ny"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, a, err := ParseDraft(s)
		if err != nil {
			require.ErrorIs(t, err, ErrBadDraft)
			return
		}
		require.NotEmpty(t, st)
		require.NotEmpty(t, a)
		require.Equal(t, st, NormalizeStrategy(st))
		require.LessOrEqual(t, len(st), MaxStrategyBytes)
	})
}
