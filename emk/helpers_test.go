//go:build cgo

package emk_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/emk"
	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver, for raw access to store files
)

// clock is an injectable clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openMem opens an in-memory store closed at the end of the test.
func openMem(t testing.TB, opts ...emk.Option) *emk.Store {
	t.Helper()
	s, err := emk.Open("", opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// openFile opens a store in a new file of the test's temporary directory.
func openFile(t testing.TB, opts ...emk.Option) (*emk.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mem.db")
	s, err := emk.Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, path
}

// rawDB opens a store file with plain SQL, around the store.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// ep returns an episode of agent at t0 minus ago.
func ep(agent, goal, action string, o emk.Outcome, ago time.Duration) emk.Episode {
	return emk.Episode{Agent: agent, Goal: goal, Action: action, Result: "result of " + action,
		Outcome: o, Time: t0.Add(-ago)}
}

// vectors is a fake embedder: each known text has a fixed vector; any other
// text gets a vector orthogonal to them all.
type vectors map[string][]float32

func (v vectors) embed(_ context.Context, text string) ([]float32, error) {
	if x, ok := v[text]; ok {
		return x, nil
	}
	for k, x := range v {
		if len(text) > len(k) && text[:len(k)] == k { // an episode's text starts with its goal
			return x, nil
		}
	}
	return []float32{0, 0, 0, 1}, nil
}

func failingEmbedder(context.Context, string) ([]float32, error) {
	return nil, fmt.Errorf("embedder down: %w", agentos.ErrClosed)
}

func ids(scored []emk.Scored) []string {
	out := make([]string, len(scored))
	for i, s := range scored {
		out[i] = s.Episode.Goal
	}
	return out
}
