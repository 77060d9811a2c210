package caas

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// corpus ingests a few documents of several ages.
func corpus(t *testing.T, c *Collection) {
	t.Helper()
	ctx := context.Background()
	docs := []Document{
		{Source: "guides/setup.md", Text: mdDoc},
		{Source: "src/client.go", Text: goDoc},
		{Source: "notes/old.txt", Text: "The install script was replaced long ago. Use the package manager.", Time: t0.Add(-90 * 24 * time.Hour)},
		{Source: "notes/recent.txt", Text: strings.Repeat("Install notes from this week: the package manager needs a proxy. ", 8), Time: t0.Add(-24 * time.Hour)},
	}
	for _, d := range docs {
		_, err := c.Ingest(ctx, d)
		require.NoError(t, err, d.Source)
	}
}

// checkContext asserts what Context promises: within budget, the count
// right, each citation slicing its stored document exactly and present in
// the text.
func checkContext(t *testing.T, c *Collection, r ContextRequest, got Context) {
	t.Helper()
	ctx := context.Background()
	n, err := c.svc.counter.Count(got.Text)
	require.NoError(t, err)
	assert.Equal(t, n, got.Tokens)
	assert.LessOrEqual(t, got.Tokens, r.MaxTokens, "budget exceeded")
	for _, h := range r.Hot {
		assert.Contains(t, got.Text, h, "hot blocks are always in")
	}
	for _, cite := range got.Citations {
		d, err := c.Document(ctx, cite.Source)
		require.NoError(t, err)
		require.True(t, 0 <= cite.Start && cite.Start < cite.End && cite.End <= len(d.Text), "%+v", cite)
		assert.Contains(t, got.Text, header(cite.Source, cite.Start, cite.End)+d.Text[cite.Start:cite.End])
	}
}

func TestContext(t *testing.T) {
	c := newCol(t)
	corpus(t, c)
	ctx := context.Background()

	t.Run("packs hot, warm, then retrieved, cited", func(t *testing.T) {
		r := ContextRequest{Query: "how do I install with the package manager", MaxTokens: 400,
			Hot: []string{"User: the install fails."}, Warm: []string{"You are a release engineer."}}
		got, err := c.Context(ctx, r)
		require.NoError(t, err)
		checkContext(t, c, r, got)
		assert.True(t, strings.HasPrefix(got.Text, "User: the install fails.\n\nYou are a release engineer.\n\n["), got.Text)
		require.NotEmpty(t, got.Citations)
		for _, cite := range got.Citations {
			assert.NotEqual(t, "notes/old.txt", cite.Source, "cold by default")
		}
	})
	t.Run("cold included on request", func(t *testing.T) {
		r := ContextRequest{Query: "install script replaced", MaxTokens: 2000, IncludeCold: true}
		got, err := c.Context(ctx, r)
		require.NoError(t, err)
		checkContext(t, c, r, got)
		var srcs []string
		for _, cite := range got.Citations {
			srcs = append(srcs, cite.Source)
		}
		assert.Contains(t, srcs, "notes/old.txt")
		r.ColdAfter = 365 * 24 * time.Hour
		r.IncludeCold = false
		got2, err := c.Context(ctx, r)
		require.NoError(t, err)
		assert.Equal(t, got.Citations, got2.Citations, "a longer ColdAfter keeps it warm")
	})
	t.Run("adjacent chunks merge", func(t *testing.T) {
		r := ContextRequest{Query: "setup guide install configure max_tokens note footnote", MaxTokens: 4000, Prefix: "guides", DecayRate: NoDecay}
		got, err := c.Context(ctx, r)
		require.NoError(t, err)
		checkContext(t, c, r, got)
		require.Len(t, got.Citations, 1, "the whole guide is one block: %+v", got.Citations)
		assert.Equal(t, TierContract, got.Citations[0].Tier)
		assert.Equal(t, 0, got.Citations[0].Start)
		assert.Equal(t, len(strings.TrimRight(mdDoc, "\n")), got.Citations[0].End)
	})
	t.Run("hot over budget is an error", func(t *testing.T) {
		_, err := c.Context(ctx, ContextRequest{MaxTokens: 3, Hot: []string{"this hot block is far longer than three tokens"}})
		assert.ErrorIs(t, err, ErrBudget)
		assert.ErrorIs(t, err, agentos.ErrQuota)
	})
	t.Run("warm that does not fit is dropped", func(t *testing.T) {
		r := ContextRequest{MaxTokens: 8, Hot: []string{"hot"}, Warm: []string{strings.Repeat("persona ", 20), "brief"}}
		got, err := c.Context(ctx, r)
		require.NoError(t, err)
		checkContext(t, c, r, got)
		assert.Equal(t, "hot\n\nbrief", got.Text)
		assert.Equal(t, 1, got.Dropped)
	})
	t.Run("bad requests", func(t *testing.T) {
		for name, r := range map[string]ContextRequest{
			"no budget":        {Query: "x"},
			"negative budget":  {Query: "x", MaxTokens: -1},
			"huge budget":      {Query: "x", MaxTokens: MaxContextTokens + 1},
			"K":                {Query: "x", MaxTokens: 10, K: MaxK + 1},
			"cold":             {Query: "x", MaxTokens: 10, ColdAfter: -1},
			"weight":           {Query: "x", MaxTokens: 10, TierWeights: map[Tier]float64{TierBody: -1}},
			"tier":             {Query: "x", MaxTokens: 10, TierWeights: map[Tier]float64{9: 1}},
			"many hot":         {MaxTokens: 10, Hot: make([]string, MaxBlocks+1)},
			"prefix":           {Query: "x", MaxTokens: 10, Prefix: "/abs"},
			"mode":             {Query: "x", MaxTokens: 10, Mode: -1},
			"mode, no query":   {MaxTokens: 10, Mode: 5},
			"prefix, no query": {MaxTokens: 10, Prefix: "a/../b"},
			"long query":       {Query: strings.Repeat("q", MaxQueryBytes+1), MaxTokens: 10},
		} {
			_, err := c.Context(ctx, r)
			assert.ErrorIs(t, err, agentos.ErrInvalid, name)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Context(cctx, ContextRequest{Query: "install", MaxTokens: 100})
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("tier weights steer", func(t *testing.T) {
		r := ContextRequest{Query: "Client Get request", MaxTokens: 60, Prefix: "src", DecayRate: NoDecay,
			TierWeights: map[Tier]float64{TierContract: 10}}
		got, err := c.Context(ctx, r)
		require.NoError(t, err)
		checkContext(t, c, r, got)
		require.NotEmpty(t, got.Citations)
		assert.Equal(t, TierContract, got.Citations[0].Tier)
	})
}

// TestContextBudgetProperty packs random budgets and queries: the budget
// is never exceeded and citations always slice the stored text.
func TestContextBudgetProperty(t *testing.T) {
	c := newCol(t, WithChunking(ChunkOptions{MaxBytes: 200, Overlap: 40}))
	corpus(t, c)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("install package manager client request token config note setup proxy week the a")
	for i := range 150 {
		q := ""
		for range 1 + rng.IntN(4) {
			q += words[rng.IntN(len(words))] + " "
		}
		r := ContextRequest{Query: q, MaxTokens: 1 + rng.IntN(600), K: rng.IntN(30), IncludeCold: rng.IntN(2) == 0,
			Mode: Mode(rng.IntN(3)), Warm: []string{"persona " + fmt.Sprint(i)}}
		got, err := c.Context(ctx, r)
		require.NoError(t, err, "%+v", r)
		checkContext(t, c, r, got)
	}
}
