package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSQLDestructive(t *testing.T) {
	tests := []struct {
		q    string
		want bool
	}{
		{"SELECT * FROM users WHERE id = 1", false},
		{"DROP TABLE users", true},
		{"drop table users", true},
		{"  DrOp\n\tTABLE users", true},
		{"TRUNCATE logs", true},
		{"ALTER TABLE t ADD COLUMN c int", true},
		{"DELETE FROM t", true},
		{"DELETE FROM t WHERE id = 3", false},
		{"delete from t where id in (select id from u)", false},
		{"UPDATE t SET a = 1", true},
		{"UPDATE t SET a = 1 WHERE id = 2", false},
		{"UPDATE t SET a = (SELECT b FROM u WHERE u.id = 1)", true},
		{"SELECT 1; DROP TABLE t", true},
		{"SELECT 1;DROP TABLE t;", true},
		{"SELECT 1; DELETE FROM t WHERE x=1; DELETE FROM u", true},
		{"SELECT 'DROP TABLE t'", false},
		{"SELECT 'it''s; DROP TABLE t'", false},
		{`SELECT "DROP" FROM t`, false},
		{"SELECT 1 -- DROP TABLE t", false},
		{"SELECT 1 /* DROP TABLE t */", false},
		{"SELECT 1 /* /* nested */ DROP TABLE t */", true}, // MySQL ends the comment early
		{`SELECT 'a\'; DROP TABLE t; --'`, true},           // standard SQL ends the literal at \'
		{`SELECT 'a\''; DROP TABLE t; -- '`, true},         // MySQL reads \' as a quote
		{"SELECT 1 --1; DROP TABLE t", true},               // MySQL: -- needs a blank
		{"SELECT 1 /*! DROP TABLE t */", true},             // MySQL executes /*! */
		{"SELECT drop_date FROM t", false},                 // identifiers are whole words
		{"SELECT * FROM t FOR UPDATE", false},              // a lock, not a write
		{"INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 1", false},
		{"INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1", false},
		{"WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", true},
		{"", false},
		{"'unterminated", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, SQLDestructive(tt.q), tt.q)
	}
}

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
