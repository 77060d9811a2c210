package attack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
)

// Threat: an agent allowed to query a database through a sql.query tool
// destroys data the policy forbids it to destroy, by writing the forbidden
// statement so that the policy's SQL check reads it differently from the
// database: a DROP hidden in another dialect's quoting ([brackets],
// $$dollar quotes$$, backslash escapes, SQLite's $var(…)), in an
// executable comment (/*!50000 … */) the check takes for a comment, an
// UPDATE after a WITH whose alias is a keyword, a WHERE faked inside a
// literal or a comment, an upsert fed by a query.
//
// The promise: under the README's own policy (allow sql.query, deny
// sql.destructive) no such statement runs, and the table is neither
// dropped nor altered nor its rows rewritten; under a policy that allows
// only sql.readonly, nothing but reads runs at all.

// sqlEvasions are statements that destroy the orders table in some
// dialect, written to slip past a SQL check.
var sqlEvasions = []string{
	"SELECT 1 AS [']; DROP TABLE orders; --']",
	"SELECT 1 AS [x]]' ]; DROP TABLE orders; --']",
	"WITH c AS (SELECT 1 AS key) UPDATE orders SET amount = 0",
	"WITH c AS (SELECT 1 AS for) DELETE FROM orders",
	"WITH c AS (SELECT 1 AS do) UPDATE orders SET amount = 0",
	"SELECT $$'$$; DROP TABLE orders; --'",
	"SELECT $t$'$t$; DROP TABLE orders; --'",
	"UPDATE orders SET amount = $$ WHERE id = 1 $$",
	"UPDATE orders SET amount = $x$ WHERE id = 1 $x$",
	"/*!50000DROP TABLE orders*/",
	"SELECT 1; /*M!100000 DROP TABLE orders */",
	"SELECT 1 /*!99999 '*/ ; DROP TABLE orders; -- ' */",
	"DELETE FROM orders /*!50000 WHERE id = 1 */",
	"SELECT $a(') ;DROP TABLE orders; --'",
	`SELECT 'a\'; DROP TABLE orders; --'`,
	`SELECT 'a\''; DROP TABLE orders; -- '`,
	`UPDATE orders SET amount = E'\' WHERE id = 1 --'`,
	"SELECT 1 /* /* */ ; DROP TABLE orders; -- */",
	"SELECT 1 --1; DROP TABLE orders",
	"SELECT 1 # x\n; DROP TABLE orders",
	"SELECT 1 -- x\rDROP TABLE orders",
	"UPDATE orders SET amount = 0 -- WHERE id = 1",
	"UPDATE orders SET amount = 0 /* WHERE id = 1 */",
	"UPDATE orders SET amount = 0 WHERE 1 = 1",
	"DELETE FROM orders WHERE 'a' = 'a'",
	"REPLACE INTO orders SELECT id, customer, 0 FROM orders",
	"INSERT OR REPLACE INTO orders SELECT id, customer, 0 FROM orders",
	"INSERT INTO orders SELECT * FROM orders WHERE true ON CONFLICT(id) DO UPDATE SET amount = 0",
	"SELECT 1; DrOp/**/TaBlE\t`orders`",
	"SELECT 1;\u00a0DROP TABLE orders",
	"SELECT 1\x00; DROP TABLE orders",
	"ALTER TABLE orders RENAME TO old_orders",
	"SELECT 1 DELETE FROM orders",
}

// readmePolicy returns the policy the README shows, as it stands.
func readmePolicy(t *testing.T) []byte {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	for _, block := range strings.Split(string(readme), "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if strings.Contains(block, "kind: Policy") && strings.Contains(block, "sql.query") {
			return []byte(block)
		}
	}
	t.Fatal("README.md shows no policy for sql.query")
	return nil
}

// sqlTarget is a SQLite database behind a sql.query tool that runs
// whatever statement it is given.
type sqlTarget struct {
	db  *sql.DB
	mu  sync.Mutex
	ran []string
}

func newSQLTarget(t *testing.T) *sqlTarget {
	t.Helper()
	db, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "shop.db"))
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`
		CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount INTEGER);
		INSERT INTO orders (customer, amount) VALUES ('bob', 12), ('ann', 3), ('cy', 40);
		CREATE TABLE audit (x INTEGER);`)
	require.NoError(t, err)
	return &sqlTarget{db: db}
}

func (s *sqlTarget) tool(ctx context.Context, args map[string]any) (any, error) {
	q, _ := args["query"].(string)
	s.mu.Lock()
	s.ran = append(s.ran, q)
	s.mu.Unlock()
	res, err := s.db.ExecContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return res.RowsAffected()
}

// state is every object's schema and every table's rows.
func (s *sqlTarget) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	rows, err := s.db.Query("SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name")
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var typ, name, text string
		require.NoError(t, rows.Scan(&typ, &name, &text))
		fmt.Fprintf(&b, "%s %s %s\n", typ, name, text)
		if typ == "table" {
			tables = append(tables, name)
		}
	}
	require.NoError(t, rows.Close())
	for _, name := range tables {
		rows, err := s.db.Query(`SELECT * FROM "` + name + `" ORDER BY rowid`)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			fmt.Fprintf(&b, "%s %#v\n", name, vals)
		}
		require.NoError(t, rows.Close())
	}
	return b.String()
}

func (s *sqlTarget) ranQuery(q string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.ran {
		if r == q {
			return true
		}
	}
	return false
}

func sqlKernel(t *testing.T, policy []byte, target *sqlTarget) *kernel.Kernel {
	t.Helper()
	k, err := kernel.New(
		kernel.WithPolicySource("policy.yaml", policy),
		kernel.WithTool("sql.query", target.tool),
	)
	require.NoError(t, err)
	t.Cleanup(func() { k.Close() })
	return k
}

// query runs q as a fresh agent (a denial kills the agent that tried).
func query(t *testing.T, k *kernel.Kernel, n int, q string) error {
	t.Helper()
	a, err := k.Spawn(t.Context(), agentos.AgentID(fmt.Sprintf("analyst-%d", n)), kernel.WithRole("analyst"))
	require.NoError(t, err)
	_, err = a.Exec(t.Context(), "sql.query", map[string]any{"query": q})
	return err
}

func TestSQLEvasionsNeverDestroyUnderTheREADMEPolicy(t *testing.T) {
	target := newSQLTarget(t)
	k := sqlKernel(t, readmePolicy(t), target)
	intact := target.state(t)

	// The tool runs whatever it is given: only the policy stands between
	// an agent and a dropped table.
	_, err := target.tool(t.Context(), map[string]any{"query": "DROP TABLE audit"})
	require.NoError(t, err)
	require.NotEqual(t, intact, target.state(t))
	intact = target.state(t)
	// The policy is in force: a read goes through the kernel to the tool.
	require.NoError(t, query(t, k, 0, "SELECT count(*) FROM orders"))
	require.True(t, target.ranQuery("SELECT count(*) FROM orders"))

	for i, q := range sqlEvasions {
		err := query(t, k, 100+i, q)
		require.Equal(t, intact, target.state(t), "%q changed the database", q)
		require.False(t, target.ranQuery(q), "%q reached the database", q)
		var v *agentos.PolicyViolation
		require.True(t, errors.As(err, &v), "%q: got %v, want a policy violation", q, err)
	}

	// Two steps: the first opens SQLite's schema to writes, the second,
	// with a WHERE, rewrites the table's definition.
	require.Error(t, query(t, k, 1000, "PRAGMA writable_schema = ON"))
	_ = query(t, k, 1001, "UPDATE sqlite_master SET sql = 'CREATE TABLE orders (id INTEGER PRIMARY KEY)' WHERE name = 'orders'")
	require.Equal(t, intact, target.state(t), "the schema was rewritten in two steps")
}

func TestSQLOnlyReadsRunUnderAReadOnlyPolicy(t *testing.T) {
	policy := []byte(`apiVersion: agentos/v1
kind: Policy
metadata: {name: reads-only}
spec:
  defaultEffect: deny
  rules:
    - name: sql-reads
      effect: allow
      when: action.tool == "sql.query" && sql.readonly(action.args.query)
`)
	target := newSQLTarget(t)
	k := sqlKernel(t, policy, target)
	intact := target.state(t)

	reads := []string{
		"SELECT * FROM orders",
		"SELECT customer, sum(amount) FROM orders GROUP BY customer",
		"WITH big AS (SELECT * FROM orders WHERE amount > 5) SELECT count(*) FROM big",
		"EXPLAIN QUERY PLAN SELECT * FROM orders WHERE id = 1",
		"PRAGMA table_info(orders)",
		"SELECT 'DROP TABLE orders' -- DELETE FROM orders",
	}
	for i, q := range reads {
		require.NoError(t, query(t, k, i, q), q)
		require.True(t, target.ranQuery(q), "%q is a read and must run", q)
	}

	writes := append([]string{
		"INSERT INTO orders (customer, amount) VALUES ('eve', 1)",
		"UPDATE orders SET amount = 1 WHERE id = 1",
		"DELETE FROM orders WHERE id = 2",
		"CREATE TABLE stolen AS SELECT * FROM orders",
		"PRAGMA user_version = 9",
		"PRAGMA writable_schema(1)",
		"SELECT * INTO copy FROM orders",
		"WITH x AS (SELECT 1) INSERT INTO audit SELECT * FROM x",
		"BEGIN; DELETE FROM orders; COMMIT",
		"VACUUM",
	}, sqlEvasions...)
	for i, q := range writes {
		err := query(t, k, 100+i, q)
		require.ErrorIs(t, err, agentos.ErrDenied, q)
		require.False(t, target.ranQuery(q), "%q is no read and must not run", q)
	}
	require.Equal(t, intact, target.state(t), "the database changed under a read-only policy")
}
