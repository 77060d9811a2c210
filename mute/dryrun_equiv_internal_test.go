package mute

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/policy"
)

var equivSeed = flag.Uint64("mute.seed", 0, "seed of TestDryRunEquivalence (0: a fresh one, logged)")

// referenceDryRun is the plainest dry run, kept as the specification the
// optimised DryRun is held to: the plan checked rule by rule, the order by
// referenceOrder, and every step built from nothing: its reference parsed,
// its tool resolved in the registry and described afresh, its arguments
// copied and converted, the evaluator asked through Explain when it has it.
func referenceDryRun(ctx context.Context, ev kernel.Evaluator, subject policy.Subject, reg *atr.Registry, p *Plan) ([]StepDecision, error) {
	if ev == nil {
		return nil, fmt.Errorf("mute: %w: nil evaluator", agentos.ErrInvalid)
	}
	if err := referencePlanCheck(p); err != nil {
		return nil, err
	}
	order := referenceOrder(p)
	if order == nil {
		taken := map[int]bool{}
		for _, i := range referencePartialOrder(p) {
			taken[i] = true
		}
		for i := range p.Steps {
			if !taken[i] {
				return nil, fmt.Errorf("%w through step %q", ErrCycle, p.Steps[i].ID)
			}
		}
	}
	var out []StepDecision
	for _, i := range order {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("mute: dry run: %w", context.Cause(ctx))
		}
		out = append(out, referenceStep(ctx, ev, subject, reg, p.Steps[i]))
	}
	return out, nil
}

// referencePartialOrder is referenceOrder up to where it stops.
func referencePartialOrder(p *Plan) []int {
	index := map[string]int{}
	for i, s := range p.Steps {
		index[s.ID] = i
	}
	taken := make([]bool, len(p.Steps))
	var order []int
	for {
		found := false
		for i, s := range p.Steps {
			if taken[i] {
				continue
			}
			ok := true
			for _, d := range s.DependsOn {
				if !taken[index[d]] {
					ok = false
				}
			}
			if ok {
				taken[i], found = true, true
				order = append(order, i)
				break
			}
		}
		if !found {
			return order
		}
	}
}

// referencePlanCheck checks the rules of a well-formed plan one after
// another, in the order Plan.Order documents them.
func referencePlanCheck(p *Plan) error {
	if p == nil {
		return fmt.Errorf("%w: nil plan", ErrInvalidPlan)
	}
	id := func(what, s string) error {
		switch {
		case s == "":
			return fmt.Errorf("%w: empty %s", ErrInvalidPlan, what)
		case len(s) > MaxIDLen:
			return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidPlan, what, MaxIDLen)
		case !utf8.ValidString(s):
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidPlan, what)
		}
		return nil
	}
	if err := id("plan id", p.ID); err != nil {
		return err
	}
	if len(p.Goal) > MaxIDLen {
		return fmt.Errorf("%w: goal longer than %d bytes", ErrInvalidPlan, MaxIDLen)
	}
	if len(p.Steps) == 0 {
		return fmt.Errorf("%w: plan %q has no steps", ErrInvalidPlan, p.ID)
	}
	if len(p.Steps) > MaxSteps {
		return fmt.Errorf("%w: %d steps, more than %d", ErrInvalidPlan, len(p.Steps), MaxSteps)
	}
	for i, s := range p.Steps {
		if err := id("step id", s.ID); err != nil {
			return err
		}
		if err := id("step "+s.ID+" action", s.Action); err != nil {
			return err
		}
		for _, earlier := range p.Steps[:i] {
			if earlier.ID == s.ID {
				return fmt.Errorf("%w: duplicate step id %q", ErrInvalidPlan, s.ID)
			}
		}
	}
	for _, s := range p.Steps {
		for _, d := range s.DependsOn {
			known := false
			for _, o := range p.Steps {
				known = known || o.ID == d
			}
			if !known {
				return fmt.Errorf("%w: step %q depends on unknown step %q", ErrInvalidPlan, s.ID, d)
			}
			if d == s.ID {
				return fmt.Errorf("%w: step %q depends on itself", ErrInvalidPlan, s.ID)
			}
		}
	}
	return nil
}

func referenceStep(ctx context.Context, ev kernel.Evaluator, subject policy.Subject, reg *atr.Registry, s Step) StepDecision {
	sd := StepDecision{StepID: s.ID}
	act := agentos.Action{Agent: agentos.AgentID(subject.ID), Op: agentos.OpExec, Tool: s.Action}
	deny := func(rule, msg string) StepDecision {
		sd.Action = act
		sd.Decision = agentos.Decision{Effect: agentos.Deny, Rule: rule, Message: msg}
		sd.Reason = msg
		return sd
	}
	name, constraint := s.Action, ""
	if strings.Contains(s.Action, "@") {
		var err error
		if name, constraint, err = atr.ParseRef(s.Action); err != nil {
			return deny(kernel.RuleToolName, err.Error())
		}
		act.Tool = name
		act.Meta = map[string]string{kernel.MetaConstraint: constraint}
	}
	args, err := referenceArgs(s.Args)
	if err != nil {
		return deny(kernel.RuleArgs, err.Error())
	}
	act.Args = args
	var desc *policy.Tool
	registered := false
	if reg != nil {
		t, err := reg.Resolve(name, constraint)
		switch {
		case err == nil:
			registered = true
			act.Meta = map[string]string{kernel.MetaVersion: t.Meta.Version}
			if constraint != "" {
				act.Meta[kernel.MetaConstraint] = constraint
			}
			desc = &policy.Tool{Name: t.Name, Version: t.Meta.Version, SideEffect: string(t.Meta.SideEffect),
				Cost: t.Meta.Cost, Tags: t.Meta.Tags, Permissions: t.Meta.Permissions, Deprecated: t.Meta.Deprecated != ""}
			if _, err := t.Check(args); err != nil {
				return deny(kernel.RuleToolArgs, fmt.Sprintf("tool %q: %v", name, err))
			}
		case !errors.Is(err, atr.ErrNotFound):
			return deny(kernel.RuleToolName, fmt.Sprintf("tool %q: %v", name, err))
		}
	}
	sd.Action = act
	in := policy.Input{Action: act, Agent: subject, Tool: desc}
	var d agentos.Decision
	if x, ok := ev.(interface {
		Explain(context.Context, policy.Input) (policy.Explanation, error)
	}); ok {
		var e policy.Explanation
		e, err = x.Explain(ctx, in)
		d = e.Decision
	} else {
		d, err = ev.Decide(ctx, in)
	}
	if err != nil {
		d.Effect = agentos.Deny
		if d.Rule == "" {
			d.Rule = kernel.RulePolicyError
		}
		sd.Decision, sd.Err, sd.Reason = d, err, "policy could not decide: "+err.Error()
		return sd
	}
	sd.Decision = d
	switch {
	case d.Effect == agentos.Approve:
		sd.Reason = "needs approval, which a dry run cannot ask for"
	case !d.Effect.Permits():
		sd.Reason = "denied"
		if d.Rule != "" {
			sd.Reason += " by " + d.Rule
		}
		if d.Message != "" {
			sd.Reason += ": " + d.Message
		}
	case !registered:
		sd.Reason = fmt.Sprintf("tool %q is not registered", name)
	default:
		sd.Permitted = true
	}
	return sd
}

// referenceArgs copies args converting every value as the kernel does.
func referenceArgs(args map[string]any) (map[string]any, error) {
	if args == nil {
		return map[string]any{}, nil
	}
	v, err := referenceValue(args, 0)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

func referenceValue(v any, depth int) (any, error) {
	if depth > MaxArgsDepth {
		return nil, fmt.Errorf("%w: arguments nested deeper than %d", agentos.ErrInvalid, MaxArgsDepth)
	}
	switch x := v.(type) {
	case nil, bool, string, int64, float64:
		return v, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		return referenceUint(uint64(x))
	case uint64:
		return referenceUint(x)
	case float32:
		return float64(x), nil
	case []string:
		out := []any{}
		for _, s := range x {
			out = append(out, s)
		}
		return out, nil
	case map[string]string:
		out := map[string]any{}
		for k, s := range x {
			out[k] = s
		}
		return out, nil
	case []any:
		out := []any{}
		for _, e := range x {
			c, err := referenceValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			c, err := referenceValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: argument of type %T is not JSON-like", agentos.ErrInvalid, v)
}

func referenceUint(u uint64) (any, error) {
	if u > math.MaxInt64 {
		return nil, fmt.Errorf("%w: integer argument %d out of range", agentos.ErrInvalid, u)
	}
	return int64(u), nil
}

// equivPolicy decides on the tool, its version and constraint, its
// description, the arguments' values and types, and the agent's role; one
// rule is rate limited (Explain and Decide differ there) and one asks for
// approval.
const equivPolicy = `apiVersion: agentos/v1
kind: Policy
metadata: {name: equiv, version: "7"}
spec:
  defaultEffect: deny
  rules:
    - name: reads
      effect: allow
      when: action.op == "exec" && tool.sideEffect == "read" && agent.role in ["oncall", "analyst"]
    - name: versioned
      effect: allow
      when: action.op == "exec" && action.tool == "svc.v" && action.meta["version"] == "1.2.0"
    - name: constrained
      effect: audit
      when: action.op == "exec" && "constraint" in action.meta && action.meta["constraint"] == "^1"
    - name: typed-count
      effect: allow
      when: action.op == "exec" && "n" in action.args && action.args["n"] == 3
    - name: big-count
      effect: deny
      onDeny: refuse
      message: too many
      when: action.op == "exec" && "n" in action.args && type(action.args["n"]) == int && action.args["n"] > 100
    - name: ghost-allowed
      effect: allow
      when: action.op == "exec" && action.tool == "ghost"
    - name: ask
      effect: approve
      when: action.op == "exec" && action.tool == "db.drop"
    - name: paging
      effect: allow
      when: action.op == "exec" && action.tool == "page.send"
      limit: {rate: 2, per: 1h}
    - name: interns-out
      effect: deny
      when: agent.role == "intern" && action.tool != "svc.status"
`

// flakyEvaluator fails on a step whose "fail" argument says so, with or
// without naming a rule, and otherwise allows.
type flakyEvaluator struct{}

func (flakyEvaluator) Decide(_ context.Context, in policy.Input) (agentos.Decision, error) {
	switch in.Action.Args["fail"] {
	case "plain":
		return agentos.Decision{Effect: agentos.Allow}, errors.New("backend down")
	case "rule":
		return agentos.Decision{Effect: agentos.Allow, Rule: "backend"}, errors.New("backend slow")
	}
	return agentos.Decision{Effect: agentos.Allow, Rule: "flaky-ok"}, nil
}

// decideOnlyEvaluator hides an engine's Explain.
type decideOnlyEvaluator struct{ e *policy.Engine }

func (d decideOnlyEvaluator) Decide(ctx context.Context, in policy.Input) (agentos.Decision, error) {
	return d.e.Decide(ctx, in)
}

func equivRegistry(t *testing.T) *atr.Registry {
	t.Helper()
	reg := atr.New()
	run := func(context.Context, map[string]any) (any, error) { return nil, nil }
	for _, tool := range []atr.Tool{
		{Name: "svc.status", Meta: atr.Meta{SideEffect: atr.Read, Tags: []string{"ops"}}, InputSchema: &jsonschema.Schema{Type: "object",
			Required: []string{"service"}, Properties: map[string]*jsonschema.Schema{"service": {Type: "string"}}}},
		{Name: "svc.v", Meta: atr.Meta{Version: "1.2.0", SideEffect: atr.Unclassified}},
		{Name: "svc.v", Meta: atr.Meta{Version: "2.0.0", SideEffect: atr.Write, Permissions: []string{"svc:write"}}},
		{Name: "db.drop", Meta: atr.Meta{SideEffect: atr.Unclassified, Cost: 5}},
		{Name: "page.send", Meta: atr.Meta{SideEffect: atr.Unclassified}},
		{Name: "old.tool", Meta: atr.Meta{SideEffect: atr.Read, Deprecated: "use svc.status"}},
	} {
		tool.Func = run
		require.NoError(t, reg.Add(tool))
	}
	return reg
}

// randomArgs returns arguments with at most one value the kernel or a
// schema refuses, so that which one is reported does not hang on map order.
func randomArgs(rng *rand.Rand) map[string]any {
	if rng.IntN(8) == 0 {
		return nil
	}
	m := map[string]any{}
	for range rng.IntN(4) {
		switch rng.IntN(14) {
		case 0:
			m["service"] = "api"
		case 1:
			m["service"] = rng.IntN(3) // the schema wants a string
		case 2:
			m["n"] = []any{3, int64(3), int8(3), uint16(3), uint(3), 3.0, float32(3), 101, int32(500), "3"}[rng.IntN(10)]
		case 3:
			m["list"] = []string{"a", "b"}
		case 4:
			m["labels"] = map[string]string{"k": "v"}
		case 5:
			m["nested"] = map[string]any{"x": []any{int16(1), map[string]any{"y": uint32(2)}}, "z": nil}
		case 6:
			m["flag"] = rng.IntN(2) == 0
		case 7:
			m["fail"] = []string{"plain", "rule", "no"}[rng.IntN(3)]
		case 8:
			m["q"] = "SELECT 1"
		case 9:
			m["f"] = math.Inf(1) // the schema check refuses it
		}
	}
	if rng.IntN(12) == 0 { // one value the kernel refuses
		switch rng.IntN(4) {
		case 0:
			m["bad"] = struct{}{}
		case 1:
			m["bad"] = uint64(math.MaxUint64)
		case 2:
			var deep any = "leaf"
			for range MaxArgsDepth + 1 {
				deep = []any{deep}
			}
			m["bad"] = deep
		case 3:
			m["bad"] = []any{make(chan int)}
		}
	}
	return m
}

var equivRefs = []string{
	"svc.status", "svc.status", "svc.v", "svc.v@^1", "svc.v@^2", "svc.v@^3", "svc.v@", "svc.v@!!",
	"db.drop", "page.send", "page.send", "old.tool", "ghost", "ghost@^1", "Bad Name", "bad@name@^1",
}

// randomPlan returns a plan that is usually well formed: dependencies
// mostly forward (the common shape), sometimes any direction, and now and
// then a defect of each kind Order refuses.
func randomPlan(rng *rand.Rand) *Plan {
	n := 1 + rng.IntN(30)
	p := &Plan{ID: "p", Goal: "g"}
	forward := rng.IntN(3) != 0
	for i := range n {
		s := Step{ID: fmt.Sprint("s", i), Action: equivRefs[rng.IntN(len(equivRefs))], Args: randomArgs(rng)}
		for range rng.IntN(3) {
			switch {
			case forward && i > 0 && rng.IntN(2) == 0:
				s.DependsOn = append(s.DependsOn, fmt.Sprint("s", i-1))
			case forward && i > 0:
				s.DependsOn = append(s.DependsOn, fmt.Sprint("s", rng.IntN(i)))
			case !forward:
				if j := rng.IntN(n); j != i {
					s.DependsOn = append(s.DependsOn, fmt.Sprint("s", j))
				}
			}
		}
		p.Steps = append(p.Steps, s)
	}
	if rng.IntN(10) == 0 {
		s := &p.Steps[rng.IntN(n)]
		switch rng.IntN(9) {
		case 0:
			s.ID = p.Steps[0].ID // duplicate (or unchanged when it is step 0)
		case 1:
			s.DependsOn = append(s.DependsOn, "nowhere")
		case 2:
			s.DependsOn = append(s.DependsOn, s.ID)
		case 3:
			s.ID = ""
		case 4:
			s.Action = ""
		case 5:
			s.Action = "bad\xff"
		case 6:
			s.ID = strings.Repeat("x", MaxIDLen+1)
		case 7:
			p.ID = ""
		case 8:
			p.Steps = nil
		}
	}
	return p
}

// TestDryRunEquivalence holds DryRun to referenceDryRun over random plans
// and evaluators: the same error, or the same decisions step for step.
// Each run draws a fresh seed (logged; -mute.seed replays one).
func TestDryRunEquivalence(t *testing.T) {
	seed := *equivSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay with -mute.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1|1))
	ctx := context.Background()
	doc, err := policy.Parse("equiv.yaml", []byte(equivPolicy))
	require.NoError(t, err)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	engine := func() *policy.Engine {
		e, err := policy.NewEngine([]*policy.Document{doc}, policy.WithClock(func() time.Time { return now }))
		require.NoError(t, err)
		return e
	}
	shared := engine()
	reg := equivRegistry(t)
	subjects := []policy.Subject{
		{ID: "oncall-1", Role: "oncall", Labels: map[string]string{"team": "sre"}},
		{ID: "intern-1", Role: "intern"},
		{ID: "analyst-1", Role: "analyst"},
	}
	var permitted, denied, planErrs int
	for i := range 1000 {
		p := randomPlan(rng)
		subject := subjects[rng.IntN(len(subjects))]
		r := reg
		if rng.IntN(10) == 0 {
			r = nil
		}
		// Explain spends nothing, so both sides may share the engine;
		// Decide spends rate-limit tokens, so each side gets a fresh one.
		var got, want kernel.Evaluator
		switch rng.IntN(3) {
		case 0:
			got, want = shared, shared
		case 1:
			got, want = decideOnlyEvaluator{engine()}, decideOnlyEvaluator{engine()}
		default:
			got, want = flakyEvaluator{}, flakyEvaluator{}
		}
		gotDs, gotErr := DryRun(ctx, got, subject, r, p)
		wantDs, wantErr := referenceDryRun(ctx, want, subject, r, p)
		if wantErr != nil {
			require.Error(t, gotErr, "plan %d: %+v", i, p)
			require.Equal(t, wantErr.Error(), gotErr.Error(), "plan %d", i)
			require.Equal(t, errors.Is(wantErr, ErrCycle), errors.Is(gotErr, ErrCycle))
			require.ErrorIs(t, gotErr, ErrInvalidPlan)
			planErrs++
			continue
		}
		require.NoError(t, gotErr, "plan %d", i)
		require.Len(t, gotDs, len(wantDs))
		for k := range wantDs {
			g, w := gotDs[k], wantDs[k]
			require.Equal(t, fmt.Sprint(w.Err), fmt.Sprint(g.Err), "plan %d step %s", i, w.StepID)
			g.Err, w.Err = nil, nil
			require.Equal(t, w, g, "plan %d step %s", i, w.StepID)
			if w.Permitted {
				permitted++
			} else {
				denied++
			}
		}
	}
	t.Logf("%d steps permitted, %d not, %d plans refused", permitted, denied, planErrs)
	require.Positive(t, permitted)
	require.Positive(t, denied)
	require.Positive(t, planErrs)
}
