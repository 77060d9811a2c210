package cmvk

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SameClaim is the least overlap of content words (see [Contradiction])
// at which two texts count as making the same claim, so that an odd number
// of polarity flips between them is a contradiction. On the tune half of
// the labelled pairs (cmvk/testdata/driftpairs.jsonl) every contradiction
// overlapped fully and no agreeing pair had an odd number of flips; half
// leaves room for a contradiction reworded in part while keeping two
// answers about different things apart.
const SameClaim = 0.5

// Polarity is what [Contradiction] found in two texts.
type Polarity struct {
	// Contradicts: the texts give opposite answers to the same question.
	Contradicts bool
	// Verdicts: both texts open with a verdict word ("Yes," / "No.",
	// "True:" / "False:", "Approve" / "Reject", "Buy" / "Sell") and the
	// two are opposite. Such a pair contradicts whatever follows.
	Verdicts bool
	// Overlap is the Jaccard index of the two texts' content words, an
	// antonym on one side counted as the word it opposes on the other.
	Overlap float64
	// Flips counts the polarity changes between the texts: 1 when their
	// numbers of negations differ in parity, plus one per antonym pair
	// substituted (open/closed, approved/rejected, profit/loss, safe/unsafe
	// and other un-, in-, im-, il-, ir-, dis- and non- pairs).
	Flips int
}

// Contradiction is a lightweight check for two answers that say opposite
// things in nearly the same words, which an embedding or a lexical ratio
// scores as close. The texts are lower-cased and split into words; a
// verdict word that opens a text and is followed by punctuation is its
// verdict; the rest is its claim. A claim's negations are not, no, never,
// none, nobody, nothing, neither, nor, without, cannot, every "n't", the
// verbs of failing or refusing (fail, unable, refuse, avoid, lack), and
// "rather than" and "instead of"; its content words are the other words
// that are not stop words or digits, crudely stemmed ("opened" → "open").
//
// Two texts contradict when their verdicts are opposite, or when their
// content words overlap by at least [SameClaim] and the polarity flips
// between them are odd: "The account is active" / "The account is not
// active" (one negation), "The bridge is open" / "The bridge is closed"
// (one antonym), while "The office is closed on holidays" / "On holidays
// the office does not open" flip twice and agree.
//
// It reads words, not syntax: a negation in a subordinate clause counts
// as much as one in the main claim, and a contradiction in other words
// ("You cannot deploy on Friday" / "Friday deploys are fine") is not seen.
func Contradiction(a, b string) Polarity {
	return contradiction(parseClaim(a), parseClaim(b))
}

func contradiction(pa, pb claim) Polarity {
	var p Polarity
	if pa.verdict != 0 && pb.verdict != 0 && pa.verdict != pb.verdict {
		p.Verdicts, p.Contradicts = true, true
	}
	if (pa.negations-pb.negations)%2 != 0 {
		p.Flips++
	}
	// Antonyms: x on one side and its opposite y on the other, neither
	// side holding both. The opposite is then counted as x for overlap.
	subst := make(map[string]string)
	var ys []string
	for x := range pa.words {
		ys = pb.oppositesOf(x, ys[:0])
		for _, y := range ys {
			if !pb.words[x] && !pa.words[y] {
				p.Flips++
				if subst[y] == "" {
					subst[y] = x
				}
			}
		}
	}
	inter, union := 0, len(pa.words)
	seen := make(map[string]bool, len(pb.words))
	for w := range pb.words {
		if x := subst[w]; x != "" {
			w = x
		}
		if seen[w] {
			continue
		}
		seen[w] = true
		if pa.words[w] {
			inter++
		} else {
			union++
		}
	}
	if union > 0 {
		p.Overlap = float64(inter) / float64(union)
	}
	if p.Overlap >= SameClaim && p.Flips%2 == 1 {
		p.Contradicts = true
	}
	return p
}

// PolarityDrift is [Contradiction] as a metric: drift 1 when the texts
// contradict, else 0. Confidence is 1 for opposite verdicts, else the
// content-word overlap (how surely the two texts are about one claim).
// Two empty texts (white space alone) drift 0, one empty drift 1. It
// returns no error; the signature matches the other metrics.
func PolarityDrift(a, b string) (Score, error) {
	if s, ok := emptyCase(blank(a), blank(b)); ok {
		return s, nil
	}
	p := Contradiction(a, b)
	s := Score{Confidence: p.Overlap}
	if p.Contradicts {
		s.Drift = 1
	}
	if p.Verdicts {
		s.Confidence = 1
	}
	return s, nil
}

// claim is a text read for [Contradiction].
type claim struct {
	verdict   int // +1 or −1 for an opening verdict word, else 0
	negations int
	words     map[string]bool     // stemmed content words
	prefixed  map[string][]string // a word without its negative prefix → the words that have it
}

var (
	negators = setOf("not", "no", "never", "none", "nobody", "nothing", "neither", "nor",
		"without", "cannot")
	// negVerbs are the stems of verbs of failing or refusing, which negate
	// what follows them as "not" does ("failed to open" = "did not open").
	negVerbs = setOf(stem("fail"), stem("unable"), stem("refuse"), stem("avoid"), stem("lack"))
	// stopWords carry no claim of their own.
	stopWords = setOf("a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "am",
		"do", "does", "did", "to", "of", "in", "on", "at", "for", "from", "by", "with", "and",
		"or", "but", "if", "then", "so", "as", "it", "its", "this", "that", "these", "those",
		"there", "here", "i", "you", "he", "she", "we", "they", "me", "him", "her", "us",
		"them", "my", "your", "our", "their", "will", "would", "shall", "should", "can",
		"could", "may", "might", "must", "has", "have", "had", "having", "also", "just",
		"yet", "still", "very", "any", "all", "some", "such", "into", "than", "which", "who",
		"what", "when", "where", "how", "about", "over", "under", "again", "too", "s")
	// verdicts are the words that open an answer with a yes or a no.
	verdicts = map[string]int{
		"yes": 1, "true": 1, "correct": 1, "right": 1, "approve": 1, "approved": 1,
		"accept": 1, "accepted": 1, "allow": 1, "allowed": 1, "pass": 1, "passed": 1,
		"buy": 1, "agree": 1, "safe": 1, "confirmed": 1, "valid": 1, "granted": 1,
		"no": -1, "false": -1, "incorrect": -1, "wrong": -1, "reject": -1, "rejected": -1,
		"deny": -1, "denied": -1, "decline": -1, "declined": -1, "fail": -1, "failed": -1,
		"sell": -1, "disagree": -1, "unsafe": -1, "invalid": -1,
	}
	// antonyms are pairs of opposite stems (see stem).
	antonyms = func() map[string][]string {
		pairs := [][2]string{
			{"open", "closed"}, {"open", "shut"}, {"enabled", "disabled"}, {"enable", "disable"},
			{"accept", "reject"}, {"approve", "reject"}, {"approve", "decline"}, {"approve", "deny"},
			{"allow", "deny"}, {"allow", "forbid"}, {"allow", "prohibit"}, {"allow", "block"},
			{"permit", "forbid"}, {"permit", "prohibit"}, {"guilty", "innocent"}, {"true", "false"},
			{"correct", "wrong"}, {"right", "wrong"}, {"increase", "decrease"}, {"rise", "fall"},
			{"rose", "fell"}, {"risen", "fallen"}, {"up", "down"}, {"gain", "loss"},
			{"profit", "loss"}, {"buy", "sell"}, {"bought", "sold"}, {"undervalued", "overvalued"},
			{"above", "below"}, {"higher", "lower"}, {"before", "after"}, {"include", "exclude"},
			{"present", "absent"}, {"positive", "negative"}, {"win", "lose"}, {"won", "lost"},
			{"online", "offline"}, {"success", "failure"}, {"alive", "dead"}, {"benign", "malignant"},
			{"minimum", "maximum"}, {"safe", "dangerous"}, {"required", "optional"},
			{"mandatory", "optional"}, {"early", "late"}, {"grant", "revoke"}, {"valid", "expired"},
		}
		m := make(map[string][]string)
		for _, p := range pairs {
			x, y := stem(p[0]), stem(p[1])
			m[x] = append(m[x], y)
			m[y] = append(m[y], x)
		}
		return m
	}()
	// negPrefixes make an opposite of the stem after them.
	negPrefixes = []string{"un", "in", "im", "il", "ir", "dis", "non"}
)

func setOf(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w] = true
	}
	return m
}

// oppositesOf appends to out the words of c opposite to the stem x, each
// once: its antonyms, x with a negative prefix ("safe" / "unsafe"), and x
// without one. Map lookups only, so a pair of texts costs time linear in
// their words.
func (c claim) oppositesOf(x string, out []string) []string {
	add := func(y string) {
		if c.words[y] && !slices.Contains(out, y) {
			out = append(out, y)
		}
	}
	for _, y := range antonyms[x] {
		add(y)
	}
	if len(x) >= 3 {
		for _, y := range c.prefixed[x] {
			add(y)
		}
	}
	for _, p := range negPrefixes {
		if rest, ok := strings.CutPrefix(x, p); ok && len(rest) >= 3 {
			add(rest)
		}
	}
	return out
}

func parseClaim(s string) claim {
	c := claim{words: make(map[string]bool)}
	s = strings.ToLower(strings.ReplaceAll(s, "’", "'"))
	type tok struct {
		w     string
		punct bool // followed by punctuation other than an apostrophe
	}
	var toks []tok
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			if len(toks) > 0 && !unicode.IsSpace(r) && r != '\'' {
				toks[len(toks)-1].punct = true
			}
			i += n
			continue
		}
		j := i
		for j < len(s) {
			r2, n2 := utf8.DecodeRuneInString(s[j:])
			if !unicode.IsLetter(r2) && !unicode.IsDigit(r2) && r2 != '\'' {
				break
			}
			j += n2
		}
		toks = append(toks, tok{w: strings.Trim(s[i:j], "'")})
		i = j
	}
	if len(toks) > 0 && (toks[0].punct || len(toks) == 1) {
		if v := verdicts[toks[0].w]; v != 0 {
			c.verdict = v
			toks = toks[1:]
		}
	}
	for k, t := range toks {
		w := t.w
		switch {
		case w == "":
		case negators[w] || strings.HasSuffix(w, "n't") || negVerbs[stem(w)]:
			c.negations++
		case (w == "than" && k > 0 && toks[k-1].w == "rather") || (w == "of" && k > 0 && toks[k-1].w == "instead"):
			c.negations++
		case stopWords[w] || isNumeral(w):
		default:
			c.words[stem(w)] = true
		}
	}
	for w := range c.words {
		for _, p := range negPrefixes {
			if rest, ok := strings.CutPrefix(w, p); ok && len(rest) >= 3 {
				if c.prefixed == nil {
					c.prefixed = make(map[string][]string)
				}
				c.prefixed[rest] = append(c.prefixed[rest], w)
			}
		}
	}
	return c
}

func isNumeral(w string) bool {
	for _, r := range w {
		if !unicode.IsDigit(r) && r != '.' && r != ',' {
			return false
		}
	}
	return true
}

// stem strips a few English inflections so that "opens", "opened" and
// "opening" meet at "open", and "closed", "closes" and "close" at "clos".
// It is deliberately crude: it only has to map a word and its inflections
// to one key, not to produce a word.
func stem(w string) string {
	w = strings.TrimSuffix(w, "'s")
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		w = w[:len(w)-3] + "y"
	case len(w) > 4 && strings.HasSuffix(w, "ied"):
		w = w[:len(w)-3] + "y"
	case len(w) > 5 && strings.HasSuffix(w, "ing"):
		w = w[:len(w)-3]
	case len(w) > 4 && strings.HasSuffix(w, "ed"):
		w = w[:len(w)-2]
	case len(w) > 4 && strings.HasSuffix(w, "es") && !strings.HasSuffix(w, "ses"):
		w = w[:len(w)-2]
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		w = w[:len(w)-1]
	}
	if len(w) > 3 && strings.HasSuffix(w, "e") {
		w = w[:len(w)-1]
	}
	return w
}
