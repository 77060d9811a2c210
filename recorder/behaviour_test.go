package recorder_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/recorder/recordertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClockAndNormalization(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 123456789, time.FixedZone("X", 3600))
	r := mustOpen(t, "", &recorder.Options{Clock: func() time.Time { return at }})
	ctx := context.Background()
	_, err := r.Append(ctx, recorder.Entry{Kind: recorder.KindDecision, Trace: "t1",
		Args: []byte(` { "b" : 2, "a" : [1.50, "<x>"] } `)})
	require.NoError(t, err)
	given := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = r.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Time: given, Detail: "spawn"})
	require.NoError(t, err)
	var got []recorder.Entry
	for e, err := range r.Query(ctx, recorder.Filter{}) {
		require.NoError(t, err)
		got = append(got, e)
	}
	require.Len(t, got, 2)
	assert.True(t, got[0].Time.Equal(at))
	assert.Equal(t, time.UTC, got[0].Time.Location())
	assert.Equal(t, `{"a":[1.50,"<x>"],"b":2}`, string(got[0].Args))
	assert.True(t, got[1].Time.Equal(given))
	assert.Nil(t, got[1].Args)
}

func TestArgsHelper(t *testing.T) {
	b, err := recorder.Args(map[string]any{"z": 1, "a": "x&y"})
	require.NoError(t, err)
	assert.Equal(t, `{"a":"x&y","z":1}`, string(b))
	b, err = recorder.Args(nil)
	require.NoError(t, err)
	assert.Nil(t, b)
	_, err = recorder.Args(map[string]any{"f": func() {}})
	assert.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestBufferedFlushOnInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := recorder.OpenSQLiteMemory(&recorder.Options{Durability: recorder.Buffered,
			FlushInterval: time.Second, BatchSize: 1000})
		require.NoError(t, err)
		defer r.Close()
		ctx := context.Background()
		seq, err := r.Append(ctx, recordertest.Sample(0))
		require.NoError(t, err)
		assert.Equal(t, uint64(1), seq)
		synctest.Wait()
		assert.Equal(t, uint64(0), r.Anchor().Seq, "committed before the interval")
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, uint64(1), r.Anchor().Seq, "not committed after the interval")
	})
}

func TestBufferedFlushOnSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := recorder.OpenSQLiteMemory(&recorder.Options{Durability: recorder.Buffered,
			FlushInterval: time.Hour, BatchSize: 10})
		require.NoError(t, err)
		defer r.Close()
		for i := range 9 {
			_, err := r.Append(context.Background(), recordertest.Sample(i))
			require.NoError(t, err)
		}
		synctest.Wait()
		assert.Equal(t, uint64(0), r.Anchor().Seq)
		_, err = r.Append(context.Background(), recordertest.Sample(9))
		require.NoError(t, err)
		synctest.Wait()
		assert.Equal(t, uint64(10), r.Anchor().Seq)
	})
}

func TestBufferedQueueFull(t *testing.T) {
	ctx := context.Background()
	opts := recorder.Options{Durability: recorder.Buffered, QueueSize: 4, BatchSize: 100, FlushInterval: time.Hour}
	t.Run("Fail", func(t *testing.T) {
		o := opts
		o.WhenFull = recorder.Fail
		r := mustOpen(t, tempPath(t, "rec.db"), &o)
		for i := range 4 {
			_, err := r.Append(ctx, recordertest.Sample(i))
			require.NoError(t, err)
		}
		_, err := r.Append(ctx, recordertest.Sample(4))
		require.ErrorIs(t, err, recorder.ErrQueueFull)
		require.NoError(t, r.Flush(ctx))
		seq, err := r.Append(ctx, recordertest.Sample(4))
		require.NoError(t, err)
		assert.Equal(t, uint64(5), seq, "the refused entry took no sequence")
		require.NoError(t, r.Close())
		rep := reopenVerify(t, r)
		_ = rep
	})
	t.Run("Block", func(t *testing.T) {
		// A full queue wakes the flusher; the blocked Append goes on once
		// it has made room.
		synctest.Test(t, func(t *testing.T) {
			r, err := recorder.OpenSQLiteMemory(&opts)
			require.NoError(t, err)
			defer r.Close()
			for i := range 5 {
				seq, err := r.Append(ctx, recordertest.Sample(i))
				require.NoError(t, err)
				assert.Equal(t, uint64(i+1), seq)
			}
			synctest.Wait()
			// The four queued entries were committed to make room; the
			// fifth may ride on the same wake-up or wait for the next.
			assert.GreaterOrEqual(t, r.Anchor().Seq, uint64(4), "the full queue was committed")
		})
	})
	t.Run("BlockGivesUpWithContext", func(t *testing.T) {
		// Hold the file's write lock so that the flusher cannot commit.
		p := tempPath(t, "busy.db")
		o := opts
		r := mustOpen(t, p, &o)
		db := rawDB(t, p)
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		require.NoError(t, err)
		for i := range 4 {
			_, err := r.Append(ctx, recordertest.Sample(i))
			require.NoError(t, err)
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err = r.Append(short, recordertest.Sample(4))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		_, err = conn.ExecContext(ctx, "ROLLBACK")
		require.NoError(t, err)
		require.NoError(t, conn.Close())
		seq, err := r.Append(ctx, recordertest.Sample(4))
		require.NoError(t, err)
		assert.Equal(t, uint64(5), seq, "the entry that gave up took no sequence")
		require.NoError(t, r.Flush(ctx))
		rep, err := r.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, rep.OK)
		assert.Equal(t, uint64(5), rep.Entries)
	})
	t.Run("CloseUnblocks", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			o := opts
			o.QueueSize = 1
			r, err := recorder.OpenSQLiteMemory(&o)
			require.NoError(t, err)
			_, err = r.Append(ctx, recordertest.Sample(0))
			require.NoError(t, err)
			require.NoError(t, r.Close())
			_, err = r.Append(ctx, recordertest.Sample(1))
			require.ErrorIs(t, err, agentos.ErrClosed)
		})
	})
}

// reopenVerify is a no-op for in-memory recorders; it exists so tests read
// the same for files.
func reopenVerify(t *testing.T, r *recorder.Recorder) recorder.Report {
	t.Helper()
	if p := r.Segments(); len(p) > 0 {
		r2 := mustOpen(t, p[len(p)-1], nil)
		rep, err := r2.Verify(context.Background())
		require.NoError(t, err)
		require.True(t, rep.OK, "%v", rep.Broken)
		return rep
	}
	return recorder.Report{}
}

func TestConcurrentMixed(t *testing.T) {
	for _, d := range []recorder.Durability{recorder.WriteAhead, recorder.Buffered} {
		t.Run(d.String(), func(t *testing.T) {
			path := tempPath(t, "rec.db")
			r := mustOpen(t, path, &recorder.Options{Durability: d, QueueSize: 64, BatchSize: 16})
			ctx := context.Background()
			var wg sync.WaitGroup
			const workers, each = 6, 80
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						_, err := r.Append(ctx, recordertest.Sample(w*each+i))
						assert.NoError(t, err)
						if i%20 == 0 {
							assert.NoError(t, r.Flush(ctx))
						}
					}
				})
			}
			wg.Go(func() {
				for range 10 {
					for _, err := range r.Query(ctx, recorder.Filter{Agent: "agent-1", Limit: 50}) {
						assert.NoError(t, err)
					}
					_, err := r.Stats(ctx)
					assert.NoError(t, err)
					_ = r.Anchor()
				}
			})
			wg.Wait()
			require.NoError(t, r.Close())
			r2 := mustOpen(t, path, nil)
			rep, err := r2.Verify(ctx)
			require.NoError(t, err)
			require.True(t, rep.OK, "%v", rep.Broken)
			assert.Equal(t, uint64(workers*each), rep.Entries)
		})
	}
}

func TestStats(t *testing.T) {
	r := mustOpen(t, "", nil)
	ctx := context.Background()
	for i := range 20 {
		_, err := r.Append(ctx, recordertest.Sample(i))
		require.NoError(t, err)
	}
	s, err := r.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(20), s.Entries)
	assert.Equal(t, 3, s.Agents)
	assert.Equal(t, uint64(2), s.ByKind[recorder.KindSignal])
	assert.Equal(t, uint64(2), s.ByKind[recorder.KindLifecycle])
	assert.Equal(t, uint64(8), s.ByKind[recorder.KindDecision])
	var dec uint64
	for _, n := range s.ByEffect {
		dec += n
	}
	assert.Equal(t, uint64(8), dec)
	assert.Equal(t, r.Anchor(), s.Head)
	assert.False(t, s.Oldest.After(s.Newest))
	assert.Nil(t, s.LastError)
}

func TestRollover(t *testing.T) {
	dir := t.TempDir()
	base := dir + "/audit.db"
	ctx := context.Background()
	o := &recorder.Options{Rollover: &recorder.Rollover{MaxEntries: 10}}
	r, err := recorder.Open(base, o)
	require.NoError(t, err)
	for i := range 35 {
		_, err := r.Append(ctx, recordertest.Sample(i))
		require.NoError(t, err)
	}
	segs := r.Segments()
	require.Equal(t, []string{base, dir + "/audit.000002.db", dir + "/audit.000003.db", dir + "/audit.000004.db"}, segs)
	rep, err := r.Verify(ctx) // every file, from the zero genesis
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Broken)
	assert.Equal(t, uint64(0), rep.Genesis.Seq)
	assert.Equal(t, uint64(35), rep.Entries)
	require.NoError(t, r.Close())

	all, err := recorder.VerifyFiles(ctx, segs...)
	require.NoError(t, err)
	require.True(t, all.OK, "%v", all.Broken)
	assert.Equal(t, uint64(35), all.Entries)
	assert.Equal(t, uint64(35), all.Head.Seq)

	// Reopening resumes the newest file and the chain goes on.
	r, err = recorder.Open(base, o)
	require.NoError(t, err)
	seq, err := r.Append(ctx, recordertest.Sample(35))
	require.NoError(t, err)
	assert.Equal(t, uint64(36), seq)
	require.NoError(t, r.Close())
	all, err = recorder.VerifyFiles(ctx, segs...)
	require.NoError(t, err)
	require.True(t, all.OK)
	assert.Equal(t, uint64(36), all.Entries)

	// A missing middle file breaks the link between files.
	all, err = recorder.VerifyFiles(ctx, segs[0], segs[2], segs[3])
	require.NoError(t, err)
	require.NotNil(t, all.Broken)
	assert.Equal(t, uint64(11), all.Broken.Seq)
	assert.Equal(t, recorder.ReasonDeleted, all.Broken.Reason)
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	t.Run("NotSQLite", func(t *testing.T) {
		p := tempPath(t, "junk.db")
		require.NoError(t, os.WriteFile(p, []byte("this is not a database, just some text that is long enough to fill a header.............................."), 0o600))
		_, err := recorder.Open(p, nil)
		require.ErrorIs(t, err, recorder.ErrCorrupt)
		assert.Contains(t, err.Error(), p)
	})
	t.Run("OtherApplication", func(t *testing.T) {
		p := tempPath(t, "other.db")
		db, err := sql.Open("sqlite3", p)
		require.NoError(t, err)
		_, err = db.Exec("CREATE TABLE users (id INTEGER)")
		require.NoError(t, err)
		require.NoError(t, db.Close())
		_, err = recorder.Open(p, nil)
		require.ErrorIs(t, err, recorder.ErrCorrupt)
	})
	t.Run("NewerSchema", func(t *testing.T) {
		p := tempPath(t, "new.db")
		r, err := recorder.Open(p, nil)
		require.NoError(t, err)
		_, err = r.Append(ctx, recordertest.Sample(0))
		require.NoError(t, err)
		require.NoError(t, r.Close())
		db := rawDB(t, p)
		_, err = db.Exec("PRAGMA user_version=7")
		require.NoError(t, err)
		require.NoError(t, db.Close())
		_, err = recorder.Open(p, nil)
		require.ErrorIs(t, err, recorder.ErrSchemaVersion)
		var se *recorder.SchemaError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, int64(7), se.Found)
		assert.Equal(t, int64(1), se.Want)
	})
	t.Run("ReadOnlyMissing", func(t *testing.T) {
		_, err := recorder.Open(tempPath(t, "absent.db"), &recorder.Options{ReadOnly: true})
		require.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("BadOptions", func(t *testing.T) {
		_, err := recorder.Open("", &recorder.Options{Durability: 7})
		require.ErrorIs(t, err, agentos.ErrInvalid)
		_, err = recorder.Open("x.db", &recorder.Options{Rollover: &recorder.Rollover{}})
		require.ErrorIs(t, err, agentos.ErrInvalid)
	})
	t.Run("EntryTooLarge", func(t *testing.T) {
		r := mustOpen(t, "", &recorder.Options{MaxEntryBytes: 1024})
		e := recordertest.Sample(1)
		e.Error = string(make([]byte, 2000))
		_, err := r.Append(ctx, e)
		require.ErrorIs(t, err, agentos.ErrInvalid)
	})
}

// TestDiskFull fills a file bounded by MaxBytes (SQLite max_page_count) and
// checks that the failing append says so, that everything acknowledged
// before is intact, and that the recorder stays usable for reading.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	for _, d := range []recorder.Durability{recorder.WriteAhead, recorder.Buffered} {
		t.Run(d.String(), func(t *testing.T) {
			p := tempPath(t, "full.db")
			r, err := recorder.Open(p, &recorder.Options{Durability: d, MaxBytes: 96 << 10, BatchSize: 8})
			require.NoError(t, err)
			var acked uint64
			var failure error
			for i := 0; i < 100000 && failure == nil; i++ {
				e := recordertest.Sample(i)
				e.Message = string(make([]byte, 300))
				seq, err := r.Append(ctx, e)
				if err != nil {
					failure = err
					break
				}
				if d == recorder.WriteAhead {
					acked = seq
				} else if i%8 == 7 {
					if err := r.Flush(ctx); err != nil {
						failure = err
						break
					}
					acked = seq
				}
			}
			require.Error(t, failure, "the file never filled")
			require.ErrorIs(t, failure, recorder.ErrStorageFull)
			if d == recorder.Buffered {
				var lost *recorder.LostError
				require.ErrorAs(t, failure, &lost)
				require.ErrorIs(t, failure, recorder.ErrLost)
				// The background flusher may have committed batches after
				// the last explicit Flush: what is lost starts right after
				// the last commit, and never before what a Flush
				// acknowledged.
				committed := r.Anchor().Seq
				assert.GreaterOrEqual(t, committed, acked, "nothing acknowledged is lost")
				assert.Equal(t, committed+1, lost.First, "the lost entries are the ones after the last commit")
				acked = committed
			}
			assert.Equal(t, acked, r.Anchor().Seq)
			rep, err := r.Verify(ctx)
			require.NoError(t, err)
			require.True(t, rep.OK, "%v", rep.Broken)
			assert.Equal(t, acked, rep.Head.Seq)
			s, err := r.Stats(ctx)
			require.NoError(t, err)
			assert.ErrorIs(t, s.LastError, recorder.ErrStorageFull)
			// Later appends keep failing clearly, and nothing before is lost.
			// The entry is larger than the room a failed batch of Buffered
			// mode leaves behind.
			big := recordertest.Sample(1)
			big.Message = string(make([]byte, 32<<10))
			_, err = r.Append(ctx, big)
			if d == recorder.Buffered {
				err = errors.Join(err, r.Flush(ctx))
			}
			require.ErrorIs(t, err, recorder.ErrStorageFull)
			_ = r.Close()
			r2 := mustOpen(t, p, nil)
			rep, err = r2.Verify(ctx)
			require.NoError(t, err)
			require.True(t, rep.OK, "%v", rep.Broken)
			assert.Equal(t, acked, rep.Head.Seq)
		})
	}
}

func TestReadOnly(t *testing.T) {
	p := tempPath(t, "ro.db")
	r := mustOpen(t, p, nil)
	_, err := r.Append(context.Background(), recordertest.Sample(0))
	require.NoError(t, err)
	require.NoError(t, r.Close())
	ro := mustOpen(t, p, &recorder.Options{ReadOnly: true})
	_, err = ro.Append(context.Background(), recordertest.Sample(1))
	require.ErrorIs(t, err, agentos.ErrReadOnly)
	rep, err := ro.Verify(context.Background())
	require.NoError(t, err)
	assert.True(t, rep.OK)
	assert.Equal(t, uint64(1), rep.Entries)
	assert.Equal(t, uint64(1), ro.Anchor().Seq)
}

func TestWriteAheadContextCanceled(t *testing.T) {
	r := mustOpen(t, "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Append(ctx, recordertest.Sample(0))
	require.ErrorIs(t, err, context.Canceled)
	seq, err := r.Append(context.Background(), recordertest.Sample(0))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), seq)
}

func TestTwoWritersConflict(t *testing.T) {
	p := tempPath(t, "two.db")
	a := mustOpen(t, p, nil)
	b := mustOpen(t, p, nil)
	ctx := context.Background()
	_, err := a.Append(ctx, recordertest.Sample(0))
	require.NoError(t, err)
	_, err = b.Append(ctx, recordertest.Sample(1))
	require.ErrorIs(t, err, recorder.ErrConflict)
	rep, err := a.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK)
}
