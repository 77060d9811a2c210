package vfs_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckpointRollback(t *testing.T) {
	ctx := t.Context()
	f := newAgentFS(t)
	require.NoError(t, f.Write(ctx, "/mem/working/task.txt", []byte("v1")))
	require.NoError(t, f.Write(ctx, "/mem/working/notes/n", []byte("note")))
	require.NoError(t, f.Write(ctx, "/state/status", []byte("step-1")))
	require.NoError(t, f.Append(ctx, "/mem/episodic/log", []byte("e1;")))

	c1, err := f.Checkpoint(ctx)
	require.NoError(t, err)
	assert.Equal(t, "ckpt-000001", c1.ID)
	assert.Equal(t, []string{vfs.PrefixWorking, vfs.PrefixState}, c1.Mounts)
	assert.Equal(t, int64(3), c1.Files)
	assert.Equal(t, int64(len("v1")+len("note")+len("step-1")), c1.Bytes)
	at1 := snapshotAll(t, f)

	require.NoError(t, f.Write(ctx, "/mem/working/task.txt", []byte("v2")))
	require.NoError(t, f.Delete(ctx, "/mem/working/notes/n"))
	require.NoError(t, f.Write(ctx, "/mem/working/new", []byte("new")))
	require.NoError(t, f.Write(ctx, "/state/status", []byte("step-2")))
	require.NoError(t, f.Append(ctx, "/mem/episodic/log", []byte("e2;")))
	c2, err := f.Checkpoint(ctx)
	require.NoError(t, err)
	at2 := snapshotAll(t, f)

	require.NoError(t, f.Rollback(ctx, c1.ID))
	got := snapshotAll(t, f)
	// Episodic memory is not rolled back: what happened stays recorded.
	assert.Equal(t, "e1;e2;", got["/mem/episodic/log"])
	want := at1
	want["/mem/episodic/log"] = "e1;e2;"
	want["/state/checkpoints/"+c2.ID] = got["/state/checkpoints/"+c2.ID]
	assert.Equal(t, want, got)
	assert.Equal(t, vfs.Usage{
		Bytes: c1.Bytes + int64(len("e1;e2;")), Files: c1.Files + 1,
		Overhead:        liveCost("task.txt", "notes/n", "status", "log"),
		CheckpointBytes: c1.Bytes + c2.Bytes, Checkpoints: 2,
		CheckpointOverhead: heldCost("task.txt", "notes/n", "status") + heldCost("task.txt", "new", "status"),
	}, f.Usage())

	// Roll forward again, and back again: checkpoints are kept.
	require.NoError(t, f.Rollback(ctx, c2.ID))
	assert.Equal(t, at2, snapshotAll(t, f))
	require.NoError(t, f.Rollback(ctx, c1.ID))
	require.NoError(t, f.Rollback(ctx, c1.ID))
	assert.Equal(t, want, snapshotAll(t, f))

	list, err := f.Checkpoints(ctx)
	require.NoError(t, err)
	assert.Equal(t, []vfs.CheckpointInfo{c1, c2}, list)

	// The manifest is readable through the namespace.
	raw, err := f.Read(ctx, "/state/checkpoints/"+c1.ID)
	require.NoError(t, err)
	var m struct {
		ID     string   `json:"id"`
		Files  int64    `json:"files"`
		Bytes  int64    `json:"bytes"`
		Mounts []string `json:"mounts"`
	}
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, c1.ID, m.ID)
	assert.Equal(t, c1.Files, m.Files)
	assert.Equal(t, c1.Mounts, m.Mounts)
	fi, err := f.Stat(ctx, "/state/checkpoints/"+c1.ID)
	require.NoError(t, err)
	assert.Equal(t, c1.Created, fi.ModTime)
	assert.Equal(t, int64(len(raw)), fi.Size)
	ids, err := f.List(ctx, "/state/checkpoints")
	require.NoError(t, err)
	assert.Equal(t, []string{c1.ID, c2.ID}, names(ids))

	// Unknown ids.
	for _, id := range []string{"nope", "", "../ckpt-000001", "ckpt-000001/x"} {
		assert.ErrorIs(t, f.Rollback(ctx, id), agentos.ErrNotFound, id)
		assert.ErrorIs(t, f.DeleteCheckpoint(ctx, id), agentos.ErrNotFound, id)
	}
	require.NoError(t, f.DeleteCheckpoint(ctx, c1.ID))
	_, err = f.Read(ctx, "/state/checkpoints/"+c1.ID)
	assert.ErrorIs(t, err, agentos.ErrNotFound)
	assert.ErrorIs(t, f.Rollback(ctx, c1.ID), agentos.ErrNotFound)
}

// TestCheckpointIsolation: changes after a checkpoint never leak into it.
func TestCheckpointIsolation(t *testing.T) {
	ctx := t.Context()
	f := newAgentFS(t)
	buf := []byte("abc")
	require.NoError(t, f.Write(ctx, "/mem/working/a", buf))
	c, err := f.Checkpoint(ctx)
	require.NoError(t, err)
	require.NoError(t, f.Append(ctx, "/mem/working/a", []byte("def")))
	buf[0] = 'X'
	require.NoError(t, f.Rollback(ctx, c.ID))
	got, err := f.Read(ctx, "/mem/working/a")
	require.NoError(t, err)
	assert.Equal(t, "abc", string(got))
	// Changing the restored file does not change the checkpoint.
	require.NoError(t, f.Append(ctx, "/mem/working/a", []byte("ghi")))
	require.NoError(t, f.Rollback(ctx, c.ID))
	got, err = f.Read(ctx, "/mem/working/a")
	require.NoError(t, err)
	assert.Equal(t, "abc", string(got))
}

// TestRollbackAtomicUnderConcurrency alternates rollbacks between two
// checkpoints whose file sets differ in both mounts while readers list and
// read and another goroutine takes checkpoints. Every observation must be
// wholly one generation: a listing of /mem/working is exactly A's or B's set,
// and a checkpoint taken meanwhile holds A or B in both mounts, never a mix.
func TestRollbackAtomicUnderConcurrency(t *testing.T) {
	ctx := t.Context()
	f := newAgentFS(t, vfs.WithQuota(vfs.Quota{MaxCheckpoints: 64}))
	genA := map[string]string{"/mem/working/a1": "A", "/mem/working/a2": "A", "/state/sa": "A"}
	genB := map[string]string{"/mem/working/b1": "B", "/mem/working/b2": "B", "/mem/working/b3": "B", "/state/sb1": "B", "/state/sb2": "B"}
	load := func(gen map[string]string) vfs.CheckpointInfo {
		for p := range snapshotAll(t, f) {
			if p != "/policy/base.yaml" && !isCheckpointPath(p) {
				require.NoError(t, f.Delete(ctx, p))
			}
		}
		for p, v := range gen {
			require.NoError(t, f.Write(ctx, p, []byte(v)))
		}
		c, err := f.Checkpoint(ctx)
		require.NoError(t, err)
		return c
	}
	ckA, ckB := load(genA), load(genB)
	require.Equal(t, int64(3), ckA.Files)
	require.Equal(t, int64(5), ckB.Files)
	workingA, workingB := []string{"a1", "a2"}, []string{"b1", "b2", "b3"}

	const rounds = 300
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for i := range rounds {
			id := ckA.ID
			if i%2 == 1 {
				id = ckB.ID
			}
			if err := f.Rollback(ctx, id); err != nil {
				t.Errorf("Rollback: %v", err)
				return
			}
		}
	})
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				list, err := f.List(ctx, "/mem/working")
				if err != nil {
					t.Errorf("List: %v", err)
					return
				}
				if n := names(list); !slices.Equal(n, workingA) && !slices.Equal(n, workingB) {
					t.Errorf("List saw a mix: %v", n)
					return
				}
				data, err := f.Read(ctx, "/mem/working/a1")
				if err == nil && string(data) != "A" {
					t.Errorf("Read a1 = %q", data)
					return
				}
				if err != nil && !assert.ErrorIs(t, err, agentos.ErrNotFound) {
					return
				}
			}
		})
	}
	var taken []vfs.CheckpointInfo
	wg.Go(func() {
		for range 20 {
			select {
			case <-done:
				return
			default:
			}
			c, err := f.Checkpoint(ctx)
			if err != nil {
				t.Errorf("Checkpoint: %v", err)
				return
			}
			if c.Files != ckA.Files && c.Files != ckB.Files {
				t.Errorf("checkpoint %s holds %d files: a mix of generations", c.ID, c.Files)
			}
			taken = append(taken, c)
		}
	})
	wg.Wait()

	// Each concurrent checkpoint, restored, is exactly one generation.
	for _, c := range taken {
		require.NoError(t, f.Rollback(ctx, c.ID))
		got := snapshotAll(t, f)
		for p := range got {
			if p == "/policy/base.yaml" || isCheckpointPath(p) {
				delete(got, p)
			}
		}
		if !assert.True(t, equalGen(got, genA) || equalGen(got, genB), "checkpoint %s restored a mix: %v", c.ID, got) {
			break
		}
	}
}

func isCheckpointPath(p string) bool {
	return len(p) > len(vfs.PrefixCheckpoints) && p[:len(vfs.PrefixCheckpoints)+1] == vfs.PrefixCheckpoints+"/"
}

func equalGen(got, gen map[string]string) bool {
	if len(got) != len(gen) {
		return false
	}
	for k, v := range gen {
		if got[k] != v {
			return false
		}
	}
	return true
}

// failingRestore is a MemMount whose Restore can be made to fail.
type failingRestore struct {
	*vfs.MemMount
	fail bool
}

func (m *failingRestore) Restore(ctx context.Context, s vfs.Snapshot) error {
	if m.fail {
		return &fs.PathError{Op: "rollback", Path: ".", Err: errors.New("disk on fire")}
	}
	return m.MemMount.Restore(ctx, s)
}

func TestRollbackUndoesPartialRestore(t *testing.T) {
	ctx := t.Context()
	f := newAgentFS(t)
	flaky := &failingRestore{MemMount: vfs.NewMemMount(nil)}
	require.NoError(t, f.Mount(ctx, "/x", flaky)) // shorter prefix: restored after /mem/working
	require.NoError(t, f.Write(ctx, "/mem/working/a", []byte("old")))
	require.NoError(t, f.Write(ctx, "/x/b", []byte("old")))
	c, err := f.Checkpoint(ctx)
	require.NoError(t, err)
	require.NoError(t, f.Write(ctx, "/mem/working/a", []byte("new")))
	require.NoError(t, f.Write(ctx, "/x/b", []byte("new")))
	before, usage := snapshotAll(t, f), f.Usage()

	flaky.fail = true
	err = f.Rollback(ctx, c.ID)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk on fire")
	assert.Equal(t, before, snapshotAll(t, f), "a failed rollback leaves every mount as it was")
	assert.Equal(t, usage, f.Usage())

	flaky.fail = false
	require.NoError(t, f.Rollback(ctx, c.ID))
	got, err := f.Read(ctx, "/mem/working/a")
	require.NoError(t, err)
	assert.Equal(t, "old", string(got))
}

// restoreOnce is a MemMount that takes one Restore and refuses the next.
type restoreOnce struct {
	*vfs.MemMount
	restored int
}

var errNoSecondChance = errors.New("no second chance")

func (m *restoreOnce) Restore(ctx context.Context, s vfs.Snapshot) error {
	m.restored++
	if m.restored > 1 {
		return &fs.PathError{Op: "rollback", Path: ".", Err: errNoSecondChance}
	}
	return m.MemMount.Restore(ctx, s)
}

// A mount that refuses to be put back after a partial rollback is reported,
// not hidden: the caller learns that the namespace is not as it was, and the
// usage counts what the mounts really hold.
func TestRollbackReportsFailedUndo(t *testing.T) {
	ctx := t.Context()
	f := newAgentFS(t)
	once := &restoreOnce{MemMount: vfs.NewMemMount(nil)}
	flaky := &failingRestore{MemMount: vfs.NewMemMount(nil)}
	require.NoError(t, f.Mount(ctx, "/restored-first", once)) // longest prefix: restored first
	require.NoError(t, f.Mount(ctx, "/x", flaky))             // shortest: restored last
	require.NoError(t, f.Write(ctx, "/restored-first/a", []byte("old")))
	require.NoError(t, f.Write(ctx, "/x/b", []byte("old")))
	c, err := f.Checkpoint(ctx)
	require.NoError(t, err)
	require.NoError(t, f.Write(ctx, "/restored-first/a", []byte("newer")))
	require.NoError(t, f.Write(ctx, "/restored-first/c", []byte("added")))

	flaky.fail = true
	err = f.Rollback(ctx, c.ID)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk on fire", "the restore that failed")
	require.ErrorIs(t, err, errNoSecondChance, "the undo that failed")
	assert.Contains(t, err.Error(), "/restored-first")

	// The mount that could not be put back holds the checkpoint's contents,
	// and the usage counts exactly that.
	got := snapshotAll(t, f)
	assert.Equal(t, "old", got["/restored-first/a"])
	assert.NotContains(t, got, "/restored-first/c")
	var bytes, files int64
	var names []string
	for p, data := range got {
		if strings.HasPrefix(p, "/policy/") || strings.HasPrefix(p, vfs.PrefixCheckpoints+"/") {
			continue
		}
		bytes += int64(len(data))
		files++
		names = append(names, p[strings.Index(p[1:], "/")+2:])
	}
	u := f.Usage()
	assert.Equal(t, bytes, u.Bytes)
	assert.Equal(t, files, u.Files)
	assert.Equal(t, liveCost(names...), u.Overhead)
}
