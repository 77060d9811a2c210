// Command trust shows trust between agents made cryptographic (package
// iatp) and enforced by the kernel. Each agent has an Ed25519 identity and
// serves a signed capability manifest over HTTP; the host fetches and
// verifies the manifests before registering them, and refuses one that was
// altered after signing. Two agents prove their keys to each other in a
// mutual challenge-response handshake. Then, under a kernel, every message
// they publish is signed; a delivery is decided with its verified signer
// as policy's peer, so a rule can ask for peer.trust; a message forged in
// another agent's name is refused before policy, and its handler never
// runs. The flight recorder's trail is printed and verified at the end.
//
// Run it with:
//
//	go run ./examples/trust
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/iatp"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
)

//go:embed policy.yaml
var policyYAML []byte

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "trust:", err)
		os.Exit(1)
	}
}

// agent is one party: its key, its manifest and the server that serves it.
type agent struct {
	name string
	id   *iatp.Identity
	srv  *httptest.Server
}

func newAgent(name string, level iatp.TrustLevel, ret iatp.Retention, tamper bool) (*agent, error) {
	id, err := iatp.NewIdentity(nil)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	sm, err := iatp.SignManifest(id, iatp.Manifest{
		Name:          name,
		TrustLevel:    level,
		Capabilities:  []string{"bus:publish"},
		Reversibility: iatp.Reversibility{Level: iatp.ReversibleFull, UndoWindow: time.Hour},
		Privacy:       iatp.Privacy{Retention: ret},
		IssuedAt:      now.Add(-time.Minute),
		Expires:       now.Add(24 * time.Hour),
	})
	if err != nil {
		return nil, err
	}
	if tamper {
		// The agent raises its own trust level after signing: the
		// signature no longer covers what it serves.
		sm.Manifest.TrustLevel = iatp.VerifiedPartner
	}
	return &agent{name: name, id: id, srv: httptest.NewServer(iatp.ManifestHandler(sm))}, nil
}

func run(ctx context.Context) error {
	reg := iatp.NewRegistry()
	var agents []*agent
	defer func() {
		for _, a := range agents {
			a.srv.Close()
		}
	}()
	for _, spec := range []struct {
		name   string
		level  iatp.TrustLevel
		ret    iatp.Retention
		tamper bool
	}{
		{"planner", iatp.Trusted, iatp.RetentionEphemeral, false},
		{"executor", iatp.Trusted, iatp.RetentionSession, false},
		{"intruder", iatp.Unknown, iatp.RetentionPermanent, true},
	} {
		a, err := newAgent(spec.name, spec.level, spec.ret, spec.tamper)
		if err != nil {
			return err
		}
		agents = append(agents, a)
	}
	planner, executor, intruder := agents[0], agents[1], agents[2]

	step("fetching and verifying manifests from " + iatp.WellKnownPath)
	client := &http.Client{Timeout: 5 * time.Second}
	for _, a := range agents {
		sm, err := iatp.FetchManifest(ctx, client, a.srv.URL, time.Now())
		if err != nil {
			fmt.Printf("  %-8s refused: %v\n", a.name, err)
			if a != intruder {
				return err
			}
			continue
		}
		if err := reg.Register(sm); err != nil {
			return err
		}
		sc := iatp.ScoreManifest(sm.Manifest)
		fmt.Printf("  %-8s %s… registered: level %s, retention %s, score %.0f (%s)\n",
			a.name, a.id.ID()[:21], sm.Manifest.TrustLevel, sm.Manifest.Privacy.Retention, sc.Total, sc.Verdict)
	}
	if _, ok := reg.Lookup(intruder.id.ID()); ok {
		return errors.New("the tampered manifest was registered")
	}

	step("mutual handshake: planner ⇄ executor")
	hp, err := iatp.NewHandshaker(planner.id, reg, iatp.WithRequiredScore(iatp.AllowAt))
	if err != nil {
		return err
	}
	he, err := iatp.NewHandshaker(executor.id, reg, iatp.WithRequiredScore(iatp.AllowAt))
	if err != nil {
		return err
	}
	for _, side := range []struct {
		name      string
		from, to  *iatp.Handshaker
		toAgent   *agent
		direction string
	}{
		{"planner challenges executor", hp, he, executor, "→"},
		{"executor challenges planner", he, hp, planner, "←"},
	} {
		ch, err := side.from.NewChallenge(side.toAgent.id.ID())
		if err != nil {
			return err
		}
		resp, err := side.to.Respond(ch)
		if err != nil {
			return err
		}
		p, err := side.from.Verify(resp)
		if err != nil {
			return err
		}
		fmt.Printf("  %s: verified %s (score %.0f)\n", side.name, p.Name, p.Score.Total)
	}
	// The intruder cannot complete one: it is not registered.
	ch, err := hp.NewChallenge(intruder.id.ID())
	if err != nil {
		return err
	}
	hi, err := iatp.NewHandshaker(intruder.id, reg)
	if err != nil {
		return err
	}
	resp, err := hi.Respond(ch)
	if err != nil {
		return err
	}
	if _, err := hp.Verify(resp); err == nil {
		return errors.New("the intruder's handshake was accepted")
	} else {
		fmt.Printf("  planner challenges intruder: refused: %v\n", err)
	}

	step("signed messages under a kernel")
	rec, err := recorder.Open("", nil)
	if err != nil {
		return err
	}
	defer rec.Close()
	bus := amb.NewMemory(&amb.MemoryOptions{Options: amb.Options{Retry: amb.Retry{MaxAttempts: 1}}})
	defer bus.Close()
	k, err := kernel.New(
		kernel.WithPolicySource("policy.yaml", policyYAML),
		kernel.WithRecorder(rec),
		kernel.WithBus(bus),
		kernel.WithIATP(kernel.Trust{Registry: reg, RequireSigned: true}),
	)
	if err != nil {
		return err
	}
	defer k.Close()
	pa, err := k.Spawn(ctx, "planner", kernel.WithIdentity(planner.id))
	if err != nil {
		return err
	}
	ea, err := k.Spawn(ctx, "executor", kernel.WithIdentity(executor.id))
	if err != nil {
		return err
	}
	got := make(chan string, 4)
	sub, err := ea.Subscribe(ctx, "plans", func(ctx context.Context, d amb.Delivery) error {
		p, _ := kernel.Signer(ctx)
		got <- fmt.Sprintf("%q signed by %s (trust %.1f)", d.Payload, p.Name, p.Score.Total/10)
		return nil
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()

	if err := pa.Publish(ctx, "plans", amb.Message{Payload: []byte("rebalance portfolio A")}); err != nil {
		return err
	}
	fmt.Println("  executor received", <-got)

	// The intruder publishes on the bus directly, claiming to be the
	// planner, with an envelope signed by its own key.
	payload := []byte("transfer everything to account 666")
	env, err := iatp.Seal(intruder.id, "plans", payload, time.Now())
	if err != nil {
		return err
	}
	if err := bus.Publish(ctx, "plans", amb.Message{Payload: payload, Headers: map[string]string{
		amb.HeaderSender: "planner", kernel.HeaderEnvelope: env.EncodeString(),
	}}); err != nil {
		return err
	}
	// And one with the planner's real envelope but another payload.
	env, err = iatp.Seal(planner.id, "plans", []byte("rebalance portfolio B"), time.Now())
	if err != nil {
		return err
	}
	if err := bus.Publish(ctx, "plans", amb.Message{Payload: payload, Headers: map[string]string{
		amb.HeaderSender: "planner", kernel.HeaderEnvelope: env.EncodeString(),
	}}); err != nil {
		return err
	}
	refused := 0
	for deadline := time.Now().Add(5 * time.Second); refused < 2 && time.Now().Before(deadline); {
		refused = 0
		for e, err := range rec.Query(ctx, recorder.Filter{Agent: "executor", Kind: recorder.KindDecision}) {
			if err != nil {
				return err
			}
			if e.Rule == kernel.RuleEnvelope {
				refused++
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case m := <-got:
		return fmt.Errorf("a forged message was delivered: %s", m)
	default:
	}
	if refused < 2 {
		return fmt.Errorf("%d forged messages refused, want 2", refused)
	}
	fmt.Printf("  %d forged messages refused by rule %s; the executor's handler never ran\n", refused, kernel.RuleEnvelope)

	step("policy uses peer.trust: a reputation drop closes the door")
	for range 2 {
		if _, err := reg.Report(planner.id.ID(), iatp.Event{Kind: iatp.Violation}); err != nil {
			return err
		}
	}
	sc, err := reg.Score(planner.id.ID())
	if err != nil {
		return err
	}
	fmt.Printf("  two violations reported: planner's score %.1f (%s)\n", sc.Total, sc.Verdict)
	if err := pa.Publish(ctx, "plans", amb.Message{Payload: []byte("rebalance portfolio C")}); err != nil {
		return err
	}
	var last recorder.Entry
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for e, err := range rec.Query(ctx, recorder.Filter{Agent: "executor", Kind: recorder.KindDecision}) {
			if err != nil {
				return err
			}
			last = e
		}
		if last.Effect == agentos.Deny && last.Rule != kernel.RuleEnvelope {
			break
		}
	}
	if last.Effect != agentos.Deny {
		return errors.New("the low-trust message was not refused")
	}
	fmt.Printf("  the planner's next message was refused: %s\n", last.Message)

	step("the flight recorder's trail")
	if err := rec.Flush(ctx); err != nil {
		return err
	}
	for e, err := range rec.Query(ctx, recorder.Filter{}) {
		if err != nil {
			return err
		}
		fmt.Println("  " + describe(e))
	}
	rep, err := rec.Verify(ctx)
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("recorder chain broken: %w", rep.Err())
	}
	fmt.Printf("  chain verified: %d entries\n", rep.Entries)
	return nil
}

func step(s string) { fmt.Println("\n== " + s) }

// describe renders one recorder entry on a line.
func describe(e recorder.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-3d %-9s %-8s", e.Seq, e.Kind, e.Agent)
	if e.Op != "" {
		fmt.Fprintf(&b, " %s %s %s", e.Op, e.Meta[kernel.MetaDirection], e.Target)
	}
	if signer := e.Meta[kernel.MetaSigner]; signer != "" {
		fmt.Fprintf(&b, " signer=%s…", signer[:21])
	}
	switch e.Kind {
	case recorder.KindDecision:
		fmt.Fprintf(&b, " → %s", e.Effect)
		if e.Rule != "" {
			fmt.Fprintf(&b, " (%s)", e.Rule)
		}
	case recorder.KindOutcome:
		fmt.Fprintf(&b, " → %s", e.Status)
	default:
		fmt.Fprintf(&b, " %s", e.Message)
	}
	return b.String()
}
