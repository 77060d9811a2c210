package kernel_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/iatp"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
)

// BenchmarkSignedMessage measures what signing costs a governed bus
// message: one publish by one agent, delivered to another agent's handler,
// unsigned (agents without identities) and signed (both with identities,
// the delivery verified against the registry), interleaved in the same loop
// with a bare ed25519.Sign and ed25519.Verify of a message of the
// envelope's size, which are the floors.
//
// Reported: each path's ns/msg, the overhead (signed - unsigned), and the
// overhead over the floors: "overhead/verify" (the target, ≤ 1.2,
// is for the receiving side's verification) and "overhead/(sign+verify)"
// (what both ends pay together; 1.0 would be signing and verifying for free
// beyond the signature arithmetic).
//
//	go test -run '^$' -bench SignedMessage -benchtime 3000x -count 3 ./kernel/
func BenchmarkSignedMessage(b *testing.B) {
	reg := iatp.NewRegistry()
	ids := make([]*iatp.Identity, 2)
	for i := range ids {
		id, err := iatp.NewIdentity(nil)
		require.NoError(b, err)
		now := time.Now()
		sm, err := iatp.SignManifest(id, iatp.Manifest{
			Name: "a", TrustLevel: iatp.Trusted,
			Reversibility: iatp.Reversibility{Level: iatp.ReversibleNone},
			Privacy:       iatp.Privacy{Retention: iatp.RetentionEphemeral},
			IssuedAt:      now.Add(-time.Hour), Expires: now.Add(24 * time.Hour),
		})
		require.NoError(b, err)
		require.NoError(b, reg.Register(sm))
		ids[i] = id
	}
	bus := amb.NewMemory(nil)
	b.Cleanup(func() { _ = bus.Close() })
	k := kerneltest.New(b, kerneltest.Policy(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: bench}
spec:
  rules:
    - name: send
      effect: allow
      when: action.op == "send"
`), kernel.WithBus(bus), kernel.WithIATP(kernel.Trust{Registry: reg}))
	type pair struct {
		from *kernel.Agent
		got  chan struct{}
	}
	mk := func(prefix string, signed bool) pair {
		var fromOpts, toOpts []kernel.AgentOption
		if signed {
			fromOpts = append(fromOpts, kernel.WithIdentity(ids[0]))
			toOpts = append(toOpts, kernel.WithIdentity(ids[1]))
		}
		from := k.MustSpawn(agentos.AgentID(prefix+"-from"), fromOpts...)
		to := k.MustSpawn(agentos.AgentID(prefix+"-to"), toOpts...)
		p := pair{from: from, got: make(chan struct{}, 1)}
		sub, err := to.Subscribe(context.Background(), prefix, func(ctx context.Context, d amb.Delivery) error {
			if _, ok := kernel.Signer(ctx); ok != signed {
				b.Errorf("signed=%v delivery, signer present=%v", signed, ok)
			}
			p.got <- struct{}{}
			return nil
		})
		require.NoError(b, err)
		b.Cleanup(func() { _ = sub.Unsubscribe() })
		return p
	}
	unsigned, signed := mk("plain", false), mk("signed", true)
	ctx := context.Background()
	msg := amb.Message{Payload: []byte(`{"order":"buy","qty":10}`)}
	send := func(p pair, topic string) {
		if err := p.from.Publish(ctx, topic, msg); err != nil {
			b.Fatal(err)
		}
		<-p.got
	}
	// The floors: one signature and one verification over 160 bytes, about
	// what an envelope signs.
	_, priv, _ := ed25519.GenerateKey(nil)
	pub := priv.Public().(ed25519.PublicKey)
	blob := make([]byte, 160)
	sig := ed25519.Sign(priv, blob)

	var tu, ts, tv, tsig time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		send(unsigned, "plain")
		t1 := time.Now()
		send(signed, "signed")
		t2 := time.Now()
		if !ed25519.Verify(pub, blob, sig) {
			b.Fatal("verify")
		}
		t3 := time.Now()
		_ = ed25519.Sign(priv, blob)
		t4 := time.Now()
		tu += t1.Sub(t0)
		ts += t2.Sub(t1)
		tv += t3.Sub(t2)
		tsig += t4.Sub(t3)
	}
	n := float64(b.N)
	over := float64(ts-tu) / n
	b.ReportMetric(float64(tu)/n, "unsigned-ns/msg")
	b.ReportMetric(float64(ts)/n, "signed-ns/msg")
	b.ReportMetric(float64(tv)/n, "verify-ns")
	b.ReportMetric(float64(tsig)/n, "sign-ns")
	b.ReportMetric(over/(float64(tv)/n), "overhead/verify")
	b.ReportMetric(over/(float64(tv+tsig)/n), "overhead/(sign+verify)")
}
