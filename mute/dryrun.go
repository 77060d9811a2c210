package mute

import (
	"context"
	"errors"
	"fmt"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/policy"
)

// StepDecision is what policy would decide on one step.
type StepDecision struct {
	StepID string
	// Action is the action as the kernel would build it for the step.
	// Steps calling the same tool share its Meta map and their Args are
	// the plan's own maps when they needed no conversion: read them, do
	// not modify them.
	Action   agentos.Action
	Decision agentos.Decision
	// Permitted is true when the step would run: policy allows (or
	// audits) it and the kernel would find the tool and accept its
	// arguments.
	Permitted bool
	// Reason explains a step that would not run.
	Reason string
	// Err is the evaluator's error, when it could not decide (a deny).
	Err error
}

// DryRun asks ev what it would decide on every step of plan, in execution
// order, before anything runs; nothing is executed and nothing is
// recorded, and an evaluator with an Explain method (*policy.Engine) is
// asked through it, so that the dry run spends none of the rate-limit
// tokens the execution will need (a rule whose bucket is empty now is
// reported as the denial it would be). Each step's action is built as kernel.Agent.Exec builds it:
// op exec, the tool name (a "name@constraint" split, the constraint and
// the resolved version in Meta), the arguments, subject as the agent, and
// reg's description of the tool as policy.Tool. As in the kernel, a tool
// reference that does not parse or resolve is denied by
// kernel.RuleToolName, arguments the tool's schema rejects by
// kernel.RuleToolArgs, and an evaluator error is a deny
// (kernel.RulePolicyError unless the decision names a rule). A step policy
// permits whose tool reg does not hold would fail, so it is not permitted.
// A step that needs approval is not permitted either: a dry run cannot ask
// the approver, and fails closed.
//
// ev is usually the kernel's *policy.Engine, subject the executing agent's
// identity (see [Subject]) and reg its kernel's Registry; a nil reg means
// no tool is registered.
//
// Errors: [ErrInvalidPlan] for a plan that is not well formed; an
// agentos.ErrInvalid for a nil evaluator; the context's error when ctx
// ends. A denial is a value in the result, not an error.
func DryRun(ctx context.Context, ev kernel.Evaluator, subject policy.Subject, reg *atr.Registry, plan *Plan) ([]StepDecision, error) {
	if ev == nil {
		return nil, fmt.Errorf("mute: %w: nil evaluator", agentos.ErrInvalid)
	}
	order, err := plan.Order()
	if err != nil {
		return nil, err
	}
	// Plans call a handful of tools over and over: size the map for the
	// steps, up to a bound, so that it rarely grows.
	d := dryRun{ev: ev, subject: subject, reg: reg, tools: make(map[string]*resolved, min(len(order), 32))}
	d.explain, _ = ev.(explainer)
	out := make([]StepDecision, len(order))
	for k, i := range order {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("mute: dry run: %w", context.Cause(ctx))
		}
		d.step(ctx, &plan.Steps[i], &out[k])
	}
	return out, nil
}

// dryRun is what every step of one dry run shares. The steps' decisions
// are written in place, into the slice DryRun returns: a StepDecision is
// some 300 bytes, and a hundred-step plan would otherwise copy each twice.
type dryRun struct {
	ev      kernel.Evaluator
	explain explainer // ev's Explain, when it has one; found once per run
	subject policy.Subject
	reg     *atr.Registry
	tools   map[string]*resolved // one resolution per tool reference
}

// resolved is a tool reference resolved in the registry, with its
// description as policy sees it; tool is nil and err set when it did not
// resolve.
type resolved struct {
	tool *atr.Tool
	desc policy.Tool       // policy's Input.Tool is &desc, shared by the steps calling it
	meta map[string]string // the action's Meta, shared likewise
	err  error
}

// step decides s into sd, which is zero.
func (r *dryRun) step(ctx context.Context, s *Step, sd *StepDecision) {
	sd.StepID = s.ID
	act := &sd.Action
	act.Agent, act.Op, act.Tool = agentos.AgentID(r.subject.ID), agentos.OpExec, s.Action
	deny := func(rule, msg string) {
		sd.Decision = agentos.Decision{Effect: agentos.Deny, Rule: rule, Message: msg}
		sd.Reason = msg
	}
	name, constraint := s.Action, ""
	if actionName(s.Action) != s.Action {
		var err error
		if name, constraint, err = atr.ParseRef(s.Action); err != nil {
			deny(kernel.RuleToolName, err.Error())
			return
		}
		act.Tool = name
		act.Meta = map[string]string{kernel.MetaConstraint: constraint}
	}
	args, err := kernelArgs(s.Args)
	if err != nil {
		deny(kernel.RuleArgs, err.Error())
		return
	}
	act.Args = args
	var tool *policy.Tool
	registered := false
	if r.reg != nil {
		res := r.tools[s.Action]
		if res == nil {
			res = &resolved{}
			res.tool, res.err = r.reg.Resolve(name, constraint)
			if res.err == nil {
				res.desc = kernel.PolicyTool(res.tool)
				res.meta = map[string]string{kernel.MetaVersion: res.tool.Meta.Version}
				if constraint != "" {
					res.meta[kernel.MetaConstraint] = constraint
				}
			}
			r.tools[s.Action] = res
		}
		switch {
		case res.err == nil:
			registered = true
			act.Meta = res.meta
			tool = &res.desc
			if _, err := res.tool.Check(args); err != nil {
				deny(kernel.RuleToolArgs, fmt.Sprintf("tool %q: %v", name, err))
				return
			}
		case !errors.Is(res.err, atr.ErrNotFound):
			deny(kernel.RuleToolName, fmt.Sprintf("tool %q: %v", name, res.err))
			return
		}
	}
	in := policy.Input{Action: *act, Agent: r.subject, Tool: tool}
	var d agentos.Decision
	if r.explain != nil {
		var x policy.Explanation
		x, err = r.explain.Explain(ctx, in)
		d = x.Decision
	} else {
		d, err = r.ev.Decide(ctx, in)
	}
	if err != nil {
		d.Effect = agentos.Deny
		if d.Rule == "" {
			d.Rule = kernel.RulePolicyError
		}
		sd.Decision, sd.Err, sd.Reason = d, err, "policy could not decide: "+err.Error()
		return
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
}

// explainer is an Evaluator that can decide without side effects
// (*policy.Engine: Explain consumes no rate-limit tokens).
type explainer interface {
	Explain(ctx context.Context, in policy.Input) (policy.Explanation, error)
}

var _ explainer = (*policy.Engine)(nil)

// kernelArgs returns args with values as the kernel passes them to policy
// (integers as int64, floats as float64, string lists as []any): args
// itself when it already is, else a converted copy. A nil map becomes an
// empty one, as in the kernel.
//
// Errors: an agentos.ErrInvalid for a value the kernel would refuse.
func kernelArgs(args map[string]any) (map[string]any, error) {
	if args == nil {
		return map[string]any{}, nil
	}
	v, _, err := canon(args, 0)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

func canon(v any, depth int) (any, bool, error) {
	if depth > MaxArgsDepth {
		return nil, false, fmt.Errorf("%w: arguments nested deeper than %d", agentos.ErrInvalid, MaxArgsDepth)
	}
	switch x := v.(type) {
	case nil, bool, string, int64, float64:
		return v, false, nil
	case int:
		return int64(x), true, nil
	case int8:
		return int64(x), true, nil
	case int16:
		return int64(x), true, nil
	case int32:
		return int64(x), true, nil
	case uint8:
		return int64(x), true, nil
	case uint16:
		return int64(x), true, nil
	case uint32:
		return int64(x), true, nil
	case uint:
		return canonUint(uint64(x))
	case uint64:
		return canonUint(x)
	case float32:
		return float64(x), true, nil
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, true, nil
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, s := range x {
			out[k] = s
		}
		return out, true, nil
	case []any:
		var out []any
		for i, e := range x {
			c, changed, err := canon(e, depth+1)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = append(make([]any, 0, len(x)), x[:i]...)
			}
			if out != nil {
				out = append(out, c)
			}
		}
		if out != nil {
			return out, true, nil
		}
		return x, false, nil
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			c, changed, err := canon(e, depth+1)
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = make(map[string]any, len(x))
				for k2, e2 := range x {
					out[k2] = e2
				}
			}
			if out != nil {
				out[k] = c
			}
		}
		if out != nil {
			return out, true, nil
		}
		return x, false, nil
	}
	return nil, false, fmt.Errorf("%w: argument of type %T is not JSON-like", agentos.ErrInvalid, v)
}

func canonUint(u uint64) (any, bool, error) {
	if u > 1<<63-1 {
		return nil, false, fmt.Errorf("%w: integer argument %d out of range", agentos.ErrInvalid, u)
	}
	return int64(u), true, nil
}
