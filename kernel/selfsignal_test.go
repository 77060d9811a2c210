package kernel_test

import (
	"context"
	"strings"
	"sync/atomic"
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

// selfSignalPolicy lets an agent use its memory and signal itself.
const selfSignalPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: self-signal, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: memory
      effect: allow
      when: path.under(action.path, "/mem")
    - name: self-signal
      effect: allow
      when: action.op == "signal"
`

// signalDecision returns the one decision entry of agent id for op signal.
func signalDecision(t *testing.T, k *kerneltest.Kernel, id agentos.AgentID) recorder.Entry {
	t.Helper()
	var got []recorder.Entry
	for _, e := range k.Decisions(id) {
		if e.Op == agentos.OpSignal {
			got = append(got, e)
		}
	}
	require.Len(t, got, 1)
	return got[0]
}

// Agent code cannot resume itself after the host's SIGSTOP: its own
// SIGCONT waits at the gate, undecided and unrecorded, until the host
// resumes it; then policy decides it, and a policy without a rule for it
// denies it.
func TestAgentCannotResumeItself(t *testing.T) {
	tests := []struct {
		name   string
		policy []kernel.Option
	}{
		{name: "baseline policy"},
		{name: "test policy", policy: []kernel.Option{kerneltest.Policy(testPolicy)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			k := kerneltest.New(t, tt.policy...)
			a := k.MustSpawn("a")
			require.NoError(t, k.Signal(ctx, "a", signals.SIGSTOP, "operator pause"))

			selfErr := make(chan error, 1)
			runErr := make(chan error, 1)
			go func() {
				runErr <- k.Run(ctx, "a", func(ctx context.Context, a *kernel.Agent) error {
					// From another goroutine, as a misbehaving agent would.
					go func() { selfErr <- a.Signal(ctx, signals.SIGCONT, "resume myself") }()
					<-ctx.Done()
					return ctx.Err()
				})
			}()
			require.Eventually(t, func() bool { return signalsOf(t, k, "a").Waiting() == 1 }, 5*time.Second, time.Millisecond)
			time.Sleep(10 * time.Millisecond)
			select {
			case err := <-selfErr:
				t.Fatalf("the agent's SIGCONT passed a stopped gate: %v", err)
			default:
			}
			assert.Equal(t, signals.Stopped, a.State(), "the agent is still stopped")
			assert.Empty(t, k.Decisions("a"), "nothing is decided while the agent is stopped")

			require.NoError(t, k.Signal(ctx, "a", signals.SIGCONT, "operator resume"))
			v := kerneltest.Denied(t, <-selfErr)
			assert.Equal(t, agentos.OpSignal, v.Action.Op)
			assert.Equal(t, agentos.AgentID("a"), v.Action.Target)
			assert.Equal(t, "SIGCONT", v.Action.Meta["signal"])
			assert.Empty(t, v.Decision.Rule, "denied by the default effect")
			require.ErrorIs(t, <-runErr, agentos.ErrKilled, "a denial kills")

			d := signalDecision(t, k, "a")
			assert.Equal(t, recorder.StatusDenied, d.Status)
			assert.Equal(t, agentos.Deny, d.Effect)
			assert.Equal(t, agentos.AgentID("a"), d.Target)
			assert.Equal(t, map[string]string{"signal": "SIGCONT"}, d.Meta)
			var se *signals.SignalError
			require.ErrorAs(t, a.Err(), &se)
			assert.Equal(t, signals.SIGPOLICY, se.Signal)
			k.Verify()
		})
	}
}

// Even a policy that allows every signal does not let a stopped agent
// resume itself: the syscall waits at the gate, and the agent's context
// ending there gives ErrStopped.
func TestAgentStoppedByItselfStaysStopped(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t, kerneltest.Policy(selfSignalPolicy))
	err := k.Run(ctx, "a", func(ctx context.Context, a *kernel.Agent) error {
		if err := a.Signal(ctx, signals.SIGSTOP, "pause myself"); err != nil {
			return err
		}
		assert.Equal(t, signals.Stopped, a.State())
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		err := a.Signal(cctx, signals.SIGCONT, "resume myself")
		require.ErrorIs(t, err, agentos.ErrStopped)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, signals.Stopped, a.State())
		return nil
	})
	require.NoError(t, err)
	d := signalDecision(t, k, "a")
	assert.Equal(t, "self-signal", d.Rule)
	assert.Equal(t, map[string]string{"signal": "SIGSTOP"}, d.Meta)
	require.NoError(t, k.Signal(ctx, "a", signals.SIGCONT, ""))
	k.Verify()
}

// Under a policy that allows it, an agent's signal goes to the agent
// itself, runs its handler, and is recorded with its decision, its outcome
// and the signal event.
func TestAgentSignalAllowed(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t, kerneltest.Policy(selfSignalPolicy))
	var handled atomic.Int32
	err := k.Run(ctx, "a", func(ctx context.Context, a *kernel.Agent) error {
		require.NoError(t, a.Handle(signals.SIGUSR1, func(_ context.Context, info signals.Info) error {
			assert.Equal(t, agentos.AgentID("a"), info.Agent)
			assert.Equal(t, "progress report", info.Reason)
			handled.Add(1)
			return nil
		}))
		return a.Signal(ctx, signals.SIGUSR1, "progress report")
	})
	require.NoError(t, err)
	assert.EqualValues(t, 1, handled.Load())

	d := signalDecision(t, k, "a")
	assert.Equal(t, kernel.StatusPermitted, d.Status)
	assert.Equal(t, "self-signal", d.Rule)
	assert.Equal(t, agentos.Allow, d.Effect)
	assert.Equal(t, agentos.AgentID("a"), d.Target, "an agent signals only itself")
	assert.Equal(t, map[string]string{"signal": "SIGUSR1"}, d.Meta)

	outs := k.Query(recorder.Filter{Agent: "a", Kind: recorder.KindOutcome})
	require.Len(t, outs, 1)
	assert.Equal(t, d.Trace, outs[0].Trace)
	assert.Equal(t, recorder.StatusOK, outs[0].Status)

	var events []recorder.Entry
	for _, e := range k.Query(recorder.Filter{Agent: "a", Kind: recorder.KindSignal}) {
		if strings.HasPrefix(e.Detail, "SIGUSR1 ") {
			events = append(events, e)
		}
	}
	require.Len(t, events, 1)
	assert.Equal(t, "progress report", events[0].Message)
	assert.Contains(t, events[0].Detail, "handled")

	hist := k.Agent("a").SignalHistory()
	require.NotEmpty(t, hist)
	assert.Equal(t, signals.SIGUSR1, hist[len(hist)-1].Signal)
	k.Verify()
}

// An agent may kill itself when policy allows it; the call reports the
// kill, as every syscall of a killed agent does.
func TestAgentSignalKillsItself(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t, kerneltest.Policy(selfSignalPolicy))
	a := k.MustSpawn("a")
	kerneltest.Killed(t, a.Signal(ctx, signals.SIGKILL, "done for good"))
	assert.Equal(t, signals.Terminated, a.State())
	kerneltest.Killed(t, a.Write(ctx, "/mem/x", nil))
	outs := k.Query(recorder.Filter{Agent: "a", Kind: recorder.KindOutcome})
	require.Len(t, outs, 1)
	assert.Equal(t, kernel.StatusKilled, outs[0].Status)
}

// An undefined signal is refused by the kernel and recorded.
func TestAgentSignalUndefined(t *testing.T) {
	k := kerneltest.New(t, kerneltest.Policy(selfSignalPolicy))
	a := k.MustSpawn("a")
	err := a.Signal(context.Background(), signals.Signal(200), "")
	v := kerneltest.DeniedBy(t, err, kernel.RuleSignal)
	require.ErrorIs(t, err, agentos.ErrInvalid)
	assert.True(t, v.Decision.Refuse)
	assert.Equal(t, signals.Running, a.State())
	assert.Equal(t, kernel.RuleSignal, signalDecision(t, k, "a").Rule)
}

// The signal op has its own method: Do refuses it, so an agent cannot name
// another agent as the target of a signal.
func TestDoRefusesSignal(t *testing.T) {
	k := kerneltest.New(t, kerneltest.Policy(selfSignalPolicy))
	a := k.MustSpawn("a")
	k.MustSpawn("b")
	ran := false
	_, err := a.Do(context.Background(), agentos.Action{Op: agentos.OpSignal, Target: "b"},
		func(context.Context) (any, error) { ran = true; return nil, nil })
	require.ErrorIs(t, err, agentos.ErrInvalid)
	assert.False(t, ran)
	assert.Empty(t, k.Decisions("a"))
}

// The host's signals name an agent of the kernel.
func TestKernelSignalUnknownAgent(t *testing.T) {
	k := kerneltest.New(t)
	require.ErrorIs(t, k.Signal(context.Background(), "ghost", signals.SIGKILL, ""), agentos.ErrNotFound)
	_, err := k.SignalDispatcher("ghost")
	require.ErrorIs(t, err, agentos.ErrNotFound)

	a := k.MustSpawn("a")
	require.ErrorIs(t, k.Signal(context.Background(), "a", signals.Signal(200), ""), agentos.ErrInvalid)
	require.NoError(t, k.Signal(context.Background(), "a", signals.SIGSTOP, ""))
	assert.Equal(t, signals.Stopped, a.State())
	d, err := k.SignalDispatcher("a")
	require.NoError(t, err)
	assert.Equal(t, signals.Stopped, d.State())
	ev := d.History()
	require.NotEmpty(t, ev)
	assert.Equal(t, "sent by the host", ev[len(ev)-1].Reason, "the default reason")
}

// What an agent may do to its own signals: mask, unmask, handle.
func TestAgentMasksItsOwnSignals(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t)
	a := k.MustSpawn("a")
	var handled atomic.Int32
	require.NoError(t, a.Handle(signals.SIGUSR1, func(context.Context, signals.Info) error { handled.Add(1); return nil }))
	require.NoError(t, a.Mask(signals.SIGUSR1))
	assert.Equal(t, []signals.Signal{signals.SIGUSR1}, a.Masked())
	require.NoError(t, k.Signal(ctx, "a", signals.SIGUSR1, ""))
	assert.Equal(t, []signals.Signal{signals.SIGUSR1}, a.Pending())
	assert.Zero(t, handled.Load())
	require.NoError(t, a.Unmask(ctx, signals.SIGUSR1))
	assert.Empty(t, a.Pending())
	assert.EqualValues(t, 1, handled.Load())
	for _, sig := range []signals.Signal{signals.SIGSTOP, signals.SIGCONT} {
		assert.ErrorIs(t, a.Mask(sig), agentos.ErrInvalid, sig.String())
		assert.ErrorIs(t, a.Handle(sig, func(context.Context, signals.Info) error { return nil }), agentos.ErrInvalid, sig.String())
	}
}

// Agent code may handle and mask only its own process signals; the
// governance signals stay the host's, so an agent cannot opt out of a
// budget pause or a loop stop by handling or masking it.
func TestAgentCannotOptOutOfGovernanceSignals(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t, kerneltest.Policy(selfSignalPolicy))
	a := k.MustSpawn("a")
	ignore := func(context.Context, signals.Info) error { return nil }
	for _, sig := range []signals.Signal{signals.SIGBUDGET, signals.SIGLOOP, signals.SIGDRIFT,
		signals.SIGKILL, signals.SIGPOLICY, signals.SIGTRUST, signals.SIGSTOP, signals.SIGCONT} {
		assert.ErrorIs(t, a.Handle(sig, ignore), agentos.ErrInvalid, "handle %s", sig)
		assert.ErrorIs(t, a.Mask(sig), agentos.ErrInvalid, "mask %s", sig)
	}
	assert.Empty(t, a.Masked())
	for _, sig := range []signals.Signal{signals.SIGINT, signals.SIGTERM, signals.SIGUSR1, signals.SIGUSR2} {
		assert.NoError(t, a.Handle(sig, ignore), "handle %s", sig)
	}

	// SIGBUDGET still pauses the agent, whatever it tried.
	require.NoError(t, k.Signal(ctx, "a", signals.SIGBUDGET, "budget spent"))
	assert.Equal(t, signals.Stopped, a.State())

	// The host may install handlers for them.
	d, err := k.SignalDispatcher("a")
	require.NoError(t, err)
	require.NoError(t, d.Handle(signals.SIGLOOP, ignore))
}
