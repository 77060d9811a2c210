package recorder

import (
	"fmt"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/internal/hooks"
)

// CommitFunc is told of one commit of a file recorder: the number of
// entries the batch held, how long writing it took (one SQLite transaction;
// with SyncFull the fsync that makes it durable follows, and may cover
// several commits: see "What is durable when" in the package documentation)
// and its error, nil on success. It is
// called on the goroutine that committed (the flusher, or an Append that
// led the group commit) while that goroutine holds the commit order, so it
// must be fast, must not block and must not call the Recorder.
type CommitFunc func(entries int, took time.Duration, err error)

// MaxCommitFuncs bounds the commit functions one Recorder holds at once.
const MaxCommitFuncs = 16

// commitHooks holds the CommitFuncs of a Recorder. A commit reads them with
// one atomic load; a commit with none registered reads no clock.
type commitHooks struct {
	fns hooks.List[CommitFunc]
}

// start returns the time a commit starts, or the zero time when no
// function is registered.
func (h *commitHooks) start() time.Time {
	if h.fns.Empty() {
		return time.Time{}
	}
	return time.Now()
}

// done tells the registered functions of a commit of n entries that
// started at t0 (a reading of start).
func (h *commitHooks) done(t0 time.Time, n int, err error) {
	if t0.IsZero() {
		return
	}
	took := time.Since(t0)
	h.fns.Each(func(f CommitFunc) { f(n, took, err) })
}

// OnCommit registers fn to be told of every batch a file recorder commits
// from now on (see [CommitFunc]); the returned function removes it and may
// be called more than once. An in-memory recorder stores each entry as
// Append puts it in the chain and has no commits to tell: fn is never
// called. At most [MaxCommitFuncs] functions are registered at once; past
// that, and for a nil fn, OnCommit fails with an error wrapping
// agentos.ErrInvalid. Safe for concurrent use.
func (r *Recorder) OnCommit(fn CommitFunc) (remove func(), err error) {
	return r.hooks.add(fn, "commit")
}

// OnSync registers fn to be told of every fsync a file recorder with
// Sync: SyncFull makes from now on, after the commits it covers were
// written (see "What is durable when" in the package documentation): the
// entries it made durable, how long the fsync took and its error. Like a
// CommitFunc it runs on the goroutine that synced, holding the order of
// syncs, and must be fast, must not block and must not call the Recorder.
// A recorder that SQLite syncs itself (another Sync level, or a file not in
// WAL mode) and an in-memory one never call it. The bound and the errors
// are OnCommit's.
func (r *Recorder) OnSync(fn CommitFunc) (remove func(), err error) {
	return r.syncs.add(fn, "sync")
}

// add registers fn (see OnCommit); what names the hook in errors.
func (h *commitHooks) add(fn CommitFunc, what string) (remove func(), err error) {
	if fn == nil {
		return nil, fmt.Errorf("recorder: %w: nil %s function", agentos.ErrInvalid, what)
	}
	remove, full := h.fns.Add(fn, MaxCommitFuncs)
	if full {
		return nil, fmt.Errorf("recorder: %w: %d %s functions registered already", agentos.ErrInvalid, MaxCommitFuncs, what)
	}
	return remove, nil
}

// QueueDepth returns the number of entries the recorder has accepted and
// not yet committed (as [Stats].Pending, without reading the store): those
// queued by Buffered appends and AppendLater, and those of the batch being
// written. It is 0 for an in-memory recorder, which commits as it appends.
// Safe for concurrent use; it takes the queue's lock for one read.
func (r *Recorder) QueueDepth() int {
	if r.mem != nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queued
}
