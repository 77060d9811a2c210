package atr

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// genArg returns a generated argument value: mostly JSON-like, sometimes a
// value the argument check refuses (a struct, a channel, NaN, too deep).
func genArg(r *rand.Rand, depth int) any {
	n := 10
	if depth > 3 {
		n = 6 // leaves only, past three levels
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return "s" + strconv.Itoa(r.IntN(100))
	case 3:
		return r.Int64() - math.MaxInt64/2
	case 4:
		return []float64{1.5, math.NaN(), math.Inf(1), -0.0}[r.IntN(4)]
	case 5:
		return []any{struct{}{}, make(chan int), uint64(math.MaxUint64), int8(3)}[r.IntN(4)]
	case 6, 7:
		m := map[string]any{}
		for range r.IntN(4) {
			m["k"+strconv.Itoa(r.IntN(10))] = genArg(r, depth+1)
		}
		return m
	default:
		l := make([]any, r.IntN(4))
		for i := range l {
			l[i] = genArg(r, depth+1)
		}
		return l
	}
}

// TestOpenSchemaFastPath holds Validate's fast path for a tool added
// without an input schema to the plain route: the argument check, then
// the validator on the open schema, over generated arguments.
func TestOpenSchemaFastPath(t *testing.T) {
	r := New()
	require.NoError(t, r.Add(Tool{Name: "open", Meta: Meta{SideEffect: None}, Func: func(context.Context, map[string]any) (any, error) { return nil, nil }}))
	tool, err := r.Resolve("open", "")
	require.NoError(t, err)
	require.True(t, tool.open)
	plain, err := openSchema().Resolve(nil)
	require.NoError(t, err)

	rng := rand.New(rand.NewPCG(1, 2))
	valid, invalid := 0, 0
	for i := range 5000 {
		args := map[string]any{}
		for range rng.IntN(5) {
			args["a"+strconv.Itoa(rng.IntN(8))] = genArg(rng, 1)
		}
		if i == 0 {
			args = nil
		}
		var inst any = args
		if args == nil {
			inst = map[string]any{}
		}
		want := checkArgs("open", args)
		if want == nil {
			want = safeValidate(plain, inst)
		}
		got := tool.Validate(args)
		require.Equal(t, want == nil, got == nil, "args %#v: plain route %v, Validate %v", args, want, got)
		if got == nil {
			valid++
		} else {
			invalid++
		}
	}
	require.Positive(t, valid)
	require.Positive(t, invalid)

	// A copy whose schema was replaced takes the validator's route.
	cp := *tool
	cp.InputSchema = openSchema()
	cp.InputSchema.Required = []string{"x"}
	require.ErrorIs(t, cp.Validate(map[string]any{}), ErrInvalidArgs)
}
