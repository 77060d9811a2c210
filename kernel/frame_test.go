package kernel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/stretchr/testify/require"
)

type callerKey struct{}

// The context a tool gets (the syscall's frame) behaves as the
// context.WithValue it replaced: it carries the action, passes every other
// key through to the caller's context, and a context derived from it ends
// when the caller's does. Printing it does not print the arguments.
func TestToolContext(t *testing.T) {
	type seen struct {
		tool, arg, caller string
		derivedEnded      bool
		printed           string
	}
	got, started := make(chan seen, 1), make(chan struct{})
	k := kerneltest.New(t, kerneltest.Policy(testPolicy), kernel.WithTool("sql.query", func(ctx context.Context, args map[string]any) (any, error) {
		var s seen
		if act, ok := kernel.ActionFromContext(ctx); ok {
			s.tool = act.Tool
			s.arg, _ = act.Args["query"].(string)
		}
		s.caller, _ = ctx.Value(callerKey{}).(string)
		s.printed = fmt.Sprint(ctx)
		derived, cancel := context.WithCancel(ctx)
		defer cancel()
		close(started)
		select {
		case <-derived.Done():
			s.derivedEnded = true
		case <-time.After(time.Minute): // a guard: the test fails rather than hangs
		}
		got <- s
		return nil, derived.Err()
	}))
	a := k.MustSpawn("a")
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), callerKey{}, "from the caller"))
	done := make(chan error, 1)
	go func() {
		_, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT secret"})
		done <- err
	}()
	// The tool waits on a context derived from its own; the caller's
	// cancellation must reach it.
	<-started
	cancel()
	s := <-got
	require.Error(t, <-done)
	require.Equal(t, "sql.query", s.tool)
	require.Equal(t, "SELECT secret", s.arg)
	require.Equal(t, "from the caller", s.caller)
	require.True(t, s.derivedEnded, "a context derived from the tool's did not end with the caller's")
	require.NotContains(t, s.printed, "SELECT secret")
	require.Contains(t, s.printed, "WithValue(kernel.actionKey)")
}
