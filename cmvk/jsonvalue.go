package cmvk

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// jsonLeaf is one leaf of a JSON value: its kind and its normalised value.
type jsonLeaf struct {
	kind string  // string, number, bool, null, or {} / [] for an empty object or array
	str  string  // a string, white space collapsed and lower-cased; a bool's "true"/"false"
	num  float64 // a number
}

// JSONValueDrift compares two JSON values by their leaves: every scalar,
// empty object and empty array, addressed by its path from the root
// (object keys by name, so key order does not matter; array elements by
// index, so lists are compared in order: a reversed ranking or an element
// added moves it). Drift is 1 − (paths present on both sides with equal
// leaves) / (paths present on either side). Leaves are equal when they are
// the same kind and numbers agree within tol (10.0 = 10 = 1e1), strings
// after trimming, collapsing white space and folding case, booleans and
// null exactly. So reordered keys, pretty-printing and "\u00e9" for "é"
// drift 0; a flipped boolean, an amount ten times higher, another
// recipient, a missing, extra or renamed key, or a number turned into a
// string move it up by that leaf's share.
//
// Each text may be wrapped in a Markdown code fence (```json … ```), which
// is removed. Two texts of white space alone drift 0, one of them drift 1.
// A text that is not exactly one JSON value is [ErrNotJSON]; nesting
// deeper than [MaxJSONDepth] or more than [MaxJSONPaths] leaves is
// [ErrTooLarge]; a negative or NaN tol is [agentos.ErrInvalid]. Confidence
// is 1.
func JSONValueDrift(a, b string, tol Tolerance) (Score, error) {
	if err := tol.check(); err != nil {
		return Score{}, err
	}
	a, b = unfence(a), unfence(b)
	if s, ok := emptyCase(blank(a), blank(b)); ok {
		return s, nil
	}
	la, err := jsonLeaves(a)
	if err != nil {
		return Score{}, err
	}
	lb, err := jsonLeaves(b)
	if err != nil {
		return Score{}, err
	}
	union, same := len(la), 0
	for p, x := range lb {
		y, ok := la[p]
		if !ok {
			union++
			continue
		}
		if x.equal(y, tol) {
			same++
		}
	}
	return Score{Drift: 1 - float64(same)/float64(union), Confidence: 1}, nil
}

func (x jsonLeaf) equal(y jsonLeaf, tol Tolerance) bool {
	if x.kind != y.kind {
		return false
	}
	if x.kind == "number" {
		return tol.equal(x.num, y.num)
	}
	return x.str == y.str
}

// unfence removes one Markdown code fence around s: a first line of three
// backticks and an optional language tag, and a last line of three
// backticks. Anything else is returned as it is.
func unfence(s string) string {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "```") || !strings.HasSuffix(t, "```") || len(t) < 6 {
		return s
	}
	body, ok := strings.CutSuffix(t[3:], "```")
	if !ok {
		return s
	}
	nl := strings.IndexByte(body, '\n')
	if nl < 0 {
		return s
	}
	if tag := strings.TrimSpace(body[:nl]); strings.ContainsAny(tag, " {[\"") {
		return s // not a language tag: the fence is not one
	}
	return body[nl+1:]
}

// jsonLeaves returns the leaves of the JSON value s by path, as described
// at [JSONValueDrift]: "$" is the root, .<quoted key> an object member,
// [i] an array element. Its errors are those of [JSONValueDrift].
func jsonLeaves(s string) (map[string]jsonLeaf, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	out := make(map[string]jsonLeaf)
	err := walkJSON(dec, "$", 0, true, func(path string, tok json.Token, members int) error {
		var l jsonLeaf
		switch t := tok.(type) {
		case json.Delim:
			if members > 0 {
				return nil // a container is a leaf only when empty
			}
			l.kind = "{}"
			if t == '[' {
				l.kind = "[]"
			}
		case string:
			l = jsonLeaf{kind: "string", str: strings.ToLower(strings.Join(strings.Fields(t), " "))}
		case json.Number:
			f, err := strconv.ParseFloat(string(t), 64)
			if err != nil && f == 0 {
				return fmt.Errorf("%w: number %s: %v", ErrNotJSON, t, err)
			}
			l = jsonLeaf{kind: "number", num: f} // out of range: ±Inf, equal only to itself
		case bool:
			l = jsonLeaf{kind: "bool", str: strconv.FormatBool(t)}
		case nil:
			l = jsonLeaf{kind: "null"}
		}
		out[path] = l
		if len(out) > MaxJSONPaths {
			return fmt.Errorf("%w: more than %d JSON leaves", ErrTooLarge, MaxJSONPaths)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the value", ErrNotJSON)
	}
	return out, nil
}
