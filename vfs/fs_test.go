package vfs_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func names(infos []vfs.FileInfo) []string {
	out := make([]string, len(infos))
	for i, fi := range infos {
		out[i] = fi.Name
	}
	return out
}

func TestStandardLayout(t *testing.T) {
	f := newAgentFS(t)
	ctx := t.Context()

	root, err := f.List(ctx, "/")
	require.NoError(t, err)
	assert.Equal(t, []string{"mem", "policy", "state"}, names(root))
	mem, err := f.List(ctx, "/mem")
	require.NoError(t, err)
	assert.Equal(t, []string{"episodic", "working"}, names(mem))
	for _, fi := range append(root, mem...) {
		assert.True(t, fi.IsDir, fi.Name)
	}
	state, err := f.List(ctx, "/state")
	require.NoError(t, err)
	assert.Equal(t, []string{"checkpoints"}, names(state))

	fi, err := f.Stat(ctx, "/")
	require.NoError(t, err)
	assert.True(t, fi.IsDir)
	assert.Equal(t, "/", fi.Name)
	fi, err = f.Stat(ctx, "/mem/working/")
	require.NoError(t, err)
	assert.Equal(t, vfs.FileInfo{Name: "working", ModTime: fi.ModTime, IsDir: true}, fi)

	policy, err := f.Read(ctx, "/policy/base.yaml")
	require.NoError(t, err)
	assert.Equal(t, "defaultEffect: deny\n", string(policy))
}

func TestOperationsTable(t *testing.T) {
	type step struct {
		op      agentos.Op
		path    string
		data    string
		want    string // expected read result
		wantErr []error
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"write then read working memory", []step{
			{op: agentos.OpWrite, path: "/mem/working/task.txt", data: "Analyze data"},
			{op: agentos.OpRead, path: "/mem/working/task.txt", want: "Analyze data"},
		}},
		{"overwrite", []step{
			{op: agentos.OpWrite, path: "/mem/working/a", data: "1"},
			{op: agentos.OpWrite, path: "/mem/working/a", data: "22"},
			{op: agentos.OpRead, path: "/mem/working/a", want: "22"},
		}},
		{"append creates and grows", []step{
			{op: agentos.OpAppend, path: "/mem/working/log", data: "a"},
			{op: agentos.OpAppend, path: "/mem/working/log", data: "b"},
			{op: agentos.OpRead, path: "/mem/working/log", want: "ab"},
		}},
		{"delete", []step{
			{op: agentos.OpWrite, path: "/state/s.json", data: "{}"},
			{op: agentos.OpDelete, path: "/state/s.json"},
			{op: agentos.OpRead, path: "/state/s.json", wantErr: []error{agentos.ErrNotFound, fs.ErrNotExist}},
			{op: agentos.OpDelete, path: "/state/s.json", wantErr: []error{agentos.ErrNotFound, fs.ErrNotExist}},
		}},
		{"read missing", []step{
			{op: agentos.OpRead, path: "/mem/working/nope", wantErr: []error{agentos.ErrNotFound, fs.ErrNotExist}},
		}},
		{"policy is read-only", []step{
			{op: agentos.OpWrite, path: "/policy/base.yaml", data: "allow all", wantErr: []error{agentos.ErrReadOnly, fs.ErrPermission}},
			{op: agentos.OpWrite, path: "/policy/new.yaml", data: "x", wantErr: []error{agentos.ErrReadOnly}},
			{op: agentos.OpAppend, path: "/policy/base.yaml", data: "x", wantErr: []error{agentos.ErrReadOnly}},
			{op: agentos.OpDelete, path: "/policy/base.yaml", wantErr: []error{agentos.ErrReadOnly}},
			{op: agentos.OpRead, path: "/policy/base.yaml", want: "defaultEffect: deny\n"},
		}},
		{"episodic is append-only", []step{
			{op: agentos.OpWrite, path: "/mem/episodic/e1", data: "first"},
			{op: agentos.OpAppend, path: "/mem/episodic/e1", data: "+more"},
			{op: agentos.OpAppend, path: "/mem/episodic/e2", data: "created by append"},
			{op: agentos.OpWrite, path: "/mem/episodic/e1", data: "rewrite", wantErr: []error{agentos.ErrAppendOnly, fs.ErrExist}},
			{op: agentos.OpDelete, path: "/mem/episodic/e1", wantErr: []error{agentos.ErrAppendOnly, fs.ErrPermission}},
			{op: agentos.OpRead, path: "/mem/episodic/e1", want: "first+more"},
			{op: agentos.OpRead, path: "/mem/episodic/e2", want: "created by append"},
		}},
		{"checkpoints view is read-only", []step{
			{op: agentos.OpWrite, path: "/state/checkpoints/forged", data: "{}", wantErr: []error{agentos.ErrReadOnly}},
			{op: agentos.OpRead, path: "/state/checkpoints/forged", wantErr: []error{agentos.ErrNotFound}},
		}},
		{"directories are not files", []step{
			{op: agentos.OpWrite, path: "/mem/working/d/f", data: "x"},
			{op: agentos.OpRead, path: "/mem/working/d", wantErr: []error{agentos.ErrInvalid}},
			{op: agentos.OpWrite, path: "/mem/working/d", data: "x", wantErr: []error{agentos.ErrInvalid}},
			{op: agentos.OpDelete, path: "/mem/working/d", wantErr: []error{agentos.ErrInvalid}},
			{op: agentos.OpWrite, path: "/mem/working/d/f/g", data: "x", wantErr: []error{agentos.ErrInvalid}},
			{op: agentos.OpRead, path: "/mem/working", wantErr: []error{agentos.ErrInvalid}},
			{op: agentos.OpRead, path: "/mem", wantErr: []error{agentos.ErrInvalid}},
			{op: agentos.OpRead, path: "/", wantErr: []error{agentos.ErrInvalid}},
			{op: agentos.OpWrite, path: "/mem", data: "x", wantErr: []error{agentos.ErrInvalid}},
			{op: agentos.OpWrite, path: "/mem/working", data: "x", wantErr: []error{agentos.ErrInvalid}},
		}},
		{"unmounted paths", []step{
			{op: agentos.OpWrite, path: "/tmp/x", data: "x", wantErr: []error{agentos.ErrNotFound}},
			{op: agentos.OpRead, path: "/mem/semantic/x", wantErr: []error{agentos.ErrNotFound}},
			{op: agentos.OpList, path: "/etc", wantErr: []error{agentos.ErrNotFound}},
			{op: agentos.OpStat, path: "/etc", wantErr: []error{agentos.ErrNotFound, fs.ErrNotExist}},
		}},
		{"cleaned paths address the same file", []step{
			{op: agentos.OpWrite, path: "/mem//working/./x/", data: "same"},
			{op: agentos.OpRead, path: "/mem/working/x", want: "same"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newAgentFS(t)
			ctx := t.Context()
			for i, s := range c.steps {
				var err error
				var got []byte
				switch s.op {
				case agentos.OpWrite:
					err = f.Write(ctx, s.path, []byte(s.data))
				case agentos.OpAppend:
					err = f.Append(ctx, s.path, []byte(s.data))
				case agentos.OpDelete:
					err = f.Delete(ctx, s.path)
				case agentos.OpRead:
					got, err = f.Read(ctx, s.path)
				case agentos.OpList:
					_, err = f.List(ctx, s.path)
				case agentos.OpStat:
					_, err = f.Stat(ctx, s.path)
				}
				if len(s.wantErr) == 0 {
					require.NoError(t, err, "step %d: %s %s", i, s.op, s.path)
					if s.op == agentos.OpRead {
						assert.Equal(t, s.want, string(got), "step %d", i)
					}
					continue
				}
				require.Error(t, err, "step %d: %s %s", i, s.op, s.path)
				for _, want := range s.wantErr {
					assert.ErrorIs(t, err, want, "step %d: %s %s", i, s.op, s.path)
				}
				var pe *fs.PathError
				require.ErrorAs(t, err, &pe, "step %d", i)
				assert.Equal(t, string(s.op), pe.Op)
			}
		})
	}
}

func TestDataIsCopied(t *testing.T) {
	f := newAgentFS(t)
	ctx := t.Context()
	buf := []byte("original")
	require.NoError(t, f.Write(ctx, "/mem/working/a", buf))
	buf[0] = 'X'
	got, err := f.Read(ctx, "/mem/working/a")
	require.NoError(t, err)
	assert.Equal(t, "original", string(got))
	got[0] = 'Y'
	again, err := f.Read(ctx, "/mem/working/a")
	require.NoError(t, err)
	assert.Equal(t, "original", string(again))
}

func TestStatAndModTime(t *testing.T) {
	f := newAgentFS(t)
	ctx := t.Context()
	require.NoError(t, f.Write(ctx, "/mem/working/a/b.txt", []byte("12345")))
	fi, err := f.Stat(ctx, "/mem/working/a/b.txt")
	require.NoError(t, err)
	assert.Equal(t, "b.txt", fi.Name)
	assert.Equal(t, int64(5), fi.Size)
	assert.False(t, fi.IsDir)
	assert.True(t, fi.ModTime.After(epoch), "ModTime comes from the injected clock")
	assert.True(t, fi.ModTime.Before(epoch.Add(60e9)), "ModTime comes from the injected clock")
}

func TestContextCancelled(t *testing.T) {
	f := newAgentFS(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := f.Read(ctx, "/policy/base.yaml")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, f.Write(ctx, "/mem/working/a", nil), context.Canceled)
	_, err = f.Checkpoint(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, f.Rollback(ctx, "ckpt-000001"), context.Canceled)
	assert.Equal(t, vfs.Usage{}, f.Usage())
}

func TestMountTable(t *testing.T) {
	ctx := t.Context()
	f, err := vfs.New()
	require.NoError(t, err)
	root, err := f.List(ctx, "/")
	require.NoError(t, err)
	assert.Empty(t, root)

	m := vfs.NewMemMount(nil)
	require.NoError(t, f.Mount(ctx, "/a/b/", m))
	err = f.Mount(ctx, "/a/b", vfs.NewMemMount(nil))
	assert.ErrorIs(t, err, agentos.ErrInvalid, "double mount")
	assert.ErrorIs(t, f.Mount(ctx, "/a/../x", vfs.NewMemMount(nil)), agentos.ErrInvalid)
	assert.ErrorIs(t, f.Mount(ctx, "/x", nil), agentos.ErrInvalid)

	// Nested mount wins below its prefix, at a component boundary only.
	inner := vfs.NewMemMount(nil)
	require.NoError(t, f.Mount(ctx, "/a/b/c", inner))
	require.NoError(t, f.Write(ctx, "/a/b/c/x", []byte("inner")))
	require.NoError(t, f.Write(ctx, "/a/b/cc", []byte("outer")))
	_, err = inner.ReadFile(ctx, "x")
	require.NoError(t, err)
	_, err = m.ReadFile(ctx, "cc")
	require.NoError(t, err)
	list, err := f.List(ctx, "/a/b")
	require.NoError(t, err)
	assert.Equal(t, []string{"c", "cc"}, names(list))

	_, err = vfs.New(vfs.WithQuota(vfs.Quota{MaxBytes: -1}))
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = vfs.New(vfs.WithClock(nil))
	assert.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestRootMount(t *testing.T) {
	ctx := t.Context()
	f, err := vfs.New()
	require.NoError(t, err)
	require.NoError(t, f.Mount(ctx, "/", vfs.NewMemMount(nil)))
	require.NoError(t, f.Mount(ctx, "/ro", f.CheckpointMount()))
	require.NoError(t, f.Write(ctx, "/x", []byte("x")))
	list, err := f.List(ctx, "/")
	require.NoError(t, err)
	assert.Equal(t, []string{"ro", "x"}, names(list))
	require.NoError(t, fstest.TestFS(f.IOFS(), "x"))
}

func TestSearchDispatch(t *testing.T) {
	f := newAgentFS(t)
	ctx := t.Context()
	sem := &lexMount{MemMount: vfs.NewMemMount(nil)}
	require.NoError(t, sem.WriteFile(ctx, "notes/a", []byte("the cat sat on the cat mat")))
	require.NoError(t, sem.WriteFile(ctx, "notes/b", []byte("a cat")))
	require.NoError(t, sem.WriteFile(ctx, "other/c", []byte("cat cat cat cat")))
	require.NoError(t, f.Mount(ctx, vfs.PrefixSemantic, sem))

	res, err := f.Search(ctx, "/mem/semantic/notes", vfs.Query{Text: "cat", K: 5})
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.Equal(t, "/mem/semantic/notes/a", res[0].Path)
	assert.Equal(t, "/mem/semantic/notes/b", res[1].Path)

	res, err = f.Search(ctx, "/mem/semantic", vfs.Query{Text: "cat", K: 1})
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, "/mem/semantic/other/c", res[0].Path)

	_, err = f.Search(ctx, "/mem/working", vfs.Query{Text: "cat", K: 1})
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	for _, k := range []int{0, -3, vfs.MaxSearchK + 1} {
		_, err = f.Search(ctx, "/mem/semantic", vfs.Query{Text: "cat", K: k})
		assert.ErrorIs(t, err, agentos.ErrInvalid, "k=%d", k)
	}
	_, err = f.Search(ctx, "/mem/semantic", vfs.Query{Text: string(make([]byte, vfs.MaxQueryTextSize+1)), K: 1})
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = f.Search(ctx, "/mem/semanticX", vfs.Query{Text: "cat", K: 1})
	assert.ErrorIs(t, err, agentos.ErrNotFound)
}

func TestNamespaceIOFS(t *testing.T) {
	f := newAgentFS(t)
	ctx := t.Context()
	require.NoError(t, f.Write(ctx, "/mem/working/task.txt", []byte("Analyze data")))
	require.NoError(t, f.Write(ctx, "/mem/working/notes/n1.md", []byte("# n1")))
	require.NoError(t, f.Append(ctx, "/mem/episodic/2026/01/e1.json", []byte(`{"goal":"x"}`)))
	require.NoError(t, f.Write(ctx, "/state/status", []byte("running")))
	_, err := f.Checkpoint(ctx)
	require.NoError(t, err)

	require.NoError(t, fstest.TestFS(f.IOFS(),
		"mem/working/task.txt", "mem/working/notes/n1.md", "mem/episodic/2026/01/e1.json",
		"state/status", "state/checkpoints/ckpt-000001", "policy/base.yaml"))

	data, err := fs.ReadFile(f.IOFS(), "mem/working/task.txt")
	require.NoError(t, err)
	assert.Equal(t, "Analyze data", string(data))
	_, err = fs.ReadFile(f.IOFS(), "policyX/base.yaml")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = f.IOFS().Open("/mem/working/task.txt")
	assert.ErrorIs(t, err, fs.ErrInvalid)
	var seen []string
	require.NoError(t, fs.WalkDir(f.IOFS(), ".", func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if !d.IsDir() {
			seen = append(seen, p)
		}
		return nil
	}))
	assert.Equal(t, []string{
		"mem/episodic/2026/01/e1.json", "mem/working/notes/n1.md", "mem/working/task.txt",
		"policy/base.yaml", "state/checkpoints/ckpt-000001", "state/status",
	}, seen)
}

// recordingMount is a MemMount that overrides WriteFile, as a user's mount
// that embeds one may.
type recordingMount struct {
	*vfs.MemMount
	writes []string
}

func (m *recordingMount) WriteFile(ctx context.Context, name string, data []byte) error {
	m.writes = append(m.writes, name)
	return m.MemMount.WriteFile(ctx, name, data)
}

// WriteOwned stores the caller's slice in the package's memory mounts, and
// goes through the methods of any other mount, with a copy.
func TestWriteOwned(t *testing.T) {
	ctx := t.Context()
	f := newAgentFS(t)
	rm := &recordingMount{MemMount: vfs.NewMemMount(nil)}
	require.NoError(t, f.Mount(ctx, "/rec", rm))

	data := []byte("owned")
	require.NoError(t, f.WriteOwned(ctx, "/rec/a", data))
	assert.Equal(t, []string{"a"}, rm.writes, "an overriding WriteFile is called")
	data[0] = 'X'
	got, err := f.Read(ctx, "/rec/a")
	require.NoError(t, err)
	assert.Equal(t, "owned", string(got), "a mount that is not ours got a copy")

	// In the package's own mounts the owned slice is stored as it is: one
	// copy fewer than Write, which is the point of it.
	own := make([]byte, 64<<10)
	copied := testing.AllocsPerRun(50, func() { _ = f.Write(ctx, "/mem/working/big", own) })
	owned := testing.AllocsPerRun(50, func() { _ = f.WriteOwned(ctx, "/mem/working/big", own) })
	assert.Less(t, owned, copied)
	require.NoError(t, f.AppendOwned(ctx, "/mem/episodic/log", []byte("first")))
	require.NoError(t, f.AppendOwned(ctx, "/mem/episodic/log", []byte(" second")))
	got, err = f.Read(ctx, "/mem/episodic/log")
	require.NoError(t, err)
	assert.Equal(t, "first second", string(got))
}
