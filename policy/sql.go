package policy

import "strings"

// SQLDestructive reports whether the SQL text q contains a destructive
// statement: DROP, TRUNCATE or ALTER anywhere outside comments and string
// literals, or a DELETE or UPDATE without a WHERE at its own nesting level.
// Several statements separated by ';' are checked one by one, so a
// stacked "SELECT 1; DROP TABLE t" is destructive. Keywords match in any
// case and spacing.
//
// SQL dialects disagree on what is a comment or a literal (MySQL takes
// backslash escapes in strings, '#' comments and executes /*! ... */
// comments; PostgreSQL nests block comments; standard SQL does none of
// these). q is scanned once under each reading, and it is destructive if
// it is destructive under either: text that one dialect hides in a literal
// or a comment cannot smuggle a DROP past the check. The check is lexical,
// not a parser: it errs on the side of reporting destruction (a column
// named "drop" counts). It is the CEL function sql.destructive.
func SQLDestructive(q string) bool {
	return sqlDestructive(q, dialectStandard) || sqlDestructive(q, dialectMySQL)
}

type sqlDialect uint8

const (
	dialectStandard sqlDialect = iota // '' escapes, -- comments, nested /* */
	dialectMySQL                      // \ escapes, "-- " and # comments, flat /* */, /*! executed
)

// sqlStatement tracks one statement while scanning.
type sqlStatement struct {
	depth       int  // parenthesis depth
	modifyDepth int  // depth of the pending DELETE/UPDATE, or -1
	filtered    bool // a WHERE was seen at modifyDepth
	destructive bool
	prev        string // the previous word
}

func (s *sqlStatement) reset() { *s = sqlStatement{modifyDepth: -1} }

// end closes the statement and reports whether it was destructive.
func (s *sqlStatement) end() bool {
	bad := s.destructive || (s.modifyDepth >= 0 && !s.filtered)
	s.reset()
	return bad
}

func (s *sqlStatement) word(w string) {
	prev := s.prev
	s.prev = w
	switch {
	case strings.EqualFold(w, "UPDATE") && (strings.EqualFold(prev, "FOR") ||
		strings.EqualFold(prev, "KEY") || strings.EqualFold(prev, "DO")):
		// SELECT ... FOR UPDATE (a lock), INSERT ... ON DUPLICATE KEY
		// UPDATE and ON CONFLICT DO UPDATE touch only the rows inserted.
	case strings.EqualFold(w, "DROP"), strings.EqualFold(w, "TRUNCATE"), strings.EqualFold(w, "ALTER"):
		s.destructive = true
	case strings.EqualFold(w, "DELETE"), strings.EqualFold(w, "UPDATE"):
		if s.modifyDepth >= 0 && !s.filtered {
			s.destructive = true // an earlier unfiltered DELETE/UPDATE
		}
		s.modifyDepth, s.filtered = s.depth, false
	case strings.EqualFold(w, "WHERE"):
		if s.modifyDepth == s.depth {
			s.filtered = true
		}
	}
}

func sqlDestructive(q string, d sqlDialect) bool {
	var st sqlStatement
	st.reset()
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ';':
			if st.end() {
				return true
			}
			i++
		case c == '(':
			st.depth++
			i++
		case c == ')':
			if st.depth > 0 {
				st.depth--
			}
			if st.modifyDepth > st.depth {
				// The DELETE/UPDATE was inside the parentheses that closed.
				if !st.filtered {
					st.destructive = true
				}
				st.modifyDepth = -1
			}
			i++
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			if d == dialectMySQL && i+2 < len(q) && !isSQLSpace(q[i+2]) {
				i += 2 // MySQL: "--" is a comment only before a blank
				continue
			}
			i = skipLine(q, i)
		case c == '#' && d == dialectMySQL:
			i = skipLine(q, i)
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			if d == dialectMySQL && i+2 < len(q) && q[i+2] == '!' {
				i += 3 // MySQL executes /*! ... */: scan its content
				continue
			}
			i = skipBlockComment(q, i, d == dialectStandard)
		case c == '\'' || c == '"' || (c == '`' && d == dialectMySQL):
			i = skipQuoted(q, i, d == dialectMySQL)
		case isSQLWordByte(c):
			j := i
			for j < len(q) && isSQLWordByte(q[j]) {
				j++
			}
			st.word(q[i:j])
			i = j
		default:
			i++
		}
	}
	return st.end()
}

func isSQLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isSQLWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func skipLine(q string, i int) int {
	if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(q)
}

// skipBlockComment skips /* ... */ starting at i, nested when nested is
// true. An unterminated comment runs to the end.
func skipBlockComment(q string, i int, nested bool) int {
	depth := 0
	for i < len(q) {
		switch {
		case i+1 < len(q) && q[i] == '/' && q[i+1] == '*':
			if depth == 0 || nested {
				depth++
			}
			i += 2
		case i+1 < len(q) && q[i] == '*' && q[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return len(q)
}

// skipQuoted skips a quoted literal or identifier starting at i. A doubled
// quote is an escaped quote; with backslash true, so is a backslash
// followed by any byte. An unterminated literal runs to the end.
func skipQuoted(q string, i int, backslash bool) int {
	quote := q[i]
	i++
	for i < len(q) {
		switch c := q[i]; {
		case backslash && c == '\\':
			i += 2
		case c == quote:
			if i+1 < len(q) && q[i+1] == quote {
				i += 2
				continue
			}
			return i + 1
		default:
			i++
		}
	}
	return len(q)
}
