package mute_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/mute"
	"github.com/agent-os/agentos/recorder"
)

func mustDecode(t *testing.T, js string) *mute.Plan {
	t.Helper()
	p, err := mute.DecodePlan(strings.NewReader(js))
	require.NoError(t, err)
	return p
}

// TestScenariosRefusedBeforeExecution: each bad plan is rejected before
// any step runs, and the recorder holds no exec decision for it.
func TestScenariosRefusedBeforeExecution(t *testing.T) {
	healthy := mute.Facts{"incident.open": "INC-7", "replica.state": "healthy"}
	tests := []struct {
		name  string
		plan  string
		facts mute.Facts
		want  mute.Violation
	}{
		{
			name:  "stale state: the replica is lagging",
			plan:  restorePlan,
			facts: mute.Facts{"incident.open": "INC-7", "replica.state": "lagging"},
			want:  mute.Violation{Kind: mute.ViolationPrecondition, Step: "failover", Node: "replica.healthy"},
		},
		{
			name: "ghost resource: an action the graph does not know",
			plan: `{"id": "p", "goal": "service.restored", "steps": [
				{"id": "look", "action": "svc.status"},
				{"id": "scale", "action": "k8s.scale", "args": {"replicas": 0}, "dependsOn": ["look"]},
				{"id": "failover", "action": "db.failover", "dependsOn": ["scale"]},
				{"id": "restart", "action": "svc.restart", "dependsOn": ["failover"]}]}`,
			facts: healthy,
			want:  mute.Violation{Kind: mute.ViolationUnknownNode, Step: "scale", Node: "k8s.scale"},
		},
		{
			name: "privilege escalation: policy denies a step in the dry run",
			plan: `{"id": "p", "goal": "access.granted", "steps": [
				{"id": "look", "action": "svc.status"},
				{"id": "grant", "action": "iam.grant", "args": {"user": "oncall", "role": "admin"}, "dependsOn": ["look"]}]}`,
			facts: healthy,
			want:  mute.Violation{Kind: mute.ViolationPolicyDenial, Step: "grant", Node: "iam.grant", Rule: "no-admin-grant"},
		},
		{
			name:  "missing requirement: no incident is open",
			plan:  restorePlan,
			facts: mute.Facts{"replica.state": "healthy"},
			want:  mute.Violation{Kind: mute.ViolationMissingRequirement, Step: "failover", Node: "incident.open"},
		},
		{
			name: "conflict: flushing the cache during a failover",
			plan: `{"id": "p", "goal": "service.restored", "steps": [
				{"id": "look", "action": "svc.status"},
				{"id": "flush", "action": "cache.flush"},
				{"id": "failover", "action": "db.failover", "dependsOn": ["look"]},
				{"id": "restart", "action": "svc.restart", "dependsOn": ["failover"]}]}`,
			facts: healthy,
			want:  mute.Violation{Kind: mute.ViolationConflict, Step: "flush", Node: "db.failover"},
		},
		{
			name:  "out of scope: no action produces the goal",
			plan:  `{"id": "p", "goal": "world.peace", "steps": [{"id": "look", "action": "svc.status"}]}`,
			facts: healthy,
			want:  mute.Violation{Kind: mute.ViolationOutOfScope, Node: "world.peace"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			r := newRig(t)
			a := r.k.MustSpawn("oncall-1", kernelRole("oncall"))
			s := mute.NewSession("s1")
			require.NoError(t, s.Propose(mustDecode(t, tt.plan)))
			err := s.Validate(ctx, r.checker(a, oncallGraph(t), tt.facts))
			require.ErrorIs(t, err, mute.ErrRejected)
			var rej *mute.RejectedError
			require.ErrorAs(t, err, &rej)
			require.Equal(t, mute.StateRejected, s.State())

			var found bool
			for _, v := range rej.Violations {
				if v.Kind == tt.want.Kind && v.Step == tt.want.Step && v.Node == tt.want.Node && v.Rule == tt.want.Rule {
					found = true
				}
			}
			require.True(t, found, "want %v among %v", tt.want, rej.Violations)
			if tt.want.Kind == mute.ViolationOutOfScope {
				require.ErrorIs(t, err, mute.ErrOutOfScope)
			}

			// Refused before anything ran: no tool call, no exec decision.
			require.Zero(t, r.called())
			for _, e := range r.k.Decisions("oncall-1") {
				require.NotEqual(t, agentos.OpExec, e.Op, "exec decision recorded: %+v", e)
			}
			_, err = s.Execute(ctx, a)
			require.ErrorIs(t, err, mute.ErrIllegalTransition)
			require.Zero(t, r.called())
		})
	}
}

// TestValidPlanExecutes: a valid plan runs step by step through the
// kernel, and each step leaves its decision and outcome in the trail.
func TestValidPlanExecutes(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	a := r.k.MustSpawn("oncall-1", kernelRole("oncall"))
	s := mute.NewSession("s1")
	require.NoError(t, s.Propose(mustDecode(t, restorePlan)))
	require.NoError(t, s.Validate(ctx, r.checker(a, oncallGraph(t), mute.Facts{"incident.open": "INC-7", "replica.state": "healthy"})))
	require.Equal(t, mute.StateValidated, s.State())
	require.NoError(t, s.Accept())
	res, err := s.Execute(ctx, a)
	require.NoError(t, err)
	require.Equal(t, mute.StateCompleted, s.State())
	require.Len(t, res, 3)
	for i, want := range []string{"svc.status", "db.failover", "svc.restart"} {
		require.Equal(t, want, res[i].Tool)
		require.Equal(t, want+" ok", res[i].Result)
	}

	var execs []recorder.Entry
	for _, e := range r.k.Trail("oncall-1") {
		if e.Op == agentos.OpExec {
			execs = append(execs, e)
		}
	}
	require.Len(t, execs, 6, "a decision and an outcome per step")
	for i, want := range []string{"svc.status", "db.failover", "svc.restart"} {
		d, o := execs[2*i], execs[2*i+1]
		require.Equal(t, recorder.KindDecision, d.Kind)
		require.Equal(t, want, d.Tool)
		require.Equal(t, agentos.Allow, d.Effect)
		require.Equal(t, "oncall-tools", d.Rule)
		require.Equal(t, recorder.KindOutcome, o.Kind)
		require.Equal(t, recorder.StatusOK, o.Status)
	}
	require.True(t, r.k.Verify().OK)
}

// TestStepFailureStops: a step the kernel refuses at run time fails the
// plan and the later steps do not run.
func TestStepFailureStops(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	a := r.k.MustSpawn("oncall-1")
	plan := mustDecode(t, `{"id": "p", "steps": [
		{"id": "one", "action": "svc.status"},
		{"id": "two", "action": "iam.grant", "args": {"role": "admin"}, "dependsOn": ["one"]},
		{"id": "three", "action": "svc.restart", "dependsOn": ["two"]}]}`)
	res, err := mute.Execute(ctx, a, plan)
	require.ErrorIs(t, err, mute.ErrStepFailed)
	require.ErrorIs(t, err, agentos.ErrDenied)
	var se *mute.StepError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "two", se.StepID)
	require.Len(t, res, 2)
	require.Equal(t, 1, r.called())
}

// TestSessionFailsOnStepError: the session ends failed when a step fails.
func TestSessionFailsOnStepError(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	a := r.k.MustSpawn("oncall-1")
	plan := mustDecode(t, `{"id": "p", "steps": [{"id": "one", "action": "svc.status"}]}`)
	s := mute.NewSession("s")
	require.NoError(t, s.Propose(plan))
	require.NoError(t, s.Validate(ctx, r.checker(a, oncallGraph(t), nil)))
	require.NoError(t, s.Accept())
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.Execute(cctx, a)
	require.ErrorIs(t, err, mute.ErrStepFailed)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, mute.StateFailed, s.State())
	require.Zero(t, r.called())
}

// TestExecuteOtherAgentRefused: a plan validated for one agent does not
// run as another.
func TestExecuteOtherAgentRefused(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	a := r.k.MustSpawn("oncall-1", kernelRole("oncall"))
	b := r.k.MustSpawn("intruder", kernelRole("oncall"))
	s := mute.NewSession("s")
	require.NoError(t, s.Propose(mustDecode(t, `{"id": "p", "steps": [{"id": "one", "action": "svc.status"}]}`)))
	require.NoError(t, s.Validate(ctx, r.checker(a, oncallGraph(t), nil)))
	require.NoError(t, s.Accept())
	_, err := s.Execute(ctx, b)
	require.ErrorIs(t, err, mute.ErrSubject)
	require.Equal(t, mute.StateAccepted, s.State())
	require.Zero(t, r.called())
}
