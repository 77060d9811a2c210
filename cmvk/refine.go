package cmvk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// Errors of [Refine] and its parsers.
var (
	// ErrUnverified: no draft was approved within the rounds allowed; the
	// Result returned with it holds every round.
	ErrUnverified = errors.New("cmvk: no draft approved by the verifier")
	// ErrBadCritique wraps the reason a verifier's answer is not a
	// critique in the format of [ParseCritique]. It wraps
	// [agentos.ErrInvalid].
	ErrBadCritique = fmt.Errorf("cmvk: malformed critique: %w", agentos.ErrInvalid)
	// ErrBadDraft wraps the reason a generator's answer is not a draft in
	// the format of [ParseDraft]. It wraps [agentos.ErrInvalid].
	ErrBadDraft = fmt.Errorf("cmvk: malformed draft: %w", agentos.ErrInvalid)
)

// Defaults and bounds of [Refine].
const (
	DefaultRounds        = 5
	MaxRounds            = 20
	DefaultMinConfidence = 0.85
	MaxIssues            = 32 // issues in one critique
	MaxStrategyBytes     = 64 // bytes of a strategy name
	maxIssueBytes        = 1024
)

// Critique is a verifier's judgement of one draft. In the verifier's
// answer it is one JSON object and nothing else:
//
//	{"ok": true, "confidence": 0.9, "issues": ["…"], "strategy": "…"}
//
// ok and confidence are required; confidence is a number in [0, 1]; issues
// (at most [MaxIssues] strings of at most 1 KiB) and strategy (a strategy
// the verifier suggests trying next, at most [MaxStrategyBytes] bytes) may
// be omitted. Unknown fields, a second value, code fences or prose around
// the object make it malformed.
type Critique struct {
	OK         bool     `json:"ok"`
	Confidence float64  `json:"confidence"`
	Issues     []string `json:"issues,omitempty"`
	Strategy   string   `json:"strategy,omitempty"`
}

// ParseCritique decodes a verifier's answer strictly (see [Critique]). Any
// deviation is an error wrapping [ErrBadCritique]: a critique that cannot
// be read is never an approval.
func ParseCritique(s string) (Critique, error) {
	var raw struct {
		OK         *bool    `json:"ok"`
		Confidence *float64 `json:"confidence"`
		Issues     []string `json:"issues"`
		Strategy   string   `json:"strategy"`
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Critique{}, fmt.Errorf("%w: %v", ErrBadCritique, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Critique{}, fmt.Errorf("%w: data after the object", ErrBadCritique)
	}
	if !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return Critique{}, fmt.Errorf("%w: not a JSON object", ErrBadCritique)
	}
	switch {
	case raw.OK == nil:
		return Critique{}, fmt.Errorf("%w: \"ok\" is missing", ErrBadCritique)
	case raw.Confidence == nil:
		return Critique{}, fmt.Errorf("%w: \"confidence\" is missing", ErrBadCritique)
	case !(*raw.Confidence >= 0 && *raw.Confidence <= 1) || math.IsNaN(*raw.Confidence):
		return Critique{}, fmt.Errorf("%w: confidence %v outside [0, 1]", ErrBadCritique, *raw.Confidence)
	case len(raw.Issues) > MaxIssues:
		return Critique{}, fmt.Errorf("%w: %d issues (at most %d)", ErrBadCritique, len(raw.Issues), MaxIssues)
	case len(raw.Strategy) > MaxStrategyBytes:
		return Critique{}, fmt.Errorf("%w: strategy of %d bytes (at most %d)", ErrBadCritique, len(raw.Strategy), MaxStrategyBytes)
	}
	for i, is := range raw.Issues {
		if len(is) > maxIssueBytes {
			return Critique{}, fmt.Errorf("%w: issue %d of %d bytes (at most %d)", ErrBadCritique, i, len(is), maxIssueBytes)
		}
	}
	return Critique{OK: *raw.OK, Confidence: *raw.Confidence, Issues: raw.Issues, Strategy: strings.TrimSpace(raw.Strategy)}, nil
}

// ParseDraft splits a generator's answer into its strategy and its answer.
// The first line must be "STRATEGY: <name>" (the key in any case, the name
// non-empty, at most [MaxStrategyBytes] bytes, valid UTF-8); the answer is
// the rest, trimmed of surrounding white space, and must not be empty. The
// strategy is returned lowercased with inner white space collapsed, the
// form that bans compare. Anything else is an error wrapping
// [ErrBadDraft].
func ParseDraft(s string) (strategy, answer string, err error) {
	first, rest, _ := strings.Cut(s, "\n")
	key, name, ok := strings.Cut(strings.TrimSpace(first), ":")
	if !ok || !strings.EqualFold(strings.TrimSpace(key), "strategy") {
		return "", "", fmt.Errorf("%w: the first line is not \"STRATEGY: <name>\"", ErrBadDraft)
	}
	if !utf8.ValidString(name) {
		return "", "", fmt.Errorf("%w: strategy is not UTF-8", ErrBadDraft)
	}
	strategy = NormalizeStrategy(name)
	switch {
	case strategy == "":
		return "", "", fmt.Errorf("%w: empty strategy", ErrBadDraft)
	case len(strategy) > MaxStrategyBytes:
		return "", "", fmt.Errorf("%w: strategy of %d bytes (at most %d)", ErrBadDraft, len(strategy), MaxStrategyBytes)
	}
	answer = strings.TrimSpace(rest)
	if answer == "" {
		return "", "", fmt.Errorf("%w: no answer after the strategy line", ErrBadDraft)
	}
	return strategy, answer, nil
}

// NormalizeStrategy is the form strategies are compared in: lowercase,
// white space collapsed to single spaces, trimmed.
func NormalizeStrategy(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// RefineOptions configures [Refine]; zero fields take the defaults.
type RefineOptions struct {
	Rounds         int     // at most this many drafts; default DefaultRounds, at most MaxRounds
	MinConfidence  float64 // approval needs ok and at least this confidence; default DefaultMinConfidence
	MaxAnswerBytes int     // bound on each draft and critique; default DefaultMaxAnswerBytes
}

// Outcome is what became of one round's draft.
type Outcome string

// The outcomes of a round.
const (
	Approved       Outcome = "approved"        // ok and confident enough: Refine returns it
	Rejected       Outcome = "rejected"        // the verifier found it wanting; its strategy is banned
	Unconvinced    Outcome = "unconvinced"     // ok, but confidence below the minimum; its strategy is banned
	BadCritique    Outcome = "bad critique"    // the verifier's answer did not parse; its strategy is banned
	BannedStrategy Outcome = "banned strategy" // a strategy that failed before; the verifier was not asked
	BadDraft       Outcome = "bad draft"       // the generator's answer did not parse; the verifier was not asked
)

// Round is one draft and what became of it.
type Round struct {
	Strategy string
	Draft    string
	Critique Critique // zero unless the verifier's answer parsed
	Outcome  Outcome
	Err      error // for BadDraft and BadCritique: why it did not parse
}

// Result is the outcome of [Refine].
type Result struct {
	Accepted   bool
	Answer     string  // the approved draft; "" unless Accepted
	Strategy   string  // its strategy
	Confidence float64 // the verifier's confidence in it
	Rounds     []Round
	Banned     []string // strategies that failed, in the order they failed
}

// Refine asks generator for an answer to task and verifier to attack it,
// round after round, until the verifier approves a draft (its critique
// says ok with confidence at least MinConfidence) or the rounds run out.
//
// Each round the generator is told the task, the strategies banned so far
// and the last critique's issues and suggested strategy, and must answer
// in the format of [ParseDraft]. A draft whose strategy is banned is
// rejected without asking the verifier; otherwise the verifier is given
// the task and the draft and must answer in the format of [Critique]. A
// draft that is not approved — rejected, not confident enough, or met
// with a critique that does not parse — bans its strategy. Every round,
// including those rejected unasked, counts against Rounds.
//
// It returns the Result and nil when a draft was approved; the Result and
// [ErrUnverified] when none was; one wrapping [agentos.ErrInvalid] for a
// nil model, an empty task, a task over MaxAnswerBytes or invalid options;
// and the Result so far with the error (wrapped) when a model fails, a
// model's answer is over MaxAnswerBytes ([ErrTooLarge]) or ctx is done.
func Refine(ctx context.Context, generator, verifier agentos.Model, task string, opts RefineOptions) (Result, error) {
	if opts.Rounds == 0 {
		opts.Rounds = DefaultRounds
	}
	if opts.MinConfidence == 0 {
		opts.MinConfidence = DefaultMinConfidence
	}
	if opts.MaxAnswerBytes == 0 {
		opts.MaxAnswerBytes = DefaultMaxAnswerBytes
	}
	var errs []error
	if generator == nil || verifier == nil {
		errs = append(errs, fmt.Errorf("cmvk: refine needs a generator and a verifier: %w", agentos.ErrInvalid))
	}
	if strings.TrimSpace(task) == "" || len(task) > opts.MaxAnswerBytes {
		errs = append(errs, fmt.Errorf("cmvk: refine: task of %d bytes (1 to %d): %w", len(task), opts.MaxAnswerBytes, agentos.ErrInvalid))
	}
	if opts.Rounds < 1 || opts.Rounds > MaxRounds {
		errs = append(errs, fmt.Errorf("cmvk: refine: %d rounds (1 to %d): %w", opts.Rounds, MaxRounds, agentos.ErrInvalid))
	}
	if !(opts.MinConfidence > 0 && opts.MinConfidence <= 1) {
		errs = append(errs, fmt.Errorf("cmvk: refine: min confidence %v outside (0, 1]: %w", opts.MinConfidence, agentos.ErrInvalid))
	}
	if opts.MaxAnswerBytes < 1 {
		errs = append(errs, fmt.Errorf("cmvk: refine: max answer bytes %d: %w", opts.MaxAnswerBytes, agentos.ErrInvalid))
	}
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}

	var res Result
	banned := make(map[string]bool)
	var last *Critique
	for range opts.Rounds {
		text, err := generate(ctx, generator, generatorPrompt(task, res.Banned, last), opts.MaxAnswerBytes)
		if err != nil {
			return res, fmt.Errorf("cmvk: refine: generator: %w", err)
		}
		strategy, draft, err := ParseDraft(text)
		if err != nil {
			res.Rounds = append(res.Rounds, Round{Draft: text, Outcome: BadDraft, Err: err})
			continue
		}
		r := Round{Strategy: strategy, Draft: draft}
		if banned[strategy] {
			r.Outcome = BannedStrategy
			res.Rounds = append(res.Rounds, r)
			continue
		}
		answer, err := generate(ctx, verifier, verifierPrompt(task, strategy, draft), opts.MaxAnswerBytes)
		if err != nil {
			return res, fmt.Errorf("cmvk: refine: verifier: %w", err)
		}
		c, err := ParseCritique(answer)
		switch {
		case err != nil:
			r.Outcome, r.Err = BadCritique, err
		case !c.OK:
			r.Outcome, r.Critique = Rejected, c
		case c.Confidence < opts.MinConfidence:
			r.Outcome, r.Critique = Unconvinced, c
		default:
			r.Outcome, r.Critique = Approved, c
			res.Rounds = append(res.Rounds, r)
			res.Accepted, res.Answer, res.Strategy, res.Confidence = true, draft, strategy, c.Confidence
			return res, nil
		}
		if err == nil {
			last = &r.Critique
		}
		banned[strategy] = true
		res.Banned = append(res.Banned, strategy)
		res.Rounds = append(res.Rounds, r)
	}
	return res, ErrUnverified
}

func generate(ctx context.Context, m agentos.Model, p agentos.Prompt, limit int) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c, err := m.Generate(ctx, p)
	if err != nil {
		return "", err
	}
	if len(c.Text) > limit {
		return "", fmt.Errorf("answer of %d bytes: %w (at most %d)", len(c.Text), ErrTooLarge, limit)
	}
	return c.Text, nil
}

const generatorSystem = `You solve the task you are given. Begin your answer with one line
"STRATEGY: <name>" that names your approach in a few words, then give the answer.
Never use a banned strategy: a draft that does is discarded unread.`

const verifierSystem = `You are a hostile verifier. Assume the answer is wrong until you have
checked every claim in it. Reply with one JSON object and nothing else:
{"ok": <true only if the answer is correct and complete>, "confidence": <0 to 1>,
"issues": [<each flaw you found>], "strategy": "<a better approach, if any>"}`

func generatorPrompt(task string, banned []string, last *Critique) agentos.Prompt {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Task:\n%s\n", task)
	if len(banned) > 0 {
		fmt.Fprintf(&b, "\nBanned strategies (they failed): %s\n", strings.Join(banned, "; "))
	}
	if last != nil {
		if len(last.Issues) > 0 {
			b.WriteString("\nThe verifier's issues with the last draft:\n")
			for _, is := range last.Issues {
				fmt.Fprintf(&b, "- %s\n", is)
			}
		}
		if last.Strategy != "" {
			fmt.Fprintf(&b, "\nThe verifier suggests: %s\n", last.Strategy)
		}
	}
	return agentos.Prompt{Messages: []agentos.Message{
		{Role: agentos.RoleSystem, Content: generatorSystem},
		{Role: agentos.RoleUser, Content: b.String()},
	}}
}

func verifierPrompt(task, strategy, draft string) agentos.Prompt {
	return agentos.Prompt{Messages: []agentos.Message{
		{Role: agentos.RoleSystem, Content: verifierSystem},
		{Role: agentos.RoleUser, Content: fmt.Sprintf("Task:\n%s\n\nStrategy: %s\n\nAnswer:\n%s\n", task, strategy, draft)},
	}}
}
