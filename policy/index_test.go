package policy

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

func keys(m map[string]struct{}) []string {
	if m == nil {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestExtractConstraints(t *testing.T) {
	tests := []struct {
		when       string
		ops, tools []string // nil: any
	}{
		{`true`, nil, nil},
		{`action.tool == "a"`, nil, []string{"a"}},
		{`"a" == action.tool`, nil, []string{"a"}},
		{`action.op == "exec" && action.tool == "a"`, []string{"exec"}, []string{"a"}},
		{`action.tool in ["a", "b"] && action.args.x > 1`, nil, []string{"a", "b"}},
		{`(action.tool == "a" || action.tool == "b") && agent.role == "r"`, nil, []string{"a", "b"}},
		{`action.op in ["read", "list"]`, []string{"list", "read"}, nil},
		{`action.tool == "a" || action.op == "read"`, nil, nil},
		{`action.tool == "a" || agent.role == "r"`, nil, nil},
		{`!(action.tool == "a")`, nil, nil},
		{`action.tool != "a"`, nil, nil},
		{`action.tool.startsWith("a")`, nil, nil},
		{`action.tool == "a" && action.tool == "b"`, nil, []string{}},
		{`action.tool in ["a", "b"] && action.tool == "b"`, nil, []string{"b"}},
		{`variables.isSQL && true`, nil, []string{"sql.query"}},
	}
	for _, tt := range tests {
		t.Run(tt.when, func(t *testing.T) {
			d := doc(t, "p", "spec:\n  variables:\n    - {name: isSQL, expression: 'action.tool == \"sql.query\"'}\n"+
				"  rules:\n"+r("x", "allow", tt.when))
			e := engine(t, nil, d)
			cr := e.cur.Load().permit.all[0]
			assert.Equal(t, tt.ops, keys(cr.cons.ops), "ops")
			assert.Equal(t, tt.tools, keys(cr.cons.tools), "tools")
		})
	}
}

// randomPolicy builds rules over a few tools and ops, of every effect, with
// conditions the index sees and conditions it does not.
func randomPolicy(rng *rand.Rand, n int) string {
	tools := []string{"a", "b", "c", "d"}
	ops := []string{"exec", "read", "write"}
	effects := []string{"allow", "deny", "approve", "audit"}
	var b strings.Builder
	b.WriteString("spec:\n  rules:\n")
	for i := range n {
		var conds []string
		switch rng.IntN(6) {
		case 0:
			conds = append(conds, fmt.Sprintf(`action.tool == "%s"`, tools[rng.IntN(len(tools))]))
		case 1:
			conds = append(conds, fmt.Sprintf(`action.tool in ["%s", "%s"]`, tools[rng.IntN(len(tools))], tools[rng.IntN(len(tools))]))
		case 2:
			conds = append(conds, fmt.Sprintf(`action.op == "%s"`, ops[rng.IntN(len(ops))]))
		case 3:
			conds = append(conds, fmt.Sprintf(`action.op == "%s" && action.tool == "%s"`, ops[rng.IntN(len(ops))], tools[rng.IntN(len(tools))]))
		case 4:
			conds = append(conds, fmt.Sprintf(`(action.tool == "%s" || action.tool == "%s")`, tools[rng.IntN(len(tools))], tools[rng.IntN(len(tools))]))
		case 5:
			conds = append(conds, fmt.Sprintf(`action.op in ["%s", "%s"] && action.tool == "%s"`, ops[rng.IntN(len(ops))], ops[rng.IntN(len(ops))], tools[rng.IntN(len(tools))]))
		}
		switch rng.IntN(9) {
		case 0:
			conds = append(conds, fmt.Sprintf("action.args.n > %d", rng.IntN(10)))
		case 1:
			conds = append(conds, fmt.Sprintf(`agent.role == "r%d"`, rng.IntN(3)))
		case 2:
			conds = append(conds, `has(action.args.flag)`)
		case 3:
			conds = append(conds, `has(action.args.n) && action.args.n in [1, 3, 5]`)
		case 4:
			conds = append(conds, fmt.Sprintf(`(action.args.n <= %d.5 || agent.role in ["r0", "r2"])`, rng.IntN(10)))
		case 5:
			conds = append(conds, `!(action.args.flag == true) && action.args.n != 2`)
		case 6:
			conds = append(conds, `action.args.n.startsWith("t") || action.args.n == "text"`)
		}
		if len(conds) == 0 {
			conds = append(conds, "true")
		}
		eff := effects[rng.IntN(len(effects))]
		fmt.Fprintf(&b, "    - {name: r%d, effect: %s, when: '%s'}\n", i, eff, strings.Join(conds, " && "))
	}
	return b.String()
}

func TestIndexNeverChangesADecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tools := []string{"a", "b", "c", "d", "e", ""}
	ops := []agentos.Op{agentos.OpExec, agentos.OpRead, agentos.OpWrite, agentos.OpSend}
	for p := range 20 {
		d := doc(t, fmt.Sprintf("p%d", p), randomPolicy(rng, 5+rng.IntN(40)))
		indexed := engine(t, nil, d)
		plain := engine(t, []Option{withoutIndex()}, d)
		for range 200 {
			in := Input{
				Action: agentos.Action{Op: ops[rng.IntN(len(ops))], Tool: tools[rng.IntN(len(tools))], Args: map[string]any{}},
				Agent:  Subject{ID: "a", Role: fmt.Sprintf("r%d", rng.IntN(3))},
			}
			switch rng.IntN(6) {
			case 0:
				in.Action.Args["n"] = rng.IntN(10)
			case 1:
				in.Action.Args["n"] = "text" // a type error in some rules
			case 2:
				in.Action.Args["n"] = float64(rng.IntN(10)) / 2 // JSON numbers
			case 3:
				in.Action.Args["n"] = uint(rng.IntN(10))
			case 4:
				in.Action.Args["n"] = math.NaN()
			}
			if rng.IntN(2) == 0 {
				in.Action.Args["flag"] = true
			}
			a, err := indexed.Decide(context.Background(), in)
			require.NoError(t, err)
			b, err := plain.Decide(context.Background(), in)
			require.NoError(t, err)
			require.Equal(t, b, a, "policy %d, input %+v", p, in.Action)

			xa, err := indexed.Explain(context.Background(), in)
			require.NoError(t, err)
			xb, err := plain.Explain(context.Background(), in)
			require.NoError(t, err)
			require.Equal(t, xb.Rules, xa.Rules)
			require.Equal(t, xb.Decision, xa.Decision)
		}
	}
}

// The merged lists have one slot per known op, in the order of agentos.Ops.
func TestOpSlots(t *testing.T) {
	ops := agentos.Ops()
	if len(ops) != numOps {
		t.Fatalf("numOps = %d, agentos.Ops has %d", numOps, len(ops))
	}
	for i, op := range ops {
		if got := opSlot(string(op)); got != i {
			t.Errorf("opSlot(%q) = %d, want %d", op, got, i)
		}
	}
	for _, op := range []string{"", "READ", "other"} {
		if got := opSlot(op); got != -1 {
			t.Errorf("opSlot(%q) = %d, want -1", op, got)
		}
	}
}

// The empty tool and the empty op are values like any other. A rule that
// requires action.tool == "" applies to the tool "" only, never to a tool
// that no rule names; the same for ops.
func TestIndexEmptyNameIsAValue(t *testing.T) {
	tests := []struct {
		name string
		when string
		in   Input
		want agentos.Effect
	}{
		{"tool empty, shell", `action.tool == ""`, exec("shell", nil), agentos.Deny},
		{"tool empty, empty", `action.tool == ""`, exec("", nil), agentos.Allow},
		{"tool empty reversed, shell", `"" == action.tool`, exec("shell", nil), agentos.Deny},
		{"tool in list with empty, reader", `action.tool in ["", "web.search"] && agent.role == "reader"`, reader(exec("shell", nil)), agentos.Deny},
		{"tool in list with empty, listed", `action.tool in ["", "web.search"] && agent.role == "reader"`, reader(exec("web.search", nil)), agentos.Allow},
		{"tool in list with empty, empty", `action.tool in ["", "web.search"] && agent.role == "reader"`, reader(exec("", nil)), agentos.Allow},
		{"tool empty or named", `(action.tool == "" || action.tool == "a") && action.op == "exec"`, exec("shell", nil), agentos.Deny},
		{"op and tool empty", `action.op == "" && action.tool == ""`, exec("shell", nil), agentos.Deny},
		{"op and tool empty, empty action", `action.op == "" && action.tool == ""`, Input{}, agentos.Allow},
		{"op empty, exec", `action.op == ""`, exec("shell", nil), agentos.Deny},
		{"op empty, unknown op", `action.op == ""`, Input{Action: agentos.Action{Op: "zzz", Tool: "shell"}}, agentos.Deny},
		{"op in list with empty", `action.op in ["", "read"]`, exec("shell", nil), agentos.Deny},
		{"not tool empty, shell", `!(action.tool == "")`, exec("shell", nil), agentos.Allow},
		{"not tool empty, empty", `!(action.tool == "")`, exec("", nil), agentos.Deny},
		{"tool not empty, empty", `action.tool != ""`, exec("", nil), agentos.Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A second rule names another tool, so that the index has tools
			// it knows and tools it does not.
			d := doc(t, "p", "spec:\n  defaultEffect: deny\n  rules:\n"+r("x", "allow", tt.when)+
				r("other", "allow", `action.tool == "web.fetch" && agent.role == "admin"`))
			for _, opts := range [][]Option{nil, {withoutDirect()}, {withoutIndex()}} {
				got := decide(t, engine(t, opts, d), tt.in)
				assert.Equal(t, tt.want, got.Effect, "%d options: %v", len(opts), got)
			}
		})
	}
}

func reader(in Input) Input {
	in.Agent.Role = "reader"
	return in
}

// Membership in an empty list evaluates its left side: a missing argument
// is an error there as anywhere, and an erroring deny rule denies (cel-go's
// optimized programs would fold the test to false).
func TestEmptyListMembershipKeepsErrors(t *testing.T) {
	d := doc(t, "p", "spec:\n  defaultEffect: allow\n  variables:\n    - {name: blocked, expression: '[]'}\n  rules:\n"+
		r("no-blocked-host", "deny", `action.tool == "http.get" && action.args.host in variables.blocked`)+
		r("empty-literal", "deny", `action.tool == "shell" && action.args.cmd in []`))
	for _, opts := range [][]Option{nil, {withoutDirect()}, {withoutIndex()}} {
		e := engine(t, opts, d)
		got := decide(t, e, exec("http.get", map[string]any{"url": "x"}))
		assert.Equal(t, agentos.Deny, got.Effect, "%d options: %v", len(opts), got)
		assert.Equal(t, "no-blocked-host", got.Rule)
		got = decide(t, e, exec("shell", nil))
		assert.Equal(t, agentos.Deny, got.Effect, "%d options: %v", len(opts), got)
		got = decide(t, e, exec("http.get", map[string]any{"host": "example.com"}))
		assert.Equal(t, agentos.Allow, got.Effect, "%d options: %v", len(opts), got)
	}
}
