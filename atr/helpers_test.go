package atr_test

import (
	"bytes"
	"io"
	"math"
	"strconv"
	"strings"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// intify turns integral float64s into int64, as the kernel's argument copy
// delivers integers.
func intify(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	case []any:
		for i := range x {
			x[i] = intify(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = intify(x[k])
		}
	}
	return v
}

// pointsInto reports whether ptr names a value in v, or a property absent
// from an object in v (the pointer of a missing required property).
func pointsInto(v any, ptr string) bool {
	if ptr == "" {
		return true
	}
	if !strings.HasPrefix(ptr, "/") {
		return false
	}
	toks := strings.Split(ptr[1:], "/")
	for i, tok := range toks {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		last := i == len(toks)-1
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return last
			}
			v = next
		case []any:
			n, err := strconv.Atoi(tok)
			if err != nil || n < 0 || n >= len(x) {
				return false
			}
			v = x[n]
		default:
			return false
		}
	}
	return true
}

func itoa(i int) string { return strconv.Itoa(i) }
