package mute_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/mute"
)

// TestSessionMethodsRefuseIllegalTransitions drives the public methods out
// of order.
func TestSessionMethodsRefuseIllegalTransitions(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	a := r.k.MustSpawn("oncall-1")
	plan := mustDecode(t, `{"id": "p", "steps": [{"id": "one", "action": "svc.status"}]}`)
	c := r.checker(a, oncallGraph(t), nil)

	s := mute.NewSession("s")
	require.Equal(t, "s", s.ID())
	require.Equal(t, mute.StateInitiated, s.State())
	require.ErrorIs(t, s.Accept(), mute.ErrIllegalTransition)
	require.ErrorIs(t, s.Validate(ctx, c), mute.ErrIllegalTransition)
	_, err := s.Execute(ctx, a)
	require.ErrorIs(t, err, mute.ErrIllegalTransition)

	require.ErrorIs(t, s.Propose(&mute.Plan{ID: "empty"}), mute.ErrInvalidPlan)
	require.Equal(t, mute.StateInitiated, s.State())
	require.NoError(t, s.Propose(plan))
	require.Same(t, plan, s.Plan())
	require.ErrorIs(t, s.Accept(), mute.ErrIllegalTransition)
	require.NoError(t, s.Propose(plan), "a revision")
	require.NoError(t, s.Validate(ctx, c))
	require.NoError(t, s.Accept())
	require.ErrorIs(t, s.Propose(plan), mute.ErrIllegalTransition)
	require.ErrorIs(t, s.Reject("too late"), mute.ErrIllegalTransition)
	_, err = s.Execute(ctx, a)
	require.NoError(t, err)
	require.Equal(t, mute.StateCompleted, s.State())
	_, err = s.Execute(ctx, a)
	require.ErrorIs(t, err, mute.ErrIllegalTransition)
	require.Equal(t, 1, r.called())

	s2 := mute.NewSession("s2")
	require.NoError(t, s2.Reject("no plan needed"))
	require.Equal(t, "no plan needed", s2.Reason())
	require.ErrorIs(t, s2.Propose(plan), mute.ErrIllegalTransition)
}
