package scan

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// scanName checks a tool's name: every character should be one a person
// can read and type. Invisible characters in a name are critical (two
// names that render alike name different tools); look-alike letters from
// other scripts are high; the name is also scanned as text.
func (s *Scanner) scanName(c *collector, name string) {
	const field = "name"
	if name == "" {
		c.add(Finding{Kind: KindInvalidSchema, Severity: SeverityHigh, Field: field, Message: "empty tool name"})
		return
	}
	for i, r := range name {
		if isInvisible(r) {
			c.add(Finding{Kind: KindInvisible, Severity: SeverityCritical, Field: field, Offset: i,
				Message: "invisible character in the tool name", Evidence: evidence(name, i, i+utf8.RuneLen(r))})
			break
		}
	}
	for i, r := range name {
		if isLookalikeLetter(r) {
			c.add(Finding{Kind: KindConfusable, Severity: SeverityHigh, Field: field, Offset: i,
				Message: "look-alike letter from another script in the tool name", Evidence: evidence(name, i, i+utf8.RuneLen(r))})
			break
		}
	}
	// Names are identifiers: scan their words as text, with the
	// separators read as spaces so that "ignore_previous_instructions"
	// reads as the phrase it is.
	words := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || r == '/' {
			return ' '
		}
		return r
	}, name)
	before := len(c.findings)
	s.scanText(c, field, words, s.o.MaxDecodeDepth) // no decoding of blobs in names
	// The name's own checks above already graded its characters.
	kept := c.findings[:before]
	for _, f := range c.findings[before:] {
		if f.Kind == KindInvisible || f.Kind == KindConfusable {
			continue
		}
		kept = append(kept, f)
	}
	c.findings = kept
}

// Shadowing reports whether name imitates one of known, the names of tools
// the agent already has (from other servers): a name that differs from a
// known one but reads the same once case, separators ("_", "-", ".", " "),
// invisible characters and look-alike letters are folded away ("send_emaiI"
// for "send_email", "sеnd-email" with a Cyrillic е) is high; one a single
// edit away ("send_emails") is medium, for names of at least five
// characters. A name equal to a known one is not reported: the caller
// decides whether two servers may offer the same name.
func Shadowing(name string, known []string) []Finding {
	var out []Finding
	sk := skeleton(name)
	for _, k := range known {
		if k == name {
			continue
		}
		kk := skeleton(k)
		switch {
		case kk == sk:
			out = append(out, Finding{Kind: KindShadowing, Severity: SeverityHigh, Field: "name",
				Message: fmt.Sprintf("reads the same as the known tool %q", k), Evidence: evidence(name, 0, len(name))})
		case len(sk) >= 5 && len(kk) >= 5 && within1(sk, kk):
			out = append(out, Finding{Kind: KindShadowing, Severity: SeverityMedium, Field: "name",
				Message: fmt.Sprintf("one edit away from the known tool %q", k), Evidence: evidence(name, 0, len(name))})
		}
		if len(out) >= DefaultMaxFindings {
			break
		}
	}
	return out
}

// skeleton folds a name for comparison: see Shadowing.
func skeleton(name string) string {
	if len(name) > 1024 {
		name = name[:1024]
	}
	f := fold(name).s
	var b strings.Builder
	for _, r := range f {
		switch r {
		case '_', '-', '.', ' ', '\n', '/':
			continue
		case '0':
			r = 'o'
		case '1', 'i', '|', '!':
			r = 'l'
		case '5':
			r = 's'
		}
		b.WriteRune(r)
	}
	s := b.String()
	s = strings.ReplaceAll(s, "rn", "m")
	s = strings.ReplaceAll(s, "vv", "w")
	return s
}

// within1 reports whether a and b are at most one edit (insertion,
// deletion or substitution of a byte) apart.
func within1(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(b)-len(a) > 1 {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	if len(a) == len(b) {
		return i == len(a) || a[i+1:] == b[i+1:]
	}
	return a[i:] == b[i+1:]
}
