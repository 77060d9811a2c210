// Command memory shows an agent's long-term memory under a kernel: it
// stores its experiences as episodes (/mem/episodic/, on emk), indexes
// documents by writing them under /mem/semantic/ (on caas), asks "what went
// wrong last time?", and answers a question from its memory within a token
// budget, citing its sources. Every step is a syscall that policy decides
// and the flight recorder records; policy refuses a query that carries a
// social security number. Everything runs offline: the embedder is the
// committed GloVe table (models/glove), the model a scripted one.
//
// Run it with:
//
//	go run ./examples/memory
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/caas"
	"github.com/agent-os/agentos/emk"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/models/glove"
	"github.com/agent-os/agentos/models/scripted"
	"github.com/agent-os/agentos/recorder"
)

//go:embed policy.yaml
var policyYAML []byte

const runbook = `# Billing service runbook

The billing service runs three replicas behind the internal load balancer.

## Deploying

Apply the manifests with kubectl. The config map billing-config must exist
before the pods start, or they crash-loop.

## Rolling back

To roll back, run kubectl rollout undo deployment/billing and watch the
pods until all three are ready. Then tell the on-call channel.
`

const client = `package billing

// Charge debits a customer's card. It is idempotent per request id: a retry
// with the same id charges once.
func Charge(customer, requestID string, cents int64) error {
	return nil
}
`

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "memory:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	// The stores, the embedder and the recorder belong to the host.
	emb, err := glove.New()
	if err != nil {
		return err
	}
	episodes, err := emk.Open("", emk.WithEmbedder(emb.Embed)) // "" is in memory; a path is durable
	if err != nil {
		return err
	}
	defer episodes.Close()
	docs, err := caas.New(emb.Embed)
	if err != nil {
		return err
	}
	defer docs.Close()
	rec, err := recorder.Open("", nil)
	if err != nil {
		return err
	}
	defer rec.Close()

	k, err := kernel.New(
		kernel.WithPolicySource("policy.yaml", policyYAML),
		kernel.WithRecorder(rec),
		kernel.WithMemory(kernel.Memory{Episodes: episodes, Context: docs}),
	)
	if err != nil {
		return err
	}
	defer k.Close()
	a, err := k.Spawn(ctx, "ops-1", kernel.WithRole("indexer"))
	if err != nil {
		return err
	}

	step("storing experiences in /mem/episodic/")
	day := 24 * time.Hour
	start := time.Now().UTC().Add(-10 * day)
	failed, err := a.Remember(ctx, emk.Episode{
		Time: start, Goal: "deploy billing v2.3", Action: "kubectl apply -f billing/",
		Result: "pods crash-looped for 20 minutes", Outcome: emk.OutcomeFailure,
		Reflection: "the billing-config config map was missing; create it before applying",
	})
	if err != nil {
		return err
	}
	fixed, err := a.Remember(ctx, emk.Episode{
		Time: start.Add(time.Hour), Goal: "deploy billing v2.3", Action: "create billing-config, then kubectl apply",
		Result: "three replicas ready", Outcome: emk.OutcomeSuccess, Causes: []string{failed.ID},
	})
	if err != nil {
		return err
	}
	if _, err := a.Remember(ctx, emk.Episode{
		Time: start.Add(2 * day), Goal: "rotate the database password", Action: "update the secret, restart pods",
		Result: "done", Outcome: emk.OutcomeSuccess,
	}); err != nil {
		return err
	}
	for _, ep := range []emk.Episode{failed, fixed} {
		fmt.Printf("  %s… %-8s %s\n", ep.ID[:12], ep.Outcome, ep.Action)
	}

	step("indexing documents in /mem/semantic/")
	for _, d := range []struct{ path, text string }{
		{"/mem/semantic/runbooks/billing.md", runbook},
		{"/mem/semantic/code/billing/charge.go", client},
	} {
		if err := a.Write(ctx, d.path, []byte(d.text)); err != nil {
			return err
		}
		fmt.Printf("  indexed %s (%d bytes)\n", d.path, len(d.text))
	}

	step("what went wrong last time I deployed billing?")
	lessons, err := a.Recall(ctx, emk.Query{
		Text: "deploying the billing service", K: 3,
		Outcomes: []emk.Outcome{emk.OutcomeFailure, emk.OutcomeAntiPattern},
	})
	if err != nil {
		return err
	}
	for _, l := range lessons {
		fmt.Printf("  %.2f %s: %s\n", l.Score, l.Episode.Result, l.Episode.Reflection)
	}

	step("answering from memory within a budget of 120 tokens")
	question := "how do I roll back the billing deployment?"
	c, err := a.Context(ctx, "/mem/semantic", caas.ContextRequest{Query: question, MaxTokens: 120, K: 5})
	if err != nil {
		return err
	}
	fmt.Printf("  context: %d tokens from %d citations\n", c.Tokens, len(c.Citations))
	for _, ct := range c.Citations {
		fmt.Printf("    %s [%d:%d] %.3f %s\n", ct.Source, ct.Start, ct.End, ct.Score, ct.Heading)
	}
	model := scripted.MustNew(
		// The scripted model answers only when the context it was given
		// holds the runbook's rollback step: the answer comes from memory.
		scripted.When(scripted.Func("context holds the rollback step", func(p agentos.Prompt) bool {
			return strings.Contains(p.Messages[0].Content, "rollout undo")
		})).
			Reply("Run `kubectl rollout undo deployment/billing`, wait for three ready pods, then tell on-call. [runbooks/billing.md]"),
		scripted.Otherwise().Reply("I do not know."),
	)
	answer, err := model.Generate(ctx, agentos.Prompt{Messages: []agentos.Message{
		{Role: agentos.RoleSystem, Content: "Answer from this context only and cite it.\n\n" + c.Text},
		{Role: agentos.RoleUser, Content: question},
	}})
	if err != nil {
		return err
	}
	fmt.Printf("  answer: %s\n", answer.Text)

	step("a query carrying a social security number")
	_, err = a.Search(ctx, "/mem/semantic", "refund for customer 078-05-1120", 3)
	var v *agentos.PolicyViolation
	if !errors.As(err, &v) {
		return fmt.Errorf("the query was not refused: %v", err)
	}
	fmt.Printf("  refused by rule %s: %s\n", v.Decision.Rule, v.Decision.Message)

	step("the flight recorder's trail")
	if err := rec.Flush(ctx); err != nil {
		return err
	}
	for e, err := range rec.Query(ctx, recorder.Filter{Agent: "ops-1"}) {
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
	fmt.Fprintf(&b, "#%-3d %-9s", e.Seq, e.Kind)
	if e.Op != "" {
		p := e.Path
		if id, ok := strings.CutPrefix(p, "/mem/episodic/"); ok && len(id) > 16 {
			p = "/mem/episodic/" + id[:12] + "…" // an episode's content address
		}
		fmt.Fprintf(&b, " %-6s %s", e.Op, p)
	}
	if e.Kind == recorder.KindDecision {
		fmt.Fprintf(&b, " → %s", e.Effect)
		if e.Rule != "" {
			fmt.Fprintf(&b, " (%s)", e.Rule)
		}
	}
	if e.Kind == recorder.KindOutcome {
		fmt.Fprintf(&b, " → %s", e.Status)
		if e.Detail != "" {
			d := e.Detail
			if r := []rune(d); len(r) > 90 {
				d = string(r[:90]) + "…"
			}
			fmt.Fprintf(&b, " %s", d)
		}
	}
	return b.String()
}
