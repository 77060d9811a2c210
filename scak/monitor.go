package scak

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// Defaults of a Monitor.
const (
	DefaultRingSize = 1024
	MaxRingSize     = 1 << 20
	// RuleLoop is the Rule of a loop failure.
	RuleLoop = "loop"
	// maxResultBytes bounds the bytes of a []byte tool result copied to
	// be checked for a give-up.
	maxResultBytes = MaxScan
)

// Monitor finds failures in the outcomes of an agent's syscalls as the
// kernel decides them: denials, tool errors, tool results that give up,
// and loops. Give it to the kernel with [Monitor.Observer] and
// kernel.WithObserver, then [Monitor.Bind] the kernel so that a loop stops
// its agent with SIGLOOP. Failures go to a bounded ring ([Monitor.Failures])
// and, if one was given, to a channel by a send that never blocks. A
// Monitor starts no goroutine and is safe for concurrent use; it runs on
// the goroutine of the syscall it observes.
type Monitor struct {
	detector *Detector
	loops    *LoopDetector
	now      func() time.Time
	tools    map[string]bool // tools whose results are checked; nil: all
	signal   bool
	out      chan<- Failure
	k        atomic.Pointer[kernel.Kernel]

	mu   sync.Mutex
	ring []Failure
	next int
	n    int

	observed, failures, dropped, overwritten, loopsFound, signalErrs atomic.Uint64
}

// MonitorStats counts what a Monitor did.
type MonitorStats struct {
	// Observed counts the syscalls observed.
	Observed uint64
	// Failures counts the failures found, of every kind.
	Failures uint64
	// Loops counts the loop failures among them.
	Loops uint64
	// Dropped counts the failures the channel had no room for.
	Dropped uint64
	// Overwritten counts the failures the ring let go of, oldest first,
	// to hold newer ones.
	Overwritten uint64
	// SignalErrors counts the SIGLOOPs or recorder events that failed
	// (the agent already gone, the recorder closed).
	SignalErrors uint64
}

// MonitorOption configures a Monitor.
type MonitorOption func(*monitorConfig) error

type monitorConfig struct {
	detector *Detector
	loop     LoopConfig
	now      func() time.Time
	tools    []string
	noSignal bool
	out      chan<- Failure
	ring     int
}

// WithDetector sets the detector of give-ups in tool results (default:
// [NewDetector] with no options). Its judge, if it has one, is not asked:
// the monitor runs on the syscall path and uses the pattern path only.
func WithDetector(d *Detector) MonitorOption {
	return func(c *monitorConfig) error {
		if d == nil {
			return fmt.Errorf("scak: %w: nil detector", agentos.ErrInvalid)
		}
		c.detector = d
		return nil
	}
}

// WithLoop configures loop detection (see [LoopConfig]).
func WithLoop(cfg LoopConfig) MonitorOption {
	return func(c *monitorConfig) error {
		if _, err := cfg.withDefaults(); err != nil {
			return err
		}
		c.loop = cfg
		return nil
	}
}

// WithAnswerTools limits the give-up check to the results of the tools
// named (agents behind a tool, a search that answers in prose); by default
// the result of every exec that is a string, []byte or fmt.Stringer is
// checked.
func WithAnswerTools(names ...string) MonitorOption {
	return func(c *monitorConfig) error {
		for _, n := range names {
			if n == "" {
				return fmt.Errorf("scak: %w: empty tool name", agentos.ErrInvalid)
			}
		}
		c.tools = append(c.tools, names...)
		return nil
	}
}

// WithoutLoopSignal reports loops without signalling the agent or
// recording an event.
func WithoutLoopSignal() MonitorOption {
	return func(c *monitorConfig) error {
		c.noSignal = true
		return nil
	}
}

// WithFailureChan sends every failure to ch as well, by a send that never
// blocks: a failure ch has no room for is counted in Stats().Dropped. The
// monitor never closes ch.
func WithFailureChan(ch chan<- Failure) MonitorOption {
	return func(c *monitorConfig) error {
		if ch == nil {
			return fmt.Errorf("scak: %w: nil failure channel", agentos.ErrInvalid)
		}
		c.out = ch
		return nil
	}
}

// WithRingSize sets how many of the latest failures [Monitor.Failures]
// keeps (default [DefaultRingSize], at most [MaxRingSize]).
func WithRingSize(n int) MonitorOption {
	return func(c *monitorConfig) error {
		if n < 1 || n > MaxRingSize {
			return fmt.Errorf("scak: %w: ring size %d is not in [1, %d]", agentos.ErrInvalid, n, MaxRingSize)
		}
		c.ring = n
		return nil
	}
}

// WithMonitorClock sets the clock that stamps failures (default time.Now).
// Loop time windows (LoopConfig.Within) use the syscall's own time, set by
// the kernel's clock.
func WithMonitorClock(now func() time.Time) MonitorOption {
	return func(c *monitorConfig) error {
		if now == nil {
			return fmt.Errorf("scak: %w: nil clock", agentos.ErrInvalid)
		}
		c.now = now
		return nil
	}
}

// NewMonitor returns a monitor. Errors wrap agentos.ErrInvalid.
func NewMonitor(opts ...MonitorOption) (*Monitor, error) {
	c := monitorConfig{now: time.Now, ring: DefaultRingSize}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("scak: %w: nil monitor option", agentos.ErrInvalid)
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	if c.detector == nil {
		d, err := NewDetector()
		if err != nil {
			return nil, err
		}
		c.detector = d
	}
	loops, err := NewLoopDetector(c.loop)
	if err != nil {
		return nil, err
	}
	m := &Monitor{
		detector: c.detector, loops: loops, now: c.now, signal: !c.noSignal,
		out: c.out, ring: make([]Failure, c.ring),
	}
	if c.tools != nil {
		m.tools = map[string]bool{}
		for _, t := range c.tools {
			m.tools[t] = true
		}
	}
	return m, nil
}

// Bind gives the monitor the kernel whose agents it signals; until it is
// bound, loops are reported but no agent is stopped. It also has the
// kernel tell the monitor of reaped agents (kernel.Kernel.OnReap), whose
// loop history it forgets, so that an agent spawned later under the same
// id starts afresh. The kernel is built with the monitor's observer first,
// so Bind comes after kernel.New. Binding the same kernel again does
// nothing. Errors wrap agentos.ErrInvalid: a nil kernel, a second,
// different one, or a kernel holding kernel.MaxReapFuncs reap functions
// already.
func (m *Monitor) Bind(k *kernel.Kernel) error {
	if k == nil {
		return fmt.Errorf("scak: %w: nil kernel", agentos.ErrInvalid)
	}
	if !m.k.CompareAndSwap(nil, k) {
		if m.k.Load() != k {
			return fmt.Errorf("scak: %w: monitor is bound to another kernel", agentos.ErrInvalid)
		}
		return nil
	}
	if _, err := k.OnReap(m.Forget); err != nil {
		m.k.Store(nil)
		return fmt.Errorf("scak: %w", err)
	}
	return nil
}

// Observer returns the kernel observer that feeds the monitor; pass it to
// kernel.WithObserver.
func (m *Monitor) Observer() kernel.Observer { return m.observe }

// observe classifies one syscall. It runs on the agent's goroutine, before
// the syscall returns to the agent: it takes a lock only to write the
// ring, and a loop's SIGLOOP takes effect at the agent's next syscall.
func (m *Monitor) observe(ctx context.Context, s kernel.Syscall) {
	m.observed.Add(1)
	a := s.Action
	base := Failure{Agent: a.Agent, Trace: a.ID, Op: a.Op, Tool: a.Tool, Task: TaskFrom(ctx), Confidence: 1}
	switch {
	case !s.Permitted:
		f := base
		f.Kind, f.Rule = KindDenied, s.Decision.Rule
		f.Evidence = s.Decision.Message
		if f.Evidence == "" && s.Err != nil {
			f.Evidence = s.Err.Error()
		}
		m.emit(f)
	case a.Op == agentos.OpExec && s.Err != nil && s.Status == recorder.StatusError:
		f := base
		f.Kind, f.Evidence = KindToolError, s.Err.Error()
		m.emit(f)
	case a.Op == agentos.OpExec && s.Err == nil && (m.tools == nil || m.tools[a.Tool]):
		if text, ok := resultText(s.Result); ok {
			if mt := m.detector.Match(Answer{Agent: a.Agent, Task: base.Task, Text: text}); m.detector.GiveUp(mt) {
				f := base
				f.Kind, f.Rule, f.Evidence, f.Confidence = KindGiveUp, mt.Family, mt.Text, mt.Confidence
				m.emit(f)
			}
		}
	}
	at := a.At
	if at.IsZero() {
		at = m.now()
	}
	n, loop := m.loops.Observe(a.Agent, CallDigest(a.Op, a.Tool, a.Path, a.Args), at)
	if !loop {
		return
	}
	m.loopsFound.Add(1)
	f := base
	f.Kind, f.Rule = KindLoop, RuleLoop
	f.Evidence = clipUTF8(fmt.Sprintf("%s repeated %d times in the last %d syscalls", describeCall(a), n, m.loops.cfg.Window), maxEvidenceText)
	m.emit(f)
	k := m.k.Load()
	if k == nil || !m.signal {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if err := k.RecordEvent(ctx, "scak: loop detected: agent "+string(a.Agent), f.Evidence+" (trace "+a.ID+")", agentos.SeverityMedium); err != nil {
		m.signalErrs.Add(1)
	}
	if err := k.Signal(ctx, a.Agent, signals.SIGLOOP, f.Evidence); err != nil && !errors.Is(err, agentos.ErrKilled) {
		m.signalErrs.Add(1)
	}
}

// describeCall names a call for a loop's evidence.
func describeCall(a agentos.Action) string {
	switch {
	case a.Tool != "":
		return fmt.Sprintf("%s %s", a.Op, a.Tool)
	case a.Path != "":
		return fmt.Sprintf("%s %s", a.Op, a.Path)
	case a.Target != "":
		return fmt.Sprintf("%s to %s", a.Op, a.Target)
	}
	return string(a.Op)
}

// resultText returns a tool result as text when it is text: a string, a
// []byte (its first bytes, see maxResultBytes) or a fmt.Stringer.
func resultText(r any) (string, bool) {
	switch x := r.(type) {
	case string:
		return x, true
	case []byte:
		return string(x[:min(len(x), maxResultBytes)]), true
	case fmt.Stringer:
		return stringOf(x)
	}
	return "", false
}

// stringOf calls a result's String method, which is the tool's code: one
// that panics (a nil pointer, say) makes the result not text, and does not
// cut the monitor's work on the syscall short.
func stringOf(x fmt.Stringer) (s string, ok bool) {
	defer func() {
		if recover() != nil {
			s, ok = "", false
		}
	}()
	return x.String(), true
}

// emit stamps f and puts it in the ring and, without blocking, the
// channel.
func (m *Monitor) emit(f Failure) {
	f.At = m.now()
	m.failures.Add(1)
	m.mu.Lock()
	if m.n == len(m.ring) {
		m.overwritten.Add(1)
	} else {
		m.n++
	}
	m.ring[m.next] = f
	m.next = (m.next + 1) % len(m.ring)
	m.mu.Unlock()
	if m.out != nil {
		select {
		case m.out <- f:
		default:
			m.dropped.Add(1)
		}
	}
}

// Failures returns the failures in the ring, oldest first (a copy).
func (m *Monitor) Failures() []Failure {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Failure, 0, m.n)
	start := (m.next - m.n + len(m.ring)) % len(m.ring)
	for i := range m.n {
		out = append(out, m.ring[(start+i)%len(m.ring)])
	}
	return out
}

// Stats returns the monitor's counters.
func (m *Monitor) Stats() MonitorStats {
	return MonitorStats{
		Observed: m.observed.Load(), Failures: m.failures.Load(), Loops: m.loopsFound.Load(),
		Dropped: m.dropped.Load(), Overwritten: m.overwritten.Load(), SignalErrors: m.signalErrs.Load(),
	}
}

// Forget drops the monitor's memory of an agent's calls: call it when the
// agent is reaped, or when it is resumed after a loop was dealt with. The
// monitor also forgets the agent seen least recently past
// LoopConfig.MaxAgents.
func (m *Monitor) Forget(id agentos.AgentID) { m.loops.Forget(id) }
