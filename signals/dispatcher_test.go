package signals_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type evSummary struct {
	Signal signals.Signal
	Action signals.Action
	From   signals.State
	To     signals.State
}

func summarize(evs []signals.Event) []evSummary {
	out := make([]evSummary, len(evs))
	for i, e := range evs {
		out[i] = evSummary{e.Signal, e.Action, e.From, e.To}
	}
	return out
}

func TestSignalDefaults(t *testing.T) {
	const (
		R = signals.Running
		S = signals.Stopped
		T = signals.Terminated
	)
	checkpoint := signals.WithCheckpoint(func(context.Context) (string, error) { return "ckpt-1", nil })
	tests := []struct {
		sig     signals.Signal
		want    signals.State
		events  []evSummary
		killed  signals.Signal // cause in Err() when terminated
		result  string
		errIs   error // in the last event's Err
		options []signals.Option
	}{
		{sig: signals.SIGSTOP, want: S, events: []evSummary{{signals.SIGSTOP, signals.ActionDefault, R, S}}},
		{sig: signals.SIGCONT, want: R, events: []evSummary{{signals.SIGCONT, signals.ActionIgnored, R, R}}},
		{sig: signals.SIGINT, want: R, events: []evSummary{{signals.SIGINT, signals.ActionDefault, R, R}}},
		{sig: signals.SIGKILL, want: T, killed: signals.SIGKILL, events: []evSummary{{signals.SIGKILL, signals.ActionDefault, R, T}}},
		{sig: signals.SIGTERM, want: T, killed: signals.SIGTERM, events: []evSummary{{signals.SIGTERM, signals.ActionDefault, R, T}}},
		{sig: signals.SIGUSR1, want: R, errIs: signals.ErrNoHook, events: []evSummary{{signals.SIGUSR1, signals.ActionIgnored, R, R}}},
		{sig: signals.SIGUSR2, want: R, result: "ckpt-1", options: []signals.Option{checkpoint},
			events: []evSummary{{signals.SIGUSR2, signals.ActionDefault, R, R}}},
		{sig: signals.SIGPOLICY, want: T, killed: signals.SIGPOLICY, events: []evSummary{
			{signals.SIGPOLICY, signals.ActionEscalated, R, R}, {signals.SIGKILL, signals.ActionDefault, R, T}}},
		{sig: signals.SIGTRUST, want: T, killed: signals.SIGTRUST, events: []evSummary{
			{signals.SIGTRUST, signals.ActionEscalated, R, R}, {signals.SIGKILL, signals.ActionDefault, R, T}}},
		{sig: signals.SIGBUDGET, want: S, events: []evSummary{{signals.SIGBUDGET, signals.ActionDefault, R, S}}},
		{sig: signals.SIGLOOP, want: S, events: []evSummary{{signals.SIGLOOP, signals.ActionDefault, R, S}}},
		{sig: signals.SIGDRIFT, want: R, events: []evSummary{{signals.SIGDRIFT, signals.ActionIgnored, R, R}}},
	}
	for _, tt := range tests {
		t.Run(tt.sig.String(), func(t *testing.T) {
			var observed []signals.Event
			opts := append([]signals.Option{signals.WithObserver(func(e signals.Event) { observed = append(observed, e) })}, tt.options...)
			d := newDispatcher("a1", opts...)
			require.NoError(t, d.Send(t.Context(), tt.sig, "why"))
			assert.Equal(t, tt.want, d.State())
			hist := d.History()
			assert.Equal(t, tt.events, summarize(hist))
			assert.Equal(t, hist, observed, "observer sees what history keeps")
			last := hist[len(hist)-1]
			assert.Equal(t, agentos.AgentID("a1"), last.Agent)
			assert.Equal(t, tt.result, last.Result)
			if tt.errIs != nil {
				assert.ErrorIs(t, last.Err, tt.errIs)
			} else {
				assert.NoError(t, last.Err)
			}
			if tt.want == signals.Terminated {
				err := d.Err()
				require.ErrorIs(t, err, agentos.ErrKilled)
				var se *signals.SignalError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tt.killed, se.Signal)
				assert.Equal(t, "why", se.Reason)
				assert.Equal(t, agentos.AgentID("a1"), se.Agent)
				select {
				case <-d.Done():
				default:
					t.Fatal("Done not closed")
				}
			} else {
				assert.NoError(t, d.Err())
			}
		})
	}
}

func TestSendInvalid(t *testing.T) {
	d := newDispatcher("a")
	for _, s := range []signals.Signal{0, 13, 255} {
		require.ErrorIs(t, d.Send(t.Context(), s, ""), agentos.ErrInvalid)
	}
	assert.Empty(t, d.History())
}

func TestKillIsIrrevocable(t *testing.T) {
	d := newDispatcher("a")
	require.NoError(t, d.Send(t.Context(), signals.SIGKILL, "stop now"))
	for _, s := range []signals.Signal{signals.SIGCONT, signals.SIGSTOP, signals.SIGINT, signals.SIGTERM, signals.SIGUSR1, signals.SIGLOOP} {
		err := d.Send(t.Context(), s, "")
		require.ErrorIs(t, err, agentos.ErrKilled, s)
		assert.Equal(t, signals.Terminated, d.State())
	}
	// A second kill is idempotent.
	require.NoError(t, d.Send(t.Context(), signals.SIGKILL, "again"))
	require.NoError(t, d.Send(t.Context(), signals.SIGPOLICY, "again"))
	_, done, err := d.Enter(t.Context())
	require.ErrorIs(t, err, agentos.ErrKilled)
	done() // a no-op, never nil
	ran := false
	require.ErrorIs(t, d.Commit(func() error { ran = true; return nil }), agentos.ErrKilled)
	assert.False(t, ran)
	var se *signals.SignalError
	require.ErrorAs(t, d.Err(), &se)
	assert.Equal(t, signals.SIGKILL, se.Signal, "the first cause stays")
	for _, e := range d.History()[1:] {
		assert.Equal(t, signals.ActionIgnored, e.Action)
		assert.Equal(t, signals.Terminated, e.From)
		assert.Equal(t, signals.Terminated, e.To)
	}
}

func TestUncatchableAndUnmaskable(t *testing.T) {
	d := newDispatcher("a")
	h := func(context.Context, signals.Info) error { return nil }
	for _, s := range []signals.Signal{signals.SIGKILL, signals.SIGPOLICY, signals.SIGTRUST, signals.SIGSTOP, signals.SIGCONT, 0, 13} {
		require.ErrorIs(t, d.Handle(s, h), agentos.ErrInvalid, s)
		require.ErrorIs(t, d.Mask(s), agentos.ErrInvalid, s)
		require.ErrorIs(t, d.Unmask(t.Context(), s), agentos.ErrInvalid, s)
	}
	// All or nothing.
	require.ErrorIs(t, d.Mask(signals.SIGINT, signals.SIGKILL), agentos.ErrInvalid)
	assert.Empty(t, d.Masked())
	// A handler installed for a catchable signal does not make KILL catchable.
	require.NoError(t, d.Handle(signals.SIGTERM, h))
	require.NoError(t, d.Send(t.Context(), signals.SIGKILL, ""))
	assert.Equal(t, signals.Terminated, d.State())
}

func TestHandlers(t *testing.T) {
	tests := []struct {
		name    string
		sig     signals.Signal
		handler signals.Handler
		want    signals.State
		action  signals.Action
		errIs   error
	}{
		{"handled INT skips interrupt", signals.SIGINT, okHandler, signals.Running, signals.ActionHandled, nil},
		{"handled BUDGET stays running", signals.SIGBUDGET, okHandler, signals.Running, signals.ActionHandled, nil},
		{"handled LOOP stays running", signals.SIGLOOP, okHandler, signals.Running, signals.ActionHandled, nil},
		{"handled TERM still terminates", signals.SIGTERM, okHandler, signals.Terminated, signals.ActionHandled, nil},
		{"failing LOOP handler: default stop", signals.SIGLOOP, errHandler, signals.Stopped, signals.ActionDefault, errBoom},
		{"panicking LOOP handler: default stop", signals.SIGLOOP, panicHandler, signals.Stopped, signals.ActionDefault, signals.ErrHandlerPanicked},
		{"panicking TERM handler: terminates", signals.SIGTERM, panicHandler, signals.Terminated, signals.ActionDefault, signals.ErrHandlerPanicked},
		{"panicking USR1 handler: hook not configured", signals.SIGUSR1, panicHandler, signals.Running, signals.ActionIgnored, signals.ErrHandlerPanicked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDispatcher("a")
			require.NoError(t, d.Handle(tt.sig, tt.handler))
			require.NoError(t, d.Send(t.Context(), tt.sig, "r"))
			assert.Equal(t, tt.want, d.State())
			h := d.History()
			require.Len(t, h, 1)
			assert.Equal(t, tt.action, h[0].Action)
			if tt.errIs != nil {
				assert.ErrorIs(t, h[0].Err, tt.errIs)
			} else {
				assert.NoError(t, h[0].Err)
			}
		})
	}
}

var errBoom = errors.New("boom")

func okHandler(context.Context, signals.Info) error    { return nil }
func errHandler(context.Context, signals.Info) error   { return errBoom }
func panicHandler(context.Context, signals.Info) error { panic("handler bug") }

func TestHandlerResetAndInfo(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := newDispatcher("agent-7", signals.WithClock(func() time.Time { return now }))
	var got signals.Info
	require.NoError(t, d.Handle(signals.SIGDRIFT, func(_ context.Context, i signals.Info) error { got = i; return nil }))
	require.NoError(t, d.Send(t.Context(), signals.SIGDRIFT, "cos 0.41"))
	assert.Equal(t, signals.Info{Agent: "agent-7", Signal: signals.SIGDRIFT, Reason: "cos 0.41", Time: now}, got)
	require.NoError(t, d.Handle(signals.SIGDRIFT, nil))
	require.NoError(t, d.Send(t.Context(), signals.SIGDRIFT, ""))
	h := d.History()
	assert.Equal(t, []evSummary{
		{signals.SIGDRIFT, signals.ActionHandled, signals.Running, signals.Running},
		{signals.SIGDRIFT, signals.ActionIgnored, signals.Running, signals.Running},
	}, summarize(h))
	assert.Equal(t, now, h[0].Time)
	assert.Equal(t, uint64(1), h[0].Seq)
	assert.Equal(t, uint64(2), h[1].Seq)
}

func TestHandlerReentrant(t *testing.T) {
	var observed []signals.Signal
	var d *signals.Dispatcher
	d = newDispatcher("a", signals.WithObserver(func(e signals.Event) {
		observed = append(observed, e.Signal)
		_ = d.State() // the observer may call the dispatcher
	}))
	require.NoError(t, d.Handle(signals.SIGLOOP, func(ctx context.Context, _ signals.Info) error {
		require.Equal(t, signals.Running, d.State())
		require.NoError(t, d.Send(ctx, signals.SIGSTOP, "from handler"))
		require.NoError(t, d.Mask(signals.SIGDRIFT))
		return nil
	}))
	require.NoError(t, d.Send(t.Context(), signals.SIGLOOP, ""))
	assert.Equal(t, signals.Stopped, d.State())
	assert.Equal(t, []signals.Signal{signals.SIGDRIFT}, d.Masked())
	assert.Equal(t, []signals.Signal{signals.SIGSTOP, signals.SIGLOOP}, observed)
}

func TestDefaultActions(t *testing.T) {
	tests := []struct {
		sig  signals.Signal
		act  signals.DefaultAction
		want signals.State
	}{
		{signals.SIGLOOP, signals.DefaultIgnore, signals.Running},
		{signals.SIGLOOP, signals.DefaultStop, signals.Stopped},
		{signals.SIGLOOP, signals.DefaultTerminate, signals.Terminated},
		{signals.SIGDRIFT, signals.DefaultIgnore, signals.Running},
		{signals.SIGDRIFT, signals.DefaultStop, signals.Stopped},
		{signals.SIGDRIFT, signals.DefaultTerminate, signals.Terminated},
	}
	for _, tt := range tests {
		t.Run(tt.sig.String()+"/"+tt.act.String(), func(t *testing.T) {
			d := newDispatcher("a", signals.WithDefaultAction(tt.sig, tt.act))
			require.NoError(t, d.Send(t.Context(), tt.sig, ""))
			assert.Equal(t, tt.want, d.State())
		})
	}
}

// A bad default action is an error from New, as for every option that can
// fail, never a panic.
func TestDefaultActionRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  signals.Option
	}{
		{"signal without a configurable default", signals.WithDefaultAction(signals.SIGKILL, signals.DefaultIgnore)},
		{"undefined action", signals.WithDefaultAction(signals.SIGLOOP, signals.DefaultAction(9))},
		{"nil option", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var (
				d   *signals.Dispatcher
				err error
			)
			require.NotPanics(t, func() { d, err = signals.New("a", tt.opt) })
			require.ErrorIs(t, err, agentos.ErrInvalid)
			assert.Nil(t, d)
		})
	}
}

func TestHooks(t *testing.T) {
	d := newDispatcher("a",
		signals.WithSnapshot(func(context.Context) (string, error) { return "", errBoom }),
		signals.WithCheckpoint(func(context.Context) (string, error) { panic("disk on fire") }),
	)
	require.NoError(t, d.Send(t.Context(), signals.SIGUSR1, ""))
	require.NoError(t, d.Send(t.Context(), signals.SIGUSR2, ""))
	h := d.History()
	require.Len(t, h, 2)
	assert.ErrorIs(t, h[0].Err, errBoom)
	assert.ErrorIs(t, h[1].Err, signals.ErrHandlerPanicked)
	assert.Equal(t, signals.Running, d.State())
}

func TestStopCont(t *testing.T) {
	d := newDispatcher("a")
	ctx := t.Context()
	require.NoError(t, d.Send(ctx, signals.SIGSTOP, ""))
	require.NoError(t, d.Send(ctx, signals.SIGSTOP, "again"))
	require.NoError(t, d.Send(ctx, signals.SIGBUDGET, "over"))
	require.NoError(t, d.Send(ctx, signals.SIGCONT, ""))
	require.NoError(t, d.Send(ctx, signals.SIGCONT, "again"))
	assert.Equal(t, []evSummary{
		{signals.SIGSTOP, signals.ActionDefault, signals.Running, signals.Stopped},
		{signals.SIGSTOP, signals.ActionIgnored, signals.Stopped, signals.Stopped},
		{signals.SIGBUDGET, signals.ActionIgnored, signals.Stopped, signals.Stopped},
		{signals.SIGCONT, signals.ActionDefault, signals.Stopped, signals.Running},
		{signals.SIGCONT, signals.ActionIgnored, signals.Running, signals.Running},
	}, summarize(d.History()))
}

func TestMaskPendingInOrder(t *testing.T) {
	d := newDispatcher("a")
	var mu sync.Mutex
	var delivered []string
	rec := func(_ context.Context, i signals.Info) error {
		mu.Lock()
		defer mu.Unlock()
		delivered = append(delivered, i.Signal.String()+":"+i.Reason)
		return nil
	}
	for _, s := range []signals.Signal{signals.SIGINT, signals.SIGTERM, signals.SIGLOOP, signals.SIGUSR1} {
		require.NoError(t, d.Handle(s, rec))
	}
	ctx := t.Context()
	require.NoError(t, d.Mask(signals.SIGINT, signals.SIGTERM, signals.SIGLOOP, signals.SIGUSR1))
	require.NoError(t, d.Send(ctx, signals.SIGUSR1, "1"))
	require.NoError(t, d.Send(ctx, signals.SIGLOOP, "2"))
	require.NoError(t, d.Send(ctx, signals.SIGUSR1, "3")) // coalesced with "1"
	require.NoError(t, d.Send(ctx, signals.SIGTERM, "4"))
	require.NoError(t, d.Send(ctx, signals.SIGINT, "5"))
	// Unmaskable signals are never held back.
	require.NoError(t, d.Send(ctx, signals.SIGSTOP, ""))
	require.NoError(t, d.Send(ctx, signals.SIGCONT, ""))
	assert.Empty(t, delivered)
	assert.Equal(t, []signals.Signal{signals.SIGUSR1, signals.SIGLOOP, signals.SIGTERM, signals.SIGINT}, d.Pending())

	// Unmasking some delivers only those, in order.
	require.NoError(t, d.Unmask(ctx, signals.SIGINT, signals.SIGUSR1))
	assert.Equal(t, []string{"SIGUSR1:1", "SIGINT:5"}, delivered)
	assert.Equal(t, []signals.Signal{signals.SIGLOOP, signals.SIGTERM}, d.Pending())
	assert.Equal(t, []signals.Signal{signals.SIGTERM, signals.SIGLOOP}, d.Masked())

	require.NoError(t, d.Unmask(ctx, signals.SIGTERM, signals.SIGLOOP))
	assert.Equal(t, []string{"SIGUSR1:1", "SIGINT:5", "SIGLOOP:2", "SIGTERM:4"}, delivered)
	assert.Equal(t, signals.Terminated, d.State())
	assert.Empty(t, d.Pending())

	actions := []signals.Action{}
	for _, e := range d.History()[:5] {
		actions = append(actions, e.Action)
	}
	assert.Equal(t, []signals.Action{signals.ActionPending, signals.ActionPending, signals.ActionCoalesced, signals.ActionPending, signals.ActionPending}, actions)
}

func TestPendingDroppedAtKill(t *testing.T) {
	d := newDispatcher("a")
	ran := false
	require.NoError(t, d.Handle(signals.SIGINT, func(context.Context, signals.Info) error { ran = true; return nil }))
	require.NoError(t, d.Mask(signals.SIGINT))
	require.NoError(t, d.Send(t.Context(), signals.SIGINT, ""))
	require.NoError(t, d.Send(t.Context(), signals.SIGKILL, ""))
	assert.Empty(t, d.Pending())
	require.NoError(t, d.Unmask(t.Context(), signals.SIGINT))
	assert.False(t, ran)
}

func TestHistoryBound(t *testing.T) {
	d := newDispatcher("a", signals.WithHistory(4))
	for range 10 {
		require.NoError(t, d.Send(t.Context(), signals.SIGCONT, ""))
	}
	h := d.History()
	require.Len(t, h, 4)
	for i, e := range h {
		assert.Equal(t, uint64(7+i), e.Seq)
	}
}

func TestObserverOverflowIsCounted(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	var mu sync.Mutex
	var got, dropped uint64
	first := true
	d := newDispatcher("a", signals.WithObserver(func(e signals.Event) {
		mu.Lock()
		f := first
		first = false
		got++
		dropped += e.Dropped
		mu.Unlock()
		if f {
			close(entered)
			<-release
		}
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Send(context.Background(), signals.SIGCONT, "slow observer")
	}()
	<-entered
	const n = 3000
	for range n {
		require.NoError(t, d.Send(t.Context(), signals.SIGCONT, ""))
	}
	close(release)
	<-done
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, uint64(n+1), got+dropped, "every event is either observed or counted as dropped")
	assert.Equal(t, uint64(n-1024), dropped)
}
