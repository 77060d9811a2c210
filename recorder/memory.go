package recorder

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/agent-os/agentos"
)

// memChunkSize is the number of entries of one chunk of the in-memory
// store. Entries live in fixed-size chunks so that growth never copies
// them and a reader can keep reading a chunk while Append fills the next.
const memChunkSize = 1024

// maxPooledBuf bounds the hashing buffers kept for reuse: a buffer grown by
// one large entry is dropped rather than pinned in the pool.
const maxPooledBuf = 16 << 10

// bufPool holds the hashing buffers of in-memory appends.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// memEntry is one entry of the in-memory store: its fields in the
// canonical encoding they are hashed in (encode's output after the
// previous hash and the sequence), and the chain fields. One string holds
// every field, so that an entry is one small pointer-free allocation
// besides its slot (the garbage collector does not scan it), Verify hashes
// it as stored, and the strings Query returns share its memory. A memEntry
// is never changed once stored (the test-only tamper hook is the
// exception, and it replaces the chunks instead of writing into them).
type memEntry struct {
	body       string
	seq        uint64
	prev, hash Hash
}

// bodyOf returns the stored body of f.
func bodyOf(f *fields[string]) string {
	return string(encode(nil, f)[offBody:])
}

// fields decodes e's body; the strings share its memory. ok is false for a
// body that encode did not make (only a tampered store holds one).
func (e *memEntry) fields() (f fields[string], ok bool) {
	d := bodyDecoder{s: e.body, ok: true}
	f.time = d.int()
	f.trace, f.agent, f.kind, f.op, f.tool = d.str(), d.str(), d.str(), d.str(), d.str()
	f.path, f.target, f.args, f.payloadType, f.meta = d.str(), d.str(), d.str(), d.str(), d.str()
	f.policyVersion, f.rule = d.str(), d.str()
	f.effect, f.severity = d.int(), d.int()
	f.message, f.status, f.errText = d.str(), d.str(), d.str()
	f.duration = d.int()
	f.resultDigest, f.detail = d.str(), d.str()
	return f, d.ok && d.i == len(d.s)
}

// bodyDecoder reads the fields of an encoding in order; ok turns false at
// the first malformed one.
type bodyDecoder struct {
	s  string
	i  int
	ok bool
}

func (d *bodyDecoder) int() int64 {
	if !d.ok || len(d.s)-d.i < 8 {
		d.ok = false
		return 0
	}
	var v uint64
	for _, c := range []byte(d.s[d.i : d.i+8]) {
		v = v<<8 | uint64(c)
	}
	d.i += 8
	return int64(v)
}

func (d *bodyDecoder) str() string {
	var n uint64
	for shift := uint(0); ; shift += 7 {
		if !d.ok || d.i >= len(d.s) || shift > 63 {
			d.ok = false
			return ""
		}
		c := d.s[d.i]
		d.i++
		if shift == 63 && c > 1 || shift > 0 && c == 0 {
			d.ok = false // overflow, or not the shortest form encode writes
			return ""
		}
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	if n > uint64(len(d.s)-d.i) {
		d.ok = false
		return ""
	}
	v := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return v
}

type memChunk [memChunkSize]memEntry

// memView is a consistent snapshot of the store: the entries at positions
// off..off+n-1 of chunks. Slots below n are never written again, so a
// reader uses a view without holding the lock. base is the number of
// entries evicted before it: the entry at i is the store's base+i-th.
type memView struct {
	chunks []*memChunk
	off, n int
	base   uint64
}

func (v *memView) at(i int) *memEntry {
	p := v.off + i
	return &v.chunks[p/memChunkSize][p%memChunkSize]
}

// search returns the first position whose entry has a sequence that ok
// accepts, given that ok is false then true along the chain (the store is
// ordered by sequence).
func (v *memView) search(ok func(seq uint64) bool) int {
	return sort.Search(v.n, func(i int) bool { return ok(v.at(i).seq) })
}

// memStore is the in-memory flight recorder: the chain in a chunked slice,
// with the genesis it began at (origin) and, once Options.MaxEntries
// evicted the oldest entries, the head of the last evicted one (genesis),
// from which what it holds is verified. Append takes mu for the time of
// sealing and storing one entry; readers take it only to copy a view.
type memStore struct {
	maxEntries int // 0: no bound
	maxBytes   int
	clock      func() time.Time

	mu      sync.Mutex
	chunks  []*memChunk
	off, n  int
	origin  Anchor // genesis of the chain
	genesis Anchor // head of the last evicted entry; origin while none is
	head    Anchor
	evicted uint64
	closed  bool
	// traces indexes the entries held by trace: for each non-empty trace,
	// the positions (base+i, see memView) of its entries, oldest first.
	// It is nil until the first query by trace builds it (traceView);
	// from then on put and evictOne keep it, so that appends pay for it
	// only once somebody queries by trace. It holds one position per
	// entry held, so MaxEntries bounds it too.
	traces map[string][]uint64
	// unindexed: a body held does not decode (only a tampered store holds
	// one), so there is no trace index and queries by trace scan, and
	// report the entry as the scan does.
	unindexed bool
}

func newMemStore(o *Options, genesis Anchor) *memStore {
	return &memStore{maxEntries: o.MaxEntries, maxBytes: o.MaxEntryBytes, clock: o.Clock,
		origin: genesis, genesis: genesis, head: genesis}
}

// openMemory returns a Recorder backed by a new memStore.
func openMemory(o *Options, genesis Anchor) *Recorder {
	return &Recorder{opts: *o, mem: newMemStore(o, genesis)}
}

// view returns a snapshot of the store, or agentos.ErrClosed.
func (m *memStore) view() (memView, Anchor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return memView{}, Anchor{}, agentos.ErrClosed
	}
	return memView{chunks: m.chunks, off: m.off, n: m.n, base: m.evicted}, m.genesis, nil
}

// traceView returns a snapshot of the store and the positions in it of
// the entries of trace (not empty), oldest first, building the trace index
// on first use; indexed is false when the store cannot have one (see
// unindexed): the caller scans. The positions are the index's own slice:
// its elements are never written again (put appends after them, evictOne
// drops from the front by reslicing, and a trace whose list empties gets
// a new one), so the caller reads them without the lock.
func (m *memStore) traceView(trace string) (v memView, pos []uint64, indexed bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return memView{}, nil, false, agentos.ErrClosed
	}
	v = memView{chunks: m.chunks, off: m.off, n: m.n, base: m.evicted}
	if m.traces == nil && !m.unindexed {
		// Sized for the kernel's two entries per trace.
		m.traces = make(map[string][]uint64, v.n/2)
		for i := 0; i < v.n && m.traces != nil; i++ {
			m.indexTrace(v.at(i).body, v.base+uint64(i))
		}
	}
	if m.traces == nil {
		return v, nil, false, nil
	}
	return v, m.traces[trace], true, nil
}

// indexTrace adds the entry with body at position pos to the trace index.
// The key shares the body's memory. A body that does not decode drops the
// index for good (unindexed). The caller holds mu.
func (m *memStore) indexTrace(body string, pos uint64) {
	t, ok := traceOf(body)
	switch {
	case !ok:
		m.traces, m.unindexed = nil, true
	case t != "":
		l, ok := m.traces[t]
		if !ok {
			// Room for the kernel's two entries per trace (a decision
			// and its outcome): one allocation per trace, not two.
			l = make([]uint64, 0, 2)
		}
		m.traces[t] = append(l, pos)
	}
}

// traceOf returns the trace field of a stored body (the second field,
// after the time).
func traceOf(body string) (string, bool) {
	d := bodyDecoder{s: body, ok: true}
	d.int()
	t := d.str()
	return t, d.ok
}

// append checks, seals and stores e: Append and AppendLater of an
// in-memory recorder, for which WriteAhead and Buffered both mean that the
// entry is in the chain when Append returns.
func (m *memStore) append(ctx context.Context, e Entry) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if e.Time.IsZero() {
		e.Time = m.clock()
	}
	// Args already canonical (the kernel's are) skip normalize's copy:
	// they are read here, into the body, and not kept.
	var args []byte
	if isCanonical(e.Args) {
		args, e.Args = e.Args, nil
	}
	// normalize, less its meta step: appendMetaChecked checks the meta
	// as it encodes it, last of normalize's checks as in normalize.
	if err := normalizeFields(&e); err != nil {
		return 0, err
	}
	if args == nil {
		args, e.Args = e.Args, nil
	}
	f := fieldsNoMeta(&e)
	// Encode reads args without keeping them: no copy to a string.
	f.args = unsafe.String(unsafe.SliceData(args), len(args))
	bp := bufPool.Get().(*[]byte)
	buf, err := appendMetaChecked(encodeHead((*bp)[:0], &f), e.Meta)
	defer func() {
		if cap(buf) <= maxPooledBuf {
			*bp = buf[:0]
			bufPool.Put(bp)
		}
	}()
	if err != nil {
		return 0, err
	}
	buf = encodeTail(buf, &f)
	if len(buf) > m.maxBytes {
		return 0, fmt.Errorf("%w: recorder: entry of %d bytes exceeds MaxEntryBytes %d", agentos.ErrInvalid, len(buf), m.maxBytes)
	}
	me := memEntry{body: string(buf[offBody:])}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, fmt.Errorf("recorder: append: %w", agentos.ErrClosed)
	}
	me.seq, me.prev = m.head.Seq+1, m.head.Hash
	me.hash = seal(buf, me.prev, me.seq)
	m.put(&me)
	return me.seq, nil
}

// put stores a sealed entry at the end of the chain and evicts the oldest
// beyond maxEntries. The caller holds mu.
func (m *memStore) put(e *memEntry) {
	p := m.off + m.n
	if p/memChunkSize == len(m.chunks) {
		m.chunks = append(m.chunks, new(memChunk))
	}
	m.chunks[p/memChunkSize][p%memChunkSize] = *e
	if m.traces != nil {
		m.indexTrace(e.body, m.evicted+uint64(m.n))
	}
	m.n++
	m.head = Anchor{Seq: e.seq, Hash: e.hash}
	for m.maxEntries > 0 && m.n > m.maxEntries {
		m.evictOne()
	}
}

// evictOne drops the oldest entry; its head becomes the genesis of what
// the store holds. A chunk emptied by eviction is released by copying the
// chunk list, so that views taken before keep the list they saw.
func (m *memStore) evictOne() {
	v := memView{chunks: m.chunks, off: m.off, n: m.n}
	first := v.at(0)
	m.genesis = Anchor{Seq: first.seq, Hash: first.hash}
	if m.traces != nil {
		if t, ok := traceOf(first.body); ok && t != "" {
			switch l := m.traces[t]; {
			case len(l) == 0 || l[0] != m.evicted:
				m.traces = nil // cannot happen; rebuilt by the next query
			case len(l) == 1:
				delete(m.traces, t)
			default:
				m.traces[t] = l[1:]
			}
		}
	}
	m.evicted++
	m.off++
	m.n--
	if m.off == memChunkSize {
		m.chunks = append(make([]*memChunk, 0, max(len(m.chunks), 4)), m.chunks[1:]...)
		m.off = 0
	}
}

// importChain stores entries that Import has verified; the caller has
// checked that each links to the one before.
func (m *memStore) importEntry(e *Entry) {
	f := fieldsOf(e)
	me := memEntry{body: bodyOf(&f), seq: e.Seq, prev: e.PrevHash, hash: e.Hash}
	m.mu.Lock()
	m.put(&me)
	m.mu.Unlock()
}

func (m *memStore) anchor() Anchor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.head.from(m.origin)
}

func (m *memStore) flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("recorder: flush: %w", agentos.ErrClosed)
	}
	return nil
}

// close drops the entries; views taken before keep theirs.
func (m *memStore) close() {
	m.mu.Lock()
	m.closed = true
	m.chunks, m.off, m.n = nil, 0, 0
	m.traces = nil
	m.mu.Unlock()
}

// entry returns the entry of e as Query returns it, with its own Args and
// Meta. The stored meta is what metaJSON made; ErrCorrupt if it does not
// parse (it always does unless the memory was tampered with).
func (e *memEntry) entry() (Entry, error) {
	f, ok := e.fields()
	if !ok {
		return Entry{}, fmt.Errorf("%w: entry %d: stored fields do not decode", ErrCorrupt, e.seq)
	}
	out := Entry{Seq: e.seq, Time: time.Unix(0, f.time).UTC(), Trace: f.trace, Agent: agentos.AgentID(f.agent),
		Kind: Kind(f.kind), Op: agentos.Op(f.op), Tool: f.tool, Path: f.path, Target: agentos.AgentID(f.target),
		PayloadType: f.payloadType, PolicyVersion: f.policyVersion, Rule: f.rule,
		Effect: agentos.Effect(f.effect), Message: f.message, Severity: agentos.Severity(f.severity),
		Status: Status(f.status), Error: f.errText, Duration: time.Duration(f.duration),
		ResultDigest: f.resultDigest, Detail: f.detail, PrevHash: e.prev, Hash: e.hash}
	if f.args != "" {
		out.Args = []byte(f.args)
	}
	var err error
	if out.Meta, err = parseMeta(f.meta); err != nil {
		return out, fmt.Errorf("%w: entry %d: stored meta is not a JSON object of strings: %v", ErrCorrupt, e.seq, err)
	}
	return out, nil
}

// matcher is a Filter compiled for the in-memory store. It matches as the
// SQL of Filter.where does: exact byte equality of the text columns, Since
// and Until compared in Unix nanoseconds.
type matcher struct {
	f            *Filter
	needles      []string // the text the filter asks for: a body without one cannot match
	since, until int64
	hasSince     bool
	hasUntil     bool
}

func newMatcher(f *Filter) matcher {
	m := matcher{f: f, hasSince: !f.Since.IsZero(), hasUntil: !f.Until.IsZero()}
	for _, s := range []string{f.Trace, f.Tool, f.PayloadType, string(f.Agent), string(f.Op), string(f.Kind)} {
		if s != "" {
			m.needles = append(m.needles, s)
		}
	}
	if m.hasSince {
		m.since = f.Since.UnixNano()
	}
	if m.hasUntil {
		m.until = f.Until.UnixNano()
	}
	return m
}

// mayMatch is a quick test before decoding: a body that does not contain
// every string the filter asks for cannot match (a field's bytes are in
// the body as they are).
func (m *matcher) mayMatch(body string) bool {
	for _, s := range m.needles {
		if !strings.Contains(body, s) {
			return false
		}
	}
	return true
}

func (m *matcher) match(e *fields[string]) bool {
	f := m.f
	switch {
	case f.Agent != "" && e.agent != string(f.Agent),
		f.Op != "" && e.op != string(f.Op),
		f.Tool != "" && e.tool != f.Tool,
		f.PayloadType != "" && e.payloadType != f.PayloadType,
		f.Kind != "" && e.kind != string(f.Kind),
		f.Trace != "" && e.trace != f.Trace,
		m.hasSince && e.time < m.since,
		m.hasUntil && e.time >= m.until:
		return false
	}
	if len(f.Effects) == 0 {
		return true
	}
	for _, x := range f.Effects {
		if int64(x) == e.effect {
			return true
		}
	}
	return false
}

// query is Recorder.Query in memory. It scans a view between the bounds
// After and Before (found by binary search), or, for a filter with a
// Trace, only the entries the trace index lists there, and holds no lock
// while the loop body runs. After and Before compare as the SQL does, as
// signed 64-bit integers.
func (m *memStore) query(ctx context.Context, f Filter) iter.Seq2[Entry, error] {
	return m.queryWith(ctx, f, true)
}

// queryWith is query; without useIndex it scans for a trace too (the
// reference the index is tested against).
func (m *memStore) queryWith(ctx context.Context, f Filter, useIndex bool) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		if f.Limit < 0 {
			yield(Entry{}, fmt.Errorf("%w: recorder: negative limit", agentos.ErrInvalid))
			return
		}
		if err := ctx.Err(); err != nil {
			yield(Entry{}, fmt.Errorf("recorder: query: %w", err))
			return
		}
		var (
			v       memView
			indexed []uint64 // with byTrace: the positions of the trace's entries
			err     error
		)
		byTrace := useIndex && f.Trace != ""
		if byTrace {
			v, indexed, byTrace, err = m.traceView(f.Trace)
		} else {
			v, _, err = m.view()
		}
		if err != nil {
			yield(Entry{}, fmt.Errorf("recorder: query: %w", err))
			return
		}
		f.Effects = append([]agentos.Effect(nil), f.Effects...) // the caller may change its slice while we iterate
		lo, hi := 0, v.n
		if f.After > 0 {
			lo = v.search(func(seq uint64) bool { return int64(seq) > int64(f.After) })
		}
		if f.Before > 0 {
			hi = v.search(func(seq uint64) bool { return int64(seq) >= int64(f.Before) })
		}
		// The candidates are the positions lo..hi-1, or those of indexed
		// between them: k runs over them in the order asked for.
		first, end := lo, hi
		if byTrace {
			first = sort.Search(len(indexed), func(j int) bool { return indexed[j] >= v.base+uint64(lo) })
			end = sort.Search(len(indexed), func(j int) bool { return indexed[j] >= v.base+uint64(hi) })
		}
		at := func(k int) int {
			if byTrace {
				return int(indexed[k] - v.base)
			}
			return k
		}
		mt := newMatcher(&f)
		left := f.Limit
		step, k, stop := 1, first, end
		if f.Order == Descending {
			step, k, stop = -1, end-1, first-1
		}
		for scanned := 0; k != stop && first < end; k, scanned = k+step, scanned+1 {
			if scanned&1023 == 1023 {
				if err := ctx.Err(); err != nil {
					yield(Entry{}, fmt.Errorf("recorder: query: %w", err))
					return
				}
			}
			e := v.at(at(k))
			if !mt.mayMatch(e.body) {
				continue
			}
			ef, ok := e.fields()
			if !ok {
				yield(Entry{}, fmt.Errorf("recorder: query: %w: entry %d: stored fields do not decode", ErrCorrupt, e.seq))
				return
			}
			if !mt.match(&ef) {
				continue
			}
			out, err := e.entry()
			if err != nil {
				yield(Entry{}, err)
				return
			}
			if !yield(out, nil) {
				return
			}
			if f.Limit > 0 {
				if left--; left == 0 {
					return
				}
			}
		}
	}
}

// stats is Recorder.Stats in memory: one scan of the entries held.
func (m *memStore) stats(ctx context.Context) (Stats, error) {
	v, genesis, err := m.view()
	if err != nil {
		return Stats{}, fmt.Errorf("recorder: stats: %w", err)
	}
	m.mu.Lock()
	evicted := m.evicted
	m.mu.Unlock()
	s := Stats{Files: 1, Entries: uint64(v.n), Genesis: genesis, Head: genesis, Evicted: evicted,
		ByKind: map[Kind]uint64{}, ByEffect: map[agentos.Effect]uint64{}}
	agents := map[string]struct{}{}
	out := newOutcomeTracker()
	var oldest, newest int64
	for i := range v.n {
		if i&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return Stats{}, fmt.Errorf("recorder: stats: %w", err)
			}
		}
		e := v.at(i)
		f, ok := e.fields()
		if !ok {
			return Stats{}, fmt.Errorf("recorder: stats: %w: entry %d: stored fields do not decode", ErrCorrupt, e.seq)
		}
		if i == 0 || f.time < oldest {
			oldest = f.time
		}
		if i == 0 || f.time > newest {
			newest = f.time
		}
		agents[f.agent] = struct{}{}
		s.ByKind[Kind(f.kind)]++
		if f.kind == string(KindDecision) {
			s.ByEffect[agentos.Effect(f.effect)]++
		}
		if f.kind == string(KindDecision) || f.kind == string(KindOutcome) {
			out.observe(e.seq, Kind(f.kind), Status(f.status), f.trace)
		}
	}
	if v.n > 0 {
		last := v.at(v.n - 1)
		s.Head = Anchor{Seq: last.seq, Hash: last.hash}
		s.Oldest, s.Newest = time.Unix(0, oldest).UTC(), time.Unix(0, newest).UTC()
	}
	s.Agents = len(agents)
	s.Unknown = out.result()
	return s, nil
}

// export is Recorder.Export in memory: the header names the genesis of
// what the store holds (the head of the last evicted entry, if any), and
// the entries of the same view follow, so the stream always links.
func (m *memStore) export(ctx context.Context, w io.Writer) error {
	v, genesis, err := m.view()
	if err != nil {
		return fmt.Errorf("recorder: export: %w", err)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header{Format: jsonlFormat, Version: encodingVersion, Genesis: genesis}); err != nil {
		return fmt.Errorf("recorder: export: %w", err)
	}
	for i := range v.n {
		if i&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("recorder: export: %w", err)
			}
		}
		e, err := v.at(i).entry()
		if err != nil {
			return fmt.Errorf("recorder: export: %w", err)
		}
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("recorder: export: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("recorder: export: %w", err)
	}
	return nil
}
