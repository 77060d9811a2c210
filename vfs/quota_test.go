package vfs_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuota(t *testing.T) {
	q := vfs.Quota{MaxBytes: 100, MaxFiles: 3, MaxFileSize: 40, MaxCheckpoints: 2}
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
			{do: w("/mem/working/a", 40), usage: vfs.Usage{Bytes: 40, Files: 1}},
			{do: w("/mem/working/b", 41), wantQuota: true, usage: vfs.Usage{Bytes: 40, Files: 1}},
			{do: a("/mem/working/a", 1), wantQuota: true, usage: vfs.Usage{Bytes: 40, Files: 1}},
			{do: a("/mem/episodic/e", 41), wantQuota: true, usage: vfs.Usage{Bytes: 40, Files: 1}},
		}},
		{"file count", []step{
			{do: w("/mem/working/a", 1), usage: vfs.Usage{Bytes: 1, Files: 1}},
			{do: w("/state/b", 1), usage: vfs.Usage{Bytes: 2, Files: 2}},
			{do: a("/mem/episodic/c", 1), usage: vfs.Usage{Bytes: 3, Files: 3}},
			{do: w("/mem/working/d", 1), wantQuota: true, usage: vfs.Usage{Bytes: 3, Files: 3}},
			{do: w("/mem/working/a", 5), usage: vfs.Usage{Bytes: 7, Files: 3}}, // overwrite: no new file
			{do: del("/mem/working/a"), usage: vfs.Usage{Bytes: 2, Files: 2}},
			{do: w("/mem/working/d", 1), usage: vfs.Usage{Bytes: 3, Files: 3}},
		}},
		{"total bytes", []step{
			{do: w("/mem/working/a", 40), usage: vfs.Usage{Bytes: 40, Files: 1}},
			{do: w("/mem/working/b", 40), usage: vfs.Usage{Bytes: 80, Files: 2}},
			{do: w("/state/c", 21), wantQuota: true, usage: vfs.Usage{Bytes: 80, Files: 2}},
			{do: w("/state/c", 20), usage: vfs.Usage{Bytes: 100, Files: 3}},
			{do: w("/mem/working/a", 39), usage: vfs.Usage{Bytes: 99, Files: 3}}, // shrinking is fine
			{do: a("/mem/working/a", 2), wantQuota: true, usage: vfs.Usage{Bytes: 99, Files: 3}},
			{do: a("/mem/working/a", 1), usage: vfs.Usage{Bytes: 100, Files: 3}},
		}},
		{"checkpoints count", []step{
			{do: w("/mem/working/a", 30), usage: vfs.Usage{Bytes: 30, Files: 1}},
			{do: ckpt, usage: vfs.Usage{Bytes: 30, Files: 1, CheckpointBytes: 30, Checkpoints: 1}},
			{do: w("/mem/working/b", 40), usage: vfs.Usage{Bytes: 70, Files: 2, CheckpointBytes: 30, Checkpoints: 1}},
			{do: w("/state/c", 1), wantQuota: true, usage: vfs.Usage{Bytes: 70, Files: 2, CheckpointBytes: 30, Checkpoints: 1}},
			// A second checkpoint would hold 70 more bytes: 170 > 100.
			{do: ckpt, wantQuota: true, usage: vfs.Usage{Bytes: 70, Files: 2, CheckpointBytes: 30, Checkpoints: 1}},
			{do: del("/mem/working/b"), usage: vfs.Usage{Bytes: 30, Files: 1, CheckpointBytes: 30, Checkpoints: 1}},
			{do: ckpt, usage: vfs.Usage{Bytes: 30, Files: 1, CheckpointBytes: 60, Checkpoints: 2}},
			{do: del("/mem/working/a"), usage: vfs.Usage{Bytes: 0, Files: 0, CheckpointBytes: 60, Checkpoints: 2}},
			// MaxCheckpoints reached, even for an empty checkpoint.
			{do: ckpt, wantQuota: true, usage: vfs.Usage{Bytes: 0, Files: 0, CheckpointBytes: 60, Checkpoints: 2}},
		}},
		{"episodic counts, policy does not", []step{
			{do: a("/mem/episodic/e", 10), usage: vfs.Usage{Bytes: 10, Files: 1}},
			{do: a("/mem/episodic/e", 10), usage: vfs.Usage{Bytes: 20, Files: 1}},
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
	f := newAgentFS(t, vfs.WithQuota(vfs.Quota{MaxBytes: 100, MaxFiles: 10, MaxFileSize: 100}))
	require.NoError(t, f.Write(ctx, "/mem/working/a", make([]byte, 40)))
	big, err := f.Checkpoint(ctx) // 40 live + 40 held
	require.NoError(t, err)
	require.NoError(t, f.Delete(ctx, "/mem/working/a"))
	require.NoError(t, f.Append(ctx, "/mem/episodic/e", make([]byte, 30))) // 30 live + 40 held
	// Rolling back would make 70 live + 40 held = 110 > 100.
	err = f.Rollback(ctx, big.ID)
	require.ErrorIs(t, err, agentos.ErrQuota)
	_, err = f.Read(ctx, "/mem/working/a")
	assert.ErrorIs(t, err, agentos.ErrNotFound, "a refused rollback changes nothing")
	assert.Equal(t, vfs.Usage{Bytes: 30, Files: 1, CheckpointBytes: 40, Checkpoints: 1}, f.Usage())

	// Freeing space makes it possible; usage follows the restored contents.
	require.NoError(t, f.DeleteCheckpoint(ctx, big.ID))
	assert.ErrorIs(t, f.Rollback(ctx, big.ID), agentos.ErrNotFound)
	assert.Equal(t, vfs.Usage{Bytes: 30, Files: 1}, f.Usage())
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
	assert.Equal(t, vfs.Usage{Bytes: 30, Files: 3}, g.Usage())
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
