package ipc_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/ipc"
)

// feed returns a channel delivering 0..n-1, then closed. Its goroutine ends
// when it has sent everything or ctx is done.
func feed(ctx context.Context, n int) <-chan int {
	ch := make(chan int)
	go func() {
		defer close(ch)
		for i := range n {
			select {
			case ch <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

func collect[T any](ch <-chan ipc.Result[T]) []ipc.Result[T] {
	var out []ipc.Result[T]
	for r := range ch {
		out = append(out, r)
	}
	return out
}

// jitter yields the processor a random number of times, so that workers
// finish out of order.
func jitter() {
	for range rand.IntN(20) {
		runtime.Gosched()
	}
}

func TestStreamOrder(t *testing.T) {
	const n = 500
	slow := func(f func(int) int) ipc.Func[int, int] {
		return func(_ context.Context, x int) (int, error) { jitter(); return f(x), nil }
	}
	tests := []struct {
		name string
		pipe *ipc.Pipeline[int, int]
		opts []ipc.Option
	}{
		{"serial", ipc.Pipe3(slow(inc), slow(dbl), slow(dec)), nil},
		{"unbuffered", ipc.Pipe3(slow(inc), slow(dbl), slow(dec)), []ipc.Option{ipc.WithBuffer(0)}},
		{"buffer 1", ipc.Pipe3(slow(inc), slow(dbl), slow(dec)), []ipc.Option{ipc.WithBuffer(1)}},
		{"parallel head", ipc.Pipe3(ipc.Parallel(slow(inc), 4), slow(dbl), slow(dec)), nil},
		{"parallel middle", ipc.Pipe3(slow(inc), ipc.Parallel(slow(dbl), 8), slow(dec)), []ipc.Option{ipc.WithBuffer(3)}},
		{"parallel tail", ipc.Pipe3(slow(inc), slow(dbl), ipc.Parallel(slow(dec), 3)), []ipc.Option{ipc.WithBuffer(0)}},
		{"all parallel", ipc.Pipe3(ipc.Parallel(slow(inc), 2), ipc.Parallel(slow(dbl), 5), ipc.Parallel(slow(dec), 3)), nil},
		{"parallel of one", ipc.Then(ipc.Parallel(slow(inc), 1), ipc.Parallel(ipc.Then(slow(dbl), slow(dec)), 0)), nil},
		{"single stage", ipc.From[int, int](slow(inc)), nil},
		{"batch 1", ipc.Pipe3(slow(inc), ipc.Parallel(slow(dbl), 3), slow(dec)), []ipc.Option{ipc.WithBatch(1)}},
		{"batch larger than buffer", ipc.Pipe3(slow(inc), ipc.Parallel(slow(dbl), 3), slow(dec)), []ipc.Option{ipc.WithBatch(100), ipc.WithBuffer(7)}},
		{"batch unbuffered", ipc.Pipe3(slow(inc), slow(dbl), slow(dec)), []ipc.Option{ipc.WithBatch(8), ipc.WithBuffer(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			got := collect(tt.pipe.Stream(ctx, feed(ctx, n), tt.opts...))
			require.Len(t, got, n)
			for i, r := range got {
				require.NoError(t, r.Err)
				require.Equal(t, i, r.Index)
				want, err := tt.pipe.Execute(ctx, i)
				require.NoError(t, err)
				require.Equal(t, want, r.Value, "element %d", i)
			}
		})
	}
}

// An element that fails is reported in its own Result; later stages do not
// see it, and every other element comes through.
func TestStreamErrorsDoNotStopTheStream(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			var lastCalls atomic.Int64
			var seen sync.Map
			fail := ipc.Func[int, int](func(_ context.Context, x int) (int, error) {
				switch {
				case x%7 == 3:
					return x, fmt.Errorf("element %d: %w", x, errBoom)
				case x%11 == 5:
					panic(x)
				}
				return x * 10, nil
			})
			last := ipc.Func[int, string](func(_ context.Context, x int) (string, error) {
				lastCalls.Add(1)
				seen.Store(x/10, true)
				return fmt.Sprint(x), nil
			})
			p := ipc.Pipe3(fn(func(x int) int { return x }), ipc.Parallel(fail, workers), last)
			ctx := context.Background()
			got := collect(p.Stream(ctx, feed(ctx, 100)))
			require.Len(t, got, 100)
			failed := 0
			for i, r := range got {
				assert.Equal(t, i, r.Index)
				switch {
				case i%7 == 3:
					assert.ErrorIs(t, r.Err, errBoom)
					assert.Empty(t, r.Value)
					failed++
				case i%11 == 5:
					var pe *ipc.PanicError
					assert.ErrorAs(t, r.Err, &pe)
					assert.Equal(t, i, pe.Value)
					failed++
				default:
					assert.NoError(t, r.Err)
					assert.Equal(t, fmt.Sprint(i*10), r.Value)
					_, ok := seen.Load(i)
					assert.True(t, ok)
				}
			}
			assert.Equal(t, int64(100-failed), lastCalls.Load(), "failed elements never reach the last stage")
		})
	}
}

// Cancelling ends the stream: the output closes, every goroutine returns
// (goleak in TestMain checks), the input is no longer read.
func TestStreamCancel(t *testing.T) {
	tests := []struct {
		name string
		pipe *ipc.Pipeline[int, int]
	}{
		{"serial", ipc.Pipe3(fn(inc), fn(dbl), fn(dec))},
		{"parallel", ipc.Pipe3(ipc.Parallel(fn(inc), 3), fn(dbl), ipc.Parallel(fn(dec), 2))},
		{"stage blocked on ctx", ipc.Then(fn(inc), ipc.Parallel(ipc.Func[int, int](func(ctx context.Context, x int) (int, error) {
			if x > 20 {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return x, nil
		}), 2))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			in := make(chan int) // never closed: only cancellation ends the stream
			var sent atomic.Int64
			var wg sync.WaitGroup
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case in <- i:
						sent.Add(1)
					case <-ctx.Done():
						return
					}
				}
			})
			out := tt.pipe.Stream(ctx, in, ipc.WithBuffer(4))
			for i := range 10 {
				r := <-out
				require.NoError(t, r.Err)
				require.Equal(t, i, r.Index)
			}
			cancel()
			rest := collect(out) // returns once the output is closed
			for k, r := range rest {
				assert.Equal(t, 10+k, r.Index, "results stay in order after cancel")
			}
			wg.Wait()
			assert.Less(t, len(rest), int(sent.Load())+1)
		})
	}
}

// Cancelling while nobody reads the output still ends every goroutine.
func TestStreamCancelWithoutReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := ipc.Pipe3(fn(inc), ipc.Parallel(fn(dbl), 3), fn(dec))
	out := p.Stream(ctx, feed(ctx, 1_000_000), ipc.WithBuffer(2))
	<-out
	cancel()
	collect(out)
}

func TestStreamNilInputEndsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := ipc.From[int, int](fn(inc)).Stream(ctx, nil)
	cancel()
	assert.Empty(t, collect(out))
}

func TestStreamEmptyInput(t *testing.T) {
	in := make(chan int)
	close(in)
	out := ipc.Pipe3(fn(inc), ipc.Parallel(fn(dbl), 4), fn(dec)).Stream(context.Background(), in)
	assert.Empty(t, collect(out))
}

// With the output unread, the pipe takes no more than its buffers hold, and
// then stops reading its input (backpressure).
func TestStreamBackpressure(t *testing.T) {
	tests := []struct {
		buffer, batch int
		max           int64 // most elements the head may have taken
		exact         bool
	}{
		// Element by element: each of the 3 stages holds one element, each
		// of the 3 channels after a stage holds buffer elements.
		{0, 1, 3, true},
		{1, 1, 6, true},
		{5, 1, 18, true},
		// In batches: each of the 2 hops holds ceil(buffer/batch) batches in
		// its channel, one being filled and one being worked through; the
		// tail holds one element and the output buffer elements.
		{0, 4, 2*(0+2)*4 + 1 + 0, false},
		{5, 4, 2*(2+2)*4 + 1 + 5, false},
		{64, 16, 2*(4+2)*16 + 1 + 64, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("buffer=%d,batch=%d", tt.buffer, tt.batch), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				var taken atomic.Int64
				head := ipc.Func[int, int](func(_ context.Context, x int) (int, error) { taken.Add(1); return x, nil })
				p := ipc.Pipe3(head, fn(dbl), fn(dec))
				in := make(chan int)
				var wg sync.WaitGroup
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case in <- i:
						case <-ctx.Done():
							return
						}
					}
				})
				out := p.Stream(ctx, in, ipc.WithBuffer(tt.buffer), ipc.WithBatch(tt.batch))
				synctest.Wait() // everything is blocked: buffers are full
				if tt.exact {
					assert.Equal(t, tt.max, taken.Load())
				} else {
					assert.LessOrEqual(t, taken.Load(), tt.max)
				}
				assert.Len(t, out, tt.buffer)
				for i := range 200 { // reading lets it go on, in order
					r := <-out
					require.Equal(t, i, r.Index)
					require.Equal(t, i*2-3, r.Value)
				}
				cancel()
				collect(out)
				wg.Wait()
			})
		})
	}
}

// Parallel(s, n) runs at most n calls of s at once.
func TestParallelLimit(t *testing.T) {
	for _, n := range []int{1, 2, 5} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var active, peak atomic.Int64
				release := make(chan struct{})
				s := ipc.Func[int, int](func(_ context.Context, x int) (int, error) {
					a := active.Add(1)
					for p := peak.Load(); a > p && !peak.CompareAndSwap(p, a); p = peak.Load() {
					}
					<-release
					active.Add(-1)
					return x, nil
				})
				ctx := t.Context()
				out := ipc.Parallel(s, n).Stream(ctx, feed(ctx, 40), ipc.WithBuffer(10))
				synctest.Wait()
				assert.Equal(t, int64(n), active.Load())
				close(release)
				got := collect(out)
				require.Len(t, got, 40)
				assert.Equal(t, int64(n), peak.Load())
			})
		})
	}
}

// One pipeline serves many streams and Execute calls at once.
func TestPipelineConcurrentUse(t *testing.T) {
	p := ipc.Pipe3(fn(inc), ipc.Parallel(fn(dbl), 3), fn(dec))
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			if g%2 == 0 {
				got := collect(p.Stream(ctx, feed(ctx, 200), ipc.WithBuffer(g)))
				assert.Len(t, got, 200)
				for i, r := range got {
					assert.Equal(t, (i+1)*2-3, r.Value)
				}
				return
			}
			for i := range 200 {
				v, err := p.Execute(ctx, i)
				assert.NoError(t, err)
				assert.Equal(t, (i+1)*2-3, v)
			}
		})
	}
	wg.Wait()
}
