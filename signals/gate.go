package signals

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"

	"github.com/agent-os/agentos"
)

// flight is a syscall context shared by the syscalls that entered the gate
// with the same caller context since the last SIGINT. Sharing it keeps the
// hot path free of allocations: a new one is made only when the caller's
// context changes or after an interruption.
type flight struct {
	parent context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   func()
	// refs counts the syscalls using it, plus one while it is d.cur. It is
	// incremented only on d.cur, with d.mu held for reading or writing, so
	// once it drops to zero it stays there.
	refs atomic.Int64
	live bool // in d.live; under d.mu held for writing
}

func noop() {}

// Enter is the signal gate, called at the start of every syscall. While the
// agent is Stopped it blocks until SIGCONT, termination, or the end of ctx;
// after a SIGCONT it also waits until the observer (WithObserver) has been
// told of it, so that nothing the resumed agent does is reported before
// the signal that resumed it. Then, if the agent is terminated, it returns the termination error (a
// *SignalError wrapping agentos.ErrKilled). Otherwise it returns the context
// the syscall must run under and done, to call exactly once when the
// syscall ends.
//
// The syscall context carries the values and deadline of ctx and is
// cancelled when ctx is, when SIGINT interrupts the syscalls in flight
// (context.Cause: a *SignalError wrapping ErrInterrupted) and when the
// agent is terminated (context.Cause: the termination error). It may be
// shared with other syscalls entered with the same ctx, and it is not
// cancelled by done: do not leave work running on it after done.
//
// If ctx ends while the agent is stopped, the error wraps both
// agentos.ErrStopped and the cause of ctx. If ctx is already done, the
// error is its cause. On error done is a no-op, never nil.
func (d *Dispatcher) Enter(ctx context.Context) (context.Context, func(), error) {
	if ctx.Err() != nil {
		return nil, noop, context.Cause(ctx)
	}
	// Fast path: running, same caller context as the shared flight. A
	// read lock lets syscalls enter in parallel while a Send, which takes
	// the write lock, is never kept waiting behind a stream of them.
	d.mu.RLock()
	if f := d.cur; d.state == Running && d.reported >= d.resumed && f != nil && sameContext(f.parent, ctx) {
		f.refs.Add(1)
		d.inflight.Add(1)
		d.mu.RUnlock()
		return f.ctx, f.done, nil
	}
	d.mu.RUnlock()
	return d.enterSlow(ctx)
}

func (d *Dispatcher) enterSlow(ctx context.Context) (context.Context, func(), error) {
	d.mu.Lock()
	for d.state == Stopped || d.state == Running && d.reported < d.resumed {
		if d.state == Running {
			// Released by a SIGCONT the observer has not been told of yet.
			d.awaitReportedLocked()
			continue
		}
		ch := d.resume
		d.waiting++
		d.mu.Unlock()
		select {
		case <-ch:
			d.mu.Lock()
			d.waiting--
		case <-ctx.Done():
			d.mu.Lock()
			d.waiting--
			if d.state == Terminated {
				err := d.err
				d.mu.Unlock()
				return nil, noop, err
			}
			d.mu.Unlock()
			return nil, noop, fmt.Errorf("signals: agent %s: %w: %w", d.agent, agentos.ErrStopped, context.Cause(ctx))
		}
	}
	if d.state == Terminated {
		err := d.err
		d.mu.Unlock()
		return nil, noop, err
	}
	f := d.cur
	var old *flight
	if f == nil || !sameContext(f.parent, ctx) {
		old = d.cur
		f = d.newFlightLocked(ctx)
		d.cur = f
		if old != nil {
			if old.refs.Add(-1) > 0 { // the cache's reference
				old = nil
			} else {
				old.live = false
				delete(d.live, old)
			}
		}
	}
	f.refs.Add(1)
	d.inflight.Add(1)
	d.mu.Unlock()
	if old != nil {
		old.cancel(nil) // nobody uses it: release its parent's resources
	}
	return f.ctx, f.done, nil
}

// sameContext reports whether a and b are the same context. Interface
// comparison panics on identical non-comparable dynamic types, so those are
// never treated as the same.
func sameContext(a, b context.Context) bool {
	return reflect.TypeOf(b).Comparable() && a == b
}

func (d *Dispatcher) newFlightLocked(parent context.Context) *flight {
	ctx, cancel := context.WithCancelCause(parent)
	f := &flight{parent: parent, ctx: ctx, cancel: cancel, live: true}
	f.refs.Store(1)
	f.done = func() { d.exit(f) }
	d.live[f] = struct{}{}
	return f
}

// exit is the done of a syscall that ran under f.
func (d *Dispatcher) exit(f *flight) {
	d.inflight.Add(-1)
	if f.refs.Add(-1) > 0 {
		return
	}
	d.mu.Lock()
	release := f.live
	if release {
		f.live = false
		delete(d.live, f)
	}
	d.mu.Unlock()
	if release {
		f.cancel(nil)
	}
}

// takeFlightsLocked detaches every live flight so that it can be cancelled
// once mu is released; new syscalls get a fresh one.
func (d *Dispatcher) takeFlightsLocked() []*flight {
	if d.cur != nil {
		d.cur.refs.Add(-1)
		d.cur = nil
	}
	out := make([]*flight, 0, len(d.live))
	for f := range d.live {
		f.live = false
		out = append(out, f)
	}
	clear(d.live)
	return out
}

func cancelFlights(fs []*flight, cause error) {
	for _, f := range fs {
		f.cancel(cause)
	}
}

// Commit runs fn, which commits the effect of a syscall (a file write, a
// message), unless the agent is terminated, in which case it returns the
// termination error without running fn. A fatal signal's Send (SIGKILL,
// SIGPOLICY, SIGTRUST) and a termination by SIGTERM wait for the Commit
// calls that are running; once they have returned, no Commit runs fn.
//
// fn must be short, and must not call Commit or send SIGKILL, SIGPOLICY,
// SIGTRUST or SIGTERM to this dispatcher (that deadlocks). Commit does not
// consult the state otherwise: a stopped agent's syscalls that passed the
// gate still commit. fn's error is returned as is; a panic in fn
// propagates.
func (d *Dispatcher) Commit(fn func() error) error {
	d.commitMu.RLock()
	defer d.commitMu.RUnlock()
	if d.dead.Load() {
		return d.Err()
	}
	return fn()
}
