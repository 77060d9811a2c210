package vindex

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/agent-os/agentos"
)

// fuzzValue maps a byte to a vector component, so that short inputs reach
// zeros, NaN, infinities, subnormals, huge values and many exact ties.
func fuzzValue(b byte) float32 {
	switch b {
	case 0:
		return 0
	case 1:
		return float32(math.NaN())
	case 2:
		return float32(math.Inf(1))
	case 3:
		return float32(math.Inf(-1))
	case 4:
		return math.SmallestNonzeroFloat32
	case 5:
		return math.MaxFloat32
	case 6:
		return -math.MaxFloat32
	}
	return float32(int8(b)) / 16
}

// FuzzIndex runs a program of adds, removals and searches decoded from the
// input against the index and the float64 reference: errors exactly when
// the input is bad, and every answer checked as in TestDifferential.
func FuzzIndex(f *testing.F) {
	f.Add([]byte("\x02\x00\x00\x01\x10\x20\x00\x02\x20\x10\x02\x05\x10\x10\x00"))
	f.Add([]byte("\x03\x03\x00\x01\x10\x10\x10\x00\x02\x10\x10\x10\x00\x03\x20\x00\x00\x02\x0a\x10\x00\x00\x07"))
	f.Add([]byte("\x01\x01\x00\x01\x01\x00\x02\x02\x00\x03\x00\x00\x04\x04\x02\x00\x04\x00"))
	f.Add([]byte("\x04\x00\x00\x01\x05\x05\x06\x05\x00\x02\x04\x04\x04\x04\x02\x03\x05\x05\x05\x05\x01"))
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) < 2 || len(prog) > 4096 {
			return
		}
		dims := 1 + int(prog[0])%12
		quant := prog[1]&1 != 0
		x := newMode(t, dims, quant)
		if prog[1]&2 != 0 {
			x.parallelMin, x.procs = 2, 3
		}
		rf := &ref{vecs: map[string][]float32{}, pool: map[string]int{}}
		pool := map[string]int{}
		p := prog[2:]
		next := func() byte {
			if len(p) == 0 {
				return 0
			}
			b := p[0]
			p = p[1:]
			return b
		}
		vec := func() ([]float32, bool) {
			v := make([]float32, dims)
			ok, nonzero := true, false
			for i := range v {
				v[i] = fuzzValue(next())
				ok = ok && !math.IsNaN(float64(v[i])) && !math.IsInf(float64(v[i]), 0)
				nonzero = nonzero || v[i] != 0
			}
			return v, ok && nonzero
		}
		for step := 0; len(p) > 0; step++ {
			what := fmt.Sprintf("step %d", step)
			switch next() % 3 {
			case 0:
				id := fmt.Sprintf("i%d", next()%16)
				v, ok := vec()
				err := x.Add(id, v)
				if !ok {
					if !errors.Is(err, agentos.ErrInvalid) {
						t.Fatalf("%s: Add(%v) = %v, want ErrInvalid", what, v, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: Add(%v): %v", what, v, err)
				}
				key := fmt.Sprint(v)
				if _, seen := pool[key]; !seen {
					pool[key] = len(pool)
				}
				rf.vecs[id], rf.pool[id] = v, pool[key]
			case 1:
				id := fmt.Sprintf("i%d", next()%16)
				_, had := rf.vecs[id]
				if x.Remove(id) != had {
					t.Fatalf("%s: Remove(%s) != %v", what, id, had)
				}
				delete(rf.vecs, id)
				delete(rf.pool, id)
			case 2:
				k := int(int8(next())) % 40
				q, ok := vec()
				var keep func(string) bool
				if mask := next(); mask != 0 {
					keep = func(id string) bool { return mask>>(len(id)+int(id[len(id)-1]))%8&1 != 0 }
				}
				got, err := x.Search(q, k, keep)
				if !ok || k < 1 {
					if !errors.Is(err, agentos.ErrInvalid) || got != nil {
						t.Fatalf("%s: Search(%v, %d) = %v, %v, want ErrInvalid", what, q, k, got, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: Search(%v, %d): %v", what, q, k, err)
				}
				check(t, x, rf, q, k, keep, got, what)
			}
			if x.Len() != len(rf.vecs) {
				t.Fatalf("%s: Len %d, want %d", what, x.Len(), len(rf.vecs))
			}
		}
	})
}
