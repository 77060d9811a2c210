package policy

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

// FuzzParse feeds arbitrary bytes to Parse and, when they parse, compiles
// and runs them: nothing may panic, and every failure is an error value.
func FuzzParse(f *testing.F) {
	f.Add([]byte(financeYAML))
	f.Add([]byte(`{"apiVersion":"agentos/v1","kind":"Policy","metadata":{"name":"j"},"spec":{"rules":[{"name":"r","effect":"allow","when":"true"}]}}`))
	f.Add([]byte("---\n--- \n...\n"))
	f.Add([]byte(header + "metadata: {name: p}\nspec:\n  rules:\n    - &a {name: r, effect: allow, when: 'true'}\n    - *a\n"))
	f.Add([]byte(header + "metadata: {name: p}\nspec:\n  rules:\n    - name: r\n      effect: deny\n      when: |\n        lists.range(10).all(i, i < 20)\n"))
	f.Add([]byte(header + "metadata: {name: p}\nspec:\n  egress:\n    - {name: e, role: '*', labels: {a: b}, cidrs: [10.0.0.0/8, '::1'], hosts: [db.internal], ports: [443, 8000-8100], protocols: [udp]}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := Parse("fuzz.yaml", src)
		if err != nil {
			require.ErrorIs(t, err, agentos.ErrInvalid)
			return
		}
		e, err := NewEngine([]*Document{d})
		if err != nil {
			require.ErrorIs(t, err, agentos.ErrInvalid)
			return
		}
		got, err := e.Decide(context.Background(), exec("sql.query", map[string]any{"query": "select 1"}))
		if err != nil {
			require.Equal(t, agentos.Deny, got.Effect)
		}
	})
}

// FuzzDecide decides arbitrary actions against a policy that uses every
// variable and helper: no input may panic or make Decide fail.
func FuzzDecide(f *testing.F) {
	src := header + `metadata: {name: fuzz}
spec:
  variables:
    - name: q
      expression: 'has(action.args.query) ? string(action.args.query) : ""'
  rules:
    - {name: sql, effect: deny, when: 'action.tool == "sql.query" && sql.destructive(variables.q)'}
    - {name: pii, effect: deny, when: 'pii.card(variables.q) || pii.ssn(action.path)'}
    - {name: ro, effect: deny, onDeny: refuse, when: 'action.op in ["write", "delete"] && path.under(action.path, "/policy")'}
    - {name: amount, effect: approve, when: 'action.tool == "pay" && action.args.amount > 1000'}
    - {name: re, effect: audit, when: 'action.path.matches("^/mem/[a-z]+/.*$") && agent.trust >= 0.5'}
    - {name: loop, effect: allow, when: 'action.meta.all(k, k.size() < 10) && peer.present == false'}
    - {name: rate, effect: allow, when: 'action.op == "search"', limit: {rate: 2, per: 1s}}
`
	d, err := Parse("fuzz.yaml", []byte(src))
	require.NoError(f, err)
	e, err := NewEngine([]*Document{d})
	require.NoError(f, err)

	f.Add("exec", "sql.query", "/mem/working/a", "query", "DROP TABLE t", 10.0, "k", 0.5)
	f.Add("write", "", "/policy/../policy/x", "amount", "4111 1111 1111 1111", 5000.0, "env", 1.0)
	f.Add("search", "web", "\x00", "", "", -1.0, "", -3.0)
	f.Add("exec", "pay", "123-45-6789", "amount", "1e309", 1e300, "a very long meta key", 0.0)
	f.Fuzz(func(t *testing.T, op, tool, path, key, val string, num float64, metaKey string, trust float64) {
		in := Input{
			Action: agentos.Action{Op: agentos.Op(op), Tool: tool, Path: path,
				Args: map[string]any{key: val, "amount": num, "query": val},
				Meta: map[string]string{metaKey: val}},
			Agent: Subject{ID: key, Trust: trust},
		}
		got, err := e.Decide(context.Background(), in)
		require.NoError(t, err)
		require.Contains(t, []agentos.Effect{agentos.Deny, agentos.Allow, agentos.Approve, agentos.Audit}, got.Effect)
		x, err := e.Explain(context.Background(), in)
		require.NoError(t, err)
		if in.Action.Op != "search" { // Decide took a token that Explain sees missing
			require.Equal(t, got.Effect, x.Decision.Effect)
		}
	})
}
