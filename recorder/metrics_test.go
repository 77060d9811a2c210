//go:build cgo

package recorder_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/stretchr/testify/require"
)

// commitLog collects what a CommitFunc is told.
type commitLog struct {
	mu      sync.Mutex
	entries int
	calls   int
	errs    int
}

func (c *commitLog) fn(n int, took time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.entries += n
	if err != nil {
		c.errs++
	}
	if took < 0 {
		panic("negative commit time")
	}
}

func (c *commitLog) counts() (calls, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.entries
}

func TestRecorderOnCommitMetrics(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []recorder.Durability{recorder.WriteAhead, recorder.Buffered} {
		t.Run(mode.String(), func(t *testing.T) {
			r := mustOpen(t, tempPath(t, "r.db"), &recorder.Options{Durability: mode})
			var a, b commitLog
			removeA, err := r.OnCommit(a.fn)
			require.NoError(t, err)
			removeB, err := r.OnCommit(b.fn)
			require.NoError(t, err)

			for range 5 {
				_, err := r.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Message: "m"})
				require.NoError(t, err)
			}
			require.NoError(t, r.Flush(ctx))
			require.Zero(t, r.QueueDepth(), "everything is committed after Flush")
			calls, entries := a.counts()
			require.Positive(t, calls)
			require.Equal(t, 5, entries, "every committed entry is counted once")
			_, bEntries := b.counts()
			require.Equal(t, 5, bEntries)

			removeA()
			removeA() // idempotent
			_, err = r.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Message: "after"})
			require.NoError(t, err)
			require.NoError(t, r.Flush(ctx))
			_, entries = a.counts()
			require.Equal(t, 5, entries, "a removed function is not called")
			_, bEntries = b.counts()
			require.Equal(t, 6, bEntries)
			removeB()
		})
	}
}

func TestRecorderQueueDepthMetrics(t *testing.T) {
	ctx := context.Background()
	// A long flush interval and a large batch keep Buffered entries queued
	// until Flush.
	r := mustOpen(t, tempPath(t, "q.db"), &recorder.Options{
		Durability: recorder.Buffered, FlushInterval: time.Hour, BatchSize: 1000, QueueSize: 1000,
	})
	for range 3 {
		_, err := r.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Message: "queued"})
		require.NoError(t, err)
	}
	require.Equal(t, 3, r.QueueDepth())
	require.NoError(t, r.Flush(ctx))
	require.Zero(t, r.QueueDepth())
}

func TestRecorderOnCommitMetricsBounds(t *testing.T) {
	mem := mustOpen(t, "", nil)
	_, err := mem.OnCommit(nil)
	require.ErrorIs(t, err, agentos.ErrInvalid)

	var log commitLog
	var removes []func()
	for range recorder.MaxCommitFuncs {
		rm, err := mem.OnCommit(log.fn)
		require.NoError(t, err)
		removes = append(removes, rm)
	}
	_, err = mem.OnCommit(log.fn)
	require.ErrorIs(t, err, agentos.ErrInvalid, "at most MaxCommitFuncs at once")
	removes[0]()
	rm, err := mem.OnCommit(log.fn)
	require.NoError(t, err, "a removal makes room")
	rm()

	// In memory there are no commits to tell, and no queue.
	_, err = mem.Append(context.Background(), recorder.Entry{Kind: recorder.KindLifecycle, Message: "m"})
	require.NoError(t, err)
	calls, _ := log.counts()
	require.Zero(t, calls)
	require.Zero(t, mem.QueueDepth())
}

// OnSync is told of each fsync a SyncFull file recorder makes, and of the
// entries each made durable: every entry once. A recorder SQLite syncs
// (SyncNormal) and one in memory never call it.
func TestRecorderOnSyncMetrics(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, tempPath(t, "s.db"), &recorder.Options{Durability: recorder.WriteAhead})
	var log commitLog
	remove, err := r.OnSync(log.fn)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if _, err := r.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Message: "m"}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	calls, entries := log.counts()
	require.Positive(t, calls)
	require.LessOrEqual(t, calls, 40)
	require.Equal(t, 40, entries, "every entry made durable once")
	remove()
	_, err = r.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Message: "after"})
	require.NoError(t, err)
	_, entries = log.counts()
	require.Equal(t, 40, entries, "a removed function is not called")

	for _, o := range []*recorder.Options{{Durability: recorder.WriteAhead, Sync: recorder.SyncNormal}, nil} {
		path := ""
		if o != nil {
			path = tempPath(t, "n.db")
		}
		n := mustOpen(t, path, o)
		var quiet commitLog
		_, err := n.OnSync(quiet.fn)
		require.NoError(t, err)
		_, err = n.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Message: "m"})
		require.NoError(t, err)
		require.NoError(t, n.Flush(ctx))
		calls, _ := quiet.counts()
		require.Zero(t, calls)
	}
	_, err = r.OnSync(nil)
	require.ErrorIs(t, err, agentos.ErrInvalid)
}
