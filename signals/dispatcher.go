package signals

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
)

// ErrHandlerPanicked is wrapped by the error recorded in an Event when a
// handler or hook panicked. The panic is recovered and the signal's default
// action is applied.
var ErrHandlerPanicked = errors.New("signals: handler panicked")

// ErrNoHook is recorded in the Event of a SIGUSR1 or SIGUSR2 whose hook
// (WithSnapshot, WithCheckpoint) is not configured.
var ErrNoHook = errors.New("signals: no hook configured")

// Info describes the signal a handler is asked to handle.
type Info struct {
	Agent  agentos.AgentID
	Signal Signal
	Reason string
	Time   time.Time
}

// Handler handles a catchable signal. Returning nil means the signal was
// handled and its default action is skipped (except for SIGTERM, which
// always terminates after its handler). Returning an error, or panicking,
// means it was not: the error is recorded and the default action applies.
//
// A handler runs synchronously on the goroutine that called Send (or
// Unmask, for a signal that was pending), with no lock of the dispatcher
// held: it may call any method of the dispatcher, Send included, without
// deadlocking. Handlers of signals sent concurrently may run concurrently.
// The ctx is the one given to Send or Unmask; a handler should return when
// it is done.
type Handler func(ctx context.Context, info Info) error

// Hook produces the result of SIGUSR1 (a diagnostic snapshot) or SIGUSR2 (a
// checkpoint): an identifier or short description that is recorded in the
// Event. It runs like a Handler.
type Hook func(ctx context.Context) (string, error)

// Event is one signal occurrence as recorded in the history and reported to
// the observer. A SIGPOLICY or SIGTRUST produces two events: the escalation
// and the SIGKILL.
type Event struct {
	Seq    uint64 // 1, 2, 3… per dispatcher, in the order the events happened
	Time   time.Time
	Agent  agentos.AgentID
	Signal Signal
	Reason string
	Action Action
	From   State  // state before
	To     State  // state after
	Result string // hook result (SIGUSR1, SIGUSR2)
	Err    error  // handler or hook error, recovered panic (errors.Is ErrHandlerPanicked)
	// Dropped counts the events before this one that the observer never
	// received because its queue overflowed (see WithObserver). They are
	// still in the history, within its bound.
	Dropped uint64
}

// Option configures a Dispatcher. An option given a bad value makes [New]
// return an error wrapping agentos.ErrInvalid.
type Option func(*config) error

type config struct {
	clock      func() time.Time
	observer   func(Event)
	snapshot   Hook
	checkpoint Hook
	loop       DefaultAction
	drift      DefaultAction
	history    int
	outbox     int
}

// Defaults and bounds.
const (
	DefaultHistory = 256   // events kept by History
	MaxHistory     = 65536 // largest WithHistory accepted
	observerQueue  = 1024  // events waiting for the observer
)

// WithClock sets the clock that stamps events (time.Now by default).
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now != nil {
			c.clock = now
		}
		return nil
	}
}

// WithObserver sets the function told of every Event, for example to write
// it to the flight recorder.
//
// The observer is called for events in Seq order, one at a time, without
// any lock of the dispatcher held, on the goroutine of a Send, Unmask or
// kill that produced events — not always the one that produced that event:
// when two goroutines signal at once, one of them reports the events of
// both. It must not block for long (it delays the Send that calls it) and
// may call the dispatcher. An observer that cannot keep up loses events
// beyond a queue of 1024; the next event it receives counts them in
// Event.Dropped.
func WithObserver(fn func(Event)) Option {
	return func(c *config) error { c.observer = fn; return nil }
}

// WithSnapshot sets the hook run by SIGUSR1 when no handler handles it.
func WithSnapshot(fn Hook) Option { return func(c *config) error { c.snapshot = fn; return nil } }

// WithCheckpoint sets the hook run by SIGUSR2 when no handler handles it.
func WithCheckpoint(fn Hook) Option {
	return func(c *config) error { c.checkpoint = fn; return nil }
}

// WithDefaultAction sets the default action of SIGLOOP (DefaultStop unless
// set) or SIGDRIFT (DefaultIgnore unless set). Another signal, or an action
// that is not a defined DefaultAction, makes New fail with an error wrapping
// agentos.ErrInvalid.
func WithDefaultAction(sig Signal, a DefaultAction) Option {
	return func(c *config) error {
		if a > DefaultTerminate {
			return fmt.Errorf("signals: WithDefaultAction: %w: invalid action %s", errInvalid, a)
		}
		switch sig {
		case SIGLOOP:
			c.loop = a
		case SIGDRIFT:
			c.drift = a
		default:
			return fmt.Errorf("signals: WithDefaultAction: %w: %s has no configurable default", errInvalid, sig)
		}
		return nil
	}
}

// WithHistory sets how many events History keeps (DefaultHistory when
// n <= 0, at most MaxHistory).
func WithHistory(n int) Option {
	return func(c *config) error {
		if n > 0 {
			c.history = min(n, MaxHistory)
		}
		return nil
	}
}

// Dispatcher is the signal dispatcher of one agent and the gate of its
// syscalls. It starts no goroutine. All methods are safe for concurrent
// use by many goroutines.
type Dispatcher struct {
	agent agentos.AgentID
	cfg   config

	// commitMu orders Commit against termination: Commit holds it for
	// reading while fn runs, termination holds it for writing while it
	// sets dead. Lock order: commitMu, then mu.
	commitMu sync.RWMutex
	dead     atomic.Bool

	mu       sync.RWMutex // Enter's fast path holds it for reading
	state    State
	err      *SignalError // termination cause, set once
	done     chan struct{}
	resume   chan struct{} // non-nil while Stopped; closed to release the gate
	waiting  int           // syscalls blocked at the gate
	inflight atomic.Int64  // syscalls between Enter and done
	cur      *flight       // context shared by new syscalls
	live     map[*flight]struct{}
	handlers [numSignals + 1]Handler
	mask     uint32
	pending  []pend // at most one per catchable signal (coalesced)
	seq      uint64
	hist     []Event // ring
	histNext int
	histFull bool
	outbox   []Event
	dropped  uint64
	// reported is the sequence of the last event handed to the observer;
	// resumed is that of the SIGCONT that last released the gate. A
	// syscall does not pass the gate before reported reaches resumed (it
	// waits on reportedCond, tied to mu), so that the observer (the
	// kernel's flight recorder) is told of the SIGCONT before anything the
	// released syscalls do.
	reported, resumed uint64
	reportedCond      *sync.Cond

	obsMu sync.Mutex // held by the goroutine reporting to the observer
}

type pend struct {
	sig    Signal
	reason string
}

// New returns the dispatcher of agent, Running. An option given a bad value,
// or a nil option, makes it fail with an error wrapping agentos.ErrInvalid.
func New(agent agentos.AgentID, opts ...Option) (*Dispatcher, error) {
	cfg := config{clock: time.Now, loop: DefaultStop, drift: DefaultIgnore, history: DefaultHistory, outbox: observerQueue}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("signals: %w: nil option", errInvalid)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	d := &Dispatcher{
		agent: agent,
		cfg:   cfg,
		done:  make(chan struct{}),
		live:  make(map[*flight]struct{}),
		hist:  make([]Event, cfg.history),
	}
	d.reportedCond = sync.NewCond(&d.mu)
	return d, nil
}

// Agent returns the agent the dispatcher belongs to.
func (d *Dispatcher) Agent() agentos.AgentID { return d.agent }

// State returns the current state.
func (d *Dispatcher) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// Err returns nil while the agent is not terminated, then the termination
// cause: a *SignalError naming the signal, wrapping agentos.ErrKilled.
func (d *Dispatcher) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.errLocked()
}

func (d *Dispatcher) errLocked() error {
	if d.err == nil {
		return nil
	}
	return d.err
}

// Done returns a channel closed when the agent is terminated.
func (d *Dispatcher) Done() <-chan struct{} { return d.done }

// InFlight returns the number of syscalls between Enter and their done.
func (d *Dispatcher) InFlight() int { return int(d.inflight.Load()) }

// Waiting returns the number of syscalls blocked at the gate.
func (d *Dispatcher) Waiting() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.waiting
}

// Handle installs h as the handler of sig; a nil h restores the default
// action. Only catchable signals take a handler (Signal.Catchable): for
// SIGKILL, SIGPOLICY, SIGTRUST, SIGSTOP and SIGCONT the error wraps
// agentos.ErrInvalid and nothing changes.
func (d *Dispatcher) Handle(sig Signal, h Handler) error {
	if !sig.Catchable() {
		return fmt.Errorf("signals: %w: %s cannot be caught", errInvalid, sig)
	}
	d.mu.Lock()
	d.handlers[sig] = h
	d.mu.Unlock()
	return nil
}

func maskBits(sigs []Signal) (uint32, error) {
	var bits uint32
	for _, s := range sigs {
		if !s.Catchable() {
			return 0, fmt.Errorf("signals: %w: %s cannot be masked", errInvalid, s)
		}
		bits |= 1 << s
	}
	return bits, nil
}

// Mask blocks the delivery of sigs: while masked, a signal sent is queued
// (ActionPending) and delivered by Unmask. A signal already pending is
// coalesced with it (ActionCoalesced, as POSIX does), so the queue holds at
// most one entry per catchable signal. SIGKILL, SIGPOLICY, SIGTRUST, SIGSTOP
// and SIGCONT cannot be masked: the error wraps agentos.ErrInvalid and the
// mask is unchanged.
func (d *Dispatcher) Mask(sigs ...Signal) error {
	bits, err := maskBits(sigs)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.mask |= bits
	d.mu.Unlock()
	return nil
}

// Unmask unblocks sigs, then delivers on the calling goroutine, in the
// order they were sent, the pending signals that are no longer masked. Its
// error is non-nil only for a signal that cannot be masked (nothing changes
// then); the outcome of each delivery is in the events.
func (d *Dispatcher) Unmask(ctx context.Context, sigs ...Signal) error {
	bits, err := maskBits(sigs)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.mask &^= bits
	var ready []pend
	keep := d.pending[:0]
	for _, p := range d.pending {
		if d.mask&(1<<p.sig) == 0 {
			ready = append(ready, p)
		} else {
			keep = append(keep, p)
		}
	}
	clear(d.pending[len(keep):])
	d.pending = keep
	d.mu.Unlock()
	defer d.flush()
	for _, p := range ready {
		_ = d.deliver(ctx, p.sig, p.reason, true)
	}
	return nil
}

// Masked returns the masked signals in numeric order.
func (d *Dispatcher) Masked() []Signal {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Signal
	for s := Signal(1); s <= numSignals; s++ {
		if d.mask&(1<<s) != 0 {
			out = append(out, s)
		}
	}
	return out
}

// Pending returns the pending signals in delivery order.
func (d *Dispatcher) Pending() []Signal {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Signal, len(d.pending))
	for i, p := range d.pending {
		out[i] = p.sig
	}
	return out
}

// History returns the most recent events, oldest first (at most the bound
// set by WithHistory).
func (d *Dispatcher) History() []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.histFull {
		return append([]Event(nil), d.hist[:d.histNext]...)
	}
	out := make([]Event, 0, len(d.hist))
	out = append(out, d.hist[d.histNext:]...)
	return append(out, d.hist[:d.histNext]...)
}

// Send delivers sig to the agent and returns once it took effect:
//
//   - SIGKILL terminates the agent: it waits for the Commit calls that are
//     running, then every later Commit and Enter returns the termination
//     error, the contexts of the syscalls in flight are cancelled with it as
//     cause, Done is closed. It cannot be caught, masked or undone.
//   - SIGPOLICY and SIGTRUST escalate to SIGKILL (the cause recorded is the
//     original signal).
//   - SIGSTOP stops the agent: later syscalls block at the gate; syscalls in
//     flight go on. SIGCONT resumes it. Neither can be caught or masked.
//   - SIGINT cancels the contexts of the syscalls in flight (cause: a
//     *SignalError wrapping ErrInterrupted); later syscalls proceed.
//   - SIGTERM runs the handler, if any, then terminates as SIGKILL does.
//   - SIGBUDGET stops the agent, as SIGSTOP, unless a handler handles it.
//   - SIGUSR1 and SIGUSR2 run the snapshot and checkpoint hooks.
//   - SIGLOOP and SIGDRIFT apply the default action set by
//     WithDefaultAction, unless a handler handles them.
//
// A catchable signal that is masked is queued instead (see Mask). Handlers
// and hooks run on the calling goroutine with ctx (see Handler); SIGKILL
// does not consult ctx.
//
// The error wraps agentos.ErrInvalid for an undefined signal; it is the
// termination error (wrapping agentos.ErrKilled) when the agent is already
// terminated, except for the fatal signals, which then return nil. Handler
// and hook failures are not returned: they are in the events.
func (d *Dispatcher) Send(ctx context.Context, sig Signal, reason string) error {
	if !sig.Valid() {
		return fmt.Errorf("signals: %w: %s", errInvalid, sig)
	}
	defer d.flush()
	switch {
	case sig.Fatal():
		d.kill(sig, reason)
		return nil
	case sig == SIGSTOP:
		return d.stop(Event{Signal: sig, Reason: reason, Action: ActionDefault})
	case sig == SIGCONT:
		return d.cont(reason)
	}
	return d.deliver(ctx, sig, reason, false)
}

// kill terminates the agent for a fatal signal.
func (d *Dispatcher) kill(sig Signal, reason string) {
	d.commitMu.Lock()
	d.mu.Lock()
	if d.state == Terminated {
		d.emitLocked(Event{Signal: sig, Reason: reason, Action: ActionIgnored, From: Terminated, To: Terminated})
		d.mu.Unlock()
		d.commitMu.Unlock()
		return
	}
	from := d.state
	killReason := reason
	if sig != SIGKILL {
		d.emitLocked(Event{Signal: sig, Reason: reason, Action: ActionEscalated, From: from, To: from})
		killReason = sig.String()
		if reason != "" {
			killReason += ": " + reason
		}
	}
	d.emitLocked(Event{Signal: SIGKILL, Reason: killReason, Action: ActionDefault, From: from, To: Terminated})
	flights := d.terminateLocked(sig, reason)
	d.mu.Unlock()
	d.commitMu.Unlock()
	cancelFlights(flights, d.err)
}

// terminate terminates the agent for SIGTERM or a default action of
// terminate; ev is recorded with the transition.
func (d *Dispatcher) terminate(ev Event) error {
	d.commitMu.Lock()
	d.mu.Lock()
	ev.From = d.state
	if d.state == Terminated {
		ev.Action, ev.To = ActionIgnored, Terminated
		d.emitLocked(ev)
		err := d.errLocked()
		d.mu.Unlock()
		d.commitMu.Unlock()
		return err
	}
	ev.To = Terminated
	d.emitLocked(ev)
	flights := d.terminateLocked(ev.Signal, ev.Reason)
	d.mu.Unlock()
	d.commitMu.Unlock()
	cancelFlights(flights, d.err)
	return nil
}

// terminateLocked makes the transition to Terminated. Both commitMu (for
// writing) and mu are held. It returns the flights to cancel once the
// locks are released.
func (d *Dispatcher) terminateLocked(cause Signal, reason string) []*flight {
	d.state = Terminated
	d.err = &SignalError{Agent: d.agent, Signal: cause, Reason: reason, Err: agentos.ErrKilled}
	d.dead.Store(true)
	close(d.done)
	if d.resume != nil {
		close(d.resume)
		d.resume = nil
	}
	clear(d.pending)
	d.pending = d.pending[:0]
	return d.takeFlightsLocked()
}

func (d *Dispatcher) stop(ev Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ev.From = d.state
	switch d.state {
	case Terminated:
		ev.Action, ev.To = ActionIgnored, Terminated
		d.emitLocked(ev)
		return d.errLocked()
	case Stopped:
		ev.Action, ev.To = ActionIgnored, Stopped
	default:
		d.state = Stopped
		d.resume = make(chan struct{})
		ev.To = Stopped
	}
	d.emitLocked(ev)
	return nil
}

func (d *Dispatcher) cont(reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ev := Event{Signal: SIGCONT, Reason: reason, Action: ActionDefault, From: d.state, To: d.state}
	switch d.state {
	case Terminated:
		ev.Action = ActionIgnored
		d.emitLocked(ev)
		return d.errLocked()
	case Running:
		ev.Action = ActionIgnored
	default:
		d.state = Running
		close(d.resume)
		d.resume = nil
		ev.To = Running
		d.emitLocked(ev)
		if d.cfg.observer != nil {
			d.resumed = d.seq
		}
		return nil
	}
	d.emitLocked(ev)
	return nil
}

func (d *Dispatcher) interrupt(ev Event) error {
	d.mu.Lock()
	ev.From, ev.To = d.state, d.state
	if d.state == Terminated {
		ev.Action = ActionIgnored
		d.emitLocked(ev)
		err := d.errLocked()
		d.mu.Unlock()
		return err
	}
	d.emitLocked(ev)
	flights := d.takeFlightsLocked()
	d.mu.Unlock()
	cancelFlights(flights, &SignalError{Agent: d.agent, Signal: SIGINT, Reason: ev.Reason, Err: ErrInterrupted})
	return nil
}

// record records ev in the current state, with no transition.
func (d *Dispatcher) record(ev Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ev.From, ev.To = d.state, d.state
	d.emitLocked(ev)
	return nil
}

// deliver delivers a catchable signal.
func (d *Dispatcher) deliver(ctx context.Context, sig Signal, reason string, fromPending bool) error {
	d.mu.Lock()
	if d.state == Terminated {
		d.emitLocked(Event{Signal: sig, Reason: reason, Action: ActionIgnored, From: Terminated, To: Terminated})
		err := d.errLocked()
		d.mu.Unlock()
		return err
	}
	if !fromPending && d.mask&(1<<sig) != 0 {
		ev := Event{Signal: sig, Reason: reason, Action: ActionPending, From: d.state, To: d.state}
		queued := false
		for _, p := range d.pending {
			if p.sig == sig {
				queued = true
				break
			}
		}
		if queued {
			ev.Action = ActionCoalesced
		} else {
			d.pending = append(d.pending, pend{sig: sig, reason: reason})
		}
		d.emitLocked(ev)
		d.mu.Unlock()
		return nil
	}
	h := d.handlers[sig]
	d.mu.Unlock()

	var herr error
	if h != nil {
		info := Info{Agent: d.agent, Signal: sig, Reason: reason, Time: d.cfg.clock()}
		herr = callHandler(ctx, h, info)
		if herr == nil {
			ev := Event{Signal: sig, Reason: reason, Action: ActionHandled}
			if sig == SIGTERM {
				return d.terminate(ev)
			}
			return d.record(ev)
		}
	}
	ev := Event{Signal: sig, Reason: reason, Action: ActionDefault, Err: herr}
	switch sig {
	case SIGINT:
		return d.interrupt(ev)
	case SIGTERM:
		return d.terminate(ev)
	case SIGBUDGET:
		return d.stop(ev)
	case SIGUSR1:
		return d.runHook(ctx, ev, d.cfg.snapshot)
	case SIGUSR2:
		return d.runHook(ctx, ev, d.cfg.checkpoint)
	}
	a := d.cfg.loop
	if sig == SIGDRIFT {
		a = d.cfg.drift
	}
	switch a {
	case DefaultStop:
		return d.stop(ev)
	case DefaultTerminate:
		return d.terminate(ev)
	}
	ev.Action = ActionIgnored
	return d.record(ev)
}

func (d *Dispatcher) runHook(ctx context.Context, ev Event, hook Hook) error {
	if hook == nil {
		ev.Action = ActionIgnored
		ev.Err = errors.Join(ev.Err, ErrNoHook)
		return d.record(ev)
	}
	res, err := callHook(ctx, ev.Signal, hook)
	ev.Result = res
	ev.Err = errors.Join(ev.Err, err)
	return d.record(ev)
}

func callHandler(ctx context.Context, h Handler, info Info) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s handler: %v", ErrHandlerPanicked, info.Signal, r)
		}
	}()
	return h(ctx, info)
}

func callHook(ctx context.Context, sig Signal, hook Hook) (res string, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = "", fmt.Errorf("%w: %s hook: %v", ErrHandlerPanicked, sig, r)
		}
	}()
	return hook(ctx)
}

// emitLocked stamps ev, keeps it in the history and queues it for the
// observer. mu is held.
func (d *Dispatcher) emitLocked(ev Event) {
	d.seq++
	ev.Seq = d.seq
	ev.Time = d.cfg.clock()
	ev.Agent = d.agent
	d.hist[d.histNext] = ev
	d.histNext++
	if d.histNext == len(d.hist) {
		d.histNext, d.histFull = 0, true
	}
	if d.cfg.observer == nil {
		return
	}
	if len(d.outbox) == d.cfg.outbox {
		copy(d.outbox, d.outbox[1:])
		d.outbox = d.outbox[:len(d.outbox)-1]
		d.dropped++
	}
	d.outbox = append(d.outbox, ev)
}

// flush reports queued events to the observer unless another goroutine is
// doing so; that goroutine then reports ours as well.
func (d *Dispatcher) flush() {
	if d.cfg.observer == nil {
		return
	}
	for d.obsMu.TryLock() {
		d.drain()
		// An event queued after our last look, by a goroutine whose TryLock
		// failed while we held obsMu, is ours to report.
		d.mu.Lock()
		more := len(d.outbox) > 0
		d.mu.Unlock()
		if !more {
			return
		}
	}
}

func (d *Dispatcher) drain() {
	defer d.obsMu.Unlock()
	for {
		d.mu.Lock()
		evs := d.outbox
		d.outbox = nil
		if len(evs) > 0 && d.dropped > 0 {
			evs[0].Dropped, d.dropped = d.dropped, 0
		}
		d.mu.Unlock()
		if len(evs) == 0 {
			return
		}
		for _, ev := range evs {
			d.cfg.observer(ev)
		}
		d.mu.Lock()
		d.reported = evs[len(evs)-1].Seq
		d.reportedCond.Broadcast()
		d.mu.Unlock()
	}
}

// awaitReportedLocked waits, with mu held (it is released meanwhile), until
// the observer has been told of the SIGCONT that last released the gate.
func (d *Dispatcher) awaitReportedLocked() {
	target := d.resumed
	if d.reported >= target {
		return
	}
	d.mu.Unlock()
	d.flush() // unless another goroutine is reporting, which will report it
	d.mu.Lock()
	for d.reported < target {
		d.reportedCond.Wait()
	}
}
