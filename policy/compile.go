package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"

	"github.com/agent-os/agentos"
)

// compiledRule is one rule ready to evaluate. It is immutable and shared
// by every decision that uses its rule set.
type compiledRule struct {
	idx      int // position in policy order (documents in order, rules in order)
	doc      *Document
	rule     *Rule
	label    string      // "policy/rule", used in errors
	prg      cel.Program // the whole condition: the unindexed path
	residual cel.Program // prg without the conjuncts the index proves: the indexed path
	direct   pexpr       // residual compiled for direct evaluation, or nil
	loops    bool        // has comprehensions: evaluate under a deadline
	cons     constraints
	limitKey string
	estimate cost.Estimate
}

// ruleSet is one compiled, immutable set of documents.
type ruleSet struct {
	docs         []*Document
	version      string
	rules        int
	deny         phase
	approve      phase
	permit       phase                  // allow and audit
	byTool, byOp map[string]*phaseLists // the phases' indexes, merged
	// merged holds, for each tool some rule names ("" is such a tool when
	// a rule names it), the candidate rules of every phase for each known
	// op, already merged in policy order and filtered by op: a decision
	// walks one slice per phase. other holds the same for every tool no
	// rule names. Both nil when the lists would be too large (see
	// maxMergedRules).
	merged         map[string]*[numOps]phaseLists
	other          *[numOps]phaseLists
	defaultEffect  agentos.Effect
	defaultMessage string
	egress         []compiledEgress
}

var (
	baseEnvOnce = sync.OnceValues(func() (*cel.Env, error) { return baseEnv(MaxListRange) })
)

// MaxListRange is the largest list lists.range may build. A comprehension
// over a larger range is an evaluation error, before anything is allocated.
const MaxListRange = 10000

// version names a set of documents: name@version of each, in order, and a
// short hash over their files and sources, so that it changes whenever the
// loaded documents change.
func version(docs []*Document) string {
	if len(docs) == 0 {
		return "none"
	}
	h := sha256.New()
	parts := make([]string, len(docs))
	for i, d := range docs {
		parts[i] = d.Name
		if d.Version != "" {
			parts[i] += "@" + d.Version
		}
		fmt.Fprintf(h, "%d:%s\x00%d:", len(d.Name), d.Name, len(d.Source))
		h.Write(d.Source)
	}
	return strings.Join(parts, ",") + "+" + hex.EncodeToString(h.Sum(nil))[:12]
}

func compile(ctx context.Context, docs []*Document, cfg *config) (*ruleSet, error) {
	env, err := baseEnvOnce()
	if err != nil {
		return nil, fmt.Errorf("policy: CEL environment: %w", err)
	}
	for i, d := range docs {
		if d == nil {
			return nil, fmt.Errorf("%w: policy: document %d is nil", agentos.ErrInvalid, i)
		}
	}
	rs := &ruleSet{docs: slices.Clone(docs), version: version(docs)}
	var errs errorList

	// Defaults: the most restrictive document default wins; no document
	// means deny.
	rs.defaultEffect = agentos.Deny
	rs.defaultMessage = "no policy is loaded: everything is denied"
	for i, d := range docs {
		e := agentos.Deny
		if d.HasDefault {
			e = d.DefaultEffect
		}
		if i == 0 || e.Overrides(rs.defaultEffect) {
			rs.defaultEffect = e
			rs.defaultMessage = fmt.Sprintf("no rule matched: default %s of policy %s", e, d.Name)
		}
	}

	// Rule names are unique among documents of the same name.
	type seenRule struct {
		file string
		line int
	}
	seen := map[string]seenRule{}
	for _, d := range docs {
		for _, r := range d.Rules {
			k := d.Name + "\x00" + r.Name
			if s, dup := seen[k]; dup {
				errs.add(&Error{File: d.File, Policy: d.Name, Rule: "rule " + strconv.Quote(r.Name),
					Line: r.Line, Column: r.Column,
					Msg: fmt.Sprintf("duplicate rule name (also defined in %s:%d)", s.file, s.line)})
				continue
			}
			seen[k] = seenRule{d.File, r.Line}
		}
	}

	est := &sizeEstimator{hints: cfg.hints}
	idx := 0
	for _, d := range docs {
		denv, inlines := compileVariables(env, d, &errs)
		for i := range d.Rules {
			r := &d.Rules[i]
			cr, err := compileRule(denv, inlines, d, r, cfg, est)
			if err != nil {
				errs.add(err)
				continue
			}
			cr.idx = idx
			idx++
			switch r.Effect {
			case agentos.Deny:
				rs.deny.add(cr)
			case agentos.Approve:
				rs.approve.add(cr)
			default:
				rs.permit.add(cr)
			}
		}
	}
	rs.rules = idx
	rs.buildIndex()
	rs.buildMerged()
	rs.egress = compileEgress(ctx, docs, cfg, &errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return rs, nil
}

// compileVariables declares a document's variables in order, each able to
// use the ones before it, and returns the environment for its rules with
// the definitions to inline, last first.
func compileVariables(env *cel.Env, d *Document, errs *errorList) (*cel.Env, []*cel.InlineVariable) {
	var inlines []*cel.InlineVariable
	for _, v := range d.Variables {
		name := "variables." + v.Name
		label := "variable " + strconv.Quote(v.Name)
		a, iss := env.Compile(v.Expression)
		typ := cel.DynType
		if iss.Err() != nil {
			errs.add(celError(d, label, v.expr, v.Line, v.Column, iss))
		} else {
			typ = a.OutputType()
		}
		next, err := env.Extend(cel.Variable(name, typ))
		if err != nil {
			errs.add(&Error{File: d.File, Policy: d.Name, Rule: label, Line: v.Line, Column: v.Column, Msg: err.Error(), Err: err})
			continue
		}
		env = next
		if iss.Err() == nil {
			inlines = append(inlines, cel.NewInlineVariable(name, a))
		}
	}
	slices.Reverse(inlines)
	return env, inlines
}

func compileRule(env *cel.Env, inlines []*cel.InlineVariable, d *Document, r *Rule, cfg *config, est *sizeEstimator) (*compiledRule, error) {
	label := "rule " + strconv.Quote(r.Name)
	fail := func(msg string, err error) error {
		return &Error{File: d.File, Policy: d.Name, Rule: label, Line: r.when.line, Column: r.when.col, Msg: msg, Err: err}
	}
	a, iss := env.Compile(r.When)
	if iss.Err() != nil {
		return nil, celError(d, label, r.when, r.Line, r.Column, iss)
	}
	if t := a.OutputType(); !t.IsExactType(cel.BoolType) {
		return nil, fail(fmt.Sprintf("when must be a boolean expression, but its type is %s (compare explicitly, e.g. `... == true`)", t), nil)
	}
	if len(inlines) > 0 {
		opt, err := cel.NewStaticOptimizer(cel.NewInliningOptimizer(inlines...))
		if err != nil {
			return nil, fail("inlining variables: "+err.Error(), err)
		}
		a, iss = opt.Optimize(env, a)
		if iss.Err() != nil {
			return nil, fail("inlining variables: "+iss.Err().Error(), iss.Err())
		}
	}
	estimate, err := env.EstimateCost(a, est)
	if err != nil {
		return nil, fail("estimating cost: "+err.Error(), err)
	}
	if estimate.Max > cfg.costBudget {
		return nil, fail(fmt.Sprintf("estimated cost %s is over the budget of %d (bound loops and avoid nested comprehensions over arguments)",
			costString(estimate.Max), cfg.costBudget), ErrBudget)
	}
	// Only a comprehension can repeat work: a rule without one evaluates
	// each operation of its expression once, and a cost tracker can only
	// stop an operation after it ran. So the runtime cost limit and the
	// interrupt checks go on rules that loop, and straight-line rules run
	// without the tracker's overhead.
	loops := hasComprehension(a.NativeRep().Expr())
	var popts []cel.ProgramOption
	if !hasEmptyIn(a.NativeRep().Expr()) {
		popts = append(popts, cel.EvalOptions(cel.OptOptimize))
	}
	if loops {
		popts = append(popts, cel.CostLimit(cfg.costLimit), cel.InterruptCheckFrequency(cfg.interruptEvery))
	}
	prg, err := env.Program(a, popts...)
	if err != nil {
		return nil, fail("building program: "+err.Error(), err)
	}
	cr := &compiledRule{
		doc:      d,
		rule:     r,
		label:    d.Name + "/" + r.Name,
		prg:      prg,
		loops:    loops,
		cons:     extractConstraints(a.NativeRep().Expr()),
		estimate: estimate,
	}
	// The indexed path evaluates the rule without the op and tool tests
	// the index has already proved (see residual.go), directly where it
	// can (see native.go).
	cr.residual = prg
	ra, err := residual(env, a, cr.cons)
	if err != nil {
		return nil, fail("building the indexed program: "+err.Error(), err)
	}
	if ra != nil {
		if cr.residual, err = env.Program(ra, popts...); err != nil {
			return nil, fail("building the indexed program: "+err.Error(), err)
		}
	} else {
		ra = a
	}
	if !loops {
		cr.direct = compileDirect(ra.NativeRep().Expr())
	}
	if r.Limit != nil {
		cr.limitKey = fmt.Sprintf("%s/%s@%d/%s", d.Name, r.Name, r.Limit.Rate, r.Limit.Per)
	}
	return cr, nil
}

func costString(c uint64) string {
	if c == ^uint64(0) {
		return "unbounded"
	}
	return strconv.FormatUint(c, 10)
}

// celError turns CEL issues into an *Error at the first issue's position
// in the file, with all issues in the message.
func celError(d *Document, label string, pos exprPos, line, col int, iss *cel.Issues) error {
	e := &Error{File: d.File, Policy: d.Name, Rule: label, Line: line, Column: col, Err: iss.Err()}
	var msgs []string
	for i, ce := range iss.Errors() {
		if i == 0 {
			if l, c := pos.fileLine(d.Source, ce.Location.Line(), ce.Location.Column()+1); l > 0 {
				e.Line, e.Column = l+d.Line-1, c
			}
		}
		msgs = append(msgs, fmt.Sprintf("%s (at expression %d:%d)", ce.Message, ce.Location.Line(), ce.Location.Column()+1))
		if i == 4 {
			break
		}
	}
	e.Msg = strings.Join(msgs, "; ")
	return e
}

// SizeHints bound the sizes of inputs for the load-time cost estimate. CEL
// cannot know how long a string or how large a map in an action will be,
// and estimates them as unbounded; the hints say what to assume. They do
// not limit real inputs: the runtime cost limit does that.
type SizeHints struct {
	MaxString  uint64 // length of any string field or argument (default 4096)
	MaxEntries uint64 // entries in args, meta, labels and argument lists/maps (default 64)
}

// sizeEstimator applies SizeHints to the declared variables.
type sizeEstimator struct {
	hints SizeHints
}

func (s *sizeEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if n.ComputedSize() != nil {
		return nil
	}
	path := n.Path()
	if len(path) == 0 {
		return nil
	}
	switch path[0] {
	case "action", "agent", "peer", "tool":
	default:
		return nil
	}
	switch n.Type().Kind() {
	case types.StringKind, types.BytesKind, types.DynKind:
		return &cost.SizeEstimate{Min: 0, Max: s.hints.MaxString}
	case types.MapKind, types.ListKind:
		return &cost.SizeEstimate{Min: 0, Max: s.hints.MaxEntries}
	}
	return nil
}

func (s *sizeEstimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}
