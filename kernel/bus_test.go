package kernel_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// newBusKernel builds a kernel on a fresh memory bus that dead-letters a
// failing message at its first failure, with agents "reporter" and
// "auditor".
func newBusKernel(t *testing.T, opts ...kernel.Option) (*kerneltest.Kernel, *amb.Memory) {
	t.Helper()
	bus := amb.NewMemory(&amb.MemoryOptions{Options: amb.Options{Retry: amb.Retry{MaxAttempts: 1}}})
	// Registered before the kernel's cleanup, so it runs after it: the bus
	// outlives the kernel that used it.
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	k := kerneltest.New(t, append([]kernel.Option{kerneltest.Policy(sendPolicy), kernel.WithBus(bus)}, opts...)...)
	k.MustSpawn("reporter")
	k.MustSpawn("auditor")
	return k, bus
}

// collector subscribes on the bus directly, outside the kernel, and keeps
// what arrives.
type collector struct {
	mu   sync.Mutex
	msgs []amb.Message
	got  chan struct{}
}

func collect(t *testing.T, bus amb.Bus, pattern string) *collector {
	t.Helper()
	c := &collector{got: make(chan struct{}, 100)}
	sub, err := bus.Subscribe(context.Background(), pattern, func(_ context.Context, d amb.Delivery) error {
		c.mu.Lock()
		c.msgs = append(c.msgs, d.Message)
		c.mu.Unlock()
		c.got <- struct{}{}
		return nil
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return c
}

// wait waits for the next message and returns it.
func (c *collector) wait(t *testing.T) amb.Message {
	t.Helper()
	select {
	case <-c.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no message arrived")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.msgs[len(c.msgs)-1]
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

func TestPublish(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		setup   func(t *testing.T, k *kerneltest.Kernel, a *kernel.Agent)
		topic   string
		rule    string
		allowed bool
		killed  bool
		errIs   error
	}{
		{name: "allowed", topic: "reports.daily", rule: "publish-reports", allowed: true},
		{name: "denied with kill", topic: "secrets.keys", rule: "no-secrets", killed: true},
		{name: "denied with refuse", topic: "drafts.q3", rule: "no-drafts"},
		{name: "denied by the default effect", topic: "elsewhere", killed: true},
		{name: "reserved topic refused by the kernel", topic: "_dlq.reports.daily", rule: kernel.RuleTopic, errIs: amb.ErrInvalidTopic},
		{name: "malformed topic refused by the kernel", topic: "reports..daily", rule: kernel.RuleTopic, errIs: agentos.ErrInvalid},
		{
			name: "killed publisher",
			setup: func(t *testing.T, k *kerneltest.Kernel, a *kernel.Agent) {
				require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGKILL, ""))
			},
			topic: "reports.daily",
			errIs: agentos.ErrKilled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, bus := newBusKernel(t)
			seen := collect(t, bus, ">")
			a := k.Agent("reporter")
			if tt.setup != nil {
				tt.setup(t, k, a)
			}
			err := a.Publish(ctx, tt.topic, amb.Message{
				Payload:     []byte("numbers"),
				ContentType: "text/plain",
				// Forged identity: the kernel overwrites both, in any case.
				Headers: map[string]string{"Sender": "boss", "sender": "boss", "TRACE-ID": "x", "Team": "blue"},
			})
			if tt.errIs != nil {
				require.ErrorIs(t, err, tt.errIs)
			}
			if tt.errIs == agentos.ErrKilled {
				assert.Empty(t, k.Decisions("reporter"))
				assert.Zero(t, seen.count())
				return
			}
			d := k.LastDecision("reporter")
			assert.Equal(t, agentos.OpSend, d.Op)
			assert.Equal(t, agentos.AgentID(tt.topic), d.Target)
			assert.Equal(t, tt.rule, d.Rule)
			assert.Equal(t, "text/plain", d.PayloadType)
			assert.Equal(t, kernel.DirectionPublish, d.Meta[kernel.MetaDirection])
			if tt.allowed {
				require.NoError(t, err)
				m := seen.wait(t)
				assert.Equal(t, "numbers", string(m.Payload))
				assert.Equal(t, map[string]string{"Sender": "reporter", "Trace-Id": d.Trace, "Team": "blue"}, m.Headers)
				out := k.Query(recorder.Filter{Trace: d.Trace, Kind: recorder.KindOutcome})
				require.Len(t, out, 1)
				assert.Equal(t, recorder.StatusOK, out[0].Status)
				assert.NotEmpty(t, out[0].ResultDigest)
				return
			}
			kerneltest.DeniedBy(t, err, tt.rule)
			assert.Equal(t, recorder.StatusDenied, d.Status)
			if tt.killed {
				assert.Equal(t, signals.Terminated, a.State())
			} else {
				assert.Equal(t, signals.Running, a.State())
			}
			require.NoError(t, bus.Publish(ctx, "probe", amb.Message{}))
			seen.wait(t) // the probe: anything published before it has arrived
			assert.Equal(t, 1, seen.count(), "a denied message reached the bus")
		})
	}
}

// A stopped publisher blocks at the gate until SIGCONT, then publishes.
func TestPublishStopped(t *testing.T) {
	k, bus := newBusKernel(t)
	seen := collect(t, bus, "reports.>")
	a := k.Agent("reporter")
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGSTOP, ""))
	done := make(chan error, 1)
	go func() { done <- a.Publish(context.Background(), "reports.daily", amb.Message{Payload: []byte("x")}) }()
	require.Eventually(t, func() bool { return signalsOf(t, k, a.ID()).Waiting() == 1 }, 5*time.Second, time.Millisecond)
	assert.Zero(t, seen.count())
	assert.Empty(t, k.Decisions("reporter"))
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGCONT, ""))
	require.NoError(t, <-done)
	assert.Equal(t, "reporter", seen.wait(t).Header(amb.HeaderSender))
}

func TestNoBus(t *testing.T) {
	k := newSendKernel(t)
	a := k.Agent("researcher")
	ctx := context.Background()
	require.ErrorIs(t, a.Publish(ctx, "reports.x", amb.Message{}), kernel.ErrNoBus)
	_, err := a.Request(ctx, "reports.x", amb.Message{})
	require.ErrorIs(t, err, kernel.ErrNoBus)
	_, err = a.Subscribe(ctx, "reports.>", func(context.Context, amb.Delivery) error { return nil })
	require.ErrorIs(t, err, kernel.ErrNoBus)
	_, err = kernel.New(kernel.WithBus(nil))
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

// handlerLog records what an agent's handler saw.
type handlerLog struct {
	mu    sync.Mutex
	msgs  []amb.Delivery
	got   chan amb.Delivery
	fail  error
	panic bool
}

func newHandlerLog() *handlerLog { return &handlerLog{got: make(chan amb.Delivery, 100)} }

func (h *handlerLog) handle(_ context.Context, d amb.Delivery) error {
	h.mu.Lock()
	h.msgs = append(h.msgs, d)
	fail, pan := h.fail, h.panic
	h.mu.Unlock()
	h.got <- d
	if pan {
		panic("handler exploded")
	}
	return fail
}

func (h *handlerLog) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.msgs)
}

func recv(t *testing.T, ch <-chan amb.Delivery) amb.Delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("nothing arrived")
	}
	return amb.Delivery{}
}

func TestSubscribe(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		publish   func(t *testing.T, k *kerneltest.Kernel, bus *amb.Memory) error
		handler   func(h *handlerLog)
		delivered bool   // the handler saw the message
		rule      string // of the receive decision
		dead      amb.DeadCause
		killed    bool // the receiver is killed
	}{
		{
			name: "allowed from a governed sender",
			publish: func(t *testing.T, k *kerneltest.Kernel, _ *amb.Memory) error {
				return k.Agent("reporter").Publish(ctx, "reports.daily", amb.Message{Payload: []byte("42"), ContentType: "text/plain"})
			},
			delivered: true,
			rule:      "receive-reports",
		},
		{
			name: "denied: not from the reporter",
			publish: func(t *testing.T, _ *kerneltest.Kernel, bus *amb.Memory) error {
				return bus.Publish(ctx, "reports.daily", amb.Message{Payload: []byte("forged")})
			},
			dead: amb.DeadHandlerError,
		},
		{
			name: "denied: a topic the receiver may not read",
			publish: func(t *testing.T, _ *kerneltest.Kernel, bus *amb.Memory) error {
				return bus.Publish(ctx, "secrets.keys", amb.Message{Payload: []byte("k"), Headers: map[string]string{"Sender": "reporter"}})
			},
			rule: "no-secrets", // a kill rule, yet the receiver lives
			dead: amb.DeadHandlerError,
		},
		{
			name: "handler error dead-letters",
			publish: func(t *testing.T, k *kerneltest.Kernel, _ *amb.Memory) error {
				return k.Agent("reporter").Publish(ctx, "reports.daily", amb.Message{Payload: []byte("42")})
			},
			handler:   func(h *handlerLog) { h.fail = errors.New("cannot file it") },
			delivered: true,
			rule:      "receive-reports",
			dead:      amb.DeadHandlerError,
		},
		{
			name: "handler panic kills the receiver and dead-letters at once",
			publish: func(t *testing.T, k *kerneltest.Kernel, _ *amb.Memory) error {
				return k.Agent("reporter").Publish(ctx, "reports.daily", amb.Message{Payload: []byte("42")})
			},
			handler:   func(h *handlerLog) { h.panic = true },
			delivered: true,
			rule:      "receive-reports",
			dead:      amb.DeadPanic,
			killed:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, bus := newBusKernel(t)
			dlq := collect(t, bus, "_dlq.>")
			auditor := k.Agent("auditor")
			h := newHandlerLog()
			if tt.handler != nil {
				tt.handler(h)
			}
			sub, err := auditor.Subscribe(ctx, ">", h.handle)
			require.NoError(t, err)
			assert.Equal(t, ">", sub.Pattern())
			assert.Equal(t, agentos.AgentID("auditor"), sub.Agent())
			require.NoError(t, tt.publish(t, k, bus))

			if tt.delivered {
				d := recv(t, h.got)
				assert.Equal(t, "reporter", d.Header(amb.HeaderSender))
			}
			if tt.dead != "" {
				dl := dlq.wait(t)
				assert.Equal(t, string(tt.dead), dl.Header(amb.HeaderDeadCause))
			} else {
				// A probe the auditor's policy refuses, to know the first
				// delivery's outcome has been recorded.
				require.NoError(t, bus.Publish(ctx, "probe", amb.Message{}))
				dlq.wait(t)
			}
			if !tt.delivered {
				assert.Zero(t, h.count(), "a denied delivery reached the handler")
			}

			ds := k.Decisions("auditor")
			require.NotEmpty(t, ds)
			d := ds[0]
			assert.Equal(t, agentos.OpSend, d.Op)
			assert.Equal(t, tt.rule, d.Rule)
			assert.Equal(t, kernel.DirectionReceive, d.Meta[kernel.MetaDirection])
			assert.Equal(t, ">", d.Meta[kernel.MetaPattern])
			if tt.delivered {
				assert.Equal(t, agentos.AgentID("reports.daily"), d.Target)
				assert.Equal(t, "reporter", d.Meta[kernel.MetaSender])
				assert.Equal(t, k.LastDecision("reporter").Trace, d.Meta[kernel.MetaTrace])
				assert.Equal(t, kernel.StatusPermitted, d.Status)
			} else {
				assert.Equal(t, recorder.StatusDenied, d.Status)
			}
			if tt.killed {
				require.Eventually(t, func() bool { return auditor.State() == signals.Terminated }, 5*time.Second, time.Millisecond)
				panics := k.Query(recorder.Filter{Agent: "auditor", Kind: recorder.KindPanic})
				require.Len(t, panics, 1)
				assert.Contains(t, panics[0].Message, "handler exploded")
			} else {
				assert.Equal(t, signals.Running, auditor.State())
			}
		})
	}
}

// A stopped receiver's deliveries wait at its gate until SIGCONT.
func TestSubscribeStoppedReceiver(t *testing.T) {
	ctx := context.Background()
	k, _ := newBusKernel(t)
	auditor := k.Agent("auditor")
	h := newHandlerLog()
	_, err := auditor.Subscribe(ctx, "reports.*", h.handle)
	require.NoError(t, err)
	require.NoError(t, k.Signal(context.Background(), auditor.ID(), signals.SIGSTOP, ""))
	require.NoError(t, k.Agent("reporter").Publish(ctx, "reports.daily", amb.Message{Payload: []byte("1")}))
	require.Eventually(t, func() bool { return signalsOf(t, k, auditor.ID()).Waiting() == 1 }, 5*time.Second, time.Millisecond)
	assert.Zero(t, h.count())
	assert.Empty(t, k.Decisions("auditor"))
	require.NoError(t, k.Signal(context.Background(), auditor.ID(), signals.SIGCONT, ""))
	assert.Equal(t, "1", string(recv(t, h.got).Payload))
}

// Once the receiver is killed nothing more is delivered: a delivery waiting
// at the stopped agent's gate fails, and the kernel ends the subscription.
func TestSubscribeKilledReceiver(t *testing.T) {
	ctx := context.Background()
	k, bus := newBusKernel(t)
	auditor := k.Agent("auditor")
	h := newHandlerLog()
	_, err := auditor.Subscribe(ctx, "reports.*", h.handle)
	require.NoError(t, err)
	require.NoError(t, k.Signal(context.Background(), auditor.ID(), signals.SIGSTOP, ""))
	require.NoError(t, k.Agent("reporter").Publish(ctx, "reports.daily", amb.Message{Payload: []byte("1")}))
	require.Eventually(t, func() bool { return signalsOf(t, k, auditor.ID()).Waiting() == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, k.Signal(context.Background(), auditor.ID(), signals.SIGKILL, ""))
	// The waiting delivery fails: it is dead-lettered, or dropped with the
	// subscription when the kernel ends it first.
	require.Eventually(t, func() bool {
		return bus.Stats().Failed+bus.Stats().DeadLettered > 0 || signalsOf(t, k, auditor.ID()).Waiting() == 0
	}, 5*time.Second, time.Millisecond)
	require.NoError(t, k.Agent("reporter").Publish(ctx, "reports.daily", amb.Message{Payload: []byte("2")}))
	time.Sleep(20 * time.Millisecond)
	assert.Zero(t, h.count(), "a killed agent's handler was called")
	assert.Empty(t, k.Decisions("auditor"), "a killed agent's delivery was decided")

	_, err = auditor.Subscribe(ctx, "reports.*", h.handle)
	kerneltest.Killed(t, err)
}

// Request and the reply are both governed sends: the requester's request,
// the responder's delivery and its reply.
func TestRequestReply(t *testing.T) {
	ctx := context.Background()
	k, _ := newBusKernel(t)
	auditor := k.Agent("auditor")
	_, err := auditor.Subscribe(ctx, "reports.query", func(ctx context.Context, d amb.Delivery) error {
		return d.Respond(ctx, amb.Message{Payload: append([]byte("seen: "), d.Payload...), Headers: map[string]string{"Sender": "boss"}})
	})
	require.NoError(t, err)

	reporter := k.Agent("reporter")
	reply, err := reporter.Request(ctx, "reports.query", amb.Message{Payload: []byte("q1")})
	require.NoError(t, err)
	assert.Equal(t, "seen: q1", string(reply.Payload))
	assert.Equal(t, "auditor", reply.Header(amb.HeaderSender), "the kernel stamps the replier")

	req := k.LastDecision("reporter")
	assert.Equal(t, kernel.DirectionRequest, req.Meta[kernel.MetaDirection])
	assert.Equal(t, "publish-reports", req.Rule)
	ds := k.Decisions("auditor")
	require.Len(t, ds, 2)
	assert.Equal(t, kernel.DirectionReceive, ds[0].Meta[kernel.MetaDirection])
	assert.Equal(t, "receive-reports", ds[0].Rule)
	assert.Equal(t, kernel.DirectionReply, ds[1].Meta[kernel.MetaDirection])
	assert.Equal(t, "reporter", ds[1].Meta[kernel.MetaRequester])
	assert.Equal(t, "reply-to-reporter", ds[1].Rule)
	assert.Equal(t, agentos.AgentID("reports.query"), ds[1].Target)

	// A request the policy denies never reaches the bus.
	_, err = reporter.Request(ctx, "drafts.q", amb.Message{})
	kerneltest.DeniedBy(t, err, "no-drafts")
	assert.Len(t, k.Decisions("auditor"), 2)
}

// A reply the policy denies is a violation of the replier: it is not sent,
// the requester's request fails, and the replier is killed (onDeny: kill).
func TestReplyDenied(t *testing.T) {
	ctx := context.Background()
	k, _ := newBusKernel(t)
	auditor := k.Agent("auditor")
	replied := make(chan error, 1)
	_, err := auditor.Subscribe(ctx, "reports.query", func(ctx context.Context, d amb.Delivery) error {
		err := d.Respond(ctx, amb.Message{Payload: []byte("the key"), ContentType: "application/x-secret"})
		replied <- err
		return err
	})
	require.NoError(t, err)
	_, err = k.Agent("reporter").Request(ctx, "reports.query", amb.Message{Payload: []byte("q")})
	require.ErrorIs(t, err, amb.ErrHandlerFailed)
	kerneltest.DeniedBy(t, <-replied, "no-secret-replies")
	require.Eventually(t, func() bool { return auditor.State() == signals.Terminated }, 5*time.Second, time.Millisecond)
	assert.Equal(t, signals.Running, k.Agent("reporter").State())
}

// Close ends every subscription the kernel made, leaving the bus open; a
// later Subscribe fails with ErrClosed.
func TestBusClose(t *testing.T) {
	ctx := context.Background()
	k, bus := newBusKernel(t)
	h := newHandlerLog()
	auditor := k.Agent("auditor")
	_, err := auditor.Subscribe(ctx, "reports.*", h.handle)
	require.NoError(t, err)
	require.NoError(t, k.Close())
	require.NoError(t, bus.Publish(ctx, "reports.daily", amb.Message{Headers: map[string]string{"Sender": "reporter"}}))
	time.Sleep(20 * time.Millisecond)
	assert.Zero(t, h.count())
	assert.Zero(t, bus.Stats().Failed, "no subscription is left to fail")
	_, err = auditor.Subscribe(ctx, "reports.*", h.handle)
	require.ErrorIs(t, err, agentos.ErrClosed)
}

// Unsubscribe ends delivery; it is idempotent.
func TestUnsubscribe(t *testing.T) {
	ctx := context.Background()
	k, bus := newBusKernel(t)
	h := newHandlerLog()
	sub, err := k.Agent("auditor").Subscribe(ctx, "reports.*", h.handle)
	require.NoError(t, err)
	require.NoError(t, sub.Unsubscribe())
	require.NoError(t, sub.Unsubscribe())
	require.NoError(t, bus.Publish(ctx, "reports.daily", amb.Message{Headers: map[string]string{"Sender": "reporter"}}))
	time.Sleep(20 * time.Millisecond)
	assert.Zero(t, h.count())
	lc := k.Query(recorder.Filter{Agent: "auditor", Kind: recorder.KindLifecycle})
	require.Len(t, lc, 2) // spawned, subscribed
	assert.Equal(t, "subscribed", lc[1].Message)
	assert.Equal(t, "pattern=reports.*", lc[1].Detail)
}
