package scak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/agent-os/agentos"
)

// Judgement is a judge's decision on one answer.
type Judgement struct {
	// GiveUp says the answer gives up instead of answering.
	GiveUp bool
	// Confidence in [0, 1] is how sure the judge is of GiveUp.
	Confidence float64
	// Reason is the judge's short explanation.
	Reason string
}

// Judge decides whether an answer gives up, where the patterns cannot: a
// language model, a classifier, a human queue. Implementations must be safe
// for concurrent use and honour ctx. An error means the answer was not
// judged; it is never a pass.
type Judge interface {
	Judge(ctx context.Context, a Answer) (Judgement, error)
}

// JudgeFunc adapts a function to [Judge].
type JudgeFunc func(ctx context.Context, a Answer) (Judgement, error)

// Judge calls f.
func (f JudgeFunc) Judge(ctx context.Context, a Answer) (Judgement, error) { return f(ctx, a) }

var (
	_ Judge = JudgeFunc(nil)
	_ Judge = (*ModelJudge)(nil)
)

// ErrJudgement is wrapped by the error of a judge reply that is not a valid
// verdict (see [ParseJudgement]).
var ErrJudgement = errors.New("scak: invalid judgement")

// Defaults of a ModelJudge.
const (
	DefaultJudgeTimeout = 30 * time.Second
	// DefaultJudgeAnswerBytes bounds the answer text put in the prompt.
	DefaultJudgeAnswerBytes = 4096
	// DefaultJudgeEvidenceBytes bounds the evidence put in the prompt,
	// all items together.
	DefaultJudgeEvidenceBytes = 4096
	// MaxJudgementBytes bounds a reply [ParseJudgement] accepts.
	MaxJudgementBytes = 4096
	// maxTaskBytes bounds the task put in the prompt.
	maxTaskBytes = 1024
	// maxReasonBytes bounds a verdict's reason.
	maxReasonBytes = 1024
)

// judgeInstructions is the system message of a ModelJudge.
const judgeInstructions = `You check answers that an AI agent gave to a task.
An answer GIVES UP when it does not answer the task and instead says there is no data, it cannot answer, the information is unavailable or insufficient, refuses, defers ("try again later", "contact support"), or is empty or a placeholder.
An answer that says nothing was found is NOT a give-up when the tool results it was based on really were empty.
An answer that gives the requested information is NOT a give-up, even if it mentions missing data in passing.
Reply with one JSON object and nothing else:
{"give_up": true or false, "confidence": a number from 0 to 1, "reason": "one short sentence"}`

// ModelJudge is a [Judge] that asks a language model, with a bounded
// prompt, a timeout, and a strict parser of its reply. It is safe for
// concurrent use when its model is.
type ModelJudge struct {
	model         agentos.Model
	timeout       time.Duration
	answerBytes   int
	evidenceBytes int
}

// ModelJudgeOption configures a ModelJudge.
type ModelJudgeOption func(*ModelJudge) error

// WithJudgeTimeout bounds one judgement (default [DefaultJudgeTimeout]).
func WithJudgeTimeout(d time.Duration) ModelJudgeOption {
	return func(j *ModelJudge) error {
		if d <= 0 {
			return fmt.Errorf("scak: %w: judge timeout %v is not positive", agentos.ErrInvalid, d)
		}
		j.timeout = d
		return nil
	}
}

// WithJudgePromptBounds bounds the bytes of answer and of evidence put in
// the prompt (defaults [DefaultJudgeAnswerBytes],
// [DefaultJudgeEvidenceBytes]); longer text is cut, and the cut marked.
func WithJudgePromptBounds(answer, evidence int) ModelJudgeOption {
	return func(j *ModelJudge) error {
		if answer < 64 || evidence < 0 || answer > 1<<20 || evidence > 1<<20 {
			return fmt.Errorf("scak: %w: judge prompt bounds %d, %d out of range", agentos.ErrInvalid, answer, evidence)
		}
		j.answerBytes, j.evidenceBytes = answer, evidence
		return nil
	}
}

// NewModelJudge returns a judge that asks m. Errors wrap agentos.ErrInvalid.
func NewModelJudge(m agentos.Model, opts ...ModelJudgeOption) (*ModelJudge, error) {
	if m == nil {
		return nil, fmt.Errorf("scak: %w: nil model", agentos.ErrInvalid)
	}
	j := &ModelJudge{model: m, timeout: DefaultJudgeTimeout, answerBytes: DefaultJudgeAnswerBytes, evidenceBytes: DefaultJudgeEvidenceBytes}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("scak: %w: nil judge option", agentos.ErrInvalid)
		}
		if err := o(j); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// Judge asks the model about a. Errors: ctx's error or
// context.DeadlineExceeded when the judge's timeout passed, the model's
// error, or one wrapping [ErrJudgement] when the reply is not a judgement.
func (j *ModelJudge) Judge(ctx context.Context, a Answer) (Judgement, error) {
	ctx, cancel := context.WithTimeout(ctx, j.timeout)
	defer cancel()
	c, err := j.model.Generate(ctx, j.Prompt(a))
	if err != nil {
		return Judgement{}, fmt.Errorf("scak: judge model: %w", err)
	}
	if err := ctx.Err(); err != nil {
		// A model that answered after the deadline answered too late.
		return Judgement{}, fmt.Errorf("scak: judge model: %w", err)
	}
	return ParseJudgement(c.Text)
}

// Prompt returns the prompt the judge sends for a, bounded by the judge's
// prompt bounds.
func (j *ModelJudge) Prompt(a Answer) agentos.Prompt {
	var b strings.Builder
	b.WriteString("Task:\n")
	b.WriteString(quoteBlock(a.Task, maxTaskBytes))
	b.WriteString("\n\nTool results the answer was based on:\n")
	switch {
	case len(a.Evidence) == 0:
		b.WriteString("(unknown)")
	case j.evidenceBytes == 0:
		b.WriteString("(not shown)")
	default:
		left := j.evidenceBytes
		for i, e := range a.Evidence {
			if left <= 0 {
				fmt.Fprintf(&b, "(%d more results not shown)\n", len(a.Evidence)-i)
				break
			}
			fmt.Fprintf(&b, "[%d] %s\n", i+1, quoteBlock(e, left))
			left -= len(e)
		}
	}
	if a.EmptyOK {
		b.WriteString("\n(An empty result is a correct answer to this task.)")
	}
	b.WriteString("\n\nAnswer:\n")
	b.WriteString(quoteBlock(a.Text, j.answerBytes))
	return agentos.Prompt{
		Messages: []agentos.Message{
			{Role: agentos.RoleSystem, Content: judgeInstructions},
			{Role: agentos.RoleUser, Content: b.String()},
		},
		Temperature: 0,
		MaxTokens:   200,
	}
}

// quoteBlock returns s cut to n bytes, "(empty)" when it is blank.
func quoteBlock(s string, n int) string {
	if strings.TrimSpace(s) == "" {
		return "(empty)"
	}
	if len(s) > n {
		return clipUTF8(s, n) + " [cut]"
	}
	return s
}

// ParseJudgement parses a judge model's reply: exactly one JSON object
// {"give_up": bool, "confidence": number in [0, 1], "reason": string},
// optionally inside one ``` code fence, with nothing else around it but
// whitespace. give_up and confidence are required, unknown fields are
// refused, and the reply is at most [MaxJudgementBytes]. Anything else is an
// error wrapping [ErrJudgement]: a reply the parser cannot read is never
// taken as "fine".
func ParseJudgement(reply string) (Judgement, error) {
	if len(reply) > MaxJudgementBytes {
		return Judgement{}, fmt.Errorf("%w: reply of %d bytes is over %d", ErrJudgement, len(reply), MaxJudgementBytes)
	}
	s := strings.TrimSpace(reply)
	if rest, ok := strings.CutPrefix(s, "```"); ok {
		body, ok := strings.CutSuffix(rest, "```")
		if !ok {
			return Judgement{}, fmt.Errorf("%w: unclosed code fence", ErrJudgement)
		}
		body = strings.TrimPrefix(body, "json")
		s = strings.TrimSpace(body)
	}
	if s == "" || s[0] != '{' {
		return Judgement{}, fmt.Errorf("%w: reply is not a JSON object: %q", ErrJudgement, clipUTF8(s, 64))
	}
	var raw struct {
		GiveUp     *bool    `json:"give_up"`
		Confidence *float64 `json:"confidence"`
		Reason     *string  `json:"reason"`
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Judgement{}, fmt.Errorf("%w: %w", ErrJudgement, err)
	}
	if rest := s[dec.InputOffset():]; strings.TrimSpace(rest) != "" {
		return Judgement{}, fmt.Errorf("%w: text after the JSON object", ErrJudgement)
	}
	switch {
	case raw.GiveUp == nil:
		return Judgement{}, fmt.Errorf("%w: give_up is missing", ErrJudgement)
	case raw.Confidence == nil:
		return Judgement{}, fmt.Errorf("%w: confidence is missing", ErrJudgement)
	case math.IsNaN(*raw.Confidence) || *raw.Confidence < 0 || *raw.Confidence > 1:
		return Judgement{}, fmt.Errorf("%w: confidence %v is not in [0, 1]", ErrJudgement, *raw.Confidence)
	}
	v := Judgement{GiveUp: *raw.GiveUp, Confidence: *raw.Confidence}
	if raw.Reason != nil {
		v.Reason = clipUTF8(*raw.Reason, maxReasonBytes)
	}
	return v, nil
}
