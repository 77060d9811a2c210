package mute

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTransitionTable tries every pair of states: the legal ones move, and
// every other one is refused with a *TransitionError and no change.
func TestTransitionTable(t *testing.T) {
	legal := map[[2]State]bool{
		{StateInitiated, StateNegotiating}:   true,
		{StateInitiated, StateRejected}:      true,
		{StateNegotiating, StateNegotiating}: true,
		{StateNegotiating, StateValidated}:   true,
		{StateNegotiating, StateRejected}:    true,
		{StateValidated, StateNegotiating}:   true,
		{StateValidated, StateAccepted}:      true,
		{StateValidated, StateRejected}:      true,
		{StateAccepted, StateExecuting}:      true,
		{StateExecuting, StateCompleted}:     true,
		{StateExecuting, StateFailed}:        true,
	}
	n := 0
	for _, from := range States {
		for _, to := range States {
			t.Run(string(from)+"->"+string(to), func(t *testing.T) {
				s := &Session{state: from}
				err := s.transition(to)
				if legal[[2]State{from, to}] {
					require.NoError(t, err)
					require.Equal(t, to, s.state)
					n++
					return
				}
				require.ErrorIs(t, err, ErrIllegalTransition)
				var te *TransitionError
				require.ErrorAs(t, err, &te)
				require.Equal(t, TransitionError{From: from, To: to}, *te)
				require.Equal(t, from, s.state)
			})
		}
	}
	require.Equal(t, len(legal), n)
	for _, st := range []State{StateRejected, StateCompleted, StateFailed} {
		require.True(t, st.Terminal())
	}
	require.False(t, StateAccepted.Terminal())
}
