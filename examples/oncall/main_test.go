package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/mute"
	"github.com/agent-os/agentos/recorder"
)

// TestRun runs the example as "go run ./examples/oncall" does, so that it
// cannot rot: it fails when the program would exit non-zero, and checks
// that the output shows what the example promises.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	require.NoError(t, run(ctx, &out), out.String())
	for _, want := range []string{
		`failed_precondition step=scale node=payments.at-baseline: fact "payments.replicas" is "5", want "3"`,
		`unknown_node step=drain node=drain_node: the graph has no action "drain_node"`,
		"policy_denial step=grant node=grant_admin rule=no-privilege-escalation",
		"plan restart validated",
		"plan restart completed",
		"chain verified: 6 entries",
	} {
		require.Contains(t, out.String(), want)
	}
	require.Equal(t, 3, strings.Count(out.String(), "tools called: 0; exec decisions recorded: 0"), out.String())
}

// TestIncident checks the facts behind the output: each bad plan is
// refused for its own reason before any of its tools runs, and only the
// accepted plan's steps reach the kernel and the trail.
func TestIncident(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	rep, err := incident(ctx, &out)
	require.NoError(t, err, out.String())

	tests := []struct {
		plan string
		want mute.Violation
	}{
		{"scale-out", mute.Violation{Kind: mute.ViolationPrecondition, Step: "scale", Node: "payments.at-baseline"}},
		{"drain", mute.Violation{Kind: mute.ViolationUnknownNode, Step: "drain", Node: "drain_node"}},
		{"escalate", mute.Violation{Kind: mute.ViolationPolicyDenial, Step: "grant", Node: "grant_admin", Rule: "no-privilege-escalation"}},
	}
	require.Len(t, rep.violations, len(tests))
	for _, tt := range tests {
		t.Run(tt.plan, func(t *testing.T) {
			vs := rep.violations[tt.plan]
			var found bool
			for _, v := range vs {
				if v.Kind == tt.want.Kind && v.Step == tt.want.Step && v.Node == tt.want.Node && v.Rule == tt.want.Rule {
					found = true
				}
			}
			require.True(t, found, "want %v among %v", tt.want, vs)
		})
	}

	// Only the accepted plan's tools ran, once each.
	require.Equal(t, map[string]int{"read_metrics": 1, "restart_service": 1}, rep.calls)
	require.Len(t, rep.results, 2)
	require.Equal(t, "read_metrics", rep.results[0].Tool)
	require.Equal(t, metrics{Service: "payments", ErrorRate: 0.18, P99Millis: 2400, Replicas: 5}, rep.results[0].Result)
	require.Equal(t, "restart_service", rep.results[1].Tool)
	require.Equal(t, restarted{Service: "payments", Replicas: 5, Ready: 5}, rep.results[1].Result)

	// The trail holds a decision and an outcome for each executed step,
	// and no exec entry for a tool of a refused plan.
	var execs []recorder.Entry
	for _, e := range rep.trail {
		if e.Op == agentos.OpExec {
			execs = append(execs, e)
		}
	}
	require.Len(t, execs, 4)
	for i, tool := range []string{"read_metrics", "restart_service"} {
		d, o := execs[2*i], execs[2*i+1]
		require.Equal(t, recorder.KindDecision, d.Kind)
		require.Equal(t, tool, d.Tool)
		require.Equal(t, agentos.Allow, d.Effect)
		require.Equal(t, "oncall-tools", d.Rule)
		require.Equal(t, recorder.KindOutcome, o.Kind)
		require.Equal(t, recorder.StatusOK, o.Status)
		require.Equal(t, d.Trace, o.Trace)
	}
	require.Equal(t, uint64(len(rep.trail))+1, rep.verified, "the chain holds the executor's trail and the kernel's start")
}
