package kernel_test

import (
	"context"
	"fmt"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
)

// A trail recorded under one policy, decided again under a candidate that
// limits searches to two an hour and keeps reports for trusted analysts:
// what would have changed had the candidate been in force.
func ExampleReplayer() {
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	trail := []recorder.Entry{
		{Kind: recorder.KindLifecycle, Message: "kernel started", Time: at},
		{Kind: recorder.KindLifecycle, Message: "spawned", Agent: "alice", Detail: `role="analyst" trust=0.4 team="risk"`},
		{Kind: recorder.KindDecision, Seq: 3, Agent: "alice", Op: agentos.OpExec, Tool: "search", Effect: agentos.Allow, Rule: "search", Time: at},
		{Kind: recorder.KindDecision, Seq: 4, Agent: "alice", Op: agentos.OpExec, Tool: "search", Effect: agentos.Allow, Rule: "search", Time: at.Add(time.Minute)},
		{Kind: recorder.KindDecision, Seq: 5, Agent: "alice", Op: agentos.OpExec, Tool: "search", Effect: agentos.Allow, Rule: "search", Time: at.Add(2 * time.Minute)},
		{Kind: recorder.KindDecision, Seq: 6, Agent: "alice", Op: agentos.OpExec, Tool: "report", Effect: agentos.Allow, Rule: "reports", Time: at.Add(3 * time.Minute)},
		{Kind: recorder.KindDecision, Seq: 7, Agent: "alice", Op: agentos.OpRead, Path: "/mem/../etc", Effect: agentos.Deny, Rule: kernel.RulePath},
	}
	candidate, err := policy.Parse("candidate.yaml", []byte(`apiVersion: agentos/v1
kind: Policy
metadata: {name: candidate, version: "2"}
spec:
  defaultEffect: deny
  rules:
    - name: search
      effect: allow
      when: action.tool == "search"
      limit: {rate: 2, per: 1h}
    - name: reports
      effect: allow
      when: action.tool == "report" && agent.role == "analyst" && agent.trust >= 0.5
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	rp, err := kernel.NewReplayer(ctx, []*policy.Document{candidate})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := range trail {
		r, ok, err := rp.Feed(ctx, &trail[i])
		switch {
		case err != nil:
			fmt.Println(err)
			return
		case !ok:
			continue // a lifecycle entry: the replayer noted the spawn
		case r.Skipped:
			fmt.Printf("seq %d: refused by the kernel before policy (%s)\n", trail[i].Seq, r.Recorded.Rule)
		case r.Changed(false):
			fmt.Printf("seq %d: %s by %q -> %s by %q: %s\n", trail[i].Seq,
				r.Recorded.Effect, r.Recorded.Rule, r.Decision.Effect, r.Decision.Rule, r.Decision.Message)
		}
	}
	// Output:
	// seq 5: allow by "search" -> deny by "search": rate limit exceeded: at most 2 per 1h0m0s for each agent
	// seq 6: allow by "reports" -> deny by "": no rule matched: default deny of policy candidate
	// seq 7: refused by the kernel before policy (kernel.path)
}
