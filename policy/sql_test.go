package policy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sqlCase is a query with what sql.destructive and sql.readonly must say.
type sqlCase struct {
	q           string
	destructive bool
	readonly    bool
}

// sqlCases covers every dialect's quoting and comment forms, in both
// directions: text that one dialect reads as code must not hide in
// another's literal or comment (a DROP smuggled, a WHERE faked).
var sqlCases = []sqlCase{
	// Plain statements.
	{"SELECT * FROM users WHERE id = 1", false, true},
	{"select id, name from users where name like 'a%' order by id desc limit 3", false, true},
	{"DROP TABLE users", true, false},
	{"drop table users", true, false},
	{"  DrOp\n\tTABLE users", true, false},
	{"TRUNCATE logs", true, false},
	{"ALTER TABLE t ADD COLUMN c int", true, false},
	{"RENAME TABLE t TO u", true, false},
	{"DELETE FROM t", true, false},
	{"DELETE FROM t WHERE id = 3", false, false},
	{"delete from t where id in (select id from u)", false, false},
	{"UPDATE t SET a = 1", true, false},
	{"UPDATE t SET a = 1 WHERE id = 2", false, false},
	{"UPDATE t SET a = (SELECT b FROM u WHERE u.id = 1)", true, false},
	{"INSERT INTO t (a) VALUES (1)", false, false},
	{"CREATE TABLE t2 (a int)", false, false},
	{"SELECT 1; DROP TABLE t", true, false},
	{"SELECT 1;DROP TABLE t;", true, false},
	{"SELECT 1; DELETE FROM t WHERE x=1; DELETE FROM u", true, false},
	{"SELECT 1; SELECT 2;", false, true},
	{"SELECT drop_date FROM t", false, true}, // identifiers are whole words
	{"SELECT 'DROP TABLE t'", false, true},
	{"SELECT 'it''s; DROP TABLE t'", false, true},
	{`SELECT "DROP" FROM t`, false, true},
	{"SELECT 1 -- DROP TABLE t", false, true},
	{"SELECT 1 /* DROP TABLE t */", false, true},
	{"VALUES (1), (2)", false, true},
	{"TABLE t", false, true},
	{"(SELECT 1) UNION (SELECT 2)", false, true},
	{"SHOW TABLES", false, true},
	{"DESCRIBE t", false, true},
	{"", false, false},
	{" ;; -- nothing\n", false, false},

	// WHERE clauses that name no column filter nothing.
	{"DELETE FROM t WHERE 1", true, false},
	{"DELETE FROM t WHERE true", true, false},
	{"UPDATE t SET a = 0 WHERE 1 = 1", true, false},
	{"UPDATE t SET a = 0 WHERE 'x' = 'x'", true, false},
	{`UPDATE t SET a = 0 WHERE "x" = "x"`, true, false}, // a string in MySQL and SQLite
	{"UPDATE t SET a = 0 WHERE NOT 0", true, false},
	{"UPDATE t SET a = 0 WHERE 1 RETURNING id", true, false},
	{"UPDATE t SET a = 0 WHERE ? = ?", true, false},
	{"UPDATE t SET a = 0 WHERE [id] = 1", false, false},
	{"UPDATE t SET a = 0 WHERE (id = 1)", false, false},

	// The statement's verb decides the exemptions, not the previous word.
	{"WITH c AS (SELECT 1 AS key) UPDATE orders SET amount = 0", true, false},
	{"WITH c AS (SELECT 1 AS for) UPDATE orders SET amount = 0", true, false},
	{"WITH c AS (SELECT 1 AS do) UPDATE orders SET amount = 0", true, false},
	{"WITH c AS (SELECT 1) DELETE FROM orders", true, false},
	{"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 5) SELECT * FROM c", false, true},
	{"WITH a AS (SELECT 1), b AS MATERIALIZED (SELECT 2) SELECT * FROM a, b", false, true},
	{"WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", true, false},
	{"WITH x AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM x", false, false},
	{"SELECT 1 AS key; UPDATE t SET a = 0", true, false},
	{"SELECT * FROM t FOR UPDATE", false, false}, // a lock: not destructive, not a read either
	{"SELECT * FROM t FOR NO KEY UPDATE", false, false},
	{"SELECT * FROM t FOR SHARE", false, false},
	{"INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 1", false, false},
	{"INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1", false, false},
	{"CREATE TABLE c (id int REFERENCES p(id) ON DELETE CASCADE ON UPDATE CASCADE)", false, false},
	{"CREATE TRIGGER tr AFTER UPDATE ON t BEGIN SELECT 1; END", false, false},
	{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM u; END", true, false},
	{"GRANT SELECT, UPDATE ON t TO bob", false, false},
	{"PRAGMA journal_mode = DELETE", false, false},
	// Upserts and replaces fed by a query can rewrite every row.
	{"INSERT INTO t SELECT * FROM t WHERE true ON CONFLICT (id) DO UPDATE SET a = 0", true, false},
	{"INSERT INTO t SELECT * FROM u ON DUPLICATE KEY UPDATE a = 0", true, false},
	{"REPLACE INTO t SELECT id, 0 FROM t", true, false},
	{"INSERT OR REPLACE INTO t SELECT id, 0 FROM t", true, false},
	{"REPLACE INTO t SELECT id, 0 FROM t WHERE id = 1", false, false},
	{"INSERT OR REPLACE INTO t VALUES (1, 0)", false, false},
	{"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", true, false},
	// SQL Server needs no ';' between statements.
	{"SELECT 1 DELETE FROM t", true, false},
	{"DELETE FROM t SELECT * FROM u WHERE u.id = 1", true, false},
	{"DELETE FROM t WHERE 1 SELECT name FROM u", true, false},

	// Dynamic SQL and code the check cannot read.
	{"EXEC('DR' + 'OP TABLE t')", true, false},
	{"EXECUTE sp_who", true, false},
	{"PREPARE s FROM @q", true, false},
	{"DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$", true, false},
	{"CALL cleanup()", true, false},
	{"SELECT load_extension('/tmp/x.so')", true, false},
	{"SELECT * FROM dblink('db', 'DROP TABLE t') AS x(a int)", true, false},
	{"sp_executesql N'DROP TABLE t'", true, false},

	// SQL Server and SQLite [bracketed identifiers].
	{"SELECT 1 AS [']; DROP TABLE orders; --']", true, false},
	{"SELECT [a]]; DROP TABLE t; --]", true, false},     // SQLite ends at the first ]
	{"SELECT [x]]' ]; DROP TABLE t; --']", true, false}, // SQL Server reads ]] as ]
	{"SELECT [drop] FROM t", true, false},               // a keyword to PostgreSQL and MySQL
	{"SELECT [x FROM t", true, false},
	{"UPDATE t SET a = 0 [WHERE id = 1]", true, false},

	// PostgreSQL dollar quotes, both ways.
	{"SELECT $$it's$$; DROP TABLE t; -- $$'", true, false},
	{"SELECT $a$ $$ $a$; DROP TABLE t", true, false},
	{"SELECT $tag$; DROP TABLE t; $tag$", true, false}, // MySQL, SQLite: no quote at all
	{"UPDATE t SET a = 0 WHERE id = $$ $$", false, false},
	{"SELECT $$'$$; DROP TABLE t; --'", true, false},       // only PostgreSQL sees the DROP
	{"UPDATE t SET a = $$ WHERE id = 1 $$", true, false},   // a WHERE faked inside a dollar quote
	{"UPDATE t SET a = $x$ WHERE id = 1 $x$", true, false}, // … with a tag
	{"UPDATE t SET note = 'x$$' WHERE id = 1; DROP TABLE t; $$'", true, false},
	{"SELECT $$ DROP TABLE t $$", true, false},          // a literal in PostgreSQL, a keyword in MySQL
	{"SELECT $1, $2 FROM t WHERE id = $3", false, true}, // parameters
	{"SELECT $$unterminated", true, false},
	{"SELECT 1$a$; DROP TABLE t; $a$", true, false},

	// MySQL and MariaDB executable comments run their content.
	{"/*!50000DROP TABLE orders*/", true, false},
	{"SELECT 1 /*!50000DROP TABLE orders*/", true, false},
	{"SELECT 1; /*M!100000 DROP TABLE orders */", true, false},
	{"SELECT 1 /*! ; DROP TABLE t */", true, false},
	{"SELECT 1 /*!99999 '*/ ; DROP TABLE t; -- ' */", true, false}, // a comment for an old server: the DROP runs
	{"SELECT 1 /*!50000 '*/ DROP TABLE t -- */", true, false},
	{"/*!50000 SELECT 1 */", false, false},
	{"SELECT 1 /*!50000 /* x */ */", true, false}, // nested in an executable comment: unreadable
	{"SELECT 1 /*!50000", true, false},
	{"SELECT /*+ MAX_EXECUTION_TIME(1000) */ id FROM t", false, true},
	{"DELETE FROM t /*!50000 WHERE id = 1 */", true, false}, // an old server deletes all
	{"DELETE FROM t /*M!100000 WHERE id = 1 */", true, false},

	// Comments.
	{"SELECT 1 /* /* nested */ DROP TABLE t */", true, false}, // MySQL and SQLite end the comment early
	{"SELECT 1 /* a */ /* b */", false, true},
	{"SELECT 1 /* unterminated", true, false},
	{"SELECT 1 /* /* x */", true, false},         // PostgreSQL and SQL Server nest: unterminated
	{"SELECT 1 --1; DROP TABLE t", true, false},  // MySQL: -- needs a blank
	{"SELECT 1 # DROP TABLE t", true, false},     // MySQL comment, code elsewhere
	{"SELECT 1 # c\n", false, true},              // a comment in MySQL, an operator elsewhere
	{"SELECT 1 -- c\rDROP TABLE t", true, false}, // PostgreSQL ends the comment at \r
	{"SELECT 1 -- c\u2028DROP TABLE t", true, false},
	{"UPDATE t SET a = 0 -- WHERE id = 1", true, false},
	{"UPDATE t SET a = 0 /* WHERE id = 1 */", true, false},
	{"UPDATE t SET a = 0 # WHERE id = 1\n", true, false},
	{"UPDATE t SET a = 0 WHERE id = 1 -- ok", false, false},

	// String literals.
	{`SELECT 'a\'; DROP TABLE t; --'`, true, false},   // standard SQL ends the literal at \'
	{`SELECT 'a\''; DROP TABLE t; -- '`, true, false}, // MySQL reads \' as a quote
	{`SELECT "a\"; DROP TABLE t; --"`, true, false},
	{`SELECT E'a\'; DROP TABLE t; --'`, true, false},
	{`UPDATE t SET a = E'\' WHERE id = 1 --'`, true, false},
	{`UPDATE t SET a = 'x\' WHERE id = 1 --'`, true, false},
	{"SELECT N'DROP TABLE t', X'00', B'01', U&'d\\0061t\\+000061'", false, true},
	{"SELECT 'unterminated", true, false},
	{`SELECT "unterminated`, true, false},
	{"SELECT `unterminated", true, false},
	{"SELECT `drop` FROM t", true, false}, // a keyword to PostgreSQL and SQL Server
	{"SELECT `a``b` FROM t", false, true},
	{"SELECT 'a' 'b'", false, true},
	{"SELECT _utf8mb4'x'", false, true},

	// SQLite variables swallow (…) up to a blank; other dialects see a string.
	{"SELECT $a(')DROP; DROP TABLE t; --')", true, false},
	{"SELECT $a(') ;DROP TABLE t; --'", true, false},
	{"SELECT @a('); DROP TABLE t; --')", true, false},
	{"SELECT :a::b(x)", false, true},
	{"SELECT :name, @name, ?1, ? FROM t", false, true},
	// SQL Server @variables are names, not a WHERE.
	{"DELETE FROM t OUTPUT deleted.id INTO @where", true, false},

	// Unicode, control characters, NUL.
	{"SELECT café FROM t", false, true},
	{"SELECT 'é; DROP'", false, true},
	{"SELECT 1;\u00a0DROP TABLE t", true, false},
	{"SELECT 1\x00; DROP TABLE t", true, false},
	{"SELECT 1 \x00", true, false},
	{"SELECT '\xff'", true, false},
	{"SELECT 1\x01", true, false},
	{"DRſP TABLE t", false, false}, // no keyword to any server
	{"UPDATE t SET a = 0 WHERE id = 1\x0b", false, false},
	{"ſELECT 1", false, false},
	{"SELECT 1; 1DROP TABLE t", true, false},
	{"SELECT 1e5DROP TABLE t", true, false}, // SQL Server reads SELECT 1AS x
	{"SELECT 1; 0x1DROP TABLE t", true, false},
	{"DROP\u0301 TABLE t", true, false},  // a combining mark outside a literal: unreadable
	{"SELECT DROPé FROM t", true, false}, // a server that takes é for a separator sees DROP
	{"SELECT café FROM t WHERE é = 1", false, true},
	// Function names count quoted, keywords do not.
	{`SELECT "nextval"('s')`, false, false},
	{"SELECT `sleep`(10)", false, false},
	{`SELECT "load_extension"('/tmp/x.so')`, true, false},
	{"SELECT [dblink_exec]('db', 'DROP TABLE t')", true, false},
	{`SELECT pg_catalog."lo_unlink"(1)`, true, false},
	{`SELECT "drop", "update" FROM t`, false, true},
	// SQLite pragmas that let a later statement rewrite the schema or pages.
	{"PRAGMA writable_schema = ON", true, false},
	{"PRAGMA schema_version = 1", true, false},
	{"UPDATE sqlite_dbpage SET data = zeroblob(4096) WHERE pgno = 1", true, false},

	// Read-only forms, and what is refused.
	{"EXPLAIN SELECT 1", false, true},
	{"EXPLAIN QUERY PLAN SELECT * FROM t WHERE id = 1", false, true},
	{"EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1", false, true},
	{"EXPLAIN FORMAT=JSON SELECT 1", false, true},
	{"EXPLAIN WITH c AS (SELECT 1) SELECT * FROM c", false, true},
	{"EXPLAIN ANALYZE DELETE FROM t", true, false},
	{"EXPLAIN DELETE FROM t WHERE id = 1", false, false},
	{"PRAGMA table_info(t)", false, true},
	{"PRAGMA main.index_list('t')", false, true},
	{"PRAGMA integrity_check", false, true},
	{"PRAGMA user_version", false, false},
	{"PRAGMA user_version = 3", false, false},
	{"PRAGMA table_info = 3", false, false},
	{"PRAGMA writable_schema(1)", true, false},
	{"SELECT * INTO t2 FROM t", false, false},
	{"SELECT * FROM t INTO OUTFILE '/tmp/x'", false, false},
	{"SELECT writefile('/tmp/x', 'y')", false, false},
	{"SELECT pg_sleep(10)", false, false},
	{"SELECT nextval('s')", false, false},
	{"SELECT sleep(10)", false, false},
	{"SELECT 1 WAITFOR DELAY '01:00'", false, false},
	{"BEGIN; SELECT 1; COMMIT", false, false},
	{"ATTACH 'x.db' AS x", false, false},
	{"VACUUM", false, false},
	{"REPLACE INTO t VALUES (1)", false, false},
	{"SELECT replace(name, 'a', 'b') FROM t", false, true},
	{"WITH c AS (SELECT 1) INSERT INTO t SELECT * FROM c", false, false},
	{"WITH c AS (SELECT 1) SEARCH DEPTH FIRST BY x SET y SELECT 1", false, false},
	{"SET @x = 1", false, false},
}

func TestSQLDestructive(t *testing.T) {
	for _, tt := range sqlCases {
		assert.Equal(t, tt.destructive, SQLDestructive(tt.q), "sql.destructive(%q)", tt.q)
	}
}

func TestSQLReadOnly(t *testing.T) {
	for _, tt := range sqlCases {
		assert.Equal(t, tt.readonly, SQLReadOnly(tt.q), "sql.readonly(%q)", tt.q)
	}
}

// TestSQLReadingsFindTheirDialect proves each reading reads its dialect:
// for each, a query whose DROP only that dialect runs.
func TestSQLReadingsFindTheirDialect(t *testing.T) {
	only := map[string]string{
		"sqlite":  "SELECT $a(') ;DROP TABLE t; --'",
		"pg":      "SELECT $$'$$; DROP TABLE t; --'",
		"pg-old":  `SELECT 'a\''; DROP TABLE t; -- '`,
		"mssql":   "SELECT [x]]' ]; DROP TABLE t; --']",
		"mysql":   `SELECT "a\""; DROP TABLE t; -- "`,
		"mysql-5": "SELECT 1 /*!99999 '*/ ; DROP TABLE t; -- ' */",
	}
	readings := map[string]sqlReading{
		"sqlite": readingSQLite, "pg": readingPG, "pg-old": readingPGOld, "mssql": readingMSSQL,
	}
	for _, r := range sqlReadings {
		if r.hashComments && r.backslashSingle && r.backslashDouble && r.execComments == execAll {
			readings["mysql"] = r
		}
		if r.hashComments && !r.backslashSingle && r.execComments == execUnversioned {
			readings["mysql-5"] = r
		}
	}
	require.Len(t, readings, len(only))
	for name, q := range only {
		r := readings[name]
		res := scanSQL(q, &r, new(sqlWordCache))
		assert.True(t, res.readable && res.destructive, "the %s reading of %q", name, q)
		assert.True(t, SQLDestructive(q), q)
		others := 0
		for other, r := range readings {
			if other == name || other == "mysql" && name == "pg-old" || other == "pg-old" && name == "mysql" {
				continue
			}
			if res := scanSQL(q, &r, new(sqlWordCache)); res.readable && !res.destructive {
				others++
			}
		}
		assert.Positive(t, others, "some other reading must miss %q, or the test proves nothing", q)
	}
}

// BenchmarkSQL measures both helpers on an ordinary query and on long
// runs of the characters that open literals, comments and variables
// (each must stay linear in the length of the text); the plain scan of
// the same text by strings.Count is the baseline.
func BenchmarkSQL(b *testing.B) {
	inputs := map[string]string{
		"ordinary": "SELECT id, name FROM users WHERE id = 42 AND name <> 'drop; table' -- DROP",
		"at-run":   strings.Repeat("@", 1<<16),
		"colons":   strings.Repeat(":", 1<<16),
		"dollars":  strings.Repeat("1$", 1<<15),
		"parens":   strings.Repeat("(", 1<<16),
		"with":     strings.Repeat("WITH a AS (", 1<<12),
	}
	for name, q := range inputs {
		b.Run(name+"/baseline", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				strings.Count(q, "'")
			}
		})
		b.Run(name+"/destructive", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				SQLDestructive(q)
			}
		})
		b.Run(name+"/readonly", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				SQLReadOnly(q)
			}
		})
	}
}
