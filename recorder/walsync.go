package recorder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
)

// Pipelined durability.
//
// With Sync: SyncFull a commit must be on disk before the Appends it holds
// return. SQLite's synchronous=FULL does that inside COMMIT: the writer
// holds the database's single write lock through the fsync of the WAL, so
// no other transaction can be written meanwhile, and one writer spends most
// of its time waiting for the disk.
//
// A file recorder with SyncFull instead commits with synchronous=NORMAL,
// which writes the transaction's frames to the WAL without an fsync, and
// then, after releasing the write lock, fsyncs the WAL itself (walFile)
// before it answers the Appends of that commit. The next commit is written
// while the disk syncs the last one, and one fsync covers every commit
// written before it began. The promise is the same: an Append in WriteAhead
// mode returns only once its entry is in a WAL frame that an fsync begun
// after the frame was written has completed, which is what FULL gives (the
// WAL header and a restarted WAL's frames are covered by the same fsync;
// SQLite's checkpoints sync the WAL before and the database after, in
// NORMAL as in FULL). Readers may see an entry before its fsync ends; its
// effect, which waits for the Append, has not happened yet.
//
// A failed fsync is final: the pages it should have written may be gone
// while later fsyncs succeed, so every entry written since the last good
// one fails, and every later Append and Flush returns the error.
//
// The recorder falls back to SQLite's FULL when the file is not in WAL
// mode.

// syncer makes what was written to a store's WAL durable.
type syncer interface {
	sync() error
	close() error
}

// walFile fsyncs the WAL of one database file, through a descriptor of
// its own. SQLite deletes the WAL when its last connection closes (after
// copying it into the database and syncing that), so the descriptor is
// reopened whenever the writer's connection may have changed: conns counts
// the connections the writer's connector opened, and a count other than
// the one seen at the last open means the WAL at the path may be another
// file. With no WAL at the path it syncs the database file. (A stat of the
// path before each sync would find the same, but a system call between
// the commit's writes and the fsync costs more than the call itself on
// the disks measured: see docs/BENCHMARKS.md.)
type walFile struct {
	db, path string
	conns    *atomic.Int64
	seen     int64
	f        *os.File
}

func newWALFile(db string, conns *atomic.Int64) *walFile {
	return &walFile{db: db, path: db + "-wal", conns: conns}
}

func (w *walFile) sync() error {
	if n := w.conns.Load(); w.f == nil || n != w.seen {
		if w.f != nil {
			_ = w.f.Close()
			w.f = nil
		}
		f, err := os.OpenFile(w.path, os.O_RDWR, 0)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return syncPath(w.db)
		case err != nil:
			return fmt.Errorf("recorder: sync: %w", err)
		}
		w.f, w.seen = f, n
	}
	if err := datasync(w.f); err != nil {
		return fmt.Errorf("recorder: fsync %s: %w", w.path, err)
	}
	return nil
}

func (w *walFile) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// syncPath fsyncs the file at path.
func syncPath(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("recorder: sync: %w", err)
	}
	err = datasync(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recorder: fsync %s: %w", path, err)
	}
	return nil
}

// syncWritten makes the entries written since the last sync durable and
// answers their Appends. It returns at once when none waits. Several
// goroutines may call it; one syncs at a time, and a caller whose entries
// another's sync covered finds nothing left to do. Lock order: wmu (when
// held by the caller), smu, stMu.
func (r *Recorder) syncWritten() {
	r.smu.Lock()
	defer r.smu.Unlock()
	r.dmu.Lock()
	items, head, failed := r.unsynced, r.written, r.syncErr
	r.unsynced = nil
	r.syncing = len(items) > 0
	r.dmu.Unlock()
	if len(items) == 0 {
		return
	}
	defer func() {
		r.dmu.Lock()
		r.syncing = false
		r.dmu.Unlock()
		r.mu.Lock()
		more := len(r.pending) > 0
		r.mu.Unlock()
		if more {
			r.signal() // held back by aheadFull
		}
	}()
	err := failed
	var name string
	if err == nil {
		t0 := r.syncs.start()
		r.stMu.RLock()
		name = r.st.name()
		err = r.st.syncer.sync()
		r.stMu.RUnlock()
		r.syncs.done(t0, len(items), err)
	}
	if err == nil {
		r.dmu.Lock()
		r.durable = head
		r.dmu.Unlock()
		for _, it := range items {
			if it.done != nil {
				it.done <- nil
			}
		}
		return
	}
	if failed == nil {
		err = fmt.Errorf("%w: %s: written entries %d to %d may not be on disk: %w",
			ErrSync, name, items[0].e.Seq, items[len(items)-1].e.Seq, err)
		r.dmu.Lock()
		if r.syncErr == nil {
			r.syncErr = err
		}
		err = r.syncErr
		r.lastErr = err
		r.dmu.Unlock()
		r.syncFailed.Store(&err)
	}
	unwaited := false
	for _, it := range items {
		if it.done != nil {
			it.done <- fmt.Errorf("recorder: entry %d not recorded: %w", it.e.Seq, err)
		} else {
			unwaited = true
		}
	}
	if unwaited {
		// Acknowledged before their sync (AppendLater, Buffered): a loss.
		lost := &LostError{First: items[0].e.Seq, Last: items[len(items)-1].e.Seq, Err: err}
		r.mu.Lock()
		if prev, ok := r.asyncErr.(*LostError); ok {
			lost.First = min(lost.First, prev.First)
		}
		r.asyncErr = lost
		r.mu.Unlock()
		r.lost.CompareAndSwap(nil, lost)
	}
}

// aheadFull reports whether a sync is under way and a commit already waits
// for the next one: a commit now would only split the next sync's batch,
// so appenders queue until the sync ends.
func (r *Recorder) aheadFull() bool {
	r.dmu.Lock()
	defer r.dmu.Unlock()
	return r.syncing && len(r.unsynced) > 0
}
