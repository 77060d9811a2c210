package cmvk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/agent-os/agentos"
)

// Errors of [Ask].
var (
	// ErrNoAnswer: every model failed; the Answers returned with it say why.
	ErrNoAnswer = errors.New("cmvk: no model answered")
	// ErrQuorum is the error of an answer that was not awaited because a
	// quorum of other answers already agreed (see [WithQuorum]). A model
	// that answers after that is ignored: its completion is dropped.
	ErrQuorum = errors.New("cmvk: not needed: a quorum agreed")
	// ErrTimeout is wrapped by the error of an answer that took longer than
	// the per-model timeout ([WithTimeout]); it also wraps
	// context.DeadlineExceeded.
	ErrTimeout = errors.New("cmvk: model timed out")
	// ErrModelPanicked is wrapped by the error of a model whose Generate
	// panicked; the panic is contained to that answer.
	ErrModelPanicked = errors.New("cmvk: model panicked")
)

// Defaults and bounds of [Ask].
const (
	MaxModels             = 64              // models per call
	DefaultLimit          = 8               // models asked at once
	DefaultTimeout        = 2 * time.Minute // per model
	DefaultMaxAnswerBytes = MaxSequence     // bytes of Completion.Text; longer is ErrTooLarge
)

// Named is a model and the name its answers are reported under.
type Named struct {
	Name  string
	Model agentos.Model
}

// Answer is one model's answer to [Ask]. Exactly one of Completion and Err
// is meaningful: when Err is non-nil the Completion is the zero value.
// Latency is the time from the call to Generate to its return, by the
// clock of [WithClock]; it is zero for a model that was never called.
type Answer struct {
	Name       string
	Completion agentos.Completion
	Err        error
	Latency    time.Duration
}

// Answers are the answers of one [Ask], in the order of its models.
type Answers []Answer

// OK returns the answers without an error, in order.
func (as Answers) OK() Answers {
	var out Answers
	for _, a := range as {
		if a.Err == nil {
			out = append(out, a)
		}
	}
	return out
}

// Get returns the answer of the model called name.
func (as Answers) Get(name string) (Answer, bool) {
	for _, a := range as {
		if a.Name == name {
			return a, true
		}
	}
	return Answer{}, false
}

type askConfig struct {
	limit     int
	timeout   time.Duration
	quorum    int
	profile   Profile
	embed     agentos.Embedder
	maxAnswer int
	now       func() time.Time
}

// AskOption configures [Ask]. An invalid option makes Ask fail with an
// error wrapping [agentos.ErrInvalid] before any model is called.
type AskOption func(*askConfig) error

// WithLimit bounds how many models are asked at once (default
// [DefaultLimit]); n must be at least 1.
func WithLimit(n int) AskOption {
	return func(c *askConfig) error {
		if n < 1 {
			return fmt.Errorf("cmvk: limit %d: %w", n, agentos.ErrInvalid)
		}
		c.limit = n
		return nil
	}
}

// WithTimeout bounds each model's answer (default [DefaultTimeout]); d must
// be positive. A model over it gets an error wrapping [ErrTimeout].
func WithTimeout(d time.Duration) AskOption {
	return func(c *askConfig) error {
		if d <= 0 {
			return fmt.Errorf("cmvk: timeout %v: %w", d, agentos.ErrInvalid)
		}
		c.timeout = d
		return nil
	}
}

// WithQuorum stops waiting once q answers agree: as soon as some answer has
// q−1 others within p's threshold of it (by p's metric), the models still
// running are cancelled and those not yet started are not called; their
// answers carry [ErrQuorum]. q must be at least 2 and at most the number of
// models, and p must be valid; an embedding metric needs [WithEmbedder].
func WithQuorum(q int, p Profile) AskOption {
	return func(c *askConfig) error {
		if q < 2 {
			return fmt.Errorf("cmvk: quorum %d (at least 2): %w", q, agentos.ErrInvalid)
		}
		if err := p.Validate(); err != nil {
			return err
		}
		c.quorum, c.profile = q, p
		return nil
	}
}

// WithEmbedder gives the embedder that a quorum with an embedding metric
// compares answers with.
func WithEmbedder(e agentos.Embedder) AskOption {
	return func(c *askConfig) error {
		c.embed = e
		return nil
	}
}

// WithMaxAnswerBytes bounds the text of each answer (default
// [DefaultMaxAnswerBytes]); a longer one is an error wrapping
// [ErrTooLarge] for that model. n must be positive.
func WithMaxAnswerBytes(n int) AskOption {
	return func(c *askConfig) error {
		if n < 1 {
			return fmt.Errorf("cmvk: max answer bytes %d: %w", n, agentos.ErrInvalid)
		}
		c.maxAnswer = n
		return nil
	}
}

// WithClock sets the clock that latencies are measured by (default
// time.Now). It is called from the goroutines that call the models.
func WithClock(now func() time.Time) AskOption {
	return func(c *askConfig) error {
		if now == nil {
			return fmt.Errorf("cmvk: nil clock: %w", agentos.ErrInvalid)
		}
		c.now = now
		return nil
	}
}

// Ask sends prompt to every model concurrently, at most [WithLimit] at a
// time, each under its own timeout, and returns their answers in the order
// of models, each with its error and latency: some models failing is a
// partial result, not an error. Every goroutine it starts has returned
// when Ask returns. The prompt is shared by the models, which must not
// modify it (agentos.Model implementations must be safe for concurrent use
// and honour ctx: a model that ignores cancellation holds Ask up).
//
// Errors: one wrapping [agentos.ErrInvalid] for no models, more than
// [MaxModels], an empty or repeated name, a nil model, an invalid option,
// a quorum larger than the number of models or needing an embedder it was
// not given (no model is called); ctx's error when ctx is done once the
// goroutines are joined (the answers so far are returned with it); [ErrNoAnswer]
// when every model failed (with the answers). An embedder error while
// checking the quorum counts against that answer's agreement, not as an
// error of Ask.
func Ask(ctx context.Context, prompt agentos.Prompt, models []Named, opts ...AskOption) (Answers, error) {
	cfg := askConfig{limit: DefaultLimit, timeout: DefaultTimeout, maxAnswer: DefaultMaxAnswerBytes, now: time.Now}
	var errs []error
	for _, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("cmvk: nil option: %w", agentos.ErrInvalid))
			continue
		}
		errs = append(errs, o(&cfg))
	}
	errs = append(errs, checkModels(models))
	var cmp comparer
	if cfg.quorum > 0 {
		if cfg.quorum > len(models) {
			errs = append(errs, fmt.Errorf("cmvk: quorum %d of %d models: %w", cfg.quorum, len(models), agentos.ErrInvalid))
		}
		var err error
		cmp, err = newComparer(cfg.profile, cfg.embed)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	qctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	q := &quorum{need: cfg.quorum, cmp: cmp, threshold: cfg.profile.Threshold, cancel: cancel}
	answers := make(Answers, len(models))
	g := new(errgroup.Group)
	g.SetLimit(cfg.limit)
	for i, m := range models {
		answers[i].Name = m.Name
		g.Go(func() error {
			a := askOne(qctx, prompt, m, &cfg)
			answers[i] = q.admit(qctx, a)
			return nil
		})
	}
	_ = g.Wait() // the goroutines return nil; their errors are in answers

	if err := ctx.Err(); err != nil {
		return answers, fmt.Errorf("cmvk: ask: %w", err)
	}
	if len(answers.OK()) == 0 {
		return answers, ErrNoAnswer
	}
	return answers, nil
}

func checkModels(models []Named) error {
	if len(models) == 0 {
		return fmt.Errorf("cmvk: no models: %w", agentos.ErrInvalid)
	}
	if len(models) > MaxModels {
		return fmt.Errorf("cmvk: %d models (at most %d): %w", len(models), MaxModels, agentos.ErrInvalid)
	}
	seen := make(map[string]bool, len(models))
	var errs []error
	for i, m := range models {
		switch {
		case m.Name == "":
			errs = append(errs, fmt.Errorf("cmvk: model %d has no name: %w", i, agentos.ErrInvalid))
		case seen[m.Name]:
			errs = append(errs, fmt.Errorf("cmvk: model name %q repeated: %w", m.Name, agentos.ErrInvalid))
		}
		seen[m.Name] = true
		if m.Model == nil {
			errs = append(errs, fmt.Errorf("cmvk: model %q is nil: %w", m.Name, agentos.ErrInvalid))
		}
	}
	return errors.Join(errs...)
}

// askOne asks one model, containing its panics and bounding its time and
// answer size.
func askOne(ctx context.Context, prompt agentos.Prompt, m Named, cfg *askConfig) (a Answer) {
	a.Name = m.Name
	if err := ctx.Err(); err != nil {
		a.Err = causeOf(ctx)
		return a
	}
	mctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	start := cfg.now()
	defer func() {
		a.Latency = cfg.now().Sub(start)
		if r := recover(); r != nil {
			a.Completion, a.Err = agentos.Completion{}, fmt.Errorf("%w: %q: %v", ErrModelPanicked, m.Name, r)
		}
	}()
	c, err := m.Model.Generate(mctx, prompt)
	switch {
	case ctx.Err() != nil:
		// Cancelled from outside this model (a quorum, the caller): what it
		// answered, if anything, is ignored.
		a.Err = causeOf(ctx)
	case mctx.Err() != nil:
		a.Err = fmt.Errorf("cmvk: model %q: %w after %v: %w", m.Name, ErrTimeout, cfg.timeout, context.DeadlineExceeded)
	case err != nil:
		a.Err = fmt.Errorf("cmvk: model %q: %w", m.Name, err)
	case len(c.Text) > cfg.maxAnswer:
		a.Err = fmt.Errorf("cmvk: model %q: answer of %d bytes: %w (at most %d)", m.Name, len(c.Text), ErrTooLarge, cfg.maxAnswer)
	default:
		a.Completion = c
	}
	return a
}

// causeOf is the reason ctx ended: ErrQuorum when a quorum cancelled it,
// else the parent context's error.
func causeOf(ctx context.Context) error {
	if c := context.Cause(ctx); errors.Is(c, ErrQuorum) {
		return ErrQuorum
	}
	return ctx.Err()
}

// quorum watches answers as they arrive and cancels the rest once enough
// agree. Its fields after mu are guarded by mu.
type quorum struct {
	need      int // 0: no quorum
	cmp       comparer
	threshold float64
	cancel    context.CancelCauseFunc

	mu      sync.Mutex
	reached bool
	items   []item
	agree   []int // agree[k]: how many other items are within the threshold of items[k]
}

// admit records a, returning it, or an answer with ErrQuorum when a quorum
// was reached before a arrived.
func (q *quorum) admit(ctx context.Context, a Answer) Answer {
	if q.need == 0 || a.Err != nil {
		return a
	}
	it, err := q.cmp.prepare(ctx, a.Completion.Text)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.reached {
		return Answer{Name: a.Name, Err: ErrQuorum, Latency: a.Latency}
	}
	if err != nil {
		return a // cannot be compared, so it agrees with nothing; still an answer
	}
	k := len(q.items)
	q.items = append(q.items, it)
	q.agree = append(q.agree, 0)
	for j := range k {
		s, err := q.cmp.compare(q.items[j], it)
		if err != nil || s.Drift > q.threshold {
			continue
		}
		q.agree[j]++
		q.agree[k]++
	}
	for _, n := range q.agree {
		if n+1 >= q.need {
			q.reached = true
			q.cancel(ErrQuorum)
			break
		}
	}
	return a
}
