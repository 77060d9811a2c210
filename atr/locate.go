package atr

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
)

// Bounds on the arguments [Tool.Validate] accepts.
const (
	// MaxArgDepth is how deeply arguments may nest (the arguments object is
	// depth 1). It also stops a map that contains itself.
	MaxArgDepth = 64
	// MaxArgNodes is the most values arguments may hold, counting every
	// object, array and scalar.
	MaxArgNodes = 100_000
	// maxLocateRefs bounds how many $ref hops the locator follows in one
	// descent, so a schema whose refs loop cannot hold it.
	maxLocateRefs = 32
)

// checkArgs checks that args is a JSON-like value tree within the bounds,
// before the schema validator sees it: the validator assumes a tree, and
// NaN or infinities would break its number comparisons.
//
// The common case, valid arguments, takes a fast pass that allocates
// nothing; only when it fails does the slow pass run, visiting keys in
// sorted order and building pointers, to name the offending value the same
// way on every run. The two passes apply the same rules (TestCheckArgsPasses
// compares them).
func checkArgs(tool string, args map[string]any) error {
	nodes := 0
	if argsOK(args, 1, &nodes) {
		return nil
	}
	return checkArgsSlow(tool, args)
}

// argsOK is checkArgs's fast pass.
func argsOK(v any, depth int, nodes *int) bool {
	*nodes++
	if *nodes > MaxArgNodes || depth > MaxArgDepth {
		return false
	}
	switch x := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0)
	case string:
		return utf8.ValidString(x)
	case []any:
		for _, e := range x {
			if !argsOK(e, depth+1, nodes) {
				return false
			}
		}
		return true
	case map[string]any:
		for k, e := range x {
			if !utf8.ValidString(k) || !argsOK(e, depth+1, nodes) {
				return false
			}
		}
		return true
	}
	return false
}

// checkArgsSlow is checkArgs's reporting pass.
func checkArgsSlow(tool string, args map[string]any) error {
	nodes := 0
	var walk func(v any, ptr string, depth int) error
	fail := func(ptr, format string, a ...any) error {
		return &ArgError{Tool: tool, Field: ptr, Reason: fmt.Sprintf(format, a...)}
	}
	walk = func(v any, ptr string, depth int) error {
		nodes++
		if nodes > MaxArgNodes {
			return fail(ptr, "arguments hold more than %d values", MaxArgNodes)
		}
		if depth > MaxArgDepth {
			return fail(ptr, "arguments nest deeper than %d", MaxArgDepth)
		}
		switch x := v.(type) {
		case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			return nil
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fail(ptr, "number %v is not finite", x)
			}
		case float32:
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fail(ptr, "number %v is not finite", x)
			}
		case string:
			if !utf8.ValidString(x) {
				return fail(ptr, "string is not valid UTF-8")
			}
		case []any:
			for i, e := range x {
				if err := walk(e, ptr+"/"+strconv.Itoa(i), depth+1); err != nil {
					return err
				}
			}
		case map[string]any:
			// Sorted, so the value named first is the same on every run.
			for _, k := range slices.Sorted(maps.Keys(x)) {
				p := ptr + "/" + pointerEscape(k)
				if !utf8.ValidString(k) {
					return fail(p, "property name is not valid UTF-8")
				}
				if err := walk(x[k], p, depth+1); err != nil {
					return err
				}
			}
		default:
			return fail(ptr, "value of Go type %T is not JSON-like (want nil, bool, number, string, []any or map[string]any)", v)
		}
		return nil
	}
	if err := walk(args, "", 1); err != nil {
		return err
	}
	// Unreachable while the passes agree; refuse rather than let a value
	// the fast pass rejected through.
	return fail("", "arguments are not a JSON-like value")
}

// locate finds the value that makes instance fail root, for an instance the
// validator has already refused. It checks each schema's own keywords
// against the value in hand, then descends into properties and items; a
// value under anyOf, oneOf, not or if/then/else that passes everything else
// is blamed as a whole, with reason "" (the caller then uses the
// validator's message). It never decides validity, only where to point.
func locate(root *jsonschema.Schema, instance any) (field, reason string) {
	l := locator{root: root}
	if f, r, ok := l.walk(root, instance, "", 0, 0); ok {
		return f, r
	}
	return "", ""
}

type locator struct {
	root *jsonschema.Schema
	// patterns caches compiled regular expressions (nil when a pattern
	// does not compile), so a failure among many properties compiles each
	// pattern once.
	patterns map[string]*regexp.Regexp
}

func (l *locator) pattern(p string) *regexp.Regexp {
	if re, ok := l.patterns[p]; ok {
		return re
	}
	if l.patterns == nil {
		l.patterns = map[string]*regexp.Regexp{}
	}
	re, err := regexp.Compile(p)
	if err != nil {
		re = nil
	}
	l.patterns[p] = re
	return re
}

func (l *locator) walk(s *jsonschema.Schema, v any, ptr string, depth, refs int) (string, string, bool) {
	if s == nil || depth > MaxArgDepth+1 {
		return "", "", false
	}
	if s.Ref != "" {
		target := l.ref(s.Ref)
		if target == nil || refs >= maxLocateRefs {
			return ptr, "", true
		}
		if f, r, ok := l.walk(target, v, ptr, depth, refs+1); ok {
			return f, r, ok
		}
	}
	got := jsonTypeOf(v)
	if want := s.Types; s.Type != "" || len(want) > 0 {
		if s.Type != "" {
			want = []string{s.Type}
		}
		if !slices.Contains(want, got) && !(got == "integer" && slices.Contains(want, "number")) {
			return ptr, fmt.Sprintf("has type %s, want %s", got, strings.Join(want, " or ")), true
		}
	}
	if s.Enum != nil && !slices.ContainsFunc(s.Enum, func(e any) bool { return jsonschema.Equal(e, v) }) {
		return ptr, fmt.Sprintf("value %s is not one of %s", short(v), short(s.Enum)), true
	}
	if s.Const != nil && !jsonschema.Equal(*s.Const, v) {
		return ptr, fmt.Sprintf("value %s is not %s", short(v), short(*s.Const)), true
	}
	if r := numberReason(s, v); r != "" {
		return ptr, r, true
	}
	if r := l.stringReason(s, v); r != "" {
		return ptr, r, true
	}
	for _, sub := range s.AllOf {
		if f, r, ok := l.walk(sub, v, ptr, depth, refs); ok {
			return f, r, ok
		}
	}
	switch x := v.(type) {
	case map[string]any:
		if f, r, ok := l.object(s, x, ptr, depth, refs); ok {
			return f, r, ok
		}
	case []any:
		if f, r, ok := l.array(s, x, ptr, depth, refs); ok {
			return f, r, ok
		}
	}
	if s.AnyOf != nil || s.OneOf != nil || s.Not != nil || s.If != nil ||
		s.DependentSchemas != nil || s.DependencySchemas != nil || s.DependentRequired != nil ||
		s.DependencyStrings != nil || s.UnevaluatedProperties != nil || s.UnevaluatedItems != nil ||
		s.Contains != nil || s.PropertyNames != nil || s.DynamicRef != "" {
		return ptr, "", true
	}
	return "", "", false
}

func (l *locator) object(s *jsonschema.Schema, m map[string]any, ptr string, depth, refs int) (string, string, bool) {
	for _, p := range s.Required {
		if _, ok := m[p]; !ok {
			return ptr + "/" + pointerEscape(p), "required property is missing", true
		}
	}
	keys := slices.Sorted(maps.Keys(m))
	closed := isFalse(s.AdditionalProperties)
	for _, k := range keys {
		p := ptr + "/" + pointerEscape(k)
		matched := false
		if sub, ok := s.Properties[k]; ok {
			matched = true
			if isFalse(sub) {
				return p, "property is not allowed", true
			}
			if f, r, ok := l.walk(sub, m[k], p, depth+1, refs); ok {
				return f, r, ok
			}
		}
		for pat, sub := range s.PatternProperties {
			if re := l.pattern(pat); re != nil && re.MatchString(k) {
				matched = true
				if f, r, ok := l.walk(sub, m[k], p, depth+1, refs); ok {
					return f, r, ok
				}
			}
		}
		if matched || s.AdditionalProperties == nil {
			continue
		}
		if closed {
			return p, "unknown property (the schema allows no other properties)", true
		}
		if f, r, ok := l.walk(s.AdditionalProperties, m[k], p, depth+1, refs); ok {
			return f, r, ok
		}
	}
	if s.MinProperties != nil && len(m) < *s.MinProperties {
		return ptr, fmt.Sprintf("object has %d properties, fewer than %d", len(m), *s.MinProperties), true
	}
	if s.MaxProperties != nil && len(m) > *s.MaxProperties {
		return ptr, fmt.Sprintf("object has %d properties, more than %d", len(m), *s.MaxProperties), true
	}
	return "", "", false
}

func (l *locator) array(s *jsonschema.Schema, a []any, ptr string, depth, refs int) (string, string, bool) {
	if s.MinItems != nil && len(a) < *s.MinItems {
		return ptr, fmt.Sprintf("array has %d items, fewer than %d", len(a), *s.MinItems), true
	}
	if s.MaxItems != nil && len(a) > *s.MaxItems {
		return ptr, fmt.Sprintf("array has %d items, more than %d", len(a), *s.MaxItems), true
	}
	for i, e := range a {
		var sub *jsonschema.Schema
		switch {
		case i < len(s.PrefixItems):
			sub = s.PrefixItems[i]
		case i < len(s.ItemsArray):
			sub = s.ItemsArray[i]
		case s.ItemsArray != nil:
			sub = s.AdditionalItems
		default:
			sub = s.Items
		}
		if sub == nil {
			continue
		}
		p := ptr + "/" + strconv.Itoa(i)
		if isFalse(sub) {
			return p, "item is not allowed", true
		}
		if f, r, ok := l.walk(sub, e, p, depth+1, refs); ok {
			return f, r, ok
		}
	}
	if s.UniqueItems {
		if i, j, ok := firstDuplicate(a); ok {
			return ptr + "/" + strconv.Itoa(i), fmt.Sprintf("item equals item %d (items must be unique)", j), true
		}
		return ptr, "items must be unique", true
	}
	return "", "", false
}

// ref resolves a local reference ("#", "#/$defs/x", "#/definitions/x",
// "#/properties/a/items"...) against the root; nil for anything else.
func (l *locator) ref(ref string) *jsonschema.Schema {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil
	}
	s := l.root
	if frag == "" {
		return s
	}
	toks := strings.Split(strings.TrimPrefix(frag, "/"), "/")
	for i := 0; i < len(toks) && s != nil; i++ {
		tok := strings.NewReplacer("~1", "/", "~0", "~").Replace(toks[i])
		next := func(m map[string]*jsonschema.Schema) *jsonschema.Schema {
			if i+1 >= len(toks) {
				return nil
			}
			i++
			return m[strings.NewReplacer("~1", "/", "~0", "~").Replace(toks[i])]
		}
		switch tok {
		case "$defs":
			s = next(s.Defs)
		case "definitions":
			s = next(s.Definitions)
		case "properties":
			s = next(s.Properties)
		case "items":
			s = s.Items
		case "additionalProperties":
			s = s.AdditionalProperties
		default:
			return nil
		}
	}
	return s
}

// isFalse reports whether s is the schema "false", which jsonschema-go
// holds as {"not":{}}.
func isFalse(s *jsonschema.Schema) bool {
	return s != nil && s.Not != nil && reflect.ValueOf(*s.Not).IsZero()
}

func numberReason(s *jsonschema.Schema, v any) string {
	n, ok := toFloat(v)
	if !ok {
		return ""
	}
	switch {
	case s.Minimum != nil && n < *s.Minimum:
		return fmt.Sprintf("%s is less than the minimum %v", short(v), *s.Minimum)
	case s.Maximum != nil && n > *s.Maximum:
		return fmt.Sprintf("%s is greater than the maximum %v", short(v), *s.Maximum)
	case s.ExclusiveMinimum != nil && n <= *s.ExclusiveMinimum:
		return fmt.Sprintf("%s is not greater than %v", short(v), *s.ExclusiveMinimum)
	case s.ExclusiveMaximum != nil && n >= *s.ExclusiveMaximum:
		return fmt.Sprintf("%s is not less than %v", short(v), *s.ExclusiveMaximum)
	case s.MultipleOf != nil && *s.MultipleOf != 0:
		if _, f := math.Modf(n / *s.MultipleOf); f != 0 {
			return fmt.Sprintf("%s is not a multiple of %v", short(v), *s.MultipleOf)
		}
	}
	return ""
}

func (l *locator) stringReason(s *jsonschema.Schema, v any) string {
	str, ok := v.(string)
	if !ok {
		return ""
	}
	n := utf8.RuneCountInString(str)
	switch {
	case s.MinLength != nil && n < *s.MinLength:
		return fmt.Sprintf("string has %d characters, fewer than %d", n, *s.MinLength)
	case s.MaxLength != nil && n > *s.MaxLength:
		return fmt.Sprintf("string has %d characters, more than %d", n, *s.MaxLength)
	case s.Pattern != "":
		if re := l.pattern(s.Pattern); re != nil && !re.MatchString(str) {
			return fmt.Sprintf("string does not match the pattern %q", s.Pattern)
		}
	}
	return ""
}

// jsonTypeOf names v's JSON type as JSON Schema does: a float with no
// fraction is an "integer".
func jsonTypeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case float64:
		if _, f := math.Modf(x); f == 0 {
			return "integer"
		}
		return "number"
	case float32:
		if _, f := math.Modf(float64(x)); f == 0 {
			return "integer"
		}
		return "number"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "integer"
	}
	return fmt.Sprintf("%T", v)
}

func toFloat(v any) (float64, bool) {
	rv := reflect.ValueOf(v)
	switch {
	case !rv.IsValid():
		return 0, false
	case rv.CanInt():
		return float64(rv.Int()), true
	case rv.CanUint():
		return float64(rv.Uint()), true
	case rv.CanFloat():
		return rv.Float(), true
	}
	return 0, false
}

// short formats v for a reason, cut to a readable length.
func short(v any) string {
	s := fmt.Sprintf("%v", v)
	if str, ok := v.(string); ok {
		s = strconv.Quote(str)
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strings.ToValidUTF8(s, "")
}

// maxDuplicateCompares bounds the comparisons firstDuplicate makes.
const maxDuplicateCompares = 100_000

// firstDuplicate finds the first item of a equal (as JSON values, so 5 and
// 5.0 are equal) to an earlier one, in about linear time: items are
// bucketed by a key that equal items share, and compared only within a
// bucket, at most maxDuplicateCompares times (past that, ok is false and
// the caller blames the array as a whole).
func firstDuplicate(a []any) (i, j int, ok bool) {
	buckets := map[string][]int{}
	compares := 0
	for i, e := range a {
		k := dupKey(e)
		for _, j := range buckets[k] {
			if compares++; compares > maxDuplicateCompares {
				return 0, 0, false
			}
			if jsonschema.Equal(e, a[j]) {
				return i, j, true
			}
		}
		buckets[k] = append(buckets[k], i)
	}
	return 0, 0, false
}

// dupKey is a key that JSON-equal values share: scalars by value with
// every number as a float64, composites by kind and length.
func dupKey(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case string:
		return "s" + x
	case []any:
		return "a" + strconv.Itoa(len(x))
	case map[string]any:
		return "o" + strconv.Itoa(len(x))
	}
	if f, ok := toFloat(v); ok {
		return "n" + strconv.FormatFloat(f, 'g', -1, 64)
	}
	return fmt.Sprintf("%T", v)
}
