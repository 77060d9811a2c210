package vfs_test

import (
	"bytes"
	"cmp"
	"context"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/vfs"
	"github.com/agent-os/agentos/vfs/vfstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is a deterministic clock that advances one second per reading.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

func TestMemMountConformance(t *testing.T) {
	vfstest.TestMount(t, func(t *testing.T, files map[string][]byte) vfs.Mount {
		m := vfs.NewMemMount(newClock().Now)
		for name, data := range files {
			require.NoError(t, m.WriteFile(t.Context(), name, data))
		}
		return m
	})
}

func TestAppendOnlyMountConformance(t *testing.T) {
	vfstest.TestMount(t, func(t *testing.T, files map[string][]byte) vfs.Mount {
		m := vfs.NewAppendOnlyMount(newClock().Now)
		for name, data := range files {
			require.NoError(t, m.CreateFile(t.Context(), name, data))
		}
		return m
	})
}

func TestStaticMountConformance(t *testing.T) {
	vfstest.TestMount(t, func(t *testing.T, files map[string][]byte) vfs.Mount {
		m, err := vfs.NewStaticMount(files, epoch)
		require.NoError(t, err)
		return m
	})
}

func TestSearchMountConformance(t *testing.T) {
	vfstest.TestMount(t, func(t *testing.T, files map[string][]byte) vfs.Mount {
		m := &lexMount{MemMount: vfs.NewMemMount(newClock().Now)}
		for name, data := range files {
			require.NoError(t, m.WriteFile(t.Context(), name, data))
		}
		return m
	})
}

// lexMount is a MemMount with a word-count search, standing in for a vector
// store in tests of search dispatch.
type lexMount struct {
	*vfs.MemMount
}

var _ vfs.SearchMount = (*lexMount)(nil)

func (m *lexMount) Search(ctx context.Context, dir string, q vfs.Query) ([]vfs.SearchResult, error) {
	if q.K < 1 {
		return nil, &fs.PathError{Op: "search", Path: dir, Err: agentos.ErrInvalid}
	}
	files, err := vfstest.Contents(ctx, m.MemMount)
	if err != nil {
		return nil, err
	}
	fi, err := m.Stat(ctx, dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir {
		return nil, &fs.PathError{Op: "search", Path: dir, Err: agentos.ErrInvalid}
	}
	var out []vfs.SearchResult
	for name, data := range files {
		if dir != "." && !strings.HasPrefix(name, dir+"/") {
			continue
		}
		score := 0
		for w := range strings.FieldsSeq(q.Text) {
			score += bytes.Count(data, []byte(w))
		}
		if score > 0 {
			out = append(out, vfs.SearchResult{Path: name, Score: float64(score), Content: data})
		}
	}
	slices.SortFunc(out, func(a, b vfs.SearchResult) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), strings.Compare(a.Path, b.Path))
	})
	return out[:min(len(out), q.K)], nil
}

func TestStaticMountReplaceIsAtomic(t *testing.T) {
	ctx := t.Context()
	gen := func(v string) map[string][]byte {
		return map[string][]byte{"a.yaml": []byte(v), "b.yaml": []byte(v), "team/c.yaml": []byte(v)}
	}
	m, err := vfs.NewStaticMount(gen("v1"), epoch)
	require.NoError(t, err)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				// One listing sees one generation's file set; contents of a
				// file are one generation's.
				files, err := vfstest.Contents(ctx, m)
				if err != nil {
					t.Errorf("Contents: %v", err)
					return
				}
				if len(files) != 3 {
					t.Errorf("saw %d files, want 3", len(files))
					return
				}
			}
		})
	}
	for i := range 200 {
		v := "v1"
		if i%2 == 0 {
			v = "v2"
		}
		require.NoError(t, m.Replace(gen(v), epoch.Add(time.Duration(i)*time.Second)))
	}
	close(stop)
	wg.Wait()

	// A bad replacement keeps the old contents.
	err = m.Replace(map[string][]byte{"ok": nil, "../x": nil}, epoch)
	require.ErrorIs(t, err, agentos.ErrInvalid)
	files, err := vfstest.Contents(ctx, m)
	require.NoError(t, err)
	assert.Len(t, files, 3)
}

func TestStaticMountCopiesInput(t *testing.T) {
	in := map[string][]byte{"p.yaml": []byte("rules: []")}
	m, err := vfs.NewStaticMount(in, epoch)
	require.NoError(t, err)
	in["p.yaml"][0] = 'X'
	got, err := m.ReadFile(t.Context(), "p.yaml")
	require.NoError(t, err)
	assert.Equal(t, "rules: []", string(got))
	fi, err := m.Stat(t.Context(), "p.yaml")
	require.NoError(t, err)
	assert.Equal(t, epoch, fi.ModTime)
}

func TestMemMountClock(t *testing.T) {
	clk := newClock()
	m := vfs.NewMemMount(clk.Now)
	ctx := t.Context()
	require.NoError(t, m.WriteFile(ctx, "a", []byte("1")))
	first, err := m.Stat(ctx, "a")
	require.NoError(t, err)
	require.NoError(t, m.AppendFile(ctx, "a", []byte("2")))
	second, err := m.Stat(ctx, "a")
	require.NoError(t, err)
	assert.True(t, second.ModTime.After(first.ModTime))
	assert.Equal(t, epoch.Add(2*time.Second), first.ModTime)
}
