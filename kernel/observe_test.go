package kernel_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// An observer sees every decided syscall with its result, after its entries
// are recorded; refusals before policy are not decided and not observed.
func TestObserverSeesDecidedSyscalls(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []kernel.Syscall
	)
	k, c := newTestKernel(t, kernel.WithObserver(func(ctx context.Context, s kernel.Syscall) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
	}))
	a := k.MustSpawn("obs")
	ctx := context.Background()

	res, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
	require.NoError(t, err)
	require.Equal(t, "rows: 1", res)

	_, err = a.Read(ctx, "/mem/working/secret/key")
	kerneltest.DeniedBy(t, err, "secrets")
	require.EqualValues(t, 1, c.runs.Load())

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 2)
	ok := seen[0]
	assert.True(t, ok.Permitted)
	assert.Equal(t, recorder.StatusOK, ok.Status)
	assert.Equal(t, "rows: 1", ok.Result)
	assert.NoError(t, ok.Err)
	assert.Equal(t, "sql.query", ok.Action.Tool)
	assert.Equal(t, agentos.AgentID("obs"), ok.Action.Agent)
	assert.Equal(t, "sql", ok.Decision.Rule)
	assert.NotEmpty(t, ok.Action.ID)
	// The observer runs after the entries are recorded.
	assert.Len(t, k.Query(recorder.Filter{Trace: ok.Action.ID}), 2)

	denied := seen[1]
	assert.False(t, denied.Permitted)
	assert.Equal(t, recorder.StatusDenied, denied.Status)
	assert.Equal(t, "secrets", denied.Decision.Rule)
	assert.Nil(t, denied.Result)
	assert.Error(t, denied.Err)
}

// An observer that signals the agent it observes (a loop detector's
// SIGLOOP, whose default action is stop) stops the agent at its next
// syscall, without deadlocking the syscall it observes: the next call waits
// at the gate and never runs.
func TestObserverSignalsAgent(t *testing.T) {
	var k *kerneltest.Kernel
	k, c := newTestKernel(t, kernel.WithObserver(func(ctx context.Context, s kernel.Syscall) {
		if s.Action.Tool == "sql.query" {
			require.NoError(t, k.Signal(ctx, s.Action.Agent, signals.SIGLOOP, "same call twice"))
		}
	}))
	a := k.MustSpawn("looper")
	ctx := context.Background()
	_, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
	require.NoError(t, err)
	stopped, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = a.Exec(stopped, "sql.query", map[string]any{"query": "SELECT 1"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.EqualValues(t, 1, c.runs.Load(), "the second call never ran")
	require.NoError(t, k.Signal(ctx, "looper", signals.SIGKILL, "test over"))
}

// A panicking observer does not change the syscall's result.
func TestObserverPanicRecovered(t *testing.T) {
	k, _ := newTestKernel(t, kernel.WithObserver(func(context.Context, kernel.Syscall) { panic("boom") }))
	a := k.MustSpawn("p")
	res, err := a.Exec(context.Background(), "sql.query", map[string]any{"query": "SELECT 1"})
	require.NoError(t, err)
	require.Equal(t, "rows: 1", res)
}

func TestWithObserverNil(t *testing.T) {
	_, err := kernel.New(kernel.WithObserver(nil))
	require.ErrorIs(t, err, agentos.ErrInvalid)
}
