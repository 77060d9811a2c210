package ipc

import (
	"context"
	"sync"
)

// Defaults of the Stream options.
const (
	DefaultBuffer = 64 // see WithBuffer
	DefaultBatch  = 16 // see WithBatch
)

// Option configures one Stream call.
type Option func(*options)

type options struct {
	buffer int
	batch  int
}

// WithBuffer bounds, in elements, the channel between each pair of stages
// and the output channel. Buffers bound how far a fast stage runs ahead of
// a slow one: when they are full, upstream stages block, and Stream stops
// reading the input channel (backpressure). Zero means unbuffered (each hop
// is a hand-off); a negative size counts as zero. Between stages, elements
// move in batches (see [WithBatch]): a channel holds ceil(size/batch)
// batches, and each stage also holds the batch it is filling and the one
// it is working through. A stage that runs n workers (see [Parallel]) also
// has n channels of ceil(size/n) elements each way.
func WithBuffer(size int) Option {
	return func(o *options) { o.buffer = max(size, 0) }
}

// WithBatch sets how many elements at most move between two stages in one
// channel operation; below 1 counts as 1, which moves every element on its
// own. Batching saves channel operations (and goroutine wake-ups), which
// dominate the cost of a hop when stages do little work. It adds no latency:
// a stage sends what it has gathered as soon as its input has nothing more
// ready, without waiting for a batch to fill.
func WithBatch(n int) Option {
	return func(o *options) { o.batch = max(n, 1) }
}

// Stream runs every value received from in through the pipeline and
// delivers one [Result] per value on the returned channel, in input order.
// Each stage runs in its own goroutine (n goroutines for a [Parallel]
// stage), so stages work on successive elements at the same time; channels
// between them are bounded (see [WithBuffer] and [WithBatch]).
//
// An element whose stage returns an error (or panics: [*PanicError]) is
// delivered as a Result with that Err; later stages skip it, and the
// stream goes on with the next elements: an error never stops the stream
// nor loses other elements. To stop at the first error, cancel ctx when
// one arrives.
//
// The stream ends when in is closed and every element has been delivered,
// or when ctx is done. After ctx is done Stream stops reading in, elements
// still in the pipe skip the remaining stages and carry ctx.Err(), and
// delivery stops: the consumer may see some of those, or none, and
// must not expect one Result per input. Either way, the returned channel is
// closed once every goroutine Stream started has returned — a stage blocked
// in Process delays it, so stages should honour ctx. The caller must keep
// receiving until the channel is closed or cancel ctx; abandoning the
// channel without cancelling leaves the goroutines blocked.
//
// in is owned by the caller, who closes it when there is no more input; a
// nil in yields a stream that ends only when ctx is done.
func (p *Pipeline[In, Out]) Stream(ctx context.Context, in <-chan In, opts ...Option) <-chan Result[Out] {
	o := options{buffer: DefaultBuffer, batch: DefaultBatch}
	for _, opt := range opts {
		opt(&o)
	}
	out := make(chan Result[Out], o.buffer)
	r := &run{buffer: o.buffer, batch: o.batch, done: ctx.Done()}
	p.link(ctx, r, &source[In]{head: true, user: in}, &sink[Out]{tail: true, user: out})
	go func() {
		r.wg.Wait()
		close(out)
	}()
	return out
}

// run is the state one Stream call shares among its stages.
type run struct {
	wg     sync.WaitGroup // every goroutine of the stream, waited for before the output closes
	buffer int
	batch  int
	done   <-chan struct{} // ctx.Done() of the Stream call
}

// batch is a run of consecutive elements moving between two stages.
type batch[T any] struct{ items []Result[T] }

// hop is the connection between two stages: a channel of batches, and the
// ring of batches that the sending stage fills in turn.
//
// Each hop has one sending and one receiving goroutine. The receiver is
// done with a batch when it receives the next one, and the Go memory model
// orders the k-th receive from a channel of capacity c before the
// (k+c)-th send completes; so once batch i-1 is sent, batch i-c-2 is free,
// and a ring of c+2 batches is never written while it is being read.
type hop[T any] struct {
	ch   chan *batch[T]
	ring []*batch[T] // used by the sender only
	next int
	size int
}

func newHop[T any](r *run) *hop[T] {
	c := (r.buffer + r.batch - 1) / r.batch
	return &hop[T]{ch: make(chan *batch[T], c), ring: make([]*batch[T], c+2), size: r.batch}
}

// get returns the next batch of the ring, empty.
func (h *hop[T]) get() *batch[T] {
	b := h.ring[h.next]
	h.next = (h.next + 1) % len(h.ring)
	if b == nil {
		b = &batch[T]{items: make([]Result[T], 0, h.size)}
		h.ring[(h.next+len(h.ring)-1)%len(h.ring)] = b
		return b
	}
	clear(b.items) // drop references to values and errors of the last use
	b.items = b.items[:0]
	return b
}

// source is where a stage takes its elements from: the caller's channel for
// the first stage (head), the previous stage's hop otherwise.
type source[T any] struct {
	head bool
	user <-chan T
	next int // index of the next element taken from user

	hop *hop[T]
	cur *batch[T] // the batch being worked through
	pos int
}

// recv returns the next element. When nothing is ready it first calls idle
// (which sends the stage's partial batch on), then waits. For the head it
// returns false when the caller's channel is closed or the stream is
// cancelled; otherwise when the previous stage has closed its hop (it
// always does, once it returns).
func (s *source[T]) recv(r *run, idle func()) (Result[T], bool) {
	if !s.head {
		if s.cur != nil && s.pos < len(s.cur.items) {
			s.pos++
			return s.cur.items[s.pos-1], true
		}
		var b *batch[T]
		var ok bool
		select {
		case b, ok = <-s.hop.ch:
		default:
			idle()
			b, ok = <-s.hop.ch
		}
		if !ok {
			return Result[T]{}, false
		}
		s.cur, s.pos = b, 1
		return b.items[0], true
	}
	var v T
	var ok bool
	select { // without waiting first: about the cost of a plain receive
	case v, ok = <-s.user:
	default:
		idle()
		if r.done == nil {
			v, ok = <-s.user
		} else {
			select {
			case v, ok = <-s.user:
			case <-r.done:
			}
		}
	}
	if !ok {
		return Result[T]{}, false
	}
	e := Result[T]{Index: s.next, Value: v}
	s.next++
	return e, true
}

// drain discards what is left of an inner source, so that the stage
// upstream can finish.
func (s *source[T]) drain() {
	if !s.head {
		for range s.hop.ch {
		}
	}
}

// sink is where a stage delivers its results: the next stage's hop, or the
// output channel for the last stage (tail). A stage finishes its sink when
// it returns: the hop is closed then, but not the output channel, which
// Stream closes once every goroutine has returned.
type sink[T any] struct {
	tail bool
	user chan<- Result[T]

	hop   *hop[T]
	batch int
	cur   *batch[T] // the batch being filled
}

// send delivers e. Only the tail waits on r.done as well (its consumer may
// have gone); it returns false when the stream was cancelled before e was
// delivered. Hops are always drained by their reader, so sends between
// stages never wait forever.
func (s *sink[T]) send(r *run, e Result[T]) bool {
	if !s.tail {
		if s.cur == nil {
			s.cur = s.hop.get()
		}
		s.cur.items = append(s.cur.items, e)
		if len(s.cur.items) >= s.batch {
			s.flush()
		}
		return true
	}
	if r.done == nil {
		s.user <- e
		return true
	}
	select { // as in recv: without waiting first
	case s.user <- e:
		return true
	default:
	}
	select {
	case s.user <- e:
		return true
	case <-r.done:
		return false
	}
}

// flush sends the partial batch on.
func (s *sink[T]) flush() {
	if s.cur != nil {
		s.hop.ch <- s.cur
		s.cur = nil
	}
}

func (s *sink[T]) finish() {
	if !s.tail {
		s.flush()
		close(s.hop.ch)
	}
}

// step runs c on one element unless it already failed or ctx is done.
func step[In, Out any](ctx context.Context, c call[In, Out], e Result[In]) Result[Out] {
	out := Result[Out]{Index: e.Index, Err: e.Err}
	if out.Err == nil {
		out.Err = ctx.Err()
	}
	if out.Err == nil {
		out.Value, out.Err = c(ctx, e.Value)
	}
	return out
}

// runSerial is the goroutine of a one-worker stage.
func runSerial[In, Out any](ctx context.Context, r *run, c call[In, Out], src *source[In], dst *sink[Out]) {
	defer dst.finish()
	idle := dst.flush
	for {
		e, ok := src.recv(r, idle)
		if !ok || (src.head && ctx.Err() != nil) {
			return
		}
		if !dst.send(r, step(ctx, c, e)) {
			src.drain()
			return
		}
	}
}

func nothing() {}

// runParallel starts the goroutines of an n-worker stage: a dispatcher
// dealing elements to the workers in turn, the workers, and a collector
// taking their results in the same turn, which restores input order.
func runParallel[In, Out any](ctx context.Context, r *run, c call[In, Out], n int, src *source[In], dst *sink[Out]) {
	per := (r.buffer + n - 1) / n
	ins := make([]chan Result[In], n)
	outs := make([]chan Result[Out], n)
	for i := range n {
		ins[i] = make(chan Result[In], per)
		outs[i] = make(chan Result[Out], per)
	}
	r.wg.Go(func() { // dispatcher
		defer func() {
			for _, ch := range ins {
				close(ch)
			}
		}()
		for k := 0; ; k = (k + 1) % n {
			e, ok := src.recv(r, nothing)
			if !ok || (src.head && ctx.Err() != nil) {
				return
			}
			ins[k] <- e
		}
	})
	for i := range n {
		r.wg.Go(func() { // worker
			defer close(outs[i])
			for e := range ins[i] {
				outs[i] <- step(ctx, c, e)
			}
		})
	}
	r.wg.Go(func() { // collector
		defer dst.finish()
		// The dispatcher dealt element j to worker j%n, so taking results in
		// the same turn yields them in order; the first closed channel in
		// turn means every element has been collected.
		sending := true
		for k := 0; ; k = (k + 1) % n {
			var e Result[Out]
			var ok bool
			select {
			case e, ok = <-outs[k]:
			default:
				dst.flush()
				e, ok = <-outs[k]
			}
			if !ok {
				break
			}
			if sending && !dst.send(r, e) {
				sending = false // cancelled: keep draining so the workers finish
			}
		}
		for _, ch := range outs {
			for range ch {
			}
		}
	})
}
