package atr

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type level int8

type diffInner struct {
	Name  string   `json:"name"`
	Score float64  `json:"score"`
	Tags  []string `json:"tags"`
}

type diffArgs struct {
	S      string                `json:"s"`
	B      bool                  `json:"b"`
	I      int                   `json:"i"`
	I8     int8                  `json:"i8"`
	L      level                 `json:"l"`
	U      uint16                `json:"u"`
	U64    uint64                `json:"u64"`
	I64    int64                 `json:"i64"`
	F      float64               `json:"f"`
	P      *int                  `json:"p"`
	PS     *diffInner            `json:"ps"`
	In     diffInner             `json:"in"`
	Sl     []int                 `json:"sl"`
	M      map[string]float64    `json:"m"`
	MI     map[string]*diffInner `json:"mi"`
	A      any                   `json:"a"`
	AS     []any                 `json:"as"`
	NoTag  string
	Skip   string `json:"-"`
	Omit   string `json:"omit,omitempty"`
	hidden int
}

var diffKeys = []string{"s", "b", "i", "i8", "l", "u", "u64", "i64", "f", "p", "ps", "in", "sl", "m", "mi", "a", "as",
	"NoTag", "notag", "Skip", "-", "S", "omit", "hidden", "name", "score", "tags", "Name", "extra"}

var diffScalars = []any{
	nil, true, false, "", "x", "ünï", int(1), int8(-1), int16(300), int32(-70000), int64(math.MaxInt64), int64(math.MinInt64),
	uint(7), uint8(255), uint16(65535), uint32(1 << 31), uint64(math.MaxUint64), uint64(1 << 63),
	0.0, math.Copysign(0, -1), 1.0, -1.0, 1.5, 127.0, 128.0, -129.0, 65536.0, 1e20, 1e21, -1e21, 9007199254740993.0,
	math.Ldexp(1, 63), math.Ldexp(1, 64), -math.Ldexp(1, 63), math.Ldexp(1, 62), math.Ldexp(1, 53), math.Ldexp(1, 53) + 2, -math.Ldexp(1, 53), 0.1, 1e-7, 5e-324, float32(0.1), float32(2),
}

// genFor builds a value shaped like t, now and then (one time in forty)
// replaced by an arbitrary scalar.
func genFor(rng *rand.Rand, t reflect.Type, depth int) any {
	if depth <= 0 || rng.IntN(40) == 0 {
		return diffScalars[rng.IntN(len(diffScalars))]
	}
	nums := func(lo, hi int64) any {
		switch rng.IntN(8) {
		case 0, 4, 5, 6:
			return lo + rng.Int64N(hi-lo+1)
		case 1:
			return float64(lo + rng.Int64N(hi-lo+1))
		case 2:
			return []any{lo, hi, float64(lo), float64(hi)}[rng.IntN(4)]
		}
		return diffScalars[rng.IntN(len(diffScalars))]
	}
	switch t.Kind() {
	case reflect.String:
		return []string{"", "a", "héllo", "\u0000"}[rng.IntN(4)]
	case reflect.Bool:
		return rng.IntN(2) == 0
	case reflect.Int8:
		return nums(math.MinInt8, math.MaxInt8)
	case reflect.Int, reflect.Int64:
		return nums(-1<<40, 1<<40)
	case reflect.Uint16:
		return nums(0, math.MaxUint16)
	case reflect.Uint64:
		return nums(0, 1<<50)
	case reflect.Float64:
		return []any{rng.Float64() * 1e6, int64(rng.IntN(1000)), uint8(3), -0.5}[rng.IntN(4)]
	case reflect.Pointer:
		if rng.IntN(4) == 0 {
			return nil
		}
		return genFor(rng, t.Elem(), depth)
	case reflect.Slice:
		a := make([]any, rng.IntN(4))
		for i := range a {
			a[i] = genFor(rng, t.Elem(), depth-1)
		}
		return a
	case reflect.Map:
		m := map[string]any{}
		for i := range rng.IntN(4) {
			m[string(rune('k'+i))] = genFor(rng, t.Elem(), depth-1)
		}
		return m
	case reflect.Interface:
		return diffValue(rng, depth-1)
	case reflect.Struct:
		m := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("json")
			if name == "-" || !f.IsExported() || rng.IntN(3) == 0 {
				continue
			}
			if n, _, _ := strings.Cut(name, ","); n != "" {
				name = n
			} else {
				name = f.Name
			}
			m[name] = genFor(rng, f.Type, depth-1)
		}
		return m
	}
	return nil
}

func diffValue(rng *rand.Rand, depth int) any {
	switch n := rng.IntN(10); {
	case depth <= 0 || n < 6:
		return diffScalars[rng.IntN(len(diffScalars))]
	case n < 8:
		a := make([]any, rng.IntN(4))
		for i := range a {
			a[i] = diffValue(rng, depth-1)
		}
		return a
	default:
		m := map[string]any{}
		for range rng.IntN(4) {
			m[diffKeys[rng.IntN(len(diffKeys))]] = diffValue(rng, depth-1)
		}
		return m
	}
}

// TestDecoderMatchesJSON is the differential test of the typed fast path
// against the JSON round trip it stands in for: whenever the fast path
// accepts arguments, JSON accepts them too and produces an identical
// value. Generated arguments mix right and wrong types, boundary numbers
// (overflow, -0, 1e21, 2^53+1, float32) and unknown and case-variant keys.
func TestDecoderMatchesJSON(t *testing.T) {
	dec := newDecoder(reflect.TypeFor[diffArgs]())
	require.NotNil(t, dec)
	rng := rand.New(rand.NewPCG(3, 4))
	fastOK := 0
	const runs = 30_000
	for range runs {
		var args map[string]any
		if rng.IntN(2) == 0 {
			args = map[string]any{}
			for range 1 + rng.IntN(5) {
				args[diffKeys[rng.IntN(len(diffKeys))]] = diffValue(rng, 3)
			}
		} else {
			m, ok := genFor(rng, reflect.TypeFor[diffArgs](), 4).(map[string]any)
			if !ok {
				continue
			}
			args = m
		}
		if checkArgs("t", args) != nil {
			continue // Call never decodes what Validate refused
		}
		var fast diffArgs
		if !dec(reflect.ValueOf(&fast).Elem(), args) {
			continue
		}
		fastOK++
		var slow diffArgs
		require.NoError(t, decodeStrict("t", args, &slow), "fast path accepted %#v", args)
		require.Equal(t, slow, fast, "args %#v", args)
	}
	t.Logf("fast path took %d of %d argument sets", fastOK, runs)
	require.Greater(t, fastOK, runs/20, "the generator must reach the fast path often")
}

func TestDecoderCoverage(t *testing.T) {
	type embedded struct{ diffInner }
	type withString struct {
		N int `json:"n,string"`
	}
	// Built at run time: vet refuses the literal with a repeated tag.
	dupNames := reflect.StructOf([]reflect.StructField{
		{Name: "A", Type: reflect.TypeFor[string](), Tag: `json:"x"`},
		{Name: "B", Type: reflect.TypeFor[string](), Tag: `json:"x"`},
	})
	type oddTag struct {
		A string `json:"a b"`
	}
	type stringer interface{ String() string }
	for name, typ := range map[string]reflect.Type{
		"time":        reflect.TypeFor[struct{ T time.Time }](),
		"embedded":    reflect.TypeFor[embedded](),
		"string opt":  reflect.TypeFor[withString](),
		"array":       reflect.TypeFor[struct{ A [3]int }](),
		"bytes":       reflect.TypeFor[struct{ B []byte }](),
		"float32":     reflect.TypeFor[struct{ F float32 }](),
		"iface":       reflect.TypeFor[struct{ S stringer }](),
		"int map key": reflect.TypeFor[struct{ M map[int]string }](),
		"dup names":   dupNames,
		"odd tag":     reflect.TypeFor[oddTag](),
	} {
		require.Nil(t, newDecoder(typ), name)
	}
	require.NotNil(t, newDecoder(reflect.TypeFor[struct{}]()))
}
