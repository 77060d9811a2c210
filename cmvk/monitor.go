package cmvk

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/agent-os/agentos"
)

// Defaults and bounds of a [Monitor].
const (
	DefaultWindow   = 10   // samples averaged
	MaxWindow       = 1024 // the largest window
	DefaultMaxKeys  = 4096 // (agent, task) keys kept
	DefaultEvidence = 5    // recent observations an Alert carries
	MaxEvidence     = 32   // the most it may carry
	MaxDims         = 1 << 16
)

// ErrEmptyObservation: an observation with neither text nor embedding, or
// without the part the profile's metric needs. It wraps
// [agentos.ErrInvalid].
var ErrEmptyObservation = fmt.Errorf("cmvk: observation lacks what the metric compares: %w", agentos.ErrInvalid)

// Observation is one answer of an agent to a task: its text, its
// embedding, or both. A text metric compares Text (at most
// [DefaultMaxAnswerBytes] bytes); an embedding metric compares Embedding
// (at most [MaxDims] finite components), or the embedding of Text by the
// monitor's embedder when Embedding is nil.
type Observation struct {
	Text      string
	Embedding []float32
}

// Alert is raised when an (agent, task) key's window drifts past the
// profile's threshold. Evidence is bounded: the baseline and at most the
// last [WithEvidence] observations, oldest first.
type Alert struct {
	Agent, Task string
	Profile     string
	Drift       float64 // the window's mean drift from the baseline
	Threshold   float64
	Baseline    Observation
	Recent      []Observation
	At          time.Time // by the monitor's clock
}

// Drift is what one [Monitor.Observe] measured.
type Drift struct {
	Baseline  bool    // the observation became the key's baseline (Sample and Window are 0)
	Sample    float64 // this observation's drift from the baseline
	Window    float64 // the mean drift of the samples in the window, this one included
	Samples   int     // how many samples the window holds
	Threshold float64
	Alarmed   bool // this observation raised an Alert
}

type monitorConfig struct {
	window, maxKeys, evidence int
	now                       func() time.Time
	alarm                     func(ctx context.Context, a Alert)
	embed                     agentos.Embedder
}

// MonitorOption configures [NewMonitor]; an invalid one makes it fail with
// an error wrapping [agentos.ErrInvalid].
type MonitorOption func(*monitorConfig) error

// WithWindow sets how many recent samples are averaged (default
// [DefaultWindow], 1 to [MaxWindow]).
func WithWindow(n int) MonitorOption {
	return func(c *monitorConfig) error {
		if n < 1 || n > MaxWindow {
			return fmt.Errorf("cmvk: window %d (1 to %d): %w", n, MaxWindow, agentos.ErrInvalid)
		}
		c.window = n
		return nil
	}
}

// WithMaxKeys bounds the (agent, task) keys kept (default
// [DefaultMaxKeys]); beyond it the least recently observed key is evicted.
func WithMaxKeys(n int) MonitorOption {
	return func(c *monitorConfig) error {
		if n < 1 {
			return fmt.Errorf("cmvk: max keys %d: %w", n, agentos.ErrInvalid)
		}
		c.maxKeys = n
		return nil
	}
}

// WithEvidence sets how many recent observations an Alert carries (default
// [DefaultEvidence], 0 to [MaxEvidence]).
func WithEvidence(n int) MonitorOption {
	return func(c *monitorConfig) error {
		if n < 0 || n > MaxEvidence {
			return fmt.Errorf("cmvk: evidence %d (0 to %d): %w", n, MaxEvidence, agentos.ErrInvalid)
		}
		c.evidence = n
		return nil
	}
}

// WithAlarm sets the callback for alerts. It is called on the goroutine
// that called Observe, with Observe's ctx, after the monitor's lock is
// released (so it may call the monitor), and Observe returns after it.
func WithAlarm(f func(ctx context.Context, a Alert)) MonitorOption {
	return func(c *monitorConfig) error {
		if f == nil {
			return fmt.Errorf("cmvk: nil alarm: %w", agentos.ErrInvalid)
		}
		c.alarm = f
		return nil
	}
}

// WithMonitorClock sets the clock that stamps alerts (default time.Now).
func WithMonitorClock(now func() time.Time) MonitorOption {
	return func(c *monitorConfig) error {
		if now == nil {
			return fmt.Errorf("cmvk: nil clock: %w", agentos.ErrInvalid)
		}
		c.now = now
		return nil
	}
}

// WithMonitorEmbedder embeds observations that carry text only, for an
// embedding metric.
func WithMonitorEmbedder(e agentos.Embedder) MonitorOption {
	return func(c *monitorConfig) error {
		c.embed = e
		return nil
	}
}

// Monitor watches answers drift from a baseline, per (agent, task) key. It
// is safe for concurrent use. It only measures and calls its alarm: it
// records nothing and enforces nothing; the kernel wires the alarm to
// SIGDRIFT.
type Monitor struct {
	profile Profile
	cfg     monitorConfig

	mu   sync.Mutex
	keys map[monitorKey]*list.Element // of *series
	lru  *list.List                   // front: most recently observed
}

type monitorKey struct{ agent, task string }

// series is one key's state. A new baseline replaces the series, so a
// sample measured against an old one is never recorded in the new.
type series struct {
	key      monitorKey
	baseline Observation
	base     item
	drifts   []float64     // ring of the last window samples
	next     int           // where the next sample goes once drifts is full
	recent   []Observation // ring of the last evidence observations
	rnext    int
	alarmed  bool // above the threshold since the last alert; re-armed below it
}

// NewMonitor returns a monitor that measures drift by p's metric and
// alarms when a key's window mean exceeds p's threshold. It fails, wrapping
// [agentos.ErrInvalid], for an invalid profile or option, and with
// [ErrNoEmbedder] when p's metric is an embedding metric and no embedder
// was given (observations that carry an embedding would not need it, but
// one that does not would fail later, so the monitor refuses up front).
func NewMonitor(p Profile, opts ...MonitorOption) (*Monitor, error) {
	cfg := monitorConfig{window: DefaultWindow, maxKeys: DefaultMaxKeys, evidence: DefaultEvidence, now: time.Now}
	errs := []error{p.Validate()}
	for _, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("cmvk: nil option: %w", agentos.ErrInvalid))
			continue
		}
		errs = append(errs, o(&cfg))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if p.Metric.Embedding() && cfg.embed == nil {
		return nil, ErrNoEmbedder
	}
	return &Monitor{profile: p, cfg: cfg, keys: make(map[monitorKey]*list.Element), lru: list.New()}, nil
}

// prepare checks o and returns the item the metric compares.
func (m *Monitor) prepare(ctx context.Context, o Observation) (item, error) {
	if len(o.Text) > DefaultMaxAnswerBytes {
		return item{}, fmt.Errorf("%w: observation of %d bytes (at most %d)", ErrTooLarge, len(o.Text), DefaultMaxAnswerBytes)
	}
	if !m.profile.Metric.Embedding() {
		if o.Text == "" {
			return item{}, ErrEmptyObservation
		}
		return item{text: o.Text}, nil
	}
	v := o.Embedding
	if v == nil {
		if o.Text == "" {
			return item{}, ErrEmptyObservation
		}
		var err error
		if v, err = embedText(ctx, m.cfg.embed, o.Text); err != nil {
			return item{}, err
		}
	}
	if len(v) == 0 {
		return item{}, ErrEmptyObservation
	}
	if len(v) > MaxDims {
		return item{}, fmt.Errorf("%w: embedding of %d dimensions (at most %d)", ErrTooLarge, len(v), MaxDims)
	}
	if err := finite32(v); err != nil {
		return item{}, err
	}
	return withFacts(m.profile.Metric, item{text: o.Text, vec: slices.Clone(v)}), nil
}

func (m *Monitor) compare(a, b item) (Score, error) {
	return compareItems(m.profile.Metric, a, b)
}

func cloneObservation(o Observation) Observation {
	return Observation{Text: o.Text, Embedding: slices.Clone(o.Embedding)}
}

// SetBaseline makes o the baseline of (agent, task), starting a new window
// and re-arming the alarm. It returns the errors of [Monitor.Observe]
// other than those of the comparison.
func (m *Monitor) SetBaseline(ctx context.Context, agent, task string, o Observation) error {
	it, err := m.prepare(ctx, o)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setLocked(monitorKey{agent, task}, o, it)
	return nil
}

func (m *Monitor) setLocked(k monitorKey, o Observation, it item) *series {
	s := &series{key: k, baseline: cloneObservation(o), base: it}
	if e, ok := m.keys[k]; ok {
		e.Value = s
		m.lru.MoveToFront(e)
		return s
	}
	m.keys[k] = m.lru.PushFront(s)
	if m.lru.Len() > m.cfg.maxKeys {
		old := m.lru.Back()
		m.lru.Remove(old)
		delete(m.keys, old.Value.(*series).key)
	}
	return s
}

// Observe measures o against the baseline of (agent, task). The first
// observation of a key (or the first after it was evicted or forgotten)
// becomes its baseline. Otherwise its drift from the baseline enters the
// key's window; when the window's mean drift rises above the profile's
// threshold the alarm is called once, and again only after the mean has
// fallen back to the threshold or below.
//
// It returns an error, and records nothing, for an observation that lacks
// what the metric compares ([ErrEmptyObservation]), is over its bounds
// ([ErrTooLarge]), holds NaN or ±Inf ([ErrNotFinite]), whose embedding
// fails, or when the comparison itself fails (for example [ErrNotJSON]
// under the "json" profile, or [ErrTooLarge] for a text the lexical metric
// refuses); and ctx's error when ctx is done.
func (m *Monitor) Observe(ctx context.Context, agent, task string, o Observation) (Drift, error) {
	if err := ctx.Err(); err != nil {
		return Drift{}, err
	}
	it, err := m.prepare(ctx, o)
	if err != nil {
		return Drift{}, err
	}
	k := monitorKey{agent, task}
	d := Drift{Threshold: m.profile.Threshold}

	m.mu.Lock()
	e, ok := m.keys[k]
	if !ok {
		m.setLocked(k, o, it)
		m.mu.Unlock()
		d.Baseline = true
		return d, nil
	}
	s := e.Value.(*series)
	m.lru.MoveToFront(e)
	m.mu.Unlock()

	// The comparison may be quadratic in the text length: measure outside
	// the lock. s.base is immutable.
	sc, err := m.compare(s.base, it)
	if err != nil {
		return Drift{}, fmt.Errorf("cmvk: observe %s/%s: %w", agent, task, err)
	}
	d.Sample = sc.Drift

	m.mu.Lock()
	if e, ok := m.keys[k]; !ok || e.Value.(*series) != s {
		// The baseline was replaced or the key evicted meanwhile: this
		// sample measured the old baseline, so it is reported, not kept.
		m.mu.Unlock()
		d.Window = d.Sample
		return d, nil
	}
	if len(s.drifts) < m.cfg.window {
		s.drifts = append(s.drifts, d.Sample)
	} else {
		s.drifts[s.next] = d.Sample
		s.next = (s.next + 1) % m.cfg.window
	}
	if m.cfg.evidence > 0 {
		if len(s.recent) < m.cfg.evidence {
			s.recent = append(s.recent, cloneObservation(o))
		} else {
			s.recent[s.rnext] = cloneObservation(o)
			s.rnext = (s.rnext + 1) % m.cfg.evidence
		}
	}
	var sum float64
	for _, x := range s.drifts {
		sum += x
	}
	d.Samples = len(s.drifts)
	d.Window = sum / float64(d.Samples)
	var alert Alert
	switch {
	case d.Window > m.profile.Threshold && !s.alarmed:
		s.alarmed, d.Alarmed = true, true
		recent := make([]Observation, 0, len(s.recent))
		recent = append(recent, s.recent[s.rnext:]...)
		recent = append(recent, s.recent[:s.rnext]...)
		alert = Alert{
			Agent: agent, Task: task, Profile: m.profile.Name,
			Drift: d.Window, Threshold: m.profile.Threshold,
			Baseline: cloneObservation(s.baseline), Recent: recent, At: m.cfg.now(),
		}
	case d.Window <= m.profile.Threshold:
		s.alarmed = false
	}
	m.mu.Unlock()

	if d.Alarmed && m.cfg.alarm != nil {
		m.cfg.alarm(ctx, alert)
	}
	return d, nil
}

// Forget drops the baseline and window of (agent, task); its next
// observation becomes a new baseline.
func (m *Monitor) Forget(agent, task string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.keys[monitorKey{agent, task}]; ok {
		m.lru.Remove(e)
		delete(m.keys, monitorKey{agent, task})
	}
}

// Len returns how many keys the monitor holds.
func (m *Monitor) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}
