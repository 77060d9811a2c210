package scan

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// folded is text prepared for matching: lower-cased, look-alikes mapped to
// ASCII, invisible characters and combining marks dropped, white space runs
// collapsed (to "\n" when the run held a line break, else to " "). off maps
// each byte of s to the byte offset in the original text it came from;
// off[len(s)] is the original length.
type folded struct {
	s   string
	off []int
}

// origin returns the offset in the original text of byte i of f.s.
func (f *folded) origin(i int) int {
	if i < 0 {
		return 0
	}
	if i >= len(f.off) {
		return f.off[len(f.off)-1]
	}
	return f.off[i]
}

func fold(text string) folded {
	var b strings.Builder
	b.Grow(len(text))
	off := make([]int, 0, len(text)+1)
	space := 0 // 0: none pending; ' ' or '\n': a pending white space run
	spaceAt := 0
	emit := func(r rune, at int) {
		if space != 0 {
			if b.Len() > 0 {
				b.WriteByte(byte(space))
				off = append(off, spaceAt)
			}
			space = 0
		}
		n := utf8.RuneLen(r)
		if n < 0 {
			r, n = utf8.RuneError, 3
		}
		b.WriteRune(r)
		for range n {
			off = append(off, at)
		}
	}
	for i, r := range text {
		switch {
		case isInvisible(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r):
			continue
		case unicode.IsSpace(r):
			if space == 0 {
				space, spaceAt = ' ', i
			}
			if r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029' || r == '\v' || r == '\f' {
				space = '\n'
			}
			continue
		}
		emit(foldRune(r), i)
	}
	off = append(off, len(text))
	return folded{s: b.String(), off: off}
}

// foldRune maps r to the lower-case ASCII letter or digit it imitates, or
// to its lower case.
func foldRune(r rune) rune {
	switch {
	case r < utf8.RuneSelf:
		return unicode.ToLower(r)
	case r >= 0xFF01 && r <= 0xFF5E: // fullwidth ASCII
		return unicode.ToLower(r - 0xFEE0)
	case r == 0x3000:
		return ' '
	case r >= 0x1D400 && r <= 0x1D6A3: // mathematical alphanumeric letters
		i := (r - 0x1D400) % 52
		if i < 26 {
			return 'a' + i
		}
		return 'a' + i - 26
	case r >= 0x1D7CE && r <= 0x1D7FF: // mathematical digits
		return '0' + (r-0x1D7CE)%10
	case r >= 0x24B6 && r <= 0x24CF: // circled capitals
		return 'a' + r - 0x24B6
	case r >= 0x24D0 && r <= 0x24E9: // circled small letters
		return 'a' + r - 0x24D0
	case r >= 0x1F130 && r <= 0x1F149: // squared capitals
		return 'a' + r - 0x1F130
	case r >= 0x1F150 && r <= 0x1F169: // negative circled capitals
		return 'a' + r - 0x1F150
	case r >= 0x1F170 && r <= 0x1F189: // negative squared capitals
		return 'a' + r - 0x1F170
	case r >= 0x1F1E6 && r <= 0x1F1FF: // regional indicators
		return 'a' + r - 0x1F1E6
	}
	if a, ok := lookalike[r]; ok {
		return a
	}
	return unicode.ToLower(r)
}

// lookalike maps letters of other scripts that render like a Latin letter
// to it. It holds the common Cyrillic, Greek and IPA homoglyphs, not every
// confusable Unicode knows.
var lookalike = map[rune]rune{
	// Cyrillic
	'а': 'a', 'А': 'a', 'в': 'b', 'В': 'b', 'с': 'c', 'С': 'c', 'ԁ': 'd', 'е': 'e', 'Е': 'e', 'ё': 'e',
	'һ': 'h', 'Н': 'h', 'і': 'i', 'І': 'i', 'ї': 'i', 'ј': 'j', 'Ј': 'j', 'к': 'k', 'К': 'k', 'ӏ': 'l',
	'м': 'm', 'М': 'm', 'о': 'o', 'О': 'o', 'р': 'p', 'Р': 'p', 'ԛ': 'q', 'ѕ': 's', 'Ѕ': 's', 'т': 't',
	'Т': 't', 'у': 'y', 'У': 'y', 'х': 'x', 'Х': 'x', 'ԝ': 'w', 'Ԝ': 'w', 'ү': 'y', 'ɡ': 'g', 'ո': 'n',
	// Greek
	'α': 'a', 'Α': 'a', 'Β': 'b', 'β': 'b', 'ε': 'e', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'ι': 'i', 'Ι': 'i',
	'Κ': 'k', 'κ': 'k', 'Μ': 'm', 'Ν': 'n', 'ν': 'v', 'ο': 'o', 'Ο': 'o', 'Ρ': 'p', 'ρ': 'p', 'Τ': 't',
	'τ': 't', 'υ': 'u', 'Υ': 'y', 'Χ': 'x', 'χ': 'x', 'ϲ': 'c', 'Ϲ': 'c', 'ϳ': 'j',
	// Latin extensions and IPA that read as plain letters
	'ı': 'i', 'ɩ': 'i', 'ɑ': 'a', 'ǀ': 'l', 'ℓ': 'l', 'ℯ': 'e', 'ℊ': 'g', 'ℎ': 'h', 'ℴ': 'o',
	'Ꭺ': 'a', 'Ᏼ': 'b', 'Ꮯ': 'c', 'Ꭼ': 'e', 'Ꮋ': 'h', 'Ꮃ': 'w', 'Ꭲ': 't',
}

// isLookalikeLetter reports whether r is a non-ASCII letter the folding
// maps to an ASCII letter.
func isLookalikeLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return false
	}
	f := foldRune(r)
	return f < utf8.RuneSelf && f >= 'a' && f <= 'z'
}

// isInvisible reports whether r renders as nothing: format characters
// (Unicode category Cf, which holds the zero-width, bidirectional and tag
// characters), variation selectors, and the few invisible characters
// outside Cf (U+115F, U+1160, U+3164, U+FFA0 Hangul fillers, U+180E).
func isInvisible(r rune) bool {
	switch {
	case r < 0x80:
		return false
	case unicode.Is(unicode.Cf, r):
		return true
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF: // variation selectors
		return true
	case r == 0x115F, r == 0x1160, r == 0x3164, r == 0xFFA0, r == 0x180E, r == 0x2800:
		return true
	}
	return false
}
