package scripted

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/tokens"
)

// ErrExhausted is wrapped by the error a sequence rule returns once every
// text of the sequence has been answered (unless the rule repeats its last
// text, see [Rule.RepeatLast]): a conversation that runs longer than its
// script is a failure to see, not a silent repeat.
var ErrExhausted = errors.New("scripted: sequence exhausted")

// DefaultName is the Model name of completions when [Name] is not given.
const DefaultName = "scripted"

// DefaultKeepCalls is how many prompts [Model.Calls] keeps unless
// [KeepCalls] says otherwise.
const DefaultKeepCalls = 1024

// Matcher decides whether a rule answers a prompt. Build one with
// [Contains], [Regexp], [Equals], [Func] or [Any].
type Matcher struct {
	desc string
	fn   func(agentos.Prompt) bool
	err  error
}

// LastUser returns the content of the last user message of p, or "" when
// it has none.
func LastUser(p agentos.Prompt) string {
	for i := len(p.Messages) - 1; i >= 0; i-- {
		if p.Messages[i].Role == agentos.RoleUser {
			return p.Messages[i].Content
		}
	}
	return ""
}

// Contains matches a prompt whose last user message contains sub.
func Contains(sub string) Matcher {
	return Matcher{desc: fmt.Sprintf("contains %q", sub), fn: func(p agentos.Prompt) bool {
		return strings.Contains(LastUser(p), sub)
	}}
}

// Equals matches a prompt whose last user message is exactly s.
func Equals(s string) Matcher {
	return Matcher{desc: fmt.Sprintf("equals %q", s), fn: func(p agentos.Prompt) bool {
		return LastUser(p) == s
	}}
}

// Regexp matches a prompt whose last user message matches the regular
// expression pattern (Go syntax). A pattern that does not compile makes
// [New] fail.
func Regexp(pattern string) Matcher {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return Matcher{desc: "regexp " + pattern, err: err}
	}
	return Matcher{desc: "regexp " + pattern, fn: func(p agentos.Prompt) bool {
		return re.MatchString(LastUser(p))
	}}
}

// Func matches a prompt for which f returns true; desc names it in errors.
// f is called from the goroutine that calls Generate, possibly from many at
// once.
func Func(desc string, f func(agentos.Prompt) bool) Matcher {
	if f == nil {
		return Matcher{desc: desc, err: errors.New("nil predicate")}
	}
	return Matcher{desc: desc, fn: f}
}

// Any matches every prompt.
func Any() Matcher {
	return Matcher{desc: "any", fn: func(agentos.Prompt) bool { return true }}
}

type answerKind int

const (
	answerNone answerKind = iota
	answerText
	answerTemplate
	answerSequence
	answerError
)

// Rule is a matcher and its answer. Build one with [When] or [Otherwise]
// and one of Reply, ReplyTemplate, ReplySequence or Fail; a Rule is a value
// and each method returns a changed copy.
type Rule struct {
	match      Matcher
	kind       answerKind
	text       string
	tmplSrc    string
	seq        []string
	repeatLast bool
	fail       error
	latency    time.Duration
}

// When starts a rule that answers the prompts m matches.
func When(m Matcher) Rule { return Rule{match: m} }

// Otherwise starts a rule that answers every prompt: put it last, as the
// default answer.
func Otherwise() Rule { return When(Any()) }

// Reply answers with text.
func (r Rule) Reply(text string) Rule {
	r.kind, r.text = answerText, text
	return r
}

// ReplyTemplate answers with a text/template executed on a [TemplateData]
// of the prompt, for example "you said: {{.LastUser}}". A template that does
// not parse makes [New] fail; one that fails to execute makes that
// Generate call fail.
func (r Rule) ReplyTemplate(tmpl string) Rule {
	r.kind, r.tmplSrc = answerTemplate, tmpl
	return r
}

// ReplySequence answers the n-th call that reaches this rule with texts[n].
// After the last text every call fails with an error wrapping
// [ErrExhausted], unless [Rule.RepeatLast] is set.
func (r Rule) ReplySequence(texts ...string) Rule {
	r.kind, r.seq = answerSequence, append([]string(nil), texts...)
	return r
}

// RepeatLast makes an exhausted sequence answer its last text again instead
// of failing.
func (r Rule) RepeatLast() Rule {
	r.repeatLast = true
	return r
}

// Fail answers with err, to script a failing model (a rate limit, a
// timeout). The returned error wraps err, so errors.Is finds it.
func (r Rule) Fail(err error) Rule {
	r.kind, r.fail = answerError, err
	return r
}

// After makes the rule take d before it answers, through the model's sleep
// function (see [Sleep]); a context cancelled meanwhile ends the call.
func (r Rule) After(d time.Duration) Rule {
	r.latency = d
	return r
}

func (r Rule) apply(c *config) error {
	c.rules = append(c.rules, r)
	return nil
}

// TemplateData is what a [Rule.ReplyTemplate] template sees.
type TemplateData struct {
	Prompt   agentos.Prompt
	Messages []agentos.Message
	LastUser string // the content of the last user message
	System   string // the system messages' contents, joined by newlines
	Call     int    // 1 for the first call this rule answers
}

// Option configures a [Model]. A [Rule] is an Option; so are [Name],
// [Sleep] and [KeepCalls].
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// Name sets the model name that completions report and whose encoding
// counts their usage (see tokens.EncodingFor); the default is
// [DefaultName], counted in o200k_base.
func Name(name string) Option {
	return optionFunc(func(c *config) error {
		if name == "" {
			return errors.New("empty name")
		}
		c.name = name
		return nil
	})
}

// Sleep replaces how the model waits out a rule's latency; the default
// waits on a timer and returns ctx.Err() if ctx ends first. Tests pass a
// function that advances a fake clock and returns at once. It is called from
// the goroutine that calls Generate.
func Sleep(f func(ctx context.Context, d time.Duration) error) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return errors.New("nil sleep function")
		}
		c.sleep = f
		return nil
	})
}

// KeepCalls bounds how many prompts [Model.Calls] keeps (the latest n);
// the default is [DefaultKeepCalls]. n must be positive.
func KeepCalls(n int) Option {
	return optionFunc(func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("KeepCalls(%d): must be positive", n)
		}
		c.keep = n
		return nil
	})
}

type config struct {
	name  string
	sleep func(context.Context, time.Duration) error
	keep  int
	rules []Rule
}

type rule struct {
	Rule
	tmpl  *template.Template
	calls int // answered so far; guarded by Model.mu
}

// Model is an agentos.Model that answers by rule. It is safe for concurrent
// use.
type Model struct {
	name    string
	sleep   func(context.Context, time.Duration) error
	keep    int
	counter *tokens.Counter
	rules   []*rule

	mu    sync.Mutex
	calls []agentos.Prompt // the latest keep prompts
	total int
}

var _ agentos.Model = (*Model)(nil)

// New returns a model that answers by the rules among opts, tried in order.
// It fails, wrapping [agentos.ErrInvalid], when a rule has no answer, a
// regular expression or template does not parse, a predicate is nil, a
// sequence is empty, or an option is invalid.
func New(opts ...Option) (*Model, error) {
	c := config{name: DefaultName, sleep: sleepCtx, keep: DefaultKeepCalls}
	for _, o := range opts {
		if err := o.apply(&c); err != nil {
			return nil, fmt.Errorf("scripted: %w: %w", agentos.ErrInvalid, err)
		}
	}
	counter, err := tokens.For(c.name)
	if err != nil {
		return nil, fmt.Errorf("scripted: %w", err)
	}
	m := &Model{name: c.name, sleep: c.sleep, keep: c.keep, counter: counter}
	for i, r := range c.rules {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("scripted: rule %d (%s): %w: %s", i, r.match.desc, agentos.ErrInvalid, fmt.Sprintf(format, args...))
		}
		if r.match.err != nil {
			return nil, bad("%v", r.match.err)
		}
		if r.match.fn == nil {
			return nil, bad("no matcher")
		}
		if r.latency < 0 {
			return nil, bad("negative latency %v", r.latency)
		}
		cr := &rule{Rule: r}
		switch r.kind {
		case answerNone:
			return nil, bad("no answer: call Reply, ReplyTemplate, ReplySequence or Fail")
		case answerTemplate:
			t, err := template.New(fmt.Sprintf("rule%d", i)).Option("missingkey=error").Parse(r.tmplSrc)
			if err != nil {
				return nil, bad("%v", err)
			}
			cr.tmpl = t
		case answerSequence:
			if len(r.seq) == 0 {
				return nil, bad("empty sequence")
			}
		case answerError:
			if r.fail == nil {
				return nil, bad("Fail(nil)")
			}
		}
		m.rules = append(m.rules, cr)
	}
	return m, nil
}

// MustNew is [New] that panics on error, for tests and examples.
func MustNew(opts ...Option) *Model {
	m, err := New(opts...)
	if err != nil {
		panic(err)
	}
	return m
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Generate answers p by the first rule that matches it. It returns an error
// wrapping [agentos.ErrNotFound] when no rule matches, ctx's error when ctx
// is done before or during the answer, the rule's error for a [Rule.Fail]
// rule, and one wrapping [ErrExhausted] for an exhausted sequence.
//
// The answer is cut at the first of p.Stop (FinishReason "stop") and to
// p.MaxTokens tokens (FinishReason "length"); Usage counts the prompt with
// tokens.CountMessages and the answer with tokens.Count.
func (m *Model) Generate(ctx context.Context, p agentos.Prompt) (agentos.Completion, error) {
	m.record(p)
	if err := ctx.Err(); err != nil {
		return agentos.Completion{}, err
	}
	if p.MaxTokens < 0 {
		return agentos.Completion{}, fmt.Errorf("scripted: MaxTokens %d: %w", p.MaxTokens, agentos.ErrInvalid)
	}
	var r *rule
	for _, cand := range m.rules {
		if cand.match.fn(p) {
			r = cand
			break
		}
	}
	if r == nil {
		return agentos.Completion{}, fmt.Errorf("scripted: no rule matches the prompt (last user message %q): %w", LastUser(p), agentos.ErrNotFound)
	}
	if r.latency > 0 {
		if err := m.sleep(ctx, r.latency); err != nil {
			return agentos.Completion{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return agentos.Completion{}, err
	}
	// The call takes its place in the rule's sequence only now, so a call
	// cancelled during its latency consumes no answer.
	m.mu.Lock()
	r.calls++
	call := r.calls
	m.mu.Unlock()

	var text string
	switch r.kind {
	case answerText:
		text = r.text
	case answerTemplate:
		var b strings.Builder
		if err := r.tmpl.Execute(&b, templateData(p, call)); err != nil {
			return agentos.Completion{}, fmt.Errorf("scripted: rule (%s): template: %w", r.match.desc, err)
		}
		text = b.String()
	case answerSequence:
		switch {
		case call <= len(r.seq):
			text = r.seq[call-1]
		case r.repeatLast:
			text = r.seq[len(r.seq)-1]
		default:
			return agentos.Completion{}, fmt.Errorf("scripted: rule (%s): call %d of a sequence of %d: %w", r.match.desc, call, len(r.seq), ErrExhausted)
		}
	case answerError:
		return agentos.Completion{}, fmt.Errorf("scripted: rule (%s): %w", r.match.desc, r.fail)
	}

	finish := "stop"
	for _, s := range p.Stop {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 {
			text = text[:i]
		}
	}
	if p.MaxTokens > 0 {
		cut, err := m.counter.Truncate(text, p.MaxTokens)
		if err != nil {
			return agentos.Completion{}, fmt.Errorf("scripted: %w", err)
		}
		if cut != text {
			text, finish = cut, "length"
		}
	}
	promptTokens, err := m.counter.CountMessages(p.Messages)
	if err != nil {
		return agentos.Completion{}, fmt.Errorf("scripted: %w", err)
	}
	completionTokens, err := m.counter.Count(text)
	if err != nil {
		return agentos.Completion{}, fmt.Errorf("scripted: %w", err)
	}
	return agentos.Completion{
		Text:         text,
		Model:        m.name,
		FinishReason: finish,
		Usage:        agentos.Usage{PromptTokens: promptTokens, CompletionTokens: completionTokens},
	}, nil
}

func templateData(p agentos.Prompt, call int) TemplateData {
	var sys []string
	for _, msg := range p.Messages {
		if msg.Role == agentos.RoleSystem {
			sys = append(sys, msg.Content)
		}
	}
	return TemplateData{
		Prompt:   p,
		Messages: p.Messages,
		LastUser: LastUser(p),
		System:   strings.Join(sys, "\n"),
		Call:     call,
	}
}

func clonePrompt(p agentos.Prompt) agentos.Prompt {
	p.Messages = append([]agentos.Message(nil), p.Messages...)
	p.Stop = append([]string(nil), p.Stop...)
	return p
}

func (m *Model) record(p agentos.Prompt) {
	p = clonePrompt(p)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.total++
	if len(m.calls) == m.keep {
		copy(m.calls, m.calls[1:])
		m.calls = m.calls[:m.keep-1]
	}
	m.calls = append(m.calls, p)
}

// Calls returns copies of the latest prompts Generate received (at most
// [KeepCalls]), oldest first, including those that failed.
func (m *Model) Calls() []agentos.Prompt {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]agentos.Prompt, len(m.calls))
	for i, p := range m.calls {
		out[i] = clonePrompt(p)
	}
	return out
}

// CallCount returns how many times Generate was called, including calls no
// longer kept by [Model.Calls].
func (m *Model) CallCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

// Name returns the model name that completions report.
func (m *Model) Name() string { return m.name }
