package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/agent-os/agentos"
)

func benchEngine(b *testing.B, src string) *Engine {
	b.Helper()
	d, err := Parse("bench.yaml", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine([]*Document{d})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func benchDecide(b *testing.B, e *Engine, in Input, want agentos.Effect) {
	b.Helper()
	ctx := context.Background()
	d, err := e.Decide(ctx, in)
	if err != nil || d.Effect != want {
		b.Fatalf("decision %v, %v; want %v", d, err, want)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err = e.Decide(ctx, in)
	}
	if err != nil || d.Effect != want {
		b.Fatalf("decision %v, %v; want %v", d, err, want)
	}
}

const benchHeader = "apiVersion: agentos/v1\nkind: Policy\nmetadata: {name: bench}\nspec:\n  rules:\n"

func oneRule(when string) string {
	return benchHeader + "    - {name: r, effect: allow, when: '" + when + "'}\n"
}

// hundredRules builds 100 rules, 5 for each of 20 tools: a deny, an
// approve and three allow rules, each testing the tool and an argument or
// the agent. For tool7 with n == 3 the deny, the approve and the first
// allow rule of tool7 are evaluated; the other 95 are skipped by the index.
func hundredRules() string {
	var b strings.Builder
	b.WriteString(benchHeader)
	for t := range 20 {
		fmt.Fprintf(&b, "    - {name: d%d, effect: deny, when: 'action.tool == \"tool%d\" && action.args.n > 100'}\n", t, t)
		fmt.Fprintf(&b, "    - {name: p%d, effect: approve, when: 'action.tool == \"tool%d\" && action.args.n > 50'}\n", t, t)
		fmt.Fprintf(&b, "    - {name: a%d, effect: allow, when: 'action.tool == \"tool%d\" && action.args.n == 3'}\n", t, t)
		fmt.Fprintf(&b, "    - {name: b%d, effect: allow, when: 'action.tool == \"tool%d\" && agent.role == \"admin\"'}\n", t, t)
		fmt.Fprintf(&b, "    - {name: c%d, effect: allow, when: 'action.tool == \"tool%d\" && action.args.n < 0'}\n", t, t)
	}
	return b.String()
}

var benchInput = Input{
	Action: agentos.Action{Agent: "a1", Op: agentos.OpExec, Tool: "tool7",
		Args: map[string]any{"n": 3, "q": "SELECT name FROM users WHERE id = 42"}},
	Agent: Subject{ID: "a1", Role: "analyst", Trust: 0.9},
}

func BenchmarkDecide(b *testing.B) {
	b.Run("1rule-noregex", func(b *testing.B) {
		e := benchEngine(b, oneRule(`action.tool == "tool7" && action.args.n == 3`))
		benchDecide(b, e, benchInput, agentos.Allow)
	})
	b.Run("1rule-regex", func(b *testing.B) {
		e := benchEngine(b, oneRule(`action.tool == "tool7" && action.args.q.matches("^SELECT [a-z]+ FROM users")`))
		benchDecide(b, e, benchInput, agentos.Allow)
	})
	b.Run("100rules-20tools", func(b *testing.B) {
		e := benchEngine(b, hundredRules())
		benchDecide(b, e, benchInput, agentos.Allow)
	})
	b.Run("100rules-20tools-unindexed", func(b *testing.B) {
		e := benchEngine(b, hundredRules())
		e.cfg.unindexed = true
		benchDecide(b, e, benchInput, agentos.Allow)
	})
	b.Run("100rules-20tools-explain", func(b *testing.B) {
		e := benchEngine(b, hundredRules())
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.Explain(ctx, benchInput); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("1rule-sql-destructive", func(b *testing.B) {
		e := benchEngine(b, oneRule(`action.tool == "tool7" && !sql.destructive(action.args.q)`))
		benchDecide(b, e, benchInput, agentos.Allow)
	})
	b.Run("1rule-loop", func(b *testing.B) {
		e := benchEngine(b, oneRule(`action.tool == "tool7" && [1, 2, 3].exists(x, x == action.args.n)`))
		benchDecide(b, e, benchInput, agentos.Allow)
	})
	b.Run("1rule-ratelimited", func(b *testing.B) {
		e := benchEngine(b, benchHeader+"    - {name: r, effect: allow, when: 'action.tool == \"tool7\"', limit: {rate: 1000000000, per: 1ms}}\n")
		benchDecide(b, e, benchInput, agentos.Allow)
	})
	b.Run("100rules-20tools-parallel", func(b *testing.B) {
		e := benchEngine(b, hundredRules())
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if d, err := e.Decide(ctx, benchInput); err != nil || d.Effect != agentos.Allow {
					b.Fatal(d, err)
				}
			}
		})
	})
}

func BenchmarkCompile(b *testing.B) {
	src := []byte(hundredRules())
	b.ReportAllocs()
	for b.Loop() {
		d, err := Parse("bench.yaml", src)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := NewEngine([]*Document{d}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHelpers(b *testing.B) {
	q := "SELECT id, name FROM users WHERE id = 42 AND name <> 'drop; table' -- DROP"
	b.Run("SQLDestructive", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			SQLDestructive(q)
		}
	})
	b.Run("ContainsCard", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ContainsCard("please charge 4111 1111 1111 1111 for order 12345")
		}
	})
}
