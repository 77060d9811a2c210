package scak

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The normaliser and the phrase matcher are the fast path of give-up
// detection; the tests below hold them to plain reference implementations
// (a regular expression tokenizer, regular expressions compiled from the
// phrases) over generated text wider than the cases written by hand.

// refFold folds what the normaliser folds, rune by rune.
var refFold = strings.NewReplacer(
	"\u2018", "'", "\u2019", "'", "\u201b", "'", "\u2032", "'", "\u02bc", "'", "`", "'",
	"\u201c", `"`, "\u201d", `"`, "\u201e", `"`, "\u2033", `"`, "\u00ab", `"`, "\u00bb", `"`,
	"\u2026", ".", "\u3002", ".", "\uff01", ".", "\uff1f", ".",
)

// refWordRE is a word: letters, decimal digits and marks, joined by ', /
// or . between them.
var refWordRE = regexp.MustCompile(`[\p{L}\p{Nd}\p{Mn}]+(?:['/.][\p{L}\p{Nd}\p{Mn}]+)*`)

// refWords returns the words of s as the normaliser should record them.
func refWords(s string) []string {
	s = strings.ToValidUTF8(s, " ")
	s = refFold.Replace(s)
	s = strings.Map(unicode.ToLower, s)
	var out []string
	for _, w := range refWordRE.FindAllString(s, -1) {
		out = append(out, strings.Fields(refExpand(w))...)
	}
	return out
}

// refExpand expands one contraction.
func refExpand(w string) string {
	if len(w) < 3 || (!strings.Contains(w, "'") && w != "cannot") {
		return w
	}
	switch w {
	case "can't", "cannot":
		return "can not"
	case "won't":
		return "will not"
	case "shan't":
		return "shall not"
	case "ain't":
		return "is not"
	}
	if stem, ok := strings.CutSuffix(w, "n't"); ok && stem != "" {
		return stem + " not"
	}
	for suf, with := range map[string]string{"'m": " am", "'re": " are", "'ve": " have", "'ll": " will", "'d": " would"} {
		if stem, ok := strings.CutSuffix(w, suf); ok && stem != "" {
			return stem + with
		}
	}
	if stem, ok := strings.CutSuffix(w, "'s"); ok && isSubjects[stem] {
		return stem + " is"
	}
	return w
}

func fastWords(s string) []string {
	var sc scratch
	sc.reset()
	sc.normalize(s)
	out := []string{}
	for _, t := range sc.toks {
		if t.h != hashBytes(sc.word(t)) {
			panic("token hash differs from its word's")
		}
		out = append(out, string(sc.word(t)))
	}
	return out
}

func checkWords(t *testing.T, s string) {
	t.Helper()
	want := refWords(s)
	if want == nil {
		want = []string{}
	}
	if got := fastWords(s); !slices.Equal(got, want) {
		t.Fatalf("words of %q:\n got %q\nwant %q", s, got, want)
	}
}

// pieces are the bits generated texts are made of: words, contractions,
// punctuation, typographic quotes, spaces, non-ASCII letters and invalid
// UTF-8.
var pieces = []string{
	"no", "data", "Found", "I", "can't", "couldn’t", "cannot", "won't", "it's", "Bob's", "I'm", "we'd",
	"n/a", "3.5", "e.g.", "'", "’", "`", "\"", "“", "”", " ", "  ", "\t", "\n", ".", ",", "!", "?", ";", ":",
	"-", "—", "…", "/", "É", "ÉTÉ", "ß", "İ", "\u0301", "\u00a0", "\u200b", "\xff", "\xe2\x80", "5", "x", "'s",
	"n't", "''", "a'b", "a/b", "a.b", "ǅ", "Ⅻ", "²", "٣", "\u2028",
}

func genText(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(pieces[r.IntN(len(pieces))])
		if r.IntN(3) == 0 {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func TestNormalizeMatchesReference(t *testing.T) {
	for _, s := range []string{"", "I CAN’T find it", "n/a", "3.5 e.g. a.b.", "Bob's it's", "'quoted' `code`", "can't't", "''can't''"} {
		checkWords(t, s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		checkWords(t, genText(r, 1+r.IntN(20)))
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "I can't", "n/a 3.5", "\xff'x", "’’", "it's“no”"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return
		}
		checkWords(t, s)
	})
}

// refPhrase compiles a phrase pattern into a regular expression over text
// written as "w1 w2 … wn " (each word followed by one space), by its own
// reading of the grammar.
func refPhrase(t *testing.T, src string) *regexp.Regexp {
	t.Helper()
	fields := strings.Fields(src)
	if strings.HasPrefix(fields[len(fields)-1], "=") {
		fields = fields[:len(fields)-1]
	}
	var b strings.Builder
	switch fields[0] {
	case "^", "<":
		b.WriteString("^")
		fields = fields[1:]
	default:
		b.WriteString("(?:^| )")
	}
	end := ""
	if f := fields[len(fields)-1]; f == "$" || f == ">" {
		end = "$"
		fields = fields[:len(fields)-1]
	}
	for _, f := range fields {
		if n, ok := strings.CutPrefix(f, "~"); ok {
			k, err := strconv.Atoi(n)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "(?:[^ ]+ ){0,%d}", k)
			continue
		}
		opt := strings.HasPrefix(f, "[")
		f = strings.Trim(f, "[]")
		var alts []string
		for _, a := range strings.Split(f, "|") {
			switch {
			case strings.HasPrefix(a, "@"):
				for _, w := range strings.Split(macros[a[1:]], "|") {
					alts = append(alts, regexp.QuoteMeta(w))
				}
			case strings.HasSuffix(a, "*"):
				alts = append(alts, regexp.QuoteMeta(strings.TrimSuffix(a, "*"))+"[^ ]*")
			default:
				alts = append(alts, regexp.QuoteMeta(a))
			}
		}
		fmt.Fprintf(&b, "(?:(?:%s) )", strings.Join(alts, "|"))
		if opt {
			b.WriteString("?")
		}
	}
	b.WriteString(end)
	return regexp.MustCompile(b.String())
}

// TestPhraseMatcherMatchesReference: on generated one-sentence texts, a
// phrase matches somewhere exactly when its regular expression does.
func TestPhraseMatcherMatchesReference(t *testing.T) {
	d, err := NewDetector(WithFamilies(Family{Name: "prefixes", Confidence: 0.5, Phrases: []string{
		"we escalat* ~2 human|operator", "sorry [we] apolog* $", "< x [y] [z] w* >",
	}}))
	if err != nil {
		t.Fatal(err)
	}
	// The vocabulary: every word of every phrase, and fillers.
	vocab := []string{"the", "a", "zzz", "escalated", "escalate", "apologize", "wx", "w", "x", "y", "z"}
	for _, p := range d.phrases {
		for _, f := range strings.Fields(p.src) {
			for _, a := range strings.Split(strings.Trim(f, "[]"), "|") {
				switch {
				case strings.HasPrefix(a, "@"):
					vocab = append(vocab, strings.Split(macros[a[1:]], "|")...)
				case strings.HasPrefix(a, "~"), strings.HasPrefix(a, "="), a == "^", a == "$", a == "<", a == ">":
				default:
					vocab = append(vocab, strings.TrimSuffix(a, "*"))
				}
			}
		}
	}
	slices.Sort(vocab)
	vocab = slices.Compact(vocab)
	refs := make([]*regexp.Regexp, len(d.phrases))
	for i, p := range d.phrases {
		refs[i] = refPhrase(t, p.src)
	}
	r := rand.New(rand.NewPCG(3, 4))
	var sc scratch
	matched := make([]int, len(d.phrases))
	for range 6000 {
		words := make([]string, 1+r.IntN(10))
		for i := range words {
			words[i] = vocab[r.IntN(len(vocab))]
		}
		// Build texts more likely to match: half of them start from a
		// phrase's own words.
		if r.IntN(2) == 0 {
			p := d.phrases[r.IntN(len(d.phrases))]
			var seed []string
			for _, f := range strings.Fields(p.src) {
				if strings.ContainsAny(f[:1], "^$<>~=") {
					continue
				}
				alts := strings.Split(strings.Trim(f, "[]"), "|")
				a := alts[r.IntN(len(alts))]
				if strings.HasPrefix(a, "@") {
					ws := strings.Split(macros[a[1:]], "|")
					a = ws[r.IntN(len(ws))]
				}
				seed = append(seed, strings.TrimSuffix(a, "*"))
			}
			if r.IntN(3) == 0 { // alone, for the anchored phrases
				words = seed
			} else {
				at := r.IntN(len(words) + 1)
				words = slices.Concat(words[:at], seed, words[at:])
			}
		}
		text := strings.Join(words, " ")
		sc.reset()
		sc.normalize(text)
		joined := ""
		for _, tk := range sc.toks {
			joined += string(sc.word(tk)) + " "
		}
		for pi, p := range d.phrases {
			got := false
			for i := range sc.toks {
				if slices.Contains(p.firstWords, sc.toks[i].h) && p.matchAt(&sc, i) >= 0 {
					got = true
					break
				}
			}
			want := refs[pi].MatchString(joined)
			if got != want {
				t.Fatalf("phrase %q on %q: matcher %v, reference %v (%s)", p.src, joined, got, want, refs[pi])
			}
			if got {
				matched[pi]++
			}
		}
	}
	never := 0
	for pi := range matched {
		if matched[pi] == 0 {
			never++
		}
	}
	if never > len(matched)/10 {
		t.Fatalf("%d of %d phrases never matched: the generator is too weak to test them", never, len(matched))
	}
}

// The built-in phrases compile, and every one matches the words it is made
// of, so that none is dead.
func TestBuiltinPhrasesLive(t *testing.T) {
	d, err := NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range d.phrases {
		if len(p.elems) == 0 || len(p.firstWords) == 0 {
			t.Fatalf("phrase %q compiled to nothing", p.src)
		}
	}
}

const benchParagraph = "The quarterly report shows revenue of $4.2M, up 6% on the previous quarter. " +
	"There is no sign of churn rising: the data from the billing system covers every region, and " +
	"I checked the numbers against the ledger. Not every product line grew; hardware was flat, " +
	"but services rose 11% and now make up a third of the total. "

// BenchmarkNormalize times the normaliser alone on the bytes the detector
// examines by default.
func BenchmarkNormalize(b *testing.B) {
	text := strings.Repeat(benchParagraph, 8)[:DefaultHead+DefaultTail]
	var sc scratch
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		sc.reset()
		sc.normalize(text)
	}
}
