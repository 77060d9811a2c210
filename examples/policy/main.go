// Command policy loads examples/policy/policy.yaml and prints the decision,
// with its explanation, for a handful of agent actions.
//
//	go run ./examples/policy [-policy path/to/policy.yaml]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/policy"
)

// defaultPolicy finds policy.yaml next to this source file, so the program
// works from the module root and from its own directory.
func defaultPolicy() string {
	const rel = "examples/policy/policy.yaml"
	if _, err := os.Stat(rel); err == nil {
		return rel
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		return filepath.Join(filepath.Dir(file), "policy.yaml")
	}
	return rel
}

func main() {
	path := flag.String("policy", defaultPolicy(), "policy file to load")
	flag.Parse()
	if err := run(*path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(path string) error {
	docs, err := policy.ParseFile(path)
	if err != nil {
		return err
	}
	// A fixed clock keeps the output the same on every run.
	now := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	eng, err := policy.NewEngine(docs, policy.WithClock(func() time.Time { return now }))
	if err != nil {
		return err
	}
	fmt.Printf("loaded %s (%d document(s)), version %s\n\n", path, len(docs), eng.Version())

	agent := policy.Subject{ID: "fin-1", Role: "analyst", Trust: 0.8}
	exec := func(tool string, args map[string]any) agentos.Action {
		return agentos.Action{Agent: "fin-1", Op: agentos.OpExec, Tool: tool, Args: args}
	}
	cases := []struct {
		what string
		act  agentos.Action
	}{
		{"read its working memory", agentos.Action{Agent: "fin-1", Op: agentos.OpRead, Path: "/mem/working/task.txt"}},
		{"read a policy file", agentos.Action{Agent: "fin-1", Op: agentos.OpRead, Path: "/policy/finance.yaml"}},
		{"query accounts", exec("sql.query", map[string]any{"query": "SELECT id, balance FROM accounts WHERE id = 7"})},
		{"destructive SQL", exec("sql.query", map[string]any{"query": "select 1; DROP TABLE accounts -- cleanup"})},
		{"pay 250", exec("payments.send", map[string]any{"to": "acme", "amount": 250})},
		{"pay 25000", exec("payments.send", map[string]any{"to": "acme", "amount": 25000})},
		{"send a card number", agentos.Action{Agent: "fin-1", Op: agentos.OpSend, Target: "mailer",
			Args: map[string]any{"body": "card 4111 1111 1111 1111"}}},
		{"search #1", exec("web.search", map[string]any{"q": "fx rates"})},
		{"search #2", exec("web.search", map[string]any{"q": "fx rates"})},
		{"search #3", exec("web.search", map[string]any{"q": "fx rates"})},
	}
	ctx := context.Background()
	for _, c := range cases {
		in := policy.Input{Action: c.act, Agent: agent}
		x, err := eng.Explain(ctx, in)
		if err != nil {
			return err
		}
		d, err := eng.Decide(ctx, in)
		if err != nil {
			return err
		}
		fmt.Printf("== %s: %s\n", c.what, c.act)
		fmt.Printf("   decision: %s", d.Effect)
		if d.Rule != "" {
			fmt.Printf(" by %s", d.Rule)
		}
		if d.Message != "" {
			fmt.Printf(" — %s", d.Message)
		}
		if d.Effect == agentos.Deny {
			if d.Refuse {
				fmt.Print(" (refused, agent keeps running)")
			} else {
				fmt.Print(" (the agent is killed)")
			}
		}
		fmt.Println()
		for _, r := range x.Rules {
			fmt.Printf("   %-8s %s/%s (%s)", status(r), r.Policy, r.Rule, r.Effect)
			if r.Error != "" {
				fmt.Printf(" error: %s", r.Error)
			}
			fmt.Println()
		}
		fmt.Printf("   %d rule(s) evaluated, %d skipped by the index\n", x.Evaluated, x.Skipped)
	}
	return nil
}

func status(r policy.RuleResult) string {
	switch {
	case r.RateLimited:
		return "limited"
	case r.Matched:
		return "matched"
	}
	return "failed"
}
