package kernel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// ScopeName is the instrumentation scope of the kernel's tracer and meter.
const ScopeName = "github.com/agent-os/agentos/kernel"

// SpanPrefix starts the name of every syscall span: "agentos.syscall/exec",
// "agentos.syscall/write"… (an op the kernel does not know gives
// "agentos.syscall/unknown").
const SpanPrefix = "agentos.syscall/"

// The kernel's metrics (see [WithMeterProvider]).
const (
	// MetricDecisions counts policy decisions, with attributes
	// [AttrEffect] and [AttrRule]: every syscall that reached a decision,
	// including the kernel's own refusals before policy (rule
	// kernel.path…). Unit {decision}.
	MetricDecisions = "agentos.decisions"
	// MetricSyscallDuration is a histogram of syscall durations in
	// seconds, from the call to the outcome (as the outcome entry's
	// Duration), with attributes [AttrOp] and [AttrEffect] ("none" for a
	// syscall that ended before a decision).
	MetricSyscallDuration = "agentos.syscall.duration"
	// MetricSignals counts signal events, with attributes [AttrSignal] and
	// [AttrSignalAction]. Unit {signal}.
	MetricSignals = "agentos.signals"
	// MetricRecorderQueueDepth is an observable gauge of the entries the
	// recorder has accepted and not yet committed, for a recorder that
	// reports it (*recorder.Recorder does: Recorder.QueueDepth; always 0 in
	// memory). Unit {entry}.
	MetricRecorderQueueDepth = "agentos.recorder.queue.depth"
	// MetricRecorderCommitDuration is a histogram of the time a file
	// recorder takes to commit one batch (one transaction; with the
	// recorder's own fsync, the WriteAhead default, the fsync is
	// MetricRecorderSyncDuration), in seconds, with attribute
	// [AttrCommitError]. Only a recorder with commits to time reports it
	// (*recorder.Recorder writing a file: Recorder.OnCommit).
	MetricRecorderCommitDuration = "agentos.recorder.commit.duration"
	// MetricRecorderCommitEntries is a histogram of the entries each
	// commit of MetricRecorderCommitDuration wrote: how well the group
	// commit groups. Unit {entry}.
	MetricRecorderCommitEntries = "agentos.recorder.commit.entries"
	// MetricRecorderSyncDuration is a histogram of the time each fsync of
	// a file recorder with Sync: SyncFull takes (the durability every
	// WriteAhead decision waits for), in seconds, with attribute
	// [AttrCommitError] (Recorder.OnSync).
	MetricRecorderSyncDuration = "agentos.recorder.sync.duration"
	// MetricRecorderSyncEntries is a histogram of the entries each fsync
	// of MetricRecorderSyncDuration made durable. Unit {entry}.
	MetricRecorderSyncEntries = "agentos.recorder.sync.entries"
)

// Attribute keys of the kernel's spans and metrics.
const (
	AttrAgent  = attribute.Key("agentos.agent")  // span: the agent's id
	AttrOp     = attribute.Key("agentos.op")     // span, duration: the operation
	AttrTool   = attribute.Key("agentos.tool")   // span: the tool of an exec (registry name)
	AttrPath   = attribute.Key("agentos.path")   // span only, never a metric: the cleaned path
	AttrTarget = attribute.Key("agentos.target") // span: the other agent or topic
	AttrTrace  = attribute.Key("agentos.trace")  // span: the recorder entries' Trace (Action.ID)
	AttrEffect = attribute.Key("agentos.effect") // span, decisions, duration: allow, deny, approve, audit
	AttrRule   = attribute.Key("agentos.rule")   // span, decisions: the deciding rule ("" for the default effect)
	AttrStatus = attribute.Key("agentos.status") // span: the outcome entry's status, or "denied"
	// AttrSignal and AttrSignalAction label MetricSignals and the span
	// event of a kill.
	AttrSignal       = attribute.Key("agentos.signal")
	AttrSignalAction = attribute.Key("agentos.signal.action")
	// AttrApproved and AttrApproval describe the approval event of a
	// syscall whose decision was approve.
	AttrApproved = attribute.Key("agentos.approval.granted")
	AttrApproval = attribute.Key("agentos.approval.detail")
	// AttrCommitError labels MetricRecorderCommitDuration: whether the
	// commit failed.
	AttrCommitError = attribute.Key("agentos.recorder.error")
)

// Span events.
const (
	// EventApproval is added to the span of a syscall whose decision was
	// approve, when the approver answered (or was not asked).
	EventApproval = "agentos.approval"
	// EventKill is added to the span of a syscall whose denial killed the
	// agent (SIGPOLICY).
	EventKill = "agentos.kill"
)

// MaxMetricRules bounds the distinct (effect, rule) pairs of
// [MetricDecisions]: rules are policy-defined and so bounded already, but an
// Evaluator other than the policy engine may name rules freely, and policy
// reloads add names. Past the bound a decision is counted under the rule
// [RuleOther].
const MaxMetricRules = 1024

// RuleOther is the rule attribute of decisions past [MaxMetricRules].
const RuleOther = "(other)"

// maxTelString bounds a string attribute the kernel sets on a span or a
// metric; longer or non-UTF-8 values are cut and repaired.
const maxTelString = 256

// WithTracerProvider makes the kernel start a span for every syscall with
// tp's tracer (scope [ScopeName]): "agentos.syscall/<op>", a child of the
// span in the caller's context (an agent's own span parents it), ended when
// the syscall returns. The tool of an exec, and the effect of a Do, run with
// the span in their context, so their own spans nest under it.
//
// Attributes: [AttrAgent], [AttrOp], [AttrTrace] (the trace id of the
// syscall's recorder entries, to find them with recorder.Filter.Trace),
// [AttrTool], [AttrTarget] and [AttrPath] (once the kernel cleaned it)
// when set, and [AttrEffect], [AttrRule] and [AttrStatus] once decided;
// all are set when the span ends, so a sampler sees only the span's name.
// A denial, a tool error and any other error the syscall returns set the
// span's status to Error (a denial with "denied by rule R"; an error with
// its text, cut to 256 bytes, as the outcome entry records it). An approve
// decision adds an [EventApproval] event, a denial that kills the agent an
// [EventKill] event. String attributes are cut to 256 bytes of valid UTF-8.
//
// Privacy: argument values, message payloads, results and meta values are
// never put on a span — they stay in the flight recorder, whose digest and
// access the host controls. Without this option no span is started and the
// syscall path pays one nil check. A nil tp is refused with
// agentos.ErrInvalid.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) error {
		if tp == nil {
			return fmt.Errorf("kernel: %w: nil tracer provider", agentos.ErrInvalid)
		}
		c.otel.tp = tp
		return nil
	}
}

// WithMeterProvider makes the kernel report its metrics through mp's meter
// (scope [ScopeName]): [MetricDecisions], [MetricSyscallDuration],
// [MetricSignals], and for a recorder that supports them
// [MetricRecorderQueueDepth], [MetricRecorderCommitDuration] and
// [MetricRecorderCommitEntries]. Attribute values are bounded: ops, effects
// and signals are fixed sets, rules are bounded by [MaxMetricRules], and
// paths, tools, agents and trace ids are never metric attributes.
// [Kernel.Close] unregisters the kernel's callbacks from mp and from the
// recorder. Without this option nothing is measured. A nil mp is refused
// with agentos.ErrInvalid.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if mp == nil {
			return fmt.Errorf("kernel: %w: nil meter provider", agentos.ErrInvalid)
		}
		c.otel.mp = mp
		return nil
	}
}

// otelConfig holds the providers given to New.
type otelConfig struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

// Optional capabilities of a Sink for metrics; *recorder.Recorder has both.
type (
	queueDepther interface {
		QueueDepth() int
	}
	commitNotifier interface {
		OnCommit(fn recorder.CommitFunc) (remove func(), err error)
	}
	syncNotifier interface {
		OnSync(fn recorder.CommitFunc) (remove func(), err error)
	}
)

// numOpSlots indexes ops: agentos.Ops() in order, then one slot for an op
// the kernel does not know. numEffectSlots: the four effects, then "none".
const (
	numEffectSlots = int(agentos.Audit) + 2
	effectNone     = numEffectSlots - 1
	numSigSlots    = 13 // signals 1..12; slot 0 for anything else
	numSigActions  = 7  // actions 1..6; slot 0 for anything else
)

// telemetry is the kernel's tracer and instruments; nil when New was given
// neither provider. Its fields are immutable after newTelemetry, apart from
// the rule cache; safe for concurrent use.
type telemetry struct {
	tracer trace.Tracer // nil without a tracer provider

	meter     bool                          // the instruments below are set
	decisions metric.Int64ObservableCounter // fed by rules at collection
	duration  metric.Float64Histogram
	signals   metric.Int64Counter
	commitDur metric.Float64Histogram
	commitN   metric.Int64Histogram
	syncDur   metric.Float64Histogram
	syncN     metric.Int64Histogram

	ops       map[agentos.Op]int // op → slot
	spanNames []string           // by op slot
	// Prepared attribute sets, each in the option slice its instrument
	// takes: passing a slice that exists allocates nothing per call.
	opEffect [][numEffectSlots][]metric.RecordOption
	sigOpts  [numSigSlots][numSigActions][]metric.AddOption
	commitOK [2][]metric.RecordOption // [0] ok, [1] error
	rules    ruleSeries

	detachOnce sync.Once
	detachFns  []func() // run by detach
}

// telCall is the telemetry of one syscall, on the syscall's stack.
type telCall struct {
	span    trace.Span // nil without a tracer
	op      int        // the op's slot in the prepared tables
	decided bool
	effect  agentos.Effect
	rule    string
	status  recorder.Status
	killed  bool // the denial killed the agent
}

func newTelemetry(c *otelConfig) (*telemetry, error) {
	if c.tp == nil && c.mp == nil {
		return nil, nil
	}
	t := &telemetry{ops: map[agentos.Op]int{}}
	ops := agentos.Ops()
	for i, op := range ops {
		t.ops[op] = i
		t.spanNames = append(t.spanNames, SpanPrefix+string(op))
	}
	t.spanNames = append(t.spanNames, SpanPrefix+"unknown")
	if c.tp != nil {
		t.tracer = c.tp.Tracer(ScopeName)
	}
	if c.mp == nil {
		return t, nil
	}
	m := c.mp.Meter(ScopeName)
	var err error
	if t.decisions, err = m.Int64ObservableCounter(MetricDecisions, metric.WithUnit("{decision}"),
		metric.WithDescription("Policy decisions of syscalls, by effect and rule.")); err != nil {
		return nil, fmt.Errorf("kernel: metric %s: %w", MetricDecisions, err)
	}
	if t.duration, err = m.Float64Histogram(MetricSyscallDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of syscalls from the call to the outcome, by op and effect."),
		metric.WithExplicitBucketBoundaries(syscallBuckets...)); err != nil {
		return nil, fmt.Errorf("kernel: metric %s: %w", MetricSyscallDuration, err)
	}
	if t.signals, err = m.Int64Counter(MetricSignals, metric.WithUnit("{signal}"),
		metric.WithDescription("Signal events of agents, by signal and action taken.")); err != nil {
		return nil, fmt.Errorf("kernel: metric %s: %w", MetricSignals, err)
	}
	if t.commitDur, t.commitN, err = batchHistograms(m, MetricRecorderCommitDuration, MetricRecorderCommitEntries,
		"Time the flight recorder took to commit one batch.", "Entries per flight recorder commit."); err != nil {
		return nil, err
	}
	if t.syncDur, t.syncN, err = batchHistograms(m, MetricRecorderSyncDuration, MetricRecorderSyncEntries,
		"Time each fsync of the flight recorder took.", "Entries each flight recorder fsync made durable."); err != nil {
		return nil, err
	}
	t.meter = true

	// Attribute sets of the fixed sets, built once: recording with a
	// prepared set allocates nothing.
	effectNames := [numEffectSlots]string{}
	for e := range effectNone {
		effectNames[e] = agentos.Effect(e).String()
	}
	effectNames[effectNone] = "none"
	opNames := append(ops, "unknown")
	t.opEffect = make([][numEffectSlots][]metric.RecordOption, len(opNames))
	for i, op := range opNames {
		for e, name := range effectNames {
			t.opEffect[i][e] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(AttrOp.String(string(op)), AttrEffect.String(name)))}
		}
	}
	for s := range numSigSlots {
		sig := "other"
		if signals.Signal(s).Valid() {
			sig = signals.Signal(s).String()
		}
		for a := range numSigActions {
			act := "other"
			if a > 0 {
				act = signals.Action(a).String()
			}
			t.sigOpts[s][a] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(AttrSignal.String(sig), AttrSignalAction.String(act)))}
		}
	}
	t.commitOK[0] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(AttrCommitError.Bool(false)))}
	t.commitOK[1] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(AttrCommitError.Bool(true)))}
	for e := range effectNone {
		t.rules.other[e] = newRuleCount(effectNames[e], RuleOther)
	}
	t.rules.other[effectNone] = newRuleCount("other", RuleOther)
	return t, nil
}

// Histogram bounds, in seconds: a syscall takes microseconds in the kernel
// and up to the tool's own time; a commit takes microseconds in memory and
// milliseconds with an fsync.
var (
	syscallBuckets = []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
		1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	commitBuckets = []float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
		1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1}
)

// attach registers the kernel's callbacks with the meter provider (the
// decision counts, the recorder's queue depth) and with the recorder (its
// commits); detach removes them. On failure it removes what it registered.
func (t *telemetry) attach(c *otelConfig, sink Sink) (err error) {
	if t == nil || !t.meter {
		return nil
	}
	defer func() {
		if err != nil {
			t.detach()
		}
	}()
	m := c.mp.Meter(ScopeName)
	reg, err := m.RegisterCallback(t.rules.observe(t.decisions), t.decisions)
	if err != nil {
		return fmt.Errorf("kernel: metric %s: %w", MetricDecisions, err)
	}
	t.detachFns = append(t.detachFns, func() { _ = reg.Unregister() })
	if qd, ok := sink.(queueDepther); ok {
		g, err := m.Int64ObservableGauge(MetricRecorderQueueDepth, metric.WithUnit("{entry}"),
			metric.WithDescription("Entries the flight recorder accepted and has not yet committed."))
		if err != nil {
			return fmt.Errorf("kernel: metric %s: %w", MetricRecorderQueueDepth, err)
		}
		reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			o.ObserveInt64(g, int64(qd.QueueDepth()))
			return nil
		}, g)
		if err != nil {
			return fmt.Errorf("kernel: metric %s: %w", MetricRecorderQueueDepth, err)
		}
		t.detachFns = append(t.detachFns, func() { _ = reg.Unregister() })
	}
	if cn, ok := sink.(commitNotifier); ok {
		remove, err := cn.OnCommit(t.commit)
		if err != nil {
			return fmt.Errorf("kernel: recorder commit metrics: %w", err)
		}
		t.detachFns = append(t.detachFns, remove)
	}
	if sn, ok := sink.(syncNotifier); ok {
		remove, err := sn.OnSync(t.sync)
		if err != nil {
			return fmt.Errorf("kernel: recorder sync metrics: %w", err)
		}
		t.detachFns = append(t.detachFns, remove)
	}
	return nil
}

// detach undoes attach; nil-safe and idempotent.
func (t *telemetry) detach() {
	if t == nil {
		return
	}
	t.detachOnce.Do(func() {
		for _, fn := range t.detachFns {
			fn()
		}
	})
}

// batchHistograms creates the pair of histograms of a recorder's batches
// (commits or fsyncs): their time in seconds and their entries.
func batchHistograms(m metric.Meter, durName, nName, durDesc, nDesc string) (metric.Float64Histogram, metric.Int64Histogram, error) {
	dur, err := m.Float64Histogram(durName, metric.WithUnit("s"), metric.WithDescription(durDesc),
		metric.WithExplicitBucketBoundaries(commitBuckets...))
	if err != nil {
		return nil, nil, fmt.Errorf("kernel: metric %s: %w", durName, err)
	}
	n, err := m.Int64Histogram(nName, metric.WithUnit("{entry}"), metric.WithDescription(nDesc),
		metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
	if err != nil {
		return nil, nil, fmt.Errorf("kernel: metric %s: %w", nName, err)
	}
	return dur, n, nil
}

// commit is the recorder's CommitFunc.
func (t *telemetry) commit(n int, took time.Duration, err error) {
	t.batch(t.commitDur, t.commitN, n, took, err)
}

// sync is the recorder's sync function (Recorder.OnSync).
func (t *telemetry) sync(n int, took time.Duration, err error) {
	t.batch(t.syncDur, t.syncN, n, took, err)
}

// batch records one commit or fsync of n entries in dur and size.
func (t *telemetry) batch(dur metric.Float64Histogram, size metric.Int64Histogram, n int, took time.Duration, err error) {
	opt := t.commitOK[0]
	if err != nil {
		opt = t.commitOK[1]
	}
	ctx := context.Background()
	dur.Record(ctx, took.Seconds(), opt...)
	size.Record(ctx, int64(n), opt...)
}

// begin starts the span of a syscall whose action act has its trace id,
// agent and time, as a child of ctx's span, and returns the span's context
// (for end's measurements). The syscall enters the signal gate with its
// caller's context, not this one, so that the gate's per-context state is
// shared by the agent's syscalls as without telemetry; within puts the span
// in the context past the gate. The span's attributes are all set by end,
// in one call: the SDK then grows its attribute list once.
func (t *telemetry) begin(ctx context.Context, tc *telCall, act *agentos.Action) context.Context {
	tc.op = t.opSlot(act.Op)
	if t.tracer == nil {
		return ctx
	}
	ctx, tc.span = t.tracer.Start(ctx, t.spanNames[tc.op])
	return ctx
}

// within returns ctx carrying the syscall's span.
func (tc *telCall) within(ctx context.Context) context.Context {
	return trace.ContextWithSpan(ctx, tc.span)
}

// spanAttrs holds the attributes of one span while end sets them: the SDK
// copies them, so the buffer is reused.
var spanAttrs = sync.Pool{New: func() any { return new([maxSpanAttrs]attribute.KeyValue) }}

const maxSpanAttrs = 10

// decide notes the decision of a syscall; detail explains an approval.
func (tc *telCall) decide(d *agentos.Decision, permitted bool, detail string) {
	tc.decided, tc.effect, tc.rule = true, d.Effect, d.Rule
	tc.status = StatusPermitted
	if !permitted {
		tc.status = recorder.StatusDenied
	}
	if tc.span != nil && d.Effect == agentos.Approve {
		tc.span.AddEvent(EventApproval, trace.WithAttributes(AttrApproved.Bool(permitted), AttrApproval.String(telString(detail))))
	}
}

// end records the metrics of a syscall and ends its span; err is what the
// syscall returns.
func (t *telemetry) end(ctx context.Context, k *Kernel, tc *telCall, act *agentos.Action, err error) {
	// refused: the kernel refused the action before the gate
	// (Agent.refuse), which returns its violation, and before it cleaned
	// the path. Any other error of a syscall not decided means that
	// nothing was.
	refused := false
	if !tc.decided {
		if v, ok := errors.AsType[*agentos.PolicyViolation](err); ok {
			tc.decided, tc.effect, tc.rule = true, v.Decision.Effect, v.Decision.Rule
			tc.status, tc.killed, refused = recorder.StatusDenied, k.strict, true
		}
	}
	if t.meter {
		e := effectNone
		if tc.decided {
			e = min(int(tc.effect), effectNone)
			t.rules.get(tc.effect, tc.rule).n.Add(1)
		}
		t.duration.Record(ctx, k.syscallEnd(act.At).Sub(act.At).Seconds(), t.opEffect[tc.op][e]...)
	}
	sp := tc.span
	if sp == nil {
		return
	}
	if !sp.IsRecording() {
		sp.End() // sampled out: attributes would be dropped
		return
	}
	buf := spanAttrs.Get().(*[maxSpanAttrs]attribute.KeyValue)
	attrs := append(buf[:0], AttrAgent.String(string(act.Agent)), AttrOp.String(telString(string(act.Op))), AttrTrace.String(act.ID))
	if act.Tool != "" {
		attrs = append(attrs, AttrTool.String(telString(act.Tool)))
	}
	if act.Target != "" {
		attrs = append(attrs, AttrTarget.String(telString(string(act.Target))))
	}
	if act.Path != "" && !refused { // a path is shown once cleaned
		attrs = append(attrs, AttrPath.String(telString(act.Path)))
	}
	if tc.decided {
		attrs = append(attrs, AttrEffect.String(tc.effect.String()), AttrRule.String(telString(tc.rule)), AttrStatus.String(string(tc.status)))
	}
	sp.SetAttributes(attrs...)
	clear(attrs) // drop the strings before the buffer is reused
	spanAttrs.Put(buf)
	switch {
	case tc.decided && tc.status == recorder.StatusDenied:
		if tc.killed {
			sp.AddEvent(EventKill, trace.WithAttributes(AttrSignal.String(signals.SIGPOLICY.String())))
		}
		msg := "denied by the default effect"
		if tc.rule != "" {
			msg = "denied by rule " + telString(tc.rule)
		}
		sp.SetStatus(codes.Error, msg)
	case err != nil:
		sp.SetStatus(codes.Error, telString(err.Error()))
	}
	sp.End()
}

// signal counts a signal event.
func (t *telemetry) signal(ev signals.Event) {
	if !t.meter {
		return
	}
	s, a := int(ev.Signal), int(ev.Action)
	if s >= numSigSlots || !ev.Signal.Valid() {
		s = 0
	}
	if a >= numSigActions {
		a = 0
	}
	t.signals.Add(context.Background(), 1, t.sigOpts[s][a]...)
}

// opSlot is op's index in the prepared tables.
func (t *telemetry) opSlot(op agentos.Op) int {
	if i, ok := t.ops[op]; ok {
		return i
	}
	return len(t.spanNames) - 1
}

// ruleSeries counts decisions by (effect, rule), at most MaxMetricRules
// pairs; a syscall adds to its pair's count (one atomic add) and the meter
// provider reads them all at collection through observe: an observable
// counter costs the syscall path less than a synchronous one. Lookups are
// lock-free (an immutable map behind an atomic pointer); a new pair copies
// the map, which happens at most MaxMetricRules times in the kernel's life.
type ruleSeries struct {
	m     atomic.Pointer[map[ruleKey]*ruleCount]
	mu    sync.Mutex // serialises additions
	other [numEffectSlots]*ruleCount
}

type ruleKey struct {
	effect agentos.Effect
	rule   string
}

// ruleCount is the count of one (effect, rule) pair and its attributes.
type ruleCount struct {
	n   atomic.Int64
	opt []metric.ObserveOption
}

func newRuleCount(effect, rule string) *ruleCount {
	return &ruleCount{opt: []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(AttrEffect.String(effect), AttrRule.String(telString(rule))))}}
}

func (r *ruleSeries) get(e agentos.Effect, rule string) *ruleCount {
	key := ruleKey{e, rule}
	if m := r.m.Load(); m != nil {
		if c, ok := (*m)[key]; ok {
			return c
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var cur map[ruleKey]*ruleCount
	if m := r.m.Load(); m != nil {
		cur = *m
		if c, ok := cur[key]; ok {
			return c
		}
	}
	if len(cur) >= MaxMetricRules || int(e) >= effectNone {
		return r.other[min(int(e), effectNone)]
	}
	next := make(map[ruleKey]*ruleCount, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	c := newRuleCount(e.String(), rule)
	next[key] = c
	r.m.Store(&next)
	return c
}

// observe is the callback that reports the counts as inst.
func (r *ruleSeries) observe(inst metric.Int64ObservableCounter) metric.Callback {
	return func(_ context.Context, o metric.Observer) error {
		if m := r.m.Load(); m != nil {
			for _, c := range *m {
				o.ObserveInt64(inst, c.n.Load(), c.opt...)
			}
		}
		for _, c := range r.other {
			if n := c.n.Load(); n > 0 {
				o.ObserveInt64(inst, n, c.opt...)
			}
		}
		return nil
	}
}

// telString bounds a string attribute value: at most maxTelString bytes of
// valid UTF-8.
func telString(s string) string {
	if len(s) <= maxTelString && utf8.ValidString(s) {
		return s
	}
	return truncateString(strings.ToValidUTF8(s, "\uFFFD"), maxTelString)
}
