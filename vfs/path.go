package vfs

import (
	"io/fs"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// Limits on paths. Clean refuses anything beyond them.
const (
	MaxPathLen    = 1024 // bytes in a whole path
	MaxNameLen    = 255  // bytes in one path component
	MaxComponents = 64   // components in a path (its depth)
)

// Clean validates an absolute namespace path and returns its canonical form.
// It is the one path validator of the package: every namespace method runs
// it, and the kernel runs it before policy sees a path, so that policy
// decides on exactly the path that will be touched.
//
// Canonicalisation is limited to what cannot change the meaning of a path:
// repeated slashes, "." components and a trailing slash are removed
// ("/mem//working/./a/" becomes "/mem/working/a"). Everything else that could
// make a path name something other than what it appears to name is refused
// rather than resolved:
//
//   - relative paths and the empty path;
//   - any ".." component, even one that would stay inside a mount;
//   - NUL bytes, control characters (C0, DEL, C1), Unicode format characters
//     (bidirectional overrides, zero-width characters, byte-order marks) and
//     line or paragraph separators;
//   - invalid UTF-8;
//   - backslashes, which other systems treat as separators;
//   - paths longer than [MaxPathLen] bytes, components longer than
//     [MaxNameLen] bytes, or more than [MaxComponents] components.
//
// A refused path yields a *fs.PathError with Op "clean" whose error matches
// both agentos.ErrInvalid and fs.ErrInvalid. Its Path field holds the
// offending path quoted with strconv.Quote (and shortened), never raw bytes,
// so the error is safe to log. Clean never consults a mount table: whether a
// mount exists for the path ("/policyX" is not under "/policy") is decided
// when a namespace resolves it, which fails with agentos.ErrNotFound.
//
// When p is already canonical, Clean returns it without allocating.
func Clean(p string) (string, error) {
	return clean(p)
}

func clean(p string) (string, error) {
	if p == "" {
		return "", invalidPath(p, "empty path")
	}
	if len(p) > MaxPathLen {
		return "", invalidPath(p, "longer than "+strconv.Itoa(MaxPathLen)+" bytes")
	}
	if p[0] != '/' {
		return "", invalidPath(p, "not absolute")
	}
	if !utf8.ValidString(p) {
		return "", invalidPath(p, "invalid UTF-8")
	}
	if reason := badRunes(p); reason != "" {
		return "", invalidPath(p, reason)
	}
	// Walk the components once: validate each, and note whether the path
	// needs rewriting.
	canonical := true
	n := 0
	rest := p[1:]
	if rest == "" {
		return "/", nil
	}
	for {
		comp, tail, more := strings.Cut(rest, "/")
		switch comp {
		case "", ".":
			canonical = false
		case "..":
			return "", invalidPath(p, `".." component`)
		default:
			if len(comp) > MaxNameLen {
				return "", invalidPath(p, "component longer than "+strconv.Itoa(MaxNameLen)+" bytes")
			}
			n++
			if n > MaxComponents {
				return "", invalidPath(p, "more than "+strconv.Itoa(MaxComponents)+" components")
			}
		}
		if !more {
			break
		}
		if tail == "" { // trailing slash
			canonical = false
			break
		}
		rest = tail
	}
	if canonical {
		return p, nil
	}
	var b strings.Builder
	b.Grow(len(p))
	for comp := range strings.SplitSeq(p[1:], "/") {
		if comp == "" || comp == "." {
			continue
		}
		b.WriteByte('/')
		b.WriteString(comp)
	}
	if b.Len() == 0 {
		return "/", nil
	}
	return b.String(), nil
}

// badRunes reports why p contains a refused character, or "" when it does
// not. p is valid UTF-8.
func badRunes(p string) string {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= 0x20 && c < 0x7f && c != '\\' {
			continue // printable ASCII: the common case
		}
		if c == 0 {
			return "NUL byte"
		}
		if c == '\\' {
			return "backslash"
		}
		if c < 0x80 {
			return "control character " + strconv.QuoteRune(rune(c))
		}
		r, size := utf8.DecodeRuneInString(p[i:])
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) ||
			r == 0xFFFE || r == 0xFFFF {
			return "control or format character " + strconv.QuoteRuneToASCII(r)
		}
		i += size - 1
	}
	return ""
}

func invalidPath(p, reason string) error {
	const max = 128
	q := p
	if len(q) > max {
		q = q[:max]
	}
	quoted := strconv.QuoteToASCII(q)
	if len(q) < len(p) {
		quoted += "…"
	}
	return &fs.PathError{Op: "clean", Path: quoted, Err: detail(errInvalid, "%s", reason)}
}

// ValidName reports whether name is acceptable as a mount-relative file name:
// it satisfies fs.ValidPath (slash-separated, no leading or trailing slash,
// no "." or ".." components except the root ".") and the character and length
// rules of [Clean]. Mounts call it on every name they are given; a namespace
// only ever passes valid names.
func ValidName(name string) bool {
	if name == "." {
		return true
	}
	if len(name) >= MaxPathLen || !fs.ValidPath(name) || badRunes(name) != "" {
		return false
	}
	n := 0
	for rest := name; ; {
		comp, tail, more := strings.Cut(rest, "/")
		if len(comp) > MaxNameLen {
			return false
		}
		if n++; n > MaxComponents {
			return false
		}
		if !more {
			return true
		}
		rest = tail
	}
}

// checkName returns the error a mount gives for an invalid name.
func checkName(op agentos.Op, name string) error {
	if ValidName(name) {
		return nil
	}
	return mountError(op, strconv.QuoteToASCII(name), detail(errInvalid, "invalid name"))
}
