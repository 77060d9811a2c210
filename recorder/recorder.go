package recorder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
)

// Durability says when Append returns.
type Durability uint8

const (
	// WriteAhead (the default): Append returns once the entry is committed.
	// Concurrent appenders share commits (group commit).
	WriteAhead Durability = iota
	// Buffered: Append returns once the entry is queued; a background
	// flusher commits the queue in batches, on size or interval, and on
	// Flush and Close. A commit that fails (a full disk) loses the entries
	// accepted but not committed: at most Options.QueueSize of them, those
	// of about the last Options.FlushInterval. Lost reports the loss from
	// then on.
	Buffered
)

func (d Durability) String() string {
	switch d {
	case WriteAhead:
		return "write-ahead"
	case Buffered:
		return "buffered"
	}
	return "durability(" + strconv.Itoa(int(d)) + ")"
}

// Sync is the SQLite synchronous level of commits.
type Sync uint8

const (
	// SyncDefault is SyncFull in WriteAhead mode and SyncNormal in Buffered.
	SyncDefault Sync = iota
	// SyncNormal: a commit survives the crash of the process (it is in the
	// operating system's cache) but the last commits may be lost if the
	// machine loses power.
	SyncNormal
	// SyncFull: every commit is fsynced before Append returns; it survives
	// power loss.
	SyncFull
)

// WhenFull says what Append does when the queue is full.
type WhenFull uint8

const (
	// Block (the default): Append waits for room, its context, or Close.
	Block WhenFull = iota
	// Fail: Append returns ErrQueueFull at once; the entry is not recorded.
	Fail
)

// Rollover starts a new file when the current one holds MaxEntries. The new
// file's genesis is the head of the previous file, so the chain continues
// across files. Files are named after the path given to Open: "audit.db",
// then "audit.000002.db", "audit.000003.db", …; Open resumes the newest.
type Rollover struct {
	MaxEntries uint64
}

// Options configure a Recorder. The zero value (and nil) means defaults.
type Options struct {
	Durability Durability
	Sync       Sync
	// QueueSize bounds the entries accepted but not yet committed
	// (queued or being written). Default 4096.
	QueueSize int
	// WhenFull: Block (default) or Fail when QueueSize entries wait.
	WhenFull WhenFull
	// BatchSize: in Buffered mode the flusher commits as soon as this many
	// entries wait. Default 512.
	BatchSize int
	// FlushInterval: in Buffered mode the longest an entry waits before
	// the flusher commits it; in WriteAhead mode the longest an entry
	// queued by AppendLater waits when no Append, Flush or read commits it
	// sooner. Default 100ms.
	FlushInterval time.Duration
	// MaxBatch bounds the entries of one transaction. Default 4096.
	MaxBatch int
	// MaxEntryBytes bounds the encoded size of one entry. Default 1 MiB.
	MaxEntryBytes int
	// MaxBytes bounds the database file (SQLite max_page_count); an append
	// beyond it fails with ErrStorageFull. 0 means no bound.
	MaxBytes int64
	// Rollover, when set, starts a new file every MaxEntries entries.
	// Ignored in memory.
	Rollover *Rollover
	// ReadOnly opens an existing file for Query, Verify, Stats and Export;
	// Append returns agentos.ErrReadOnly.
	ReadOnly bool
	// ReadConns bounds the reader connections of a file. Default 4.
	ReadConns int
	// Clock gives the time of entries appended with a zero Time.
	// Default time.Now.
	Clock func() time.Time
	// MaxEntries bounds the entries an in-memory recorder holds (0: no
	// bound). Past it, each Append drops the oldest entry; the recorder
	// keeps the sequence and hash of the last one dropped as the genesis
	// of what it holds, so that Verify checks the rest from there and
	// reports the dropped prefix (Report.Evicted, Stats.Evicted), and
	// Query never returns a dropped entry. Export first to keep them.
	// Ignored for files: see Rollover.
	MaxEntries int

	// sqliteMemory makes "" an SQLite in-memory database instead of the
	// native in-memory store (tests and benchmarks compare the two).
	sqliteMemory bool
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.Sync == SyncDefault {
		v.Sync = SyncFull
		if v.Durability == Buffered {
			v.Sync = SyncNormal
		}
	}
	if v.QueueSize <= 0 {
		v.QueueSize = 4096
	}
	if v.BatchSize <= 0 {
		v.BatchSize = 512
	}
	if v.FlushInterval <= 0 {
		v.FlushInterval = 100 * time.Millisecond
	}
	if v.MaxBatch <= 0 {
		v.MaxBatch = 4096
	}
	if v.MaxEntryBytes <= 0 {
		v.MaxEntryBytes = 1 << 20
	}
	if v.ReadConns <= 0 {
		v.ReadConns = 4
	}
	if v.Clock == nil {
		v.Clock = time.Now
	}
	return v
}

func (o *Options) check() error {
	if o.Durability > Buffered {
		return fmt.Errorf("%w: recorder: unknown durability %d", agentos.ErrInvalid, o.Durability)
	}
	if o.Sync > SyncFull {
		return fmt.Errorf("%w: recorder: unknown sync level %d", agentos.ErrInvalid, o.Sync)
	}
	if o.WhenFull > Fail {
		return fmt.Errorf("%w: recorder: unknown WhenFull %d", agentos.ErrInvalid, o.WhenFull)
	}
	if o.Rollover != nil && o.Rollover.MaxEntries == 0 {
		return fmt.Errorf("%w: recorder: Rollover.MaxEntries must be positive", agentos.ErrInvalid)
	}
	if o.MaxBytes < 0 {
		return fmt.Errorf("%w: recorder: negative MaxBytes", agentos.ErrInvalid)
	}
	if o.MaxEntries < 0 {
		return fmt.Errorf("%w: recorder: negative MaxEntries", agentos.ErrInvalid)
	}
	return nil
}

// item is a queued entry, or a flush marker when flush is non-nil.
type item struct {
	e     Entry
	meta  string     // e.Meta in stored form (metaJSON)
	done  chan error // WriteAhead: receives the commit result
	flush chan error // flush marker: receives the result of everything before it
	late  bool       // WriteAhead: queued by AppendLater, counted in Recorder.late
	quiet bool       // flush marker of a read: leaves a loss for Flush to report
}

// Recorder is the flight recorder: an append-only, hash-chained log of
// entries in SQLite, or in memory (see Open). All methods are safe for
// concurrent use.
type Recorder struct {
	opts Options
	base string // path given to Open ("" in memory)

	// mem, when set, is the native in-memory store: every method below
	// hands its work to it, and the SQLite fields are unused.
	mem *memStore

	// stMu guards st, which the flusher swaps at rollover. Readers hold
	// it for one query.
	stMu sync.RWMutex
	st   *store

	mu       sync.Mutex
	head     Anchor  // head of accepted entries (committed and queued)
	pending  []*item // queue, in sequence order
	queued   int     // entries (not markers) in pending
	space    chan struct{}
	closed   bool
	asyncErr error                     // buffered entries lost, reported once
	lost     atomic.Pointer[LostError] // the first loss, kept (see Lost)
	late     atomic.Int64              // WriteAhead entries of AppendLater not yet committed
	hooks    commitHooks               // OnCommit (metrics.go)
	syncs    commitHooks               // OnSync (metrics.go)

	dmu     sync.Mutex
	durable Anchor // head of committed (durable) entries
	// written is the head of the entries in the file; with a syncer they
	// are durable once synced (walsync.go), and unsynced holds those not
	// yet synced, in order, with the first failed sync in syncErr.
	written  Anchor
	unsynced []*item
	syncErr  error
	syncing  bool   // a sync is under way
	origin   Anchor // genesis of the first file, read at Open
	inFile   uint64 // entries in the current file
	lastErr  error  // last commit or rollover error
	segments []string

	// wmu is held by whoever commits: the flusher, or an Append that found
	// no commit under way (lead). It orders commits; drain runs under it.
	// smu is held by whoever syncs (syncWritten), after releasing wmu, so
	// that the next commit is written while the last one is synced.
	wmu        sync.Mutex
	smu        sync.Mutex
	syncFailed atomic.Pointer[error] // syncErr, read by append without a lock
	synced     atomic.Bool           // the current store has a syncer, read without wmu
	wake       chan struct{}
	later      chan struct{} // AppendLater queued an entry: arm the flush timer
	quit       chan struct{}
	done       chan struct{}
	closeErr   error
	once       sync.Once
}

// Open opens the recorder at path, creating the file when absent, or an
// in-memory recorder when path is "" or ":memory:" (the native memory
// store: see the package documentation; Options.MaxEntries bounds it). Nil opts means
// defaults. An existing file is checked: a file that is not a recorder
// database gives ErrCorrupt, one from a newer recorder a *SchemaError. The
// chain itself is not verified at Open; call Verify.
func Open(path string, opts *Options) (*Recorder, error) {
	return open(context.Background(), path, opts, Anchor{}, nil)
}

// open opens a recorder; a new file gets genesis, and fill, when given,
// loads entries before the flusher starts.
func open(ctx context.Context, path string, opts *Options, genesis Anchor, fill func(*store) (Anchor, error)) (*Recorder, error) {
	o := opts.withDefaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	if path == ":memory:" {
		path = ""
	}
	if path == "" {
		o.Rollover = nil
		if o.ReadOnly {
			return nil, fmt.Errorf("%w: recorder: a read-only recorder needs a file", agentos.ErrInvalid)
		}
		if !o.sqliteMemory {
			return openMemory(&o, genesis), nil
		}
	}
	if errNoSQLite != nil {
		return nil, errNoSQLite
	}
	r := &Recorder{opts: o, base: path, space: make(chan struct{}),
		wake: make(chan struct{}, 1), later: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	active := path
	if o.Rollover != nil {
		segs, err := listSegments(path)
		if err != nil {
			return nil, err
		}
		if len(segs) > 0 {
			active = segs[len(segs)-1]
			r.segments = segs
		} else {
			r.segments = []string{path}
		}
	}
	if path != "" && o.ReadOnly {
		if _, err := os.Stat(active); err != nil {
			return nil, fmt.Errorf("recorder: %w", err)
		}
	}
	st, err := openStore(ctx, active, &o, genesis)
	if err != nil {
		return nil, err
	}
	if fill != nil {
		head, err := fill(st)
		if err == nil && st.syncer != nil {
			err = st.syncer.sync()
		}
		if err != nil {
			st.close()
			return nil, err
		}
		st.head = head
	}
	r.st = st
	r.synced.Store(st.syncer != nil)
	r.head, r.durable, r.written = st.head, st.head, st.head
	if r.origin, err = originOf(ctx, r.segments, st); err != nil {
		st.close()
		return nil, err
	}
	r.inFile = st.head.Seq - st.genesis.Seq
	if o.ReadOnly {
		close(r.done)
		return r, nil
	}
	go r.run()
	return r, nil
}

// Append records e and returns its sequence number. The recorder sets
// e.Seq, e.PrevHash and e.Hash, and e.Time from the clock when it is zero;
// e.Args is stored in canonical form (see CanonicalJSON) and e.Meta as a
// copy (nil when empty). The entry's encoded size, Args and Meta included,
// is bounded by Options.MaxEntryBytes; PayloadType and Meta by MaxPayloadType
// and the MaxMeta constants.
//
// In WriteAhead mode Append returns once the entry is committed. If ctx ends
// first, Append returns ctx's error and the entry may or may not be
// recorded. An Append that finds no commit under way commits the pending
// entries itself, on its own goroutine, and returns when that commit ends,
// whatever ctx does meanwhile. In Buffered mode it returns once the entry is queued; when the
// queue is full it blocks (or fails with ErrQueueFull under WhenFull: Fail).
//
// Errors: agentos.ErrInvalid for a malformed entry, agentos.ErrClosed after
// Close, agentos.ErrReadOnly, ErrStorageFull, ErrQueueFull, ErrSync (for
// good, once an fsync of the file failed), and in Buffered
// mode a *LostError (once) when earlier accepted entries could not be
// written — the entry given to that call is not recorded.
func (r *Recorder) Append(ctx context.Context, e Entry) (uint64, error) {
	return r.append(ctx, e, r.opts.Durability == WriteAhead)
}

// AppendLater records e as Append does but, in WriteAhead mode, returns
// once the entry is queued instead of committed: it takes its place in the
// chain at once (its sequence number is returned) and becomes durable with
// the next commit, which the next Append that waits, a Flush, a read
// (Query, Stats, Verify, Export), Close, or at the latest a timer of
// Options.FlushInterval triggers. It lets an entry whose loss is tolerable
// for a moment (a syscall's outcome, written after its decision was
// committed) share the commit of the next entry that must be durable: one
// fsync per syscall instead of two. In Buffered mode it is Append.
//
// An entry of AppendLater that a commit fails to write is reported as an
// Append in Buffered mode reports its loss: a *LostError returned once by
// the next Append, AppendLater, Flush or Close, and from then on, for
// good, by Lost. A process that dies before the commit loses the entry and
// those queued after it, never one committed before.
//
// Errors: those of Append.
func (r *Recorder) AppendLater(ctx context.Context, e Entry) (uint64, error) {
	return r.append(ctx, e, false)
}

// append queues e and, when wait, waits for its commit.
func (r *Recorder) append(ctx context.Context, e Entry, wait bool) (uint64, error) {
	if r.mem != nil {
		return r.mem.append(ctx, e)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if r.opts.ReadOnly {
		return 0, fmt.Errorf("%w: recorder is read-only", agentos.ErrReadOnly)
	}
	if f := r.syncFailed.Load(); f != nil {
		return 0, *f
	}
	if e.Time.IsZero() {
		e.Time = r.opts.Clock()
	}
	if err := normalize(&e); err != nil {
		return 0, err
	}
	f := fieldsOf(&e)
	buf := encode(make([]byte, 0, 256), &f)
	if len(buf) > r.opts.MaxEntryBytes {
		return 0, fmt.Errorf("%w: recorder: entry of %d bytes exceeds MaxEntryBytes %d", agentos.ErrInvalid, len(buf), r.opts.MaxEntryBytes)
	}
	it := &item{e: e, meta: f.meta}
	if wait {
		it.done = make(chan error, 1)
	} else if r.opts.Durability == WriteAhead {
		it.late = true
	}
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return 0, fmt.Errorf("recorder: append: %w", agentos.ErrClosed)
		}
		if err := r.asyncErr; err != nil {
			r.asyncErr = nil
			r.mu.Unlock()
			return 0, err
		}
		if r.queued >= r.opts.QueueSize {
			if r.opts.WhenFull == Fail {
				r.mu.Unlock()
				return 0, ErrQueueFull
			}
			space := r.space
			r.mu.Unlock()
			r.signal()
			select {
			case <-space:
				continue
			case <-r.quit:
				return 0, fmt.Errorf("recorder: append: %w", agentos.ErrClosed)
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		seq := r.head.Seq + 1
		it.e.Seq, it.e.PrevHash = seq, r.head.Hash
		it.e.Hash = seal(buf, r.head.Hash, seq)
		r.head = Anchor{Seq: seq, Hash: it.e.Hash}
		r.pending = append(r.pending, it)
		r.queued++
		if it.late {
			r.late.Add(1)
		}
		wake := wait || r.queued >= r.opts.BatchSize
		r.mu.Unlock()
		if wait && r.lead() {
			// Committed (or failed) on this goroutine: it.done is answered.
		} else if wake {
			r.signal()
		} else if it.late {
			select {
			case r.later <- struct{}{}:
			default:
			}
		}
		if !wait {
			return seq, nil
		}
		select {
		case err := <-it.done:
			if err != nil {
				return 0, err
			}
			return seq, nil
		case <-ctx.Done():
			return 0, fmt.Errorf("recorder: entry %d may not be recorded: %w", seq, ctx.Err())
		}
	}
}

// lead commits everything pending on the calling goroutine when no commit
// is under way, and reports whether it did. A waiting Append that finds the
// writer idle so costs no hand-off to the flusher and back (two goroutine
// wake-ups, a large share of one commit on a busy machine); while a commit
// is under way, appenders queue and the flusher commits them together
// after it.
func (r *Recorder) lead() bool {
	if r.synced.Load() && r.aheadFull() {
		return false
	}
	if !r.wmu.TryLock() {
		return false
	}
	more := r.drain()
	r.wmu.Unlock()
	r.syncWritten()
	if more {
		r.signal() // past MaxBatch: the flusher commits the rest
	}
	return true
}

func (r *Recorder) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Flush returns once every entry accepted before the call is committed. It
// returns a *LostError if accepted entries could not be written since the
// error was last reported, an error wrapping ErrSync, for good, once an
// fsync failed, and agentos.ErrClosed after Close.
func (r *Recorder) Flush(ctx context.Context) error {
	if r.mem != nil {
		return r.mem.flush()
	}
	if r.opts.ReadOnly {
		return nil
	}
	m := &item{flush: make(chan error, 1)}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return fmt.Errorf("recorder: flush: %w", agentos.ErrClosed)
	}
	r.pending = append(r.pending, m)
	r.mu.Unlock()
	r.signal()
	select {
	case err := <-m.flush:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// settle commits the entries AppendLater queued before the call, so that a
// read sees them, and leaves a loss for Flush, Append and Lost to report.
// It costs one atomic load when none is queued.
func (r *Recorder) settle(ctx context.Context) error {
	if r.late.Load() == 0 || r.opts.ReadOnly {
		return nil
	}
	m := &item{flush: make(chan error, 1), quiet: true}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return agentos.ErrClosed
	}
	r.pending = append(r.pending, m)
	r.mu.Unlock()
	r.signal()
	select {
	case err := <-m.flush:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Anchor returns the committed chain by both ends: its head, the sequence
// and hash of the last durable entry (the genesis when there is none), and
// its genesis, that of the recorder's first file as read at Open (zero for
// a recorder that began empty). Keep it outside the recorder's reach (see
// SignAnchor and Publisher) to detect later tampering with VerifyAnchor.
func (r *Recorder) Anchor() Anchor {
	if r.mem != nil {
		return r.mem.anchor()
	}
	r.dmu.Lock()
	defer r.dmu.Unlock()
	return r.durable.from(r.origin)
}

// Close commits every accepted entry, stops the flusher and closes the
// database. It returns a commit error, or a *LostError not yet reported.
// Close is idempotent; later calls of other methods return
// agentos.ErrClosed.
func (r *Recorder) Close() error {
	if r.mem != nil {
		r.once.Do(r.mem.close)
		return nil
	}
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		close(r.quit)
		<-r.done
		// A leader may still be syncing what it committed.
		r.wmu.Lock()
		r.smu.Lock()
		defer r.wmu.Unlock()
		defer r.smu.Unlock()
		r.mu.Lock()
		err := r.asyncErr
		r.asyncErr = nil
		r.mu.Unlock()
		r.stMu.Lock()
		r.closeErr = errors.Join(err, r.st.close())
		r.stMu.Unlock()
	})
	return r.closeErr
}

// run is the flusher: the only goroutine that writes. It is started by Open
// and joined by Close.
func (r *Recorder) run() {
	defer close(r.done)
	var tick <-chan time.Time
	if r.opts.Durability == Buffered {
		t := time.NewTicker(r.opts.FlushInterval)
		defer t.Stop()
		tick = t.C
	}
	// The timer that bounds the wait of AppendLater's entries: armed when
	// one is queued and the timer is not already running.
	late := time.NewTimer(r.opts.FlushInterval)
	late.Stop()
	defer late.Stop()
	var lateC <-chan time.Time
	for {
		stop := false
		select {
		case <-r.wake:
		case <-tick:
		case <-r.later:
			if lateC == nil {
				late.Reset(r.opts.FlushInterval)
				lateC = late.C
			}
			continue
		case <-lateC:
			lateC = nil
		case <-r.quit:
			stop = true
		}
		if stop {
			// Appenders seen closed; drain what is left and answer markers.
			r.flush(true)
			return
		}
		r.flush(false)
	}
}

// flush commits and syncs what is pending, a batch at a time. Unless final,
// it stops when a commit already waits for the sync under way (aheadFull):
// that sync signals the flusher when it ends.
func (r *Recorder) flush(final bool) {
	for {
		if !final && r.synced.Load() && r.aheadFull() {
			return
		}
		r.wmu.Lock()
		more := r.drain()
		r.wmu.Unlock()
		r.syncWritten()
		if !more {
			return
		}
	}
}

// drain commits everything pending, in batches of at most MaxBatch. With a
// syncer it commits one batch and reports whether more is pending: the
// caller releases wmu and syncs before the next, so that the next batch is
// written while this one is synced.
func (r *Recorder) drain() (more bool) {
	for {
		r.mu.Lock()
		n := 0
		cut := 0
		for cut < len(r.pending) && n < r.opts.MaxBatch {
			if r.pending[cut].flush == nil {
				n++
			}
			cut++
		}
		items := r.pending[:cut:cut]
		r.pending = r.pending[cut:]
		if len(r.pending) == 0 {
			r.pending = nil
		}
		more = len(r.pending) > 0
		r.mu.Unlock()
		if cut == 0 {
			return false
		}
		released := r.process(items)
		// The taken entries count against QueueSize until committed.
		r.release(n - released)
		if r.pipelined() {
			return more
		}
	}
}

// pipelined reports whether commits are synced after they are written
// (walsync.go). Call with wmu held.
func (r *Recorder) pipelined() bool { return r.st.syncer != nil }

// release frees n entries of the queue's room and wakes the Appends
// waiting for it.
func (r *Recorder) release(n int) {
	r.mu.Lock()
	r.queued -= n
	close(r.space)
	r.space = make(chan struct{})
	r.mu.Unlock()
}

// process commits the entries of items in order and answers flush markers.
// Before it answers a marker it frees the room of the entries committed so
// far, so that an Append after Flush returns finds it; it returns how many
// entries it freed.
func (r *Recorder) process(items []*item) (released int) {
	start := 0
	for i := 0; i <= len(items); i++ {
		if i < len(items) && items[i].flush == nil {
			continue
		}
		if i > start {
			if failed := r.commit(items[start:i], items[i:]); failed {
				return released
			}
		}
		if i < len(items) {
			if n := i - start; n > 0 {
				r.release(n)
				released += n
			}
			// A marker answers once what came before it is durable.
			r.syncWritten()
			var err error
			if !items[i].quiet {
				r.mu.Lock()
				err = r.asyncErr
				r.asyncErr = nil
				r.mu.Unlock()
				if f := r.syncFailed.Load(); err == nil && f != nil {
					err = *f // final
				}
			}
			items[i].flush <- err
		}
		start = i + 1
	}
	return released
}

// commit writes batch. On failure it fails batch, rest and everything
// pending (they all chain from the failed entries), rewinds the head to the
// last durable entry and reports true.
func (r *Recorder) commit(batch, rest []*item) (failed bool) {
	r.dmu.Lock()
	head := r.written
	r.dmu.Unlock()
	t0 := r.hooks.start()
	r.stMu.RLock()
	err := r.st.writeBatch(context.Background(), head, batch)
	r.stMu.RUnlock()
	r.hooks.done(t0, len(batch), err)
	if err == nil {
		last := batch[len(batch)-1].e
		pipelined := r.pipelined()
		r.dmu.Lock()
		r.written = Anchor{Seq: last.Seq, Hash: last.Hash}
		if pipelined {
			r.unsynced = append(r.unsynced, batch...) // answered by syncWritten
		} else {
			r.durable = r.written
		}
		r.inFile += uint64(len(batch))
		roll := r.opts.Rollover != nil && r.inFile >= r.opts.Rollover.MaxEntries
		r.dmu.Unlock()
		late := int64(0)
		for _, it := range batch {
			if it.done != nil && !pipelined {
				it.done <- nil
			}
			if it.late {
				late++ // visible to reads now, which is all settle needs
			}
		}
		if late > 0 {
			r.late.Add(-late)
		}
		if roll {
			if pipelined {
				r.syncWritten() // the new file's genesis is the durable head
			}
			r.rollover()
		}
		return false
	}
	r.mu.Lock()
	all := append(append(append([]*item{}, batch...), rest...), r.pending...)
	for _, it := range r.pending {
		if it.flush == nil {
			r.queued-- // the entries of batch and rest are counted by drain
		}
	}
	r.pending = nil
	r.head = head
	var first, last uint64
	var markers []*item
	unwaited, loud := false, false // an entry nobody waits for; a marker of Flush
	for _, it := range all {
		if it.flush != nil {
			markers = append(markers, it)
			loud = loud || !it.quiet
			continue
		}
		if first == 0 {
			first = it.e.Seq
		}
		last = it.e.Seq
		if it.done != nil {
			it.done <- fmt.Errorf("recorder: entry %d not recorded: %w", it.e.Seq, err)
		} else {
			unwaited = true
		}
		if it.late {
			r.late.Add(-1)
		}
	}
	report := err
	// Entries that were acknowledged before their commit (Buffered, or
	// AppendLater in WriteAhead) are a loss to report; those whose Append
	// waited got the error.
	if unwaited && first != 0 {
		lost := &LostError{First: first, Last: last, Err: err}
		if prev, ok := r.asyncErr.(*LostError); ok {
			lost.First = prev.First
		}
		r.asyncErr = lost
		r.lost.CompareAndSwap(nil, lost)
		report = lost
		if loud {
			r.asyncErr = nil // a Flush reports it
		}
	}
	r.mu.Unlock()
	r.dmu.Lock()
	r.lastErr = err
	r.dmu.Unlock()
	for _, m := range markers {
		if m.quiet {
			m.flush <- nil // a read goes on with what is durable
			continue
		}
		m.flush <- report
	}
	return true
}

// segmentPath names the n-th file of a rolled-over recorder (n from 1).
func segmentPath(base string, n int) string {
	if n <= 1 {
		return base
	}
	ext := filepath.Ext(base)
	return fmt.Sprintf("%s.%06d%s", strings.TrimSuffix(base, ext), n, ext)
}

// listSegments returns the existing files of a rolled-over recorder, in
// order.
func listSegments(base string) ([]string, error) {
	var segs []string
	for n := 1; ; n++ {
		p := segmentPath(base, n)
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return segs, nil
			}
			return nil, fmt.Errorf("recorder: %w", err)
		}
		segs = append(segs, p)
	}
}

// rollover starts the next file with the durable head as its genesis. On
// failure the recorder goes on in the current file and tries again after
// the next commit; the error shows in Stats.
func (r *Recorder) rollover() {
	r.dmu.Lock()
	head := r.written
	if r.syncErr != nil || head != r.durable {
		r.dmu.Unlock()
		return // the file's tail may not be on disk: no genesis to build on
	}
	next := segmentPath(r.base, len(r.segments)+1)
	r.dmu.Unlock()
	st, err := openStore(context.Background(), next, &r.opts, head)
	if err == nil && st.genesis != head {
		st.close()
		err = fmt.Errorf("%w: %s exists with genesis %d, expected %d", ErrCorrupt, next, st.genesis.Seq, head.Seq)
	}
	if err == nil && st.head != head {
		st.close()
		err = fmt.Errorf("%w: %s already holds entries", ErrCorrupt, next)
	}
	if err != nil {
		r.dmu.Lock()
		r.lastErr = fmt.Errorf("recorder: rollover: %w", err)
		r.dmu.Unlock()
		return
	}
	r.stMu.Lock()
	old := r.st
	r.st = st
	r.synced.Store(st.syncer != nil)
	r.stMu.Unlock()
	cerr := old.close()
	r.dmu.Lock()
	r.segments = append(r.segments, next)
	r.inFile = 0
	if cerr != nil {
		r.lastErr = fmt.Errorf("recorder: rollover: closing %s: %w", old.path, cerr)
	}
	r.dmu.Unlock()
}

// Segments returns the files of the recorder in chain order: one file
// unless Options.Rollover is set, none in memory.
func (r *Recorder) Segments() []string {
	if r.base == "" {
		return nil
	}
	r.dmu.Lock()
	defer r.dmu.Unlock()
	if len(r.segments) == 0 {
		return []string{r.base}
	}
	return append([]string(nil), r.segments...)
}

// reader returns the current store for one read, with the read lock held,
// after committing the entries AppendLater queued (see settle); call the
// returned release when done.
func (r *Recorder) reader(ctx context.Context) (*store, func(), error) {
	if err := r.settle(ctx); err != nil {
		return nil, nil, err
	}
	r.stMu.RLock()
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		r.stMu.RUnlock()
		return nil, nil, agentos.ErrClosed
	}
	return r.st, r.stMu.RUnlock, nil
}
