package recorder

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/internal/jsonenc"
)

// The fast paths of Append's checks. Every entry the kernel records goes
// through normalize, whose general tools (CanonicalJSON's decode and
// re-encode, the effect's MarshalText) allocate; these recognise the
// common case, input already in stored form, without allocating, and
// defer to the general tools for anything else. A differential fuzz test
// (FuzzCanonicalFast) holds them to the general tools.

// validEffect and validSeverity say which of the 256 values MarshalText
// accepts, computed once from MarshalText itself.
var validEffect, validSeverity = func() (e, s [256]bool) {
	for i := range 256 {
		_, err := agentos.Effect(i).MarshalText()
		e[i] = err == nil
		_, err = agentos.Severity(i).MarshalText()
		s[i] = err == nil
	}
	return e, s
}()

// maxCanonicalDepth bounds the nesting isCanonical follows; deeper input
// takes the general path, whose decoder has its own bound.
const maxCanonicalDepth = 64

// isCanonical reports whether b is exactly what CanonicalJSON makes of it:
// one JSON value with no insignificant space, object keys strictly
// increasing as bytes (a key with an escape takes the general path, since
// keys sort by their decoded form), strings escaped as encoding/json
// escapes them without HTML escaping, numbers as written. False means only
// "not shown canonical here": the caller then uses CanonicalJSON's
// general path, which decides.
func isCanonical(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	n, ok := canonValue(b, 0, 0)
	return ok && n == len(b)
}

// canonValue checks the value at b[i:] and returns the index after it.
func canonValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxCanonicalDepth {
		return 0, false
	}
	switch c := b[i]; {
	case c == '{':
		i++
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		var prev []byte
		for first := true; ; first = false {
			start := i
			end, ok := canonString(b, i, true)
			if !ok {
				return 0, false
			}
			key := b[start+1 : end-1]
			if !first && string(key) <= string(prev) {
				return 0, false
			}
			prev = key
			if end >= len(b) || b[end] != ':' {
				return 0, false
			}
			if i, ok = canonValue(b, end+1, depth+1); !ok || i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i++
			case '}':
				return i + 1, true
			default:
				return 0, false
			}
		}
	case c == '[':
		i++
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = canonValue(b, i, depth+1); !ok || i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case ',':
				i++
			case ']':
				return i + 1, true
			default:
				return 0, false
			}
		}
	case c == '"':
		return canonString(b, i, false)
	case c == 't':
		return canonLiteral(b, i, "true")
	case c == 'f':
		return canonLiteral(b, i, "false")
	case c == 'n':
		return canonLiteral(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return canonNumber(b, i)
	}
	return 0, false
}

func canonLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, false
	}
	return i + len(lit), true
}

// canonNumber checks a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func canonNumber(b []byte, i int) (int, bool) {
	digits := func() bool {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		digits()
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return 0, false
		}
	}
	return i, true
}

// canonString checks a string as encoding/json writes it without HTML
// escaping: valid UTF-8 other than U+2028 and U+2029 as is; '"' and '\\'
// and the control characters escaped, \b \f \n \r \t short, the others as
// \u00xx in lower-case hex, U+2028 and U+2029 as \u2028 and \u2029. A key
// (noEscape) with any escape is left to the general path.
func canonString(b []byte, i int, noEscape bool) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if noEscape || i+1 >= len(b) {
				return 0, false
			}
			switch b[i+1] {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				i += 2
				continue
			case 'u':
				if len(b)-i < 6 {
					return 0, false
				}
				u := string(b[i+2 : i+6])
				if u == "2028" || u == "2029" || isShortHexControl(u) {
					i += 6
					continue
				}
			}
			return 0, false
		case c < 0x20:
			return 0, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
				return 0, false
			}
			i += size
		}
	}
	return 0, false
}

// isShortHexControl reports whether u is the four lower-case hex digits
// encoding/json writes for a control character without a short escape.
func isShortHexControl(u string) bool {
	if u[0] != '0' || u[1] != '0' || u[2] > '1' || u[2] < '0' {
		return false
	}
	d := u[3]
	var v byte
	switch {
	case d >= '0' && d <= '9':
		v = d - '0'
	case d >= 'a' && d <= 'f':
		v = d - 'a' + 10
	default:
		return false
	}
	v += (u[2] - '0') << 4
	switch v {
	case '\b', '\f', '\n', '\r', '\t':
		return false
	}
	return true
}

// metaPair is one entry of a meta map.
type metaPair struct{ k, v string }

// smallMeta is the number of meta entries sorted in an array on the
// stack; more grow onto the heap. The kernel's meta has one to three:
// an array of MaxMetaEntries would cost more to zero than to sort.
const smallMeta = 4

// sortedMeta appends m's entries to dst sorted by key, and the bytes their
// JSON object takes at most before escaping. The caller bounds len(m).
func sortedMeta(dst []metaPair, m map[string]string) ([]metaPair, int) {
	size := 2
	for k, v := range m {
		dst = append(dst, metaPair{k, v})
		size += len(k) + len(v) + 6
	}
	// Insertion sort: at most MaxMetaEntries pairs, usually one or two.
	for i := 1; i < len(dst); i++ {
		for j := i; j > 0 && dst[j].k < dst[j-1].k; j-- {
			dst[j], dst[j-1] = dst[j-1], dst[j]
		}
	}
	return dst, size
}

// appendMetaObject appends the JSON object of sorted pairs as metaJSON
// writes it: every string escaped as jsonenc.AppendString does without
// HTML escaping.
func appendMetaObject(b []byte, pairs []metaPair) []byte {
	b = append(b, '{')
	for i, p := range pairs {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, p.k, false)
		b = append(b, ':')
		b = jsonenc.AppendString(b, p.v, false)
	}
	return append(b, '}')
}

// fastMetaJSON is metaJSON without encoding/json: the entries sorted on the
// stack (up to MaxMetaEntries of them; ok is false beyond) and encoded by
// appendMetaObject. The result is one allocation.
func fastMetaJSON(m map[string]string) (s string, ok bool) {
	if len(m) > MaxMetaEntries {
		return "", false
	}
	var arr [smallMeta]metaPair
	pairs, size := sortedMeta(arr[:0], m)
	var stack [512]byte
	b := stack[:0]
	if size > len(stack) {
		b = make([]byte, 0, size+size/8)
	}
	return string(appendMetaObject(b, pairs)), true
}

// appendMetaChecked checks m as normalize does (checkMeta: the same
// bounds, the same errors) and appends its stored form to dst as encode
// writes the meta field: the uvarint length of metaJSON(m), then its bytes,
// encoded in place rather than into a string first. It is the in-memory
// store's meta step; TestAppendMetaChecked holds it to checkMeta and
// appendBytes(metaJSON).
func appendMetaChecked(dst []byte, m map[string]string) ([]byte, error) {
	if len(m) == 0 {
		return append(dst, 0), nil // appendBytes of ""
	}
	if len(m) > MaxMetaEntries {
		return dst, fmt.Errorf("%w: recorder: %d meta entries, at most %d", agentos.ErrInvalid, len(m), MaxMetaEntries)
	}
	var arr [smallMeta]metaPair
	pairs, _ := sortedMeta(arr[:0], m)
	for _, p := range pairs {
		if err := checkText("meta key", p.k, MaxMetaKey); err != nil {
			return dst, err
		}
		if err := checkMetaValue(p.k, p.v); err != nil {
			return dst, err
		}
	}
	// One byte holds the length of an object under 128 bytes; a longer
	// one moves up by the bytes its uvarint takes beyond the first.
	at := len(dst)
	dst = appendMetaObject(append(dst, 0), pairs)
	n := len(dst) - at - 1
	if n < 0x80 {
		dst[at] = byte(n)
		return dst, nil
	}
	var lb [binary.MaxVarintLen64]byte
	ln := binary.PutUvarint(lb[:], uint64(n))
	dst = append(dst, lb[:ln-1]...) // room for the longer length
	copy(dst[at+ln:], dst[at+1:at+1+n])
	copy(dst[at:], lb[:ln])
	return dst, nil
}
