package mute_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/mute"
	"github.com/agent-os/agentos/policy"
)

// A plan whose precondition is stale is refused before any step runs.
func ExampleValidate() {
	g := mute.NewGraph()
	_ = g.AddNode(mute.Node{ID: "db.failover", Kind: mute.NodeAction})
	_ = g.AddNode(mute.Node{ID: "replica.healthy", Kind: mute.NodePrecondition, Fact: "replica.state", Want: "healthy"})
	_ = g.AddNode(mute.Node{ID: "db.primary", Kind: mute.NodeResource})
	_ = g.AddEdge(mute.Edge{From: "db.failover", To: "replica.healthy", Kind: mute.EdgeRequires})
	_ = g.AddEdge(mute.Edge{From: "db.failover", To: "db.primary", Kind: mute.EdgeProduces})

	plan, err := mute.DecodePlan(strings.NewReader(
		`{"id": "p1", "goal": "db.primary", "steps": [{"id": "f", "action": "db.failover"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range mute.Validate(context.Background(), plan, g, mute.Facts{"replica.state": "lagging"}) {
		fmt.Println(v)
	}
	// Output:
	// failed_precondition step=f node=replica.healthy: fact "replica.state" is "lagging", want "healthy"
}

// The dry run asks policy about every step before the first one runs.
func ExampleDryRun() {
	doc, err := policy.Parse("p.yaml", []byte(`apiVersion: agentos/v1
kind: Policy
metadata: {name: p, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: status
      effect: allow
      when: action.op == "exec" && action.tool == "svc.status"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	eng, err := policy.NewEngine([]*policy.Document{doc})
	if err != nil {
		fmt.Println(err)
		return
	}
	plan := &mute.Plan{ID: "p", Steps: []mute.Step{
		{ID: "look", Action: "svc.status"},
		{ID: "grant", Action: "iam.grant", Args: map[string]any{"role": "admin"}, DependsOn: []string{"look"}},
	}}
	reg := atr.New()
	_ = reg.Add(atr.Tool{Name: "svc.status", Meta: atr.Meta{SideEffect: atr.Read},
		Func: func(context.Context, map[string]any) (any, error) { return "up", nil }})
	ds, err := mute.DryRun(context.Background(), eng, policy.Subject{ID: "oncall-1"}, reg, plan)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range ds {
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s %s permitted=%t %s", d.StepID, d.Decision.Effect, d.Permitted, d.Reason)))
	}
	// Output:
	// look allow permitted=true
	// grant deny permitted=false denied: no rule matched: default deny of policy p
}

// Sessions refuse transitions the table does not allow.
func ExampleSession() {
	s := mute.NewSession("s1")
	err := s.Accept()
	fmt.Println(errors.Is(err, mute.ErrIllegalTransition), err)
	fmt.Println(mute.CanTransition(mute.StateAccepted, mute.StateExecuting))
	// Output:
	// true mute: illegal transition initiated -> accepted
	// true
}
