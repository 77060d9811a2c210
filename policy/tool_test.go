package policy

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

// A rule on the tool variable applies to every tool of a class without
// naming one, decides the same with and without the index, and reads
// safely on actions that are not tool calls.
func TestToolVariable(t *testing.T) {
	src := `
apiVersion: agentos/v1
kind: Policy
metadata: {name: tools}
spec:
  defaultEffect: deny
  rules:
    - name: tools
      effect: allow
      when: action.op == "exec"
    - name: files
      effect: allow
      when: action.op == "read"
    - name: no-destructive-interns
      effect: deny
      when: tool.sideEffect in ["delete", "payment"] && agent.role == "intern"
    - name: no-deprecated
      effect: deny
      when: tool.deprecated == true
    - name: unregistered
      effect: deny
      when: action.op == "exec" && !tool.registered
    - name: cost-cap
      effect: deny
      when: tool.cost > 1.0 && !("budget" in agent.labels)
    - name: needs-pci
      effect: deny
      when: '"pci" in tool.permissions && !("pci" in agent.labels)'
    - name: tagged
      effect: deny
      when: '"quarantine" in tool.tags'
`
	// Many other rules that name tools, so the index has work to do.
	for i := range 100 {
		src += fmt.Sprintf("    - name: other-%d\n      effect: deny\n      when: action.tool == \"t%d\" && agent.role == \"nobody\"\n", i, i)
	}
	docs, err := Parse("tools.yaml", []byte(src))
	require.NoError(t, err)
	eng, err := NewEngine([]*Document{docs})
	require.NoError(t, err)

	exec := func(name string) agentos.Action { return agentos.Action{Op: agentos.OpExec, Tool: name, Agent: "a"} }
	intern := Subject{ID: "a", Role: "intern"}
	staff := Subject{ID: "a", Role: "staff"}
	cases := []struct {
		name string
		in   Input
		rule string
		ok   bool
	}{
		{"delete tool, intern", Input{Action: exec("t5"), Agent: intern, Tool: &Tool{Name: "t5", SideEffect: "delete"}}, "no-destructive-interns", false},
		{"payment tool, intern", Input{Action: exec("pay"), Agent: intern, Tool: &Tool{Name: "pay", SideEffect: "payment"}}, "no-destructive-interns", false},
		{"delete tool, staff", Input{Action: exec("t5"), Agent: staff, Tool: &Tool{Name: "t5", SideEffect: "delete"}}, "tools", true},
		{"read tool, intern", Input{Action: exec("q"), Agent: intern, Tool: &Tool{Name: "q", SideEffect: "read"}}, "tools", true},
		{"deprecated", Input{Action: exec("q"), Agent: staff, Tool: &Tool{Name: "q", SideEffect: "read", Deprecated: true}}, "no-deprecated", false},
		{"unregistered", Input{Action: exec("q"), Agent: staff}, "unregistered", false},
		{"costly", Input{Action: exec("q"), Agent: staff, Tool: &Tool{Name: "q", SideEffect: "read", Cost: 2}}, "cost-cap", false},
		{"costly with budget", Input{Action: exec("q"), Agent: Subject{ID: "a", Labels: map[string]string{"budget": "1"}}, Tool: &Tool{Name: "q", SideEffect: "read", Cost: 2}}, "tools", true},
		{"permission", Input{Action: exec("q"), Agent: staff, Tool: &Tool{Name: "q", SideEffect: "read", Permissions: []string{"pci"}}}, "needs-pci", false},
		{"tag", Input{Action: exec("q"), Agent: staff, Tool: &Tool{Name: "q", SideEffect: "read", Tags: []string{"x", "quarantine"}}}, "tagged", false},
		{"not a tool call", Input{Action: agentos.Action{Op: agentos.OpRead, Path: "/x", Agent: "a"}, Agent: intern}, "files", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := eng.Decide(t.Context(), c.in)
			require.NoError(t, err)
			require.Equal(t, c.ok, d.Permits(), "%+v", d)
			require.Equal(t, c.rule, d.Rule)
			x, err := eng.Explain(t.Context(), c.in)
			require.NoError(t, err)
			require.Equal(t, d.Effect, x.Decision.Effect)
			require.Empty(t, x.Decision.Errors)
		})
	}
}
