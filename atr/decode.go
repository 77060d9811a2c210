package atr

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"strings"
)

// A decoder assigns a typed tool's validated arguments to its argument
// struct without the JSON round trip (marshal the map, decode the bytes)
// that decodeStrict makes. It is a fast path only: it covers the types and
// values for which it can reproduce encoding/json's result exactly, and
// for anything else reports false, after which the caller decodes through
// JSON into a fresh value, which is authoritative, errors included.
// TestDecoderMatchesJSON compares the two over generated arguments.
type decoder func(dst reflect.Value, v any) bool

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// newDecoder returns the decoder for t, or nil when t (or a type inside
// it) is outside the fast path: custom unmarshalers, embedded structs,
// ",string" fields, duplicate field names, arrays, []byte, float32,
// interfaces with methods, maps with keys other than string.
func newDecoder(t reflect.Type) decoder {
	return planType(t, map[reflect.Type]bool{})
}

func planType(t reflect.Type, visiting map[reflect.Type]bool) decoder {
	if visiting[t] {
		return nil // recursive type; jsonschema.For refuses them anyway
	}
	if t.Implements(jsonUnmarshaler) || t.Implements(textUnmarshaler) ||
		reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	visiting[t] = true
	defer delete(visiting, t)
	switch t.Kind() {
	case reflect.Bool:
		return func(dst reflect.Value, v any) bool {
			b, ok := v.(bool)
			if ok {
				dst.SetBool(b)
			}
			return ok || v == nil
		}
	case reflect.String:
		return func(dst reflect.Value, v any) bool {
			s, ok := v.(string)
			if ok {
				dst.SetString(s)
			}
			return ok || v == nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return decodeInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return decodeUint
	case reflect.Float64:
		return decodeFloat
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return nil
		}
		return func(dst reflect.Value, v any) bool {
			x, ok := jsonAny(v)
			if ok && x != nil {
				dst.Set(reflect.ValueOf(x))
			}
			return ok
		}
	case reflect.Pointer:
		elem := planType(t.Elem(), visiting)
		if elem == nil {
			return nil
		}
		return func(dst reflect.Value, v any) bool {
			if v == nil {
				return true
			}
			p := reflect.New(t.Elem())
			if !elem(p.Elem(), v) {
				return false
			}
			dst.Set(p)
			return true
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // []byte is base64 in JSON
		}
		elem := planType(t.Elem(), visiting)
		if elem == nil {
			return nil
		}
		return func(dst reflect.Value, v any) bool {
			if v == nil {
				return true
			}
			a, ok := v.([]any)
			if !ok {
				return false
			}
			s := reflect.MakeSlice(t, len(a), len(a))
			for i, e := range a {
				if !elem(s.Index(i), e) {
					return false
				}
			}
			dst.Set(s)
			return true
		}
	case reflect.Map:
		if t.Key() != reflect.TypeFor[string]() {
			return nil
		}
		elem := planType(t.Elem(), visiting)
		if elem == nil {
			return nil
		}
		return func(dst reflect.Value, v any) bool {
			if v == nil {
				return true
			}
			m, ok := v.(map[string]any)
			if !ok {
				return false
			}
			out := reflect.MakeMapWithSize(t, len(m))
			for k, e := range m {
				ev := reflect.New(t.Elem()).Elem()
				if !elem(ev, e) {
					return false
				}
				out.SetMapIndex(reflect.ValueOf(k), ev)
			}
			dst.Set(out)
			return true
		}
	case reflect.Struct:
		return planStruct(t, visiting)
	}
	return nil
}

func planStruct(t reflect.Type, visiting map[reflect.Type]bool) decoder {
	type field struct {
		index int
		dec   decoder
	}
	fields := map[string]field{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",string,") {
			return nil
		}
		if name == "" {
			name = f.Name
		} else if CheckName(name) != nil {
			return nil // JSON's own rules for odd tag names are not copied here
		}
		if _, dup := fields[name]; dup {
			return nil
		}
		dec := planType(f.Type, visiting)
		if dec == nil {
			return nil
		}
		fields[name] = field{i, dec}
	}
	return func(dst reflect.Value, v any) bool {
		if v == nil {
			return true
		}
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for k, e := range m {
			f, ok := fields[k]
			if !ok {
				return false // unknown, or a case-insensitive match: JSON decides
			}
			if !f.dec(dst.Field(f.index), e) {
				return false
			}
		}
		return true
	}
}

// decodeInt and decodeUint accept a Go integer, or an integral float of at
// most 2^53 in magnitude, that fits dst.
func decodeInt(dst reflect.Value, v any) bool {
	var n int64
	switch x := v.(type) {
	case nil:
		return true
	case int:
		n = int64(x)
	case int8:
		n = int64(x)
	case int16:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case uint, uint8, uint16, uint32, uint64:
		u := reflect.ValueOf(x).Uint()
		if u > math.MaxInt64 {
			return false
		}
		n = int64(u)
	case float64:
		// JSON writes a float's shortest round-trip digits: the exact
		// integer only up to 2^53 (beyond, 2^62 is written
		// 4611686018427388000), so larger ones take the JSON path.
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return false
		}
		n = int64(x)
	default:
		return false
	}
	if dst.OverflowInt(n) {
		return false
	}
	dst.SetInt(n)
	return true
}

func decodeUint(dst reflect.Value, v any) bool {
	var n uint64
	switch x := v.(type) {
	case nil:
		return true
	case int, int8, int16, int32, int64:
		i := reflect.ValueOf(x).Int()
		if i < 0 {
			return false
		}
		n = uint64(i)
	case uint:
		n = uint64(x)
	case uint8:
		n = uint64(x)
	case uint16:
		n = uint64(x)
	case uint32:
		n = uint64(x)
	case uint64:
		n = x
	case float64:
		// As in decodeInt; and "-0" does not parse as an unsigned integer.
		if x != math.Trunc(x) || x < 0 || math.Signbit(x) || x > 1<<53 {
			return false
		}
		n = uint64(x)
	default:
		return false
	}
	if dst.OverflowUint(n) {
		return false
	}
	dst.SetUint(n)
	return true
}

func decodeFloat(dst reflect.Value, v any) bool {
	if v == nil {
		return true
	}
	f, ok := floatOf(v)
	if ok {
		dst.SetFloat(f)
	}
	return ok
}

// floatOf converts a Go number the way JSON's decimal round trip does:
// integers and float64s come back as the float64 nearest to them (both
// conversions round to nearest even). A float32 does not: JSON writes its
// shortest float32 digits, which parse to a different float64.
func floatOf(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// jsonAny copies v as encoding/json decodes it into an interface{}: numbers
// become float64, objects map[string]any, arrays []any.
func jsonAny(v any) (any, bool) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, true
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, ok := jsonAny(e)
			if !ok {
				return nil, false
			}
			out[i] = c
		}
		return out, true
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, ok := jsonAny(e)
			if !ok {
				return nil, false
			}
			out[k] = c
		}
		return out, true
	}
	return floatOf(v)
}
