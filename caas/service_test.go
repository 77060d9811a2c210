package caas

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/glove"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func gloveEmbed(t testing.TB) agentos.Embedder {
	t.Helper()
	g, err := glove.New()
	require.NoError(t, err)
	return g.Embed
}

// newService returns a service on glove with a fixed clock.
func newService(t testing.TB, opts ...Option) *Service {
	t.Helper()
	s, err := New(gloveEmbed(t), append([]Option{WithClock(func() time.Time { return t0 })}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newCol(t testing.TB, opts ...Option) *Collection {
	t.Helper()
	c, err := newService(t, opts...).Collection(context.Background(), "agent-1")
	require.NoError(t, err)
	return c
}

func TestNewOptions(t *testing.T) {
	e := gloveEmbed(t)
	_, err := New(nil)
	assert.ErrorIs(t, err, agentos.ErrInvalid, "nil embedder")
	for name, o := range map[string]Option{
		"nil option":       nil,
		"nil clock":        WithClock(nil),
		"negative quota":   WithQuota(Quota{MaxVectors: -1}),
		"empty dir":        WithDir(""),
		"nil counter":      WithTokenCounter(nil),
		"bad chunking":     WithChunking(ChunkOptions{MaxBytes: 1}),
		"chunking overlap": WithChunking(ChunkOptions{Overlap: -3}),
	} {
		_, err := New(e, o)
		assert.ErrorIs(t, err, agentos.ErrInvalid, name)
	}
	s, err := New(e, WithQuota(Quota{MaxBytes: 10}))
	require.NoError(t, err)
	assert.Equal(t, Quota{MaxVectors: DefaultMaxVectors, MaxBytes: 10}, s.quota, "zero fields take the default")
}

func TestCollectionNames(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	for _, name := range []string{"a", "agent-1", "A.b_c:d-9", strings.Repeat("x", MaxCollectionName), "..."} {
		c, err := s.Collection(ctx, name)
		require.NoError(t, err, name)
		assert.Equal(t, name, c.Name())
		again, err := s.Collection(ctx, name)
		require.NoError(t, err)
		assert.Same(t, c, again, "get or create")
	}
	for _, name := range []string{"", ".", "..", "a/b", "a b", "é", strings.Repeat("x", MaxCollectionName+1), "a\x00"} {
		_, err := s.Collection(ctx, name)
		assert.ErrorIs(t, err, agentos.ErrInvalid, "%q", name)
	}
	assert.Equal(t, []string{"...", "A.b_c:d-9", "a", "agent-1", strings.Repeat("x", MaxCollectionName)}, s.Collections())

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.Collection(cctx, "z")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestMaxCollections(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	for i := range MaxCollections {
		_, err := s.Collection(ctx, fmt.Sprint("c", i))
		require.NoError(t, err)
	}
	_, err := s.Collection(ctx, "one-more")
	assert.ErrorIs(t, err, agentos.ErrQuota)
	_, err = s.Collection(ctx, "c0")
	assert.NoError(t, err, "an existing one is still there")
}

func TestIngestAndSearch(t *testing.T) {
	c := newCol(t)
	ctx := context.Background()
	r, err := c.Ingest(ctx, Document{Source: "guides/setup.md", Text: mdDoc, Meta: map[string]string{"lang": "en"}})
	require.NoError(t, err)
	assert.False(t, r.Replaced)
	assert.Positive(t, r.Chunks)
	r2, err := c.Ingest(ctx, Document{Source: "src/client.go", Text: goDoc})
	require.NoError(t, err)
	u := c.Usage()
	assert.Equal(t, Usage{Documents: 2, Vectors: r.Chunks + r2.Chunks, Bytes: r.Bytes + r2.Bytes}, u)

	d, err := c.Document(ctx, "guides/setup.md")
	require.NoError(t, err)
	assert.Equal(t, mdDoc, d.Text)
	assert.Equal(t, KindMarkdown, d.Kind)
	assert.Equal(t, t0, d.Time, "zero time takes the clock")
	assert.Equal(t, map[string]string{"lang": "en"}, d.Meta)

	for _, tc := range []struct {
		query, source, contains string
	}{
		{"http.NewRequest", "src/client.go", "http.NewRequest"},
		{"max_tokens", "guides/setup.md", "max_tokens"},
		{"install the tool with a package manager", "guides/setup.md", "Install the tool"},
	} {
		hits, err := c.Search(ctx, Query{Text: tc.query, K: 3})
		require.NoError(t, err)
		require.NotEmpty(t, hits, tc.query)
		assert.Equal(t, tc.source, hits[0].Chunk.Source, tc.query)
		assert.Contains(t, hits[0].Chunk.Text, tc.contains, tc.query)
		for i := 1; i < len(hits); i++ {
			assert.GreaterOrEqual(t, hits[i-1].Score, hits[i].Score, "best first")
		}
	}
	// Each mode answers; lexical finds the identifier by its word.
	for _, m := range []Mode{ModeVector, ModeLexical} {
		hits, err := c.Search(ctx, Query{Text: "max_tokens config", K: 2, Mode: m})
		require.NoError(t, err, m)
		require.NotEmpty(t, hits, m)
	}
	hits, err := c.Search(ctx, Query{Text: "max_tokens", K: 1, Mode: ModeLexical})
	require.NoError(t, err)
	assert.Contains(t, hits[0].Chunk.Text, "max_tokens")
	assert.Positive(t, hits[0].Lexical)
}

func TestSearchQueries(t *testing.T) {
	c := newCol(t)
	ctx := context.Background()
	_, err := c.Ingest(ctx, Document{Source: "guides/setup.md", Text: mdDoc})
	require.NoError(t, err)
	_, err = c.Ingest(ctx, Document{Source: "guidesX/other.md", Text: "# Other\n\nInstall something else."})
	require.NoError(t, err)
	_, err = c.Ingest(ctx, Document{Source: "src/client.go", Text: goDoc})
	require.NoError(t, err)
	total := c.Usage().Vectors

	for _, tc := range []struct {
		name string
		q    Query
	}{
		{"K zero", Query{Text: "x", K: 0}},
		{"K negative", Query{Text: "x", K: -1}},
		{"K over MaxK", Query{Text: "x", K: MaxK + 1}},
		{"empty text", Query{Text: " ", K: 1}},
		{"long text", Query{Text: strings.Repeat("a", MaxQueryBytes+1), K: 1}},
		{"bad mode", Query{Text: "x", K: 1, Mode: 7}},
		{"bad tier", Query{Text: "x", K: 1, Tiers: []Tier{4}}},
		{"bad prefix", Query{Text: "x", K: 1, Prefix: "../etc"}},
		{"negative decay", Query{Text: "x", K: 1, DecayRate: -1}},
		{"NaN decay", Query{Text: "x", K: 1, DecayRate: math.NaN()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Search(ctx, tc.q)
			assert.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	t.Run("K beyond the collection returns all there is", func(t *testing.T) {
		for _, m := range []Mode{ModeHybrid, ModeVector} {
			hits, err := c.Search(ctx, Query{Text: "install", K: MaxK, Mode: m})
			require.NoError(t, err)
			assert.Len(t, hits, total, m)
		}
	})
	t.Run("prefix is a directory", func(t *testing.T) {
		for _, p := range []string{"guides", "guides/"} {
			hits, err := c.Search(ctx, Query{Text: "install", K: MaxK, Prefix: p})
			require.NoError(t, err)
			require.NotEmpty(t, hits)
			for _, h := range hits {
				assert.Equal(t, "guides/setup.md", h.Chunk.Source)
			}
		}
		hits, err := c.Search(ctx, Query{Text: "install", K: MaxK, Prefix: "guides/setup.md"})
		require.NoError(t, err)
		assert.NotEmpty(t, hits, "a file is its own prefix")
	})
	t.Run("tiers", func(t *testing.T) {
		hits, err := c.Search(ctx, Query{Text: "client request", K: MaxK, Tiers: []Tier{TierContract}})
		require.NoError(t, err)
		require.NotEmpty(t, hits)
		for _, h := range hits {
			assert.Equal(t, TierContract, h.Chunk.Tier)
		}
	})
	t.Run("a query vector with no direction", func(t *testing.T) {
		s, err := New(fakeEmbed(t, func(context.Context) ([]float32, error) { return make([]float32, 100), nil }))
		require.NoError(t, err)
		defer s.Close()
		z, err := s.Collection(ctx, "z")
		require.NoError(t, err)
		_, err = z.Ingest(ctx, Document{Source: "a.txt", Text: "the poison antidote"})
		assert.ErrorIs(t, err, ErrEmbedding, "a zero chunk vector is refused")
		_, err = z.Ingest(ctx, Document{Source: "a.txt", Text: "the antidote works"})
		require.NoError(t, err)
		hits, err := z.Search(ctx, Query{Text: "poison antidote", K: 1})
		require.NoError(t, err, "hybrid falls back to words")
		require.Len(t, hits, 1)
		assert.Positive(t, hits[0].Lexical)
		_, err = z.Search(ctx, Query{Text: "poison antidote", K: 1, Mode: ModeVector})
		assert.ErrorIs(t, err, ErrEmbedding, "vector mode has nothing to rank by")
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Search(cctx, Query{Text: "x", K: 1})
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("empty collection", func(t *testing.T) {
		e := newCol(t)
		hits, err := e.Search(ctx, Query{Text: "x", K: 5})
		require.NoError(t, err)
		assert.Empty(t, hits)
	})
}

func TestDecay(t *testing.T) {
	day := 24 * time.Hour
	assert.InDelta(t, 0.5, Decay(day, 1), 1e-9)
	assert.InDelta(t, 0.125, Decay(7*day, 1), 1e-9)
	assert.Less(t, Decay(365*day, 1), 0.01)
	assert.Equal(t, 1.0, Decay(-day, 1), "the future does not boost")
	assert.Equal(t, 1.0, Decay(day, 0))

	c := newCol(t)
	ctx := context.Background()
	text := "The deployment runbook: restart the service and check the logs."
	for i, age := range []time.Duration{300 * day, 0, 30 * day} {
		_, err := c.Ingest(ctx, Document{Source: fmt.Sprintf("notes/n%d.txt", i), Text: text, Time: t0.Add(-age)})
		require.NoError(t, err)
	}
	hits, err := c.Search(ctx, Query{Text: "deployment runbook", K: 3})
	require.NoError(t, err)
	require.Len(t, hits, 3)
	assert.Equal(t, "notes/n0.txt", hits[0].Chunk.Source, "no decay: equal scores, ties by ID")
	hits, err = c.Search(ctx, Query{Text: "deployment runbook", K: 3, DecayRate: 0.1, Now: t0})
	require.NoError(t, err)
	require.Len(t, hits, 3)
	assert.Equal(t, []string{"notes/n1.txt", "notes/n2.txt", "notes/n0.txt"},
		[]string{hits[0].Chunk.Source, hits[1].Chunk.Source, hits[2].Chunk.Source}, "recent beats old")
	for _, m := range []Mode{ModeVector, ModeLexical} {
		hits, err = c.Search(ctx, Query{Text: "deployment runbook", K: 1, DecayRate: 1, Mode: m})
		require.NoError(t, err)
		assert.Equal(t, "notes/n1.txt", hits[0].Chunk.Source, m)
	}
}

// fakeEmbed returns an embedder whose behaviour for a text containing
// "poison" is bad; other texts get glove vectors.
func fakeEmbed(t testing.TB, bad func(ctx context.Context) ([]float32, error)) agentos.Embedder {
	g := gloveEmbed(t)
	return func(ctx context.Context, text string) ([]float32, error) {
		if strings.Contains(text, "poison") {
			return bad(ctx)
		}
		return g(ctx, text)
	}
}

func TestIngestErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("model down")
	doc := Document{Source: "a.md", Text: "# Title\n\nfine text\n\n## Poisoned\n\nthe poison chunk"}
	for _, tc := range []struct {
		name string
		bad  func(ctx context.Context) ([]float32, error)
		want error
	}{
		{"error", func(context.Context) ([]float32, error) { return nil, boom }, boom},
		{"wrong dimension", func(context.Context) ([]float32, error) { return make([]float32, 3), nil }, ErrEmbedding},
		{"NaN", func(context.Context) ([]float32, error) {
			v := make([]float32, 100)
			v[0] = float32(math.NaN())
			return v, nil
		}, ErrEmbedding},
		{"zero", func(context.Context) ([]float32, error) { return make([]float32, 100), nil }, ErrEmbedding},
		{"empty", func(context.Context) ([]float32, error) { return nil, nil }, ErrEmbedding},
		{"timeout", func(ctx context.Context) ([]float32, error) { <-ctx.Done(); return nil, ctx.Err() }, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(fakeEmbed(t, tc.bad))
			require.NoError(t, err)
			defer s.Close()
			c, err := s.Collection(ctx, "c")
			require.NoError(t, err)
			_, err = c.Ingest(ctx, Document{Source: "ok.txt", Text: "some prior text"})
			require.NoError(t, err)
			before := c.Usage()
			ictx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err = c.Ingest(ictx, doc)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			if tc.want != context.DeadlineExceeded {
				assert.Contains(t, err.Error(), "a.md#", "names the chunk")
			}
			assert.Equal(t, before, c.Usage(), "nothing stored")
			assert.Len(t, c.Sources(""), 1)
			_, err = c.Document(ctx, "a.md")
			assert.ErrorIs(t, err, agentos.ErrNotFound)
		})
	}
	c := newCol(t)
	for name, d := range map[string]Document{
		"empty":    {Source: "a", Text: ""},
		"binary":   {Source: "a", Text: "\x00\x01\x02"},
		"bad meta": {Source: "a", Text: "x", Meta: map[string]string{"": "v"}},
		"bad src":  {Source: "../a", Text: "x"},
	} {
		_, err := c.Ingest(ctx, d)
		assert.ErrorIs(t, err, agentos.ErrInvalid, name)
	}
	assert.Equal(t, Usage{}, c.Usage())
}

func TestReplaceAndRemove(t *testing.T) {
	c := newCol(t)
	ctx := context.Background()
	first := "# Old\n\nThe zebra migration happens in spring.\n\n## More\n\nZebras graze."
	r, err := c.Ingest(ctx, Document{Source: "a/x.md", Text: first})
	require.NoError(t, err)
	require.Equal(t, 4, r.Chunks)
	r, err = c.Ingest(ctx, Document{Source: "a/x.md", Text: "The penguin colony breeds in winter."})
	require.NoError(t, err)
	assert.True(t, r.Replaced)
	assert.Equal(t, 1, r.Chunks)
	assert.Equal(t, Usage{Documents: 1, Vectors: 1, Bytes: r.Bytes}, c.Usage())
	hits, err := c.Search(ctx, Query{Text: "zebra", K: 10})
	require.NoError(t, err)
	require.Len(t, hits, 1, "the old chunks are gone")
	assert.Equal(t, "a/x.md#0", hits[0].Chunk.ID)
	assert.Contains(t, hits[0].Chunk.Text, "penguin")
	hits, err = c.Search(ctx, Query{Text: "zebra", K: 10, Mode: ModeLexical})
	require.NoError(t, err)
	assert.Empty(t, hits)

	_, err = c.Ingest(ctx, Document{Source: "b.txt", Text: "another"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a/x.md", "b.txt"}, sourcesOf(c.Sources("")))
	assert.Equal(t, []string{"a/x.md"}, sourcesOf(c.Sources("a")))
	assert.Empty(t, c.Sources("../bad"))
	require.NoError(t, c.Remove(ctx, "a/x.md"))
	assert.ErrorIs(t, c.Remove(ctx, "a/x.md"), agentos.ErrNotFound)
	assert.Equal(t, 1, c.Usage().Documents)
	hits, err = c.Search(ctx, Query{Text: "penguin", K: 10})
	require.NoError(t, err)
	for _, h := range hits {
		assert.Equal(t, "b.txt", h.Chunk.Source)
	}
}

func sourcesOf(in []SourceInfo) []string {
	var out []string
	for _, s := range in {
		out = append(out, s.Source)
	}
	return out
}

func TestQuota(t *testing.T) {
	ctx := context.Background()
	text := "alpha beta gamma" // one chunk of 16 bytes: 32 bytes in all
	c := newCol(t, WithQuota(Quota{MaxVectors: 3, MaxBytes: 96}))
	for i := range 3 {
		r, err := c.Ingest(ctx, Document{Source: fmt.Sprint("d", i), Text: text})
		require.NoError(t, err, "up to the exact limit")
		assert.Equal(t, int64(32), r.Bytes)
	}
	_, err := c.Ingest(ctx, Document{Source: "d3", Text: text})
	assert.ErrorIs(t, err, agentos.ErrQuota)
	assert.Equal(t, Usage{Documents: 3, Vectors: 3, Bytes: 96}, c.Usage(), "nothing changed")
	_, err = c.Ingest(ctx, Document{Source: "d0", Text: "alpha beta gammas"})
	assert.ErrorIs(t, err, agentos.ErrQuota, "a replacement one byte bigger")
	_, err = c.Ingest(ctx, Document{Source: "d0", Text: "alpha beta delta"})
	assert.NoError(t, err, "a replacement of the same size fits")
	require.NoError(t, c.Remove(ctx, "d1"))
	_, err = c.Ingest(ctx, Document{Source: "d3", Text: text})
	assert.NoError(t, err, "room after a removal")

	v := newCol(t, WithQuota(Quota{MaxVectors: 2}))
	_, err = v.Ingest(ctx, Document{Source: "three.md", Text: "# A\n\nb\n\n# C"})
	assert.ErrorIs(t, err, agentos.ErrQuota, "three chunks, two vectors allowed")
}

func TestPersistence(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := New(gloveEmbed(t), WithDir(dir), WithClock(func() time.Time { return t0 }))
	require.NoError(t, err)
	c, err := s.Collection(ctx, "agent:1")
	require.NoError(t, err)
	_, err = c.Ingest(ctx, Document{Source: "guides/setup.md", Text: mdDoc, Meta: map[string]string{"k": "v"}})
	require.NoError(t, err)
	_, err = c.Ingest(ctx, Document{Source: "src/client.go", Text: goDoc, Time: t0.Add(-time.Hour)})
	require.NoError(t, err)
	_, err = s.Collection(ctx, "empty")
	require.NoError(t, err)
	q := Query{Text: "http.NewRequest", K: 5}
	want, err := c.Search(ctx, q)
	require.NoError(t, err)
	require.NoError(t, s.Save(ctx))
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Close(), agentos.ErrClosed)
	assert.ErrorIs(t, s.Save(ctx), agentos.ErrClosed)
	_, err = c.Search(ctx, q)
	assert.ErrorIs(t, err, agentos.ErrClosed)
	_, err = c.Ingest(ctx, Document{Source: "x", Text: "y"})
	assert.ErrorIs(t, err, agentos.ErrClosed)
	_, err = s.Collection(ctx, "x")
	assert.ErrorIs(t, err, agentos.ErrClosed)

	s2, err := New(gloveEmbed(t), WithDir(dir))
	require.NoError(t, err)
	assert.Equal(t, []string{"agent:1", "empty"}, s2.Collections())
	c2, err := s2.Collection(ctx, "agent:1")
	require.NoError(t, err)
	assert.Equal(t, c.usage, c2.Usage())
	got, err := c2.Search(ctx, q)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	d, err := c2.Document(ctx, "guides/setup.md")
	require.NoError(t, err)
	assert.Equal(t, Document{Source: "guides/setup.md", Kind: KindMarkdown, Text: mdDoc, Time: t0, Meta: map[string]string{"k": "v"}}, d)
	_, err = c2.Ingest(ctx, Document{Source: "new.txt", Text: "more"})
	require.NoError(t, err)
	require.NoError(t, s2.Close())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary files left")

	t.Run("quota lowered since", func(t *testing.T) {
		s3, err := New(gloveEmbed(t), WithDir(dir), WithQuota(Quota{MaxVectors: 1}))
		require.NoError(t, err, "loads what it holds")
		defer s3.Close()
		c3, err := s3.Collection(ctx, "agent:1")
		require.NoError(t, err)
		assert.Greater(t, c3.Usage().Vectors, 1)
		_, err = c3.Ingest(ctx, Document{Source: "more.txt", Text: "more"})
		assert.ErrorIs(t, err, agentos.ErrQuota, "and refuses ingests until back under")
	})
	t.Run("corrupt file", func(t *testing.T) {
		file := filepath.Join(dir, "agent:1"+fileSuffix)
		for name, data := range map[string][]byte{
			"garbage":   []byte("not gzip at all"),
			"truncated": mustRead(t, file)[:40],
		} {
			bad := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(bad, "agent:1"+fileSuffix), data, 0o600))
			_, err := New(gloveEmbed(t), WithDir(bad))
			require.Error(t, err, name)
			assert.Contains(t, err.Error(), filepath.Join(bad, "agent:1"+fileSuffix), name)
		}
		bad := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(bad, "bad name"+fileSuffix), mustRead(t, file), 0o600))
		_, err := New(gloveEmbed(t), WithDir(bad))
		assert.ErrorIs(t, err, agentos.ErrInvalid)
	})
}

func mustRead(t *testing.T, file string) []byte {
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	return b
}

func TestConcurrentUse(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	dir := t.TempDir()
	s := newService(t, WithDir(dir))
	c, err := s.Collection(ctx, "shared")
	require.NoError(t, err)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	saver := make(chan struct{})
	go func() { // saves run beside ingests and searches
		defer close(saver)
		for {
			select {
			case <-stop:
				return
			default:
				assert.NoError(t, s.Save(ctx))
			}
		}
	}()
	for w := range 4 {
		wg.Go(func() {
			for i := range 15 {
				src := fmt.Sprintf("w%d/doc%d.md", w, i%5)
				_, err := c.Ingest(ctx, Document{Source: src, Text: fmt.Sprintf("# Doc %d\n\nWorker %d wrote about topic %d.", i, w, i)})
				assert.NoError(t, err)
				_, err = c.Search(ctx, Query{Text: "topic worker", K: 5})
				assert.NoError(t, err)
				_, err = c.Context(ctx, ContextRequest{Query: "topic", MaxTokens: 60})
				assert.NoError(t, err)
				if i%4 == 3 {
					err := c.Remove(ctx, src)
					assert.NoError(t, err)
				}
				c.Sources("")
				c.Usage()
			}
		})
	}
	wg.Wait()
	close(stop)
	<-saver
	u := c.Usage()
	n, v := 0, 0
	for _, s := range c.Sources("") {
		n++
		v += s.Chunks
	}
	assert.Equal(t, Usage{Documents: n, Vectors: v, Bytes: u.Bytes}, u)
	require.NoError(t, s.Close())
	s2, err := New(gloveEmbed(t), WithDir(dir))
	require.NoError(t, err)
	defer s2.Close()
	c2, err := s2.Collection(ctx, "shared")
	require.NoError(t, err)
	assert.Equal(t, u, c2.Usage(), "what Close saved is what was there")
}
