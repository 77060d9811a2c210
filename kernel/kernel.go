package kernel

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/internal/hooks"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
	"github.com/agent-os/agentos/vfs"
)

//go:embed baseline.yaml
var baselineYAML []byte

// Baseline returns the text of the policy [New] loads when no policy option
// is given: an agent may read, write, append, stat, list and delete under
// its own /mem/ and /state/ mounts, list its root, read /policy/, and
// checkpoint and roll back; every tool call (rule baseline-no-tools) and
// every message (baseline-no-messages) is denied, and so is anything else
// (the default effect). The slice is a copy.
func Baseline() []byte { return slices.Clone(baselineYAML) }

// BaselineName is the name of the baseline policy document.
const BaselineName = "kernel-baseline.yaml"

// Kernel governs agents: it owns their signal dispatchers and namespaces,
// decides every syscall with its policy and records it in its flight
// recorder. Create one with [New]; it is safe for concurrent use.
type Kernel struct {
	eval      Evaluator
	sink      Sink
	ownSink   io.Closer // the recorder New opened, closed by Close
	tools     *atr.Registry
	approver  Approver
	approveTO time.Duration
	strict    bool
	shadow    bool
	observers []Observer                        // WithObserver, in order
	reaps     hooks.List[func(agentos.AgentID)] // OnReap
	now       func() time.Time
	// realClock: now is time.Now, whose readings carry the monotonic
	// clock, so a syscall's end is its start plus a monotonic reading
	// (syscallEnd) rather than a second wall-clock read.
	realClock bool
	log       *slog.Logger
	maxAgents int
	closeTO   time.Duration

	tracePrefix string
	traceSeq    atomic.Uint64

	bus amb.Bus // WithBus; nil without
	hub *busHub // the subscriptions agents made on bus; nil without

	sandbox *sandbox // command tools' cgroups and egress enforcement; nil without

	memory *Memory // WithMemory; nil without

	trust *trustState // WithIATP; nil without

	tel *telemetry // WithTracerProvider, WithMeterProvider; nil without

	policyMount *vfs.StaticMount // /policy/ of every agent, replaced on reload
	quota       *vfs.Quota
	budget      *vfs.Budget // shared by every agent's namespace

	// argsLimit bounds the arguments a decision entry holds; larger ones
	// are recorded cut, with the digest of the whole (recordedArgs).
	argsLimit int
	// losses is the sink's report of lost entries (lossReporter), or nil.
	losses   lossReporter
	lostOnce sync.Once

	panicked atomic.Bool

	mu       sync.RWMutex // guards agents and closed; held shared while admitting a syscall
	agents   map[agentos.AgentID]*Agent
	closed   bool
	inflight sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// New builds a kernel. With no policy option it loads the [Baseline]
// policy; with no [WithRecorder] it records into an in-memory recorder of its
// own. Any option that fails makes New return its error, and giving more
// than one policy option is an error.
func New(opts ...Option) (*Kernel, error) {
	c := &config{
		clock:     time.Now,
		logger:    slog.New(slog.DiscardHandler),
		maxAgents: DefaultMaxAgents,
		closeTO:   DefaultCloseTimeout,
	}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: %w", errNilOption, agentos.ErrInvalid)
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.policyCount > 1 {
		return nil, fmt.Errorf("kernel: %w: more than one policy option given", agentos.ErrInvalid)
	}
	eval := c.eval
	docs := c.policyDocs
	if c.privacy && eval != nil {
		return nil, fmt.Errorf("kernel: %w: WithPrivacyGuards cannot extend an Evaluator given with WithPolicy; add PrivacyGuards() to its documents", agentos.ErrInvalid)
	}
	if eval == nil {
		priv, err := policy.Parse(PrivacyName, privacyYAML)
		if err != nil {
			return nil, fmt.Errorf("kernel: privacy policy: %w", err)
		}
		if docs == nil {
			base, err := policy.Parse(BaselineName, baselineYAML)
			if err != nil {
				return nil, fmt.Errorf("kernel: baseline policy: %w", err)
			}
			docs = []*policy.Document{base, priv}
		} else if c.privacy {
			docs = append(slices.Clip(docs), priv)
		}
		e, err := policy.NewEngine(docs, policy.WithClock(c.clock))
		if err != nil {
			return nil, fmt.Errorf("kernel: policy: %w", err)
		}
		eval = e
	}
	k := &Kernel{
		eval:      eval,
		sink:      c.sink,
		tools:     c.registry,
		approver:  c.approver,
		approveTO: c.approveTO,
		strict:    c.strict,
		shadow:    c.shadow,
		observers: c.observers,
		now:       c.clock,
		realClock: reflect.ValueOf(c.clock).Pointer() == reflect.ValueOf(time.Now).Pointer(),
		log:       c.logger,
		maxAgents: c.maxAgents,
		closeTO:   c.closeTO,
		quota:     c.quota,
		agents:    map[agentos.AgentID]*Agent{},
	}
	k.memory = c.memory
	if c.trust != nil {
		k.trust = newTrustState(c.trust, c.clock)
	}
	if k.tools == nil {
		k.tools = atr.New()
	}
	for _, t := range c.tools {
		if err := k.tools.Add(t); err != nil {
			return nil, fmt.Errorf("kernel: tool %q: %w", t.Name, err)
		}
	}
	if c.bus != nil {
		k.bus, k.hub = c.bus, newBusHub(c.bus, c.logger)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails
	k.tracePrefix = hex.EncodeToString(rnd[:]) + "-"
	if docs == nil {
		docs = documentsOf(eval)
	}
	pm, err := vfs.NewStaticMount(policyFiles(docs), k.now())
	if err != nil {
		return nil, fmt.Errorf("kernel: policy view: %w", err)
	}
	k.policyMount = pm
	if k.sink == nil {
		rec, err := recorder.Open("", &recorder.Options{Durability: recorder.Buffered, Clock: c.clock, MaxEntries: DefaultRecorderEntries})
		if err != nil {
			return nil, fmt.Errorf("kernel: opening the in-memory recorder: %w", err)
		}
		k.sink, k.ownSink = rec, rec
	} else if d, ok := k.sink.(durabilityReporter); ok && d.Durability() == recorder.Buffered && !d.InMemory() && !c.lossy {
		return nil, fmt.Errorf("kernel: %w: the recorder is in Buffered mode and writes a file: a syscall could "+
			"return success and its entries be lost; use a WriteAhead recorder, or accept the loss window with WithLossyRecorder", agentos.ErrInvalid)
	}
	k.losses, _ = k.sink.(lossReporter)
	k.argsLimit = MaxArgsRecorded
	if l, ok := k.sink.(entryLimiter); ok {
		// Leave room for everything else an entry holds (meta, path,
		// message, detail: bounded to tens of KiB).
		k.argsLimit = max(min(k.argsLimit, l.MaxEntryBytes()/4), minArgsRecorded)
	}
	budget := c.memBudget
	if budget == 0 {
		budget = DefaultMemoryBudget
	}
	if k.budget, err = vfs.NewBudget(budget); err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	if _, err := k.appendEntry(context.Background(), recorder.Entry{
		Kind:          recorder.KindLifecycle,
		Message:       "kernel started",
		PolicyVersion: k.policyVersion(),
	}); err != nil {
		if k.ownSink != nil {
			_ = k.ownSink.Close()
		}
		return nil, fmt.Errorf("kernel: recording start: %w: %w", ErrRecorder, err)
	}
	if k.tel, err = newTelemetry(&c.otel); err == nil {
		err = k.tel.attach(&c.otel, k.sink)
	}
	if err != nil {
		if k.ownSink != nil {
			_ = k.ownSink.Close()
		}
		return nil, err
	}
	if err := k.startSandbox(c.sandbox); err != nil {
		k.tel.detach()
		if k.ownSink != nil {
			_ = k.ownSink.Close()
		}
		return nil, err
	}
	return k, nil
}

// Recorder returns the sink the kernel records into: the one given with
// [WithRecorder], or the in-memory *recorder.Recorder the kernel opened.
func (k *Kernel) Recorder() Sink { return k.sink }

// Tools returns the names of the kernel's tools, sorted, each once
// whatever its number of versions.
func (k *Kernel) Tools() []string {
	var names []string
	for _, t := range k.tools.Tools() {
		if len(names) == 0 || names[len(names)-1] != t.Name {
			names = append(names, t.Name)
		}
	}
	return names
}

// Registry returns the kernel's tool registry: the one given with
// [WithRegistry], or the kernel's own. Tools added to it are callable at
// once.
func (k *Kernel) Registry() *atr.Registry { return k.tools }

func (k *Kernel) newTrace() string {
	var buf [48]byte // the prefix is 17 bytes: one allocation, the string's
	return string(strconv.AppendUint(append(buf[:0], k.tracePrefix...), k.traceSeq.Add(1), 36))
}

// syscallEnd returns the time a syscall that started at start (a reading
// of k.now) ends. With the real clock that is start plus the monotonic
// time elapsed since: one cheap monotonic read instead of a second
// wall-clock read, and a duration that a wall-clock step cannot make
// negative. With an injected clock it is a reading of that clock.
func (k *Kernel) syscallEnd(start time.Time) time.Time {
	if k.realClock {
		return start.Add(time.Since(start))
	}
	return k.now()
}

// usable reports why the kernel refuses work, or nil.
func (k *Kernel) usable() error {
	if err := k.recorderLost(); err != nil {
		return err
	}
	if k.panicked.Load() {
		return agentos.ErrPanicked
	}
	return nil
}

// admit registers a syscall in flight; the caller must call k.inflight.Done.
func (k *Kernel) admit() error {
	if err := k.recorderLost(); err != nil {
		return err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return agentos.ErrClosed
	}
	if k.panicked.Load() {
		return agentos.ErrPanicked
	}
	k.inflight.Add(1)
	return nil
}

// recorderLost returns nil while the recorder has lost nothing it
// acknowledged. From its first reported loss on it returns an error
// wrapping ErrRecorder, the loss (recorder.ErrLost) and
// agentos.ErrPanicked, and the first caller to see it panics the kernel:
// no later syscall may succeed on the strength of a record that a
// recorder which loses records may lose too.
func (k *Kernel) recorderLost() error {
	if k.losses == nil {
		return nil
	}
	lost := k.losses.Lost()
	if lost == nil {
		return nil
	}
	k.lostOnce.Do(func() {
		k.log.Error("kernel: the flight recorder lost acknowledged entries; halting", "err", lost)
		k.Panic("the flight recorder lost acknowledged entries: " + lost.Error())
	})
	return fmt.Errorf("%w: %w (%w)", ErrRecorder, lost, agentos.ErrPanicked)
}

// validAgentID reports whether id is acceptable: 1 to MaxAgentIDLen bytes
// of letters, digits and "-_.:@", starting with a letter or digit.
func validAgentID(id agentos.AgentID) error {
	s := string(id)
	if s == "" || len(s) > MaxAgentIDLen || !utf8.ValidString(s) {
		return fmt.Errorf("kernel: %w: agent id must be 1 to %d bytes", agentos.ErrInvalid, MaxAgentIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum || (i > 0 && (c == '-' || c == '_' || c == '.' || c == ':' || c == '@')) {
			continue
		}
		return fmt.Errorf("kernel: %w: agent id %q: only ASCII letters, digits and -_.:@ (not first) are allowed", agentos.ErrInvalid, s)
	}
	return nil
}

// Spawn creates an agent with its own signal dispatcher and namespace. The
// id must be new to this kernel and well formed (ASCII letters, digits and
// "-_.:@", at most [MaxAgentIDLen] bytes). Spawning is done by the host, not
// by an agent, and is recorded but not decided by policy. It fails with
// agentos.ErrClosed, agentos.ErrPanicked, agentos.ErrInvalid (a bad or
// duplicate id, a bad option) or agentos.ErrQuota (too many agents).
func (k *Kernel) Spawn(ctx context.Context, id agentos.AgentID, opts ...AgentOption) (*Agent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := k.recorderLost(); err != nil {
		return nil, err
	}
	if err := validAgentID(id); err != nil {
		return nil, err
	}
	var ac agentConfig
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: %w", errNilOption, agentos.ErrInvalid)
		}
		if err := o(&ac); err != nil {
			return nil, err
		}
	}
	if ac.identity != nil && k.trust == nil {
		return nil, fmt.Errorf("kernel: %w: an agent identity needs WithIATP", agentos.ErrInvalid)
	}
	a, err := k.newAgent(id, ac)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	switch {
	case k.closed:
		err = agentos.ErrClosed
	case k.panicked.Load():
		err = agentos.ErrPanicked
	case k.agents[id] != nil:
		err = fmt.Errorf("kernel: %w: agent %q exists", agentos.ErrInvalid, id)
	case len(k.agents) >= k.maxAgents:
		err = fmt.Errorf("kernel: %w: %d agents", agentos.ErrQuota, k.maxAgents)
	default:
		k.agents[id] = a
	}
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if _, rerr := k.appendEntry(context.WithoutCancel(ctx), recorder.Entry{
		Kind:    recorder.KindLifecycle,
		Agent:   id,
		Message: "spawned",
		Detail:  spawnDetail(ac),
	}); rerr != nil {
		k.log.Error("kernel: recording spawn", "agent", id, "err", rerr)
	}
	return a, nil
}

// Agent returns the agent with the given id, or nil.
func (k *Kernel) Agent(id agentos.AgentID) *Agent {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.agents[id]
}

// Agents returns the ids of the kernel's agents, sorted.
func (k *Kernel) Agents() []agentos.AgentID {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return slices.Sorted(maps.Keys(k.agents))
}

// Reap removes a terminated agent from the kernel, freeing its id and its
// memory, records a "reaped" lifecycle entry (an id spawned again later is
// a new agent) and tells the OnReap functions. Reaping a live agent fails with
// agentos.ErrInvalid; an unknown id with agentos.ErrNotFound.
func (k *Kernel) Reap(id agentos.AgentID) error {
	k.mu.Lock()
	a := k.agents[id]
	switch {
	case a == nil:
		k.mu.Unlock()
		return fmt.Errorf("kernel: agent %q: %w", id, agentos.ErrNotFound)
	case a.sig.State() != signals.Terminated:
		k.mu.Unlock()
		return fmt.Errorf("kernel: %w: agent %q is alive", agentos.ErrInvalid, id)
	}
	delete(k.agents, id)
	k.mu.Unlock()
	k.forgetSandbox(a)
	_ = a.ns.Close() // gives its share of the memory budget back; never fails
	if _, err := k.appendEntry(context.Background(), recorder.Entry{
		Kind: recorder.KindLifecycle, Agent: id, Message: "reaped",
	}); err != nil {
		k.log.Error("kernel: recording a reap", "agent", id, "err", err)
	}
	k.reaped(id)
	return nil
}

// Run runs fn as agent id, spawning the agent with opts if it does not exist
// yet (an existing agent takes no options). fn's context is derived from
// ctx and is cancelled, with the kill as its cause, when the agent is
// killed; it is also cancelled when Run returns.
//
// A panic in fn (on Run's goroutine) is recovered: it is recorded as a
// panic entry with its stack, the agent — and only that agent — is killed,
// and Run returns an [*AgentPanic]. When the agent was killed while fn ran,
// the returned error also matches agentos.ErrKilled.
func (k *Kernel) Run(ctx context.Context, id agentos.AgentID, fn func(ctx context.Context, a *Agent) error, opts ...AgentOption) (err error) {
	if fn == nil {
		return fmt.Errorf("kernel: %w: nil agent function", agentos.ErrInvalid)
	}
	if err := k.usable(); err != nil {
		return err
	}
	a := k.Agent(id)
	if a == nil {
		if a, err = k.Spawn(ctx, id, opts...); err != nil {
			return err
		}
	} else if len(opts) > 0 {
		return fmt.Errorf("kernel: %w: agent %q exists; options apply only when Run spawns it", agentos.ErrInvalid, id)
	}
	if err := a.sig.Err(); err != nil {
		return err
	}

	runCtx, cancel := context.WithCancelCause(ctx)
	var watch sync.WaitGroup
	watch.Go(func() {
		select {
		case <-a.sig.Done():
			cancel(a.sig.Err())
		case <-runCtx.Done():
		}
	})
	defer func() {
		cancel(nil)
		watch.Wait()
	}()

	defer func() {
		r := recover()
		if r == nil {
			return
		}
		stack := debug.Stack()
		p := &AgentPanic{Agent: id, Value: r, Stack: stack}
		if _, rerr := k.appendEntry(context.WithoutCancel(ctx), recorder.Entry{
			Kind:     recorder.KindPanic,
			Agent:    id,
			Message:  fmt.Sprintf("panic in agent code: %v", r),
			Severity: agentos.SeverityCritical,
			Detail:   truncateBytes(stack, maxStackRecorded),
		}); rerr != nil {
			k.log.Error("kernel: recording agent panic", "agent", id, "err", rerr)
		}
		if serr := a.sig.Send(context.Background(), signals.SIGKILL, "panic in agent code"); serr != nil && !errors.Is(serr, agentos.ErrKilled) {
			k.log.Error("kernel: killing panicked agent", "agent", id, "err", serr)
		}
		err = p
	}()

	err = fn(runCtx, a)
	if kerr := a.sig.Err(); kerr != nil && !errors.Is(err, agentos.ErrKilled) {
		if err == nil {
			return kerr
		}
		return fmt.Errorf("%w (%w)", err, kerr)
	}
	return err
}

// maxStackRecorded bounds the stack trace recorded for a panic.
const maxStackRecorded = 16 << 10

func truncateBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// Panic halts the kernel: it records a panic entry with reason, kills every
// agent, and from then on every syscall, Spawn and Run fails with
// agentos.ErrPanicked. Only Close still works. Calling Panic again does
// nothing.
func (k *Kernel) Panic(reason string) {
	if !k.panicked.CompareAndSwap(false, true) {
		return
	}
	e := recorder.Entry{
		Kind:     recorder.KindPanic,
		Message:  truncateString("kernel panic: "+reason, maxErrorRecorded),
		Severity: agentos.SeverityCritical,
	}
	_, err := k.appendEntry(context.Background(), e)
	if errors.Is(err, recorder.ErrLost) {
		// The recorder reports a loss once, refusing the entry that hears
		// of it; this one is worth a second try.
		_, err = k.appendEntry(context.Background(), e)
	}
	if err != nil {
		k.log.Error("kernel: recording kernel panic", "err", err)
	}
	k.killAll("kernel panic: " + reason)
}

func (k *Kernel) killAll(reason string) {
	k.mu.RLock()
	agents := slices.Collect(maps.Values(k.agents))
	k.mu.RUnlock()
	for _, a := range agents {
		if err := a.sig.Send(context.Background(), signals.SIGKILL, reason); err != nil && !errors.Is(err, agentos.ErrKilled) {
			k.log.Error("kernel: killing agent", "agent", a.id, "err", err)
		}
	}
}

// Close shuts the kernel down at once: new syscalls fail with
// agentos.ErrClosed, every agent is killed (their syscalls in flight are
// cancelled), Close waits for those syscalls to return (at most the close
// timeout, see [WithCloseTimeout]), records the close, flushes the recorder
// and closes it if the kernel opened it. A recorder given with
// [WithRecorder] is flushed but left open: it belongs to the caller. Close
// is idempotent; it returns the first error it met.
func (k *Kernel) Close() error {
	k.closeOnce.Do(func() { k.closeErr = k.close() })
	return k.closeErr
}

func (k *Kernel) close() error {
	k.mu.Lock()
	k.closed = true
	k.mu.Unlock()
	k.killAll("kernel closed")

	drained := make(chan struct{})
	go func() { k.inflight.Wait(); close(drained) }()
	timer := time.NewTimer(k.closeTO)
	defer timer.Stop()
	var errs []error
	select {
	case <-drained:
	case <-timer.C:
		errs = append(errs, fmt.Errorf("kernel: close: syscalls still in flight after %v", k.closeTO))
		// The waiting goroutine ends when the last of them returns.
	}
	if k.hub != nil {
		if err := k.hub.close(k.closeTO); err != nil {
			errs = append(errs, err)
		}
	}

	if err := k.stopSandbox(); err != nil {
		errs = append(errs, err)
	}

	ctx := context.Background()
	if _, err := k.appendEntry(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Message: "kernel closed"}); err != nil {
		errs = append(errs, fmt.Errorf("kernel: recording close: %w", err))
	}
	if f, ok := k.sink.(flusher); ok {
		if err := f.Flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("kernel: flushing recorder: %w", err))
		}
	}
	k.tel.detach() // after the flush, whose commits it measures
	if k.ownSink != nil {
		if err := k.ownSink.Close(); err != nil {
			errs = append(errs, fmt.Errorf("kernel: closing recorder: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ReloadPolicy swaps the kernel's policy documents atomically: syscalls
// decided after it returns use the new documents, and every agent's /policy/
// view shows them. It needs an evaluator that can reload (a
// *policy.Engine can); otherwise it fails with agentos.ErrInvalid. The
// reload is recorded.
func (k *Kernel) ReloadPolicy(ctx context.Context, docs []*policy.Document) error {
	if err := k.usable(); err != nil {
		return err
	}
	r, ok := k.eval.(reloader)
	if !ok {
		return fmt.Errorf("kernel: %w: the policy evaluator cannot reload", agentos.ErrInvalid)
	}
	if len(docs) == 0 {
		return fmt.Errorf("kernel: %w: no policy documents", agentos.ErrInvalid)
	}
	if err := reloadWithin(ctx, r, docs); err != nil {
		return fmt.Errorf("kernel: reloading policy: %w", err)
	}
	var errs []error
	shown := documentsOf(k.eval)
	if shown == nil {
		shown = docs
	}
	if err := k.policyMount.Replace(policyFiles(shown), k.now()); err != nil {
		errs = append(errs, fmt.Errorf("kernel: policy view: %w", err))
	}
	if _, err := k.appendEntry(context.WithoutCancel(ctx), recorder.Entry{
		Kind:          recorder.KindLifecycle,
		Message:       "policy reloaded",
		PolicyVersion: k.policyVersion(),
	}); err != nil {
		errs = append(errs, fmt.Errorf("kernel: recording policy reload: %w", err))
	}
	if err := k.reloadEgress(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (k *Kernel) policyVersion() string {
	if v, ok := k.eval.(interface{ Version() string }); ok {
		return v.Version()
	}
	return ""
}

// appendEntry stamps e with the kernel's clock and appends it.
func (k *Kernel) appendEntry(ctx context.Context, e recorder.Entry) (uint64, error) {
	if e.Time.IsZero() {
		e.Time = k.now()
	}
	return k.sink.Append(ctx, e)
}

func spawnDetail(ac agentConfig) string {
	s := "role=" + strconv.Quote(ac.role) + " trust=" + strconv.FormatFloat(ac.trust, 'g', -1, 64)
	for _, key := range slices.Sorted(maps.Keys(ac.labels)) {
		s += " " + key + "=" + strconv.Quote(ac.labels[key])
	}
	return s
}
