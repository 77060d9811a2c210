package scak

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// Family is a named group of patterns that each say one way of giving up
// ("no data found", "I cannot answer that"). A family is data: [Families]
// lists the built-in ones, and [WithFamilies] adds a caller's own.
//
// Phrases are matched on the normalised words of an answer (see the package
// documentation for the normalisation and the phrase grammar); Regexps, for
// what a phrase cannot say, are Go regular expressions matched on the
// normalised text, and cost more per answer than phrases.
type Family struct {
	// Name identifies the family; it becomes a Failure's Rule. Names are
	// 1 to 64 bytes of lower-case ASCII letters, digits and '-', unique in
	// a Detector.
	Name string
	// Confidence in (0, 1] is how sure a match of the family is a give-up;
	// a phrase may override it with a trailing "=0.6".
	Confidence float64
	// Phrases are phrase patterns (see the package documentation).
	Phrases []string
	// Regexps are Go regular expressions (RE2 syntax) over the normalised
	// text.
	Regexps []string
	// EmptyExplains says that a match claims the information is not there
	// ("no results found", "the figure is not available"), a claim that is
	// faithful when the tool results the answer was based on were empty or
	// the caller says an empty result is the right answer (see [Answer]).
	// Families that refuse, defer or hold a placeholder are give-ups
	// whatever the evidence.
	EmptyExplains bool
}

// Macros are word sets that phrases name with '@': "no @data found".
// They are fixed; a phrase naming an unknown macro is invalid.
var macros = map[string]string{
	// Things an agent looks for and may fail to find.
	"data": "data|dataset|datasets|result|results|record|records|information|info|match|matches|entry|entries|row|rows|" +
		"document|documents|hit|hits|item|items|detail|details|figure|figures|number|numbers|statistics|stats|" +
		"mention|mentions|source|sources|article|articles|reference|references|listing|listings|report|reports|" +
		"value|values|metrics|transactions|orders|logs|content|filings|citation|citations|documentation",
	// Verbs of looking.
	"find": "find|locate|retrieve|identify|obtain|access|determine|discover|pull|fetch|get|gather|confirm|verify",
	// Forms of "to be".
	"be": "is|are|was|were|be|been",
	// Verbs of giving an answer.
	"tell": "answer|determine|provide|give|say|tell|confirm|verify|offer|share|report|state|specify|calculate|estimate|assess|predict",
	// First-person subjects.
	"i": "i|we",
}

// builtinFamilies are the families of a Detector unless
// [WithoutBuiltinFamilies] is given. The empty family is matched by code,
// not phrases: an answer with no words at all.
var builtinFamilies = []Family{
	{
		Name: FamilyEmpty, Confidence: 1,
	},
	{
		Name: "no-data", Confidence: 0.9, EmptyExplains: true,
		Phrases: []string{
			"no @data [@be] [been] found|returned|available|located|retrieved|exist|exists|came|matched|matching|match|recorded|listed|reported",
			"no @data [@be] [been] currently|presently available",
			"no relevant|matching|applicable|useful|specific|such|usable|reliable|additional|further|public|published @data",
			"< no @data >",
			"no @data >",
			"< no @data for|on|about|regarding|matching|under|in|with|from =0.8",
			"nothing [@be] found|returned|matched|came|turned|showed",
			"found|returned|yielded|produced|retrieved|shows|showed|show nothing",
			"returned|yielded|produced|retrieved|gave|brought|has|had zero|no|0 @data",
			"zero|0 @data [@be] found|returned|matched|matching|available",
			"there [@be] no [search|relevant|matching|such|useful] @data|record|mention|trace",
			"there [@be] nothing [relevant|useful|available|matching] about|on|for|regarding|related|in|matching|that",
			"^ none $ =0.6",
			"< none found|available|returned|located|exist|exists >",
			"none of the|these|those|my|our|its|your ~2 contain|contains|have|has|mention|mentions|include|includes|cover|covers|provide|provides|returned|mentioned|had",
			"^ nothing [found] $",
			"^ not found $",
			"not found > =0.75",
			"came|comes|come|coming|turned|turn|turning up empty|short|dry|nothing",
			"came|come|comes back empty",
			"came|come|comes back with nothing|zilch|nada",
			"found|returned|got zilch|nada",
			"drew|drawn|draw a blank",
			"search|searches|query|queries|lookup ~3 empty|nothing",
			"could|can|did not find|locate|retrieve|identify|obtain ~4 @data|anything|mention|trace|record",
			"@be not able to find|locate|retrieve|identify|obtain|access",
			"unable to find|locate|retrieve|identify|obtain|access|pull|fetch",
			"failed|fail to find|locate|retrieve|obtain|identify",
			"could not find|locate|retrieve|identify|obtain =0.85",
			"could|did not find any >",
			"found none",
			"can|could not be found|located|retrieved|identified|obtained =0.85",
			"does|do|did not have anything|any|much on|about|regarding|for =0.8",
			"not in any of the|my|these|those =0.75",
			"did|does not return|yield|produce|surface|bring ~2 @data|anything",
			"did|does not turn up ~2 @data|anything",
			"no luck finding|locating|retrieving|with",
			"does|do|did not appear to exist",
			"does|do|did not appear to be available|recorded|listed|present",
		},
	},
	{
		Name: "not-available", Confidence: 0.85, EmptyExplains: true,
		Phrases: []string{
			"@data|figure|figures|number|numbers|breakdown|value|metric|statistic|statistics|data|information [@be] not available|accessible|present|included|provided|recorded|reported|published|disclosed|listed|specified|known|public|given",
			"@data|figure|figures|number|breakdown|value|metric|statistic [@be] unavailable|missing|absent|unknown|undisclosed",
			"@data ~4 @be missing|unavailable|absent > =0.8",
			"< not available|unavailable >",
			"@be not [currently|publicly|yet] available|accessible > =0.8",
			"not [publicly|currently|readily] available in|from|within|to|at|for|anywhere =0.75",
			"not currently|presently available",
			"unavailable at this time|moment",
			"not available at this|the time|moment|point",
			"does|do|did not contain|include|mention|specify|list|provide|show|have|cover|report|state ~3 @data|anything|figures =0.6",
			"does|do|did not mention|specify|cover|address|discuss =0.6",
			"no such @data|record|file|entry|information|thing|figure|object|key|user|page|resource|account|customer",
			"no mention of",
			"no record|records|trace of",
			"not publicly disclosed|available|reported|released",
			"has|have not been published|released|disclosed|reported",
			"has|have not been made public|available",
		},
	},
	{
		Name: "insufficient-info", Confidence: 0.9, EmptyExplains: true,
		Phrases: []string{
			"insufficient|inadequate|incomplete @data|context|evidence|detail|details|information",
			"not enough @data|context|evidence|detail|details|information",
			"not enough to go on",
			"lack|lacks|lacking|lacked [the|any] [sufficient|enough|necessary|required|relevant|needed] @data|context|details|information",
			"do|does|did not have [any|the|enough|sufficient|adequate] [necessary|required|relevant|sufficient|enough] @data|context|details|information",
			"do|does|did not have enough|sufficient|adequate [@data|context|details|information]",
			"without more|additional|further|sufficient|enough|the|any @data|context|details|information =0.7",
			"need|needs|require|requires|would need more|additional|further @data|context|details|information =0.75",
			"too little @data|information|context|detail",
			"@data [@be] insufficient|inconclusive",
			"@data [@be] incomplete|sparse >",
			"not contain|include|have|provide|give sufficient|enough|adequate",
			"not possible to determine|answer|say|tell|know|conclude|calculate|assess|confirm|verify",
			"impossible to determine|answer|say|tell|know|conclude|calculate|assess|confirm|verify",
			"no way to determine|know|tell|answer|verify|confirm|calculate",
			"can not be determined|answered|verified|confirmed|calculated|established|concluded|assessed",
			"unable to determine|answer|say|tell|conclude|calculate|assess|confirm|verify|establish",
			"hard|difficult to say|tell|determine =0.7",
		},
	},
	{
		Name: "cannot-answer", Confidence: 0.9, EmptyExplains: true,
		Phrases: []string{
			"@i can|could|will not [be] [able] [to] @tell|help|assist|respond|comment|advise|know",
			"@i am|are not able to @tell|help|assist|respond|comment|advise",
			"@i am|are unable to @tell|help|assist|respond|comment|advise|complete|fulfill|fulfil",
			"@i do|did not know",
			"@i do|did not [seem] [to] have ~2 answer|answers|@data|access|visibility|knowledge",
			"@i have no [@data|knowledge|way|access|answer|idea]",
			"no idea|clue",
			"dunno",
			"< can not say|tell >",
			"@i can|could not access|open|read|reach =0.8",
			"outside|beyond what @i can|am",
			"not able to come up with",
			"unable to come up with",
			"@i am|are not sure =0.6",
			"@i am|are not certain =0.6",
			"beyond|outside [of] my|our knowledge|ability|abilities|capabilities",
			"not able to answer|help|assist|provide|determine",
			"< can not answer",
			"can not provide|give [an|any|a] answer",
			"no answer|answers [@be] [available|possible|found]",
			"@i could|can not come up with",
			"@i could not complete|finish|fulfill|fulfil",
		},
	},
	{
		Name: "refusal", Confidence: 0.9,
		Phrases: []string{
			"as an ai|assistant|llm",
			"as a [large] language model",
			"@i am|are [just|only] an ai",
			"@i am|are [just|only] a [large] language model|bot",
			"@i am|are not [able|allowed|permitted|authorized|authorised] to [provide|share|help|assist|disclose|discuss|access|browse|do]",
			"@i must|will [respectfully] decline|refuse",
			"@i have|need to [respectfully] decline|refuse",
			"@i can|will not comply",
			"outside|beyond [of] [the] [my|this|our] scope",
			"out of scope",
			"not within my|our|the scope|remit|capabilities|mandate",
			"not in a position to",
			"against my|our|the guidelines|policy|policies|rules",
			"@i do|does not have access to ~2 real|internet|web|live|external|current|your|browsing",
			"@i can|do not browse|access ~1 internet|web|external|real|live",
			"not something @i can|am|are",
			"not able to help|assist|comply",
			"@i am|are not allowed|permitted|authorized|authorised",
		},
	},
	{
		Name: "deferral", Confidence: 0.85,
		Phrases: []string{
			"try again later|shortly|soon|tomorrow|in|after|at",
			"please|kindly try again",
			"try again =0.6",
			"check back later|soon|tomorrow|in",
			"come back later|soon|tomorrow",
			"get back to you",
			"follow up later|shortly|soon|tomorrow|with you",
			"temporarily unavailable|down|out",
			"currently unavailable",
			"service unavailable",
			"please|kindly contact|consult|reach|ask|refer ~4 support|administrator|admin|team|expert|professional|department|provider|vendor|office|desk|helpdesk|specialist|advisor|adviser|manager",
			"you may|might|should|could [want|need|wish] [to] consult|contact|check|visit|refer|reach ~5 official|website|site|source|documentation|docs|directly|provider|vendor|support|team|expert|professional|department|portal",
			"recommend|suggest|advise|consider checking|consulting|contacting|visiting|referring ~4 official|website|site|source|documentation|directly|provider|vendor|support|expert|professional|portal =0.7",
			"please consult|check|visit|refer|see ~4 official|website|site|documentation|directly|source|portal =0.7",
			"please provide|share|clarify|specify|supply =0.6",
			"could you please|kindly provide|share|clarify|specify|supply =0.6",
		},
	},
	{
		Name: "placeholder", Confidence: 0.95,
		Phrases: []string{
			"^ n/a $",
			"^ na $",
			"^ tbd $",
			"^ tba $",
			"^ todo $",
			"^ null $",
			"^ nil $",
			"^ undefined $",
			"^ unknown $ =0.8",
			"^ not applicable $",
			"^ no answer $",
			"^ to be determined $",
			"^ placeholder $",
			"lorem ipsum dolor",
			"< unknown|n/a|tbd > =0.75",
			"insert|your answer|response|text here",
			"answer|response|text goes here",
			"^ error $ =0.8",
		},
	},
}

// FamilyEmpty is the name of the built-in family that matches an answer
// with no words in it: empty, blank, or only punctuation ("...", "[]").
const FamilyEmpty = "empty"

// Families returns the built-in families, in the order they are tried.
// The result is a copy.
func Families() []Family {
	out := make([]Family, len(builtinFamilies))
	for i, f := range builtinFamilies {
		out[i] = f
		out[i].Phrases = append([]string(nil), f.Phrases...)
	}
	return out
}

// Bounds on families.
const (
	maxFamilies       = 64
	maxPhrases        = 256 // per family
	maxPhraseElements = 16
	maxGap            = 8
	maxRegexpLen      = 1024
)

// token is one word of the normalised text.
type token struct {
	h          uint64 // FNV-1a of the word's bytes
	start, end int32  // its bytes in the normalised text
	sent       int32  // the sentence it is in, counted from 0
	quoted     bool   // it is inside a short double-quoted span
}

// scratch is the reusable state of one normalisation: the normalised text
// and its words.
type scratch struct {
	norm []byte
	toks []token
	// sent is the current sentence; pendSpace says whitespace was seen
	// since the last byte written; quoteAt and squoteAt are the first
	// token after an opening double or single quote, -1 outside quotes.
	sent      int32
	pendSpace bool
	quoteAt   int
	squoteAt  int
}

func (sc *scratch) reset() {
	sc.norm = sc.norm[:0]
	sc.toks = sc.toks[:0]
	sc.sent = 0
	sc.pendSpace = false
	sc.quoteAt, sc.squoteAt = -1, -1
}

// word returns the bytes of token t.
func (sc *scratch) word(t token) []byte { return sc.norm[t.start:t.end] }

// Character classes of ASCII bytes for the normaliser.
const (
	cPunct   = iota // written as is
	cWord           // a letter or digit (upper case is lowered)
	cSpace          // collapsed
	cNewline        // a sentence boundary that also ends quotes
	cStop           // . ! ? ; : — a sentence boundary
	cApos           // ' — in a word when between word characters
	cQuote          // " — opens or closes a quoted span
	cSlash          // / — in a word when between word characters (n/a)
	// Classes given by context: a ' before a word that does not follow
	// one opens a single-quoted span; one after a word closes it.
	cSQuoteOpen
	cSQuoteClose
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range utf8.RuneSelf {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			t[c] = cWord
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			t[c] = cSpace
		case c == '\n':
			t[c] = cNewline
		case c == '.' || c == '!' || c == '?' || c == ';' || c == ':':
			t[c] = cStop
		case c == '\'' || c == '`':
			t[c] = cApos
		case c == '"':
			t[c] = cQuote
		case c == '/':
			t[c] = cSlash
		case c < 0x20 || c == 0x7f:
			t[c] = cSpace
		default:
			t[c] = cPunct
		}
	}
	return t
}()

// classOf returns the class of the rune at s[i:] and its size, folding the
// typographic quotes, dashes and spaces that models write onto their ASCII
// classes.
func classOf(s string, i int) (class uint8, r rune, size int) {
	if c := s[i]; c < utf8.RuneSelf {
		if c == '`' {
			return cApos, '\'', 1
		}
		return asciiClass[c], rune(c), 1
	}
	r, size = utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && size == 1:
		return cSpace, r, size
	case r == '\u2018' || r == '\u2019' || r == '\u201b' || r == '\u2032' || r == '\u02bc':
		return cApos, '\'', size
	case r == '\u201c' || r == '\u201d' || r == '\u201e' || r == '\u2033' || r == '\u00ab' || r == '\u00bb':
		return cQuote, '"', size
	case r == '\u2028' || r == '\u2029' || r == '\u0085':
		return cNewline, r, size
	case r == '\u2026' || r == '\u3002' || r == '\uff01' || r == '\uff1f':
		return cStop, '.', size
	case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
		return cWord, unicode.ToLower(r), size
	case unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff':
		return cSpace, r, size
	}
	return cPunct, r, size
}

// wordAt reports whether s[i:] starts with a word character.
func wordAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	c, _, _ := classOf(s, i)
	return c == cWord
}

// normalize appends the normalised form of s to sc: lower case, typographic
// quotes and apostrophes folded to ASCII, runs of whitespace collapsed to
// one space, contractions expanded ("can't" → "can not", "I'm" → "i am"),
// and the words recorded with their sentence and quoting. It allocates only
// when sc's buffers must grow.
func (sc *scratch) normalize(s string) {
	sc.norm = slices.Grow(sc.norm, len(s)+len(s)/2+8)
	inWord := false
	apos := false // the current word has an apostrophe: a contraction?
	ws := 0       // start of the current word in sc.norm
	for i := 0; i < len(s); {
		class, r, size := classOf(s, i)
		switch class {
		case cApos, cSlash:
			next := wordAt(s, i+size)
			if inWord && next {
				sc.norm = append(sc.norm, byte(r))
				apos = apos || r == '\''
				i += size
				continue
			}
			switch {
			case class == cSlash:
				class = cPunct
			case next:
				class = cSQuoteOpen
			case inWord:
				class = cSQuoteClose
			default:
				class = cPunct
			}
		case cWord:
			if !inWord {
				sc.space()
				inWord = true
				apos = false
				ws = len(sc.norm)
			}
			if size > 1 {
				// Not ASCII (though its lower case may be: İ, K).
				sc.norm = utf8.AppendRune(sc.norm, r)
				i += size
				continue
			}
			// The run of ASCII word bytes from i, lowered, and the words
			// after it that are separated by one space: most of the text,
			// without a call per byte.
			norm := sc.norm
			for i < len(s) {
				c := s[i]
				if c >= utf8.RuneSelf || asciiClass[c] != cWord {
					if c != ' ' || i+1 == len(s) || s[i+1] >= utf8.RuneSelf || asciiClass[s[i+1]] != cWord || apos {
						break
					}
					// One space, then another ASCII word.
					sc.norm = norm
					sc.endWord(ws, false)
					norm = append(sc.norm, ' ')
					ws = len(norm)
					i++
					continue
				}
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				norm = append(norm, c)
				i++
			}
			sc.norm = norm
			continue
		case cStop:
			// A full stop between digits (3.5) or letters (e.g) is part
			// of the word.
			if r == '.' && inWord && wordAt(s, i+size) {
				sc.norm = append(sc.norm, '.')
				i += size
				continue
			}
		}
		if inWord {
			sc.endWord(ws, apos)
			inWord = false
		}
		switch class {
		case cSpace:
			sc.pendSpace = true
		case cNewline:
			sc.pendSpace = true
			sc.sent++
			sc.quoteAt, sc.squoteAt = -1, -1
		case cStop:
			sc.pendSpace = false
			sc.norm = utf8.AppendRune(sc.norm, r)
			sc.sent++
		case cQuote:
			sc.space()
			sc.norm = append(sc.norm, '"')
			sc.quoteAt = sc.quote(sc.quoteAt)
		case cSQuoteOpen:
			sc.space()
			sc.norm = append(sc.norm, '\'')
			if sc.squoteAt < 0 {
				sc.squoteAt = len(sc.toks)
			}
		case cSQuoteClose:
			sc.norm = append(sc.norm, '\'')
			if sc.squoteAt >= 0 {
				sc.squoteAt = sc.quote(sc.squoteAt)
			}
		default:
			sc.space()
			sc.norm = utf8.AppendRune(sc.norm, r)
		}
		i += size
	}
	if inWord {
		sc.endWord(ws, apos)
	}
}

// space writes the pending space, if any, before the next byte.
func (sc *scratch) space() {
	if sc.pendSpace && len(sc.norm) > 0 {
		sc.norm = append(sc.norm, ' ')
	}
	sc.pendSpace = false
}

// maxQuoted is the most words a double-quoted span may hold and still be
// taken as a quotation (a mention, not a claim).
const maxQuoted = 16

// quote opens a quoted span (at < 0) or closes the one opened before
// token at, and returns the new start: len(sc.toks) for an opened span, -1
// for a closed one.
func (sc *scratch) quote(at int) int {
	if at < 0 {
		return len(sc.toks)
	}
	if n := len(sc.toks) - at; n > 0 && n <= maxQuoted {
		for i := at; i < len(sc.toks); i++ {
			sc.toks[i].quoted = true
		}
	}
	return -1
}

// Contractions expanded by the normaliser. A suffix "n't" not listed in
// notWhole becomes " not" after the stem.
var (
	notWhole = map[string]string{"can't": "can not", "won't": "will not", "shan't": "shall not", "ain't": "is not", "cannot": "can not"}
	suffixes = []struct{ suf, with string }{
		{"'m", " am"}, {"'re", " are"}, {"'ve", " have"}, {"'ll", " will"}, {"'d", " would"},
	}
	isSubjects = map[string]bool{"it": true, "there": true, "that": true, "what": true, "here": true, "he": true, "she": true, "who": true, "where": true, "how": true, "this": true}
)

// endWord records the word sc.norm[ws:], expanding a contraction (apos:
// the word has an apostrophe) into its words.
func (sc *scratch) endWord(ws int, apos bool) {
	w := sc.norm[ws:]
	if len(w) >= 3 && (apos || string(w) == "cannot") {
		if with, ok := notWhole[string(w)]; ok {
			sc.norm = append(sc.norm[:ws], with...)
			sc.emitWords(ws)
			return
		}
		if bytes.HasSuffix(w, []byte("n't")) && len(w) > 3 {
			sc.norm = append(sc.norm[:len(sc.norm)-3], " not"...)
			sc.emitWords(ws)
			return
		}
		for _, x := range suffixes {
			if bytes.HasSuffix(w, []byte(x.suf)) && len(w) > len(x.suf) {
				sc.norm = append(sc.norm[:len(sc.norm)-len(x.suf)], x.with...)
				sc.emitWords(ws)
				return
			}
		}
		if bytes.HasSuffix(w, []byte("'s")) && isSubjects[string(w[:len(w)-2])] {
			sc.norm = append(sc.norm[:len(sc.norm)-2], " is"...)
			sc.emitWords(ws)
			return
		}
	}
	sc.emit(ws, len(sc.norm))
}

// emitWords records the space-separated words of sc.norm[ws:].
func (sc *scratch) emitWords(ws int) {
	start := ws
	for i := ws; i < len(sc.norm); i++ {
		if sc.norm[i] == ' ' {
			sc.emit(start, i)
			start = i + 1
		}
	}
	sc.emit(start, len(sc.norm))
}

func (sc *scratch) emit(start, end int) {
	if start >= end {
		return
	}
	sc.toks = append(sc.toks, token{h: hashBytes(sc.norm[start:end]), start: int32(start), end: int32(end), sent: sc.sent})
}

// FNV-1a, 64 bits: the call digests of loop detection.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashBytes and hashString hash a word, eight bytes per multiply: FNV's
// multiply per byte made hashing the words of an answer a third of the
// normaliser's time. The low bits, which the bloom filters use, are mixed
// from every input bit.
func hashBytes(b []byte) uint64 { return hashWord(b) }

func hashString(s string) uint64 { return hashWord(s) }

func hashWord[T string | []byte](b T) uint64 {
	const k1, k2 = 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9
	h := uint64(len(b)) * k1
	for len(b) >= 8 {
		x := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		h = (h ^ x) * k2
		h ^= h >> 31
		b = b[8:]
	}
	var x uint64
	for i := range len(b) {
		x |= uint64(b[i]) << (8 * i)
	}
	h = (h ^ x) * k1
	h ^= h >> 32
	h *= k2
	h ^= h >> 29
	return h
}

// element is one position of a compiled phrase.
type element struct {
	// bloom has bit h%256 set for the hash h of every alternative word:
	// most words of an answer are rejected by one test.
	bloom    [4]uint64
	words    []uint64 // hashes of the alternative words
	prefixes []string // alternatives written "word*"
	optional bool
	gap      int // > 0: a gap of 0 to gap words; words and prefixes are empty
}

func (e *element) matches(sc *scratch, t token) bool {
	if len(e.prefixes) == 0 && e.bloom[t.h>>6&3]&(1<<(t.h&63)) == 0 {
		return false
	}
	if len(e.words) > 8 {
		if _, ok := slices.BinarySearch(e.words, t.h); ok {
			return true
		}
	} else {
		for _, h := range e.words {
			if h == t.h {
				return true
			}
		}
	}
	for _, p := range e.prefixes {
		if bytes.HasPrefix(sc.word(t), []byte(p)) {
			return true
		}
	}
	return false
}

// phrase is a compiled phrase pattern.
type phrase struct {
	fam        int // index of its family in the detector
	src        string
	conf       float64
	elems      []element
	textStart  bool // ^
	textEnd    bool // $
	sentStart  bool // <
	sentEnd    bool // >
	firstWords []uint64
}

// compilePhrase parses one phrase pattern. Errors wrap agentos.ErrInvalid.
func compilePhrase(src string, fam int, conf float64) (*phrase, error) {
	p := &phrase{fam: fam, src: src, conf: conf}
	fields := strings.Fields(src)
	if n := len(fields); n > 0 && strings.HasPrefix(fields[n-1], "=") {
		c, err := strconv.ParseFloat(fields[n-1][1:], 64)
		if err != nil || !(c > 0 && c <= 1) {
			return nil, fmt.Errorf("%w: phrase %q: confidence %q is not a number in (0, 1]", agentos.ErrInvalid, src, fields[n-1])
		}
		p.conf = c
		fields = fields[:n-1]
	}
	if len(fields) > 0 && (fields[0] == "^" || fields[0] == "<") {
		p.textStart, p.sentStart = fields[0] == "^", fields[0] == "<"
		fields = fields[1:]
	}
	if n := len(fields); n > 0 && (fields[n-1] == "$" || fields[n-1] == ">") {
		p.textEnd, p.sentEnd = fields[n-1] == "$", fields[n-1] == ">"
		fields = fields[:n-1]
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: phrase %q has no words", agentos.ErrInvalid, src)
	}
	if len(fields) > maxPhraseElements {
		return nil, fmt.Errorf("%w: phrase %q has more than %d elements", agentos.ErrInvalid, src, maxPhraseElements)
	}
	for i, f := range fields {
		var e element
		switch {
		case strings.HasPrefix(f, "~"):
			n, err := strconv.Atoi(f[1:])
			if err != nil || n < 1 || n > maxGap {
				return nil, fmt.Errorf("%w: phrase %q: gap %q is not ~1 to ~%d", agentos.ErrInvalid, src, f, maxGap)
			}
			if i == 0 || i == len(fields)-1 {
				return nil, fmt.Errorf("%w: phrase %q: a gap cannot begin or end a phrase", agentos.ErrInvalid, src)
			}
			e.gap = n
			p.elems = append(p.elems, e)
			continue
		case strings.HasPrefix(f, "[") && strings.HasSuffix(f, "]") && len(f) > 2:
			if i == 0 {
				return nil, fmt.Errorf("%w: phrase %q: an optional element cannot begin a phrase", agentos.ErrInvalid, src)
			}
			e.optional = true
			f = f[1 : len(f)-1]
		}
		if err := e.parseAlternatives(f, i == 0); err != nil {
			return nil, fmt.Errorf("%w: phrase %q: %w", agentos.ErrInvalid, src, err)
		}
		for _, h := range e.words {
			e.bloom[h>>6&3] |= 1 << (h & 63)
		}
		slices.Sort(e.words)
		e.words = slices.Compact(e.words)
		p.elems = append(p.elems, e)
	}
	p.firstWords = p.elems[0].words
	return p, nil
}

// parseAlternatives fills e from "a|b|@macro|pre*".
func (e *element) parseAlternatives(f string, first bool) error {
	for alt := range strings.SplitSeq(f, "|") {
		switch {
		case strings.HasPrefix(alt, "@"):
			m, ok := macros[alt[1:]]
			if !ok {
				return fmt.Errorf("unknown macro %q", alt)
			}
			for w := range strings.SplitSeq(m, "|") {
				e.words = append(e.words, hashString(w))
			}
		case strings.HasSuffix(alt, "*"):
			if first {
				return fmt.Errorf("a prefix %q cannot begin a phrase", alt)
			}
			pre := alt[:len(alt)-1]
			if err := checkWord(pre); err != nil {
				return err
			}
			e.prefixes = append(e.prefixes, pre)
		default:
			if err := checkWord(alt); err != nil {
				return err
			}
			e.words = append(e.words, hashString(alt))
		}
	}
	return nil
}

// checkWord accepts w when the normaliser turns it into exactly itself, one
// word: lower case, no contraction, no punctuation.
func checkWord(w string) error {
	if w == "" {
		return fmt.Errorf("empty word")
	}
	var sc scratch
	sc.reset()
	sc.normalize(w)
	if len(sc.toks) != 1 || string(sc.norm) != w {
		return fmt.Errorf("word %q is not one normalised word (write it lower case, contractions expanded: %q)", w, sc.norm)
	}
	return nil
}

// matchFrom matches the elements from e on at token t, all in sentence
// sent, and returns the index after the last token matched, or -1.
func (p *phrase) matchFrom(sc *scratch, e, t int, sent int32) int {
	toks := sc.toks
	if e == len(p.elems) {
		if p.textEnd && t != len(toks) {
			return -1
		}
		if p.sentEnd && t < len(toks) && toks[t].sent == sent {
			return -1
		}
		return t
	}
	el := &p.elems[e]
	if el.gap > 0 {
		for k := 0; k <= el.gap && t+k <= len(toks); k++ {
			if k > 0 && toks[t+k-1].sent != sent {
				break
			}
			if r := p.matchFrom(sc, e+1, t+k, sent); r >= 0 {
				return r
			}
		}
		return -1
	}
	if t < len(toks) && toks[t].sent == sent && el.matches(sc, toks[t]) {
		if r := p.matchFrom(sc, e+1, t+1, sent); r >= 0 {
			return r
		}
	}
	if el.optional {
		return p.matchFrom(sc, e+1, t, sent)
	}
	return -1
}

// matchAt matches p with its first word at token i, honouring the anchors,
// and returns the end of the match or -1. toks[i] must be one of p's first
// words, as the phrase index guarantees.
func (p *phrase) matchAt(sc *scratch, i int) int {
	toks := sc.toks
	if p.textStart && i != 0 {
		return -1
	}
	if p.sentStart && i > 0 && toks[i-1].sent == toks[i].sent {
		return -1
	}
	// The first element is a plain required word that toks[i] matches:
	// the index found p by it.
	return p.matchFrom(sc, 1, i+1, toks[i].sent)
}

// phraseIndex finds the phrases whose first word is a given word: an
// open-addressed table from word hash to a run of phrase indices, so that
// the words of an answer that begin no phrase (most of them) cost one
// probe each.
type phraseIndex struct {
	slots []indexSlot
	ids   []int32
	mask  uint64
}

type indexSlot struct {
	h        uint64
	from, to int32
	// next is a bloom filter of the words that can follow: the union,
	// over the run's phrases, of the words their second element can
	// match (through optional elements to the first required one; all
	// bits when a phrase may end after its first word, or a gap or a
	// prefix comes first). A word not in it rules the whole run out with
	// one test.
	next nextBloom
}

// nextBloom is a 1024-bit bloom filter of word hashes, with two bits per
// word (bits 0-9 and 10-19 of the hash): about 4% false positives for the
// hundred-odd words that may follow a common first word.
type nextBloom [16]uint64

func (b *nextBloom) add(h uint64) {
	b[h>>6&15] |= 1 << (h & 63)
	b[h>>16&15] |= 1 << (h >> 10 & 63)
}

func (b *nextBloom) has(h uint64) bool {
	return b[h>>6&15]&(1<<(h&63)) != 0 && b[h>>16&15]&(1<<(h>>10&63)) != 0
}

// secondWords returns the bloom filter of the words that may follow p's
// first word (see indexSlot.next), and false when any word may.
func secondWords(p *phrase) (nextBloom, bool) {
	var acc nextBloom
	for _, e := range p.elems[1:] {
		if e.gap > 0 || len(e.prefixes) > 0 {
			return acc, false
		}
		for _, h := range e.words {
			acc.add(h)
		}
		if !e.optional {
			return acc, true
		}
	}
	return acc, false // the phrase may end after its first word
}

func newPhraseIndex(ps []*phrase) phraseIndex {
	byWord := map[uint64][]int32{}
	var order []uint64
	for i, p := range ps {
		for _, h := range p.firstWords {
			if _, ok := byWord[h]; !ok {
				order = append(order, h)
			}
			if l := byWord[h]; len(l) == 0 || l[len(l)-1] != int32(i) {
				byWord[h] = append(l, int32(i))
			}
		}
	}
	size := 16
	for size < 4*len(order) {
		size *= 2
	}
	ix := phraseIndex{slots: make([]indexSlot, size), mask: uint64(size - 1)}
	for _, h := range order {
		from := int32(len(ix.ids))
		ix.ids = append(ix.ids, byWord[h]...)
		j := h & ix.mask
		for ix.slots[j].to != 0 {
			j = (j + 1) & ix.mask
		}
		slot := indexSlot{h: h, from: from, to: int32(len(ix.ids))}
		for _, id := range byWord[h] {
			nb, ok := secondWords(ps[id])
			if !ok {
				for k := range slot.next {
					slot.next[k] = ^uint64(0)
				}
				break
			}
			for k := range slot.next {
				slot.next[k] |= nb[k]
			}
		}
		ix.slots[j] = slot
	}
	return ix
}

// lookup returns the indices of the phrases that begin with the word of
// hash h.
func (ix *phraseIndex) lookup(h uint64) []int32 {
	ids, _ := ix.lookupNext(h, 0, false)
	return ids
}

// lookupNext is lookup for a word followed by the word of hash next (when
// hasNext): nil when no phrase that begins with h can go on with next.
func (ix *phraseIndex) lookupNext(h, next uint64, hasNext bool) ([]int32, bool) {
	for j := h & ix.mask; ; j = (j + 1) & ix.mask {
		s := &ix.slots[j]
		if s.to == 0 {
			return nil, false
		}
		if s.h == h {
			if hasNext && !s.next.has(next) {
				return nil, false
			}
			return ix.ids[s.from:s.to], true
		}
	}
}

// Words before a match that make it a condition, not a claim: "if no
// results are found, widen the range". The when-words count only right
// before the match ("when no match is found"), for "when I searched, no
// results came back" is a claim.
var (
	conditionWords = [...]uint64{hashString("if"), hashString("unless"), hashString("whether")}
	whenWords      = [...]uint64{hashString("when"), hashString("whenever"), hashString("once"), hashString("until")}
)

// lookBack is how many words before a match are searched for a condition.
const lookBack = 5

// conditional reports whether the match starting at token i is inside a
// condition.
func conditional(sc *scratch, i int) bool {
	sent := sc.toks[i].sent
	if i > 0 && sc.toks[i-1].sent == sent {
		for _, h := range whenWords {
			if sc.toks[i-1].h == h {
				return true
			}
		}
	}
	for k := i - 1; k >= 0 && k >= i-lookBack && sc.toks[k].sent == sent; k-- {
		for _, h := range conditionWords {
			if sc.toks[k].h == h {
				return true
			}
		}
	}
	return false
}

// compiledFamily is a family ready to match.
type compiledFamily struct {
	Family
	regexps []*regexp.Regexp
}

// compileFamily validates f and compiles its phrases into ps. Errors wrap
// agentos.ErrInvalid.
func compileFamily(f Family, idx int) (compiledFamily, []*phrase, error) {
	cf := compiledFamily{Family: f}
	if err := checkFamilyName(f.Name); err != nil {
		return cf, nil, err
	}
	if !(f.Confidence > 0 && f.Confidence <= 1) || math.IsNaN(f.Confidence) {
		return cf, nil, fmt.Errorf("%w: family %q: confidence %v is not in (0, 1]", agentos.ErrInvalid, f.Name, f.Confidence)
	}
	if len(f.Phrases)+len(f.Regexps) == 0 && f.Name != FamilyEmpty {
		return cf, nil, fmt.Errorf("%w: family %q has no phrases and no regexps", agentos.ErrInvalid, f.Name)
	}
	if len(f.Phrases) > maxPhrases || len(f.Regexps) > maxPhrases {
		return cf, nil, fmt.Errorf("%w: family %q has more than %d phrases or regexps", agentos.ErrInvalid, f.Name, maxPhrases)
	}
	var ps []*phrase
	for _, src := range f.Phrases {
		p, err := compilePhrase(src, idx, f.Confidence)
		if err != nil {
			return cf, nil, fmt.Errorf("family %q: %w", f.Name, err)
		}
		ps = append(ps, p)
	}
	for _, src := range f.Regexps {
		if len(src) > maxRegexpLen {
			return cf, nil, fmt.Errorf("%w: family %q: regexp longer than %d bytes", agentos.ErrInvalid, f.Name, maxRegexpLen)
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return cf, nil, fmt.Errorf("%w: family %q: %w", agentos.ErrInvalid, f.Name, err)
		}
		cf.regexps = append(cf.regexps, re)
	}
	cf.Phrases = append([]string(nil), f.Phrases...)
	cf.Regexps = append([]string(nil), f.Regexps...)
	return cf, ps, nil
}

func checkFamilyName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: family name %q is not 1 to 64 bytes", agentos.ErrInvalid, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w: family name %q: only a-z, 0-9 and '-' are allowed", agentos.ErrInvalid, name)
		}
	}
	return nil
}
