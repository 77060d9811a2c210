package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agent-os/agentos"
)

func benchEngine(b *testing.B, src string, opts ...Option) *Engine {
	b.Helper()
	d, err := Parse("bench.yaml", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine([]*Document{d}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// benchModes are the three ways an engine can decide the same rules, each
// a column of the results: direct evaluation where a rule allows it (the
// default), the index with every rule handed to its CEL program (the
// residual), and no index (every rule's whole CEL program).
var benchModes = []struct {
	name string
	opts []Option
}{
	{"direct", nil},
	{"cel-indexed", []Option{withoutDirect()}},
	{"cel-unindexed", []Option{withoutIndex()}},
}

// directRules counts the rules of e that direct evaluation can decide.
func directRules(e *Engine) int {
	rs := e.cur.Load()
	n := 0
	for _, p := range []*phase{&rs.deny, &rs.approve, &rs.permit} {
		for _, r := range p.all {
			if r.direct != nil {
				n++
			}
		}
	}
	return n
}

func benchDecide(b *testing.B, e *Engine, in Input, want agentos.Effect) {
	b.Helper()
	ctx := context.Background()
	d, err := e.Decide(ctx, in)
	if err != nil || d.Effect != want {
		b.Fatalf("decision %v, %v; want %v", d, err, want)
	}
	b.ReportAllocs()
	cpu0, ok := processCPU()
	for b.Loop() {
		d, err = e.Decide(ctx, in)
	}
	reportCPU(b, cpu0, ok)
	if err != nil || d.Effect != want {
		b.Fatalf("decision %v, %v; want %v", d, err, want)
	}
}

// reportCPU reports cpu-ns/op beside ns/op: the process CPU time (all
// threads, so garbage collection included) per operation since cpu0. On
// a shared machine the wall time of a run depends on the other load, its
// CPU time much less.
func reportCPU(b *testing.B, cpu0 time.Duration, ok bool) {
	if cpu1, ok1 := processCPU(); ok && ok1 && b.N > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
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

// hundredRulesOutside is hundredRules with conditions that direct
// evaluation does not handle, so every rule goes to CEL whatever the
// mode: sql.destructive, arithmetic, a comprehension, a conversion.
func hundredRulesOutside() string {
	var b strings.Builder
	b.WriteString(benchHeader)
	for t := range 20 {
		fmt.Fprintf(&b, "    - {name: d%d, effect: deny, when: 'action.tool == \"tool%d\" && sql.destructive(action.args.q)'}\n", t, t)
		fmt.Fprintf(&b, "    - {name: p%d, effect: approve, when: 'action.tool == \"tool%d\" && action.args.n * 2 > 100'}\n", t, t)
		fmt.Fprintf(&b, "    - {name: a%d, effect: allow, when: 'action.tool == \"tool%d\" && [1, 2, 3].exists(x, x == action.args.n)'}\n", t, t)
		fmt.Fprintf(&b, "    - {name: b%d, effect: allow, when: 'action.tool == \"tool%d\" && string(action.args.n) == \"7\"'}\n", t, t)
		fmt.Fprintf(&b, "    - {name: c%d, effect: allow, when: 'action.tool == \"tool%d\" && action.args.n - 1 < 0'}\n", t, t)
	}
	return b.String()
}

var benchInput = Input{
	Action: agentos.Action{Agent: "a1", Op: agentos.OpExec, Tool: "tool7",
		Args: map[string]any{"n": 3, "q": "SELECT name FROM users WHERE id = 42"}},
	Agent: Subject{ID: "a1", Role: "analyst", Trust: 0.9},
}

// BenchmarkDecide runs each policy in the three modes of benchModes, so
// that each speed-up can be put down to what produced it: direct vs
// cel-indexed is direct evaluation, cel-indexed vs cel-unindexed the index
// (and the residual programs). The policies named "outside" use only rules
// direct evaluation does not handle.
func BenchmarkDecide(b *testing.B) {
	policies := []struct {
		name   string
		src    string
		direct int // rules direct evaluation handles, checked
	}{
		{"1rule-noregex", oneRule(`action.tool == "tool7" && action.args.n == 3`), 1},
		{"1rule-regex", oneRule(`action.tool == "tool7" && action.args.q.matches("^SELECT [a-z]+ FROM users")`), 1},
		{"100rules-20tools", hundredRules(), 100},
		{"1rule-ratelimited", benchHeader + "    - {name: r, effect: allow, when: 'action.tool == \"tool7\"', limit: {rate: 1000000000, per: 1ms}}\n", 1},
		{"outside-1rule-sql-destructive", oneRule(`action.tool == "tool7" && !sql.destructive(action.args.q)`), 0},
		{"outside-1rule-loop", oneRule(`action.tool == "tool7" && [1, 2, 3].exists(x, x == action.args.n)`), 0},
		{"outside-1rule-arith", oneRule(`action.tool == "tool7" && action.args.n * 2 + 1 == 7`), 0},
		{"outside-1rule-regex-dynamic", oneRule(`action.tool == "tool7" && action.args.q.matches("^" + "SELECT [a-z]+ FROM users")`), 0},
		{"outside-100rules-20tools", hundredRulesOutside(), 0},
	}
	for _, p := range policies {
		b.Run(p.name, func(b *testing.B) {
			for _, m := range benchModes {
				b.Run(m.name, func(b *testing.B) {
					e := benchEngine(b, p.src, m.opts...)
					if n := directRules(e); n != p.direct {
						b.Fatalf("%d rules are evaluated directly, want %d", n, p.direct)
					}
					benchDecide(b, e, benchInput, agentos.Allow)
				})
			}
		})
	}
	b.Run("100rules-20tools-explain", func(b *testing.B) {
		for _, m := range benchModes {
			b.Run(m.name, func(b *testing.B) {
				e := benchEngine(b, hundredRules(), m.opts...)
				ctx := context.Background()
				b.ReportAllocs()
				cpu0, ok := processCPU()
				for b.Loop() {
					if _, err := e.Explain(ctx, benchInput); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, cpu0, ok)
			})
		}
	})
	b.Run("100rules-20tools-parallel", func(b *testing.B) {
		e := benchEngine(b, hundredRules())
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer() // RunParallel, unlike b.Loop, would time the compilation
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
