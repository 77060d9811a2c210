package kernel_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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

// After SIGKILL, SIGPOLICY or SIGTRUST returns, no syscall of the agent
// completes: the one in flight is cancelled, later ones fail, the agent's
// context is done, and nothing undoes it.
func TestKillIsFinal(t *testing.T) {
	for _, sig := range []signals.Signal{signals.SIGKILL, signals.SIGPOLICY, signals.SIGTRUST} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx := context.Background()
			started := make(chan struct{})
			blocking := func(ctx context.Context, _ map[string]any) (any, error) {
				close(started)
				<-ctx.Done()
				return nil, context.Cause(ctx)
			}
			k := kerneltest.New(t, kerneltest.Policy(testPolicy), kernel.WithTool("sql.query", blocking))
			a := k.MustSpawn("a")

			var runErr error
			runDone := make(chan struct{})
			go func() {
				defer close(runDone)
				runErr = k.Run(ctx, "a", func(ctx context.Context, a *kernel.Agent) error {
					_, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT pg_sleep(1000)"})
					if err == nil {
						return errors.New("the tool returned after the kill")
					}
					<-ctx.Done() // the agent's context is done too
					return err
				})
			}()
			<-started
			require.NoError(t, k.Signal(context.Background(), a.ID(), sig, ""))

			<-runDone
			require.ErrorIs(t, runErr, agentos.ErrKilled)
			select {
			case <-a.Done():
			default:
				t.Fatal("Done is not closed")
			}
			require.ErrorIs(t, a.Err(), agentos.ErrKilled)
			var se *signals.SignalError
			require.ErrorAs(t, a.Err(), &se)
			assert.Equal(t, sig, se.Signal)

			for _, call := range syscalls(a) {
				kerneltest.Killed(t, call(ctx))
			}
			// Not undone by SIGCONT or anything else.
			kerneltest.Killed(t, k.Signal(context.Background(), a.ID(), signals.SIGCONT, ""))
			assert.Equal(t, signals.Terminated, a.State())
			kerneltest.Killed(t, a.Write(ctx, "/mem/working/x", nil))

			// The in-flight call was recorded as cancelled or killed.
			outs := k.Query(recorder.Filter{Agent: "a", Kind: recorder.KindOutcome})
			require.Len(t, outs, 1)
			assert.Contains(t, []recorder.Status{recorder.StatusCanceled, kernel.StatusKilled}, outs[0].Status)
		})
	}
}

// syscalls lists one call of every syscall method.
func syscalls(a *kernel.Agent) []func(context.Context) error {
	return []func(context.Context) error{
		func(ctx context.Context) error { _, err := a.Read(ctx, "/mem/working/x"); return err },
		func(ctx context.Context) error { return a.Write(ctx, "/mem/working/x", []byte("1")) },
		func(ctx context.Context) error { return a.Append(ctx, "/mem/working/x", []byte("1")) },
		func(ctx context.Context) error { return a.Delete(ctx, "/mem/working/x") },
		func(ctx context.Context) error { _, err := a.Stat(ctx, "/mem/working"); return err },
		func(ctx context.Context) error { _, err := a.List(ctx, "/mem/working"); return err },
		func(ctx context.Context) error { _, err := a.Exec(ctx, "sql.query", nil); return err },
		func(ctx context.Context) error { _, err := a.Checkpoint(ctx); return err },
		func(ctx context.Context) error { return a.Rollback(ctx, "1") },
		func(ctx context.Context) error {
			_, err := a.Do(ctx, agentos.Action{Op: agentos.OpSend, Target: "b"}, func(context.Context) (any, error) { return nil, nil })
			return err
		},
	}
}

// A handler cannot be installed for the fatal signals and they cannot be
// masked.
func TestKillCannotBeCaught(t *testing.T) {
	k := kerneltest.New(t)
	a := k.MustSpawn("a")
	for _, sig := range []signals.Signal{signals.SIGKILL, signals.SIGPOLICY, signals.SIGTRUST} {
		err := a.Handle(sig, func(context.Context, signals.Info) error { return nil })
		assert.ErrorIs(t, err, agentos.ErrInvalid, sig.String())
		assert.ErrorIs(t, a.Mask(sig), agentos.ErrInvalid, sig.String())
	}
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGKILL, ""))
	assert.Equal(t, signals.Terminated, a.State())
}

// A tool that ignores its context and returns after the kill: its result is
// discarded and the call fails with ErrKilled.
func TestKillDiscardsLateResult(t *testing.T) {
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	ignoresCtx := func(context.Context, map[string]any) (any, error) {
		close(started)
		<-release
		return "the secret result", nil
	}
	k := kerneltest.New(t, kerneltest.Policy(testPolicy), kernel.WithTool("sql.query", ignoresCtx))
	a := k.MustSpawn("a")
	var (
		out any
		err error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		out, err = a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
	}()
	<-started
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGKILL, ""))
	close(release)
	<-done
	kerneltest.Killed(t, err)
	assert.Nil(t, out)
	outs := k.Query(recorder.Filter{Agent: "a", Kind: recorder.KindOutcome})
	require.Len(t, outs, 1)
	assert.Equal(t, kernel.StatusKilled, outs[0].Status)
	assert.Empty(t, outs[0].ResultDigest)
}

// Writers racing a kill: once Send(SIGKILL) has returned, the namespace
// never changes again.
func TestNoEffectAfterKill(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t)
	a := k.MustSpawn("a")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := a.Write(ctx, fmt.Sprintf("/mem/working/w%d/%d", w, i), []byte("x")); err != nil {
					if !errors.Is(err, agentos.ErrKilled) {
						t.Errorf("write: %v", err)
					}
					return
				}
			}
		})
	}
	for signalsOf(t, k, a.ID()).InFlight() == 0 {
		time.Sleep(10 * time.Microsecond) // until the writers are in flight
	}
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGKILL, ""))
	before := snapshot(t, k, "a")
	close(stop)
	wg.Wait()
	assert.Equal(t, before, snapshot(t, k, "a"), "the namespace changed after the kill returned")
}

func snapshot(t *testing.T, k *kerneltest.Kernel, id agentos.AgentID) []string {
	t.Helper()
	fsys, err := k.Inspect(id)
	require.NoError(t, err)
	var files []string
	require.NoError(t, fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	}))
	return files
}

// A destructive SQL call raises SIGPOLICY: the agent is killed and the
// signal recorded.
func TestDenyKillsAndRecordsSignal(t *testing.T) {
	ctx := context.Background()
	k, c := newTestKernel(t)
	a := k.MustSpawn("a")
	_, err := a.Exec(ctx, "sql.query", map[string]any{"query": "drop table users"})
	v := kerneltest.DeniedBy(t, err, "no-destructive-sql")
	assert.Equal(t, agentos.SeverityCritical, v.Decision.Severity)
	assert.Zero(t, c.runs.Load())
	assert.Equal(t, signals.Terminated, a.State())
	var se *signals.SignalError
	require.ErrorAs(t, a.Err(), &se)
	assert.Equal(t, signals.SIGPOLICY, se.Signal)
	sigs := k.Query(recorder.Filter{Agent: "a", Kind: recorder.KindSignal})
	require.NotEmpty(t, sigs)
	assert.Contains(t, sigs[0].Detail, "SIGPOLICY")
	assert.Contains(t, sigs[0].Message, "no-destructive-sql")
}
