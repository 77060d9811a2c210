package attack

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/iatp"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
)

// Two kernels (two processes, in effect) share one bus; each keeps its own
// registry. The attacker reaches the bus and can read, copy, alter and
// publish any message, but holds no registered key. Every forged message
// must be refused before the receiving agent's handler runs.
const trustAttackPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: trust-attack}
spec:
  defaultEffect: deny
  rules:
    - name: send
      effect: allow
      when: action.op == "send" && action.meta.direction != "receive"
    - name: receive-verified
      effect: allow
      when: action.op == "send" && action.meta.direction == "receive" && peer.present && peer.trust >= 0.7
`

// broadcastKernels are two kernels on one memory bus, each requiring
// signed messages, with alice (kernel A) known to both registries; kernel
// B's agents register their identities in regB.
func broadcastKernels(t *testing.T) (*amb.Memory, *kerneltest.Kernel, *kerneltest.Kernel, *iatp.Registry, *kernel.Agent) {
	t.Helper()
	bus := amb.NewMemory(&amb.MemoryOptions{Options: amb.Options{Retry: amb.Retry{MaxAttempts: 1}}})
	t.Cleanup(func() { _ = bus.Close() })
	regA, regB := iatp.NewRegistry(), iatp.NewRegistry()
	alice := signedIdentity(t, regA, regB)
	kA := kerneltest.New(t, kerneltest.Policy(trustAttackPolicy), kernel.WithBus(bus),
		kernel.WithIATP(kernel.Trust{Registry: regA, RequireSigned: true}))
	kB := kerneltest.New(t, kerneltest.Policy(trustAttackPolicy), kernel.WithBus(bus),
		kernel.WithIATP(kernel.Trust{Registry: regB, RequireSigned: true}))
	return bus, kA, kB, regB, kA.MustSpawn("alice", kernel.WithIdentity(alice))
}

// captureOne is the attacker on the bus: it records the message sender
// publishes on topic with payload, as it went over the bus.
func captureOne(t *testing.T, bus amb.Bus, sender *kernel.Agent, topic, payload string) amb.Message {
	t.Helper()
	tap := make(chan amb.Message, 1)
	tsub, err := bus.Subscribe(t.Context(), topic, func(_ context.Context, d amb.Delivery) error {
		select {
		case tap <- d.Message:
		default:
		}
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, sender.Publish(t.Context(), topic, amb.Message{Payload: []byte(payload)}))
	m := <-tap
	require.NoError(t, tsub.Unsubscribe())
	return m
}

func signedIdentity(t *testing.T, reg ...*iatp.Registry) *iatp.Identity {
	t.Helper()
	id, err := iatp.NewIdentity(nil)
	require.NoError(t, err)
	now := time.Now()
	sm, err := iatp.SignManifest(id, iatp.Manifest{
		Name: "agent", TrustLevel: iatp.Trusted,
		Reversibility: iatp.Reversibility{Level: iatp.ReversibleNone},
		Privacy:       iatp.Privacy{Retention: iatp.RetentionEphemeral},
		IssuedAt:      now.Add(-time.Minute), Expires: now.Add(time.Hour),
	})
	require.NoError(t, err)
	for _, r := range reg {
		require.NoError(t, r.Register(sm))
	}
	return id
}

func TestForgedSendersOnTheBus(t *testing.T) {
	bus := amb.NewMemory(&amb.MemoryOptions{Options: amb.Options{Retry: amb.Retry{MaxAttempts: 1}}})
	t.Cleanup(func() { _ = bus.Close() })
	regA, regB := iatp.NewRegistry(), iatp.NewRegistry()
	alice := signedIdentity(t, regA, regB) // both kernels know alice
	bob := signedIdentity(t, regA, regB)
	kA := kerneltest.New(t, kerneltest.Policy(trustAttackPolicy), kernel.WithBus(bus),
		kernel.WithIATP(kernel.Trust{Registry: regA, RequireSigned: true}))
	kB := kerneltest.New(t, kerneltest.Policy(trustAttackPolicy), kernel.WithBus(bus),
		kernel.WithIATP(kernel.Trust{Registry: regB, RequireSigned: true}))
	sender := kA.MustSpawn("alice", kernel.WithIdentity(alice))
	receiver := kB.MustSpawn("bob", kernel.WithIdentity(bob))
	insider := kA.MustSpawn("insider") // an agent of kernel A with no identity

	var handled atomic.Int64
	sub, err := receiver.Subscribe(t.Context(), "pay.>", func(ctx context.Context, d amb.Delivery) error {
		handled.Add(1)
		return nil
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	// The attacker records one genuine message.
	genuine := captureOne(t, bus, sender, "pay.approve", "invoice 7: 10 EUR")
	require.Eventually(t, func() bool { return handled.Load() == 1 }, 5*time.Second, time.Millisecond)

	mallory, err := iatp.NewIdentity(nil)
	require.NoError(t, err)
	envOf := func(id *iatp.Identity, topic string, p []byte) string {
		e, err := iatp.Seal(id, topic, p, kB.Clock.Now())
		require.NoError(t, err)
		return e.EncodeString()
	}
	with := func(m amb.Message, f func(*amb.Message)) amb.Message { m = m.Clone(); f(&m); return m }
	ctx := t.Context()
	attacks := map[string]func() error{
		"replay to the same topic": func() error { return bus.Publish(ctx, "pay.approve", genuine) },
		"replay to another topic":  func() error { return bus.Publish(ctx, "pay.refund", genuine) },
		"altered payload": func() error {
			return bus.Publish(ctx, "pay.approve", with(genuine, func(m *amb.Message) { m.Payload = []byte("invoice 7: 10000 EUR") }))
		},
		"sender header only": func() error {
			return bus.Publish(ctx, "pay.approve", amb.Message{Payload: []byte("x"), Headers: map[string]string{amb.HeaderSender: "alice"}})
		},
		"self-signed, claiming alice": func() error {
			p := []byte("invoice 8: 1 EUR")
			return bus.Publish(ctx, "pay.approve", amb.Message{Payload: p, Headers: map[string]string{
				amb.HeaderSender: "alice", kernel.HeaderEnvelope: envOf(mallory, "pay.approve", p)}})
		},
		"envelope header in other letter case": func() error {
			p := []byte("invoice 9: 1 EUR")
			return bus.Publish(ctx, "pay.approve", amb.Message{Payload: p, Headers: map[string]string{
				"AGENTOS-ENVELOPE": envOf(mallory, "pay.approve", p)}})
		},
		"an agent copies alice's envelope": func() error {
			return insider.Publish(ctx, "pay.approve", with(genuine, func(m *amb.Message) {}))
		},
		"truncated envelope": func() error {
			return bus.Publish(ctx, "pay.approve", with(genuine, func(m *amb.Message) {
				m.Headers[kernel.HeaderEnvelope] = m.Headers[kernel.HeaderEnvelope][:40]
			}))
		},
	}
	for name, attack := range attacks {
		t.Run(name, func(t *testing.T) {
			before := len(kB.Decisions("bob"))
			require.NoError(t, attack())
			require.Eventually(t, func() bool { return len(kB.Decisions("bob")) > before }, 5*time.Second, time.Millisecond)
			d := kB.LastDecision("bob")
			assert.Equal(t, agentos.Deny, d.Effect)
			assert.Equal(t, kernel.RuleEnvelope, d.Rule, d.Error)
		})
	}

	// Revoked on the receiving side: alice's genuine new messages stop.
	require.NoError(t, regB.Revoke(alice.ID()))
	before := len(kB.Decisions("bob"))
	require.NoError(t, sender.Publish(ctx, "pay.approve", amb.Message{Payload: []byte("invoice 10")}))
	require.Eventually(t, func() bool { return len(kB.Decisions("bob")) > before }, 5*time.Second, time.Millisecond)
	assert.Equal(t, kernel.RuleEnvelope, kB.LastDecision("bob").Rule)

	assert.Equal(t, int64(1), handled.Load(), "only the genuine message reached the handler")
	require.NoError(t, receiver.Err())
	for _, e := range kB.Query(recorder.Filter{Agent: "bob", Kind: recorder.KindOutcome}) {
		assert.Equal(t, recorder.StatusOK, e.Status, "the one outcome is the genuine delivery")
	}
}

// A rotated key: envelopes signed by the old key are refused once the
// handover is applied; the new key is accepted with the old reputation.
func TestRotatedKeyRefused(t *testing.T) {
	bus := amb.NewMemory(&amb.MemoryOptions{Options: amb.Options{Retry: amb.Retry{MaxAttempts: 1}}})
	t.Cleanup(func() { _ = bus.Close() })
	reg := iatp.NewRegistry()
	old := signedIdentity(t, reg)
	rx := signedIdentity(t, reg)
	k := kerneltest.New(t, kerneltest.Policy(trustAttackPolicy), kernel.WithBus(bus),
		kernel.WithIATP(kernel.Trust{Registry: reg, RequireSigned: true}))
	receiver := k.MustSpawn("rx", kernel.WithIdentity(rx))
	var handled atomic.Int64
	sub, err := receiver.Subscribe(t.Context(), "t", func(context.Context, amb.Delivery) error { handled.Add(1); return nil })
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	fresh, h, err := old.Rotate(nil)
	require.NoError(t, err)
	require.NoError(t, reg.Rotate(h))
	publish := func(id *iatp.Identity) recorder.Entry {
		before := len(k.Decisions("rx"))
		p := []byte("hello " + id.ID())
		e, err := iatp.Seal(id, "t", p, k.Clock.Now()) // the kernel's (fake) clock
		require.NoError(t, err)
		require.NoError(t, bus.Publish(t.Context(), "t", amb.Message{Payload: p, Headers: map[string]string{kernel.HeaderEnvelope: e.EncodeString()}}))
		require.Eventually(t, func() bool { return len(k.Decisions("rx")) > before }, 5*time.Second, time.Millisecond)
		return k.LastDecision("rx")
	}
	assert.Equal(t, kernel.RuleEnvelope, publish(old).Rule, "the old key is refused after rotation")
	d := publish(fresh)
	assert.Equal(t, "receive-verified", d.Rule, "the new key carries the manifest over")
	assert.Equal(t, fresh.ID(), d.Meta[kernel.MetaSigner])
	assert.Equal(t, int64(1), handled.Load())
}

// A signed broadcast reaches every subscriber of its topic once; the
// attacker who replays it gets it past none of them, though each receiver
// opens the first copy on its own (replay protection is per receiver).
func TestBroadcastReplayedToEverySubscriber(t *testing.T) {
	bus, _, kB, regB, sender := broadcastKernels(t)

	receivers := []agentos.AgentID{"bob", "carol"}
	var handled [2]atomic.Int64
	for i, id := range receivers {
		r := kB.MustSpawn(id, kernel.WithIdentity(signedIdentity(t, regB)))
		sub, err := r.Subscribe(t.Context(), "pay.>", func(context.Context, amb.Delivery) error {
			handled[i].Add(1)
			return nil
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	genuine := captureOne(t, bus, sender, "pay.approve", "invoice 7: 10 EUR")
	require.Eventually(t, func() bool { return handled[0].Load() == 1 && handled[1].Load() == 1 }, 5*time.Second, time.Millisecond,
		"every subscriber gets the genuine broadcast")

	before := []int{len(kB.Decisions("bob")), len(kB.Decisions("carol"))}
	require.NoError(t, bus.Publish(t.Context(), "pay.approve", genuine))
	for i, id := range receivers {
		require.Eventually(t, func() bool { return len(kB.Decisions(id)) > before[i] }, 5*time.Second, time.Millisecond)
		d := kB.LastDecision(id)
		assert.Equal(t, agentos.Deny, d.Effect, id)
		assert.Equal(t, kernel.RuleEnvelope, d.Rule, id)
		assert.Equal(t, int64(1), handled[i].Load(), "%s handled the replay", id)
	}
}

// An agent that subscribes after a signed broadcast went by is not handed
// a replayed copy of it: the attacker who captured the message cannot
// deliver it to a newcomer, which never opened the original, within the
// replay window. A replaying subscription (DeliverAll), which asks for
// what went by, still gets the genuine retained copy.
func TestBroadcastReplayedToLateSubscriber(t *testing.T) {
	bus, kA, kB, regB, sender := broadcastKernels(t)

	var early, late atomic.Int64
	bob := kB.MustSpawn("bob", kernel.WithIdentity(signedIdentity(t, regB)))
	sub, err := bob.Subscribe(t.Context(), "pay.>", func(context.Context, amb.Delivery) error { early.Add(1); return nil })
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	genuine := captureOne(t, bus, sender, "pay.approve", "invoice 7: 10 EUR")
	require.Eventually(t, func() bool { return early.Load() == 1 }, 5*time.Second, time.Millisecond)

	// A second later (the kernels' fake clocks stand still unless moved;
	// at one instant, before and after cannot be told apart) carol joins.
	kA.Clock.Advance(time.Second)
	kB.Clock.Advance(time.Second)
	carol := kB.MustSpawn("carol", kernel.WithIdentity(signedIdentity(t, regB)))
	lsub, err := carol.Subscribe(t.Context(), "pay.>", func(context.Context, amb.Delivery) error { late.Add(1); return nil })
	require.NoError(t, err)
	t.Cleanup(func() { _ = lsub.Unsubscribe() })
	before := len(kB.Decisions("carol"))
	require.NoError(t, bus.Publish(t.Context(), "pay.approve", genuine))
	require.Eventually(t, func() bool { return len(kB.Decisions("carol")) > before }, 5*time.Second, time.Millisecond)
	d := kB.LastDecision("carol")
	assert.Equal(t, agentos.Deny, d.Effect)
	assert.Equal(t, kernel.RuleEnvelope, d.Rule)
	assert.Equal(t, int64(0), late.Load(), "the late subscriber handled the replay")
	assert.Equal(t, int64(1), early.Load(), "bob refused it as before")

	// What is published after carol subscribed reaches her.
	require.NoError(t, sender.Publish(t.Context(), "pay.approve", amb.Message{Payload: []byte("invoice 8: 12 EUR")}))
	require.Eventually(t, func() bool { return late.Load() == 1 && early.Load() == 2 }, 5*time.Second, time.Millisecond)

	// A subscription that asks for what went by gets the retained genuine
	// copies within the replay window, each once.
	var replayed atomic.Int64
	dave := kB.MustSpawn("dave", kernel.WithIdentity(signedIdentity(t, regB)))
	rsub, err := dave.Subscribe(t.Context(), "pay.>", func(context.Context, amb.Delivery) error { replayed.Add(1); return nil }, amb.DeliverAll())
	require.NoError(t, err)
	t.Cleanup(func() { _ = rsub.Unsubscribe() })
	require.Eventually(t, func() bool { return len(kB.Decisions("dave")) == 3 }, 5*time.Second, time.Millisecond,
		"the three retained messages are each decided")
	assert.Equal(t, int64(2), replayed.Load(), "invoice 7 and invoice 8; the attacker's copy of invoice 7 is the same nonce")
}
