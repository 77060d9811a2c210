package bpf

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/agent-os/agentos"
)

// Enforcer loads the egress programs and attaches them to cgroups. It owns
// one goroutine, which reads denials from the kernel's ring buffer and
// delivers them on Events; Close stops it and waits for it.
//
// An Enforcer is safe for concurrent use.
type Enforcer struct {
	opts   Options
	spec   *ebpf.CollectionSpec
	events *ebpf.Map // ring buffer shared by every attachment
	lost   *ebpf.Map // per-CPU count of events the ring buffer had no room for
	rd     *ringbuf.Reader
	ch     chan Event

	dropped atomic.Uint64
	done    chan struct{}

	mu     sync.Mutex
	atts   map[*Attachment]struct{}
	closed bool
}

// Attachment is the egress programs of one Enforcer attached to one
// cgroup, with that cgroup's allow-list. It is safe for concurrent use.
type Attachment struct {
	e  *Enforcer
	cg *Cgroup

	mu     sync.Mutex // serializes Update and Close
	coll   *ebpf.Collection
	links  []link.Link
	rules  []Rule
	closed bool
}

// Linux capabilities.
const (
	capNetAdmin = 12
	capSysAdmin = 21
	capBPF      = 39
)

// New checks that this system can enforce egress rules with eBPF, loads
// the programs once to have the kernel verify them, and starts the event
// reader. When it cannot (no cgroup v2, missing privileges: CAP_BPF and
// CAP_NET_ADMIN, or CAP_SYS_ADMIN; a program or map type the kernel lacks;
// programs the verifier refuses) the error is an [*UnsupportedError]
// wrapping errors.ErrUnsupported that names what is missing. Bad Options
// give an error wrapping agentos.ErrInvalid.
func New(opts *Options) (*Enforcer, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := CgroupMount(); err != nil {
		return nil, err
	}
	if err := checkCaps(); err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, unsupported("raising RLIMIT_MEMLOCK for eBPF maps", err)
	}
	for _, pt := range []ebpf.ProgramType{ebpf.CGroupSockAddr, ebpf.CGroupSKB} {
		if err := features.HaveProgramType(pt); err != nil {
			return nil, unsupported("eBPF program type "+pt.String(), err)
		}
	}
	for _, mt := range []ebpf.MapType{ebpf.LPMTrie, ebpf.ArrayOfMaps, ebpf.RingBuf, ebpf.PerCPUArray} {
		if err := features.HaveMapType(mt); err != nil {
			return nil, unsupported("eBPF map type "+mt.String(), err)
		}
	}
	spec, err := loadEgress()
	if err != nil {
		return nil, fmt.Errorf("bpf: %w", err)
	}
	spec.Maps["events"].MaxEntries = uint32(o.RingBufferSize)
	e := &Enforcer{opts: o, spec: spec, atts: map[*Attachment]struct{}{}, done: make(chan struct{})}
	fail := func(err error) (*Enforcer, error) {
		e.closeMaps()
		return nil, err
	}
	if e.events, err = ebpf.NewMap(spec.Maps["events"]); err != nil {
		return fail(unsupported("an eBPF ring buffer", err))
	}
	if e.lost, err = ebpf.NewMap(spec.Maps["lost"]); err != nil {
		return fail(unsupported("an eBPF per-CPU array", err))
	}
	// A trial load: the verifier sees every program now, not at the first
	// Attach.
	coll, err := e.load(0)
	if err != nil {
		return fail(err)
	}
	coll.Close()
	if e.rd, err = ringbuf.NewReader(e.events); err != nil {
		return fail(unsupported("reading an eBPF ring buffer", err))
	}
	e.ch = make(chan Event, o.EventBuffer)
	go e.read()
	return e, nil
}

func checkCaps() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return unsupported("privileges (cannot read /proc/self/status)", err)
	}
	var eff uint64
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			eff, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	if has(capSysAdmin) || (has(capBPF) && has(capNetAdmin)) {
		return nil
	}
	var missing []string
	if !has(capBPF) {
		missing = append(missing, "CAP_BPF")
	}
	if !has(capNetAdmin) {
		missing = append(missing, "CAP_NET_ADMIN")
	}
	return unsupported(fmt.Sprintf("privileges: %s (or CAP_SYS_ADMIN); run as root or grant them", strings.Join(missing, " and ")), nil)
}

// load loads the programs for the cgroup with the given id, sharing the
// enforcer's ring buffer and lost counter.
func (e *Enforcer) load(cgroupID uint64) (*ebpf.Collection, error) {
	spec := e.spec.Copy()
	if err := spec.Variables["cgroup_id"].Set(cgroupID); err != nil {
		return nil, fmt.Errorf("bpf: %w", err)
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{
		MapReplacements: map[string]*ebpf.Map{"events": e.events, "lost": e.lost},
	})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, unsupported("a kernel that accepts the egress programs", err)
		}
		return nil, unsupported("loading the egress programs", err)
	}
	return coll, nil
}

// read is the event reader goroutine.
func (e *Enforcer) read() {
	defer close(e.done)
	defer close(e.ch)
	var rec ringbuf.Record
	for {
		if err := e.rd.ReadInto(&rec); err != nil {
			if errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return
			}
			continue
		}
		var ts unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		ev, err := decodeEvent(rec.RawSample, time.Duration(ts.Nano()), e.opts.Now())
		if err != nil {
			e.dropped.Add(1)
			continue
		}
		select {
		case e.ch <- ev:
		default:
			e.dropped.Add(1)
		}
	}
}

// Events returns the channel denials are delivered on, in the order the
// reader got them. It is closed when the Enforcer is closed. Read it
// promptly: when it is full, denials are dropped and counted.
func (e *Enforcer) Events() <-chan Event { return e.ch }

// Dropped returns the number of denials lost so far: those that found the
// ring buffer or the Events channel full.
func (e *Enforcer) Dropped() uint64 {
	n := e.dropped.Load()
	var per []uint64
	if e.lost != nil && e.lost.Lookup(uint32(0), &per) == nil {
		for _, v := range per {
			n += v
		}
	}
	return n
}

// Attach attaches the egress programs to cg with rules as its allow-list
// and returns the Attachment. From then on, every process of cg and its
// descendants may connect or send only where rules allow. Attach before
// starting processes in cg: the five programs are attached one after the
// other. Errors: agentos.ErrInvalid for bad rules, agentos.ErrClosed after
// Close, and the kernel's refusals.
func (e *Enforcer) Attach(cg *Cgroup, rules []Rule) (*Attachment, error) {
	if cg == nil {
		return nil, fmt.Errorf("%w: bpf: nil cgroup", agentos.ErrInvalid)
	}
	entries, err := compileRules(rules)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("bpf: enforcer: %w", agentos.ErrClosed)
	}
	if err := cg.check(); err != nil {
		return nil, err
	}
	coll, err := e.load(cg.ID())
	if err != nil {
		return nil, err
	}
	a := &Attachment{e: e, cg: cg, coll: coll}
	if err := a.swap(entries); err != nil {
		coll.Close()
		return nil, err
	}
	for _, name := range programs {
		prog := coll.Programs[name]
		l, err := link.AttachCgroup(link.CgroupOptions{Path: cg.Path(), Attach: e.spec.Programs[name].AttachType, Program: prog})
		if err != nil {
			a.detach()
			return nil, fmt.Errorf("bpf: attaching %s to %s: %w", name, cg.Path(), err)
		}
		a.links = append(a.links, l)
	}
	a.rules = cloneRules(rules)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		a.detach()
		return nil, fmt.Errorf("bpf: enforcer: %w", agentos.ErrClosed)
	}
	e.atts[a] = struct{}{}
	return a, nil
}

func cloneRules(rules []Rule) []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		r.Ports = append([]PortRange(nil), r.Ports...)
		out[i] = r
	}
	return out
}

// swap builds a new trie holding entries and makes it the active one with
// a single update of the outer map: a decision in flight keeps the trie it
// looked up (the kernel frees it after every reader is done), the next one
// sees the new trie. No decision ever sees part of one list and part of
// another.
func (a *Attachment) swap(entries []entry) error {
	ms := a.e.spec.Maps["allow"].InnerMap.Copy()
	ms.MaxEntries = uint32(max(1, len(entries)))
	trie, err := ebpf.NewMap(ms)
	if err != nil {
		return fmt.Errorf("bpf: creating allow-list: %w", err)
	}
	defer trie.Close() // the outer map holds its own reference
	for _, en := range entries {
		k := egressLpmKey{Prefixlen: uint32(en.key.bits), Addr: en.key.addr}
		var v egressAllowEntry
		v.N = uint32(len(en.ranges))
		for i, r := range en.ranges {
			v.Ranges[i].First, v.Ranges[i].Last, v.Ranges[i].Protos = r.first, r.last, uint8(r.protos)
		}
		if err := trie.Put(&k, &v); err != nil {
			return fmt.Errorf("bpf: filling allow-list: %w", err)
		}
	}
	if err := a.coll.Maps["allow"].Put(uint32(0), trie); err != nil {
		return fmt.Errorf("bpf: installing allow-list: %w", err)
	}
	return nil
}

// Update replaces the allow-list atomically, without detaching anything:
// every decision after Update returns uses rules, none before it does, and
// none sees a mix. On error the previous list stays in force.
func (a *Attachment) Update(rules []Rule) error {
	entries, err := compileRules(rules)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("bpf: attachment: %w", agentos.ErrClosed)
	}
	if err := a.swap(entries); err != nil {
		return err
	}
	a.rules = cloneRules(rules)
	return nil
}

// Rules returns the allow-list in force.
func (a *Attachment) Rules() []Rule {
	a.mu.Lock()
	defer a.mu.Unlock()
	return cloneRules(a.rules)
}

// Cgroup returns the cgroup the programs are attached to.
func (a *Attachment) Cgroup() *Cgroup { return a.cg }

// Close detaches the programs from the cgroup. Its processes are then no
// longer restricted: kill them first (Cgroup.Kill) unless that is meant.
// Close is idempotent.
func (a *Attachment) Close() error {
	a.e.mu.Lock()
	delete(a.e.atts, a)
	a.e.mu.Unlock()
	return a.detach()
}

func (a *Attachment) detach() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	var errs []error
	for _, l := range a.links {
		errs = append(errs, l.Close())
	}
	a.links = nil
	a.coll.Close()
	return errors.Join(errs...)
}

// Close detaches every attachment, stops the event reader (closing the
// Events channel) and frees the maps. It is idempotent; later Attach
// calls fail with agentos.ErrClosed.
func (e *Enforcer) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	atts := make([]*Attachment, 0, len(e.atts))
	for a := range e.atts {
		atts = append(atts, a)
	}
	clear(e.atts)
	e.mu.Unlock()
	var errs []error
	for _, a := range atts {
		errs = append(errs, a.detach())
	}
	errs = append(errs, e.rd.Close())
	<-e.done
	e.closeMaps()
	return errors.Join(errs...)
}

func (e *Enforcer) closeMaps() {
	if e.events != nil {
		e.events.Close()
	}
	if e.lost != nil {
		e.lost.Close()
	}
}
