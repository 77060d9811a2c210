package cmvk

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// codeKeywords are the keywords, literals and type names of Go, Python,
// JavaScript, C and Java, matched without regard to case. A keyword is
// kept as written (lower-cased); any other identifier may be renamed.
var codeKeywords = setOf(
	// Go
	"break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough",
	"for", "func", "go", "goto", "if", "import", "interface", "map", "package", "range",
	"return", "select", "struct", "switch", "type", "var", "nil", "true", "false", "int",
	"int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
	"uintptr", "float32", "float64", "complex64", "complex128", "string", "bool", "byte",
	"rune", "error", "any",
	// Python
	"and", "as", "assert", "async", "await", "class", "def", "del", "elif", "except",
	"finally", "from", "global", "in", "is", "lambda", "nonlocal", "not", "or", "pass",
	"raise", "try", "while", "with", "yield", "none",
	// JavaScript, C, Java
	"function", "let", "new", "this", "typeof", "instanceof", "of", "null", "undefined",
	"do", "throw", "catch", "extends", "export", "void", "delete", "static", "public",
	"private", "protected", "final", "long", "short", "char", "unsigned", "signed", "sizeof",
	"union", "enum", "typedef", "extern", "double", "float", "throws", "implements",
)

// sqlKeywords are keywords only in a text that starts with an SQL
// statement (elsewhere "values" or "order" is a name).
var sqlKeywords = setOf(
	"select", "insert", "into", "values", "update", "set", "delete", "create", "table", "drop",
	"alter", "join", "inner", "left", "right", "outer", "on", "group", "by", "order", "having",
	"limit", "offset", "distinct", "all", "asc", "desc", "like", "between", "where", "exists",
	"from", "as", "and", "or", "not", "in", "is", "null", "with", "union", "case", "when",
	"then", "else", "end", "count", "sum", "avg", "min", "max",
)

// definers are the keywords after which an identifier is being defined.
var definers = setOf("def", "func", "function", "class", "fn", "let", "var", "const")

// sqlStarts are the first keywords of an SQL statement: in SQL every name
// is a table or column of the schema, so none is renamed.
var sqlStarts = setOf("select", "insert", "update", "delete", "create", "with", "alter", "drop")

// codeOperators are the multi-rune operators read as one token, longest
// first.
var codeOperators = []string{
	"...", "<<=", ">>=", "**=", "//=", "===", "!==", "&&=", "||=", "&^=",
	"==", "!=", "<=", ">=", ":=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
	"++", "--", "&&", "||", "=>", "->", "<-", "**", "<<", ">>", "&^", "::",
}

// codeTok is one token of [CodeTokens] before renaming.
type codeTok struct {
	text  string
	ident bool // an identifier that is not a keyword
}

// CodeTokens reduces source code to tokens in which only the names are
// abstracted: every keyword, operator, number and string literal is kept,
// so "<" and "<=", "+=" and "-=", 2 and 3 differ, while an identifier the
// code defines or uses as a plain variable is renamed to $0, $1, … in
// order of first appearance (alpha-renaming), so "total += x" and "acc +=
// v" have the same tokens. Names the code does not define and uses as a
// function ("deny(" vs "allow(") or as a member (".Remove" vs
// ".RemoveAll") are kept. In a text that starts with an SQL statement
// keyword nothing is renamed (its names are the schema's).
//
// Language-agnostic rules: comments are dropped (//, /* */, and # or -- to
// the end of the line; // is Python's floor division in a text whose lines
// end blocks with ':'); layout is ignored except that in such a text a
// deeper indentation after a line ending in ':' opens a block (">") and
// its end closes one ("<"). Numbers are compared by value ("1.0" = "1"),
// strings by their text with the interpolated parts ("{name}", "${x}")
// abstracted, keywords case-insensitively.
func CodeTokens(src string) []string {
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	python := false
	for _, l := range lines {
		t, _, _ := strings.Cut(l, "#") // a comment after the colon
		t = strings.TrimSpace(t)
		if strings.HasSuffix(t, ":") && len(t) > 1 {
			first, _, _ := strings.Cut(t, " ")
			first = strings.TrimSuffix(first, ":")
			if codeKeywords[first] || first == "def" || first == "elif" || first == "else" {
				python = true
				break
			}
		}
	}
	sql := false
	if f := strings.Fields(src); len(f) > 0 {
		first := strings.ToLower(strings.TrimLeft(f[0], "("))
		sql = sqlStarts[first]
	}
	var toks []codeTok
	indents := []int{0}
	opened := false // the previous line ended with ':'
	inBlock := false
	for _, line := range lines {
		col, i := 0, 0
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			col++
			if line[i] == '\t' {
				col += 3
			}
			i++
		}
		body := stripLineComment(line[i:], python, &inBlock)
		if strings.TrimSpace(body) == "" {
			continue
		}
		if python {
			if opened && col > indents[len(indents)-1] {
				indents = append(indents, col)
				toks = append(toks, codeTok{text: ">"})
			}
			for len(indents) > 1 && col < indents[len(indents)-1] {
				indents = indents[:len(indents)-1]
				toks = append(toks, codeTok{text: "<"})
			}
			opened = strings.HasSuffix(strings.TrimSpace(body), ":")
		}
		toks = appendCodeToks(toks, body, sql)
	}
	if sql {
		out := make([]string, len(toks))
		for i, t := range toks {
			out[i] = t.text
		}
		return out
	}
	return renameCode(toks)
}

// stripLineComment removes comments from one line; inBlock carries an
// open /* */ comment from line to line.
func stripLineComment(s string, python bool, inBlock *bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if *inBlock {
			end := strings.Index(s[i:], "*/")
			if end < 0 {
				return b.String()
			}
			*inBlock = false
			i += end + 2
			continue
		}
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := skipString(s, i)
			b.WriteString(s[i:j])
			i = j
			continue
		case c == '#' || (c == '-' && strings.HasPrefix(s[i:], "-- ")):
			return b.String()
		case c == '/' && strings.HasPrefix(s[i:], "//") && !python:
			return b.String()
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			*inBlock = true
			i += 2
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

// skipString returns the index after the string literal starting at s[i]
// (to the end of the line when it is not closed).
func skipString(s string, i int) int {
	q := s[i]
	j := i + 1
	for j < len(s) {
		if s[j] == '\\' && q != '`' {
			j += 2
			continue
		}
		j++
		if s[j-1] == q {
			break
		}
	}
	return min(j, len(s))
}

func appendCodeToks(out []codeTok, s string, sql bool) []codeTok {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += n
		case r == '"' || r == '\'' || r == '`':
			j := skipString(s, i)
			lit := s[i+1 : max(j-1, i+1)]
			if j-i >= 2 && s[j-1] != s[i] { // unterminated: keep it all
				lit = s[i+1 : j]
			}
			// A string prefix (f, r, b, rb, …) is part of the literal.
			if k := len(out) - 1; k >= 0 && out[k].ident && isStringPrefix(out[k].text) && i > 0 && !unicode.IsSpace(rune(s[i-1])) {
				out = out[:k]
			}
			out = append(out, codeTok{text: "s:" + abstractHoles(lit)})
			i = j
		case unicode.IsDigit(r) || (r == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9'):
			j := i
			for j < len(s) {
				c := s[j]
				if !(c >= '0' && c <= '9') && c != '.' && c != '_' && !unicode.IsLetter(rune(c)) &&
					!((c == '+' || c == '-') && j > i && (s[j-1] == 'e' || s[j-1] == 'E')) {
					break
				}
				j++
			}
			num := strings.ToLower(strings.ReplaceAll(s[i:j], "_", ""))
			if f, err := strconv.ParseFloat(num, 64); err == nil {
				num = strconv.FormatFloat(f, 'g', -1, 64)
			}
			out = append(out, codeTok{text: "#" + num})
			i = j
		case r == '_' || unicode.IsLetter(r):
			j := i
			for j < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[j:])
				if r2 != '_' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				j += n2
			}
			w := s[i:j]
			if lw := strings.ToLower(w); codeKeywords[lw] || (sql && sqlKeywords[lw]) {
				out = append(out, codeTok{text: lw})
			} else {
				out = append(out, codeTok{text: w, ident: true})
			}
			i = j
		default:
			op := string(r)
			for _, o := range codeOperators {
				if strings.HasPrefix(s[i:], o) {
					op = o
					break
				}
			}
			out = append(out, codeTok{text: op})
			i += len(op)
		}
	}
	return out
}

func isStringPrefix(w string) bool {
	switch strings.ToLower(w) {
	case "f", "r", "b", "u", "rb", "br", "fr", "rf":
		return true
	}
	return false
}

// abstractHoles replaces each {…} of a string literal (an f-string's or a
// template's interpolation) with {}.
func abstractHoles(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '{':
			if depth == 0 {
				b.WriteString("{}")
			}
			depth++
		case r == '}' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// renameCode alpha-renames the identifiers of toks as described at
// [CodeTokens] and returns the token texts.
func renameCode(toks []codeTok) []string {
	out := make([]string, len(toks))
	// Defined names: after a definer (Go's "func (r T) Name" too) or
	// assigned with = or :=.
	defined := make(map[string]bool)
	for i, t := range toks {
		if !t.ident {
			continue
		}
		prev := ""
		if i > 0 {
			prev = toks[i-1].text
		}
		next := ""
		if i+1 < len(toks) {
			next = toks[i+1].text
		}
		if definers[prev] || next == "=" || next == ":=" || (prev == ")" && next == "(" && goMethod(toks, i)) {
			defined[t.text] = true
		}
	}
	names := make(map[string]string)
	for i, t := range toks {
		out[i] = t.text
		if !t.ident {
			continue
		}
		member := i > 0 && toks[i-1].text == "."
		callee := i+1 < len(toks) && toks[i+1].text == "("
		if member || (callee && !defined[t.text]) {
			continue
		}
		name, ok := names[t.text]
		if !ok {
			name = "$" + strconv.Itoa(len(names))
			names[t.text] = name
		}
		out[i] = name
	}
	return out
}

// goMethod reports whether toks[i] is the name in "func (r T) Name(".
func goMethod(toks []codeTok, i int) bool {
	depth := 0
	for k := i - 1; k >= 0; k-- {
		switch toks[k].text {
		case ")":
			depth++
		case "(":
			depth--
			if depth == 0 {
				return k > 0 && toks[k-1].text == "func"
			}
		}
	}
	return false
}

// CodeTokenDrift is 1 − [Ratio] of the [CodeTokens] of a and b: 0 for
// code that differs only in names, layout and comments; one changed
// operator, literal or keyword in a 40-token function moves it by about
// 0.025. Two texts without tokens have drift 0, one without drift 1; more
// than [MaxSequence] tokens is [ErrTooLarge]. Confidence is 1.
func CodeTokenDrift(a, b string) (Score, error) {
	ta, tb := CodeTokens(a), CodeTokens(b)
	if s, ok := emptyCase(len(ta) == 0, len(tb) == 0); ok {
		return s, nil
	}
	if err := errors.Join(tooLong(len(ta), "code tokens"), tooLong(len(tb), "code tokens")); err != nil {
		return Score{}, err
	}
	return Score{Drift: 1 - Ratio(ta, tb), Confidence: 1}, nil
}
