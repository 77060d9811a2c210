package vfs_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuota(t *testing.T) {
	// Every file is named by one byte at the root of its mount: it costs
	// o besides its data, live or held by a checkpoint, and at most three
	// file records exist at once in these cases.
	const o = 1 + vfs.FileOverhead
	q := vfs.Quota{MaxBytes: 100 + 3*o, MaxFiles: 3, MaxFileSize: 40, MaxCheckpoints: 2}
	use := func(bytes, files, ckBytes, ckFiles int64, checkpoints int) vfs.Usage {
		return vfs.Usage{
			Bytes: bytes, Files: files, Overhead: files * o,
			CheckpointBytes: ckBytes, CheckpointOverhead: ckFiles * o, Checkpoints: checkpoints,
		}
	}
	type step struct {
		do        func(f *vfs.FS) error
		wantQuota bool
		usage     vfs.Usage // after the step
	}
	w := func(p string, n int) func(f *vfs.FS) error {
		return func(f *vfs.FS) error { return f.Write(t.Context(), p, []byte(strings.Repeat("x", n))) }
	}
	a := func(p string, n int) func(f *vfs.FS) error {
		return func(f *vfs.FS) error { return f.Append(t.Context(), p, []byte(strings.Repeat("x", n))) }
	}
	del := func(p string) func(f *vfs.FS) error { return func(f *vfs.FS) error { return f.Delete(t.Context(), p) } }
	ckpt := func(f *vfs.FS) error { _, err := f.Checkpoint(t.Context()); return err }
	cases := []struct {
		name  string
		steps []step
	}{
		{"file size", []step{
			{do: w("/mem/working/a", 40), usage: use(40, 1, 0, 0, 0)},
			{do: w("/mem/working/b", 41), wantQuota: true, usage: use(40, 1, 0, 0, 0)},
			{do: a("/mem/working/a", 1), wantQuota: true, usage: use(40, 1, 0, 0, 0)},
			{do: a("/mem/episodic/e", 41), wantQuota: true, usage: use(40, 1, 0, 0, 0)},
		}},
		{"file count", []step{
			{do: w("/mem/working/a", 1), usage: use(1, 1, 0, 0, 0)},
			{do: w("/state/b", 1), usage: use(2, 2, 0, 0, 0)},
			{do: a("/mem/episodic/c", 1), usage: use(3, 3, 0, 0, 0)},
			{do: w("/mem/working/d", 1), wantQuota: true, usage: use(3, 3, 0, 0, 0)},
			{do: w("/mem/working/a", 5), usage: use(7, 3, 0, 0, 0)}, // overwrite: no new file
			{do: del("/mem/working/a"), usage: use(2, 2, 0, 0, 0)},
			{do: w("/mem/working/d", 1), usage: use(3, 3, 0, 0, 0)},
		}},
		{"total bytes", []step{
			{do: w("/mem/working/a", 40), usage: use(40, 1, 0, 0, 0)},
			{do: w("/mem/working/b", 40), usage: use(80, 2, 0, 0, 0)},
			{do: w("/state/c", 21), wantQuota: true, usage: use(80, 2, 0, 0, 0)},
			{do: w("/state/c", 20), usage: use(100, 3, 0, 0, 0)},
			{do: w("/mem/working/a", 39), usage: use(99, 3, 0, 0, 0)}, // shrinking is fine
			{do: a("/mem/working/a", 2), wantQuota: true, usage: use(99, 3, 0, 0, 0)},
			{do: a("/mem/working/a", 1), usage: use(100, 3, 0, 0, 0)},
		}},
		{"checkpoints count", []step{
			{do: w("/mem/working/a", 30), usage: use(30, 1, 0, 0, 0)},
			{do: ckpt, usage: use(30, 1, 30, 1, 1)},
			{do: w("/mem/working/b", 40), usage: use(70, 2, 30, 1, 1)},
			{do: w("/state/c", 1), wantQuota: true, usage: use(70, 2, 30, 1, 1)},
			// A second checkpoint would hold 70 more bytes and two more
			// records: 170 > 100.
			{do: ckpt, wantQuota: true, usage: use(70, 2, 30, 1, 1)},
			{do: del("/mem/working/b"), usage: use(30, 1, 30, 1, 1)},
			{do: ckpt, usage: use(30, 1, 60, 2, 2)},
			{do: del("/mem/working/a"), usage: use(0, 0, 60, 2, 2)},
			// MaxCheckpoints reached, even for an empty checkpoint.
			{do: ckpt, wantQuota: true, usage: use(0, 0, 60, 2, 2)},
		}},
		{"episodic counts, policy does not", []step{
			{do: a("/mem/episodic/e", 10), usage: use(10, 1, 0, 0, 0)},
			{do: a("/mem/episodic/e", 10), usage: use(20, 1, 0, 0, 0)},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newAgentFS(t, vfs.WithQuota(q))
			for i, s := range c.steps {
				before := snapshotAll(t, f)
				err := s.do(f)
				if s.wantQuota {
					require.ErrorIs(t, err, agentos.ErrQuota, "step %d", i)
					assert.Equal(t, before, snapshotAll(t, f), "step %d: a refused write changes nothing", i)
				} else {
					require.NoError(t, err, "step %d", i)
				}
				assert.Equal(t, s.usage, f.Usage(), "step %d", i)
			}
		})
	}
}

func TestQuotaRollback(t *testing.T) {
	ctx := t.Context()
	const o = 1 + vfs.FileOverhead // what each file named by one byte costs besides its data
	f := newAgentFS(t, vfs.WithQuota(vfs.Quota{MaxBytes: 100 + 3*o, MaxFiles: 10, MaxFileSize: 100}))
	require.NoError(t, f.Write(ctx, "/mem/working/a", make([]byte, 40)))
	big, err := f.Checkpoint(ctx) // 40 live + 40 held
	require.NoError(t, err)
	require.NoError(t, f.Delete(ctx, "/mem/working/a"))
	require.NoError(t, f.Append(ctx, "/mem/episodic/e", make([]byte, 30))) // 30 live + 40 held
	// Rolling back would make 70 live + 40 held = 110 > 100, with three
	// file records.
	err = f.Rollback(ctx, big.ID)
	require.ErrorIs(t, err, agentos.ErrQuota)
	_, err = f.Read(ctx, "/mem/working/a")
	assert.ErrorIs(t, err, agentos.ErrNotFound, "a refused rollback changes nothing")
	assert.Equal(t, vfs.Usage{Bytes: 30, Files: 1, Overhead: o, CheckpointBytes: 40, CheckpointOverhead: o, Checkpoints: 1}, f.Usage())

	// Freeing space makes it possible; usage follows the restored contents.
	require.NoError(t, f.DeleteCheckpoint(ctx, big.ID))
	assert.ErrorIs(t, f.Rollback(ctx, big.ID), agentos.ErrNotFound)
	assert.Equal(t, vfs.Usage{Bytes: 30, Files: 1, Overhead: o}, f.Usage())
}

func TestQuotaDefaults(t *testing.T) {
	f, err := vfs.New(vfs.WithQuota(vfs.Quota{MaxFiles: 7}))
	require.NoError(t, err)
	assert.Equal(t, vfs.Quota{MaxBytes: 64 << 20, MaxFiles: 7, MaxFileSize: 8 << 20, MaxCheckpoints: 16}, f.Quota())
}

func TestQuotaOnMount(t *testing.T) {
	ctx := t.Context()
	full := vfs.NewMemMount(nil)
	for i := range 3 {
		require.NoError(t, full.WriteFile(ctx, fmt.Sprintf("f%d", i), make([]byte, 10)))
	}
	f, err := vfs.New(vfs.WithQuota(vfs.Quota{MaxFiles: 2}))
	require.NoError(t, err)
	require.ErrorIs(t, f.Mount(ctx, "/full", full), agentos.ErrQuota)
	_, err = f.Stat(ctx, "/full")
	assert.ErrorIs(t, err, agentos.ErrNotFound, "nothing was mounted")

	g, err := vfs.New()
	require.NoError(t, err)
	require.NoError(t, g.Mount(ctx, "/full", full))
	assert.Equal(t, vfs.Usage{Bytes: 30, Files: 3, Overhead: liveCost("f0", "f1", "f2")}, g.Usage())
}

// snapshotAll reads every file of the namespace.
func snapshotAll(t *testing.T, f *vfs.FS) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := f.List(t.Context(), dir)
		require.NoError(t, err)
		for _, e := range entries {
			p := strings.TrimSuffix(dir, "/") + "/" + e.Name
			if e.IsDir {
				walk(p)
				continue
			}
			data, err := f.Read(t.Context(), p)
			require.NoError(t, err)
			out[p] = string(data)
		}
	}
	walk("/")
	return out
}

// deepPath returns a path of about 1 KiB under /mem/working whose 62
// components are unique to file i: no directory is shared.
func deepPath(i int) string {
	parts := make([]string, 62)
	for j := range parts {
		parts[j] = fmt.Sprintf("%04d-%010d", i, j)
	}
	return "/mem/working/" + strings.Join(parts, "/")
}

// The attack of a review: 4,095 empty files at ~1 KiB deep paths plus 16
// checkpoints pinned 139 MiB under a 64 MiB quota, because only file bytes
// were counted. Names, directory nodes and checkpoint copies count now: the
// namespace refuses what would go past the quota, and the memory it really
// holds stays within about the quota.
func TestQuotaCountsNamesNodesAndCheckpoints(t *testing.T) {
	ctx := t.Context()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	f := newAgentFS(t) // the default quota: 64 MiB, 4096 files, 16 checkpoints
	max := f.Quota().MaxBytes
	written, refused := 0, 0
	for i := range 4095 {
		p := deepPath(i)
		require.LessOrEqual(t, len(p), vfs.MaxPathLen)
		switch err := f.Write(ctx, p, nil); {
		case err == nil:
			written++
		case errors.Is(err, agentos.ErrQuota):
			refused++
		default:
			require.NoError(t, err)
		}
		require.LessOrEqual(t, f.Usage().Total(), max)
	}
	checkpoints := 0
	for range 16 {
		_, err := f.Checkpoint(ctx)
		if err == nil {
			checkpoints++
			continue
		}
		require.ErrorIs(t, err, agentos.ErrQuota)
	}
	u := f.Usage()
	require.LessOrEqual(t, u.Total(), max)
	assert.Positive(t, refused, "files past the quota are refused")
	assert.Positive(t, u.Overhead)

	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("%d files written, %d refused, %d checkpoints; accounted %d bytes, heap grew %d bytes (quota %d)",
		written, refused, checkpoints, u.Total(), grown, max)
	assert.LessOrEqual(t, grown, max+max/4, "the namespace holds about its quota, not more")
	runtime.KeepAlive(f)
}

// Checkpoints of empty files are not free: each copy of a name counts.
func TestQuotaCheckpointsOfEmptyFiles(t *testing.T) {
	ctx := t.Context()
	f := newAgentFS(t, vfs.WithQuota(vfs.Quota{MaxBytes: 512 << 10}))
	name := strings.Repeat("n", 200)
	for i := range 100 {
		require.NoError(t, f.Write(ctx, fmt.Sprintf("/mem/working/%s%02d", name, i), nil))
	}
	u := f.Usage()
	assert.Zero(t, u.Bytes)
	assert.Equal(t, 100*liveCost(name+"00"), u.Overhead)
	per := 100 * heldCost(name+"00")
	kept := 0
	for {
		_, err := f.Checkpoint(ctx)
		if err != nil {
			require.ErrorIs(t, err, agentos.ErrQuota)
			break
		}
		kept++
	}
	want := int((512<<10 - u.Overhead) / per)
	require.Less(t, want, f.Quota().MaxCheckpoints, "the bytes bound, not the count")
	assert.Equal(t, want, kept, "as many checkpoints as the quota holds")
	assert.Equal(t, int64(kept)*per, f.Usage().CheckpointOverhead)
}

// A budget shared by namespaces bounds them together; closing one gives
// its share back.
func TestBudgetAcrossNamespaces(t *testing.T) {
	ctx := t.Context()
	_, err := vfs.NewBudget(0)
	require.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = vfs.New(vfs.WithBudget(nil))
	require.ErrorIs(t, err, agentos.ErrInvalid)

	b, err := vfs.NewBudget(10 << 10)
	require.NoError(t, err)
	a := newAgentFS(t, vfs.WithBudget(b))
	c := newAgentFS(t, vfs.WithBudget(b))
	require.NoError(t, a.Write(ctx, "/mem/working/a", make([]byte, 6<<10)))
	assert.Equal(t, a.Usage().Total(), b.Used())
	err = c.Write(ctx, "/mem/working/c", make([]byte, 6<<10))
	require.ErrorIs(t, err, agentos.ErrQuota, "each namespace is within its quota, together they are not")
	assert.Equal(t, vfs.Usage{}, c.Usage(), "a refused write changes nothing")
	_, err = a.Checkpoint(ctx)
	require.ErrorIs(t, err, agentos.ErrQuota, "checkpoint copies count against the budget too")

	require.NoError(t, c.Write(ctx, "/mem/working/c", make([]byte, 1<<10)))
	assert.Equal(t, a.Usage().Total()+c.Usage().Total(), b.Used())
	require.NoError(t, a.Delete(ctx, "/mem/working/a"))
	assert.Equal(t, c.Usage().Total(), b.Used(), "a delete gives back")
	ck, err := c.Checkpoint(ctx)
	require.NoError(t, err)
	assert.Equal(t, c.Usage().Total(), b.Used())
	require.NoError(t, c.DeleteCheckpoint(ctx, ck.ID))
	assert.Equal(t, c.Usage().Total(), b.Used())

	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close is idempotent")
	assert.Zero(t, b.Used(), "a closed namespace gives its share back")
	require.ErrorIs(t, c.Write(ctx, "/mem/working/d", nil), agentos.ErrClosed)
	_, err = c.Read(ctx, "/mem/working/c")
	require.NoError(t, err, "a closed namespace still reads")
}
