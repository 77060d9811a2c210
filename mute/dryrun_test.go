package mute_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/mute"
	"github.com/agent-os/agentos/policy"
)

const dryPolicy = `apiVersion: agentos/v1
kind: Policy
metadata: {name: dry, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: reads
      effect: allow
      when: action.op == "exec" && tool.sideEffect == "read" && agent.role == "oncall"
    - name: ghost-allowed
      effect: allow
      when: action.op == "exec" && action.tool == "not.registered"
    - name: ask
      effect: approve
      when: action.op == "exec" && action.tool == "db.drop"
    - name: versioned
      effect: allow
      when: action.op == "exec" && action.tool == "svc.v" && action.meta["version"] == "1.2.0" && action.meta["constraint"] == "^1"
    - name: typed-count
      effect: allow
      when: action.op == "exec" && action.tool == "svc.v" && action.args["n"] == 3
    - name: paging
      effect: allow
      when: action.op == "exec" && action.tool == "page.send"
      limit: {rate: 1, per: 1h}
`

func dryRig(t *testing.T) (*policy.Engine, *atr.Registry) {
	t.Helper()
	doc, err := policy.Parse("dry.yaml", []byte(dryPolicy))
	require.NoError(t, err)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	eng, err := policy.NewEngine([]*policy.Document{doc}, policy.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	reg := atr.New()
	run := func(context.Context, map[string]any) (any, error) { return nil, nil }
	require.NoError(t, reg.Add(atr.Tool{Name: "svc.status", Meta: atr.Meta{SideEffect: atr.Read}, Func: run,
		InputSchema: &jsonschema.Schema{Type: "object", Required: []string{"service"},
			Properties: map[string]*jsonschema.Schema{"service": {Type: "string"}}}}))
	require.NoError(t, reg.Add(atr.Tool{Name: "svc.v", Meta: atr.Meta{Version: "1.2.0", SideEffect: atr.Unclassified}, Func: run}))
	require.NoError(t, reg.Add(atr.Tool{Name: "db.drop", Meta: atr.Meta{SideEffect: atr.Unclassified}, Func: run}))
	require.NoError(t, reg.Add(atr.Tool{Name: "page.send", Meta: atr.Meta{SideEffect: atr.Unclassified}, Func: run}))
	return eng, reg
}

func TestDryRunBuildsActionsAsTheKernel(t *testing.T) {
	ctx := context.Background()
	eng, reg := dryRig(t)
	oncall := policy.Subject{ID: "oncall-1", Role: "oncall", Labels: map[string]string{"team": "sre"}}
	tests := []struct {
		name      string
		subject   policy.Subject
		step      mute.Step
		permitted bool
		rule      string
		reason    string
	}{
		{"read tool with its description", oncall, mute.Step{ID: "s", Action: "svc.status", Args: map[string]any{"service": "api"}}, true, "reads", ""},
		{"role decides", policy.Subject{ID: "x", Role: "intern"}, mute.Step{ID: "s", Action: "svc.status", Args: map[string]any{"service": "api"}}, false, "", "denied"},
		{"schema refuses the arguments", oncall, mute.Step{ID: "s", Action: "svc.status"}, false, kernel.RuleToolArgs, "svc.status"},
		{"constraint and version in meta", oncall, mute.Step{ID: "s", Action: "svc.v@^1"}, true, "versioned", ""},
		{"constraint no version satisfies", oncall, mute.Step{ID: "s", Action: "svc.v@^2"}, false, kernel.RuleToolName, "svc.v"},
		{"bad reference", oncall, mute.Step{ID: "s", Action: "svc.v@"}, false, kernel.RuleToolName, ""},
		{"int argument reaches policy as int64", oncall, mute.Step{ID: "s", Action: "svc.v", Args: map[string]any{"n": 3}}, true, "typed-count", ""},
		{"arguments the kernel refuses", oncall, mute.Step{ID: "s", Action: "svc.v", Args: map[string]any{"ch": make(chan int)}}, false, kernel.RuleArgs, "JSON-like"},
		{"allowed but not registered", oncall, mute.Step{ID: "s", Action: "not.registered"}, false, "ghost-allowed", "not registered"},
		{"approval fails closed", oncall, mute.Step{ID: "s", Action: "db.drop"}, false, "ask", "approval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := mute.DryRun(ctx, eng, tt.subject, reg, &mute.Plan{ID: "p", Steps: []mute.Step{tt.step}})
			require.NoError(t, err)
			require.Len(t, ds, 1)
			d := ds[0]
			require.Equal(t, tt.permitted, d.Permitted, "%+v", d)
			require.Equal(t, "s", d.StepID)
			require.Equal(t, agentos.OpExec, d.Action.Op)
			require.Equal(t, agentos.AgentID(tt.subject.ID), d.Action.Agent)
			if tt.rule != "" {
				require.Equal(t, tt.rule, d.Decision.Rule)
			}
			require.Contains(t, d.Reason, tt.reason)
			if !tt.permitted {
				vs := mute.PolicyViolations(ds)
				require.Len(t, vs, 1)
				require.Equal(t, mute.ViolationPolicyDenial, vs[0].Kind)
				require.Equal(t, d.Decision.Rule, vs[0].Rule)
			}
		})
	}
}

// TestDryRunSpendsNoRateLimit: the dry run must not use up the tokens the
// execution needs.
func TestDryRunSpendsNoRateLimit(t *testing.T) {
	ctx := context.Background()
	eng, reg := dryRig(t)
	s := policy.Subject{ID: "oncall-1", Role: "oncall"}
	plan := &mute.Plan{ID: "p", Steps: []mute.Step{{ID: "page", Action: "page.send"}}}
	for range 3 {
		ds, err := mute.DryRun(ctx, eng, s, reg, plan)
		require.NoError(t, err)
		require.True(t, ds[0].Permitted)
	}
	d, err := eng.Decide(ctx, policy.Input{Action: agentos.Action{Op: agentos.OpExec, Tool: "page.send", Agent: "oncall-1"}, Agent: s})
	require.NoError(t, err)
	require.Equal(t, agentos.Allow, d.Effect, "the one token is still there")
}

type failingEvaluator struct{}

func (failingEvaluator) Decide(context.Context, policy.Input) (agentos.Decision, error) {
	return agentos.Decision{Effect: agentos.Allow}, errors.New("backend down")
}

func TestDryRunErrors(t *testing.T) {
	ctx := context.Background()
	plan := &mute.Plan{ID: "p", Steps: []mute.Step{{ID: "a", Action: "x"}}}

	_, err := mute.DryRun(ctx, nil, policy.Subject{}, nil, plan)
	require.ErrorIs(t, err, agentos.ErrInvalid)

	_, err = mute.DryRun(ctx, failingEvaluator{}, policy.Subject{}, nil, &mute.Plan{ID: "p"})
	require.ErrorIs(t, err, mute.ErrInvalidPlan)

	ds, err := mute.DryRun(ctx, failingEvaluator{}, policy.Subject{ID: "a"}, nil, plan)
	require.NoError(t, err, "an evaluator error is a deny, not an error")
	require.False(t, ds[0].Permitted)
	require.Equal(t, agentos.Deny, ds[0].Decision.Effect)
	require.Equal(t, kernel.RulePolicyError, ds[0].Decision.Rule)
	require.ErrorContains(t, ds[0].Err, "backend down")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = mute.DryRun(cctx, failingEvaluator{}, policy.Subject{}, nil, plan)
	require.ErrorIs(t, err, context.Canceled)
}
