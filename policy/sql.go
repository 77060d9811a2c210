package policy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SQLReadOnly reports whether every statement of the SQL text q is a
// plain read, whatever the dialect of the database that runs it: SELECT,
// VALUES, TABLE, SHOW, DESCRIBE, a WITH whose main statement is one of
// those, EXPLAIN (and EXPLAIN QUERY PLAN, EXPLAIN ANALYZE) of one of those,
// or one of SQLite's PRAGMAs that only report (table_info, index_list and
// the like, without an "=" or an argument that could set them).
//
// It is an allow-list, and the safe default for a policy: allow a query
// when sql.readonly holds, rather than deny it when sql.destructive holds.
// It is false for an empty q and for anything that is not read the same
// way by SQLite, PostgreSQL, MySQL/MariaDB and SQL Server (see
// [SQLDestructive] for the readings), and for a statement anywhere in q
// that names a word that writes or escapes the statement:
// INSERT, UPDATE, DELETE, MERGE, DROP, ALTER, CREATE, TRUNCATE, RENAME,
// INTO (SELECT … INTO creates a table or writes a file), GRANT, REVOKE,
// ATTACH, SET, DO, CALL, EXEC, EXECUTE, PREPARE, DECLARE, LOCK, SHARE
// (SELECT … FOR UPDATE/FOR SHARE takes row locks), transaction control, and
// the built-in functions known to write, run other SQL, touch the server's
// files or stall it: load_extension, writefile, readfile, eval (SQLite);
// nextval, setval, pg_sleep, pg_advisory_lock, lo_import, lo_export,
// dblink, pg_read_file, set_config, query_to_xml, pg_notify,
// pg_terminate_backend (PostgreSQL); sleep, benchmark, get_lock, load_file
// (MySQL); xp_cmdshell, sp_executesql, openrowset (SQL Server); and more.
//
// A function the database was extended with (a user-defined function, a
// stored procedure called from a SELECT) can write, and no text check can
// see that: for a guarantee, give the tool a read-only connection (SQLite
// mode=ro, a PostgreSQL role with only SELECT, default_transaction_read_only).
// It is the CEL function sql.readonly.
func SQLReadOnly(q string) bool {
	if !sqlReadable(q) {
		return false
	}
	rs, n := sqlReadingsOf(q)
	var cache sqlWordCache
	for i := range n {
		if res := scanSQL(q, &rs[i], &cache); !res.readable || !res.readonly {
			return false
		}
	}
	return true
}

// SQLDestructive reports whether the SQL text q may destroy data or
// schema: it is a deny-list, and [SQLReadOnly] the allow-list policies
// should prefer. q is destructive when, in any of its statements:
//
//   - DROP, TRUNCATE, ALTER or RENAME appears outside comments and literals;
//   - a DELETE or UPDATE has no WHERE at its own level, or a WHERE that
//     names no column (WHERE 1, WHERE true, WHERE 'a' = 'a');
//   - an INSERT OR REPLACE, a REPLACE, or an upsert (ON CONFLICT DO UPDATE,
//     ON DUPLICATE KEY UPDATE) takes its rows from a query rather than from
//     VALUES, and so may rewrite every row of a table;
//   - it runs SQL the check cannot read: EXEC, EXECUTE, PREPARE, a DO
//     block, CALL, or functions that run SQL text, load code or delete
//     data (load_extension, eval, dblink, sp_executesql, xp_cmdshell,
//     lo_unlink; their names count quoted too: "dblink"(…));
//   - it opens SQLite's schema or pages to writes (writable_schema,
//     schema_version, sqlite_dbpage);
//   - or the text cannot be read at all: an unterminated literal, quoted
//     identifier, comment or dollar quote, a NUL byte, invalid UTF-8, a
//     control character, or a character outside ASCII, not a letter or
//     digit, outside literals. The check fails closed.
//
// The exemptions that keep ordinary statements usable are decided by the
// statement's own verb, never by a neighbouring word: SELECT … FOR UPDATE
// (a lock) in a query; ON DUPLICATE KEY UPDATE and ON CONFLICT DO UPDATE in
// an INSERT of VALUES; ON DELETE/ON UPDATE, BEFORE/AFTER/INSTEAD OF in a
// CREATE (foreign keys, triggers); the privileges of a GRANT or REVOKE.
// Keywords match in any case, spacing and comment placement.
//
// Dialects disagree on what is a comment, a literal or an identifier, so q
// is read once under each dialect's rules (SQLite; PostgreSQL, with and
// without standard_conforming_strings; MySQL/MariaDB with and without
// backslash escapes and ANSI_QUOTES, with versioned executable comments
// /*!NNNNN … */ and /*M! … */ run or not; SQL Server) and is destructive if
// any reading finds it so or cannot read it: what one dialect hides in a
// literal, an identifier or a comment cannot smuggle a DROP past the
// check, nor fake a WHERE. Under each reading, string literals (a doubled
// quote standing for one), E'…' strings with backslash escapes, N'…',
// X'…', B'…' and U&'…' literals, double-quoted identifiers, backticks,
// [brackets] (with ]] escapes in SQL Server, without in SQLite), $tag$
// dollar quotes, --, # and nested /* */ comments, executable comments
// (scanned as code, since the server runs them), SQLite's $name(…)
// variables and SQL Server's @variables are read as that dialect reads
// them. A word is also split where a server may split it: after a number
// (SQL Server reads 1e5DROP as 1e5 DROP) and at a character outside ASCII.
//
// The check is lexical, not a parser, and a deny-list: it errs towards
// true (a column named drop counts), but it cannot see that WHERE id = id
// or WHERE active matches every row, that literal VALUES replace every
// row one by one, nor what a user-defined function or a trigger does. It
// is the CEL function sql.destructive.
func SQLDestructive(q string) bool {
	if !sqlReadable(q) {
		return true
	}
	rs, n := sqlReadingsOf(q)
	var cache sqlWordCache
	for i := range n {
		if res := scanSQL(q, &rs[i], &cache); !res.readable || res.destructive {
			return true
		}
	}
	return false
}

// sqlReadable rejects what no reading should guess at: NUL bytes (SQLite
// stops at the first one, other servers refuse it or not) and invalid
// UTF-8 (in a multi-byte client encoding such as GBK or SJIS, a byte that
// is not UTF-8 can swallow the backslash or quote after it).
func sqlReadable(q string) bool {
	return strings.IndexByte(q, 0) < 0 && utf8.ValidString(q)
}

// sqlReading is one dialect's lexical rules.
type sqlReading struct {
	backslashSingle bool  // \ escapes in '…' (MySQL; PostgreSQL without standard_conforming_strings)
	backslashDouble bool  // \ escapes in "…" (MySQL without ANSI_QUOTES)
	eStrings        bool  // E'…' with \ escapes (PostgreSQL)
	dollarQuotes    bool  // $tag$…$tag$ and $1 (PostgreSQL)
	dollarWords     bool  // a word may start with $ (MySQL)
	backticks       bool  // `ident` with `` escapes (MySQL, SQLite)
	brackets        uint8 // [ident]: bracketsPlain (SQLite) or bracketsDoubled (SQL Server)
	nestedComments  bool  // /* /* */ */ (PostgreSQL, SQL Server)
	hashComments    bool  // # comments (MySQL)
	dashNeedsBlank  bool  // -- starts a comment only before a blank (MySQL)
	execComments    uint8 // MySQL executable comments: execUnversioned or execAll
	tclVariables    bool  // $a, @a, :a, #a with SQLite's (…) and :: suffixes
	atVariables     bool  // @a, @@a, #a, ##a are names, not operators (SQL Server)
	atUserVariables bool  // @a and @@a are variables (MySQL)
}

const (
	bracketsNone uint8 = iota
	bracketsPlain
	bracketsDoubled
)

const (
	execNone        uint8 = iota
	execUnversioned       // /*! … */ runs, /*!NNNNN … */ and /*M! … */ are comments (a server too old)
	execAll               // every executable comment runs (a server new enough, MariaDB for /*M!)
)

var (
	readingSQLite = sqlReading{backticks: true, brackets: bracketsPlain, tclVariables: true}
	readingPG     = sqlReading{eStrings: true, dollarQuotes: true, nestedComments: true}
	readingPGOld  = sqlReading{backslashSingle: true, eStrings: true, dollarQuotes: true, nestedComments: true}
	readingMSSQL  = sqlReading{brackets: bracketsDoubled, nestedComments: true, atVariables: true}
	mysqlBase     = sqlReading{dollarWords: true, backticks: true, hashComments: true, dashNeedsBlank: true, atUserVariables: true}
)

// sqlReadings lists every reading; sqlReadingsOf drops those that cannot
// differ from one before them on a given text.
var sqlReadings = func() []sqlReading {
	rs := []sqlReading{readingSQLite, readingPG, readingPGOld, readingMSSQL}
	for _, exec := range []uint8{execAll, execUnversioned} {
		for _, bs := range [][2]bool{{true, true}, {true, false}, {false, false}} {
			r := mysqlBase
			r.execComments = exec
			r.backslashSingle, r.backslashDouble = bs[0], bs[1]
			rs = append(rs, r)
		}
	}
	return rs
}()

// sqlReadingsOf returns the readings that read q differently from each
// other: without a backslash in q the backslash rules change nothing, and
// without "/*" neither do executable comments.
func sqlReadingsOf(q string) (rs [16]sqlReading, n int) {
	backslash := strings.IndexByte(q, '\\') >= 0
	exec := strings.Contains(q, "/*")
next:
	for _, r := range sqlReadings {
		if !backslash {
			r.backslashSingle, r.backslashDouble = false, false
		}
		if !exec {
			r.execComments = execNone
		}
		for _, s := range rs[:n] {
			if s == r {
				continue next
			}
		}
		rs[n] = r
		n++
	}
	return rs, n
}

type sqlTok uint8

const (
	tokEOF    sqlTok = iota
	tokWord          // a keyword, a bare identifier or a number
	tokIdent         // a quoted identifier: `x`, [x]
	tokDQuote        // "x": an identifier, or a string in MySQL and SQLite
	tokString        // '…', E'…', X'…', $$…$$
	tokVar           // a parameter or variable: $1, @x, :x
	tokPunct         // one byte of punctuation
	tokError         // unreadable: the reading fails
)

// sqlLexer splits q into tokens under one reading.
type sqlLexer struct {
	q      string
	i      int
	r      *sqlReading
	inExec bool // inside a MySQL executable comment
}

func isSQLBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isASCIIWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// wordRune reports whether the non-ASCII rune at q[i:] may be part of a
// word, and its length. Anything else outside ASCII and outside literals
// (a Unicode space, a line separator, a symbol) is a construct some server
// may read differently: the reading fails.
func wordRune(q string, i int) (int, bool) {
	r, n := utf8.DecodeRuneInString(q[i:])
	return n, r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// next returns the next token as its kind and q[start:end].
func (l *sqlLexer) next() (sqlTok, int, int) {
	q, r := l.q, l.r
	for l.i < len(q) {
		i := l.i
		c := q[i]
		var c1 byte
		if i+1 < len(q) {
			c1 = q[i+1]
		}
		switch {
		case isSQLBlank(c):
			l.i++
		case c == '-' && c1 == '-':
			if r.dashNeedsBlank && i+2 < len(q) && q[i+2] > ' ' && q[i+2] != 0x7f {
				l.i++
				return tokPunct, i, i + 1
			}
			if !l.lineComment() {
				return tokError, i, len(q)
			}
		case c == '#' && r.hashComments:
			if !l.lineComment() {
				return tokError, i, len(q)
			}
		case c == '/' && c1 == '*':
			if l.inExec {
				return tokError, i, len(q) // MySQL does not nest comments in executable ones
			}
			if r.execComments != execNone && l.execComment() {
				continue
			}
			if !l.blockComment() {
				return tokError, i, len(q)
			}
		case c == '*' && c1 == '/' && l.inExec:
			l.inExec = false
			l.i += 2
		case c == '\'':
			return l.quoted('\'', r.backslashSingle, tokString)
		case c == '"':
			return l.quoted('"', r.backslashDouble, tokDQuote)
		case c == '`' && r.backticks:
			return l.quoted('`', false, tokIdent)
		case c == '[' && r.brackets != bracketsNone:
			return l.bracket()
		case c == '$' && r.dollarQuotes:
			return l.dollar()
		case c == '$' && r.tclVariables, (c == '@' || c == ':' || c == '#') && r.tclVariables:
			return l.tclVariable()
		case (c == '@' || c == '#') && r.atVariables, c == '@' && r.atUserVariables:
			j := i + 1
			for j < len(q) && q[j] == c {
				j++
			}
			if k := l.wordEnd(j, false); k > j {
				l.i = k
				return tokVar, i, k
			}
			l.i = j
			return tokPunct, i, j
		case isASCIIWordByte(c), c == '$' && r.dollarWords:
			return l.word()
		case c >= 0x80:
			if _, ok := wordRune(q, i); !ok {
				return tokError, i, len(q)
			}
			return l.word()
		case c < 0x20 || c == 0x7f:
			return tokError, i, len(q)
		default:
			l.i++
			return tokPunct, i, i + 1
		}
	}
	if l.inExec {
		return tokError, len(q), len(q) // unterminated executable comment
	}
	return tokEOF, len(q), len(q)
}

// wordEnd returns the end of the word starting at j (j when none does),
// ending it at a $ when noDollar is set.
func (l *sqlLexer) wordEnd(j int, noDollar bool) int {
	q := l.q
	for j < len(q) {
		c := q[j]
		switch {
		case isASCIIWordByte(c) || c == '$' && !noDollar:
		case c >= 0x80:
			n, ok := wordRune(q, j)
			if !ok {
				return j // the caller's next token fails on it
			}
			j += n
			continue
		default:
			return j
		}
		j++
	}
	return j
}

func (l *sqlLexer) word() (sqlTok, int, int) {
	q, i := l.q, l.i
	first := 1
	if q[i] >= utf8.RuneSelf {
		first, _ = wordRune(q, i)
	}
	// PostgreSQL ends a number at $: 1$a$…$a$ is 1 and a dollar quote.
	j := l.wordEnd(i+first, l.r.dollarQuotes && q[i] >= '0' && q[i] <= '9')
	l.i = j
	// A one-letter prefix glued to a quote makes a literal: E'…' (with
	// backslash escapes in PostgreSQL), N'…', X'…', B'…'; so does a MySQL
	// charset introducer, _utf8mb4'…'.
	if j < len(q) && q[j] == '\'' {
		w := q[i:j]
		switch {
		case len(w) == 1 && (w[0]|0x20 == 'e'):
			tok, _, end := l.quoted('\'', l.r.backslashSingle || l.r.eStrings, tokString)
			return tok, i, end
		case len(w) == 1 && strings.IndexByte("nNxXbB", w[0]) >= 0, w[0] == '_':
			tok, _, end := l.quoted('\'', l.r.backslashSingle, tokString)
			return tok, i, end
		}
	}
	return tokWord, i, j
}

// lineComment skips a line comment. A carriage return, vertical tab, form
// feed or Unicode line break in it fails the reading: servers disagree on
// whether it ends the comment.
func (l *sqlLexer) lineComment() bool {
	if l.inExec {
		return false // where MySQL ends a line comment in an executable one is unclear
	}
	q := l.q
	for j := l.i; j < len(q); j++ {
		switch q[j] {
		case '\n':
			l.i = j + 1
			return true
		case '\r', '\v', '\f':
			return false
		case 0xc2: // U+0085
			if j+1 < len(q) && q[j+1] == 0x85 {
				return false
			}
		case 0xe2: // U+2028, U+2029
			if j+2 < len(q) && q[j+1] == 0x80 && (q[j+2] == 0xa8 || q[j+2] == 0xa9) {
				return false
			}
		}
	}
	l.i = len(q)
	return true
}

// execComment enters a MySQL executable comment at /*! or /*M!, if the
// reading runs it, and reports whether it did.
func (l *sqlLexer) execComment() bool {
	q := l.q
	j := l.i + 2
	mariadb := j+1 < len(q) && q[j] == 'M' && q[j+1] == '!'
	if mariadb {
		j++
	}
	if j >= len(q) || q[j] != '!' {
		return false
	}
	j++
	k := j
	for k < len(q) && q[k] >= '0' && q[k] <= '9' {
		k++
	}
	if l.r.execComments != execAll && (mariadb || k > j) {
		return false
	}
	l.inExec = true
	l.i = k
	return true
}

// blockComment skips /* … */, nested where the reading nests them; an
// unterminated comment fails the reading.
func (l *sqlLexer) blockComment() bool {
	q := l.q
	depth := 0
	for j := l.i; j < len(q); {
		switch {
		case j+1 < len(q) && q[j] == '/' && q[j+1] == '*':
			if depth == 0 || l.r.nestedComments {
				depth++
			}
			j += 2
		case j+1 < len(q) && q[j] == '*' && q[j+1] == '/':
			depth--
			j += 2
			if depth == 0 {
				l.i = j
				return true
			}
		default:
			j++
		}
	}
	return false
}

// quoted reads a literal or identifier between quote characters, with a
// doubled quote standing for one and, with backslash, a backslash escaping
// the byte after it. An unterminated one fails the reading.
func (l *sqlLexer) quoted(quote byte, backslash bool, kind sqlTok) (sqlTok, int, int) {
	q, start := l.q, l.i
	for j := start + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			if backslash {
				j++
			}
		case quote:
			if j+1 < len(q) && q[j+1] == quote {
				j++
				continue
			}
			l.i = j + 1
			return kind, start, j + 1
		}
	}
	return tokError, start, len(q)
}

// bracket reads a [quoted identifier]: up to the first ] in SQLite, with
// ]] standing for ] in SQL Server.
func (l *sqlLexer) bracket() (sqlTok, int, int) {
	q, start := l.q, l.i
	for j := start + 1; j < len(q); j++ {
		if q[j] != ']' {
			continue
		}
		if l.r.brackets == bracketsDoubled && j+1 < len(q) && q[j+1] == ']' {
			j++
			continue
		}
		l.i = j + 1
		return tokIdent, start, j + 1
	}
	return tokError, start, len(q)
}

// dollar reads, in PostgreSQL, a dollar-quoted string $tag$…$tag$ (the tag
// empty or an identifier without $) or a parameter $1. A lone $ is a
// syntax error there; it is passed on as punctuation.
func (l *sqlLexer) dollar() (sqlTok, int, int) {
	q, start := l.q, l.i
	j := start + 1
	if j < len(q) && q[j] >= '0' && q[j] <= '9' {
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		l.i = j
		return tokVar, start, j
	}
	if j < len(q) && (isASCIIWordByte(q[j]) && (q[j] < '0' || q[j] > '9') || q[j] >= 0x80) {
		for j < len(q) && (isASCIIWordByte(q[j]) || q[j] >= 0x80) {
			j++
		}
	}
	if j >= len(q) || q[j] != '$' {
		l.i++
		return tokPunct, start, start + 1
	}
	delim := q[start : j+1]
	end := strings.Index(q[j+1:], delim)
	if end < 0 {
		return tokError, start, len(q)
	}
	l.i = j + 1 + end + len(delim)
	return tokString, start, l.i
}

// tclVariable reads an SQLite variable: $, @, : or # and identifier
// characters, with :: and a final (…) without blanks allowed, as SQLite's
// tokenizer does. Without a name it is punctuation (SQLite refuses it).
func (l *sqlLexer) tclVariable() (sqlTok, int, int) {
	q, start := l.q, l.i
	j, n := start+1, 0
	for j < len(q) {
		c := q[j]
		switch {
		case isASCIIWordByte(c) || c == '$' || c >= 0x80:
			n++
			j++
			continue
		case c == '(' && n > 0:
			for j++; j < len(q) && !isSQLBlank(q[j]) && q[j] != ')'; j++ {
			}
			if j < len(q) && q[j] == ')' {
				l.i = j + 1
				return tokVar, start, j + 1
			}
			return tokError, start, len(q)
		case c == ':' && j+1 < len(q) && q[j+1] == ':':
			j += 2
			continue
		}
		break
	}
	if n == 0 {
		l.i = j
		return tokPunct, start, j
	}
	l.i = j
	return tokVar, start, j
}

// sqlKw identifies the words the scanner cares about.
type sqlKw uint8

const (
	kwNone sqlKw = iota
	kwOther
	kwComma
	kwSelect
	kwInsert
	kwUpdate
	kwDelete
	kwReplace
	kwMerge
	kwWith
	kwValues
	kwTable
	kwExplain
	kwShow
	kwDescribe
	kwPragma
	kwCreate
	kwGrant
	kwDo
	kwCall
	kwWhere
	kwFor
	kwKey
	kwNo
	kwDuplicate
	kwOn
	kwConflict
	kwOr
	kwAs
	kwNot
	kwMaterialized
	kwRecursive
	kwBefore
	kwAfter
	kwOf
	kwConstant  // TRUE, FALSE, NULL, AND, IS, IN, …: words that name no column
	kwClauseEnd // RETURNING, ORDER, LIMIT: the WHERE clause ended
	kwExplainOption
)

// Flags of a word, looked up after folding it to upper case.
const (
	wDestroy = 1 << iota // destructive anywhere (and not read-only)
	wWrite               // not read-only anywhere
	wFunc                // a function: its name counts quoted too
)

type sqlWord struct {
	kw    sqlKw
	flags uint8
}

var sqlWords = func() map[string]sqlWord {
	m := map[string]sqlWord{}
	set := func(kw sqlKw, flags uint8, words ...string) {
		for _, w := range words {
			m[w] = sqlWord{kw, flags}
		}
	}
	set(kwSelect, 0, "SELECT")
	set(kwInsert, wWrite, "INSERT", "UPSERT")
	set(kwUpdate, wWrite, "UPDATE")
	set(kwDelete, wWrite, "DELETE")
	set(kwReplace, 0, "REPLACE") // also a string function: a verb only first
	set(kwMerge, wWrite, "MERGE")
	set(kwWith, 0, "WITH")
	set(kwValues, 0, "VALUES")
	set(kwTable, 0, "TABLE")
	set(kwExplain, 0, "EXPLAIN")
	set(kwShow, 0, "SHOW")
	set(kwDescribe, 0, "DESCRIBE", "DESC")
	set(kwPragma, 0, "PRAGMA")
	set(kwCreate, wWrite, "CREATE")
	set(kwGrant, wWrite, "GRANT", "REVOKE", "DENY")
	set(kwDo, wWrite, "DO")
	set(kwCall, wWrite, "CALL")
	set(kwWhere, 0, "WHERE")
	set(kwFor, 0, "FOR")
	set(kwKey, 0, "KEY")
	set(kwNo, 0, "NO")
	set(kwDuplicate, 0, "DUPLICATE")
	set(kwOn, 0, "ON")
	set(kwConflict, 0, "CONFLICT")
	set(kwOr, 0, "OR")
	set(kwAs, 0, "AS")
	set(kwNot, 0, "NOT")
	set(kwMaterialized, 0, "MATERIALIZED")
	set(kwRecursive, 0, "RECURSIVE")
	set(kwBefore, 0, "BEFORE")
	set(kwAfter, 0, "AFTER")
	set(kwOf, 0, "OF")
	set(kwConstant, 0, "TRUE", "FALSE", "NULL", "AND", "IS", "IN", "LIKE", "GLOB",
		"BETWEEN", "EXISTS", "CASE", "WHEN", "THEN", "ELSE", "END", "CAST", "INTEGER", "INT", "TEXT")
	set(kwClauseEnd, 0, "RETURNING", "ORDER", "LIMIT", "OUTPUT")
	set(kwExplainOption, 0, "QUERY", "PLAN", "ANALYZE", "ANALYSE", "VERBOSE", "EXTENDED",
		"PARTITIONS", "FORMAT", "JSON", "TREE", "TRADITIONAL")
	// Destructive: schema changes, and SQL run from text the check cannot read.
	set(kwOther, wDestroy|wWrite, "DROP", "TRUNCATE", "ALTER", "RENAME",
		"EXEC", "EXECUTE", "PREPARE",
		// SQLite: pragmas that let a statement rewrite the schema or pages.
		"WRITABLE_SCHEMA", "SCHEMA_VERSION")
	// Functions (also when their name is quoted: "nextval"('s') calls
	// nextval) that run SQL from text, load code or delete data.
	set(kwOther, wDestroy|wWrite|wFunc, "SP_EXECUTESQL", "XP_CMDSHELL", "EVAL",
		"LOAD_EXTENSION", "DBLINK", "DBLINK_EXEC", "SQLITE_DBPAGE", "LO_UNLINK",
		"PG_FILE_UNLINK")
	// Not read-only: writes, locks, session and transaction state, files,
	// stalls, and other side effects.
	set(kwOther, wWrite, "INTO", "ATTACH", "DETACH", "SET", "DECLARE", "DEALLOCATE",
		"LOCK", "UNLOCK", "SHARE", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "SAVE",
		"RELEASE", "START", "TRANSACTION", "LOAD", "HANDLER", "COPY", "LISTEN", "NOTIFY",
		"UNLISTEN", "REFRESH", "CLUSTER", "REINDEX", "VACUUM", "DISCARD", "REASSIGN",
		"IMPORT", "OUTFILE", "DUMPFILE", "WAITFOR", "WHILE", "GOTO", "SHUTDOWN", "KILL",
		"RECONFIGURE", "BACKUP", "RESTORE", "DBCC", "BULK", "CHECKPOINT", "WRITETEXT",
		"UPDATETEXT", "USE", "ADD", "ENABLE", "DISABLE", "SEND", "RECEIVE", "MOVE")
	set(kwOther, wWrite|wFunc, "OPENROWSET", "OPENDATASOURCE", "OPENQUERY",
		"WRITEFILE", "READFILE", "EDIT", "FTS3_TOKENIZER",
		"NEXTVAL", "SETVAL", "SET_CONFIG", "PG_SLEEP", "PG_SLEEP_FOR", "PG_SLEEP_UNTIL",
		"PG_NOTIFY", "PG_TERMINATE_BACKEND", "PG_CANCEL_BACKEND", "PG_RELOAD_CONF",
		"PG_ROTATE_LOGFILE", "PG_SWITCH_WAL", "PG_CREATE_RESTORE_POINT", "PG_PROMOTE",
		"PG_LOGICAL_EMIT_MESSAGE", "PG_READ_FILE", "PG_READ_BINARY_FILE", "PG_LS_DIR",
		"PG_STAT_FILE", "PG_ADVISORY_LOCK", "PG_ADVISORY_LOCK_SHARED", "PG_ADVISORY_XACT_LOCK",
		"PG_ADVISORY_XACT_LOCK_SHARED", "PG_TRY_ADVISORY_LOCK", "PG_TRY_ADVISORY_LOCK_SHARED",
		"PG_TRY_ADVISORY_XACT_LOCK", "PG_TRY_ADVISORY_XACT_LOCK_SHARED", "PG_ADVISORY_UNLOCK",
		"PG_ADVISORY_UNLOCK_SHARED", "PG_ADVISORY_UNLOCK_ALL", "PG_CREATE_LOGICAL_REPLICATION_SLOT",
		"PG_CREATE_PHYSICAL_REPLICATION_SLOT", "PG_DROP_REPLICATION_SLOT",
		"LO_IMPORT", "LO_EXPORT", "LO_CREATE", "LO_FROM_BYTEA", "LO_PUT", "LOWRITE",
		"DBLINK_SEND_QUERY", "DBLINK_CONNECT", "QUERY_TO_XML", "QUERY_TO_XMLSCHEMA",
		"QUERY_TO_XML_AND_XMLSCHEMA", "CURSOR_TO_XML", "SLEEP", "BENCHMARK", "GET_LOCK",
		"RELEASE_LOCK", "RELEASE_ALL_LOCKS", "LOAD_FILE", "SYS_EXEC", "SYS_EVAL",
		"SP_CONFIGURE", "SP_OACREATE", "SP_OAMETHOD", "SP_ADDEXTENDEDPROC",
		"PG_FILE_WRITE", "PG_FILE_RENAME")
	return m
}()

// maxSQLKeyword bounds the words looked up; longer ones are identifiers.
const maxSQLKeyword = 40

// lookupWord folds the word w to upper case and looks it up. exact is
// false when w is not plain ASCII: then only its danger counts (a word
// like "ſelect" that folds to a keyword is no keyword to a server, but is
// kept away from read-only). Servers may split a word where this lexer
// does not: a number from the letters after it (1DROP, 1e5DROP: SQL Server
// reads SELECT 1AS x), or at a character outside ASCII that they do not
// take for a letter. The danger of each such piece counts too.
func lookupWord(w string) (word sqlWord, exact bool) {
	word, exact = lookupFolded(w)
	if w[0] >= '0' && w[0] <= '9' {
		for k := 1; k < len(w); k++ {
			if w[k-1] >= '0' && w[k-1] <= '9' && (w[k] < '0' || w[k] > '9') {
				word = word.with(lookupFolded(w[k:]))
			}
		}
	}
	if !exact {
		start := -1
		for k := 0; k <= len(w); k++ {
			if k < len(w) && w[k] < utf8.RuneSelf {
				if start < 0 {
					start = k
				}
				continue
			}
			if start >= 0 {
				word = word.with(lookupFolded(w[start:k]))
				start = -1
			}
		}
	}
	return word, exact
}

// with adds the danger of a piece of the word to it: its flags, and
// DELETE or UPDATE, which open a modification.
func (w sqlWord) with(piece sqlWord, _ bool) sqlWord {
	w.flags |= piece.flags &^ wFunc
	if (piece.kw == kwDelete || piece.kw == kwUpdate) && w.kw == kwOther {
		w.kw = piece.kw
	}
	return w
}

// lookupQuoted returns the flags of a quoted name that is a function's.
func lookupQuoted(text string) uint8 {
	if len(text) < 2 {
		return 0
	}
	w, _ := lookupFolded(text[1 : len(text)-1])
	if w.flags&wFunc == 0 {
		return 0
	}
	return w.flags
}

func lookupFolded(w string) (sqlWord, bool) {
	if len(w) > maxSQLKeyword*utf8.UTFMax {
		return sqlWord{kw: kwOther}, true
	}
	var buf [maxSQLKeyword]byte
	n, exact := 0, true
	for _, r := range w {
		if n == len(buf) {
			return sqlWord{kw: kwOther}, exact
		}
		if r >= utf8.RuneSelf {
			exact = false
			f := r
			for f = unicode.SimpleFold(r); f != r && f >= utf8.RuneSelf; f = unicode.SimpleFold(f) {
			}
			if f >= utf8.RuneSelf {
				return sqlWord{kw: kwOther}, false
			}
			r = f
		}
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		buf[n] = byte(r)
		n++
	}
	word, ok := sqlWords[string(buf[:n])]
	if !ok {
		return sqlWord{kw: kwOther}, exact
	}
	return word, exact
}

// sqlResult is what one reading found.
type sqlResult struct {
	readable    bool
	destructive bool
	readonly    bool
	statements  int // statements with at least one token
}

// Where a statement's scanner is in the statement's head.
type sqlHead uint8

const (
	headVerb      sqlHead = iota // expecting the verb (after any '(')
	headWithName                 // WITH: expecting a CTE name
	headWithAfter                // after the name: '(' columns or AS
	headWithCols                 // inside the column list
	headWithAs                   // after the column list: AS
	headWithBody                 // after AS: NOT, MATERIALIZED, '('
	headWithIn                   // inside a CTE body
	headWithNext                 // after a body: ',' or the main verb
	headExplain                  // EXPLAIN: options, then the verb
	headExplainIn                // inside EXPLAIN's (options)
	headPragma                   // PRAGMA: name, '.', '(' arg ')'
	headDone                     // the head is read
)

// sqlStatement scans one statement under one reading.
type sqlStatement struct {
	depth     int
	head      sqlHead
	headDepth int   // depth of WITH or EXPLAIN
	verb      sqlKw // the main verb: after WITH and EXPLAIN; kwOther when unknown
	verbSeen  bool  // the statement has a verb at all
	exactOnly bool  // every verb word was plain ASCII
	pragma    int   // where in PRAGMA's form (see pragmaToken)
	pragmaOK  bool  // the pragma named only reports
	tokens    int

	prev [3]sqlKw // the last three tokens, newest first

	conflict    bool // ON CONFLICT seen
	orReplace   bool // INSERT OR REPLACE
	insertQuery bool // the INSERT or REPLACE takes rows from a query

	modifyDepth int  // depth of a pending DELETE/UPDATE, or -1
	where       bool // it has a WHERE …
	named       bool // … that names a column
	whereOpen   bool // the WHERE clause is still being read

	destructive bool
	notRead     bool // something in it is not a plain read
}

func (s *sqlStatement) reset() {
	*s = sqlStatement{modifyDepth: -1, exactOnly: true}
}

func (s *sqlStatement) push(kw sqlKw) {
	s.prev[2], s.prev[1], s.prev[0] = s.prev[1], s.prev[0], kw
}

// closeModify ends the pending DELETE/UPDATE: without a WHERE that names
// a column it was destructive.
func (s *sqlStatement) closeModify() {
	if s.modifyDepth >= 0 && !(s.where && s.named) {
		s.destructive = true
	}
	s.modifyDepth, s.where, s.named, s.whereOpen = -1, false, false, false
}

func (s *sqlStatement) openModify() {
	if s.modifyDepth >= 0 {
		s.closeModify()
	}
	s.modifyDepth, s.where, s.named, s.whereOpen = s.depth, false, false, false
}

// readVerb reports whether kw starts a plain read.
func readVerb(kw sqlKw) bool {
	return kw == kwSelect || kw == kwValues || kw == kwTable || kw == kwShow || kw == kwDescribe
}

// readOnlyPragmas are SQLite's pragmas that only report, whatever their
// argument.
var readOnlyPragmas = map[string]bool{
	"TABLE_INFO": true, "TABLE_XINFO": true, "TABLE_LIST": true, "INDEX_LIST": true,
	"INDEX_INFO": true, "INDEX_XINFO": true, "FOREIGN_KEY_LIST": true,
	"FOREIGN_KEY_CHECK": true, "DATABASE_LIST": true, "COLLATION_LIST": true,
	"FUNCTION_LIST": true, "MODULE_LIST": true, "PRAGMA_LIST": true,
	"COMPILE_OPTIONS": true, "INTEGRITY_CHECK": true, "QUICK_CHECK": true,
}

func isReadOnlyPragma(w string) bool {
	if len(w) > 32 {
		return false
	}
	var buf [32]byte
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	return readOnlyPragmas[string(buf[:len(w)])]
}

// headToken advances the statement's head: the verb, the WITH clause
// before the main verb, EXPLAIN's options, PRAGMA's form.
func (s *sqlStatement) headToken(tok sqlTok, text string, kw sqlKw, exact bool) {
	if !exact {
		kw = foldedOnly(kw)
	}
	switch s.head {
	case headVerb:
		switch {
		case tok == tokPunct && text == "(":
			return // the depth is counted by the caller
		case tok != tokWord:
			s.verb, s.verbSeen, s.head = kwOther, true, headDone
			return
		}
		s.verbSeen = true
		if !exact {
			s.exactOnly = false
		}
		switch kw {
		case kwWith:
			s.head, s.headDepth = headWithName, s.depth
		case kwExplain:
			s.head, s.headDepth = headExplain, s.depth
		case kwPragma:
			s.verb, s.head = kwPragma, headPragma
		default:
			s.verb, s.head = kw, headDone
		}
	case headWithName:
		switch {
		case tok == tokWord && kw == kwRecursive:
		case tok == tokWord || tok == tokIdent || tok == tokDQuote:
			s.head = headWithAfter
		default:
			s.withFailed()
		}
	case headWithAfter:
		switch {
		case tok == tokPunct && text == "(":
			s.head = headWithCols
		case tok == tokWord && kw == kwAs:
			s.head = headWithBody
		default:
			s.withFailed()
		}
	case headWithCols:
		if tok == tokPunct && text == ")" && s.depth == s.headDepth+1 {
			s.head = headWithAs
		}
	case headWithAs:
		if tok == tokWord && kw == kwAs {
			s.head = headWithBody
		} else {
			s.withFailed()
		}
	case headWithBody:
		switch {
		case tok == tokWord && (kw == kwNot || kw == kwMaterialized):
		case tok == tokPunct && text == "(":
			s.head = headWithIn
		default:
			s.withFailed()
		}
	case headWithIn:
		if tok == tokPunct && text == ")" && s.depth == s.headDepth+1 {
			s.head = headWithNext
		}
	case headWithNext:
		switch {
		case tok == tokPunct && text == ",":
			s.head = headWithName
		case tok == tokWord:
			if !exact {
				s.exactOnly = false
			}
			s.verb, s.head = kw, headDone
		default:
			s.withFailed()
		}
	case headExplain:
		switch {
		case tok == tokPunct && text == "(" && s.depth == s.headDepth+1:
			s.head = headExplainIn
		case tok == tokPunct && text == "=":
		case tok == tokWord && kw == kwExplainOption:
		default:
			s.head = headVerb
			s.headToken(tok, text, kw, exact)
		}
	case headExplainIn:
		if tok == tokPunct && text == ")" && s.depth == s.headDepth+1 {
			s.head = headExplain
		}
	case headPragma:
		s.pragmaToken(tok, text)
	}
}

// pragmaToken reads PRAGMA [schema.]name [(arg)], and nothing else: the
// forms that only report when name is one of [readOnlyPragmas]. "= value"
// sets a pragma, and so may "(value)" for any other name.
func (s *sqlStatement) pragmaToken(tok sqlTok, text string) {
	punct := func(p string) bool { return tok == tokPunct && text == p }
	switch {
	case s.pragma == 0 && tok == tokWord, s.pragma == 2 && tok == tokWord:
		s.pragmaOK = isReadOnlyPragma(text)
		s.pragma++
	case s.pragma == 1 && punct("."):
		s.pragma = 2
	case (s.pragma == 1 || s.pragma == 3) && punct("("):
		s.pragma = 4
	case s.pragma == 4 && (tok == tokWord || tok == tokString || tok == tokIdent || tok == tokDQuote):
		s.pragma = 5
	case s.pragma == 5 && punct(")"):
		s.pragma = 6
	default:
		s.pragma = 7
	}
}

func (s *sqlStatement) withFailed() {
	s.verb, s.head = kwOther, headDone
}

// token feeds one token of the statement, with its word looked up.
func (s *sqlStatement) token(tok sqlTok, text string, w sqlWord, exact bool) {
	kw := w.kw
	s.tokens++
	if tok == tokPunct && text == "(" {
		s.depth++
	}
	if s.head != headDone {
		s.headToken(tok, text, kw, exact)
	}
	if tok == tokPunct && text == ")" {
		if s.depth > 0 {
			s.depth--
		}
		if s.modifyDepth > s.depth {
			s.closeModify() // the DELETE/UPDATE was inside the parentheses that closed
		}
	}
	if tok == tokIdent || tok == tokDQuote {
		w.flags = lookupQuoted(text)
	}
	if w.flags&wDestroy != 0 {
		s.destructive = true
	}
	if w.flags&wWrite != 0 {
		s.notRead = true
	}
	if tok == tokWord {
		s.word(kw, exact, w.flags == 0 && (text[0] < '0' || text[0] > '9'))
	} else if s.whereOpen && s.depth >= s.modifyDepth && tok == tokIdent {
		s.named = true
	}
	switch {
	case tok == tokWord && exact:
		s.push(kw)
	case tok == tokPunct && text == ",":
		s.push(kwComma)
	default:
		s.push(kwOther)
	}
}

// word handles a word of the statement's body.
// A plain word (no keyword, no number) in a WHERE clause names a column.
func (s *sqlStatement) word(kw sqlKw, exact, plain bool) {
	verb := s.verb
	if !exact {
		kw = foldedOnly(kw)
	}
	if s.whereOpen && s.depth >= s.modifyDepth {
		switch {
		case kw == kwClauseEnd && s.depth == s.modifyDepth:
			s.whereOpen = false
		case kw == kwOther && plain:
			s.named = true
		}
	}
	switch kw {
	case kwDo, kwCall:
		if s.tokens == 1 || verb == kw {
			s.destructive = true // a DO block or a procedure runs what it likes
		}
	case kwConflict:
		s.conflict = true
	case kwReplace:
		if verb == kwInsert && s.prev[0] == kwOr {
			s.orReplace = true
		}
	case kwSelect, kwTable:
		if s.modifyDepth == s.depth {
			s.closeModify() // a new statement began (SQL Server needs no ';')
		}
		if verb == kwInsert || verb == kwReplace {
			s.insertQuery = true
			if (verb == kwReplace || s.orReplace) && s.modifyDepth < 0 {
				s.openModify() // rows replaced are chosen by this query
			}
		}
	case kwInsert, kwMerge:
		if s.modifyDepth == s.depth {
			s.closeModify()
		}
	case kwDelete, kwUpdate:
		if s.exempt(kw, verb) {
			return
		}
		s.openModify()
	case kwWhere:
		if s.modifyDepth == s.depth && exact {
			s.where, s.whereOpen = true, true
		}
	}
}

// foldedOnly keeps, of a word that is a keyword only after Unicode
// folding, the danger: DELETE and UPDATE still open a modification, but
// nothing that would exempt or filter one.
func foldedOnly(kw sqlKw) sqlKw {
	if kw == kwDelete || kw == kwUpdate {
		return kw
	}
	return kwOther
}

// exempt reports whether this DELETE or UPDATE is not a modification of
// a table's rows, judged by the statement's own verb.
func (s *sqlStatement) exempt(kw sqlKw, verb sqlKw) bool {
	p0, p1, p2 := s.prev[0], s.prev[1], s.prev[2]
	switch verb {
	case kwSelect, kwValues, kwTable:
		// SELECT … FOR UPDATE, FOR NO KEY UPDATE: row locks.
		return kw == kwUpdate && (p0 == kwFor || p0 == kwKey && p1 == kwNo && p2 == kwFor)
	case kwInsert:
		// Upserts of the rows given as VALUES touch only those rows.
		if kw != kwUpdate || s.insertQuery {
			return false
		}
		return p0 == kwKey && p1 == kwDuplicate && p2 == kwOn || p0 == kwDo && s.conflict
	case kwCreate:
		// ON DELETE/ON UPDATE of a foreign key or a column, and a
		// trigger's event: BEFORE/AFTER/INSTEAD OF UPDATE, INSERT OR UPDATE.
		return p0 == kwOn || p0 == kwBefore || p0 == kwAfter || p0 == kwOf || p0 == kwOr
	case kwGrant:
		return p0 == kwGrant || p0 == kwComma
	case kwPragma:
		return true // a value: PRAGMA journal_mode = DELETE
	}
	return false
}

// end closes the statement, folding it into res.
func (s *sqlStatement) end(res *sqlResult) {
	if s.tokens == 0 {
		return // an empty statement: ";;"
	}
	s.closeModify()
	if s.destructive {
		res.destructive = true
	}
	read := !s.notRead && s.exactOnly && s.head == headDone && readVerb(s.verb)
	if s.verb == kwPragma {
		read = !s.notRead && s.exactOnly && s.pragmaOK && (s.pragma == 1 || s.pragma == 3 || s.pragma == 6)
	}
	if !read {
		res.readonly = false
	}
	res.statements++
}

// scanSQL reads q under r.
// sqlWordCache remembers the words looked up by an earlier reading of the
// same text: readings mostly split it alike. Direct-mapped on the start.
type sqlWordCache struct {
	span  [64][2]int32
	word  [64]sqlWord
	exact [64]bool
}

func (c *sqlWordCache) lookup(q string, start, end int) (sqlWord, bool) {
	i := start % len(c.span)
	if c.span[i] == [2]int32{int32(start) + 1, int32(end)} {
		return c.word[i], c.exact[i]
	}
	w, exact := lookupWord(q[start:end])
	if start < 1<<31-1 && end < 1<<31-1 {
		c.span[i], c.word[i], c.exact[i] = [2]int32{int32(start) + 1, int32(end)}, w, exact
	}
	return w, exact
}

func scanSQL(q string, r *sqlReading, cache *sqlWordCache) (res sqlResult) {
	res.readable, res.readonly = true, true
	l := sqlLexer{q: q, r: r}
	var st sqlStatement
	st.reset()
	for {
		tok, start, end := l.next()
		switch {
		case tok == tokError:
			res.readable, res.readonly = false, false
			return res
		case tok == tokEOF:
			st.end(&res)
			if res.statements == 0 {
				res.readonly = false // nothing to run is no read
			}
			return res
		case tok == tokPunct && q[start] == ';':
			st.end(&res)
			st.reset()
		default:
			var w sqlWord
			exact := true
			if tok == tokWord {
				w, exact = cache.lookup(q, start, end)
			}
			st.token(tok, q[start:end], w, exact)
		}
	}
}
