package ipc

import (
	"context"
	"fmt"
	"runtime/debug"
)

// Stage is one step of a pipe: it turns an In into an Out. Process is called
// with the context of the Execute or Stream call that drives the pipe; it
// should return promptly once ctx is done.
//
// A Stage used with a [Pipeline.Stream] whose stage concurrency is above one
// (see [Parallel]) is called from several goroutines at once and must be safe
// for concurrent use; otherwise it is called from one goroutine at a time.
type Stage[In, Out any] interface {
	Process(ctx context.Context, in In) (Out, error)
}

// Func adapts a plain function to a [Stage].
type Func[In, Out any] func(ctx context.Context, in In) (Out, error)

// Process calls f(ctx, in).
func (f Func[In, Out]) Process(ctx context.Context, in In) (Out, error) { return f(ctx, in) }

var _ Stage[int, string] = Func[int, string](nil)

// Result is one element of a stream's output: the outcome of the input
// element at position Index (counted from 0 in the order the input channel
// delivered it). When Err is non-nil, Value is the zero value.
type Result[T any] struct {
	Index int
	Value T
	Err   error
}

// PanicError is the error a stage's panic turns into: the element whose
// processing panicked fails with it and the pipe goes on.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string { return fmt.Sprintf("ipc: stage panicked: %v", e.Value) }

// call is a stage's function with panics turned into errors and the Out
// value zeroed on error.
type call[In, Out any] func(ctx context.Context, in In) (Out, error)

// protect wraps s so that a panic becomes a *PanicError and an error always
// comes with the zero Out.
func protect[In, Out any](s Stage[In, Out]) call[In, Out] {
	return func(ctx context.Context, in In) (out Out, err error) {
		defer func() {
			if v := recover(); v != nil {
				var zero Out
				out, err = zero, &PanicError{Value: v, Stack: debug.Stack()}
			}
		}()
		out, err = s.Process(ctx, in)
		if err != nil {
			var zero Out
			return zero, err
		}
		return out, nil
	}
}

// Pipeline is a chain of stages from In to Out, composed with [From],
// [Then], [Pipe3], [Pipe4], [Pipe5] and [Parallel]. The compiler checks that
// each stage's output type is the next stage's input type.
//
// A Pipeline is immutable once built and safe for concurrent use: any number
// of Execute and Stream calls may run on it at once. It is itself a [Stage],
// so pipelines nest; nesting one in [Then] or a Pipe helper keeps its stages
// separate (each runs in its own goroutines under Stream), while [Parallel]
// runs a whole pipeline as one stage.
type Pipeline[In, Out any] struct {
	stages int
	call   call[In, Out]
	link   func(ctx context.Context, r *run, src *source[In], dst *sink[Out])
}

var _ Stage[int, int] = (*Pipeline[int, int])(nil)

// Len reports how many stages run in their own goroutines under Stream.
func (p *Pipeline[In, Out]) Len() int { return p.stages }

// Execute runs one value through every stage in turn, in the calling
// goroutine, and returns the last stage's output. It stops at the first
// stage that fails and returns that error unchanged (a [*PanicError] if the
// stage panicked); later stages are not called. Before each stage it checks
// ctx and returns ctx.Err() once ctx is done.
func (p *Pipeline[In, Out]) Execute(ctx context.Context, in In) (Out, error) {
	if err := ctx.Err(); err != nil {
		var zero Out
		return zero, err
	}
	return p.call(ctx, in)
}

// Process is Execute, so that a Pipeline is a Stage.
func (p *Pipeline[In, Out]) Process(ctx context.Context, in In) (Out, error) {
	return p.Execute(ctx, in)
}

// From makes a one-stage pipeline of s. If s already is a *Pipeline it is
// returned as it is.
func From[In, Out any](s Stage[In, Out]) *Pipeline[In, Out] {
	if p, ok := s.(*Pipeline[In, Out]); ok {
		return p
	}
	c := protect(s)
	return &Pipeline[In, Out]{
		stages: 1,
		call:   c,
		link: func(ctx context.Context, r *run, src *source[In], dst *sink[Out]) {
			r.wg.Go(func() { runSerial(ctx, r, c, src, dst) })
		},
	}
}

// Parallel makes a one-stage pipeline that, under Stream, runs s in n
// goroutines at once (like errgroup's SetLimit(n)); results still leave the
// stage in input order. n below 1 counts as 1. If s is a multi-stage
// *Pipeline, the whole of it becomes that one stage: each of the n workers
// runs a value through all of its stages in turn. s must be safe for
// concurrent use when n > 1.
//
// Elements are dealt to the workers in turn, so one slow element holds back
// the elements behind it only once every other worker's buffer is full.
// Execute is not affected: it calls s once, in the calling goroutine.
func Parallel[In, Out any](s Stage[In, Out], n int) *Pipeline[In, Out] {
	c := From(s).call
	n = max(n, 1)
	return &Pipeline[In, Out]{
		stages: 1,
		call:   c,
		link: func(ctx context.Context, r *run, src *source[In], dst *sink[Out]) {
			if n == 1 {
				r.wg.Go(func() { runSerial(ctx, r, c, src, dst) })
				return
			}
			runParallel(ctx, r, c, n, src, dst)
		},
	}
}

// Then composes a and b: the output of a is the input of b.
func Then[A, B, C any](a Stage[A, B], b Stage[B, C]) *Pipeline[A, C] {
	pa, pb := From(a), From(b)
	ca, cb := pa.call, pb.call
	return &Pipeline[A, C]{
		stages: pa.stages + pb.stages,
		call: func(ctx context.Context, in A) (C, error) {
			mid, err := ca(ctx, in)
			if err == nil {
				err = ctx.Err()
			}
			if err != nil {
				var zero C
				return zero, err
			}
			return cb(ctx, mid)
		},
		link: func(ctx context.Context, r *run, src *source[A], dst *sink[C]) {
			h := newHop[B](r)
			pa.link(ctx, r, src, &sink[B]{hop: h, batch: r.batch})
			pb.link(ctx, r, &source[B]{hop: h}, dst)
		},
	}
}

// Pipe3 composes three stages: a, then b, then c.
func Pipe3[A, B, C, D any](a Stage[A, B], b Stage[B, C], c Stage[C, D]) *Pipeline[A, D] {
	return Then(Then(a, b), c)
}

// Pipe4 composes four stages in order.
func Pipe4[A, B, C, D, E any](a Stage[A, B], b Stage[B, C], c Stage[C, D], d Stage[D, E]) *Pipeline[A, E] {
	return Then(Pipe3(a, b, c), d)
}

// Pipe5 composes five stages in order.
func Pipe5[A, B, C, D, E, F any](a Stage[A, B], b Stage[B, C], c Stage[C, D], d Stage[D, E], e Stage[E, F]) *Pipeline[A, F] {
	return Then(Pipe4(a, b, c, d), e)
}
