package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/agent-os/agentos"
)

// Defaults of the evaluation bounds.
const (
	DefaultCostLimit      = 1_000_000  // runtime cost units per rule evaluation
	DefaultCostBudget     = 10_000_000 // estimated cost units per rule, checked at load
	DefaultEvalTimeout    = 100 * time.Millisecond
	DefaultInterruptEvery = 100 // comprehension iterations between deadline checks
)

type config struct {
	clock          func() time.Time
	shadow         *Engine
	costLimit      uint64
	costBudget     uint64
	evalTimeout    time.Duration
	interruptEvery uint
	hints          SizeHints
	maxBuckets     int
	unindexed      bool // evaluate every rule's full program (tests and benchmarks)
	nodirect       bool // no direct evaluation: the index hands rules to CEL (tests and benchmarks)
	resolver       Resolver
	resolveTimeout time.Duration
}

// Option configures an Engine. Options that receive invalid values make
// NewEngine fail with an error wrapping agentos.ErrInvalid.
type Option func(*config) error

// WithClock sets the clock used for rate limits and for the CEL variable
// now when Input.Now is zero. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("%w: policy: nil clock", agentos.ErrInvalid)
		}
		c.clock = now
		return nil
	}
}

// WithShadow evaluates the shadow engine beside this one on every decision
// and reports its verdict in Decision.Shadow. The shadow is never
// enforced: its denials, errors and rate limits do not change the active
// decision. Its own shadow, if it has one, is not consulted.
func WithShadow(shadow *Engine) Option {
	return func(c *config) error {
		if shadow == nil {
			return fmt.Errorf("%w: policy: nil shadow engine", agentos.ErrInvalid)
		}
		c.shadow = shadow
		return nil
	}
}

// WithCostLimit sets the runtime cost limit of one rule evaluation
// (DefaultCostLimit). A rule that exceeds it fails with an evaluation
// error: a deny rule then matches, any other rule does not.
func WithCostLimit(limit uint64) Option {
	return func(c *config) error {
		if limit == 0 {
			return fmt.Errorf("%w: policy: cost limit must be positive", agentos.ErrInvalid)
		}
		c.costLimit = limit
		return nil
	}
}

// WithCostBudget sets the largest estimated cost a rule may have
// (DefaultCostBudget); a rule over it is refused at load with an error
// wrapping ErrBudget. The estimate assumes the sizes of WithSizeHints.
func WithCostBudget(budget uint64) Option {
	return func(c *config) error {
		if budget == 0 {
			return fmt.Errorf("%w: policy: cost budget must be positive", agentos.ErrInvalid)
		}
		c.costBudget = budget
		return nil
	}
}

// WithEvalTimeout bounds the time one decision may spend in rules that
// loop (DefaultEvalTimeout). Rules without comprehensions are bounded by
// the cost limit and never need a timer. The caller's context deadline
// applies as well.
func WithEvalTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: policy: eval timeout must be positive", agentos.ErrInvalid)
		}
		c.evalTimeout = d
		return nil
	}
}

// WithSizeHints sets the input sizes the load-time cost estimate assumes.
func WithSizeHints(h SizeHints) Option {
	return func(c *config) error {
		if h.MaxString == 0 || h.MaxEntries == 0 {
			return fmt.Errorf("%w: policy: size hints must be positive", agentos.ErrInvalid)
		}
		c.hints = h
		return nil
	}
}

// WithMaxRateBuckets bounds the number of (rule, agent) rate-limit buckets
// kept (DefaultMaxRateBuckets). Idle buckets are evicted; when all are in
// use, actions of agents without a bucket are denied.
func WithMaxRateBuckets(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: policy: max rate buckets must be positive", agentos.ErrInvalid)
		}
		c.maxBuckets = n
		return nil
	}
}

// Engine decides actions against a set of compiled documents. It is safe
// for concurrent use: Decide, Explain, Reload, Version and Documents may be
// called from any number of goroutines. A Reload swaps the rule set
// atomically; a decision in flight finishes on the set it started with.
type Engine struct {
	cfg     config
	cur     atomic.Pointer[ruleSet]
	limiter *limiter
	reload  sync.Mutex // serializes Reload
}

// NewEngine is [NewEngineContext] with context.Background().
func NewEngine(docs []*Document, opts ...Option) (*Engine, error) {
	return NewEngineContext(context.Background(), docs, opts...)
}

// NewEngineContext compiles and type-checks every rule of docs once. With
// no document at all, the engine denies everything. ctx bounds the
// resolution of the hostnames of egress rules (as does
// [WithResolveTimeout]) and reaches the [Resolver]. Load errors are
// [*Error] values (joined when there are several) wrapping
// [agentos.ErrInvalid]; a rule whose estimated cost is over budget also
// wraps [ErrBudget]; a hostname not resolved because ctx ended is an
// *Error wrapping ctx's error.
func NewEngineContext(ctx context.Context, docs []*Document, opts ...Option) (*Engine, error) {
	cfg := config{
		clock:          time.Now,
		costLimit:      DefaultCostLimit,
		costBudget:     DefaultCostBudget,
		evalTimeout:    DefaultEvalTimeout,
		interruptEvery: DefaultInterruptEvery,
		hints:          SizeHints{MaxString: 4096, MaxEntries: 64},
		maxBuckets:     DefaultMaxRateBuckets,
		resolveTimeout: DefaultResolveTimeout,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	rs, err := compile(ctx, docs, &cfg)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, limiter: newLimiter(cfg.maxBuckets)}
	e.cur.Store(rs)
	return e, nil
}

// Reload is [Engine.ReloadContext] with context.Background().
func (e *Engine) Reload(docs []*Document) error {
	return e.ReloadContext(context.Background(), docs)
}

// ReloadContext compiles docs completely and, only if every document
// compiles, makes them the active set. On error the previous set stays
// active. ctx bounds the resolution of egress hostnames, as for
// [NewEngineContext]. Rate-limit state carries over for rules whose policy
// name, rule name and limit are unchanged.
func (e *Engine) ReloadContext(ctx context.Context, docs []*Document) error {
	if e == nil {
		return fmt.Errorf("%w: policy: nil engine", agentos.ErrInvalid)
	}
	e.reload.Lock()
	defer e.reload.Unlock()
	rs, err := compile(ctx, docs, &e.cfg)
	if err != nil {
		return err
	}
	e.cur.Store(rs)
	return nil
}

// Version names the active set of documents: each name@version in order,
// then a hash of their sources ("finance@7,base@1+3f2a9c1be0aa"); "none"
// with no document. It changes whenever the loaded documents change.
func (e *Engine) Version() string {
	if e == nil {
		return ""
	}
	return e.cur.Load().version
}

// Documents returns the active documents, in load order. The documents
// are shared and must not be modified.
func (e *Engine) Documents() []*Document {
	if e == nil {
		return nil
	}
	docs := e.cur.Load().docs
	out := make([]*Document, len(docs))
	copy(out, docs)
	return out
}

var statePool = sync.Pool{New: func() any { return new(evalState) }}

// Decide decides one action. A denial is a Decision, not an error. An
// error (wrapping ErrUndecided, and the context's error when the context
// ended) means the engine could not decide; the Decision returned with it
// is then always Deny. Decide is safe for concurrent use.
//
// Combination is deny-overrides and independent of rule order: any
// matching deny rule wins; else any matching approve rule gives Approve;
// else any matching allow or audit rule permits (Audit when an audit rule
// matched), unless a matching rate-limited rule has no token left (Deny,
// Refuse); else the most restrictive default of the documents applies. A
// rule whose evaluation fails counts as matching when it is a deny rule,
// and as not matching otherwise; the error is listed in Decision.Errors.
func (e *Engine) Decide(ctx context.Context, in Input) (agentos.Decision, error) {
	if e == nil {
		return agentos.Decision{Message: "no policy engine"}, fmt.Errorf("%w: nil engine", ErrUndecided)
	}
	d, err := e.decide(ctx, e.cur.Load(), &in, nil)
	if e.cfg.shadow != nil {
		sd, serr := e.cfg.shadow.decide(ctx, e.cfg.shadow.cur.Load(), &in, nil)
		if serr != nil {
			sd.Errors = append(sd.Errors, serr.Error())
		}
		d.Shadow = &sd
	}
	return d, err
}

// RuleResult is the outcome of one rule in an Explanation.
type RuleResult struct {
	Policy   string
	Rule     string
	Effect   agentos.Effect
	Severity agentos.Severity
	Message  string
	Matched  bool   // the rule applies (an erroring deny rule counts as matched)
	Error    string // the evaluation error, if any
	// RateLimited is true for a matched rate-limited rule whose bucket is
	// empty for this agent.
	RateLimited bool
}

// Explanation is the full account of a decision: the decision itself and
// every rule that matched or failed.
type Explanation struct {
	Decision  agentos.Decision
	Rules     []RuleResult // matched or failed rules: deny, then approve, then allow and audit rules, each in policy order
	Evaluated int          // rules evaluated
	Skipped   int          // rules the index showed could not apply
}

// String renders the explanation over several lines.
func (x Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", x.Decision)
	for _, r := range x.Rules {
		mark := "matched"
		if !r.Matched {
			mark = "failed"
		}
		fmt.Fprintf(&b, "  %s %s/%s (%s, %s)", mark, r.Policy, r.Rule, r.Effect, r.Severity)
		if r.Message != "" {
			fmt.Fprintf(&b, ": %s", r.Message)
		}
		if r.RateLimited {
			b.WriteString(" [rate limit exceeded]")
		}
		if r.Error != "" {
			fmt.Fprintf(&b, " [error: %s]", r.Error)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "  (%d rules evaluated, %d skipped by the index)", x.Evaluated, x.Skipped)
	return b.String()
}

// Explain evaluates every rule that can apply to the input (no early exit)
// and reports each that matched or failed, with the decision Decide would
// make. It consumes no rate-limit tokens: a rate-limited rule is reported
// as limited when its bucket is empty now. The error is as for Decide.
func (e *Engine) Explain(ctx context.Context, in Input) (Explanation, error) {
	var x Explanation
	if e == nil {
		x.Decision.Message = "no policy engine"
		return x, fmt.Errorf("%w: nil engine", ErrUndecided)
	}
	d, err := e.decide(ctx, e.cur.Load(), &in, &x)
	if e.cfg.shadow != nil {
		var sx Explanation
		sd, serr := e.cfg.shadow.decide(ctx, e.cfg.shadow.cur.Load(), &in, &sx)
		if serr != nil {
			sd.Errors = append(sd.Errors, serr.Error())
		}
		d.Shadow = &sd
	}
	x.Decision = d
	return x, err
}

// maxLimited bounds the rate-limited rules tracked without allocating.
const maxLimitedInline = 4

// decide evaluates rs for in. With x non-nil it explains: it evaluates
// every candidate rule, records results and consumes no tokens.
func (e *Engine) decide(ctx context.Context, rs *ruleSet, in *Input, x *Explanation) (d agentos.Decision, err error) {
	d.PolicyVersion = rs.version
	if ctx == nil {
		ctx = context.Background()
	}
	if cerr := ctx.Err(); cerr != nil {
		d.Message = "policy not evaluated: " + cerr.Error()
		return d, fmt.Errorf("%w: %w", ErrUndecided, cerr)
	}
	st := statePool.Get().(*evalState)
	st.reset(in, e.cfg.clock, types.DefaultTypeAdapter)
	var (
		lctx   context.Context // deadline context, made on the first looping rule
		cancel context.CancelFunc
		frame  *interpreter.ExecutionFrame // shared by the straight-line rules of this decision
	)
	defer func() {
		if cancel != nil {
			cancel()
		}
		if frame != nil {
			frame.Close()
		}
		st.in, st.clock = Input{}, nil
		st.args, st.nowVal, st.strs = nil, nil, [7]ref.Val{}
		st.lookups.clear()
		statePool.Put(st)
		if p := recover(); p != nil {
			d = agentos.Decision{PolicyVersion: rs.version, Message: "policy evaluation panicked", Errors: append(d.Errors, fmt.Sprint(p))}
			err = fmt.Errorf("%w: panic during evaluation: %v", ErrUndecided, p)
		}
	}()
	indexed := !e.cfg.unindexed
	direct := indexed && !e.cfg.nodirect
	op, tool := string(in.Action.Op), in.Action.Tool
	evaluated := 0

	eval := func(r *compiledRule) (bool, error) {
		evaluated++
		prg := r.prg
		if indexed {
			prg = r.residual
		}
		if !r.loops {
			// A straight-line program keeps no state in the frame: one
			// frame over st serves every such rule of the decision.
			if frame == nil {
				f, err := interpreter.NewExecutionFrame(st)
				if err != nil {
					return false, err
				}
				frame = f
			}
			out, _, err := prg.Eval(frame)
			return result(out, err)
		}
		if lctx == nil {
			lctx, cancel = context.WithTimeout(ctx, e.cfg.evalTimeout)
		}
		out, _, err := prg.ContextEval(lctx, st)
		return result(out, err)
	}
	// try evaluates r directly (see native.go), where it can; ok is false
	// when the CEL program must decide.
	try := func(r *compiledRule) (m, ok bool) {
		if !direct || r.direct == nil {
			return false, false
		}
		switch r.direct(st) {
		case triTrue:
			m, ok = true, true
		case triFalse:
			ok = true
		}
		if ok {
			evaluated++
		}
		return m, ok
	}
	record := func(r *compiledRule, matched bool, err error) {
		if err != nil {
			d.Errors = append(d.Errors, fmt.Sprintf("%s: %v", r.label, err))
		}
		if x != nil && (matched || err != nil) {
			rr := RuleResult{Policy: r.doc.Name, Rule: r.rule.Name, Effect: r.rule.Effect,
				Severity: r.rule.Severity, Message: r.rule.Message, Matched: matched}
			if err != nil {
				rr.Error = err.Error()
			}
			x.Rules = append(x.Rules, rr)
		}
	}

	// Deny rules: an error counts as a match.
	var deny *compiledRule
	var denyErr error
	byTool, byOp, merged := rs.lookup(op, tool)
	c := rs.phaseCursor(0, op, tool, byTool, byOp, merged, indexed)
	for r := c.next(); r != nil; r = c.next() {
		m, ok := try(r)
		var err error
		if !ok {
			m, err = eval(r)
		}
		if err != nil || x != nil {
			record(r, m || err != nil, err)
		}
		if (m || err != nil) && deny == nil {
			deny, denyErr = r, err
			if x == nil {
				break
			}
		}
	}
	// Approve rules, then allow and audit rules: an error never matches.
	var approve, allow, audit *compiledRule
	var limitedBuf [maxLimitedInline]*compiledRule
	limited := limitedBuf[:0]
	if deny == nil || x != nil {
		c = rs.phaseCursor(1, op, tool, byTool, byOp, merged, indexed)
		for r := c.next(); r != nil; r = c.next() {
			m, ok := try(r)
			var err error
			if !ok {
				m, err = eval(r)
			}
			if err != nil || x != nil {
				record(r, m && err == nil, err)
			}
			if m && err == nil && approve == nil {
				approve = r
				if x == nil {
					break
				}
			}
		}
	}
	if (deny == nil && approve == nil) || x != nil {
		c = rs.phaseCursor(2, op, tool, byTool, byOp, merged, indexed)
		for r := c.next(); r != nil; r = c.next() {
			m, ok := try(r)
			var err error
			if !ok {
				m, err = eval(r)
			}
			if err != nil || x != nil {
				record(r, m && err == nil, err)
			}
			if !m || err != nil {
				continue
			}
			if r.rule.Effect == agentos.Audit && audit == nil {
				audit = r
			}
			if r.rule.Effect == agentos.Allow && allow == nil {
				allow = r
			}
			if r.rule.Limit != nil {
				limited = append(limited, r)
			}
			if x == nil && !rs.permit.needAll {
				break // the first allow decides; nothing later can change it
			}
		}
	}
	if x != nil {
		x.Evaluated = evaluated
		x.Skipped = rs.rules - evaluated
	}

	ctxErr := ctx.Err()
	switch {
	case deny != nil:
		fill(&d, deny)
		d.Refuse = deny.rule.OnDeny == OnDenyRefuse
		if denyErr != nil {
			d.Message = strings.TrimSpace(d.Message + " (the rule failed to evaluate, which denies)")
		}
	case approve != nil:
		fill(&d, approve)
	case allow != nil || audit != nil:
		agent := in.Agent.ID
		if agent == "" {
			agent = string(in.Action.Agent)
		}
		if ctxErr == nil {
			blocked, lerr := e.limiter.take(limited, agent, st.time(), x == nil)
			if blocked != nil {
				fill(&d, blocked)
				d.Effect = agentos.Deny
				d.Refuse = true
				l := blocked.rule.Limit
				d.Message = fmt.Sprintf("rate limit exceeded: at most %d per %s for each agent", l.Rate, l.Per)
				if lerr != nil {
					d.Errors = append(d.Errors, fmt.Sprintf("%s: %v", blocked.label, lerr))
				}
				if x != nil {
					for i := range x.Rules {
						if x.Rules[i].Policy == blocked.doc.Name && x.Rules[i].Rule == blocked.rule.Name {
							x.Rules[i].RateLimited = true
						}
					}
				}
				break
			}
		}
		if audit != nil {
			fill(&d, audit)
		} else {
			fill(&d, allow)
		}
	default:
		d.Effect = rs.defaultEffect
		d.Message = rs.defaultMessage
	}
	if ctxErr != nil {
		// The caller's context ended during evaluation: some rules may not
		// have been evaluated, so there is no decision.
		d.Effect = agentos.Deny
		d.Refuse = false
		return d, fmt.Errorf("%w: evaluation interrupted: %w", ErrUndecided, ctxErr)
	}
	return d, nil
}

func fill(d *agentos.Decision, r *compiledRule) {
	d.Effect = r.rule.Effect
	d.Rule = r.rule.Name
	d.Message = r.rule.Message
	d.Severity = r.rule.Severity
}

var errNotBool = errors.New("result is not a boolean")

func result(out any, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	switch v := out.(type) {
	case types.Bool:
		return bool(v), nil
	}
	return false, errNotBool
}
