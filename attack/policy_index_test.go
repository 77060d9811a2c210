package attack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
)

// Threat: a policy that names the empty tool or the empty op ("nothing",
// as an author might write to match actions without one) is read by the
// engine as "any tool no rule names", and lets an agent run a tool the
// policy never allowed. The promise: under a default-deny policy whose
// rules never match the tool "shell", "shell" never runs, whatever the
// agent's role, however the rules spell the empty name.

const policyHeader = "apiVersion: agentos/v1\nkind: Policy\nmetadata: {name: attack}\nspec:\n  defaultEffect: deny\n"

func rulesYAML(rules ...[2]string) string {
	var b strings.Builder
	b.WriteString("  rules:\n")
	for i, r := range rules {
		fmt.Fprintf(&b, "    - name: r%d\n      effect: %s\n      when: '%s'\n", i, r[0], strings.ReplaceAll(r[1], "'", "''"))
	}
	return b.String()
}

// manyTools names n tools and adds n rules that apply to no tool in
// particular: enough to change how the engine lays out its index.
func manyTools(n int) [][2]string {
	var out [][2]string
	for i := range n {
		out = append(out, [2]string{"allow", fmt.Sprintf(`action.tool == "t%d" && agent.role == "admin"`, i)})
		out = append(out, [2]string{"allow", fmt.Sprintf(`agent.role == "nobody-%d"`, i)})
	}
	return out
}

func TestPolicyEmptyNameNeverRunsAnUnnamedTool(t *testing.T) {
	reader := []string{"reader"}
	anyone := []string{"reader", "admin", ""}
	tests := []struct {
		name   string
		policy string
		roles  []string
		// allowed is a tool the policy does allow (to the first role): it
		// must run, so that the policy is known to be in force.
		allowed string
	}{
		{"tool equals empty", rulesYAML([2]string{"allow", `action.tool == ""`},
			[2]string{"allow", `action.tool == "web.search"`}), anyone, "web.search"},
		{"empty equals tool", rulesYAML([2]string{"allow", `"" == action.tool`},
			[2]string{"allow", `action.tool == "web.search"`}), anyone, "web.search"},
		{"reader, empty tool in a list", rulesYAML([2]string{"allow", `action.tool in ["", "web.search"] && agent.role == "reader"`}), reader, "web.search"},
		{"empty or named, exec", rulesYAML([2]string{"allow", `(action.tool == "" || action.tool == "web.search") && action.op == "exec"`}), anyone, "web.search"},
		{"op equals empty", rulesYAML([2]string{"allow", `action.op == ""`},
			[2]string{"allow", `action.tool == "web.search"`}), anyone, "web.search"},
		{"empty op and tool in lists", rulesYAML([2]string{"allow", `action.op in ["", "read"] && action.tool in ["", "web.search"]`},
			[2]string{"allow", `action.op == "exec" && action.tool == "web.search"`}), anyone, "web.search"},
		{"empty tool, reader, beside named tools", rulesYAML(append([][2]string{
			{"allow", `action.tool == "" && agent.role == "reader"`},
			{"allow", `action.tool == "web.search" && agent.role == "reader"`}}, manyTools(3)...)...), anyone, "web.search"},
		{"empty tool through a variable", "  variables:\n    - {name: noTool, expression: 'action.tool == \"\"'}\n" +
			rulesYAML([2]string{"allow", `variables.noTool`}, [2]string{"allow", `action.tool == "web.search"`}), anyone, "web.search"},
		{"deny everything but one tool, negated", rulesYAML([2]string{"deny", `!(action.tool in ["web.search"])`},
			[2]string{"allow", `true`}), anyone, "web.search"},
		{"deny everything but one tool, not equal", rulesYAML([2]string{"deny", `action.tool != "web.search"`},
			[2]string{"allow", `agent.role == "reader" || agent.role == "admin" || agent.role == ""`}), anyone, "web.search"},
		{"look-alike names", rulesYAML([2]string{"allow", `action.tool in ["Shell", "shell ", " shell", "shel", "shell\u200b"]`},
			[2]string{"allow", `action.tool == "web.search"`}), anyone, "web.search"},
		{"empty tool in a large policy", rulesYAML(append([][2]string{
			{"allow", `action.tool in ["", "web.search"] && agent.role == "reader"`}}, manyTools(300)...)...), anyone, "web.search"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			var shell, allowed atomic.Int64
			k, err := kernel.New(
				kernel.WithPolicySource("attack.yaml", []byte(policyHeader+tt.policy)),
				kernel.WithTool("shell", func(context.Context, map[string]any) (any, error) {
					shell.Add(1)
					return "pwned", nil
				}),
				kernel.WithTool(tt.allowed, func(context.Context, map[string]any) (any, error) {
					allowed.Add(1)
					return "ok", nil
				}),
			)
			require.NoError(t, err)
			defer k.Close()

			for i, role := range tt.roles {
				for j, args := range []map[string]any{nil, {"cmd": "id"}, {"": ""}} {
					a, err := k.Spawn(ctx, agentos.AgentID(fmt.Sprintf("agent-%d-%d", i, j)), kernel.WithRole(role))
					require.NoError(t, err)
					_, err = a.Exec(ctx, "shell", args)
					var v *agentos.PolicyViolation
					require.True(t, errors.As(err, &v), "role %q: exec of shell returned %v, want a policy violation", role, err)
					require.Equal(t, agentos.Deny, v.Decision.Effect)
				}
			}
			require.Zero(t, shell.Load(), "the shell tool ran under a policy that never allows it")

			a, err := k.Spawn(ctx, "control", kernel.WithRole(tt.roles[0]))
			require.NoError(t, err)
			_, err = a.Exec(ctx, tt.allowed, map[string]any{"q": "x"})
			require.NoError(t, err, "the policy must be in force: its allowed tool runs")
			require.Equal(t, int64(1), allowed.Load())
			require.Zero(t, shell.Load())
		})
	}
}
