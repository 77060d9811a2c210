package kernel_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/ipc"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// Result and Notes are the payloads of the pipe tests: policy lets a Result
// cross from researcher to summary and refuses Notes.
type (
	Result struct{ Text string }
	Notes  struct{ Raw string }
	Other  struct{}
)

// sendPolicy governs pipes and the bus in the tests of this file and
// bus_test.go.
const sendPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: sends, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: results-to-summary
      effect: allow
      when: >-
        action.op == "send" && action.meta.direction == "pipe" && action.target == "summary" &&
        action.payloadType == "kernel_test.Result" && peer.present && peer.role == "writer"
    - name: no-notes
      effect: deny
      onDeny: refuse
      severity: high
      when: action.op == "send" && action.payloadType == "kernel_test.Notes"
      message: raw notes stay with the researcher
    - name: publish-reports
      effect: allow
      when: >-
        action.op == "send" && action.meta.direction in ["publish", "request"] &&
        action.target.startsWith("reports.")
    - name: receive-reports
      effect: allow
      when: >-
        action.op == "send" && action.meta.direction == "receive" &&
        action.target.startsWith("reports.") && action.meta.sender == "reporter"
    - name: reply-to-reporter
      effect: allow
      when: action.op == "send" && action.meta.direction == "reply" && action.meta.requester == "reporter"
    - name: no-secret-replies
      effect: deny
      when: >-
        action.op == "send" && action.meta.direction == "reply" &&
        action.payloadType == "application/x-secret"
    - name: no-secrets
      effect: deny
      severity: critical
      when: action.op == "send" && action.target.startsWith("secrets.")
      message: secrets never go on the bus
    - name: no-drafts
      effect: deny
      onDeny: refuse
      when: action.op == "send" && action.target.startsWith("drafts.")
      message: drafts are not published
`

func newSendKernel(t *testing.T, opts ...kernel.Option) *kerneltest.Kernel {
	t.Helper()
	k := kerneltest.New(t, append([]kernel.Option{kerneltest.Policy(sendPolicy)}, opts...)...)
	k.MustSpawn("researcher")
	k.MustSpawn("summary", kernel.WithRole("writer"))
	return k
}

// admit runs one crossing of a value of type T through a.Gate(to).
func admit[T any](ctx context.Context, a *kernel.Agent, to agentos.AgentID, v T) error {
	_, err := ipc.PolicyCheck[T](a.Gate(to)).Process(ctx, v)
	return err
}

func TestGate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		setup     func(t *testing.T, k *kerneltest.Kernel)
		cross     func(a *kernel.Agent) error
		target    agentos.AgentID
		payload   string
		rule      string // "" with denied: the default effect
		allowed   bool
		killed    bool // the sender is killed
		errIs     error
		noRecords bool // nothing recorded: the sender was already dead
	}{
		{
			name:    "allowed",
			cross:   func(a *kernel.Agent) error { return admit(ctx, a, "summary", Result{"ok"}) },
			target:  "summary",
			payload: "kernel_test.Result",
			rule:    "results-to-summary",
			allowed: true,
		},
		{
			name:    "denied by the default effect kills",
			cross:   func(a *kernel.Agent) error { return admit(ctx, a, "summary", Other{}) },
			target:  "summary",
			payload: "kernel_test.Other",
			killed:  true,
		},
		{
			name:    "denied by a refuse rule",
			cross:   func(a *kernel.Agent) error { return admit(ctx, a, "summary", Notes{"x"}) },
			target:  "summary",
			payload: "kernel_test.Notes",
			rule:    "no-notes",
		},
		{
			name:    "unknown receiver is refused by the kernel",
			cross:   func(a *kernel.Agent) error { return admit(ctx, a, "ghost", Result{"x"}) },
			target:  "ghost",
			payload: "kernel_test.Result",
			rule:    kernel.RuleReceiver,
			errIs:   kernel.ErrNoReceiver,
		},
		{
			name: "killed receiver is refused by the kernel",
			setup: func(t *testing.T, k *kerneltest.Kernel) {
				require.NoError(t, k.Signal(context.Background(), "summary", signals.SIGKILL, ""))
			},
			cross:   func(a *kernel.Agent) error { return admit(ctx, a, "summary", Result{"x"}) },
			target:  "summary",
			payload: "kernel_test.Result",
			rule:    kernel.RuleReceiver,
			errIs:   agentos.ErrNotFound,
		},
		{
			name:    "malformed receiver id",
			cross:   func(a *kernel.Agent) error { return admit(ctx, a, "bad\nid", Result{"x"}) },
			target:  "bad\nid",
			payload: "kernel_test.Result",
			rule:    kernel.RuleReceiver,
			errIs:   kernel.ErrNoReceiver,
		},
		{
			name: "empty payload type",
			cross: func(a *kernel.Agent) error {
				return a.Gate("summary").Admit(ctx, ipc.Crossing{Value: 1})
			},
			target: "summary",
			rule:   kernel.RulePayloadType,
			errIs:  agentos.ErrInvalid,
		},
		{
			name: "killed sender",
			setup: func(t *testing.T, k *kerneltest.Kernel) {
				require.NoError(t, k.Signal(context.Background(), "researcher", signals.SIGKILL, ""))
			},
			cross:     func(a *kernel.Agent) error { return admit(ctx, a, "summary", Result{"x"}) },
			errIs:     agentos.ErrKilled,
			noRecords: true,
		},
		{
			name: "killed sender and unknown receiver",
			setup: func(t *testing.T, k *kerneltest.Kernel) {
				require.NoError(t, k.Signal(context.Background(), "researcher", signals.SIGKILL, ""))
			},
			cross:     func(a *kernel.Agent) error { return admit(ctx, a, "ghost", Result{"x"}) },
			errIs:     agentos.ErrKilled,
			noRecords: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newSendKernel(t)
			if tt.setup != nil {
				tt.setup(t, k)
			}
			a := k.Agent("researcher")
			err := tt.cross(a)
			if tt.errIs != nil {
				require.ErrorIs(t, err, tt.errIs)
			}
			if tt.noRecords {
				assert.Empty(t, k.Decisions("researcher"))
				return
			}
			d := k.LastDecision("researcher")
			assert.Equal(t, agentos.OpSend, d.Op)
			assert.Equal(t, tt.target, d.Target)
			assert.Equal(t, kernel.DirectionPipe, d.Meta[kernel.MetaDirection])
			if tt.payload != "" {
				assert.Equal(t, tt.payload, d.PayloadType)
			}
			assert.Equal(t, tt.rule, d.Rule)
			if tt.allowed {
				require.NoError(t, err)
				assert.Equal(t, kernel.StatusPermitted, d.Status)
				out := k.Query(recorder.Filter{Trace: d.Trace, Kind: recorder.KindOutcome})
				require.Len(t, out, 1)
				assert.Equal(t, recorder.StatusOK, out[0].Status)
				return
			}
			v := kerneltest.DeniedBy(t, err, tt.rule)
			assert.Equal(t, agentos.OpSend, v.Action.Op)
			assert.Equal(t, recorder.StatusDenied, d.Status)
			assert.Empty(t, k.Query(recorder.Filter{Trace: d.Trace, Kind: recorder.KindOutcome}))
			if tt.killed {
				assert.Equal(t, signals.Terminated, a.State())
				kerneltest.Killed(t, admit(ctx, a, "summary", Result{"later"}))
			} else {
				assert.Equal(t, signals.Running, a.State())
				assert.NotErrorIs(t, admit(ctx, a, "summary", Result{"later"}), agentos.ErrKilled)
			}
		})
	}
}

// A value that is denied never reaches the next stage, through Execute or
// Stream, and allowed values arrive in order.
func TestGateDeniedValueNeverReachesNextStage(t *testing.T) {
	ctx := context.Background()
	k := newSendKernel(t)
	researcher := k.Agent("researcher")

	var reached atomic.Int64
	notesPipe := ipc.Pipe3(
		ipc.Func[string, Notes](func(_ context.Context, topic string) (Notes, error) { return Notes{Raw: topic}, nil }),
		ipc.PolicyCheck[Notes](researcher.Gate("summary")),
		ipc.Func[Notes, string](func(_ context.Context, n Notes) (string, error) { reached.Add(1); return n.Raw, nil }),
	)
	_, err := notesPipe.Execute(ctx, "one")
	kerneltest.DeniedBy(t, err, "no-notes")
	in := make(chan string, 3)
	in <- "a"
	in <- "b"
	in <- "c"
	close(in)
	var denied int
	for r := range notesPipe.Stream(ctx, in) {
		require.ErrorIs(t, r.Err, agentos.ErrDenied)
		denied++
	}
	assert.Equal(t, 3, denied)
	assert.Zero(t, reached.Load(), "a denied value reached the next stage")

	resultPipe := ipc.Pipe3(
		ipc.Func[string, Result](func(_ context.Context, topic string) (Result, error) { return Result{Text: topic}, nil }),
		ipc.PolicyCheck[Result](researcher.Gate("summary")),
		ipc.Func[Result, string](func(_ context.Context, r Result) (string, error) { return "summary of " + r.Text, nil }),
	)
	in = make(chan string, 3)
	in <- "a"
	in <- "b"
	in <- "c"
	close(in)
	var got []string
	for r := range resultPipe.Stream(ctx, in) {
		require.NoError(t, r.Err)
		got = append(got, r.Value)
	}
	assert.Equal(t, []string{"summary of a", "summary of b", "summary of c"}, got)
	assert.Len(t, k.Decisions("researcher"), 1+3+3)
	k.Verify()
}

// A stopped sender's crossing waits at the gate until SIGCONT, and a killed
// sender's waiting crossing fails with ErrKilled.
func TestGateStoppedSender(t *testing.T) {
	for _, resume := range []signals.Signal{signals.SIGCONT, signals.SIGKILL} {
		t.Run(resume.String(), func(t *testing.T) {
			k := newSendKernel(t)
			a := k.Agent("researcher")
			require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGSTOP, ""))
			done := make(chan error, 1)
			go func() { done <- admit(context.Background(), a, "summary", Result{"x"}) }()
			require.Eventually(t, func() bool { return signalsOf(t, k, a.ID()).Waiting() == 1 }, 5*time.Second, time.Millisecond)
			select {
			case err := <-done:
				t.Fatalf("the crossing of a stopped sender returned: %v", err)
			default:
			}
			assert.Empty(t, k.Decisions("researcher"), "nothing is decided while the sender is stopped")
			require.NoError(t, k.Signal(context.Background(), a.ID(), resume, ""))
			err := <-done
			if resume == signals.SIGCONT {
				require.NoError(t, err)
				assert.Equal(t, "results-to-summary", k.LastDecision("researcher").Rule)
			} else {
				kerneltest.Killed(t, err)
			}
		})
	}
}

// A ctx that ends while the sender is stopped fails the crossing with
// ErrStopped; PolicyCheck reports it as a gate failure, never forwarding.
func TestGateStoppedSenderContext(t *testing.T) {
	k := newSendKernel(t)
	a := k.Agent("researcher")
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGSTOP, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := admit(ctx, a, "summary", Result{"x"})
	require.ErrorIs(t, err, agentos.ErrStopped)
	require.ErrorIs(t, err, agentos.ErrDenied) // ipc.GateError
	var ge *ipc.GateError
	require.ErrorAs(t, err, &ge)
}

// WithStrict makes the kernel's own refusal of a crossing kill the sender.
func TestGateStrictKillsOnUnknownReceiver(t *testing.T) {
	k := newSendKernel(t, kernel.WithStrict())
	a := k.Agent("researcher")
	kerneltest.DeniedBy(t, admit(context.Background(), a, "ghost", Result{"x"}), kernel.RuleReceiver)
	assert.Equal(t, signals.Terminated, a.State())
}

// In shadow mode a permitted crossing is recorded with status shadow, and
// the value does not cross.
func TestGateShadow(t *testing.T) {
	k := newSendKernel(t, kernel.WithShadow())
	a := k.Agent("researcher")
	var reached bool
	p := ipc.Then(ipc.PolicyCheck[Result](a.Gate("summary")),
		ipc.Func[Result, Result](func(_ context.Context, r Result) (Result, error) { reached = true; return r, nil }))
	_, err := p.Execute(context.Background(), Result{"x"})
	require.ErrorIs(t, err, kernel.ErrShadowed)
	assert.False(t, reached)
	d := k.LastDecision("researcher")
	out := k.Query(recorder.Filter{Trace: d.Trace, Kind: recorder.KindOutcome})
	require.Len(t, out, 1)
	assert.Equal(t, recorder.StatusShadow, out[0].Status)
}

func TestGateIdentity(t *testing.T) {
	k := newSendKernel(t)
	g := k.Agent("researcher").Gate("summary")
	assert.Equal(t, agentos.AgentID("researcher"), g.From())
	assert.Equal(t, agentos.AgentID("summary"), g.To())
	var _ ipc.Gate = g
	// A receiver that dies is refused at the next crossing.
	require.NoError(t, k.Signal(context.Background(), "summary", signals.SIGKILL, ""))
	err := g.Admit(context.Background(), ipc.Crossing{PayloadType: ipc.TypeName[Result](), Value: Result{}})
	require.True(t, errors.Is(err, kernel.ErrNoReceiver))
}
