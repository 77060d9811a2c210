package policy_test

import (
	"context"
	"fmt"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/policy"
)

const examplePolicy = `apiVersion: agentos/v1
kind: Policy
metadata: {name: finance, version: "7"}
spec:
  defaultEffect: deny
  variables:
    - name: isSQL
      expression: action.tool == "sql.query"
  rules:
    - name: no-destructive-sql
      effect: deny
      severity: critical
      when: variables.isSQL && sql.destructive(action.args.query)
      message: destructive SQL is not allowed
    - name: sql
      effect: allow
      when: variables.isSQL
    - name: big-payments-need-approval
      effect: approve
      when: action.tool == "payments.send" && action.args.amount > 1000
`

func Example() {
	doc, err := policy.Parse("finance.yaml", []byte(examplePolicy))
	if err != nil {
		fmt.Println(err)
		return
	}
	eng, err := policy.NewEngine([]*policy.Document{doc})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, act := range []agentos.Action{
		{Agent: "a1", Op: agentos.OpExec, Tool: "sql.query", Args: map[string]any{"query": "SELECT * FROM accounts"}},
		{Agent: "a1", Op: agentos.OpExec, Tool: "sql.query", Args: map[string]any{"query": "select 1; drop table accounts"}},
		{Agent: "a1", Op: agentos.OpExec, Tool: "payments.send", Args: map[string]any{"amount": 5000}},
		{Agent: "a1", Op: agentos.OpRead, Path: "/mem/working/notes.txt"},
	} {
		d, err := eng.Decide(context.Background(), policy.Input{Action: act, Agent: policy.Subject{ID: "a1"}})
		if err != nil {
			fmt.Println("undecided:", err)
			continue
		}
		fmt.Printf("%s: %s %q\n", act.Tool+act.Path, d.Effect, d.Rule)
	}
	// Output:
	// sql.query: allow "sql"
	// sql.query: deny "no-destructive-sql"
	// payments.send: approve "big-payments-need-approval"
	// /mem/working/notes.txt: deny ""
}

func ExampleEngine_Explain() {
	doc, _ := policy.Parse("finance.yaml", []byte(examplePolicy))
	eng, _ := policy.NewEngine([]*policy.Document{doc})
	x, _ := eng.Explain(context.Background(), policy.Input{Action: agentos.Action{
		Op: agentos.OpExec, Tool: "sql.query", Args: map[string]any{"query": "TRUNCATE audit_log"}}})
	fmt.Println(x.Decision.Effect, x.Decision.Rule, x.Decision.Severity)
	for _, r := range x.Rules {
		fmt.Printf("%s/%s %s matched=%v\n", r.Policy, r.Rule, r.Effect, r.Matched)
	}
	fmt.Println(x.Evaluated, "evaluated,", x.Skipped, "skipped")
	// Output:
	// deny no-destructive-sql critical
	// finance/no-destructive-sql deny matched=true
	// finance/sql allow matched=true
	// 2 evaluated, 1 skipped
}

func ExampleWithClock() {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	doc, _ := policy.Parse("search.yaml", []byte(`apiVersion: agentos/v1
kind: Policy
metadata: {name: search}
spec:
  rules:
    - name: search-rate
      effect: allow
      when: action.tool == "web.search"
      limit: {rate: 2, per: 1m}
`))
	eng, _ := policy.NewEngine([]*policy.Document{doc}, policy.WithClock(func() time.Time { return now }))
	in := policy.Input{Action: agentos.Action{Op: agentos.OpExec, Tool: "web.search"}, Agent: policy.Subject{ID: "a1"}}
	for range 3 {
		d, _ := eng.Decide(context.Background(), in)
		fmt.Printf("%s refuse=%v %q\n", d.Effect, d.Refuse, d.Message)
	}
	now = now.Add(30 * time.Second) // one token back
	d, _ := eng.Decide(context.Background(), in)
	fmt.Println(d.Effect)
	// Output:
	// allow refuse=false ""
	// allow refuse=false ""
	// deny refuse=true "rate limit exceeded: at most 2 per 1m0s for each agent"
	// allow
}

func ExampleWithShadow() {
	active, _ := policy.Parse("active.yaml", []byte(`apiVersion: agentos/v1
kind: Policy
metadata: {name: active}
spec:
  defaultEffect: allow
`))
	candidate, _ := policy.Parse("candidate.yaml", []byte(`apiVersion: agentos/v1
kind: Policy
metadata: {name: candidate}
spec:
  defaultEffect: allow
  rules:
    - name: no-policy-writes
      effect: deny
      when: action.op == "write" && path.under(action.path, "/policy")
`))
	shadow, _ := policy.NewEngine([]*policy.Document{candidate})
	eng, _ := policy.NewEngine([]*policy.Document{active}, policy.WithShadow(shadow))
	d, _ := eng.Decide(context.Background(), policy.Input{Action: agentos.Action{Op: agentos.OpWrite, Path: "/policy/a.yaml"}})
	fmt.Println("enforced:", d.Effect, "shadow:", d.Shadow.Effect, d.Shadow.Rule)
	// Output:
	// enforced: allow shadow: deny no-policy-writes
}
