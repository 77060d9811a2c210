package scak_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/scripted"
	"github.com/agent-os/agentos/scak"
)

func TestParseJudgement(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply string
		want  scak.Judgement
	}{
		{"plain", `{"give_up": true, "confidence": 0.9, "reason": "says no data"}`, scak.Judgement{GiveUp: true, Confidence: 0.9, Reason: "says no data"}},
		{"no reason", `{"give_up": false, "confidence": 0}`, scak.Judgement{}},
		{"whitespace", "\n  {\"give_up\": false, \"confidence\": 1, \"reason\": \"\"}  \n", scak.Judgement{Confidence: 1}},
		{"fenced", "```json\n{\"give_up\": true, \"confidence\": 0.75, \"reason\": \"r\"}\n```", scak.Judgement{GiveUp: true, Confidence: 0.75, Reason: "r"}},
		{"bare fence", "```\n{\"give_up\": true, \"confidence\": 1}\n```", scak.Judgement{GiveUp: true, Confidence: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scak.ParseJudgement(tc.reply)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	for name, reply := range map[string]string{
		"empty":            "",
		"prose":            "Yes, this answer gives up.",
		"prose then json":  `Sure! {"give_up": true, "confidence": 1}`,
		"json then prose":  `{"give_up": true, "confidence": 1} I hope this helps`,
		"two objects":      `{"give_up": true, "confidence": 1}{"give_up": false, "confidence": 1}`,
		"array":            `[{"give_up": true, "confidence": 1}]`,
		"missing give_up":  `{"confidence": 1}`,
		"missing conf":     `{"give_up": true}`,
		"null give_up":     `{"give_up": null, "confidence": 1}`,
		"string give_up":   `{"give_up": "yes", "confidence": 1}`,
		"conf over 1":      `{"give_up": true, "confidence": 1.5}`,
		"conf negative":    `{"give_up": true, "confidence": -0.1}`,
		"conf string":      `{"give_up": true, "confidence": "high"}`,
		"unknown field":    `{"give_up": true, "confidence": 1, "verdict": "bad"}`,
		"truncated":        `{"give_up": true, "confidence": 0.`,
		"unclosed fence":   "```json\n{\"give_up\": true, \"confidence\": 1}",
		"too long":         `{"give_up": true, "confidence": 1, "reason": "` + strings.Repeat("x", scak.MaxJudgementBytes) + `"}`,
		"duplicate prose":  "```json\n{\"give_up\": true, \"confidence\": 1}\n``` and more",
		"yaml":             "give_up: true\nconfidence: 1",
		"lower-case false": `{"give_up": False, "confidence": 1}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := scak.ParseJudgement(reply)
			require.ErrorIs(t, err, scak.ErrJudgement)
		})
	}
}

func FuzzParseJudgement(f *testing.F) {
	for _, s := range []string{
		`{"give_up": true, "confidence": 0.9, "reason": "x"}`, "```json\n{}\n```", "", "{", `{"give_up": true, "confidence": 1e400}`,
		`{"give_up": false, "confidence": 0, "reason": "\u00e9"}`, "```", "``````",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		v, err := scak.ParseJudgement(reply)
		if err != nil {
			if !errors.Is(err, scak.ErrJudgement) {
				t.Fatalf("error %v does not wrap ErrJudgement", err)
			}
			return
		}
		if v.Confidence < 0 || v.Confidence > 1 || len(v.Reason) > 1024 {
			t.Fatalf("accepted %+v", v)
		}
	})
}

func TestModelJudge(t *testing.T) {
	ctx := context.Background()
	m := scripted.MustNew(
		scripted.When(scripted.Contains("Answer:\nNo data found.")).Reply(`{"give_up": true, "confidence": 0.95, "reason": "claims no data"}`),
		scripted.When(scripted.Contains("Answer:\nParis")).Reply("```json\n{\"give_up\": false, \"confidence\": 0.9, \"reason\": \"answers\"}\n```"),
		scripted.When(scripted.Contains("garbage")).Reply("I think it is fine!"),
		scripted.When(scripted.Contains("broken")).Fail(errors.New("rate limited")),
		scripted.Otherwise().Reply(`{"give_up": false, "confidence": 0.5}`),
	)
	j, err := scak.NewModelJudge(m)
	require.NoError(t, err)

	v, err := j.Judge(ctx, scak.Answer{Task: "Q3 revenue?", Text: "No data found.", Evidence: []string{`{"revenue": 4.2}`}})
	require.NoError(t, err)
	assert.Equal(t, scak.Judgement{GiveUp: true, Confidence: 0.95, Reason: "claims no data"}, v)
	v, err = j.Judge(ctx, scak.Answer{Text: "Paris"})
	require.NoError(t, err)
	assert.False(t, v.GiveUp)

	// An unreadable reply is an error, never "fine".
	_, err = j.Judge(ctx, scak.Answer{Text: "garbage"})
	require.ErrorIs(t, err, scak.ErrJudgement)
	_, err = j.Judge(ctx, scak.Answer{Text: "broken"})
	require.ErrorContains(t, err, "rate limited")

	// The prompt carries the task, the evidence and the answer.
	calls := m.Calls()
	require.NotEmpty(t, calls)
	user := calls[0].Messages[1].Content
	assert.Contains(t, user, "Q3 revenue?")
	assert.Contains(t, user, `[1] {"revenue": 4.2}`)
	assert.Contains(t, user, "Answer:\nNo data found.")
	assert.Equal(t, agentos.RoleSystem, calls[0].Messages[0].Role)
}

// A model that hangs is cut off by the judge's timeout (or the caller's
// context), and that is an error.
func TestModelJudgeTimeout(t *testing.T) {
	hang := agentos.ModelFunc(func(ctx context.Context, p agentos.Prompt) (agentos.Completion, error) {
		<-ctx.Done()
		return agentos.Completion{}, ctx.Err()
	})
	j, err := scak.NewModelJudge(hang, scak.WithJudgeTimeout(20*time.Millisecond))
	require.NoError(t, err)
	_, err = j.Judge(context.Background(), scak.Answer{Text: "x"})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	j, err = scak.NewModelJudge(hang)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = j.Judge(ctx, scak.Answer{Text: "x"})
	require.ErrorIs(t, err, context.Canceled)

	// A model that answers after the deadline answered too late.
	late := agentos.ModelFunc(func(ctx context.Context, p agentos.Prompt) (agentos.Completion, error) {
		<-ctx.Done()
		return agentos.Completion{Text: `{"give_up": false, "confidence": 1}`}, nil
	})
	j, err = scak.NewModelJudge(late, scak.WithJudgeTimeout(10*time.Millisecond))
	require.NoError(t, err)
	_, err = j.Judge(context.Background(), scak.Answer{Text: "x"})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// Through a detector, the timeout is a judge error.
	d := newDetector(t, scak.WithJudge(j, scak.JudgeAlways))
	_, ok, err := d.Detect(context.Background(), scak.Answer{Text: "Paris."})
	require.ErrorIs(t, err, scak.ErrJudge)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, ok)
}

// The prompt is bounded whatever the size of the answer and evidence.
func TestModelJudgePromptBounds(t *testing.T) {
	j, err := scak.NewModelJudge(scripted.MustNew(scripted.Otherwise().Reply("{}")), scak.WithJudgePromptBounds(256, 512))
	require.NoError(t, err)
	huge := strings.Repeat("word ", 100_000)
	p := j.Prompt(scak.Answer{Task: huge, Text: huge, Evidence: []string{huge, huge, huge}})
	user := p.Messages[1].Content
	assert.Less(t, len(user), 256+512+1024+200)
	assert.Contains(t, user, "[cut]")
	assert.Contains(t, user, "more results not shown")

	p = j.Prompt(scak.Answer{Text: "", EmptyOK: true})
	assert.Contains(t, p.Messages[1].Content, "(unknown)")
	assert.Contains(t, p.Messages[1].Content, "(empty)")
	assert.Contains(t, p.Messages[1].Content, "An empty result is a correct answer")

	for name, opt := range map[string]scak.ModelJudgeOption{
		"zero timeout":   scak.WithJudgeTimeout(0),
		"tiny answer":    scak.WithJudgePromptBounds(10, 10),
		"negative ev":    scak.WithJudgePromptBounds(100, -1),
		"huge answer":    scak.WithJudgePromptBounds(1<<21, 10),
		"nil judge opt":  nil,
		"nil model (na)": scak.WithJudgeTimeout(time.Second),
	} {
		t.Run(name, func(t *testing.T) {
			var m agentos.Model = scripted.MustNew(scripted.Otherwise().Reply("{}"))
			if name == "nil model (na)" {
				m = nil
			}
			_, err := scak.NewModelJudge(m, opt)
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
}
