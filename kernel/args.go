package kernel

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/internal/jsonenc"
)

// Bounds on tool arguments. Arguments beyond them are denied by the kernel
// (rule kernel.args) before policy sees them.
const (
	MaxArgsDepth  = 32      // nesting of maps and lists
	MaxArgsValues = 10_000  // values in total, keys included
	MaxArgsBytes  = 4 << 20 // bytes of strings in total
)

// copyArgs makes the kernel's own deep copy of tool arguments, so that what
// policy decided on is exactly what the tool receives and what is recorded,
// whatever the caller does with its map afterwards. It accepts JSON-like
// values: nil, bool, string, the integer and float kinds, json.Number,
// []any, []string, map[string]any and map[string]string. Integers stay
// int64 (uint64 above MaxInt64 is refused); floats become float64 and must
// be finite.
func copyArgs(in map[string]any) (map[string]any, error) {
	if in == nil {
		return map[string]any{}, nil
	}
	b := argsBudget{values: MaxArgsValues, bytes: MaxArgsBytes}
	v, err := b.copy(in, 0)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

type argsBudget struct {
	values, bytes int
}

func (b *argsBudget) spend(strBytes int) error {
	b.values--
	b.bytes -= strBytes
	if b.values < 0 {
		return fmt.Errorf("%w: more than %d argument values", agentos.ErrInvalid, MaxArgsValues)
	}
	if b.bytes < 0 {
		return fmt.Errorf("%w: more than %d bytes of argument strings", agentos.ErrInvalid, MaxArgsBytes)
	}
	return nil
}

func (b *argsBudget) str(s string) (string, error) {
	if err := b.spend(len(s)); err != nil {
		return "", err
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: argument string is not valid UTF-8", agentos.ErrInvalid)
	}
	return s, nil
}

func (b *argsBudget) copy(v any, depth int) (any, error) {
	if depth > MaxArgsDepth {
		return nil, fmt.Errorf("%w: arguments nested deeper than %d", agentos.ErrInvalid, MaxArgsDepth)
	}
	switch x := v.(type) {
	case nil:
		return nil, b.spend(0)
	case bool:
		return v, b.spend(0)
	case string:
		// v itself, not x boxed again: strings are immutable, and the
		// copy then costs no allocation per string.
		if _, err := b.str(x); err != nil {
			return nil, err
		}
		return v, nil
	case int:
		return int64(x), b.spend(0)
	case int8:
		return int64(x), b.spend(0)
	case int16:
		return int64(x), b.spend(0)
	case int32:
		return int64(x), b.spend(0)
	case int64:
		return v, b.spend(0)
	case uint:
		return b.uint(uint64(x))
	case uint8:
		return int64(x), b.spend(0)
	case uint16:
		return int64(x), b.spend(0)
	case uint32:
		return int64(x), b.spend(0)
	case uint64:
		return b.uint(x)
	case float32:
		return b.float(float64(x))
	case float64:
		if _, err := b.float(x); err != nil {
			return nil, err
		}
		return v, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, b.spend(0)
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("%w: argument number %q", agentos.ErrInvalid, string(x))
		}
		return b.float(f)
	case []any:
		if err := b.spend(0); err != nil {
			return nil, err
		}
		out := make([]any, len(x))
		for i, e := range x {
			c, err := b.copy(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case []string:
		if err := b.spend(0); err != nil {
			return nil, err
		}
		out := make([]any, len(x))
		for i, e := range x {
			s, err := b.str(e)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	case map[string]any:
		if err := b.spend(0); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if _, err := b.str(k); err != nil {
				return nil, err
			}
			c, err := b.copy(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case map[string]string:
		if err := b.spend(0); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if _, err := b.str(k); err != nil {
				return nil, err
			}
			s, err := b.str(e)
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: argument of type %T (want JSON-like values)", agentos.ErrInvalid, v)
}

func (b *argsBudget) uint(x uint64) (any, error) {
	if x > math.MaxInt64 {
		return nil, fmt.Errorf("%w: argument integer %d overflows int64", agentos.ErrInvalid, x)
	}
	return int64(x), b.spend(0)
}

func (b *argsBudget) float(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%w: argument number is not finite", agentos.ErrInvalid)
	}
	return f, b.spend(0)
}

// appendArgsJSON appends the JSON encoding of v, a value copyArgs made
// (nil, bool, string, int64, float64, []any, map[string]any), to b: the
// bytes json.Marshal gives for it (object keys sorted, HTML characters
// and U+2028/U+2029 escaped, floats formatted as encoding/json formats
// them), without reflection and in one growing buffer. It reports false
// for a value of any other type; the caller then uses json.Marshal.
// FuzzArgsJSON and TestArgsJSONMatchesMarshal hold it to json.Marshal.
func appendArgsJSON(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case bool:
		return strconv.AppendBool(b, x), true
	case string:
		return jsonenc.AppendString(b, x, true), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return b, false
		}
		return appendJSONFloat(b, x), true
	case []any:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendArgsJSON(b, e); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	case map[string]any:
		if x == nil {
			return append(b, "null"...), true
		}
		var small [16]string
		keys := small[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, k, true)
			b = append(b, ':')
			var ok bool
			if b, ok = appendArgsJSON(b, x[k]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	}
	return b, false
}

// appendJSONFloat formats f as encoding/json does: the shortest
// representation, in exponent form below 1e-6 and from 1e21, with a
// one-digit negative exponent written without its leading zero.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// copyArgsJSON is copyArgs and then marshalArgs of the copy, in one walk
// of the top-level map: the copy's entries are kept in key order as they
// are made, and the JSON is written from them without walking the map a
// second time. It copies and refuses exactly as copyArgs does; an
// encoding error is wrapped in agentos.ErrInvalid.
// TestCopyArgsJSONMatchesSteps holds it to copyArgs and marshalArgs.
func copyArgsJSON(in map[string]any) (map[string]any, []byte, error) {
	// copy's map[string]any case at depth 0, the entries kept.
	b := argsBudget{values: MaxArgsValues, bytes: MaxArgsBytes}
	if err := b.spend(0); err != nil {
		return nil, nil, err
	}
	var arr [smallArgs]argPair
	pairs := arr[:0] // more entries grow onto the heap
	out := make(map[string]any, len(in))
	for k, e := range in {
		if _, err := b.str(k); err != nil {
			return nil, nil, err
		}
		c, err := b.copy(e, 1)
		if err != nil {
			return nil, nil, err
		}
		out[k] = c
		pairs = append(pairs, argPair{k, c})
	}
	// appendArgsJSON's map case over the kept entries.
	for i := 1; i < len(pairs); i++ {
		for j := i; j > 0 && pairs[j].k < pairs[j-1].k; j-- {
			pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
		}
	}
	js := append(make([]byte, 0, 128), '{')
	for i, p := range pairs {
		if i > 0 {
			js = append(js, ',')
		}
		js = jsonenc.AppendString(js, p.k, true)
		js = append(js, ':')
		var ok bool
		if js, ok = appendArgsJSON(js, p.v); !ok {
			j, err := json.Marshal(out)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %w", agentos.ErrInvalid, err)
			}
			return out, j, nil
		}
	}
	return out, append(js, '}'), nil
}

// smallArgs is the number of top-level arguments copyArgsJSON sorts in an
// array on the stack (a larger array costs more to zero than most calls
// save).
const smallArgs = 8

type argPair struct {
	k string
	v any
}

// marshalArgs is the JSON of a copyArgs copy, as json.Marshal gives it.
func marshalArgs(v map[string]any) ([]byte, error) {
	if b, ok := appendArgsJSON(make([]byte, 0, 128), v); ok {
		return b, nil
	}
	return json.Marshal(v)
}
