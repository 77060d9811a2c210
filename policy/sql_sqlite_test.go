//go:build cgo

package policy

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"
)

var (
	sqlSeed = flag.Uint64("sql.seed", 0, "seed of the generated SQL corpus run against SQLite (0: a fresh seed from the clock)")
	sqlN    = flag.Int("sql.n", 600, "how many generated queries the SQLite property test runs, besides the fixed ones")
)

// The corpus: reads, selective writes, and statements that destroy, each
// in SQLite's own dialect (SQLite runs nothing else: the forms of the other
// dialects are proven by the lexer tests in sql_test.go).
var (
	corpusReads = []string{
		"SELECT * FROM orders",
		"SELECT id, amount FROM orders WHERE customer = 'bob' ORDER BY id DESC LIMIT 2",
		"SELECT customer, sum(amount) FROM orders GROUP BY customer HAVING sum(amount) > 10",
		"SELECT o.id, c.name FROM orders o JOIN customers c ON c.name = o.customer",
		"SELECT * FROM orders WHERE id IN (SELECT id FROM orders WHERE amount > 5)",
		"WITH big AS (SELECT * FROM orders WHERE amount > 5) SELECT count(*) FROM big",
		"WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10) SELECT sum(x) FROM n",
		"WITH c AS (SELECT 1 AS key) SELECT * FROM c",
		"VALUES (1, 'a'), (2, 'b')",
		"EXPLAIN QUERY PLAN SELECT * FROM orders WHERE customer = 'bob'",
		"EXPLAIN SELECT 1",
		"PRAGMA table_info(orders)",
		"PRAGMA index_list(orders)",
		"SELECT 'DROP TABLE orders; DELETE FROM orders'",
		"SELECT note FROM orders WHERE note LIKE '%drop%'",
		"SELECT replace(note, 'a', 'b') FROM orders",
		`SELECT 1 AS [key], 2 AS "for", 3 AS "it""s"`,
		"SELECT * FROM orders WHERE id = 1 -- DROP TABLE orders",
		"SELECT /* DELETE FROM orders */ count(*) FROM orders",
		"SELECT 'it''s' AS a, x'00' AS b",
		"SELECT 1; SELECT 2",
	}
	corpusWrites = []string{
		"INSERT INTO orders (customer, amount, note) VALUES ('zed', 1, 'n')",
		"UPDATE orders SET amount = amount + 1 WHERE id = 2",
		"DELETE FROM orders WHERE id = 3",
		"INSERT INTO orders (id, customer, amount) VALUES (1, 'x', 0) ON CONFLICT(id) DO UPDATE SET amount = 0",
		"INSERT OR REPLACE INTO orders (id, customer, amount, note) VALUES (2, 'y', 0, 'n')",
		"CREATE TABLE scratch (a)",
		"CREATE INDEX orders_amount ON orders(amount)",
		"CREATE VIEW v AS SELECT * FROM orders",
		"UPDATE orders SET note = 'x' WHERE customer = 'bob'",
		"PRAGMA user_version = 7",
		"BEGIN; UPDATE orders SET amount = 1 WHERE id = 1; COMMIT",
		"INSERT INTO orders (customer, amount) SELECT name, 1 FROM customers",
	}
	corpusDestroy = []string{
		"DROP TABLE orders",
		"DROP TABLE IF EXISTS customers",
		"DELETE FROM orders",
		"DELETE FROM customers WHERE 1",
		"UPDATE orders SET amount = 0",
		"UPDATE orders SET note = 'gone' WHERE true",
		"UPDATE orders SET amount = 0 WHERE 1 = 1",
		"DELETE FROM orders WHERE 'a' = 'a'",
		"UPDATE orders SET amount = 0 WHERE NOT 0",
		`UPDATE orders SET amount = 0 WHERE "x" = "x"`,
		"ALTER TABLE orders RENAME TO old_orders",
		"ALTER TABLE orders ADD COLUMN x INTEGER",
		"ALTER TABLE orders DROP COLUMN note",
		"ALTER TABLE orders RENAME COLUMN note TO memo",
		"WITH c AS (SELECT 1 AS key) UPDATE orders SET amount = 0",
		"WITH c AS (SELECT 1 AS for) DELETE FROM orders",
		"WITH c AS (SELECT 1 AS do) UPDATE orders SET amount = 0",
		"REPLACE INTO orders SELECT id, customer, 0, note FROM orders",
		"INSERT OR REPLACE INTO orders SELECT id, customer, 0, note FROM orders",
		"INSERT INTO orders SELECT * FROM orders WHERE true ON CONFLICT(id) DO UPDATE SET amount = 0",
		"UPDATE orders SET amount = 0 -- WHERE id = 1",
		"UPDATE orders SET amount = 0 /* WHERE id = 1 */",
		"DELETE FROM orders /*!50000 WHERE id = 1 */",
		"UPDATE [orders] SET [amount] = 0",
		"DELETE FROM `orders`",
		"PRAGMA writable_schema = 1; UPDATE sqlite_master SET sql = 'CREATE TABLE customers (id INTEGER PRIMARY KEY)' WHERE name = 'customers'",
		"PRAGMA writable_schema = ON; DELETE FROM sqlite_master WHERE name = 'customers'",
	}
	// corpusWrappers hide a statement D in another dialect's quoting.
	corpusWrappers = []string{
		"SELECT 1 AS [']; D; --']",
		"SELECT 1 AS [x]; D",
		"SELECT '$$'; D; -- $$",
		"SELECT 1 /*! ; D */",
		"/*!50000 D */",
		"/*M!100000 D */",
		"SELECT 1; -- x\nD",
		"SELECT 'it''s'; D",
		`SELECT "a""b"; D`,
		"SELECT `id` FROM orders; D",
		"SELECT 'x' /* ; */; D",
		"SELECT 'a\\'; D; --'",
		"SELECT \"a\\\"; D; --\"",
		"SELECT $a(') ;D; --'",
		"SELECT 1 /* /* */ ; D; -- */",
	}
)

// sqlState is what a database holds: each object's schema, and each
// table's rows by rowid.
type sqlState struct {
	schema map[string]string
	rows   map[string]map[int64]string
}

func (s sqlState) equal(o sqlState) bool {
	return fmt.Sprint(s.schema) == fmt.Sprint(o.schema) && fmt.Sprint(s.rows) == fmt.Sprint(o.rows)
}

// destroyedBy reports the first table of s that after lost, whose schema
// changed, or whose every row (when it had some) was deleted or rewritten.
func (s sqlState) destroyedBy(after sqlState) string {
	for name, rows := range s.rows {
		if after.schema["table "+name] != s.schema["table "+name] {
			return name + ": dropped or altered"
		}
		if len(rows) == 0 {
			continue
		}
		kept := 0
		for id, row := range rows {
			if after.rows[name][id] == row {
				kept++
			}
		}
		if kept == 0 {
			return name + ": every row deleted or rewritten"
		}
	}
	return ""
}

func readSQLState(t testing.TB, path string) sqlState {
	db, err := sql.Open("sqlite3", path)
	require.NoError(t, err)
	defer db.Close()
	st := sqlState{schema: map[string]string{}, rows: map[string]map[int64]string{}}
	rs, err := db.Query("SELECT type, name, coalesce(sql, '') FROM sqlite_master")
	require.NoError(t, err)
	var tables []string
	for rs.Next() {
		var typ, name, text string
		require.NoError(t, rs.Scan(&typ, &name, &text))
		st.schema[typ+" "+name] = text
		if typ == "table" && !strings.HasPrefix(name, "sqlite_") {
			tables = append(tables, name)
		}
	}
	require.NoError(t, rs.Err())
	rs.Close()
	for _, name := range tables {
		rows, err := db.Query(`SELECT rowid, * FROM "` + strings.ReplaceAll(name, `"`, `""`) + `"`)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		st.rows[name] = map[int64]string{}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			st.rows[name][vals[0].(int64)] = fmt.Sprintf("%q", vals[1:])
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return st
}

// sqlMutator rewrites a query the way an attacker varies one: random case,
// blanks and comments between tokens, quoted table names, stacking.
type sqlMutator struct{ rnd *rand.Rand }

func (m sqlMutator) pick(xs []string) string { return xs[m.rnd.IntN(len(xs))] }

func (m sqlMutator) randomCase(q string) string {
	b := []byte(q)
	for i, c := range b {
		if (c|0x20) >= 'a' && (c|0x20) <= 'z' && m.rnd.IntN(2) == 0 {
			b[i] = c ^ 0x20
		}
	}
	return string(b)
}

func (m sqlMutator) blanks(q string) string {
	seps := []string{" ", "\t", "\n", "  ", "/**/", "/* c */", " -- c\n", "\r\n"}
	var b strings.Builder
	for i, part := range strings.Split(q, " ") {
		if i > 0 {
			if m.rnd.IntN(3) == 0 {
				b.WriteString(m.pick(seps))
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(part)
	}
	return b.String()
}

func (m sqlMutator) quoteTables(q string) string {
	for _, name := range []string{"orders", "customers"} {
		q = strings.ReplaceAll(q, " "+name, " "+m.pick([]string{name, `"` + name + `"`, "[" + name + "]", "`" + name + "`"}))
	}
	return q
}

func (m sqlMutator) mutate(q string) string {
	if m.rnd.IntN(2) == 0 {
		q = m.quoteTables(q)
	}
	if m.rnd.IntN(2) == 0 {
		q = m.blanks(q)
	}
	if m.rnd.IntN(2) == 0 {
		q = m.randomCase(q)
	}
	switch m.rnd.IntN(6) {
	case 0:
		q = "SELECT 1; " + q
	case 1:
		q += "; SELECT 1"
	case 2:
		q += ";"
	}
	return q
}

// corpusSoup are the pieces of random token soup: keywords, names and
// every quote and comment opener of the dialects, glued with or without
// blanks, so that the database, not the generator, decides what parses.
var corpusSoup = []string{
	"SELECT", "DROP", "TABLE", "orders", "customers", "DELETE", "FROM", "UPDATE", "SET",
	"amount", "note", "id", "=", "0", "1", "WHERE", "true", ";", ";", "'", "''", `"`, "[", "]",
	"`", "$$", "$a(", "(", ")", "--", "\n", "/*", "*/", "/*!", "#", "\\", "E'", ",", "WITH",
	"c", "AS", "key", "INSERT", "INTO", "VALUES", "REPLACE", "OR", "ON", "CONFLICT", "DO",
	"ALTER", "RENAME", "TO", "x", "*", "RETURNING", "LIMIT", "NOT", "$t$", "?", "@a", ":a",
}

// soup glues random pieces. A WHERE followed by a name is left out: a
// column can be true on every row (WHERE id), and no lexical check can
// know (see TestSQLAgainstSQLite).
func (m sqlMutator) soup() string {
	var b strings.Builder
	prev := ""
	for range 2 + m.rnd.IntN(14) {
		p := m.pick(corpusSoup)
		if prev == "WHERE" && strings.ContainsAny(p[:1], "abcdefghijklmnopqrstuvwxyz") {
			continue
		}
		b.WriteString(p)
		if m.rnd.IntN(3) > 0 {
			b.WriteByte(' ')
		}
		prev = p
	}
	return b.String()
}

// generate returns one query of the corpus.
func (m sqlMutator) generate() string {
	if m.rnd.IntN(4) == 0 {
		return m.soup()
	}
	switch n := m.rnd.IntN(20); {
	case n < 7:
		return m.mutate(m.pick(corpusReads))
	case n < 10:
		return m.mutate(m.pick(corpusWrites))
	case n < 14:
		return m.mutate(m.pick(corpusDestroy))
	case n < 18:
		d := m.mutate(m.pick(corpusDestroy))
		return strings.Replace(m.pick(corpusWrappers), "D", d, 1)
	default:
		all := [][]string{corpusReads, corpusWrites, corpusDestroy}
		return m.mutate(m.pick(m.pick2(all))) + ";" + m.mutate(m.pick(m.pick2(all)))
	}
}

func (m sqlMutator) pick2(xs [][]string) []string { return xs[m.rnd.IntN(len(xs))] }

// TestSQLAgainstSQLite runs a generated corpus against a real SQLite file
// and checks both helpers against what the database actually did: every
// query sql.readonly accepts leaves schema and data unchanged, and every
// query that drops or alters a table, or deletes or rewrites all its rows,
// is sql.destructive. Run with -sql.seed to reproduce a failure, -sql.n to
// run more.
//
// What sql.destructive cannot see is left out of the corpus on purpose and
// documented: a WHERE that names a column yet matches every row (WHERE id,
// WHERE id = id), and rows replaced one by one from literal VALUES.
// sql.readonly has no such gap: it is checked on every query.
func TestSQLAgainstSQLite(t *testing.T) {
	seed := *sqlSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -sql.seed=%d)", seed, seed)
	m := sqlMutator{rnd: rand.New(rand.NewPCG(seed, seed^0x5eed))}

	dir := t.TempDir()
	template := filepath.Join(dir, "template.db")
	db, err := sql.Open("sqlite3", template)
	require.NoError(t, err)
	_, err = db.Exec(`
		CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount INTEGER, note TEXT);
		CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
		CREATE INDEX orders_customer ON orders(customer);
		INSERT INTO orders (customer, amount, note) VALUES
			('bob', 12, 'first'), ('ann', 3, 'drop me'), ('bob', 7, NULL), ('cy', 40, 'x'), ('ann', 9, 'y');
		INSERT INTO customers (name) VALUES ('bob'), ('ann'), ('cy');`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	image, err := os.ReadFile(template)
	require.NoError(t, err)
	before := readSQLState(t, template)

	queries := append(append(append([]string{}, corpusReads...), corpusWrites...), corpusDestroy...)
	for _, w := range corpusWrappers {
		queries = append(queries, strings.Replace(w, "D", "DROP TABLE orders", 1))
	}
	for range *sqlN {
		queries = append(queries, m.generate())
	}

	path := filepath.Join(dir, "scratch.db")
	var accepted, flagged, changed, destroyed, failed int
	for _, q := range queries {
		for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
			_ = os.Remove(path + suffix)
		}
		require.NoError(t, os.WriteFile(path, image, 0o600))
		db, err := sql.Open("sqlite3", path)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if _, err := db.ExecContext(ctx, q); err != nil {
			failed++
		}
		cancel()
		require.NoError(t, db.Close())
		after := readSQLState(t, path)

		readonly, destructive := SQLReadOnly(q), SQLDestructive(q)
		if readonly {
			accepted++
			require.True(t, before.equal(after), "sql.readonly accepted %q, which changed the database (seed %d)", q, seed)
			require.False(t, destructive, "%q is both read-only and destructive", q)
		}
		if destructive {
			flagged++
		}
		if !before.equal(after) {
			changed++
		}
		if what := before.destroyedBy(after); what != "" {
			destroyed++
			require.True(t, destructive, "%q destroyed %s, and sql.destructive missed it (seed %d)", q, what, seed)
		}
	}
	t.Logf("%d queries: %d read-only (database unchanged), %d destructive, %d changed the database, %d destroyed a table or all its rows (all destructive), %d failed to run",
		len(queries), accepted, flagged, changed, destroyed, failed)
	require.Positive(t, accepted, "the corpus must exercise sql.readonly")
	require.Positive(t, destroyed, "the corpus must destroy something")
}
