package recorder

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/require"
)

// watchSyncer wraps a store's syncer: it records the head written when each
// sync began (what the sync covers) once that sync has succeeded, and fails
// from the failAt-th sync on (0: never).
type watchSyncer struct {
	inner  syncer
	r      *Recorder
	covers atomic.Uint64
	calls  atomic.Int64
	failAt int64
}

func (w *watchSyncer) sync() error {
	w.r.dmu.Lock()
	head := w.r.written.Seq
	w.r.dmu.Unlock()
	if n := w.calls.Add(1); w.failAt > 0 && n >= w.failAt {
		return errors.New("injected: EIO")
	}
	if err := w.inner.sync(); err != nil {
		return err
	}
	for {
		cur := w.covers.Load()
		if head <= cur || w.covers.CompareAndSwap(cur, head) {
			return nil
		}
	}
}

func (w *watchSyncer) close() error { return w.inner.close() }

// watch installs a watchSyncer on r's store.
func watch(t *testing.T, r *Recorder, failAt int64) *watchSyncer {
	t.Helper()
	r.wmu.Lock()
	r.smu.Lock()
	defer r.wmu.Unlock()
	defer r.smu.Unlock()
	require.NotNil(t, r.st.syncer, "a WriteAhead file with SyncFull is synced by the recorder")
	w := &watchSyncer{inner: r.st.syncer, r: r, failAt: failAt}
	r.st.syncer = w
	return w
}

func walEntry(agent string, i int) Entry {
	return Entry{Kind: KindDecision, Trace: fmt.Sprintf("%s-%d", agent, i), Agent: agentos.AgentID(agent),
		Op: agentos.OpWrite, Path: "/mem/working/f", Effect: agentos.Allow, Status: "permitted", PolicyVersion: "v1"}
}

// No WriteAhead Append returns before an fsync that began after its entry
// was written has succeeded, with many appenders sharing commits and
// syncs, and AppendLater entries riding along.
func TestSyncCoversEveryAcknowledgedAppend(t *testing.T) {
	ctx := context.Background()
	r, err := Open(filepath.Join(t.TempDir(), "w.db"), &Options{Durability: WriteAhead})
	require.NoError(t, err)
	w := watch(t, r, 0)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 40 {
				seq, err := r.Append(ctx, walEntry(fmt.Sprint("a", g), i))
				if err != nil {
					t.Error(err)
					return
				}
				if c := w.covers.Load(); c < seq {
					t.Errorf("Append of entry %d returned with syncs covering only %d", seq, c)
					return
				}
				if i%3 == 0 {
					if _, err := r.AppendLater(ctx, walEntry(fmt.Sprint("l", g), i)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, r.Flush(ctx))
	head := r.Anchor()
	require.GreaterOrEqual(t, w.covers.Load(), head.Seq, "Flush returns once everything is synced")
	require.Less(t, w.calls.Load(), int64(16*40), "syncs are shared")
	require.NoError(t, r.Close())

	ro, err := Open(r.base, &Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	rep, err := ro.Verify(ctx)
	require.NoError(t, err)
	require.Equal(t, head.Seq, rep.Head.Seq)
}

// A failed fsync fails the Appends it should have made durable, reports
// the AppendLater entries it covered as lost, and is final: later Appends
// and Flush fail with ErrSync, and nothing is acknowledged after it.
func TestSyncFailureIsFinal(t *testing.T) {
	ctx := context.Background()
	r, err := Open(filepath.Join(t.TempDir(), "w.db"), &Options{Durability: WriteAhead})
	require.NoError(t, err)
	defer r.Close()
	watch(t, r, 3)
	_, err = r.Append(ctx, walEntry("a", 1))
	require.NoError(t, err)
	_, err = r.Append(ctx, walEntry("a", 2))
	require.NoError(t, err)
	before := r.Anchor()
	_, err = r.AppendLater(ctx, walEntry("a", 3))
	require.NoError(t, err)
	_, err = r.Append(ctx, walEntry("a", 4))
	require.ErrorIs(t, err, ErrSync, "the third sync fails")
	require.ErrorIs(t, r.Lost(), ErrSync, "the AppendLater entry it covered is lost")
	var lost *LostError
	require.ErrorAs(t, r.Lost(), &lost)
	require.Equal(t, before.Seq+1, lost.First)

	_, err = r.Append(ctx, walEntry("a", 5))
	require.ErrorIs(t, err, ErrSync, "final")
	_, err = r.AppendLater(ctx, walEntry("a", 6))
	require.ErrorIs(t, err, ErrSync)
	require.Error(t, r.Flush(ctx))
	require.Equal(t, before, r.Anchor(), "the durable head stays at the last good sync")
}

// The syncer follows the WAL when the writer's connection was replaced,
// and syncs the database when the path holds no WAL.
func TestWALFileReopens(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	require.NoError(t, os.WriteFile(db, []byte("db"), 0o600))
	require.NoError(t, os.WriteFile(db+"-wal", []byte("wal"), 0o600))
	var conns atomic.Int64
	w := newWALFile(db, &conns)
	defer w.close()
	require.NoError(t, w.sync())
	first := w.f

	// Replaced behind the path; the count of connections did not change:
	// the descriptor is kept.
	require.NoError(t, os.Remove(db+"-wal"))
	require.NoError(t, os.WriteFile(db+"-wal", []byte("new"), 0o600))
	require.NoError(t, w.sync())
	require.Same(t, first, w.f)

	// A new connection: reopened.
	conns.Add(1)
	require.NoError(t, w.sync())
	require.NotSame(t, first, w.f)
	fi, err := w.f.Stat()
	require.NoError(t, err)
	pi, err := os.Stat(db + "-wal")
	require.NoError(t, err)
	require.True(t, os.SameFile(fi, pi))

	// No WAL: the database file is synced.
	require.NoError(t, os.Remove(db+"-wal"))
	conns.Add(1)
	require.NoError(t, w.sync())
	require.NoError(t, os.Remove(db))
	conns.Add(1)
	require.ErrorIs(t, w.sync(), os.ErrNotExist, "neither file: an error, never a silent success")
}

// A recorder opened with SyncNormal, or in Buffered mode by default, is
// not synced by the recorder; SyncFull in Buffered mode is.
func TestSyncerOnlyWithSyncFull(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want bool
	}{
		{Options{Durability: WriteAhead}, true},
		{Options{Durability: WriteAhead, Sync: SyncNormal}, false},
		{Options{Durability: Buffered}, false},
		{Options{Durability: Buffered, Sync: SyncFull}, true},
	} {
		r, err := Open(filepath.Join(t.TempDir(), "x.db"), &c.o)
		require.NoError(t, err)
		require.Equal(t, c.want, r.st.syncer != nil, "%+v", c.o)
		require.NoError(t, r.Close())
	}
}

// Under concurrent appenders and a sync that fails at a random call, every
// Append returns (none hangs), every Append that succeeded was covered by
// a sync that succeeded, and once an Append has failed with ErrSync no
// later Append succeeds. Fresh seed each run.
func TestSyncFailureUnderLoad(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	for round := range 8 {
		ctx := context.Background()
		r, err := Open(filepath.Join(t.TempDir(), fmt.Sprintf("w%d.db", round)), &Options{Durability: WriteAhead})
		require.NoError(t, err)
		w := watch(t, r, 2+rng.Int64N(40))
		var failedAt atomic.Int64 // a time after the first ErrSync
		var wg sync.WaitGroup
		for g := range 12 {
			wg.Go(func() {
				for i := range 30 {
					var seq uint64
					var err error
					start := time.Now().UnixNano()
					if i%4 == 3 {
						_, err = r.AppendLater(ctx, walEntry(fmt.Sprint("l", g), i))
						if err != nil {
							require.ErrorIs(t, err, ErrSync)
						}
						continue
					}
					seq, err = r.Append(ctx, walEntry(fmt.Sprint("a", g), i))
					if err != nil {
						if !errors.Is(err, ErrSync) {
							t.Errorf("unexpected error %v", err)
						}
						failedAt.CompareAndSwap(0, time.Now().UnixNano())
						continue
					}
					if f := failedAt.Load(); f != 0 && start > f {
						t.Errorf("Append of %d began after a failed sync and succeeded", seq)
					}
					if c := w.covers.Load(); c < seq {
						t.Errorf("entry %d acknowledged, syncs cover %d", seq, c)
					}
				}
			})
		}
		wg.Wait()
		if failedAt.Load() != 0 {
			require.ErrorIs(t, r.Flush(ctx), ErrSync)
			require.LessOrEqual(t, r.Anchor().Seq, w.covers.Load())
		}
		_ = r.Close()
	}
}

// With a batch of one entry, a leader commits someone else's entry and
// leaves its own queued: the flusher commits it; no Append waits forever.
func TestSyncSmallBatches(t *testing.T) {
	ctx := context.Background()
	for _, batch := range []int{1, 2, 3} {
		r, err := Open(filepath.Join(t.TempDir(), "w.db"), &Options{Durability: WriteAhead, MaxBatch: batch})
		require.NoError(t, err)
		w := watch(t, r, 0)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 25 {
					seq, err := r.Append(ctx, walEntry(fmt.Sprint("a", g), i))
					if err != nil {
						t.Error(err)
						return
					}
					if c := w.covers.Load(); c < seq {
						t.Errorf("entry %d acknowledged, syncs cover %d", seq, c)
					}
				}
			})
		}
		wg.Wait()
		require.Equal(t, uint64(200), r.Anchor().Seq)
		require.NoError(t, r.Close())
	}
}

// An Append that leads with more queued before it than one batch holds
// still returns: what is left after its batch goes to the flusher.
func TestSyncLeaderPastMaxBatch(t *testing.T) {
	r, err := Open(filepath.Join(t.TempDir(), "w.db"), &Options{Durability: WriteAhead, MaxBatch: 1, FlushInterval: time.Hour})
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		_, err := r.AppendLater(ctx, walEntry("l", i))
		require.NoError(t, err)
	}
	seq, err := r.Append(ctx, walEntry("a", 0))
	require.NoError(t, err, "the Append must not wait for the hour-long timer")
	require.Equal(t, uint64(4), seq)
	require.Equal(t, uint64(4), r.Anchor().Seq)
}
