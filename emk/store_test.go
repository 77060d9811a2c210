//go:build cgo

package emk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/emk"
)

func TestOpenOptions(t *testing.T) {
	for name, opt := range map[string]emk.Option{
		"nil option":   nil,
		"nil embedder": emk.WithEmbedder(nil),
		"nil clock":    emk.WithClock(nil),
		"no episodes":  emk.WithMaxEpisodes(0),
		"negative":     emk.WithMaxEpisodes(-1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := emk.Open("", opt)
			assert.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
}

// Two in-memory stores are two databases.
func TestOpenMemoryIsPrivate(t *testing.T) {
	ctx := context.Background()
	a, b := openMem(t), openMem(t)
	_, err := a.Append(ctx, ep("x", "g", "a", emk.OutcomeSuccess, 0))
	require.NoError(t, err)
	n, err := b.Count(ctx, "")
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestOpenFile(t *testing.T) {
	ctx := context.Background()
	s, path := openFile(t)
	stored, err := s.Append(ctx, ep("x", "g", "a", emk.OutcomeSuccess, 0))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s2, err := emk.Open(path)
	require.NoError(t, err)
	defer s2.Close()
	got, err := s2.Get(ctx, stored.ID)
	require.NoError(t, err)
	assert.Equal(t, stored, got)
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	db := rawDB(t, foreign)
	_, err := db.Exec("CREATE TABLE t (x)")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = emk.Open(foreign)
	assert.ErrorIs(t, err, emk.ErrForeign)
	assert.ErrorIs(t, err, agentos.ErrInvalid)

	garbage := filepath.Join(dir, "garbage.db")
	require.NoError(t, os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600))
	_, err = emk.Open(garbage)
	assert.ErrorIs(t, err, emk.ErrForeign)

	s, newer := openFile(t)
	require.NoError(t, s.Close())
	db = rawDB(t, newer)
	_, err = db.Exec("PRAGMA user_version=2")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = emk.Open(newer)
	assert.ErrorIs(t, err, emk.ErrNewerSchema)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Contains(t, err.Error(), "version 2")
}

func TestAppend(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := openMem(t, emk.WithClock(clk.now))

	in := emk.Episode{Agent: "a", Goal: "g", Meta: map[string]string{}, Embedding: []float32{1}}
	out, err := s.Append(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, t0, out.Time, "zero Time is the store's clock")
	assert.Equal(t, out.ComputeID(), out.ID)
	assert.Nil(t, out.Embedding, "no embedder: an embedding given is dropped")
	assert.Nil(t, out.Meta)
	got, err := s.Get(ctx, out.ID)
	require.NoError(t, err)
	assert.Equal(t, out, got)

	t.Run("idempotent", func(t *testing.T) {
		again := in
		again.Time = t0
		clk.advance(time.Hour)
		dup, err := s.Append(ctx, again)
		require.NoError(t, err)
		assert.Equal(t, out, dup)
		n, err := s.Count(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, 1, n)
	})
	t.Run("nanoseconds and zones", func(t *testing.T) {
		when := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", -7*3600))
		e, err := s.Append(ctx, emk.Episode{Agent: "a", Goal: "ns", Time: when})
		require.NoError(t, err)
		got, err := s.Get(ctx, e.ID)
		require.NoError(t, err)
		assert.True(t, when.Equal(got.Time))
		assert.Equal(t, time.UTC, got.Time.Location())
	})
	t.Run("causes sorted", func(t *testing.T) {
		c1, err := s.Append(ctx, emk.Episode{Agent: "a", Goal: "c1"})
		require.NoError(t, err)
		c2, err := s.Append(ctx, emk.Episode{Agent: "a", Goal: "c2"})
		require.NoError(t, err)
		want := []string{c1.ID, c2.ID}
		if want[0] > want[1] {
			want[0], want[1] = want[1], want[0]
		}
		e, err := s.Append(ctx, emk.Episode{Agent: "a", Goal: "effect", Causes: []string{want[1], want[0]}})
		require.NoError(t, err)
		assert.Equal(t, want, e.Causes)
		got, err := s.Get(ctx, e.ID)
		require.NoError(t, err)
		assert.Equal(t, want, got.Causes)
	})
	t.Run("errors", func(t *testing.T) {
		_, err := s.Append(ctx, emk.Episode{Goal: "no agent"})
		assert.ErrorIs(t, err, agentos.ErrInvalid)
		_, err = s.Append(ctx, emk.Episode{Agent: "a", Goal: "g", Causes: []string{strings.Repeat("0", 64)}})
		assert.ErrorIs(t, err, agentos.ErrNotFound)
	})
}

func TestAppendEmbedder(t *testing.T) {
	ctx := context.Background()
	var texts []string
	var mu sync.Mutex
	s := openMem(t, emk.WithEmbedder(func(_ context.Context, text string) ([]float32, error) {
		mu.Lock()
		texts = append(texts, text)
		mu.Unlock()
		return []float32{3, 4}, nil
	}))
	e, err := s.Append(ctx, emk.Episode{Agent: "a", Goal: "goal", Action: " ", Reflection: "lesson", Embedding: []float32{9}})
	require.NoError(t, err)
	assert.Equal(t, []float32{3, 4}, e.Embedding)
	assert.Equal(t, []string{"goal\nlesson"}, texts)
	got, err := s.Get(ctx, e.ID)
	require.NoError(t, err)
	assert.Equal(t, []float32{3, 4}, got.Embedding)

	for name, f := range map[string]agentos.Embedder{
		"error": failingEmbedder,
		"empty": func(context.Context, string) ([]float32, error) { return nil, nil },
		"nan": func(context.Context, string) ([]float32, error) {
			return []float32{float32(zero() / zero())}, nil
		},
		"too long": func(context.Context, string) ([]float32, error) { return make([]float32, emk.MaxDims+1), nil },
	} {
		t.Run(name, func(t *testing.T) {
			s := openMem(t, emk.WithEmbedder(f))
			_, err := s.Append(ctx, emk.Episode{Agent: "a", Goal: "g"})
			require.Error(t, err)
			n, err := s.Count(ctx, "")
			require.NoError(t, err)
			assert.Zero(t, n)
		})
	}
}

func zero() float64 { return 0 }

func TestAppendQuota(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, emk.WithMaxEpisodes(2))
	a, err := s.Append(ctx, emk.Episode{Agent: "a", Goal: "1", Time: t0})
	require.NoError(t, err)
	_, err = s.AppendBatch(ctx, []emk.Episode{{Agent: "a", Goal: "2", Time: t0}, {Agent: "a", Goal: "3", Time: t0}})
	assert.ErrorIs(t, err, agentos.ErrQuota)
	_, err = s.Append(ctx, emk.Episode{Agent: "a", Goal: "2", Time: t0})
	require.NoError(t, err)
	_, err = s.Append(ctx, emk.Episode{Agent: "a", Goal: "3", Time: t0})
	assert.ErrorIs(t, err, agentos.ErrQuota)
	again, err := s.Append(ctx, emk.Episode{Agent: "a", Goal: "1", Time: t0})
	require.NoError(t, err, "an episode already stored takes no room")
	assert.Equal(t, a.ID, again.ID)
}

func TestAppendBatch(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, emk.WithClock(newClock().now))

	first := emk.Episode{Agent: "a", Goal: "first", Time: t0}
	firstID := first.ComputeID()
	out, err := s.AppendBatch(ctx, []emk.Episode{
		first,
		{Agent: "a", Goal: "second", Causes: []string{firstID}}, // a cause earlier in the batch
		first, // repeated: the same episode
	})
	require.NoError(t, err)
	require.Len(t, out, 3)
	assert.Equal(t, firstID, out[0].ID)
	assert.Equal(t, out[0], out[2])
	assert.Equal(t, []string{firstID}, out[1].Causes)
	n, err := s.Count(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, 2, n)

	t.Run("all or nothing", func(t *testing.T) {
		_, err := s.AppendBatch(ctx, []emk.Episode{
			{Agent: "b", Goal: "ok"},
			{Agent: "b", Goal: "bad", Causes: []string{strings.Repeat("1", 64)}},
		})
		assert.ErrorIs(t, err, agentos.ErrNotFound)
		_, err = s.AppendBatch(ctx, []emk.Episode{{Agent: "b", Goal: "ok"}, {Agent: "b"}})
		assert.ErrorIs(t, err, agentos.ErrInvalid)
		assert.Contains(t, err.Error(), "episode 1")
		n, err := s.Count(ctx, "b")
		require.NoError(t, err)
		assert.Zero(t, n)
	})
	t.Run("bounds", func(t *testing.T) {
		got, err := s.AppendBatch(ctx, nil)
		require.NoError(t, err)
		assert.Empty(t, got)
		_, err = s.AppendBatch(ctx, make([]emk.Episode, emk.MaxBatch+1))
		assert.ErrorIs(t, err, agentos.ErrInvalid)
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.AppendBatch(cctx, []emk.Episode{{Agent: "c", Goal: "g"}})
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestGet(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	for name, tt := range map[string]struct {
		id   string
		want error
	}{
		"empty":     {"", agentos.ErrInvalid},
		"short":     {"abc", agentos.ErrInvalid},
		"uppercase": {strings.Repeat("A", 64), agentos.ErrInvalid},
		"absent":    {strings.Repeat("a", 64), agentos.ErrNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Get(ctx, tt.id)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestCountAndList(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	var want []emk.Episode
	for i := range 25 {
		agent := []string{"a", "b"}[i%2]
		// Several episodes share a time, so the order falls to the id.
		e, err := s.Append(ctx, emk.Episode{Agent: agent, Goal: fmt.Sprint("g", i), Time: t0.Add(time.Duration(i/3) * time.Minute)})
		require.NoError(t, err)
		if agent == "a" {
			want = append(want, e)
		}
	}
	n, err := s.Count(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, 25, n)
	n, err = s.Count(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, 13, n)
	n, err = s.Count(ctx, "nobody")
	require.NoError(t, err)
	assert.Zero(t, n)

	var got []emk.Episode
	after := ""
	for {
		page, err := s.List(ctx, "a", after, 4)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 4)
		got = append(got, page...)
		if len(page) < 4 {
			break
		}
		after = page[len(page)-1].ID
	}
	require.Len(t, got, len(want))
	for i := 1; i < len(got); i++ {
		prev, cur := got[i-1], got[i]
		assert.True(t, prev.Time.Before(cur.Time) || prev.Time.Equal(cur.Time) && prev.ID < cur.ID, "order at %d", i)
	}
	assert.ElementsMatch(t, want, got)

	all, err := s.List(ctx, "", "", emk.MaxListLimit)
	require.NoError(t, err)
	assert.Len(t, all, 25)

	for name, tt := range map[string]struct {
		after string
		limit int
		want  error
	}{
		"zero limit":   {"", 0, agentos.ErrInvalid},
		"big limit":    {"", emk.MaxListLimit + 1, agentos.ErrInvalid},
		"bad after":    {"zz", 1, agentos.ErrInvalid},
		"after absent": {strings.Repeat("e", 64), 1, agentos.ErrNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.List(ctx, "a", tt.after, tt.limit)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

// Every table refuses UPDATE and DELETE, whoever asks.
func TestAppendOnlyTriggers(t *testing.T) {
	ctx := context.Background()
	s, path := openFile(t, emk.WithEmbedder(vectors{}.embed))
	c, err := s.Append(ctx, emk.Episode{Agent: "a", Goal: "cause", Time: t0.Add(-90 * 24 * time.Hour)})
	require.NoError(t, err)
	_, err = s.Append(ctx, emk.Episode{Agent: "a", Goal: "cause", Action: "again", Time: t0.Add(-89 * 24 * time.Hour), Causes: []string{c.ID}})
	require.NoError(t, err)
	_, err = s.Sleep(ctx, emk.SleepOptions{Now: t0})
	require.NoError(t, err)

	db := rawDB(t, path)
	for _, table := range []string{"episodes", "embeddings", "links", "compressed"} {
		var n int
		require.NoError(t, db.QueryRow("SELECT count(*) FROM "+table).Scan(&n))
		require.Positive(t, n, table)
		col := map[string]string{"episodes": "goal", "embeddings": "vec", "links": "cause", "compressed": "fact"}[table]
		for _, q := range []string{"UPDATE " + table + " SET " + col + " = " + col, "DELETE FROM " + table} {
			_, err := db.Exec(q)
			require.Error(t, err, q)
			assert.Contains(t, err.Error(), "append-only", q)
		}
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	s, err := emk.Open("")
	require.NoError(t, err)
	e, err := s.Append(ctx, emk.Episode{Agent: "a", Goal: "g"})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	calls := map[string]func() error{
		"Append":          func() error { _, err := s.Append(ctx, emk.Episode{Agent: "a", Goal: "h"}); return err },
		"Get":             func() error { _, err := s.Get(ctx, e.ID); return err },
		"Count":           func() error { _, err := s.Count(ctx, ""); return err },
		"List":            func() error { _, err := s.List(ctx, "", "", 1); return err },
		"Query":           func() error { _, err := s.Query(ctx, emk.Query{K: 1}); return err },
		"Failures":        func() error { _, err := s.Failures(ctx, "a", "x", 1); return err },
		"Trace":           func() error { _, err := s.Trace(ctx, e.ID, emk.Causes, 1, 1); return err },
		"MarkAntiPattern": func() error { _, err := s.MarkAntiPattern(ctx, e.ID, "r"); return err },
		"Sleep":           func() error { _, err := s.Sleep(ctx, emk.SleepOptions{}); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) { assert.ErrorIs(t, call(), agentos.ErrClosed) })
	}
}

// Appends and queries from many goroutines, on a file (parallel readers)
// and in memory (one connection); run with -race.
func TestConcurrent(t *testing.T) {
	for _, where := range []string{"memory", "file"} {
		t.Run(where, func(t *testing.T) {
			ctx := context.Background()
			var s *emk.Store
			if where == "file" {
				s, _ = openFile(t, emk.WithClock(newClock().now))
			} else {
				s = openMem(t, emk.WithClock(newClock().now))
			}
			const writers, perWriter = 4, 25
			var wg sync.WaitGroup
			errs := make(chan error, writers*perWriter*3)
			for w := range writers {
				wg.Add(2)
				go func() {
					defer wg.Done()
					for i := range perWriter {
						_, err := s.Append(ctx, emk.Episode{Agent: fmt.Sprint("w", w), Goal: fmt.Sprint("deploy ", i),
							Outcome: emk.OutcomeFailure, Time: t0.Add(time.Duration(i) * time.Second)})
						errs <- err
					}
				}()
				go func() {
					defer wg.Done()
					for range perWriter {
						_, err := s.Failures(ctx, "", "deploy 3", 5)
						errs <- err
						_, err = s.Count(ctx, "")
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			n, err := s.Count(ctx, "")
			require.NoError(t, err)
			assert.Equal(t, writers*perWriter, n)
		})
	}
}
