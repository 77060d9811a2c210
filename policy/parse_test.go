package policy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

const financeYAML = `apiVersion: agentos/v1
kind: Policy
metadata: {name: finance, version: "7", description: money}
spec:
  defaultEffect: deny
  variables:
    - name: isSQL
      expression: action.tool == "sql.query"
  rules:
    - name: no-destructive-sql
      effect: deny
      severity: critical
      onDeny: refuse
      when: variables.isSQL && sql.destructive(action.args.query)
      message: destructive SQL is not allowed
    - name: big-payments-need-approval
      effect: approve
      when: action.tool == "payments.send" && action.args.amount > 1000
    - name: search-rate
      effect: allow
      when: action.tool == "web.search"
      limit: {rate: 100, per: 1m}
`

func TestParseDocument(t *testing.T) {
	d, err := Parse("finance.yaml", []byte(financeYAML))
	require.NoError(t, err)
	assert.Equal(t, "finance", d.Name)
	assert.Equal(t, "7", d.Version)
	assert.Equal(t, "money", d.Description)
	assert.Equal(t, "finance.yaml", d.File)
	assert.Equal(t, financeYAML, string(d.Source))
	assert.True(t, d.HasDefault)
	assert.Equal(t, agentos.Deny, d.DefaultEffect)
	require.Len(t, d.Variables, 1)
	assert.Equal(t, "isSQL", d.Variables[0].Name)
	require.Len(t, d.Rules, 3)
	r := d.Rules[0]
	assert.Equal(t, "no-destructive-sql", r.Name)
	assert.Equal(t, agentos.Deny, r.Effect)
	assert.Equal(t, agentos.SeverityCritical, r.Severity)
	assert.Equal(t, OnDenyRefuse, r.OnDeny)
	assert.Equal(t, 10, r.Line)
	assert.Equal(t, OnDenyKill, d.Rules[1].OnDeny)
	assert.Equal(t, &Limit{Rate: 100, Per: time.Minute}, d.Rules[2].Limit)
}

func TestParseJSON(t *testing.T) {
	src := `{"apiVersion": "agentos/v1", "kind": "Policy", "metadata": {"name": "j", "version": "1"},
 "spec": {"rules": [{"name": "r", "effect": "allow", "when": "action.op == \"read\""}]}}`
	d, err := Parse("j.json", []byte(src))
	require.NoError(t, err)
	assert.Equal(t, "j", d.Name)
	assert.False(t, d.HasDefault)
	require.Len(t, d.Rules, 1)

	_, err = Parse("j.json", []byte(`{"apiVersion": "agentos/v1", "kind": "Policy", "metadata": {"name": "j"}, "spec": {}, "extra": 1}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "extra"`)
}

func TestParseFileMultiDocument(t *testing.T) {
	dir := t.TempDir()
	src := "# two policies\n---\n" + header + "metadata: {name: a}\nspec:\n  rules:\n    - {name: r, effect: allow, when: 'true'}\n" +
		"---\n" + header + "metadata: {name: b, version: '2'}\nspec:\n  rules:\n    - {name: r, effect: deny, whne: 'true'}\n"
	path := filepath.Join(dir, "p.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	_, err := ParseFile(path)
	require.Error(t, err)
	var pe *Error
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, path, pe.File)
	assert.Equal(t, 15, pe.Line, "position is in the file, not in the document")
	assert.Equal(t, "b", pe.Policy)
	assert.Contains(t, err.Error(), `unknown field "whne"`)
	assert.ErrorIs(t, err, agentos.ErrInvalid)

	fixed := src[:len(src)-len("whne: 'true'}\n")] + "when: 'true'}\n"
	require.NoError(t, os.WriteFile(path, []byte(fixed), 0o600))
	docs, err := ParseFile(path)
	require.NoError(t, err)
	require.Len(t, docs, 2)
	assert.Equal(t, "a", docs[0].Name)
	assert.Equal(t, "b", docs[1].Name)
	assert.Equal(t, 3, docs[0].Line)
	assert.Contains(t, string(docs[1].Source), "name: b")
	assert.NotContains(t, string(docs[1].Source), "name: a")

	// A second document in Parse is refused.
	_, err = Parse("p.yaml", []byte(fixed))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than one YAML document")
}

func TestParseDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
	}
	write("b.yaml", header+"metadata: {name: b}\nspec: {}\n")
	write("a.json", `{"apiVersion":"agentos/v1","kind":"Policy","metadata":{"name":"a"},"spec":{}}`)
	write("notes.txt", "not a policy")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o700))
	docs, err := ParseDir(dir)
	require.NoError(t, err)
	require.Len(t, docs, 2)
	assert.Equal(t, "a", docs[0].Name)
	assert.Equal(t, "b", docs[1].Name)

	write("c.yml", header+"metadata: {name: c}\nspec: {bogus: 1}\n")
	_, err = ParseDir(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "c.yml:4:")

	_, err = ParseDir(filepath.Join(dir, "missing"))
	require.Error(t, err)
	_, err = ParseFile(filepath.Join(dir, "missing.yaml"))
	require.Error(t, err)
}

func TestParseErrors(t *testing.T) {
	rule := func(fields string) string {
		return header + "metadata: {name: p}\nspec:\n  rules:\n    - name: r\n" + fields
	}
	tests := []struct {
		name string
		src  string
		want string // substring of the error
		line int    // expected line (0: not checked)
	}{
		{"empty", "", "empty document", 0},
		{"comments only", "# nothing\n", "empty document", 0},
		{"not a mapping", "- a\n- b\n", "must be a mapping", 1},
		{"bad yaml", "a: [\n", "invalid YAML", 0},
		{"unknown top field", header + "metadata: {name: p}\nspec: {}\nstatus: {}\n", `unknown field "status"`, 5},
		{"unknown spec field", header + "metadata: {name: p}\nspec: {rulez: []}\n", `unknown field "rulez"`, 4},
		{"unknown metadata field", header + "metadata: {name: p, owner: x}\nspec: {}\n", `unknown field "owner"`, 3},
		{"bad apiVersion", "apiVersion: agentos/v2\nkind: Policy\nmetadata: {name: p}\nspec: {}\n", `apiVersion is "agentos/v2"`, 1},
		{"bad kind", "apiVersion: agentos/v1\nkind: Rule\nmetadata: {name: p}\nspec: {}\n", `kind is "Rule"`, 2},
		{"missing apiVersion", "kind: Policy\nmetadata: {name: p}\nspec: {}\n", "missing field apiVersion", 0},
		{"missing name", header + "metadata: {version: '1'}\nspec: {}\n", "missing field metadata.name", 0},
		{"bad name", header + "metadata: {name: 'a b'}\nspec: {}\n", "not a valid name", 3},
		{"missing spec", header + "metadata: {name: p}\n", "missing field spec", 0},
		{"bad default", header + "metadata: {name: p}\nspec: {defaultEffect: permit}\n", `unknown effect "permit"`, 4},
		{"unknown rule field", rule("      effect: allow\n      when: 'true'\n      whne: 'true'\n"), `unknown field "whne"`, 9},
		{"unknown effect", rule("      effect: permit\n      when: 'true'\n"), `unknown effect "permit"`, 7},
		{"missing effect", rule("      when: 'true'\n"), "missing field effect", 6},
		{"missing when", rule("      effect: allow\n"), "missing field when", 6},
		{"empty when", rule("      effect: allow\n      when: ' '\n"), "when is empty", 8},
		{"unknown severity", rule("      effect: deny\n      when: 'true'\n      severity: urgent\n"), `unknown severity "urgent"`, 9},
		{"unknown onDeny", rule("      effect: deny\n      when: 'true'\n      onDeny: pause\n"), `unknown onDeny "pause"`, 9},
		{"onDeny on allow", rule("      effect: allow\n      when: 'true'\n      onDeny: refuse\n"), "onDeny applies only to deny rules", 9},
		{"limit on deny", rule("      effect: deny\n      when: 'true'\n      limit: {rate: 1, per: 1s}\n"), "limit applies only to allow and audit rules", 9},
		{"limit on approve", rule("      effect: approve\n      when: 'true'\n      limit: {rate: 1, per: 1s}\n"), "limit applies only to allow and audit rules", 9},
		{"limit rate zero", rule("      effect: allow\n      when: 'true'\n      limit: {rate: 0, per: 1s}\n"), "limit.rate", 9},
		{"limit rate text", rule("      effect: allow\n      when: 'true'\n      limit: {rate: lots, per: 1s}\n"), "limit.rate", 9},
		{"limit per bad", rule("      effect: allow\n      when: 'true'\n      limit: {rate: 1, per: soon}\n"), "limit.per", 9},
		{"limit per negative", rule("      effect: allow\n      when: 'true'\n      limit: {rate: 1, per: -1s}\n"), "limit.per", 9},
		{"limit missing per", rule("      effect: allow\n      when: 'true'\n      limit: {rate: 1}\n"), "missing field per", 9},
		{"limit unknown field", rule("      effect: allow\n      when: 'true'\n      limit: {rate: 1, per: 1s, burst: 2}\n"), `unknown field "burst"`, 9},
		{"duplicate rule", header + "metadata: {name: p}\nspec:\n  rules:\n    - {name: r, effect: allow, when: 'true'}\n    - {name: r, effect: deny, when: 'true'}\n", "duplicate rule name (first defined at line 6)", 7},
		{"duplicate key", header + "metadata: {name: p}\nspec: {}\nspec: {}\n", "", 0},
		{"rules not a list", header + "metadata: {name: p}\nspec: {rules: {a: 1}}\n", "spec.rules must be a list", 4},
		{"when not a string", rule("      effect: allow\n      when: [a]\n"), "when must be a string", 8},
		{"null when", rule("      effect: allow\n      when: null\n"), "when must be a string, not null", 8},
		{"anchor", header + "metadata: {name: p}\nspec:\n  rules:\n    - &r {name: r, effect: allow, when: 'true'}\n    - *r\n", "", 0},
		{"variable bad name", header + "metadata: {name: p}\nspec:\n  variables:\n    - {name: 'is-sql', expression: 'true'}\n", "not an identifier", 6},
		{"variable duplicate", header + "metadata: {name: p}\nspec:\n  variables:\n    - {name: a, expression: 'true'}\n    - {name: a, expression: 'false'}\n", "duplicate variable name", 7},
		{"variable missing expression", header + "metadata: {name: p}\nspec:\n  variables:\n    - {name: a}\n", "missing field expression", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.src))
			require.Error(t, err)
			assert.ErrorIs(t, err, agentos.ErrInvalid)
			assert.Contains(t, err.Error(), tt.want)
			var pe *Error
			require.True(t, errors.As(err, &pe), "%T", err)
			assert.Equal(t, "p.yaml", pe.File)
			if tt.line > 0 {
				assert.Equal(t, tt.line, pe.Line, err.Error())
			}
		})
	}
}

func TestParseErrorNamesRule(t *testing.T) {
	src := header + "metadata: {name: shop}\nspec:\n  rules:\n    - name: refunds\n      effect: deny\n      when: 'true'\n      sevrity: high\n"
	_, err := Parse("shop.yaml", []byte(src))
	require.Error(t, err)
	assert.Equal(t, `shop.yaml:9:7: policy "shop": rule "refunds": unknown field "sevrity" in a rule (known: name, description, effect, when, message, severity, onDeny, limit)`, err.Error())
}

func TestParseLimits(t *testing.T) {
	big := make([]byte, MaxSourceSize+1)
	_, err := Parse("big.yaml", big)
	require.ErrorIs(t, err, agentos.ErrInvalid)
	assert.Contains(t, err.Error(), "over the limit")
}
