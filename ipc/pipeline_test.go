package ipc_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/ipc"
)

// counted wraps f in a Stage that counts its calls.
func counted[In, Out any](n *atomic.Int64, f func(In) (Out, error)) ipc.Func[In, Out] {
	return func(_ context.Context, in In) (Out, error) {
		n.Add(1)
		return f(in)
	}
}

var errBoom = errors.New("boom")

func TestExecute(t *testing.T) {
	itoa := ipc.Func[int, string](func(_ context.Context, x int) (string, error) { return strconv.Itoa(x), nil })
	exclaim := ipc.Func[string, string](func(_ context.Context, s string) (string, error) { return s + "!", nil })
	length := ipc.Func[string, int](func(_ context.Context, s string) (int, error) { return len(s), nil })
	double := fn(dbl)

	tests := []struct {
		name  string
		pipe  *ipc.Pipeline[int, int]
		in    int
		want  int
		count int
	}{
		{"from", ipc.From[int, int](double), 4, 8, 1},
		{"then", ipc.Then(itoa, length), 12345, 5, 2},
		{"pipe3", ipc.Pipe3(itoa, exclaim, length), 7, 2, 3},
		{"pipe4", ipc.Pipe4(double, itoa, exclaim, length), 50, 4, 4},
		{"pipe5", ipc.Pipe5(double, itoa, exclaim, exclaim, length), 5, 4, 5},
		{"nested keeps stages", ipc.Then(ipc.Then(double, double), ipc.Pipe3(itoa, exclaim, length)), 25, 4, 5},
		{"parallel is one stage", ipc.Then(ipc.Parallel(ipc.Then(double, double), 4), double), 1, 8, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.pipe.Execute(context.Background(), tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.count, tt.pipe.Len())
			// A Pipeline is a Stage: Process is Execute.
			got, err = tt.pipe.Process(context.Background(), tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestExecuteFailures(t *testing.T) {
	var after atomic.Int64
	next := counted(&after, func(x int) (int, error) { return x, nil })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name  string
		ctx   context.Context
		first ipc.Stage[int, int]
		check func(t *testing.T, err error)
	}{
		{"error stops the chain", context.Background(),
			ipc.Func[int, int](func(context.Context, int) (int, error) { return 99, errBoom }),
			func(t *testing.T, err error) { assert.ErrorIs(t, err, errBoom) }},
		{"panic becomes an error", context.Background(),
			ipc.Func[int, int](func(context.Context, int) (int, error) { panic("kaput") }),
			func(t *testing.T, err error) {
				var pe *ipc.PanicError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, "kaput", pe.Value)
				assert.NotEmpty(t, pe.Stack)
			}},
		{"cancelled context runs nothing", ctx, next,
			func(t *testing.T, err error) { assert.ErrorIs(t, err, context.Canceled) }},
		{"context cancelled by a stage stops the next", context.Background(),
			ipc.Func[int, int](func(context.Context, int) (int, error) { return 1, nil }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after.Store(0)
			ctx := tt.ctx
			first := tt.first
			check := tt.check
			if check == nil { // the first stage cancels the context itself
				var stop context.CancelFunc
				ctx, stop = context.WithCancel(ctx)
				defer stop()
				first = ipc.Func[int, int](func(context.Context, int) (int, error) { stop(); return 1, nil })
				check = func(t *testing.T, err error) { assert.ErrorIs(t, err, context.Canceled) }
			}
			got, err := ipc.Then(first, next).Execute(ctx, 1)
			check(t, err)
			assert.Zero(t, got, "a failed Execute returns the zero value")
			assert.Zero(t, after.Load(), "no stage after a failure is called")
		})
	}
}
