package kernel_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/iatp"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

const trustPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: trust, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: send
      effect: allow
      when: action.op == "send" && action.meta.direction != "receive"
    - name: receive-trusted
      effect: allow
      when: >-
        action.op == "send" && action.meta.direction == "receive" &&
        peer.present && peer.trust >= 0.7
    - name: receive-lookups
      effect: allow
      when: >-
        action.op == "send" && action.meta.direction == "receive" &&
        peer.present && action.target.endsWith(".lookup")
    - name: receive-handshakes
      effect: allow
      when: >-
        action.op == "send" && action.meta.direction == "receive" &&
        peer.present && action.target.startsWith("hs.")
    - name: receive-unsigned-audit
      effect: allow
      when: >-
        action.op == "send" && action.meta.direction == "receive" &&
        !peer.present && action.target == "open"
    - name: no-drop
      effect: deny
      when: action.op == "exec" && action.tool == "drop"
`

// trustWorld is a kernel with an iatp registry, a memory bus and identities.
type trustWorld struct {
	k     *kerneltest.Kernel
	bus   *amb.Memory
	reg   *iatp.Registry
	clock *kerneltest.Clock
	ids   map[string]*iatp.Identity
}

func newTrustWorld(t *testing.T, require_ bool, opts ...kernel.Option) *trustWorld {
	t.Helper()
	clock := kerneltest.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	bus := amb.NewMemory(&amb.MemoryOptions{Options: amb.Options{Retry: amb.Retry{MaxAttempts: 1}}})
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	reg := iatp.NewRegistry(iatp.WithClock(clock.Now))
	w := &trustWorld{bus: bus, reg: reg, clock: clock, ids: map[string]*iatp.Identity{}}
	// alice: trusted, ephemeral (score 7+1=8); bob: standard, session (5);
	// carol: trusted, permanent (7-1=6).
	w.register(t, "alice", iatp.Trusted, iatp.RetentionEphemeral)
	w.register(t, "bob", iatp.Standard, iatp.RetentionSession)
	w.register(t, "carol", iatp.Trusted, iatp.RetentionPermanent)
	all := append([]kernel.Option{
		kerneltest.Policy(trustPolicy), kernel.WithBus(bus), kernel.WithClock(clock.Now),
		kernel.WithIATP(kernel.Trust{Registry: reg, RequireSigned: require_}),
		kernel.WithTool("drop", func(context.Context, map[string]any) (any, error) { return nil, nil }),
	}, opts...)
	w.k = kerneltest.New(t, all...)
	return w
}

func (w *trustWorld) register(t *testing.T, name string, level iatp.TrustLevel, ret iatp.Retention) {
	t.Helper()
	id, err := iatp.NewIdentity(nil)
	require.NoError(t, err)
	sm, err := iatp.SignManifest(id, iatp.Manifest{
		Name: name, TrustLevel: level,
		Reversibility: iatp.Reversibility{Level: iatp.ReversibleNone},
		Privacy:       iatp.Privacy{Retention: ret},
		IssuedAt:      w.clock.Now().Add(-time.Hour), Expires: w.clock.Now().Add(24 * time.Hour),
	})
	require.NoError(t, err)
	require.NoError(t, w.reg.Register(sm))
	w.ids[name] = id
}

func (w *trustWorld) spawn(t *testing.T, name string) *kernel.Agent {
	t.Helper()
	return w.k.MustSpawn(agentos.AgentID(name), kernel.WithIdentity(w.ids[name]))
}

// inbox subscribes agent a to topic and passes each delivery's signer on.
func inbox(t *testing.T, a *kernel.Agent, topic string) chan iatp.Peer {
	t.Helper()
	got := make(chan iatp.Peer, 16)
	sub, err := a.Subscribe(t.Context(), topic, func(ctx context.Context, d amb.Delivery) error {
		p, _ := kernel.Signer(ctx)
		got <- p
		return nil
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return got
}

func TestTrustVerifiedPeerInPolicy(t *testing.T) {
	w := newTrustWorld(t, false)
	alice, bob, carol := w.spawn(t, "alice"), w.spawn(t, "bob"), w.spawn(t, "carol")
	got := inbox(t, carol, "orders")

	// alice (score 8) is let through; the handler learns who signed.
	require.NoError(t, alice.Publish(t.Context(), "orders", amb.Message{Payload: []byte("buy 10")}))
	p := <-got
	assert.Equal(t, w.ids["alice"].ID(), p.ID)
	d := w.k.LastDecision("carol")
	assert.Equal(t, "receive-trusted", d.Rule)
	assert.Equal(t, w.ids["alice"].ID(), d.Meta[kernel.MetaSigner])

	// bob (score 5) is refused by the default; the handler never runs.
	require.NoError(t, bob.Publish(t.Context(), "orders", amb.Message{Payload: []byte("buy 20")}))
	require.Eventually(t, func() bool {
		d := w.k.LastDecision("carol")
		return d.Status == recorder.StatusDenied && d.Meta[kernel.MetaSigner] == w.ids["bob"].ID()
	}, 5*time.Second, time.Millisecond)
	assert.Empty(t, got)

	// An agent's own trust is its registry score / 10.
	assert.InDelta(t, 0.8, alice.Trust(), 1e-9)
	assert.InDelta(t, 0.5, bob.Trust(), 1e-9)
}

// Messages that do not carry a valid signature never reach the handler.
func TestTrustForgedMessagesRefused(t *testing.T) {
	w := newTrustWorld(t, true)
	alice := w.spawn(t, "alice")
	carol := w.spawn(t, "carol")
	plain := w.k.MustSpawn("plain") // no identity
	got := inbox(t, carol, "orders")
	ctx := t.Context()

	mallory, err := iatp.NewIdentity(nil) // not registered
	require.NoError(t, err)
	sealed := func(id *iatp.Identity, topic string, payload []byte) amb.Message {
		env, err := iatp.Seal(id, topic, payload, w.clock.Now())
		require.NoError(t, err)
		return amb.Message{Payload: payload, Headers: map[string]string{kernel.HeaderEnvelope: env.EncodeString()}}
	}
	good := sealed(w.ids["alice"], "orders", []byte("buy 10"))
	tampered := good.Clone()
	tampered.Payload = []byte("buy 99")

	cases := []struct {
		name string
		send func() error
	}{
		{"unsigned, from outside a kernel", func() error { return w.bus.Publish(ctx, "orders", amb.Message{Payload: []byte("x")}) }},
		{"unsigned, from an agent without identity", func() error {
			return plain.Publish(ctx, "orders", amb.Message{Payload: []byte("x")})
		}},
		{"an agent's forged envelope header is replaced", func() error {
			m := good.Clone()
			m.Headers = map[string]string{"agentos-envelope": good.Headers[kernel.HeaderEnvelope]}
			return plain.Publish(ctx, "orders", m)
		}},
		{"unregistered key", func() error { return w.bus.Publish(ctx, "orders", sealed(mallory, "orders", []byte("x"))) }},
		{"tampered payload", func() error { return w.bus.Publish(ctx, "orders", tampered) }},
		{"sealed for another topic", func() error {
			return w.bus.Publish(ctx, "orders", sealed(w.ids["alice"], "other", []byte("x")))
		}},
		{"garbage envelope", func() error {
			return w.bus.Publish(ctx, "orders", amb.Message{Payload: []byte("x"), Headers: map[string]string{kernel.HeaderEnvelope: "AAAA"}})
		}},
	}
	// The genuine message first, then its replay.
	require.NoError(t, w.bus.Publish(ctx, "orders", good))
	<-got
	cases = append(cases, struct {
		name string
		send func() error
	}{"replayed", func() error { return w.bus.Publish(ctx, "orders", good) }})

	for _, c := range cases {
		before := len(w.k.Decisions("carol"))
		require.NoError(t, c.send(), c.name)
		require.Eventually(t, func() bool { return len(w.k.Decisions("carol")) > before }, 5*time.Second, time.Millisecond, c.name)
		d := w.k.LastDecision("carol")
		assert.Equal(t, kernel.RuleEnvelope, d.Rule, c.name)
		assert.Equal(t, recorder.StatusDenied, d.Status, c.name)
	}
	assert.Empty(t, got, "no refused message reached the handler")
	require.NoError(t, carol.Err(), "a refused delivery never kills the receiver")
	_ = alice
}

// The privacy guards refuse personal data towards parties that would keep
// it, judged by the verified peer's registered retention.
func TestTrustPrivacyGuards(t *testing.T) {
	w := newTrustWorld(t, false, kernel.WithPrivacyGuards())
	alice, bob, carol := w.spawn(t, "alice"), w.spawn(t, "bob"), w.spawn(t, "carol")
	ctx := t.Context()
	const ssn = "customer 078-05-1120"
	const card = "card 4111 1111 1111 1111"

	// To a topic (retention unknown): both refused, neither published.
	_, err := alice.Request(ctx, "kyc", amb.Message{Payload: []byte(ssn)})
	kerneltest.DeniedBy(t, err, "privacy-ssn")
	err = alice.Publish(ctx, "kyc", amb.Message{Payload: []byte(card)})
	kerneltest.DeniedBy(t, err, "privacy-card")
	d := w.k.LastDecision("alice")
	assert.Empty(t, d.Args, "the payload is shown to policy, never recorded")
	assert.Equal(t, "text", d.Meta[kernel.MetaPayload])

	// A reply goes to the verified requester: its retention decides.
	serve := func(a *kernel.Agent, topic, answer string) {
		sub, err := a.Subscribe(ctx, topic, func(ctx context.Context, d amb.Delivery) error {
			return d.Respond(ctx, amb.Message{Payload: []byte(answer)})
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	serve(alice, "card.lookup", card)
	serve(bob, "ssn.lookup", ssn)

	// bob (session retention) may get the card from alice; carol
	// (permanent) may not.
	reply, err := bob.Request(ctx, "card.lookup", amb.Message{Payload: []byte("which card?")})
	require.NoError(t, err)
	assert.Equal(t, card, string(reply.Payload))
	_, err = carol.Request(ctx, "card.lookup", amb.Message{Payload: []byte("which card?")})
	require.Error(t, err)
	rd := w.k.LastDecision("alice")
	assert.Equal(t, "privacy-card", rd.Rule)
	assert.Equal(t, w.ids["carol"].ID(), rd.Meta[kernel.MetaSigner])

	// An SSN goes only to an ephemeral peer: alice yes, carol no.
	reply, err = alice.Request(ctx, "ssn.lookup", amb.Message{Payload: []byte("whose?")})
	require.NoError(t, err)
	assert.Equal(t, ssn, string(reply.Payload))
	_, err = carol.Request(ctx, "ssn.lookup", amb.Message{Payload: []byte("whose?")})
	require.Error(t, err)
	assert.Equal(t, "privacy-ssn", w.k.LastDecision("bob").Rule)
}

// Violations cost reputation; below the threshold the kernel sends
// SIGTRUST, and the trail says why.
func TestTrustSIGTRUST(t *testing.T) {
	w := newTrustWorld(t, false)
	alice := w.spawn(t, "alice")
	bob := w.spawn(t, "bob") // score 5: two violations (-2 each) take it below 3

	_, err := w.k.Report(t.Context(), "alice", iatp.Event{Kind: iatp.Failure})
	require.NoError(t, err)
	require.NoError(t, alice.Err())

	_, err = bob.Exec(t.Context(), "drop", nil) // a violation: SIGPOLICY kills bob
	kerneltest.DeniedBy(t, err, "no-drop")
	kerneltest.Killed(t, bob.Err())
	sc, err := w.reg.Score(w.ids["bob"].ID())
	require.NoError(t, err)
	assert.InDelta(t, 3.0, sc.Total, 1e-9, "the violation was reported to the registry")

	// The host reports on alice until she drops below 3.
	for range 3 {
		_, err = w.k.Report(t.Context(), "alice", iatp.Event{Kind: iatp.Violation})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return alice.Err() != nil }, 5*time.Second, time.Millisecond)
	sigtrust := false
	for _, e := range w.k.Trail("alice") {
		if e.Kind == recorder.KindSignal && strings.HasPrefix(e.Detail, signals.SIGTRUST.String()) {
			sigtrust = true
			assert.Contains(t, e.Message, "fell below")
		}
	}
	assert.True(t, sigtrust, "the trail records SIGTRUST and why")

	// Errors.
	_, err = w.k.Report(t.Context(), "nobody", iatp.Event{Kind: iatp.Success})
	require.ErrorIs(t, err, agentos.ErrNotFound)
	w.k.MustSpawn("anon")
	_, err = w.k.Report(t.Context(), "anon", iatp.Event{Kind: iatp.Success})
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestTrustOptions(t *testing.T) {
	id, err := iatp.NewIdentity(nil)
	require.NoError(t, err)
	for name, opts := range map[string][]kernel.Option{
		"no registry":     {kernel.WithIATP(kernel.Trust{})},
		"threshold":       {kernel.WithIATP(kernel.Trust{Registry: iatp.NewRegistry(), Threshold: 11})},
		"twice":           {kernel.WithIATP(kernel.Trust{Registry: iatp.NewRegistry()}), kernel.WithIATP(kernel.Trust{Registry: iatp.NewRegistry()})},
		"privacy on eval": {kernel.WithPolicy(engine(t, trustPolicy)), kernel.WithPrivacyGuards()},
	} {
		t.Run(name, func(t *testing.T) {
			k, err := kernel.New(opts...)
			if k != nil {
				require.NoError(t, k.Close())
			}
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	k := kerneltest.New(t)
	_, err = k.Spawn(t.Context(), "a", kernel.WithIdentity(id))
	require.ErrorIs(t, err, agentos.ErrInvalid, "an identity needs WithIATP")
}

func engine(t *testing.T, src string) *policy.Engine {
	t.Helper()
	doc, err := policy.Parse("p.yaml", []byte(src))
	require.NoError(t, err)
	e, err := policy.NewEngine([]*policy.Document{doc})
	require.NoError(t, err)
	return e
}

func TestTrustHandshakeOverBus(t *testing.T) {
	w := newTrustWorld(t, false)
	alice, bob, carol := w.spawn(t, "alice"), w.spawn(t, "bob"), w.spawn(t, "carol")
	ctx := t.Context()
	for _, a := range []*kernel.Agent{alice, bob} {
		sub, err := a.ServeHandshakes(ctx, "hs."+string(a.ID()))
		require.NoError(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}

	// carol (score 6) verifies alice (score 8): live, her key, trusted.
	p, err := carol.Handshake(ctx, "hs.alice", w.ids["alice"].ID())
	require.NoError(t, err)
	assert.Equal(t, "alice", p.Name)

	// bob's score (5) is below the default requirement (7).
	_, err = alice.Handshake(ctx, "hs.bob", w.ids["bob"].ID())
	require.ErrorIs(t, err, iatp.ErrInsufficientTrust)
	require.ErrorIs(t, err, agentos.ErrUntrusted)

	// Asking bob's endpoint to prove alice's identity fails: bob refuses a
	// challenge not addressed to him, and nothing answers for alice there.
	_, err = carol.Handshake(ctx, "hs.bob", w.ids["alice"].ID())
	require.Error(t, err)

	// An agent without an identity cannot take part.
	anon := w.k.MustSpawn("anon")
	_, err = anon.Handshake(ctx, "hs.alice", w.ids["alice"].ID())
	require.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = anon.ServeHandshakes(ctx, "hs.anon")
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

// A peer whose verdict is warn (score 3 to 6) needs an override: policy
// sends its messages to the host's approver.
func TestTrustWarnNeedsOverride(t *testing.T) {
	var (
		mu    sync.Mutex
		asked []string
	)
	approver := func(_ context.Context, act agentos.Action, _ agentos.Decision) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, act.Meta[kernel.MetaSigner])
		return act.Target == "ok", nil
	}
	w := newTrustWorld(t, false, kernel.WithApprover(approver, time.Second))
	require.NoError(t, w.k.ReloadPolicy(t.Context(), []*policy.Document{mustDoc(t, `
apiVersion: agentos/v1
kind: Policy
metadata: {name: warn}
spec:
  defaultEffect: deny
  rules:
    - name: send
      effect: allow
      when: action.op == "send" && action.meta.direction != "receive"
    - name: allow-verdict
      effect: allow
      when: action.meta.direction == "receive" && peer.present && peer.labels["iatp.verdict"] == "allow"
    - name: warn-needs-override
      effect: approve
      when: action.meta.direction == "receive" && peer.present && peer.labels["iatp.verdict"] == "warn"
`)}))
	bob, carol := w.spawn(t, "bob"), w.spawn(t, "carol") // bob: score 5, warn
	got := make(chan string, 4)
	for _, topic := range []string{"ok", "no"} {
		sub, err := carol.Subscribe(t.Context(), topic, func(_ context.Context, d amb.Delivery) error {
			got <- d.Topic
			return nil
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	require.NoError(t, bob.Publish(t.Context(), "no", amb.Message{Payload: []byte("x")}))
	require.NoError(t, bob.Publish(t.Context(), "ok", amb.Message{Payload: []byte("y")}))
	assert.Equal(t, "ok", <-got, "only the approved delivery reached the handler")
	require.Eventually(t, func() bool { return len(w.k.Decisions("carol")) == 2 }, 5*time.Second, time.Millisecond)
	mu.Lock()
	assert.Equal(t, []string{w.ids["bob"].ID(), w.ids["bob"].ID()}, asked)
	mu.Unlock()
	assert.Empty(t, got)
}

func mustDoc(t *testing.T, src string) *policy.Document {
	t.Helper()
	d, err := policy.Parse("p.yaml", []byte(src))
	require.NoError(t, err)
	return d
}

// A signed broadcast reaches every agent of the kernel subscribed to its
// topic, each verifying it once: replay protection is per receiver, not
// per kernel.
func TestTrustBroadcastToSeveralSubscribers(t *testing.T) {
	w := newTrustWorld(t, true)
	alice := w.spawn(t, "alice")
	carolIn := inbox(t, w.spawn(t, "carol"), "orders")
	bobIn := inbox(t, w.spawn(t, "bob"), "orders")

	require.NoError(t, alice.Publish(t.Context(), "orders", amb.Message{Payload: []byte("buy 10")}))
	for name, in := range map[string]chan iatp.Peer{"carol": carolIn, "bob": bobIn} {
		select {
		case p := <-in:
			assert.Equal(t, w.ids["alice"].ID(), p.ID, name)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s never received the broadcast; its last decision: %+v", name, w.k.LastDecision(agentos.AgentID(name)))
		}
	}
}
