package scak

import (
	"container/list"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/agent-os/agentos"
)

// Defaults and bounds of loop detection.
const (
	DefaultLoopRepeats = 3
	DefaultLoopWindow  = 8
	DefaultLoopAgents  = 4096
	MaxLoopWindow      = 256
	MaxLoopAgents      = 1 << 20
	// maxDigestDepth and maxDigestValues bound the arguments a digest
	// reads; deeper or larger arguments are digested up to the bound
	// (the kernel refuses larger ones before policy anyway).
	maxDigestDepth  = 32
	maxDigestValues = 10_000
)

// LoopConfig configures loop detection: the same call (agent, op, tool,
// path and arguments) made Repeats times among an agent's last Window
// syscalls is a loop. Zero fields take the defaults.
type LoopConfig struct {
	// Repeats is how many identical calls make a loop (default
	// [DefaultLoopRepeats], at least 2, at most Window).
	Repeats int
	// Window is how many of an agent's latest syscalls are compared
	// (default [DefaultLoopWindow], at most [MaxLoopWindow]).
	Window int
	// Within, when positive, also bounds time: a call older than Within
	// before the newest does not count.
	Within time.Duration
	// MaxAgents bounds the agents remembered (default
	// [DefaultLoopAgents], at most [MaxLoopAgents]); past it the agent
	// seen least recently is forgotten.
	MaxAgents int
}

func (c LoopConfig) withDefaults() (LoopConfig, error) {
	if c.Window == 0 {
		c.Window = DefaultLoopWindow
	}
	if c.Repeats == 0 {
		c.Repeats = min(DefaultLoopRepeats, c.Window)
	}
	if c.MaxAgents == 0 {
		c.MaxAgents = DefaultLoopAgents
	}
	switch {
	case c.Window < 2 || c.Window > MaxLoopWindow:
		return c, fmt.Errorf("scak: %w: loop window %d is not in [2, %d]", agentos.ErrInvalid, c.Window, MaxLoopWindow)
	case c.Repeats < 2 || c.Repeats > c.Window:
		return c, fmt.Errorf("scak: %w: loop repeats %d is not in [2, window %d]", agentos.ErrInvalid, c.Repeats, c.Window)
	case c.Within < 0:
		return c, fmt.Errorf("scak: %w: loop time window %v is negative", agentos.ErrInvalid, c.Within)
	case c.MaxAgents < 1 || c.MaxAgents > MaxLoopAgents:
		return c, fmt.Errorf("scak: %w: loop agents %d is not in [1, %d]", agentos.ErrInvalid, c.MaxAgents, MaxLoopAgents)
	}
	return c, nil
}

// LoopDetector remembers the latest calls of each agent and finds loops
// in them. Its memory is bounded: Window digests per agent, MaxAgents
// agents. It is safe for concurrent use.
type LoopDetector struct {
	cfg    LoopConfig
	mu     sync.Mutex
	agents map[agentos.AgentID]*list.Element // of *callWindow
	lru    *list.List                        // front: seen most recently
}

// callWindow is one agent's latest calls, a ring.
type callWindow struct {
	agent   agentos.AgentID
	digests []uint64
	at      []time.Time
	next    int // where the next call goes
	n       int // calls held, up to the window
}

// NewLoopDetector returns a loop detector. Errors wrap agentos.ErrInvalid.
func NewLoopDetector(cfg LoopConfig) (*LoopDetector, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &LoopDetector{cfg: cfg, agents: map[agentos.AgentID]*list.Element{}, lru: list.New()}, nil
}

// Config returns the detector's configuration, defaults filled in.
func (l *LoopDetector) Config() LoopConfig { return l.cfg }

// Observe records a call of agent, given by its digest (see [CallDigest])
// and time, and returns how many times the same call is among the agent's
// latest calls, this one included. loop reports that the count reached
// Repeats; the agent's calls are then forgotten, so that one loop is
// reported once and not again at every further repeat.
func (l *LoopDetector) Observe(agent agentos.AgentID, digest uint64, at time.Time) (repeats int, loop bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.window(agent)
	repeats = 1
	for i := range w.n {
		if w.digests[i] != digest {
			continue
		}
		if l.cfg.Within > 0 && at.Sub(w.at[i]) > l.cfg.Within {
			continue
		}
		repeats++
	}
	if repeats >= l.cfg.Repeats {
		w.n, w.next = 0, 0
		return repeats, true
	}
	w.digests[w.next] = digest
	w.at[w.next] = at
	w.next = (w.next + 1) % len(w.digests)
	w.n = min(w.n+1, len(w.digests))
	return repeats, false
}

// window returns agent's window, created or moved to the front of the LRU
// list, forgetting the least recent agent past MaxAgents. l.mu is held.
func (l *LoopDetector) window(agent agentos.AgentID) *callWindow {
	if e, ok := l.agents[agent]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*callWindow)
	}
	if l.lru.Len() >= l.cfg.MaxAgents {
		old := l.lru.Back()
		l.lru.Remove(old)
		delete(l.agents, old.Value.(*callWindow).agent)
	}
	w := &callWindow{agent: agent, digests: make([]uint64, l.cfg.Window), at: make([]time.Time, l.cfg.Window)}
	l.agents[agent] = l.lru.PushFront(w)
	return w
}

// Forget drops what the detector remembers of agent (a reaped agent, or
// one resumed after its loop was dealt with).
func (l *LoopDetector) Forget(agent agentos.AgentID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.agents[agent]; ok {
		l.lru.Remove(e)
		delete(l.agents, agent)
	}
}

// Len returns how many agents the detector remembers.
func (l *LoopDetector) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// CallDigest returns a digest of a call: its op, tool, path and arguments,
// the arguments canonically (a map's order does not matter, a list's
// does; 1 and "1" differ). It is FNV-1a based, stable across runs, and
// allocates nothing for the JSON-like values the kernel passes (nil,
// bool, string, integers, floats, json.Number, []any, []string,
// map[string]any, map[string]string); other values are digested by their
// type and fmt's %v. Arguments past 32 levels or 10,000 values are
// digested up to there.
func CallDigest(op agentos.Op, tool, path string, args map[string]any) uint64 {
	d := digester{h: fnvOffset, budget: maxDigestValues}
	d.str(string(op))
	d.str(tool)
	d.str(path)
	d.value(args, 0)
	return d.h
}

// digester accumulates a digest.
type digester struct {
	h      uint64
	budget int
}

func (d *digester) byte(c byte) {
	d.h ^= uint64(c)
	d.h *= fnvPrime
}

func (d *digester) u64(v uint64) {
	for range 8 {
		d.byte(byte(v))
		v >>= 8
	}
}

// str writes s with its length, so that ("ab", "c") and ("a", "bc")
// differ.
func (d *digester) str(s string) {
	d.u64(uint64(len(s)))
	for i := 0; i < len(s); i++ {
		d.byte(s[i])
	}
}

// Type tags of digested values.
const (
	tagNil = iota + 1
	tagFalse
	tagTrue
	tagString
	tagInt
	tagUint
	tagFloat
	tagNumber
	tagList
	tagMap
	tagOther
	tagCut
)

func (d *digester) value(v any, depth int) {
	d.budget--
	if depth > maxDigestDepth || d.budget < 0 {
		d.byte(tagCut)
		return
	}
	switch x := v.(type) {
	case nil:
		d.byte(tagNil)
	case bool:
		if x {
			d.byte(tagTrue)
		} else {
			d.byte(tagFalse)
		}
	case string:
		d.byte(tagString)
		d.str(x)
	case int:
		d.int(int64(x))
	case int8:
		d.int(int64(x))
	case int16:
		d.int(int64(x))
	case int32:
		d.int(int64(x))
	case int64:
		d.int(x)
	case uint:
		d.uint(uint64(x))
	case uint8:
		d.uint(uint64(x))
	case uint16:
		d.uint(uint64(x))
	case uint32:
		d.uint(uint64(x))
	case uint64:
		d.uint(x)
	case float32:
		d.float(float64(x))
	case float64:
		d.float(x)
	case json.Number:
		d.byte(tagNumber)
		d.str(string(x))
	case []any:
		d.byte(tagList)
		d.u64(uint64(len(x)))
		for _, e := range x {
			d.value(e, depth+1)
		}
	case []string:
		d.byte(tagList)
		d.u64(uint64(len(x)))
		for _, e := range x {
			d.value(e, depth+1)
		}
	case map[string]any:
		d.mapAny(x, depth)
	case map[string]string:
		d.byte(tagMap)
		d.u64(uint64(len(x)))
		var sum uint64
		for k, e := range x {
			sum += d.pair(k, e, depth)
		}
		d.u64(sum)
	default:
		d.byte(tagOther)
		d.str(fmt.Sprintf("%T:%v", v, v))
	}
}

// mapAny digests a map independently of its iteration order: each pair
// is digested on its own and the pair digests are summed.
func (d *digester) mapAny(m map[string]any, depth int) {
	d.byte(tagMap)
	d.u64(uint64(len(m)))
	var sum uint64
	for k, e := range m {
		sum += d.pair(k, e, depth)
	}
	d.u64(sum)
}

// pair returns the digest of one map entry, sharing d's value budget.
func (d *digester) pair(k string, v any, depth int) uint64 {
	p := digester{h: fnvOffset, budget: d.budget}
	p.str(k)
	p.value(v, depth+1)
	d.budget = p.budget
	return p.h
}

func (d *digester) int(v int64) {
	d.byte(tagInt)
	d.u64(uint64(v))
}

func (d *digester) uint(v uint64) {
	if v <= math.MaxInt64 {
		d.int(int64(v)) // int64(5) and uint8(5) are the same argument
		return
	}
	d.byte(tagUint)
	d.u64(v)
}

func (d *digester) float(v float64) {
	if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
		d.int(int64(v)) // 3.0 and 3 are the same argument, as in JSON
		return
	}
	d.byte(tagFloat)
	d.u64(math.Float64bits(v))
}
