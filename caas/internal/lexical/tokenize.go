package lexical

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of [Tokenize].
const (
	// MaxTokens is the most tokens Tokenize returns; text after the token
	// that reaches it is ignored.
	MaxTokens = 1 << 16
	// MaxWordBytes is the longest word, in bytes: a longer run of letters,
	// digits and joiners is cut, at a character boundary, into words of at
	// most this length, so no token is longer.
	MaxWordBytes = 256
)

// Tokenize splits text into lowercase search terms. A word is a run of
// Unicode letters, digits and combining marks, possibly joined by '.' or
// '_' (joiners at either end are dropped); everything else, invalid UTF-8
// included, separates words. Each Han, Hiragana and Katakana character is
// a word of its own, since those scripts do not separate words by spaces.
//
// An identifier is kept whole and also split: first at its joiners, then
// each part at its case changes (lower or digit to upper, and the last
// upper of a run of uppers followed by a lower other than a plural "s":
// "IDs" stays whole), each piece lowercased:
//
//	http.NewRequest → http.newrequest http newrequest new request
//	max_tokens      → max_tokens max tokens
//	HTTPServer      → httpserver http server
//
// A plain word gives one token. At most [MaxTokens] tokens are returned,
// none longer than [MaxWordBytes] bytes. Tokenize never panics.
func Tokenize(text string) []string {
	var out []string
	start := -1 // start of the current word, -1 between words
	flush := func(end int) {
		if start >= 0 {
			out = appendWord(out, text[start:end])
			start = -1
		}
	}
	for i := 0; i < len(text) && len(out) < MaxTokens; {
		if c := text[i]; c < utf8.RuneSelf {
			// ASCII, most text: a table instead of the Unicode tables.
			switch asciiClass[c] {
			case asciiWord:
				if start >= 0 && i+1-start > MaxWordBytes {
					flush(i)
				}
				if start < 0 {
					start = i
				}
			default:
				flush(i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			flush(i)
		case isIdeograph(r):
			flush(i)
			if len(out) < MaxTokens {
				out = append(out, text[i:i+size])
			}
		case isWordRune(r) || r == '.' || r == '_':
			if start >= 0 && i+size-start > MaxWordBytes {
				flush(i)
			}
			if start < 0 {
				start = i
			}
		default:
			flush(i)
		}
		i += size
	}
	if len(out) < MaxTokens {
		flush(len(text))
	}
	if len(out) > MaxTokens {
		out = out[:MaxTokens]
	}
	return out
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || isMark(r)
}

// isMark reports whether r is a combining mark (none is below U+0300).
func isMark(r rune) bool { return r >= 0x300 && unicode.Is(unicode.Mn, r) }

const (
	asciiSep = iota
	asciiWord
)

// asciiClass sorts ASCII bytes into word bytes (letters, digits and the
// joiners '.' and '_') and separators.
var asciiClass = func() (t [utf8.RuneSelf]byte) {
	for c := range t {
		r := rune(c)
		if isWordRune(r) || r == '.' || r == '_' {
			t[c] = asciiWord
		}
	}
	return t
}()

func isIdeograph(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana)
}

func isJoiner(r rune) bool { return r == '.' || r == '_' }

// appendWord appends the tokens of one word (a run of word runes and
// joiners, valid UTF-8) to out.
func appendWord(out []string, w string) []string {
	w = strings.TrimFunc(w, isJoiner)
	if w == "" {
		return out
	}
	out = append(out, strings.ToLower(w))
	if !strings.ContainsAny(w, "._") {
		// One part: a joiner left after trimming has word runes on both
		// sides, so its presence means two parts or more.
		return appendCamel(out, w)
	}
	for p := range strings.FieldsFuncSeq(w, isJoiner) {
		out = append(out, strings.ToLower(p))
		out = appendCamel(out, p)
	}
	return out
}

// appendCamel appends the lowercased case-change pieces of part if there
// are two or more.
func appendCamel(out []string, part string) []string {
	// First pass: is there a boundary at all? Most words have none.
	if !hasCamelBoundary(part) {
		return out
	}
	start := 0
	var prev rune = -1
	for i, r := range part {
		if prev >= 0 && i > start && camelBoundary(prev, r, part[i+utf8.RuneLen(r):]) {
			out = append(out, strings.ToLower(part[start:i]))
			start = i
		}
		if !isMark(r) {
			prev = r // a combining mark belongs to the letter before it
		}
	}
	return append(out, strings.ToLower(part[start:]))
}

func hasCamelBoundary(part string) bool {
	var prev rune = -1
	for i, r := range part {
		if prev >= 0 && camelBoundary(prev, r, part[i+utf8.RuneLen(r):]) {
			return true
		}
		if !isMark(r) {
			prev = r
		}
	}
	return false
}

// camelBoundary reports whether a new piece starts at r, preceded by prev
// and followed by rest: "newRequest" (lower or digit, then upper) and
// "HTTPServer" (upper, then the upper that starts a capitalised word, but
// not the s of a plural acronym: "IDs", "URLsList" → urls list).
func camelBoundary(prev, r rune, rest string) bool {
	if !unicode.IsUpper(r) && !unicode.IsTitle(r) {
		return false
	}
	if unicode.IsLower(prev) || unicode.IsDigit(prev) {
		return true
	}
	if unicode.IsUpper(prev) {
		next, size := utf8.DecodeRuneInString(rest)
		if next == 's' {
			// A plural acronym, "IDs" or "URLs", is one piece.
			after, _ := utf8.DecodeRuneInString(rest[size:])
			return unicode.IsLower(after)
		}
		return unicode.IsLower(next)
	}
	return false
}
