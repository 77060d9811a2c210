package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/agent-os/agentos"
)

func TestPathUnder(t *testing.T) {
	tests := []struct {
		p, prefix string
		want      bool
	}{
		{"/policy/a.yaml", "/policy", true},
		{"/policy", "/policy", true},
		{"/policy/", "/policy", true},
		{"/policy/a", "/policy/", true},
		{"/policyX", "/policy", false},
		{"/policyX/a", "/policy", false},
		{"/poli", "/policy", false},
		{"/mem/../policy/a", "/policy", true},
		{"/policy/../etc/passwd", "/policy", false},
		{"/a/b", "/", true},
		{"a/b", "/a", false},
		{"/a/b", "a", false},
		{"a/b", "a", true},
		{"../a", ".", false},
		{"a", ".", true},
		{"/policy/a\x00", "/policy", false},
		{"", "/", false},
		{"/a", "", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, PathUnder(tt.p, tt.prefix), "%q under %q", tt.p, tt.prefix)
	}
}

func TestContainsCard(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"4111111111111111", true},
		{"card: 4111 1111 1111 1111.", true},
		{"4111-1111-1111-1111", true},
		{"5500 0000 0000 0004 exp 12/29", true},
		{"378282246310005", true}, // Amex, 15 digits
		{"4111111111111112", false},
		{"4111 1111 1111 1111 12", true}, // a window of whole groups
		{"41111111111111111111111", false},
		{"order 1234 5678", false},
		{"", false},
		{"4111  1111 1111 1111", false}, // two separators break the number
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ContainsCard(tt.s), tt.s)
	}
}

func TestContainsSSN(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"123-45-6789", true},
		{"ssn: 123 45 6789.", true},
		{"000-12-3456", false},
		{"666-12-3456", false},
		{"900-12-3456", false},
		{"123-00-4567", false},
		{"123-45-0000", false},
		{"123-45 6789", false},
		{"1123-45-6789", false},
		{"123-45-67890", false},
		{"123456789", false},
		{"", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ContainsSSN(tt.s), tt.s)
	}
}

// TestSQLFunctionsInCEL runs sql.readonly and sql.destructive as a policy
// does: an allow-list rule on sql.readonly, a deny rule on sql.destructive.
func TestSQLFunctionsInCEL(t *testing.T) {
	e := engine(t, nil, doc(t, "sql", rules(
		r("reads", "allow", `action.tool == "sql.query" && sql.readonly(action.args.query)`),
		r("no-destruction", "deny", `action.tool == "sql.query" && sql.destructive(action.args.query)`),
	)))
	tests := []struct {
		q    string
		want agentos.Effect
		rule string
	}{
		{"SELECT * FROM orders WHERE id = 1", agentos.Allow, "reads"},
		{"WITH c AS (SELECT 1 AS key) SELECT * FROM c", agentos.Allow, "reads"},
		{"UPDATE orders SET amount = 1 WHERE id = 1", agentos.Deny, ""}, // not a read: the default
		{"WITH c AS (SELECT 1 AS key) UPDATE orders SET amount = 0", agentos.Deny, "no-destruction"},
		{"SELECT 1 AS [']; DROP TABLE orders; --']", agentos.Deny, "no-destruction"},
		{"SELECT 'unterminated", agentos.Deny, "no-destruction"},
	}
	for _, tt := range tests {
		d := decide(t, e, exec("sql.query", map[string]any{"query": tt.q}))
		assert.Equal(t, tt.want, d.Effect, tt.q)
		assert.Equal(t, tt.rule, d.Rule, tt.q)
	}
}
