package ipc_test

import (
	"context"
	"testing"

	"github.com/agent-os/agentos/ipc"
)

// The work of the three benchmark stages, the same in every variant.
func inc(x int) int { return x + 1 }
func dbl(x int) int { return x * 2 }
func dec(x int) int { return x - 3 }

const benchBuffer = 1024 // channel capacity in every streaming variant

// window is how many messages drive keeps in flight; it is below the
// capacity of the input channel, so the send in drive never blocks for good.
const window = 512

// drive sends one message into the pipe per iteration and, once window
// messages are in flight, takes one result out per iteration: steady-state
// throughput, one message per b.Loop iteration.
func drive[T any](b *testing.B, in chan<- int, out <-chan T) {
	b.Helper()
	b.ReportAllocs()
	inflight, i := 0, 0
	for b.Loop() {
		in <- i
		i++
		if inflight++; inflight == window {
			<-out
			inflight--
		}
	}
	close(in)
	for range out {
	}
}

// BenchmarkPipe3 compares a three-stage pipe under Stream with the same
// three stages as hand-written goroutines connected by channels, and with a
// direct call chain.
func BenchmarkPipe3(b *testing.B) {
	b.Run("raw-channels", func(b *testing.B) {
		in := make(chan int, benchBuffer)
		c1 := make(chan int, benchBuffer)
		c2 := make(chan int, benchBuffer)
		out := make(chan int, benchBuffer)
		stage := func(f func(int) int, src <-chan int, dst chan<- int) {
			for v := range src {
				dst <- f(v)
			}
			close(dst)
		}
		go stage(inc, in, c1)
		go stage(dbl, c1, c2)
		go stage(dec, c2, out)
		drive(b, in, out)
	})
	b.Run("ipc-stream", func(b *testing.B) {
		p := ipc.Pipe3(fn(inc), fn(dbl), fn(dec))
		in := make(chan int, benchBuffer)
		drive(b, in, p.Stream(context.Background(), in, ipc.WithBuffer(benchBuffer)))
	})
	b.Run("ipc-stream-batch1", func(b *testing.B) {
		p := ipc.Pipe3(fn(inc), fn(dbl), fn(dec))
		in := make(chan int, benchBuffer)
		drive(b, in, p.Stream(context.Background(), in, ipc.WithBuffer(benchBuffer), ipc.WithBatch(1)))
	})
	b.Run("ipc-stream-cancelable", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p := ipc.Pipe3(fn(inc), fn(dbl), fn(dec))
		in := make(chan int, benchBuffer)
		drive(b, in, p.Stream(ctx, in, ipc.WithBuffer(benchBuffer)))
	})
	b.Run("direct-calls", func(b *testing.B) {
		b.ReportAllocs()
		f1, f2, f3 := inc, dbl, dec
		sum, i := 0, 0
		for b.Loop() {
			sum += f3(f2(f1(i)))
			i++
		}
		_ = sum
	})
	b.Run("ipc-execute", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		p := ipc.Pipe3(fn(inc), fn(dbl), fn(dec))
		sum, i := 0, 0
		for b.Loop() {
			v, err := p.Execute(ctx, i)
			if err != nil {
				b.Fatal(err)
			}
			sum += v
			i++
		}
		_ = sum
	})
}

type payload struct {
	ID    int
	Title string
	Score float64
}

var allowAll = ipc.GateFunc(func(context.Context, ipc.Crossing) error { return nil })

// BenchmarkGovernedHop measures what a PolicyCheck stage with an allow-all
// gate adds: alone, in Execute, and as a fourth stage under Stream. The
// kernel's gate adds its policy decision and recorder entries on top.
func BenchmarkGovernedHop(b *testing.B) {
	ctx := context.Background()
	b.Run("check-int", func(b *testing.B) {
		b.ReportAllocs()
		c := ipc.PolicyCheck[int](allowAll)
		i := 0
		for b.Loop() {
			if _, err := c.Process(ctx, i); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("check-struct", func(b *testing.B) {
		b.ReportAllocs()
		c := ipc.PolicyCheck[payload](allowAll)
		v := payload{ID: 1, Title: "t", Score: 0.5}
		for b.Loop() {
			if _, err := c.Process(ctx, v); err != nil {
				b.Fatal(err)
			}
			v.ID++
		}
	})
	b.Run("execute-ungoverned", func(b *testing.B) {
		b.ReportAllocs()
		p := ipc.Pipe3(fn(inc), fn(dbl), fn(dec))
		i := 0
		for b.Loop() {
			if _, err := p.Execute(ctx, i); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("execute-governed", func(b *testing.B) {
		b.ReportAllocs()
		p := ipc.Pipe4(fn(inc), ipc.PolicyCheck[int](allowAll), fn(dbl), fn(dec))
		i := 0
		for b.Loop() {
			if _, err := p.Execute(ctx, i); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("stream-ungoverned", func(b *testing.B) {
		p := ipc.Pipe3(fn(inc), fn(dbl), fn(dec))
		in := make(chan int, benchBuffer)
		drive(b, in, p.Stream(ctx, in, ipc.WithBuffer(benchBuffer)))
	})
	b.Run("stream-governed", func(b *testing.B) {
		p := ipc.Pipe4(fn(inc), ipc.PolicyCheck[int](allowAll), fn(dbl), fn(dec))
		in := make(chan int, benchBuffer)
		drive(b, in, p.Stream(ctx, in, ipc.WithBuffer(benchBuffer)))
	})
}

// fn turns a func(int) int into a Stage.
func fn(f func(int) int) ipc.Func[int, int] {
	return func(_ context.Context, x int) (int, error) { return f(x), nil }
}
