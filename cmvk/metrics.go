package cmvk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// Errors returned by the metrics. Each wraps [agentos.ErrInvalid], so a
// caller that only asks "was the input bad?" can test for that.
var (
	// ErrTooLarge: an input is longer than a metric's bound
	// ([MaxSequence] elements, [MaxJSONDepth], [MaxJSONPaths], [MaxNumbers])
	// or an answer is longer than the bound set by [WithMaxAnswerBytes].
	ErrTooLarge = fmt.Errorf("cmvk: input too large: %w", agentos.ErrInvalid)
	// ErrNotFinite: a vector or distribution holds NaN or ±Inf.
	ErrNotFinite = fmt.Errorf("cmvk: value is NaN or infinite: %w", agentos.ErrInvalid)
	// ErrNegative: a distribution holds a negative weight.
	ErrNegative = fmt.Errorf("cmvk: negative weight in distribution: %w", agentos.ErrInvalid)
	// ErrZeroMass: a non-empty distribution whose weights sum to zero.
	ErrZeroMass = fmt.Errorf("cmvk: distribution sums to zero: %w", agentos.ErrInvalid)
	// ErrNotJSON: a text given to the JSON shape metric is not one JSON value.
	ErrNotJSON = fmt.Errorf("cmvk: not a JSON value: %w", agentos.ErrInvalid)
)

// Bounds of the metrics. The lexical and sequence metrics cost time
// proportional to the product of the two lengths, so they refuse longer
// inputs with [ErrTooLarge] rather than run for minutes.
const (
	MaxSequence  = 1 << 14 // runes, words or code tokens per side
	MaxJSONDepth = 64      // nesting of arrays and objects
	MaxJSONPaths = 1 << 14 // distinct shape paths per side
	MaxNumbers   = 1 << 12 // numbers extracted per side
)

// Score is the result of comparing two things. Drift is in [0, 1]: 0 means
// the same by the metric's measure, 1 nothing in common. Confidence is in
// [0, 1] and says how much the metric trusts its own Drift: 1 for a single
// measurement, 1 − the population standard deviation of the sub-drifts
// for a composite metric (sub-measures that disagree lower it), 0.5 for a
// shape mismatch.
type Score struct {
	Drift      float64
	Confidence float64
}

// identical and disjoint are the scores of the defined edge cases.
var (
	identical = Score{Drift: 0, Confidence: 1}
	disjoint  = Score{Drift: 1, Confidence: 1}
	mismatch  = Score{Drift: 1, Confidence: 0.5}
)

// Ratio is the Ratcliff/Obershelp similarity of a and b, the measure of
// Python's difflib.SequenceMatcher.ratio without its junk heuristics:
// 2·M/(len(a)+len(b)), where M is the number of elements in the matching
// blocks found by taking the longest common contiguous block (the earliest
// one on ties) and recursing on the pieces to its left and right. Two
// empty sequences have ratio 1. It costs O(len(a)·len(b)) time in the worst
// case; the Score functions bound the lengths with [MaxSequence].
func Ratio[T comparable](a, b []T) float64 {
	if len(a)+len(b) == 0 {
		return 1
	}
	return 2 * float64(matchingElements(a, b)) / float64(len(a)+len(b))
}

// matchingElements sums the sizes of the Ratcliff/Obershelp matching
// blocks, iteratively (an explicit stack, so no recursion depth to bound).
func matchingElements[T comparable](a, b []T) int {
	b2j := make(map[T][]int, len(b))
	for j, x := range b {
		b2j[x] = append(b2j[x], j)
	}
	// j2len[j+1] is the length of the common block ending at a[i-1], b[j]
	// for the previous i; touched lists the entries to clear.
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	var prevTouched, curTouched []int
	longest := func(alo, ahi, blo, bhi int) (int, int, int) {
		besti, bestj, best := alo, blo, 0
		for i := alo; i < ahi; i++ {
			for _, j := range b2j[a[i]] {
				if j < blo {
					continue
				}
				if j >= bhi {
					break
				}
				k := 1
				if j > blo {
					k = prev[j] + 1
				}
				cur[j+1] = k
				curTouched = append(curTouched, j+1)
				if k > best {
					besti, bestj, best = i-k+1, j-k+1, k
				}
			}
			for _, t := range prevTouched {
				prev[t] = 0
			}
			prev, cur = cur, prev
			prevTouched, curTouched = curTouched, prevTouched[:0]
		}
		for _, t := range prevTouched {
			prev[t] = 0
		}
		prevTouched = prevTouched[:0]
		return besti, bestj, best
	}
	total := 0
	stack := [][4]int{{0, len(a), 0, len(b)}}
	for len(stack) > 0 {
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i, j, k := longest(r[0], r[1], r[2], r[3])
		if k == 0 {
			continue
		}
		total += k
		if r[0] < i && r[2] < j {
			stack = append(stack, [4]int{r[0], i, r[2], j})
		}
		if i+k < r[1] && j+k < r[3] {
			stack = append(stack, [4]int{i + k, r[1], j + k, r[3]})
		}
	}
	return total
}

// EditDistance is the Levenshtein distance of a and b: the fewest
// insertions, deletions and substitutions of one element that turn a into
// b. O(len(a)·len(b)) time, O(len(b)) memory.
func EditDistance[T comparable](a, b []T) int {
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		diag := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			up := row[j]
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			row[j] = min(up+1, row[j-1]+1, diag+cost)
			diag = up
		}
	}
	return row[len(b)]
}

// LCSLength is the length of the longest common subsequence (not
// necessarily contiguous) of a and b. O(len(a)·len(b)) time.
func LCSLength[T comparable](a, b []T) int {
	row := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		diag := 0
		for j := 1; j <= len(b); j++ {
			up := row[j]
			if a[i-1] == b[j-1] {
				row[j] = diag + 1
			} else {
				row[j] = max(up, row[j-1])
			}
			diag = up
		}
	}
	return row[len(b)]
}

// Jaccard is |A ∩ B| / |A ∪ B| of the sets of elements of a and b; two
// empty sets have index 1.
func Jaccard[T comparable](a, b []T) float64 {
	sa := make(map[T]struct{}, len(a))
	for _, x := range a {
		sa[x] = struct{}{}
	}
	sb := make(map[T]struct{}, len(b))
	for _, x := range b {
		sb[x] = struct{}{}
	}
	if len(sa)+len(sb) == 0 {
		return 1
	}
	inter := 0
	for x := range sb {
		if _, ok := sa[x]; ok {
			inter++
		}
	}
	return float64(inter) / float64(len(sa)+len(sb)-inter)
}

// composite turns sub-drifts and weights into a Score: Drift is the
// weighted sum, Confidence 1 − the population standard deviation of the
// sub-drifts.
func composite(drifts, weights []float64) Score {
	var d, mean float64
	for i, x := range drifts {
		d += weights[i] * x
		mean += x
	}
	mean /= float64(len(drifts))
	var v float64
	for _, x := range drifts {
		v += (x - mean) * (x - mean)
	}
	v /= float64(len(drifts))
	return Score{Drift: clamp01(d), Confidence: clamp01(1 - math.Sqrt(v))}
}

func clamp01(x float64) float64 {
	switch {
	case x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}

func tooLong(n int, what string) error {
	if n > MaxSequence {
		return fmt.Errorf("%w: %d %s (at most %d)", ErrTooLarge, n, what, MaxSequence)
	}
	return nil
}

// lineCount is the number of lines of s: a final line without a newline
// counts, an empty text has none.
func lineCount(s string) int {
	if s == "" {
		return 0
	}
	n := strings.Count(s, "\n")
	if !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

// LexicalDrift is the original CMVK text comparison. With each ratio from
// [Ratio]:
//
//	similarity = 0.3·char-ratio + 0.5·word-ratio + 0.2·line-count-ratio
//	drift      = 1 − similarity
//
// char-ratio compares the runes, word-ratio the white-space separated
// words, line-count-ratio is min(lines)/max(lines). Two empty texts have
// drift 0, one empty text drift 1 (both with confidence 1). Confidence is 1
// − the population standard deviation of the three sub-drifts. A side over
// [MaxSequence] runes is [ErrTooLarge].
func LexicalDrift(a, b string) (Score, error) {
	if s, ok := emptyCase(a == "", b == ""); ok {
		return s, nil
	}
	ra, rb := []rune(a), []rune(b)
	if err := errors.Join(tooLong(len(ra), "runes"), tooLong(len(rb), "runes")); err != nil {
		return Score{}, err
	}
	wa, wb := strings.Fields(a), strings.Fields(b)
	la, lb := lineCount(a), lineCount(b)
	lineRatio := float64(min(la, lb)) / float64(max(la, lb))
	return composite(
		[]float64{1 - Ratio(ra, rb), 1 - Ratio(wa, wb), 1 - lineRatio},
		[]float64{0.3, 0.5, 0.2},
	), nil
}

// emptyCase is the rule shared by every metric: both empty → drift 0, one
// empty → drift 1.
func emptyCase(ea, eb bool) (Score, bool) {
	switch {
	case ea && eb:
		return identical, true
	case ea || eb:
		return disjoint, true
	}
	return Score{}, false
}

// SequenceDrift compares the words of a and b as sequences:
//
//	drift = 0.4·edit + 0.3·(1 − Jaccard) + 0.3·(1 − LCS/max(len))
//
// where edit is [EditDistance]/max(len). Edge cases, confidence and bounds
// are those of [LexicalDrift] (the bound counts words).
func SequenceDrift(a, b string) (Score, error) {
	wa, wb := strings.Fields(a), strings.Fields(b)
	return sequenceScore(wa, wb)
}

func sequenceScore[T comparable](a, b []T) (Score, error) {
	if s, ok := emptyCase(len(a) == 0, len(b) == 0); ok {
		return s, nil
	}
	if err := errors.Join(tooLong(len(a), "elements"), tooLong(len(b), "elements")); err != nil {
		return Score{}, err
	}
	n := float64(max(len(a), len(b)))
	return composite(
		[]float64{float64(EditDistance(a, b)) / n, 1 - Jaccard(a, b), 1 - float64(LCSLength(a, b))/n},
		[]float64{0.4, 0.3, 0.3},
	), nil
}

// JSONShapeDrift compares the shapes of two JSON values, ignoring the
// values themselves. Each value is reduced to its set of typed paths: "$"
// for the root, .<quoted key> for an object member, [] for any array
// element (indices are collapsed, so an array's shape is the union of its
// elements' shapes), each ending in :object, :array, :string, :number,
// :bool or :null. Drift is 1 − the Jaccard index of the two sets, so the
// same keys and types at every depth give 0 and a renamed key or a number
// turned into a string moves it up. A text that is not exactly one JSON
// value (after white space) is [ErrNotJSON]; nesting deeper than
// [MaxJSONDepth] or more than [MaxJSONPaths] paths is [ErrTooLarge].
func JSONShapeDrift(a, b string) (Score, error) {
	pa, err := JSONShape(a)
	if err != nil {
		return Score{}, err
	}
	pb, err := JSONShape(b)
	if err != nil {
		return Score{}, err
	}
	return Score{Drift: 1 - Jaccard(pa, pb), Confidence: 1}, nil
}

// JSONShape returns the sorted typed paths of the JSON value s, as
// described at [JSONShapeDrift].
func JSONShape(s string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	set := make(map[string]struct{})
	err := walkJSON(dec, "$", 0, false, func(path string, tok json.Token, _ int) error {
		kind := ""
		switch t := tok.(type) {
		case json.Delim:
			kind = "object"
			if t == '[' {
				kind = "array"
			}
		case string:
			kind = "string"
		case json.Number:
			kind = "number"
		case bool:
			kind = "bool"
		case nil:
			kind = "null"
		}
		set[path+":"+kind] = struct{}{}
		if len(set) > MaxJSONPaths {
			return fmt.Errorf("%w: more than %d JSON shape paths", ErrTooLarge, MaxJSONPaths)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the value", ErrNotJSON)
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// walkJSON reads one JSON value from dec (whose numbers are json.Number)
// and calls visit for each scalar, with its token, and for each object or
// array once it is closed, with its delimiter ('{' or '[') and how many
// members it had. Paths start at path: .<quoted key> for a member, [i]
// for an array element, or [] for every element when indexArrays is false.
// It refuses nesting deeper than MaxJSONDepth.
func walkJSON(dec *json.Decoder, path string, depth int, indexArrays bool, visit func(path string, tok json.Token, members int) error) error {
	if depth > MaxJSONDepth {
		return fmt.Errorf("%w: JSON nested deeper than %d", ErrTooLarge, MaxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		n := 0
		switch t {
		case '{':
			for ; dec.More(); n++ {
				k, err := dec.Token()
				if err != nil {
					return fmt.Errorf("%w: %v", ErrNotJSON, err)
				}
				key, ok := k.(string)
				if !ok {
					return fmt.Errorf("%w: object key is not a string", ErrNotJSON)
				}
				if err := walkJSON(dec, path+"."+strconv.Quote(key), depth+1, indexArrays, visit); err != nil {
					return err
				}
			}
		case '[':
			for ; dec.More(); n++ {
				elem := path + "[]"
				if indexArrays {
					elem = path + "[" + strconv.Itoa(n) + "]"
				}
				if err := walkJSON(dec, elem, depth+1, indexArrays, visit); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("%w: unexpected %q", ErrNotJSON, t)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return fmt.Errorf("%w: %v", ErrNotJSON, err)
		}
		return visit(path, t, n)
	case string, json.Number, bool, nil:
		return visit(path, t, 0)
	}
	return fmt.Errorf("%w: unexpected token %v", ErrNotJSON, tok)
}

// Code-shape tokens.
const (
	tokWord   = "w"
	tokNumber = "n"
	tokString = "s"
	tokIndent = ">"
	tokDedent = "<"
	tokEOL    = "$"
)

// CodeShape reduces source code to its skeleton, language-agnostically:
// an identifier or keyword becomes "w", a number "n", a quoted string
// ('…', "…" or `…` on one line, backslash escapes honoured) "s", every
// other non-space rune (brackets, operators, punctuation) stays itself,
// each non-blank line ends with "$", and a change of indentation emits ">"
// for a deeper level and one "<" per level closed (a tab counts 4
// columns). So "if x > 1 {" and "if y > 20 {" have the same skeleton, and
// a missing brace or a block moved out of a loop changes it.
func CodeShape(src string) []string {
	var out []string
	indents := []int{0}
	for line := range strings.Lines(src) {
		line = strings.TrimRight(line, "\r\n")
		col, i := 0, 0
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			if line[i] == '\t' {
				col += 4
			} else {
				col++
			}
			i++
		}
		rest := line[i:]
		if strings.TrimSpace(rest) == "" {
			continue
		}
		if col > indents[len(indents)-1] {
			indents = append(indents, col)
			out = append(out, tokIndent)
		}
		for len(indents) > 1 && col < indents[len(indents)-1] {
			indents = indents[:len(indents)-1]
			out = append(out, tokDedent)
		}
		out = appendCodeTokens(out, rest)
		out = append(out, tokEOL)
	}
	return out
}

func appendCodeTokens(out []string, s string) []string {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += n
		case r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			kind := tokWord
			if unicode.IsDigit(r) {
				kind = tokNumber
			}
			for i < len(s) {
				r, n = utf8.DecodeRuneInString(s[i:])
				if r != '_' && r != '.' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					break
				}
				if r == '.' && kind == tokWord {
					break // a.b is word . word; 1.5 is one number
				}
				i += n
			}
			out = append(out, kind)
		case r == '"' || r == '\'' || r == '`':
			i += n
			for i < len(s) {
				c := s[i]
				if c == '\\' && r != '`' {
					i += 2
					continue
				}
				i++
				if rune(c) == r {
					break
				}
			}
			out = append(out, tokString)
		default:
			i += n
			out = append(out, string(r))
		}
	}
	return out
}

// CodeShapeDrift is 1 − [Ratio] of the [CodeShape] skeletons of a and b.
// Two texts without tokens have drift 0, one without drift 1; a skeleton
// over [MaxSequence] tokens is [ErrTooLarge]. Confidence is 1.
func CodeShapeDrift(a, b string) (Score, error) {
	sa, sb := CodeShape(a), CodeShape(b)
	if s, ok := emptyCase(len(sa) == 0, len(sb) == 0); ok {
		return s, nil
	}
	if err := errors.Join(tooLong(len(sa), "code tokens"), tooLong(len(sb), "code tokens")); err != nil {
		return Score{}, err
	}
	return Score{Drift: 1 - Ratio(sa, sb), Confidence: 1}, nil
}

// numberRE matches a decimal number: an optional sign, digits with
// optional thousands separators ("1,234.5") or a fraction, an optional
// exponent. Go's leftmost-first alternation tries the grouped form first.
var numberRE = regexp.MustCompile(`[-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`)

// Numbers extracts the numbers of s in order (see [NumericDrift] for the
// syntax). More than [MaxNumbers] is [ErrTooLarge].
func Numbers(s string) ([]float64, error) {
	ms := numberRE.FindAllString(s, MaxNumbers+1)
	if len(ms) > MaxNumbers {
		return nil, fmt.Errorf("%w: more than %d numbers", ErrTooLarge, MaxNumbers)
	}
	out := make([]float64, 0, len(ms))
	for _, m := range ms {
		f, err := strconv.ParseFloat(strings.ReplaceAll(m, ",", ""), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			continue // cannot happen for what numberRE matches; skip rather than guess
		}
		out = append(out, f) // out of range parses to ±Inf or 0, which compare as such
	}
	return out, nil
}

// Tolerance says when two numbers are equal: |a−b| ≤ max(Abs,
// Rel·max(|a|,|b|)). The zero Tolerance asks for exact equality.
type Tolerance struct {
	Abs float64
	Rel float64
}

// DefaultTolerance is the tolerance of the "numeric" metric: a relative
// difference of one part in a million, or 1e-9 absolute near zero.
var DefaultTolerance = Tolerance{Abs: 1e-9, Rel: 1e-6}

// check returns an error wrapping [agentos.ErrInvalid] for a negative or
// NaN tolerance.
func (t Tolerance) check() error {
	if !(t.Abs >= 0) || !(t.Rel >= 0) {
		return fmt.Errorf("cmvk: tolerance %+v: %w", t, agentos.ErrInvalid)
	}
	return nil
}

func (t Tolerance) equal(a, b float64) bool {
	if a == b {
		return true
	}
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return false
	}
	return math.Abs(a-b) <= max(t.Abs, t.Rel*max(math.Abs(a), math.Abs(b)))
}

// NumericDrift compares the numbers in two texts, pairwise in order of
// appearance: drift = 1 − (pairs equal within tol) / max(count a, count
// b), so a missing or extra number counts as a mismatch. Numbers are
// decimal, with an optional sign, fraction, exponent and comma thousands
// separators; "2020-01" reads as 2020 and -1. Two texts without numbers
// have drift 0, one without drift 1. A negative or NaN tolerance is
// [agentos.ErrInvalid]; more than [MaxNumbers] numbers is [ErrTooLarge].
func NumericDrift(a, b string, tol Tolerance) (Score, error) {
	if err := tol.check(); err != nil {
		return Score{}, err
	}
	na, err := Numbers(a)
	if err != nil {
		return Score{}, err
	}
	nb, err := Numbers(b)
	if err != nil {
		return Score{}, err
	}
	if s, ok := emptyCase(len(na) == 0, len(nb) == 0); ok {
		return s, nil
	}
	eq := 0
	for i := range min(len(na), len(nb)) {
		if tol.equal(na[i], nb[i]) {
			eq++
		}
	}
	return Score{Drift: 1 - float64(eq)/float64(max(len(na), len(nb))), Confidence: 1}, nil
}
