package iatp_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/iatp"
)

// manifestFor is the manifest both example agents publish.
func manifestFor(now time.Time, caps ...string) iatp.Manifest {
	return iatp.Manifest{
		Name:          "worker",
		TrustLevel:    iatp.Trusted,
		Capabilities:  caps,
		Reversibility: iatp.Reversibility{Level: iatp.ReversibleFull, UndoWindow: time.Hour},
		Privacy:       iatp.Privacy{Retention: iatp.RetentionEphemeral},
		IssuedAt:      now,
		Expires:       now.Add(24 * time.Hour),
	}
}

// Two agents prove their identities to each other: each challenges the
// other, each answers, each verifies the answer to its own challenge.
func Example_mutualHandshake() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	alice, _ := iatp.NewIdentity(nil)
	bob, _ := iatp.NewIdentity(nil)

	// Each side registers the other's manifest (fetched with FetchManifest
	// in real deployments) in its own registry.
	aliceReg := iatp.NewRegistry(iatp.WithClock(clock))
	bobReg := iatp.NewRegistry(iatp.WithClock(clock))
	bobManifest, _ := iatp.SignManifest(bob, manifestFor(now, "tool:search"))
	aliceManifest, _ := iatp.SignManifest(alice, manifestFor(now, "tool:write"))
	fmt.Println(aliceReg.Register(bobManifest), bobReg.Register(aliceManifest))

	a, _ := iatp.NewHandshaker(alice, aliceReg, iatp.WithRequiredCapabilities("tool:search"))
	b, _ := iatp.NewHandshaker(bob, bobReg)

	toBob, _ := a.NewChallenge(bob.ID())     // alice -> bob
	toAlice, _ := b.NewChallenge(alice.ID()) // bob -> alice
	fromBob, _ := b.Respond(toBob)           // bob -> alice
	fromAlice, _ := a.Respond(toAlice)       // alice -> bob

	peerBob, err := a.Verify(fromBob)
	fmt.Println("alice verified bob:", err == nil, peerBob.ID == bob.ID(), peerBob.Score.Total, peerBob.Score.Verdict)
	peerAlice, err := b.Verify(fromAlice)
	fmt.Println("bob verified alice:", err == nil, peerAlice.ID == alice.ID())

	_, err = a.Verify(fromBob)
	fmt.Println("replayed:", errors.Is(err, iatp.ErrReplay), errors.Is(err, agentos.ErrUntrusted))
	// Output:
	// <nil> <nil>
	// alice verified bob: true true 10 allow
	// bob verified alice: true true
	// replayed: true true
}

// A signed envelope travels beside its payload; the receiver opens it
// against its registry.
func ExampleSeal() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	reg := iatp.NewRegistry(iatp.WithClock(func() time.Time { return now }))
	sender, _ := iatp.NewIdentity(nil)
	sm, _ := iatp.SignManifest(sender, manifestFor(now))
	_ = reg.Register(sm)

	payload := []byte(`{"task":"summarize"}`)
	env, _ := iatp.Seal(sender, "agents.summarizer.inbox", payload, now)
	header := env.EncodeString() // e.g. a bus message header value

	got, _ := iatp.DecodeEnvelopeString(header)
	opener := iatp.NewOpener(reg)
	peer, err := opener.Open(got, "agents.summarizer.inbox", payload)
	fmt.Println(err == nil, peer.ID == sender.ID(), len(header) <= iatp.MaxEnvelopeString)

	_, err = opener.Open(got, "agents.summarizer.inbox", []byte(`{"task":"delete"}`))
	fmt.Println(errors.Is(err, iatp.ErrBadSignature))
	_, err = opener.Open(got, "agents.summarizer.inbox", payload)
	fmt.Println(errors.Is(err, iatp.ErrReplay))
	// Output:
	// true true true
	// true
	// true
}

// The IATP trust score of a manifest, and what reputation does to it.
func ExampleScoreManifest() {
	m := iatp.Manifest{
		TrustLevel:    iatp.Standard,                                     // 5
		Reversibility: iatp.Reversibility{Level: iatp.ReversiblePartial}, // +2
		Privacy: iatp.Privacy{
			Retention:   iatp.RetentionPermanent, // -1
			HumanInLoop: true,                    // -2
		},
	}
	s := iatp.ScoreManifest(m)
	fmt.Println(s.Base, s.Total, s.Verdict)
	fmt.Println(iatp.VerdictOf(2.9), iatp.VerdictOf(3), iatp.VerdictOf(6), iatp.VerdictOf(7))
	// Output:
	// 5 4 warn
	// refuse warn warn allow
}

// Reputation events decay with a half-life over the registry's clock.
func ExampleRegistry_Report() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	reg := iatp.NewRegistry(iatp.WithClock(func() time.Time { return now }), iatp.WithHalfLife(time.Hour))
	peer, _ := iatp.NewIdentity(nil)
	sm, _ := iatp.SignManifest(peer, manifestFor(now))
	_ = reg.Register(sm)

	s, _ := reg.Report(peer.ID(), iatp.Event{Kind: iatp.Violation, Weight: 2})
	fmt.Println(s.Reputation, s.Total, s.Verdict)
	now = now.Add(time.Hour)
	s, _ = reg.Score(peer.ID())
	fmt.Println(s.Reputation, s.Total, s.Verdict)
	// Output:
	// -4 6 warn
	// -2 8 allow
}

// An identity is saved encrypted with a passphrase and loaded back.
func ExampleSaveIdentity() {
	dir, err := os.MkdirTemp("", "iatp-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "agent.key")

	id, _ := iatp.NewIdentity(nil)
	fmt.Println(iatp.SaveIdentity(path, id, []byte("correct horse battery staple")))
	st, _ := os.Stat(path)
	fmt.Println(st.Mode().Perm())

	back, err := iatp.LoadIdentity(path, []byte("correct horse battery staple"))
	fmt.Println(err, back.ID() == id.ID())
	_, err = iatp.LoadIdentity(path, []byte("wrong"))
	fmt.Println(errors.Is(err, iatp.ErrBadPassphrase))
	// Output:
	// <nil>
	// -rw-------
	// <nil> true
	// true
}
