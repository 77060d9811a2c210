// Package vfstest checks that a [vfs.Mount] implementation behaves as the
// vfs package requires, in the style of testing/fstest. It tests the read
// side of every mount and, by type assertion, each optional capability the
// mount implements: [vfs.WriteMount], [vfs.AppendMount], [vfs.CreateMount],
// [vfs.SnapshotMount] and [vfs.SearchMount].
package vfstest

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fixture returns a fresh copy of the files TestMount asks newMount to hold.
func Fixture() map[string][]byte {
	return map[string][]byte{
		"a.txt":         []byte("alpha apple"),
		"dir/b.txt":     []byte("bravo banana"),
		"dir/empty.txt": {},
		"dir/sub/c.txt": []byte("charlie cherry"),
	}
}

// NewMountFunc returns a fresh mount holding exactly files (and the
// directories their names imply). It is called once per subtest.
type NewMountFunc func(t *testing.T, files map[string][]byte) vfs.Mount

// TestMount runs the conformance checks against mounts made by newMount, one
// subtest per property. The checks of a capability run only when the mount
// implements it.
func TestMount(t *testing.T, newMount NewMountFunc) {
	t.Helper()
	fresh := func(t *testing.T) vfs.Mount {
		t.Helper()
		m := newMount(t, Fixture())
		require.NotNil(t, m, "newMount returned nil")
		return m
	}
	t.Run("Read", func(t *testing.T) { testRead(t, fresh(t)) })
	t.Run("InvalidNames", func(t *testing.T) { testInvalidNames(t, fresh(t)) })
	t.Run("Context", func(t *testing.T) { testContext(t, fresh(t)) })
	t.Run("IOFS", func(t *testing.T) {
		require.NoError(t, fstest.TestFS(vfs.MountFS(fresh(t)), slices.Sorted(maps.Keys(Fixture()))...))
	})
	m := fresh(t)
	if _, ok := m.(vfs.WriteMount); ok {
		t.Run("Write", func(t *testing.T) { testWrite(t, fresh(t).(vfs.WriteMount)) })
		t.Run("Remove", func(t *testing.T) { testRemove(t, fresh(t).(vfs.WriteMount)) })
		t.Run("ConcurrentWrites", func(t *testing.T) { testConcurrent(t, fresh(t).(vfs.WriteMount)) })
	}
	if _, ok := m.(vfs.AppendMount); ok {
		t.Run("Append", func(t *testing.T) { testAppend(t, fresh(t).(vfs.AppendMount)) })
	}
	if _, ok := m.(vfs.CreateMount); ok {
		t.Run("Create", func(t *testing.T) { testCreate(t, fresh(t).(vfs.CreateMount)) })
	}
	if _, ok := m.(vfs.SnapshotMount); ok {
		t.Run("Snapshot", func(t *testing.T) { testSnapshot(t, fresh(t).(vfs.SnapshotMount)) })
	}
	if _, ok := m.(vfs.SearchMount); ok {
		t.Run("Search", func(t *testing.T) { testSearch(t, fresh(t).(vfs.SearchMount)) })
	}
}

// Contents reads every file of m into a map, walking from the root.
func Contents(ctx context.Context, m vfs.Mount) (map[string][]byte, error) {
	out := map[string][]byte{}
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := m.ReadDir(ctx, dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := e.Name
			if dir != "." {
				name = dir + "/" + e.Name
			}
			if e.IsDir {
				if err := walk(name); err != nil {
					return err
				}
				continue
			}
			data, err := m.ReadFile(ctx, name)
			if err != nil {
				return err
			}
			out[name] = data
		}
		return nil
	}
	if err := walk("."); err != nil {
		return nil, err
	}
	return out, nil
}

func requireContents(t *testing.T, m vfs.Mount, want map[string][]byte) {
	t.Helper()
	got, err := Contents(t.Context(), m)
	require.NoError(t, err)
	require.Equal(t, normalize(want), normalize(got))
}

// normalize maps empty and nil contents to the same value for comparison.
func normalize(files map[string][]byte) map[string]string {
	out := make(map[string]string, len(files))
	for k, v := range files {
		out[k] = string(v)
	}
	return out
}

func names(infos []vfs.FileInfo) []string {
	out := make([]string, len(infos))
	for i, fi := range infos {
		out[i] = fi.Name
	}
	return out
}

func testRead(t *testing.T, m vfs.Mount) {
	ctx := t.Context()
	requireContents(t, m, Fixture())
	for name, want := range Fixture() {
		got, err := m.ReadFile(ctx, name)
		require.NoError(t, err, name)
		assert.Equal(t, string(want), string(got), name)
		if len(got) > 0 {
			got[0] ^= 0xff // the caller owns the copy
			again, err := m.ReadFile(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(again), "%s: ReadFile must return a copy", name)
		}
		fi, err := m.Stat(ctx, name)
		require.NoError(t, err, name)
		assert.False(t, fi.IsDir, name)
		assert.Equal(t, int64(len(want)), fi.Size, name)
		assert.Equal(t, name[lastSlash(name)+1:], fi.Name, name)
	}
	for _, dir := range []string{".", "dir", "dir/sub"} {
		fi, err := m.Stat(ctx, dir)
		require.NoError(t, err, dir)
		assert.True(t, fi.IsDir, dir)
	}
	root, err := m.ReadDir(ctx, ".")
	require.NoError(t, err)
	assert.Equal(t, []string{"a.txt", "dir"}, names(root))
	dir, err := m.ReadDir(ctx, "dir")
	require.NoError(t, err)
	assert.Equal(t, []string{"b.txt", "empty.txt", "sub"}, names(dir))
	for _, fi := range dir {
		assert.Equal(t, fi.Name == "sub", fi.IsDir, fi.Name)
	}

	for _, missing := range []string{"nope", "dir/nope", "nope/deeper", "a.txt/below"} {
		_, err := m.ReadFile(ctx, missing)
		assert.ErrorIs(t, err, agentos.ErrNotFound, "ReadFile %s", missing)
		_, err = m.Stat(ctx, missing)
		assert.ErrorIs(t, err, agentos.ErrNotFound, "Stat %s", missing)
		_, err = m.ReadDir(ctx, missing)
		assert.ErrorIs(t, err, agentos.ErrNotFound, "ReadDir %s", missing)
	}
	_, err = m.ReadFile(ctx, "dir")
	assert.ErrorIs(t, err, agentos.ErrInvalid, "ReadFile of a directory")
	_, err = m.ReadDir(ctx, "a.txt")
	assert.ErrorIs(t, err, agentos.ErrInvalid, "ReadDir of a file")
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

// InvalidNames are names every mount must refuse with agentos.ErrInvalid.
var InvalidNames = []string{
	"", "/", "/a.txt", "a.txt/", "./a.txt", "dir/./b.txt", "..", "../a.txt", "dir/../a.txt",
	"dir//b.txt", "a\x00", "a\\b", "a\nb", "a\x7fb", "\xff", "a\u202eb", "a\u200bb",
}

func testInvalidNames(t *testing.T, m vfs.Mount) {
	ctx := t.Context()
	for _, name := range InvalidNames {
		_, err := m.ReadFile(ctx, name)
		assert.ErrorIs(t, err, agentos.ErrInvalid, "ReadFile %q", name)
		_, err = m.Stat(ctx, name)
		assert.ErrorIs(t, err, agentos.ErrInvalid, "Stat %q", name)
		_, err = m.ReadDir(ctx, name)
		assert.ErrorIs(t, err, agentos.ErrInvalid, "ReadDir %q", name)
		if w, ok := m.(vfs.WriteMount); ok {
			assert.ErrorIs(t, w.WriteFile(ctx, name, []byte("x")), agentos.ErrInvalid, "WriteFile %q", name)
			assert.ErrorIs(t, w.Remove(ctx, name), agentos.ErrInvalid, "Remove %q", name)
		}
		if a, ok := m.(vfs.AppendMount); ok {
			assert.ErrorIs(t, a.AppendFile(ctx, name, []byte("x")), agentos.ErrInvalid, "AppendFile %q", name)
		}
		if c, ok := m.(vfs.CreateMount); ok {
			assert.ErrorIs(t, c.CreateFile(ctx, name, []byte("x")), agentos.ErrInvalid, "CreateFile %q", name)
		}
	}
	requireContents(t, m, Fixture())
}

func testContext(t *testing.T, m vfs.Mount) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := m.ReadFile(ctx, "a.txt")
	assert.ErrorIs(t, err, context.Canceled, "ReadFile")
	_, err = m.Stat(ctx, "a.txt")
	assert.ErrorIs(t, err, context.Canceled, "Stat")
	_, err = m.ReadDir(ctx, ".")
	assert.ErrorIs(t, err, context.Canceled, "ReadDir")
	if w, ok := m.(vfs.WriteMount); ok {
		assert.ErrorIs(t, w.WriteFile(ctx, "a.txt", []byte("x")), context.Canceled, "WriteFile")
		assert.ErrorIs(t, w.Remove(ctx, "a.txt"), context.Canceled, "Remove")
	}
	if a, ok := m.(vfs.AppendMount); ok {
		assert.ErrorIs(t, a.AppendFile(ctx, "a.txt", []byte("x")), context.Canceled, "AppendFile")
	}
	if c, ok := m.(vfs.CreateMount); ok {
		assert.ErrorIs(t, c.CreateFile(ctx, "new.txt", []byte("x")), context.Canceled, "CreateFile")
	}
	if s, ok := m.(vfs.SnapshotMount); ok {
		_, err := s.Snapshot(ctx)
		assert.ErrorIs(t, err, context.Canceled, "Snapshot")
		assert.ErrorIs(t, s.Restore(ctx, vfs.Snapshot{}), context.Canceled, "Restore")
	}
	if q, ok := m.(vfs.SearchMount); ok {
		_, err := q.Search(ctx, ".", vfs.Query{Text: "alpha", K: 1})
		assert.ErrorIs(t, err, context.Canceled, "Search")
	}
	requireContents(t, m, Fixture())
}

func testWrite(t *testing.T, m vfs.WriteMount) {
	ctx := t.Context()
	want := Fixture()

	buf := []byte("new deep file")
	require.NoError(t, m.WriteFile(ctx, "new/deep/x.txt", buf))
	want["new/deep/x.txt"] = slices.Clone(buf)
	buf[0] = 'X' // the mount keeps its own copy
	requireContents(t, m, want)
	fi, err := m.Stat(ctx, "new/deep")
	require.NoError(t, err)
	assert.True(t, fi.IsDir)

	require.NoError(t, m.WriteFile(ctx, "a.txt", []byte("replaced")))
	want["a.txt"] = []byte("replaced")
	fi, err = m.Stat(ctx, "a.txt")
	require.NoError(t, err)
	assert.Equal(t, int64(len("replaced")), fi.Size)
	require.NoError(t, m.WriteFile(ctx, "dir/empty.txt", nil))
	requireContents(t, m, want)

	// Refused writes change nothing.
	for _, c := range []struct{ name, why string }{
		{"dir", "over a directory"},
		{"dir/sub", "over a nested directory"},
		{"a.txt/x", "below a file"},
		{"a.txt/x/y", "deep below a file"},
		{".", "over the root"},
	} {
		err := m.WriteFile(ctx, c.name, []byte("bad"))
		assert.ErrorIs(t, err, agentos.ErrInvalid, "WriteFile %s (%s)", c.name, c.why)
	}
	requireContents(t, m, want)
}

func testRemove(t *testing.T, m vfs.WriteMount) {
	ctx := t.Context()
	want := Fixture()
	require.NoError(t, m.Remove(ctx, "a.txt"))
	delete(want, "a.txt")
	_, err := m.ReadFile(ctx, "a.txt")
	assert.ErrorIs(t, err, agentos.ErrNotFound)
	assert.ErrorIs(t, m.Remove(ctx, "a.txt"), agentos.ErrNotFound, "second Remove")
	assert.ErrorIs(t, m.Remove(ctx, "nope/x"), agentos.ErrNotFound)
	assert.ErrorIs(t, m.Remove(ctx, "dir"), agentos.ErrInvalid, "Remove of a directory")
	assert.ErrorIs(t, m.Remove(ctx, "."), agentos.ErrInvalid, "Remove of the root")
	require.NoError(t, m.Remove(ctx, "dir/sub/c.txt"))
	delete(want, "dir/sub/c.txt")
	requireContents(t, m, want)
	// The name can be used again, as a file or a directory.
	require.NoError(t, m.WriteFile(ctx, "a.txt/now-a-dir", []byte("d")))
	want["a.txt/now-a-dir"] = []byte("d")
	requireContents(t, m, want)
}

func testConcurrent(t *testing.T, m vfs.WriteMount) {
	ctx := t.Context()
	const workers, rounds = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			own := fmt.Sprintf("w%d/file", w)
			for i := range rounds {
				data := fmt.Appendf(nil, "%d-%d", w, i)
				if err := m.WriteFile(ctx, own, data); err != nil {
					t.Errorf("WriteFile %s: %v", own, err)
					return
				}
				got, err := m.ReadFile(ctx, own)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("ReadFile %s = %q, %v; want %q", own, got, err, data)
					return
				}
				if err := m.WriteFile(ctx, "shared", data); err != nil {
					t.Errorf("WriteFile shared: %v", err)
					return
				}
				if _, err := m.ReadDir(ctx, "."); err != nil {
					t.Errorf("ReadDir: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	entries, err := m.ReadDir(ctx, ".")
	require.NoError(t, err)
	assert.Len(t, entries, len([]string{"a.txt", "dir", "shared"})+workers)
}

func testAppend(t *testing.T, m vfs.AppendMount) {
	ctx := t.Context()
	want := Fixture()
	buf := []byte("one,")
	require.NoError(t, m.AppendFile(ctx, "log/events", buf))
	buf[0] = 'X'
	require.NoError(t, m.AppendFile(ctx, "log/events", []byte("two")))
	require.NoError(t, m.AppendFile(ctx, "log/events", nil))
	want["log/events"] = []byte("one,two")
	require.NoError(t, m.AppendFile(ctx, "a.txt", []byte(" pie")))
	want["a.txt"] = append(want["a.txt"], " pie"...)
	requireContents(t, m, want)
	fi, err := m.Stat(ctx, "log/events")
	require.NoError(t, err)
	assert.Equal(t, int64(len("one,two")), fi.Size)

	assert.ErrorIs(t, m.AppendFile(ctx, "dir", []byte("x")), agentos.ErrInvalid, "append to a directory")
	assert.ErrorIs(t, m.AppendFile(ctx, "a.txt/x", []byte("x")), agentos.ErrInvalid, "append below a file")
	assert.ErrorIs(t, m.AppendFile(ctx, ".", []byte("x")), agentos.ErrInvalid, "append to the root")
	requireContents(t, m, want)
}

func testCreate(t *testing.T, m vfs.CreateMount) {
	ctx := t.Context()
	want := Fixture()
	buf := []byte("fresh")
	require.NoError(t, m.CreateFile(ctx, "new/fresh", buf))
	buf[0] = 'X'
	want["new/fresh"] = []byte("fresh")
	for _, name := range []string{"a.txt", "new/fresh", "dir/empty.txt"} {
		err := m.CreateFile(ctx, name, []byte("overwrite"))
		assert.ErrorIs(t, err, fs.ErrExist, "CreateFile over %s", name)
	}
	assert.ErrorIs(t, m.CreateFile(ctx, "dir", []byte("x")), agentos.ErrInvalid, "create over a directory")
	assert.ErrorIs(t, m.CreateFile(ctx, "a.txt/x", []byte("x")), agentos.ErrInvalid, "create below a file")
	requireContents(t, m, want)
}

func testSnapshot(t *testing.T, m vfs.SnapshotMount) {
	ctx := t.Context()
	s, err := m.Snapshot(ctx)
	require.NoError(t, err)
	got := map[string][]byte{}
	for i, f := range s.Files {
		if i > 0 {
			assert.Less(t, s.Files[i-1].Name, f.Name, "Snapshot files must be sorted by name")
		}
		got[f.Name] = f.Data
	}
	fixture := Fixture()
	require.Equal(t, normalize(fixture), normalize(got))
	bytesWant, filesWant := int64(0), int64(len(fixture))
	for _, d := range fixture {
		bytesWant += int64(len(d))
	}
	b, n := s.Size()
	assert.Equal(t, bytesWant, b)
	assert.Equal(t, filesWant, n)

	// Change the mount by whatever means it has.
	changed := false
	if w, ok := m.(vfs.WriteMount); ok {
		require.NoError(t, w.WriteFile(ctx, "a.txt", []byte("changed")))
		require.NoError(t, w.Remove(ctx, "dir/b.txt"))
		require.NoError(t, w.WriteFile(ctx, "extra/file", []byte("extra")))
		changed = true
	}
	if a, ok := m.(vfs.AppendMount); ok {
		require.NoError(t, a.AppendFile(ctx, "dir/sub/c.txt", []byte("+more")))
		changed = true
	}
	if changed {
		// A snapshot is a deep copy: later changes do not reach it.
		for _, f := range s.Files {
			assert.Equal(t, string(fixture[f.Name]), string(f.Data), "snapshot of %s changed with the mount", f.Name)
		}
	}
	require.NoError(t, m.Restore(ctx, s))
	requireContents(t, m, Fixture())

	// Restore copies the data in.
	for i := range s.Files {
		if len(s.Files[i].Data) > 0 {
			s.Files[i].Data[0] ^= 0xff
		}
	}
	requireContents(t, m, Fixture())

	// Invalid snapshots are refused and change nothing.
	for _, bad := range []vfs.Snapshot{
		{Files: []vfs.SnapshotFile{{Name: "ok"}, {Name: "../escape"}}},
		{Files: []vfs.SnapshotFile{{Name: "/abs"}}},
		{Files: []vfs.SnapshotFile{{Name: "."}}},
		{Files: []vfs.SnapshotFile{{Name: "f"}, {Name: "f/g"}}},
		{Files: []vfs.SnapshotFile{{Name: "f"}, {Name: "f"}}},
		{Files: []vfs.SnapshotFile{{Name: "a\x00"}}},
	} {
		assert.ErrorIs(t, m.Restore(ctx, bad), agentos.ErrInvalid, "Restore %v", bad.Files)
		requireContents(t, m, Fixture())
	}

	// An empty snapshot empties the mount.
	require.NoError(t, m.Restore(ctx, vfs.Snapshot{}))
	requireContents(t, m, map[string][]byte{})
	fi, err := m.Stat(ctx, ".")
	require.NoError(t, err)
	assert.True(t, fi.IsDir, "the root survives an empty restore")
}

func testSearch(t *testing.T, m vfs.SearchMount) {
	ctx := t.Context()
	for _, k := range []int{1, 2, 10} {
		res, err := m.Search(ctx, ".", vfs.Query{Text: "banana", K: k})
		require.NoError(t, err, "k=%d", k)
		assert.LessOrEqual(t, len(res), k, "more results than k")
		for i, r := range res {
			if i > 0 {
				assert.GreaterOrEqual(t, res[i-1].Score, r.Score, "results must be best first")
			}
			assert.True(t, vfs.ValidName(r.Path) && r.Path != ".", "invalid result path %q", r.Path)
			fi, err := m.Stat(ctx, r.Path)
			if assert.NoError(t, err, "result path %q must exist", r.Path) {
				assert.False(t, fi.IsDir, "result %q is a directory", r.Path)
			}
		}
	}
	res, err := m.Search(ctx, "dir/sub", vfs.Query{Text: "charlie", K: 10})
	require.NoError(t, err)
	for _, r := range res {
		assert.Truef(t, len(r.Path) > len("dir/sub/") && r.Path[:len("dir/sub/")] == "dir/sub/",
			"result %q outside the searched directory", r.Path)
	}
	for _, k := range []int{0, -1} {
		_, err := m.Search(ctx, ".", vfs.Query{Text: "alpha", K: k})
		assert.ErrorIs(t, err, agentos.ErrInvalid, "k=%d", k)
	}
	_, err = m.Search(ctx, "nope", vfs.Query{Text: "alpha", K: 1})
	assert.ErrorIs(t, err, agentos.ErrNotFound, "search of a missing directory")
	_, err = m.Search(ctx, "../x", vfs.Query{Text: "alpha", K: 1})
	assert.ErrorIs(t, err, agentos.ErrInvalid, "search with an invalid name")
}
