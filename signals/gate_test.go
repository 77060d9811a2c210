package signals_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type ctxKey struct{}

func TestEnterRunning(t *testing.T) {
	d := newDispatcher("a")
	ctx := context.WithValue(t.Context(), ctxKey{}, "v")
	sctx, done, err := d.Enter(ctx)
	require.NoError(t, err)
	assert.Equal(t, "v", sctx.Value(ctxKey{}))
	assert.NoError(t, sctx.Err())
	assert.Equal(t, 1, d.InFlight())
	done()
	assert.Equal(t, 0, d.InFlight())
}

func TestEnterInterrupt(t *testing.T) {
	d := newDispatcher("a")
	ctx := t.Context()
	s1, done1, err := d.Enter(ctx)
	require.NoError(t, err)
	s2, done2, err := d.Enter(context.WithValue(ctx, ctxKey{}, 2)) // another caller context
	require.NoError(t, err)
	require.NoError(t, d.Send(ctx, signals.SIGINT, "user pressed ^C"))
	for _, s := range []context.Context{s1, s2} {
		<-s.Done()
		cause := context.Cause(s)
		require.ErrorIs(t, cause, signals.ErrInterrupted)
		var se *signals.SignalError
		require.ErrorAs(t, cause, &se)
		assert.Equal(t, signals.SIGINT, se.Signal)
		assert.Equal(t, "user pressed ^C", se.Reason)
	}
	// Later syscalls proceed, even those still sharing the caller context.
	s3, done3, err := d.Enter(ctx)
	require.NoError(t, err)
	assert.NoError(t, s3.Err())
	done1()
	done2()
	done3()
	assert.NoError(t, s3.Err(), "done does not cancel a context that may be shared")
	assert.Equal(t, signals.Running, d.State())
}

func TestEnterCallerContexts(t *testing.T) {
	d := newDispatcher("a")
	c1, cancel1 := context.WithCancel(t.Context())
	c2 := context.WithValue(t.Context(), ctxKey{}, "two")
	s1, done1, err := d.Enter(c1)
	require.NoError(t, err)
	s2, done2, err := d.Enter(c2)
	require.NoError(t, err)
	s1b, done1b, err := d.Enter(c1)
	require.NoError(t, err)
	cancel1()
	<-s1.Done()
	<-s1b.Done()
	assert.NoError(t, s2.Err(), "another caller's syscall is unaffected")
	assert.Equal(t, "two", s2.Value(ctxKey{}))
	_, _, err = d.Enter(c1)
	require.ErrorIs(t, err, context.Canceled)
	done1()
	done2()
	done1b()
	assert.Equal(t, 0, d.InFlight())
}

func TestKillCancelsInFlight(t *testing.T) {
	d := newDispatcher("a")
	sctx, done, err := d.Enter(t.Context())
	require.NoError(t, err)
	defer done()
	require.NoError(t, d.Send(t.Context(), signals.SIGTRUST, "forged manifest"))
	select {
	case <-sctx.Done():
	default:
		t.Fatal("in-flight syscall not cancelled when Send returned")
	}
	cause := context.Cause(sctx)
	require.ErrorIs(t, cause, agentos.ErrKilled)
	var se *signals.SignalError
	require.ErrorAs(t, cause, &se)
	assert.Equal(t, signals.SIGTRUST, se.Signal)
	ran := false
	require.ErrorIs(t, d.Commit(func() error { ran = true; return nil }), agentos.ErrKilled)
	assert.False(t, ran)
}

func TestCommit(t *testing.T) {
	d := newDispatcher("a")
	require.NoError(t, d.Commit(func() error { return nil }))
	require.ErrorIs(t, d.Commit(func() error { return errBoom }), errBoom)
	require.NoError(t, d.Send(t.Context(), signals.SIGSTOP, ""))
	require.NoError(t, d.Commit(func() error { return nil }), "a syscall past the gate commits while stopped")
	require.NoError(t, d.Send(t.Context(), signals.SIGTERM, ""))
	require.ErrorIs(t, d.Commit(func() error { return nil }), agentos.ErrKilled)
}

func TestGateBlocksWhileStopped(t *testing.T) {
	tests := []struct {
		name    string
		release func(t *testing.T, d *signals.Dispatcher, cancel context.CancelFunc)
		check   func(t *testing.T, err error)
	}{
		{"SIGCONT", func(t *testing.T, d *signals.Dispatcher, _ context.CancelFunc) {
			require.NoError(t, d.Send(context.Background(), signals.SIGCONT, ""))
		}, func(t *testing.T, err error) { require.NoError(t, err) }},
		{"SIGKILL", func(t *testing.T, d *signals.Dispatcher, _ context.CancelFunc) {
			require.NoError(t, d.Send(context.Background(), signals.SIGKILL, ""))
		}, func(t *testing.T, err error) { require.ErrorIs(t, err, agentos.ErrKilled) }},
		{"SIGPOLICY", func(t *testing.T, d *signals.Dispatcher, _ context.CancelFunc) {
			require.NoError(t, d.Send(context.Background(), signals.SIGPOLICY, ""))
		}, func(t *testing.T, err error) { require.ErrorIs(t, err, agentos.ErrKilled) }},
		{"SIGTERM", func(t *testing.T, d *signals.Dispatcher, _ context.CancelFunc) {
			require.NoError(t, d.Send(context.Background(), signals.SIGTERM, ""))
		}, func(t *testing.T, err error) { require.ErrorIs(t, err, agentos.ErrKilled) }},
		{"caller cancels", func(t *testing.T, _ *signals.Dispatcher, cancel context.CancelFunc) {
			cancel()
		}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, agentos.ErrStopped)
			require.ErrorIs(t, err, context.Canceled)
		}},
		{"caller deadline", func(t *testing.T, _ *signals.Dispatcher, _ context.CancelFunc) {
			time.Sleep(time.Hour) // fake time: the 1 h deadline passes
		}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, agentos.ErrStopped)
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newDispatcher("a")
				require.NoError(t, d.Send(t.Context(), signals.SIGSTOP, ""))
				ctx, cancel := context.WithTimeout(context.Background(), time.Hour+time.Second/2)
				defer cancel()
				const n = 3
				errs := make(chan error, n)
				for range n {
					go func() {
						_, done, err := d.Enter(ctx)
						done()
						errs <- err
					}()
				}
				synctest.Wait()
				assert.Equal(t, n, d.Waiting(), "gates block while stopped")
				assert.Empty(t, errs)
				tt.release(t, d, cancel)
				for range n {
					tt.check(t, <-errs)
				}
				assert.Equal(t, 0, d.Waiting())
			})
		})
	}
}

func TestStopAgainAfterCont(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDispatcher("a")
		ctx := t.Context()
		require.NoError(t, d.Send(ctx, signals.SIGSTOP, ""))
		res := make(chan error, 1)
		go func() {
			_, done, err := d.Enter(ctx)
			done()
			res <- err
		}()
		synctest.Wait()
		// CONT and STOP again before the waiter runs: it may pass (it was
		// released) or block again, but it must not miss a later CONT.
		require.NoError(t, d.Send(ctx, signals.SIGCONT, ""))
		require.NoError(t, d.Send(ctx, signals.SIGSTOP, ""))
		synctest.Wait()
		if d.Waiting() == 1 {
			require.NoError(t, d.Send(ctx, signals.SIGCONT, ""))
		}
		require.NoError(t, <-res)
	})
}

// Not in a synctest bubble: a goroutine blocked on a sync.RWMutex is not
// durably blocked, so synctest.Wait cannot be used to see the kill waiting.
func TestKillWaitsForRunningCommit(t *testing.T) {
	d := newDispatcher("a")
	inCommit := make(chan struct{})
	finish := make(chan struct{})
	commitDone := make(chan error, 1)
	var killReturned atomic.Bool
	go func() {
		commitDone <- d.Commit(func() error {
			close(inCommit)
			<-finish
			// The kill was sent while fn ran: it has not returned.
			if killReturned.Load() {
				return errors.New("SIGKILL returned while a Commit was running")
			}
			return nil
		})
	}()
	<-inCommit
	killed := make(chan struct{})
	go func() {
		_ = d.Send(context.Background(), signals.SIGKILL, "")
		killReturned.Store(true)
		close(killed)
	}()
	// Give the kill a chance to run ahead; whether it got to wait on the
	// commit or not yet, it must not return before fn does.
	for range 100 {
		runtime.Gosched()
	}
	assert.NotEqual(t, signals.Terminated, d.State())
	close(finish)
	require.NoError(t, <-commitDone, "the commit that started before the kill completes")
	<-killed
	ran := false
	require.ErrorIs(t, d.Commit(func() error { ran = true; return nil }), agentos.ErrKilled)
	assert.False(t, ran)
}

func TestTermHandlerIsGraceful(t *testing.T) {
	d := newDispatcher("a")
	var wrote bool
	require.NoError(t, d.Handle(signals.SIGTERM, func(ctx context.Context, _ signals.Info) error {
		// The agent may still make syscalls while its handler runs.
		sctx, done, err := d.Enter(ctx)
		if err != nil {
			return err
		}
		defer done()
		if sctx.Err() != nil {
			return sctx.Err()
		}
		return d.Commit(func() error { wrote = true; return nil })
	}))
	require.NoError(t, d.Send(t.Context(), signals.SIGTERM, "shutdown"))
	assert.True(t, wrote)
	assert.Equal(t, signals.Terminated, d.State())
	var se *signals.SignalError
	require.True(t, errors.As(d.Err(), &se))
	assert.Equal(t, signals.SIGTERM, se.Signal)
}

func TestEnterCanceledContext(t *testing.T) {
	d := newDispatcher("a")
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errBoom)
	_, done, err := d.Enter(ctx)
	require.ErrorIs(t, err, errBoom)
	done()
	assert.Equal(t, 0, d.InFlight())
}

// uncomparableCtx is a context type whose values cannot be compared with ==.
type uncomparableCtx struct {
	context.Context
	tags []string
}

func TestEnterUncomparableContext(t *testing.T) {
	d := newDispatcher("a")
	c := uncomparableCtx{Context: t.Context(), tags: []string{"x"}}
	for range 3 {
		sctx, done, err := d.Enter(c)
		require.NoError(t, err)
		assert.NoError(t, sctx.Err())
		done()
	}
}

// A syscall released by SIGCONT passes the gate only once the observer (the
// kernel's flight recorder) has been told of the SIGCONT: what the
// released agent does is never recorded before the signal that let it go.
// A syscall entering afresh meanwhile waits too.
func TestGateWaitsForResumeReported(t *testing.T) {
	hold := make(chan struct{})
	contSeen := make(chan struct{})
	d := newDispatcher("a", signals.WithObserver(func(e signals.Event) {
		if e.Signal == signals.SIGCONT {
			close(contSeen)
			<-hold
		}
	}))
	ctx := context.Background()
	require.NoError(t, d.Send(ctx, signals.SIGSTOP, ""))
	entered := make(chan struct{}, 2)
	enter := func() {
		_, done, err := d.Enter(ctx)
		if err != nil {
			t.Error(err)
		}
		done()
		entered <- struct{}{}
	}
	go enter()
	require.Eventually(t, func() bool { return d.Waiting() == 1 }, 5*time.Second, time.Millisecond)
	sent := make(chan error, 1)
	go func() { sent <- d.Send(ctx, signals.SIGCONT, "") }()
	<-contSeen
	require.Equal(t, signals.Running, d.State())
	go enter() // a fresh syscall, not one that waited
	select {
	case <-entered:
		t.Fatal("a syscall passed the gate before the SIGCONT was reported")
	case <-time.After(50 * time.Millisecond):
	}
	close(hold)
	<-entered
	<-entered
	require.NoError(t, <-sent)

	// Once reported, syscalls take the fast path again.
	_, done, err := d.Enter(ctx)
	require.NoError(t, err)
	done()
}
