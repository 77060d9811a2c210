package kernel

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/signals"
)

// The kernel forgets, and ends, the subscriptions of an agent once it is
// killed.
func TestHubDropsDeadAgents(t *testing.T) {
	ctx := context.Background()
	bus := amb.NewMemory(nil)
	defer func() { require.NoError(t, bus.Close()) }()
	k, err := New(WithBus(bus))
	require.NoError(t, err)
	defer func() { require.NoError(t, k.Close()) }()
	a, err := k.Spawn(ctx, "a")
	require.NoError(t, err)
	b, err := k.Spawn(ctx, "b")
	require.NoError(t, err)
	noop := func(context.Context, amb.Delivery) error { return nil }
	for _, ag := range []*Agent{a, a, b} {
		_, err := ag.Subscribe(ctx, "x.*", noop)
		require.NoError(t, err)
	}
	hubLen := func(ag *Agent) int {
		k.hub.mu.Lock()
		defer k.hub.mu.Unlock()
		return len(k.hub.agents[ag])
	}
	require.Equal(t, 2, hubLen(a))
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGKILL, ""))
	require.Eventually(t, func() bool { return hubLen(a) == 0 }, 5*time.Second, time.Millisecond)
	require.Equal(t, 1, hubLen(b))
}
