//go:build cgo

package emk_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/emk"
)

// A recent weak match against an old strong one: the weights decide.
func TestQueryMixesSimilarityAndRecency(t *testing.T) {
	ctx := context.Background()
	emb := vectors{
		"deploy":     {1, 0, 0, 0},
		"old strong": {1, 0, 0, 0},     // cosine 1 with "deploy"
		"new weak":   {0.6, 0.8, 0, 0}, // cosine 0.6
	}
	s := openMem(t, emk.WithEmbedder(emb.embed), emk.WithClock(newClock().now))
	_, err := s.Append(ctx, ep("a", "old strong", "x", emk.OutcomeFailure, 28*24*time.Hour)) // 4 half-lives
	require.NoError(t, err)
	_, err = s.Append(ctx, ep("a", "new weak", "y", emk.OutcomeFailure, 0))
	require.NoError(t, err)

	tests := []struct {
		name    string
		weights emk.Weights
		want    []string
	}{
		{"similarity only", emk.Weights{Similarity: 1}, []string{"old strong", "new weak"}},
		{"recency only", emk.Weights{Recency: 1}, []string{"new weak", "old strong"}},
		{"defaults favour the recent weak match", emk.Weights{}, []string{"new weak", "old strong"}},
		{"similarity heavy", emk.Weights{Similarity: 0.9, Recency: 0.1}, []string{"old strong", "new weak"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Query(ctx, emk.Query{Text: "deploy", K: 5, Weights: tt.weights})
			require.NoError(t, err)
			assert.Equal(t, tt.want, ids(got))
		})
	}

	got, err := s.Query(ctx, emk.Query{Text: "deploy", K: 5})
	require.NoError(t, err)
	byGoal := map[string]emk.Scored{}
	for _, g := range got {
		byGoal[g.Episode.Goal] = g
	}
	old, recent := byGoal["old strong"], byGoal["new weak"]
	assert.InDelta(t, 1, old.Similarity, 1e-6)
	assert.InDelta(t, 1.0/16, old.Recency, 1e-9)
	assert.InDelta(t, 0.7*1+0.3/16, old.Score, 1e-6)
	assert.InDelta(t, 0.6, recent.Similarity, 1e-6)
	assert.InDelta(t, 1, recent.Recency, 1e-9)
	assert.InDelta(t, 0.7*0.6+0.3, recent.Score, 1e-6)

	// A longer half-life makes age matter less.
	got, err = s.Query(ctx, emk.Query{Text: "deploy", K: 5, HalfLife: 365 * 24 * time.Hour})
	require.NoError(t, err)
	assert.Equal(t, []string{"old strong", "new weak"}, ids(got))

	// Now moves the reference point.
	got, err = s.Query(ctx, emk.Query{K: 5, Weights: emk.Weights{Recency: 1}, Now: t0.Add(-28 * 24 * time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, 1.0, got[0].Recency, "an episode after Now is as recent as can be")
}

// Without an embedder, Text ranks by shared words.
func TestQueryLexicalFallback(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, emk.WithClock(newClock().now))
	for _, e := range []emk.Episode{
		ep("a", "Deploy the payment service", "kubectl apply", emk.OutcomeFailure, time.Hour),
		ep("a", "write the report", "open editor", emk.OutcomeSuccess, 0),
		ep("a", "deploy docs", "rsync", emk.OutcomeSuccess, 2*time.Hour),
	} {
		_, err := s.Append(ctx, e)
		require.NoError(t, err)
	}
	got, err := s.Query(ctx, emk.Query{Text: "deploy PAYMENT", K: 3, Weights: emk.Weights{Similarity: 1}})
	require.NoError(t, err)
	assert.Equal(t, []string{"Deploy the payment service", "deploy docs", "write the report"}, ids(got))
	assert.Zero(t, got[2].Similarity)
	// "deploy payment" vs {deploy, the, payment, service, kubectl, apply, result, of}: 2/√(2·8).
	assert.InDelta(t, 2/math.Sqrt(16), got[0].Similarity, 1e-9)

	got, err = s.Query(ctx, emk.Query{Text: " ,;", K: 3, Weights: emk.Weights{Similarity: 1}})
	require.NoError(t, err)
	assert.Equal(t, []string{"write the report", "Deploy the payment service", "deploy docs"}, ids(got),
		"no words: every similarity is 0 and recency breaks the tie")
}

func TestQueryFilters(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, emk.WithClock(newClock().now))
	add := func(e emk.Episode, meta map[string]string) {
		e.Meta = meta
		_, err := s.Append(ctx, e)
		require.NoError(t, err)
	}
	add(ep("a", "a1", "x", emk.OutcomeSuccess, 1*time.Hour), map[string]string{"env": "prod", "team": "x"})
	add(ep("a", "a2", "x", emk.OutcomeFailure, 2*time.Hour), map[string]string{"env": "dev"})
	add(ep("a", "a3", "x", emk.OutcomeAntiPattern, 3*time.Hour), nil)
	add(ep("b", "b1", "x", emk.OutcomeFailure, 4*time.Hour), map[string]string{"env": "prod"})
	add(ep("b", "b2", "x", emk.OutcomeUnknown, 5*time.Hour), map[string]string{"env": "\"prod\""})

	tests := []struct {
		name string
		q    emk.Query
		want []string
	}{
		{"all, recent first", emk.Query{}, []string{"a1", "a2", "a3", "b1", "b2"}},
		{"agent", emk.Query{Agent: "b"}, []string{"b1", "b2"}},
		{"outcomes", emk.Query{Outcomes: []emk.Outcome{emk.OutcomeFailure, emk.OutcomeAntiPattern}}, []string{"a2", "a3", "b1"}},
		{"unknown outcome", emk.Query{Outcomes: []emk.Outcome{emk.OutcomeUnknown}}, []string{"b2"}},
		{"since inclusive", emk.Query{Since: t0.Add(-3 * time.Hour)}, []string{"a1", "a2", "a3"}},
		{"until exclusive", emk.Query{Until: t0.Add(-3 * time.Hour)}, []string{"b1", "b2"}},
		{"window", emk.Query{Since: t0.Add(-4 * time.Hour), Until: t0.Add(-2 * time.Hour)}, []string{"a3", "b1"}},
		{"meta", emk.Query{Meta: map[string]string{"env": "prod"}}, []string{"a1", "b1"}},
		{"meta all", emk.Query{Meta: map[string]string{"env": "prod", "team": "x"}}, []string{"a1"}},
		{"meta quoted", emk.Query{Meta: map[string]string{"env": "\"prod\""}}, []string{"b2"}},
		{"meta absent", emk.Query{Meta: map[string]string{"nope": ""}}, []string{}},
		{"text with filters", emk.Query{Agent: "a", Text: "a2", Outcomes: []emk.Outcome{emk.OutcomeFailure}}, []string{"a2"}},
		{"nothing", emk.Query{Agent: "c"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.K = 10
			got, err := s.Query(ctx, tt.q)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ids(got))
		})
	}
	got, err := s.Query(ctx, emk.Query{K: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"a1", "a2"}, ids(got), "K bounds the answer")
}

func TestQueryInvalid(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	manyMeta := map[string]string{}
	for i := range emk.MaxMetaEntries + 1 {
		manyMeta[strings.Repeat("k", i+1)] = ""
	}
	for name, q := range map[string]emk.Query{
		"K zero":             {},
		"K negative":         {K: -1},
		"K too big":          {K: emk.MaxK + 1},
		"outcome":            {K: 1, Outcomes: []emk.Outcome{"bad"}},
		"too many outcomes":  {K: 1, Outcomes: make([]emk.Outcome, 6)},
		"until before since": {K: 1, Since: t0, Until: t0.Add(-time.Second)},
		"until equal since":  {K: 1, Since: t0, Until: t0},
		"since out of range": {K: 1, Since: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"meta":               {K: 1, Meta: manyMeta},
		"text size":          {K: 1, Text: strings.Repeat("x", emk.MaxQueryText+1)},
		"text utf8":          {K: 1, Text: "\xff"},
		"negative weight":    {K: 1, Weights: emk.Weights{Similarity: -1}},
		"nan weight":         {K: 1, Weights: emk.Weights{Recency: math.NaN()}},
		"inf weight":         {K: 1, Weights: emk.Weights{Recency: math.Inf(1)}},
		"half-life":          {K: 1, HalfLife: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Query(ctx, q)
			assert.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	t.Run("embedder error", func(t *testing.T) {
		s := openMem(t, emk.WithEmbedder(failingEmbedder))
		_, err := s.Query(ctx, emk.Query{K: 1, Text: "x"})
		assert.ErrorIs(t, err, agentos.ErrClosed) // what failingEmbedder wraps
	})
}

// Text queries score only the MaxCandidates most recent matches.
func TestQueryCandidateBound(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, emk.WithClock(newClock().now))
	emk.SetCandidates(s, 3)
	_, err := s.Append(ctx, ep("a", "deploy payments", "x", emk.OutcomeFailure, 10*time.Hour))
	require.NoError(t, err)
	for i, g := range []string{"lunch", "coffee", "email"} {
		_, err := s.Append(ctx, ep("a", g, "y", emk.OutcomeFailure, time.Duration(i)*time.Hour))
		require.NoError(t, err)
	}
	got, err := s.Query(ctx, emk.Query{Text: "deploy payments", K: 4, Weights: emk.Weights{Similarity: 1}})
	require.NoError(t, err)
	assert.Equal(t, []string{"lunch", "coffee", "email"}, ids(got), "the oldest match is beyond the bound")
	got, err = s.Query(ctx, emk.Query{Text: "deploy payments", K: 4, Until: t0.Add(-5 * time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, []string{"deploy payments"}, ids(got), "a narrower query reaches it")
}

func TestFailuresAndSuccesses(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, emk.WithClock(newClock().now))
	for _, e := range []emk.Episode{
		ep("a", "deploy api", "kubectl apply", emk.OutcomeFailure, 3*time.Hour),
		ep("a", "deploy api", "kubectl rollout", emk.OutcomeFailure, 1*time.Hour), // ties with the one above
		ep("a", "deploy api", "helm upgrade", emk.OutcomeSuccess, 2*time.Hour),
		ep("a", "write docs", "vim", emk.OutcomeFailure, 0),
		ep("b", "deploy api", "kubectl apply", emk.OutcomeFailure, 0),
	} {
		_, err := s.Append(ctx, e)
		require.NoError(t, err)
	}
	fails, err := s.Failures(ctx, "a", "deploy api", 10)
	require.NoError(t, err)
	var actions []string
	for _, f := range fails {
		actions = append(actions, f.Episode.Action)
	}
	assert.Equal(t, []string{"kubectl rollout", "kubectl apply", "vim"}, actions, "most similar, recent first on ties")

	orig := fails[1].Episode
	marked, err := s.MarkAntiPattern(ctx, orig.ID, "apply without a dry run broke prod")
	require.NoError(t, err)
	assert.Equal(t, emk.OutcomeAntiPattern, marked.Outcome)
	assert.Equal(t, []string{orig.ID}, marked.Causes)
	assert.Equal(t, orig.Agent, marked.Agent)
	again, err := s.Get(ctx, orig.ID)
	require.NoError(t, err)
	assert.Equal(t, orig, again, "the original is unchanged")
	fails, err = s.Failures(ctx, "a", "apply without a dry run", 1)
	require.NoError(t, err)
	assert.Equal(t, marked.ID, fails[0].Episode.ID, "anti-patterns are failures too")

	wins, err := s.Successes(ctx, "", "deploy", 10)
	require.NoError(t, err)
	require.Len(t, wins, 1)
	assert.Equal(t, "helm upgrade", wins[0].Episode.Action)

	_, err = s.Failures(ctx, "a", "x", 0)
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = s.MarkAntiPattern(ctx, strings.Repeat("c", 64), "why")
	assert.ErrorIs(t, err, agentos.ErrNotFound)
	_, err = s.MarkAntiPattern(ctx, orig.ID, " ")
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = s.MarkAntiPattern(ctx, orig.ID, strings.Repeat("r", emk.MaxFieldSize+1))
	assert.ErrorIs(t, err, agentos.ErrInvalid)
}

// Episodes stored without an embedding, or with one of other dimensions,
// have similarity 0 rather than an error.
func TestQueryMixedEmbeddings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := dir + "/m.db"
	plain, err := emk.Open(path, emk.WithClock(newClock().now))
	require.NoError(t, err)
	_, err = plain.Append(ctx, ep("a", "no vector", "x", emk.OutcomeFailure, 0))
	require.NoError(t, err)
	require.NoError(t, plain.Close())
	short, err := emk.Open(path, emk.WithClock(newClock().now), emk.WithEmbedder(func(context.Context, string) ([]float32, error) {
		return []float32{1, 0}, nil
	}))
	require.NoError(t, err)
	_, err = short.Append(ctx, ep("a", "two dims", "x", emk.OutcomeFailure, time.Hour))
	require.NoError(t, err)
	require.NoError(t, short.Close())

	s, err := emk.Open(path, emk.WithClock(newClock().now), emk.WithEmbedder(vectors{"q": {1, 0, 0, 0}, "four": {1, 0, 0, 0}}.embed))
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Append(ctx, ep("a", "four dims", "x", emk.OutcomeFailure, 2*time.Hour))
	require.NoError(t, err)
	got, err := s.Query(ctx, emk.Query{Text: "q", K: 3, Weights: emk.Weights{Similarity: 1}})
	require.NoError(t, err)
	assert.Equal(t, []string{"four dims", "no vector", "two dims"}, ids(got))
	assert.Zero(t, got[1].Similarity)
	assert.Zero(t, got[2].Similarity)
}
