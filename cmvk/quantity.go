package cmvk

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Quantity is a figure read from text by [Quantities]: a number with its
// scale, its precision, and its unit when it has one of the units below; or
// a version or date, which are compared as written.
type Quantity struct {
	// Value is the number with its scale word applied: "$1.2 million" is
	// 1.2e6, "85k" 85000, "twelve" 12, "25%" 25 (with Percent), "30
	// minutes" 1800 (in its unit family's base unit, seconds).
	Value float64
	// Step is the unit of the last digit written, scaled: 1e5 for "1.2
	// million", 0.01 for "3.14". It is 0 for a number written without a
	// fraction (an integer is exact), so only a written fraction admits
	// rounding: "3.14" equals 3.14159, "2" does not equal 2.1.
	Step float64
	// Percent: written with "%", "percent" or "per cent".
	Percent bool
	// Unit is the unit family, "" when none was read: "time" (base unit
	// the second), "mass" (gram), "length" (metre), "volume" (litre),
	// "temperature" (as written, °C and °F kept apart: "C" or "F" is
	// appended to the family).
	Unit string
	// Literal is set, and Value is 0, for a version ("1.2.3", or a number
	// after "version", "v" or "release") or an ISO date ("2024-03-15"):
	// the text as written, which two figures must share to be equal.
	Literal string
}

// scaleWords multiply the number before them.
var scaleWords = map[string]float64{
	"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
	"mn": 1e6, "bn": 1e9,
}

// attachedScale is the scale of letters written straight after digits
// ("85k", "4.5M", "2bn"); a lower-case m is a metre or minute, never a
// million.
var attachedScale = map[string]float64{"k": 1e3, "K": 1e3, "M": 1e6, "bn": 1e9, "B": 1e9}

// numberWords are the cardinal words [Quantities] reads. "one" is among
// them; "once" is not (it is as often "as soon as").
var numberWords = map[string]float64{
	"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
	"eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
	"fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
	"nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
	"seventy": 70, "eighty": 80, "ninety": 90, "twice": 2, "thrice": 3, "dozen": 12,
}

// unitWords maps a unit as written (lower case) to its family and its size
// in the family's base unit.
var unitWords = map[string]struct {
	family string
	size   float64
}{
	"ms": {"time", 1e-3}, "millisecond": {"time", 1e-3}, "milliseconds": {"time", 1e-3},
	"s": {"time", 1}, "sec": {"time", 1}, "secs": {"time", 1}, "second": {"time", 1}, "seconds": {"time", 1},
	"min": {"time", 60}, "mins": {"time", 60}, "minute": {"time", 60}, "minutes": {"time", 60},
	"h": {"time", 3600}, "hr": {"time", 3600}, "hrs": {"time", 3600}, "hour": {"time", 3600}, "hours": {"time", 3600},
	"day": {"time", 86400}, "days": {"time", 86400}, "week": {"time", 604800}, "weeks": {"time", 604800},
	"mcg": {"mass", 1e-6}, "µg": {"mass", 1e-6}, "mg": {"mass", 1e-3}, "g": {"mass", 1}, "gram": {"mass", 1},
	"grams": {"mass", 1}, "kg": {"mass", 1e3}, "kilogram": {"mass", 1e3}, "kilograms": {"mass", 1e3},
	"mm": {"length", 1e-3}, "cm": {"length", 1e-2}, "metre": {"length", 1}, "metres": {"length", 1},
	"meter": {"length", 1}, "meters": {"length", 1}, "km": {"length", 1e3}, "kilometre": {"length", 1e3},
	"kilometres": {"length", 1e3}, "kilometer": {"length", 1e3}, "kilometers": {"length", 1e3},
	"ml": {"volume", 1e-3}, "millilitre": {"volume", 1e-3}, "millilitres": {"volume", 1e-3},
	"milliliter": {"volume", 1e-3}, "milliliters": {"volume", 1e-3}, "l": {"volume", 1},
	"litre": {"volume", 1}, "litres": {"volume", 1}, "liter": {"volume", 1}, "liters": {"volume", 1},
	"°c": {"temperatureC", 1}, "celsius": {"temperatureC", 1}, "°f": {"temperatureF", 1}, "fahrenheit": {"temperatureF", 1},
}

// versionWords make the number after them a version.
var versionWords = map[string]bool{"version": true, "v": true, "release": true, "ver": true}

// Quantities extracts the figures of s in order of appearance:
//
//   - decimal numbers with an optional sign (a '-' or '+' not preceded by
//     a letter or digit), comma thousands separators ("1,234.5": groups of
//     exactly three digits), a fraction, an exponent;
//   - a currency symbol before them ($ € £ ¥) is skipped; a percent sign
//     or the word "percent" / "per cent" after them sets Percent;
//   - a scale after them multiplies: a word (hundred, thousand, million,
//     billion, trillion, mn, bn) or letters attached to the digits (k, K,
//     M, bn, B);
//   - a unit after them (ms, s, minutes, hours, days, weeks; mcg, mg, g,
//     kg; mm, cm, metres, km; ml, l, litres; °C, °F, Celsius, Fahrenheit)
//     converts the value to its family's base unit;
//   - number words: zero to twenty, the tens, "twice", "thrice", "dozen",
//     compounds ("twenty-one", "three hundred and five", "two thousand"),
//     and a scale word after a number word or "a" ("a hundred");
//   - "1.2.3" (two dots or more), a number after "version" or "v", and an
//     ISO date "2024-03-15" are Literal figures.
//
// A hyphen between digits ("555-0142", "3-5") separates numbers and is
// not a minus sign. More than [MaxNumbers] figures is [ErrTooLarge]; a
// number too large for a float64 is ±Inf, which equals only itself.
func Quantities(s string) ([]Quantity, error) {
	var out []Quantity
	add := func(q Quantity) error {
		if len(out) >= MaxNumbers {
			return fmt.Errorf("%w: more than %d numbers", ErrTooLarge, MaxNumbers)
		}
		out = append(out, q)
		return nil
	}
	prevWord := "" // the last word read, lower case, for "version 1.10"
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case isDigit(r) || ((r == '.' || r == '-' || r == '+') && startsNumber(s, i)):
			q, next := scanNumber(s, i, prevWord)
			if err := add(q); err != nil {
				return nil, err
			}
			i, prevWord = next, ""
		case unicode.IsLetter(r):
			j := i
			for j < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[j:])
				if !unicode.IsLetter(r2) && (r2 != '-' || j+n2 >= len(s) || !isLetterAt(s, j+n2) || !isNumberWordAt(s, i, j)) {
					break
				}
				j += n2
			}
			word := strings.ToLower(s[i:j])
			if q, next, ok := scanNumberWords(s, i, word, j); ok {
				if err := add(q); err != nil {
					return nil, err
				}
				i, prevWord = next, ""
				continue
			}
			i, prevWord = j, word
		default:
			i += n
			if !unicode.IsSpace(r) {
				prevWord = ""
			}
		}
	}
	return out, nil
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func digitAt(s string, i int) bool { return i < len(s) && s[i] >= '0' && s[i] <= '9' }

func isLetterAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsLetter(r)
}

// isNumberWordAt reports whether s[i:j] is a number word, so that a hyphen
// after it joins a compound ("twenty-one").
func isNumberWordAt(s string, i, j int) bool {
	_, ok := numberWords[strings.ToLower(s[i:j])]
	return ok
}

// startsNumber reports whether the sign or point at s[i] begins a number:
// a point before a digit, or a sign before a digit or point-digit that
// does not follow a letter or digit (so "555-0142" is two numbers).
func startsNumber(s string, i int) bool {
	if s[i] == '.' {
		return digitAt(s, i+1) && (i == 0 || !digitAt(s, i-1))
	}
	if i > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[:i])
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' {
			return false
		}
	}
	return digitAt(s, i+1) || (i+2 < len(s) && s[i+1] == '.' && digitAt(s, i+2))
}

// scanNumber reads the number at s[i] and what follows it (percent, scale,
// unit) and returns it and the index after it.
func scanNumber(s string, i int, prevWord string) (Quantity, int) {
	neg := false
	if s[i] == '-' || s[i] == '+' {
		neg = s[i] == '-'
		i++
	}
	// An ISO date.
	if j := i + 10; j <= len(s) && isISODate(s[i:j]) && !digitAt(s, j) {
		return Quantity{Literal: s[i:j]}, j
	}
	// Digits, with comma groups of exactly three.
	intStart := i
	for digitAt(s, i) {
		i++
	}
	if i-intStart <= 3 {
		for i+3 < len(s) && s[i] == ',' && digitAt(s, i+1) && digitAt(s, i+2) && digitAt(s, i+3) && !digitAt(s, i+4) {
			i += 4
		}
	}
	decimals := -1
	if i < len(s) && s[i] == '.' && digitAt(s, i+1) {
		j := i + 1
		for digitAt(s, j) {
			j++
		}
		// A second point makes it a version: 1.2.3.
		if j < len(s) && s[j] == '.' && digitAt(s, j+1) {
			for j < len(s) && (s[j] == '.' || isDigit(rune(s[j]))) && !(s[j] == '.' && !digitAt(s, j+1)) {
				j++
			}
			return Quantity{Literal: s[intStart:j]}, j
		}
		decimals = j - i - 1
		i = j
	}
	if versionWords[prevWord] {
		return Quantity{Literal: s[intStart:i]}, i
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if digitAt(s, j) {
			for digitAt(s, j) {
				j++
			}
			exp, _ = strconv.Atoi(strings.TrimPrefix(s[i+1:j], "+"))
			exp = min(max(exp, -400), 400) // beyond, the value is 0 or ±Inf anyway
			i = j
		}
	}
	// ParseFloat reads the exponent itself, so "0e400" is 0, not 0·∞.
	v, err := strconv.ParseFloat(strings.ReplaceAll(s[intStart:i], ",", ""), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		v = 0 // cannot happen for what was scanned
	}
	if neg {
		v = -v
	}
	q := Quantity{Value: v}
	if decimals > 0 {
		if step := math.Pow(10, float64(exp-decimals)); !math.IsInf(step, 0) {
			q.Step = step
		}
	}
	// Attached letters: a scale ("85k") or a unit ("10mg").
	j := i
	for j < len(s) && isLetterAt(s, j) {
		_, n := utf8.DecodeRuneInString(s[j:])
		j += n
	}
	if j > i {
		word := s[i:j]
		switch {
		case attachedScale[word] != 0:
			q.scale(attachedScale[word])
			i = j
		default:
			if u, ok := unitWords[strings.ToLower(word)]; ok {
				q.setUnit(u.family, u.size)
				i = j
			}
		}
		if i < j { // letters that are neither, as in "5pm": the number ends here
			return q, i
		}
	}
	return readSuffix(s, q, i)
}

// readSuffix reads, after a number ending at s[i], a percent, scale words
// and a unit, each optionally after spaces.
func readSuffix(s string, q Quantity, i int) (Quantity, int) {
	for {
		j := skipSpaces(s, i)
		if j < len(s) && s[j] == '%' {
			q.Percent = true
			i = j + 1
			continue
		}
		if strings.HasPrefix(s[j:], "°") {
			k := j + len("°")
			if k < len(s) && (s[k] == 'C' || s[k] == 'F' || s[k] == 'c' || s[k] == 'f') && !(k+1 < len(s) && isLetterAt(s, k+1)) {
				u := unitWords["°"+strings.ToLower(s[k:k+1])]
				q.setUnit(u.family, u.size)
				return q, k + 1
			}
		}
		word, k := wordAt(s, j)
		lw := strings.ToLower(word)
		switch {
		case word == "":
			return q, i
		case lw == "percent" || lw == "pct":
			q.Percent = true
			i = k
		case lw == "per":
			if w2, k2 := wordAt(s, skipSpaces(s, k)); strings.EqualFold(w2, "cent") {
				q.Percent = true
				i = k2
				continue
			}
			return q, i
		case scaleWords[lw] != 0 && q.Unit == "" && !q.Percent:
			q.scale(scaleWords[lw])
			i = k
		case lw == "degrees" || lw == "degree":
			i = k // "100 degrees Celsius": the unit is the next word
		default:
			if u, ok := unitWords[lw]; ok && q.Unit == "" && len(lw) > 1 {
				q.setUnit(u.family, u.size)
				return q, k
			}
			return q, i
		}
	}
}

func (q *Quantity) scale(f float64) {
	q.Value *= f
	q.Step *= f
}

func (q *Quantity) setUnit(family string, size float64) {
	q.Unit = family
	q.Value *= size
	q.Step *= size
}

func skipSpaces(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// wordAt returns the run of letters at s[i] and the index after it.
func wordAt(s string, i int) (string, int) {
	j := i
	for j < len(s) {
		r, n := utf8.DecodeRuneInString(s[j:])
		if !unicode.IsLetter(r) {
			break
		}
		j += n
	}
	return s[i:j], j
}

func isISODate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for _, k := range []int{0, 1, 2, 3, 5, 6, 8, 9} {
		if !digitAt(s, k) {
			return false
		}
	}
	return true
}

// scanNumberWords reads a number written in words that starts with word
// (s[i:j], lower case); ok is false when word starts none.
func scanNumberWords(s string, i int, word string, j int) (q Quantity, next int, ok bool) {
	var total, cur float64
	seen, end := false, i
	w, wEnd := word, j
	if w == "a" {
		// "a hundred", "a dozen": only with a scale word right after.
		w2, e2 := nextWord(s, j)
		if _, isScale := scaleWords[w2]; w2 != "dozen" && (!isScale || w2 == "mn" || w2 == "bn") {
			return Quantity{}, 0, false
		}
		cur, seen, end = 1, true, j
		w, wEnd = w2, e2
	}
loop:
	for w != "" {
		v, isNumber := wordValue(w)
		f := scaleWords[w]
		switch {
		case w == "dozen" && seen:
			cur *= 12
		case isNumber:
			cur += v
		case w == "hundred" && seen:
			cur *= 100
		case f != 0 && w != "mn" && w != "bn" && seen:
			total += cur * f
			cur = 0
		case w == "and" && seen:
			// "three hundred and five": only when a number word follows.
			w2, _ := nextWord(s, wEnd)
			if _, ok := wordValue(w2); !ok {
				break loop
			}
		default:
			break loop
		}
		seen, end = true, wEnd
		w, wEnd = nextWord(s, wEnd)
	}
	if !seen {
		return Quantity{}, 0, false
	}
	q, next = readSuffix(s, Quantity{Value: total + cur}, end)
	return q, next, true
}

// wordValue is the value of a number word or of a hyphenated compound of a
// tens word and a unit word ("twenty-one").
func wordValue(w string) (float64, bool) {
	tens, unit, hyphen := strings.Cut(w, "-")
	if !hyphen {
		v, ok := numberWords[w]
		return v, ok
	}
	t, ok1 := numberWords[tens]
	u, ok2 := numberWords[unit]
	if !ok1 || !ok2 || t < 20 || t > 90 || u < 1 || u > 9 || w == "" {
		return 0, false
	}
	return t + u, true
}

// nextWord returns the next word after spaces (lower case; letters and
// inner hyphens) and the index after it, or "" when a non-letter comes
// first.
func nextWord(s string, i int) (string, int) {
	j := skipSpaces(s, i)
	k := j
	for k < len(s) {
		r, n := utf8.DecodeRuneInString(s[k:])
		if !unicode.IsLetter(r) && !(r == '-' && k > j && k+n < len(s) && isLetterAt(s, k+n)) {
			break
		}
		k += n
	}
	return strings.ToLower(s[j:k]), k
}

func finishWords(s string, v float64, end int) (Quantity, int, bool) {
	q, next := readSuffix(s, Quantity{Value: v}, end)
	return q, next, true
}

// equal reports whether two figures agree: the same Literal for versions
// and dates; otherwise the same unit family (when both have one) and
// values within tol or within half the coarser Step (a rounded
// restatement), a percentage also matching its fraction ("25%" = 0.25).
func (q Quantity) equal(o Quantity, tol Tolerance) bool {
	if q.Literal != "" || o.Literal != "" {
		return q.Literal == o.Literal
	}
	if q.Unit != "" && o.Unit != "" && q.Unit != o.Unit {
		return false
	}
	near := func(a, b float64) bool {
		if tol.equal(a, b) {
			return true
		}
		half := max(q.Step, o.Step) / 2
		return half > 0 && math.Abs(a-b) <= half*(1+1e-9)
	}
	if near(q.Value, o.Value) {
		return true
	}
	switch {
	case q.Percent && !o.Percent:
		return tol.equal(q.Value/100, o.Value)
	case o.Percent && !q.Percent:
		return tol.equal(q.Value, o.Value/100)
	}
	return false
}

// matchQuantities pairs equal figures of a and b, each used once, and
// returns how many pairs it found. Greedy, in order: a figure takes the
// first equal figure of the other side still free.
func matchQuantities(a, b []Quantity, tol Tolerance) int {
	used := make([]bool, len(b))
	n := 0
	for _, x := range a {
		for k, y := range b {
			if !used[k] && x.equal(y, tol) {
				used[k] = true
				n++
				break
			}
		}
	}
	return n
}

// QuantityDrift compares the figures of two texts as read by [Quantities],
// in any order: drift = 1 − (figures paired as equal) / max(count a, count
// b), each figure paired at most once, so a changed, missing or extra
// figure counts against agreement while "$1.2 million" and "1,200,000
// dollars", "25%" and "0.25", "three" and "3", "90 minutes" and "1.5
// hours" agree. Two numbers are equal within tol, or within half the unit
// of the last digit of the one written with fewer decimals ("3.14" and
// "3.14159" agree; "4.25%" and "4.5%" do not). Unlike [NumericDrift] order
// does not matter and "1.10" and "1.1" after "version" differ. Edge cases:
// two texts without figures drift 0, one without drift 1. A negative or
// NaN tolerance is [agentos.ErrInvalid]; more than [MaxNumbers] figures is
// [ErrTooLarge].
func QuantityDrift(a, b string, tol Tolerance) (Score, error) {
	if err := tol.check(); err != nil {
		return Score{}, err
	}
	qa, err := Quantities(a)
	if err != nil {
		return Score{}, err
	}
	qb, err := Quantities(b)
	if err != nil {
		return Score{}, err
	}
	if s, ok := emptyCase(len(qa) == 0, len(qb) == 0); ok {
		return s, nil
	}
	m := matchQuantities(qa, qb, tol)
	return Score{Drift: 1 - float64(m)/float64(max(len(qa), len(qb))), Confidence: 1}, nil
}
