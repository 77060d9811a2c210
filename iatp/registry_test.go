package iatp

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/require"
)

func TestRegistryRegister(t *testing.T) {
	w := newWorld(t, 0)
	a := detIdentity(t, 1)
	sm := signed(t, a, baseManifest(epoch))
	require.NoError(t, w.reg.Register(sm))
	p, ok := w.reg.Lookup(a.ID())
	require.True(t, ok)
	require.Equal(t, a.ID(), p.ID)
	require.Equal(t, "summarizer", p.Name)
	require.Equal(t, a.PublicKey(), p.Key)
	require.Equal(t, 9.0, p.Score.Total)
	require.False(t, p.Revoked)
	require.True(t, p.HasCapabilities("bus:publish", "tool:sql.query"))
	require.False(t, p.HasCapabilities("tool:rm"))

	// The Peer is a copy.
	p.Manifest.Labels["team"] = "mallory"
	p.Manifest.Capabilities[0] = "root"
	p.Key[0] ^= 1
	p2, _ := w.reg.Lookup(a.ID())
	require.Equal(t, "data", p2.Manifest.Labels["team"])
	require.Equal(t, "bus:publish", p2.Manifest.Capabilities[0])
	require.Equal(t, a.PublicKey(), p2.Key)

	// Reputation survives re-registration with a newer manifest.
	_, err := w.reg.Report(a.ID(), Event{Kind: Failure})
	require.NoError(t, err)
	newer := baseManifest(epoch.Add(time.Minute))
	newer.TrustLevel = Standard
	w.clk.Advance(2 * time.Minute)
	require.NoError(t, w.reg.Register(signed(t, a, newer)))
	p3, _ := w.reg.Lookup(a.ID())
	require.Equal(t, Standard, p3.Manifest.TrustLevel)
	require.Less(t, p3.Score.Reputation, 0.0)

	// An older manifest is a downgrade attempt.
	require.ErrorIs(t, w.reg.Register(sm), ErrStale)

	// A manifest claiming a's id with another key.
	b := detIdentity(t, 2)
	forged := signed(t, b, baseManifest(epoch))
	forged.Manifest.AgentID = a.ID()
	require.ErrorIs(t, w.reg.Register(forged), ErrKeyMismatch)

	// Score fails closed once the registered manifest expires.
	w.clk.Advance(25 * time.Hour)
	_, err = w.reg.Score(a.ID())
	require.ErrorIs(t, err, ErrExpired)
	w.clk.Advance(-25 * time.Hour)

	// Not yet valid, expired, tampered.
	future := signed(t, b, baseManifest(epoch.Add(time.Hour)))
	require.ErrorIs(t, w.reg.Register(future), ErrExpired)
	w.clk.Advance(48 * time.Hour)
	require.ErrorIs(t, w.reg.Register(signed(t, b, baseManifest(epoch))), ErrExpired)
	tampered := signed(t, b, baseManifest(w.clk.Now()))
	tampered.Manifest.TrustLevel = VerifiedPartner
	require.ErrorIs(t, w.reg.Register(tampered), ErrBadSignature)
	_, ok = w.reg.Lookup(b.ID())
	require.False(t, ok)
}

func TestRegistryRevoke(t *testing.T) {
	w := newWorld(t, 2)
	a := w.ids[0]
	require.NoError(t, w.reg.Revoke(a.ID()))
	require.NoError(t, w.reg.Revoke(a.ID()), "idempotent")
	p, ok := w.reg.Lookup(a.ID())
	require.True(t, ok)
	require.True(t, p.Revoked)
	require.Equal(t, Refuse, p.Score.Verdict)
	require.Equal(t, "refuse", p.Labels()["iatp.verdict"])
	_, err := w.reg.Score(a.ID())
	require.ErrorIs(t, err, ErrRevoked)
	require.ErrorIs(t, err, agentos.ErrUntrusted)
	_, err = w.reg.Report(a.ID(), Event{Kind: Success})
	require.ErrorIs(t, err, ErrRevoked)
	w.clk.Advance(time.Minute)
	require.ErrorIs(t, w.reg.Register(signed(t, a, baseManifest(w.clk.Now()))), ErrRevoked, "a revoked id cannot come back")
	require.ErrorIs(t, w.reg.Revoke("did:mesh:00000000000000000000000000000000"), ErrUnknownPeer)
}

func TestRegistryBound(t *testing.T) {
	w := newWorld(t, 2, WithMaxEntries(2))
	require.Equal(t, 2, w.reg.Len())
	c := detIdentity(t, 3)
	err := w.reg.Register(signed(t, c, baseManifest(epoch)))
	require.ErrorIs(t, err, ErrRegistryFull)
	require.ErrorIs(t, err, agentos.ErrQuota)
	// Re-registering a known peer is not a new entry.
	w.clk.Advance(time.Second)
	require.NoError(t, w.reg.Register(signed(t, w.ids[0], baseManifest(w.clk.Now()))))
	// Nor is the registry freed by revocation: a revoked peer stays revoked.
	require.NoError(t, w.reg.Revoke(w.ids[1].ID()))
	require.ErrorIs(t, w.reg.Register(signed(t, c, baseManifest(epoch))), ErrRegistryFull)
}

func TestRegistryRotate(t *testing.T) {
	w := newWorld(t, 2)
	a := w.ids[0]
	_, err := w.reg.Report(a.ID(), Event{Kind: Violation})
	require.NoError(t, err)
	next, h, err := a.rotate(nil, w.clk.Now())
	require.NoError(t, err)

	// A handover with a bad signature, or from another peer's key, is refused.
	bad := h
	bad.Sig = append([]byte(nil), h.Sig...)
	bad.Sig[10] ^= 1
	require.ErrorIs(t, w.reg.Rotate(bad), ErrBadSignature)
	_, evil, err := detIdentity(t, 7).rotate(nil, w.clk.Now())
	require.NoError(t, err)
	require.ErrorIs(t, w.reg.Rotate(evil), ErrUnknownPeer)

	require.NoError(t, w.reg.Rotate(h))
	old, ok := w.reg.Lookup(a.ID())
	require.True(t, ok)
	require.True(t, old.Revoked)
	require.Equal(t, next.ID(), old.RotatedTo)
	np, ok := w.reg.Lookup(next.ID())
	require.True(t, ok)
	require.Equal(t, next.PublicKey(), np.Key)
	require.Equal(t, next.ID(), np.Manifest.AgentID)
	require.InDelta(t, -2, np.Score.Reputation, 1e-12, "reputation moves with the key")

	require.ErrorIs(t, w.reg.Rotate(h), ErrRevoked, "a handover applies once")
	_, err = w.reg.Score(a.ID())
	require.ErrorIs(t, err, ErrRevoked)

	// The new key registers its own manifest.
	w.clk.Advance(time.Minute)
	require.NoError(t, w.reg.Register(signed(t, next, baseManifest(w.clk.Now()))))

	// A handover onto an id that is already registered.
	_, h2, err := w.ids[1].rotate(nil, w.clk.Now())
	require.NoError(t, err)
	h2.NewID, h2.NewKey = next.ID(), next.PublicKey()
	body, err := h2.body()
	require.NoError(t, err)
	h2.Sig = w.ids[1].Sign(append([]byte(domainHandover), body...))
	require.ErrorIs(t, w.reg.Rotate(h2), ErrKeyMismatch)
}

func TestPeerLabels(t *testing.T) {
	w := newWorld(t, 1)
	p, _ := w.reg.Lookup(w.ids[0].ID())
	require.Equal(t, map[string]string{
		"team": "data", "region": "eu-west",
		"iatp.level": "trusted", "iatp.retention": "session", "iatp.human_in_loop": "false",
		"iatp.training_consent": "false", "iatp.reversibility": "full", "iatp.verdict": "allow",
	}, p.Labels())
}

func TestRegistryConcurrent(t *testing.T) {
	w := newWorld(t, 4)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			id := w.ids[g%4].ID()
			for i := range 200 {
				switch i % 4 {
				case 0:
					_, _ = w.reg.Report(id, Event{Kind: Success})
				case 1:
					_, _ = w.reg.Score(id)
				case 2:
					p, ok := w.reg.Lookup(id)
					if ok {
						_ = p.Labels()
					}
				case 3:
					_ = w.reg.Len()
				}
			}
		})
	}
	wg.Wait()
	for _, id := range w.ids {
		s, err := w.reg.Score(id.ID())
		require.NoError(t, err)
		require.Equal(t, MaxReputation, s.Reputation, fmt.Sprint(id.ID()))
	}
}
