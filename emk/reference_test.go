//go:build cgo

package emk_test

import (
	"cmp"
	"context"
	"crypto/sha256"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/emk"
)

// hashEmbed is a deterministic embedder: each word adds a pseudo-random
// direction in 8 dimensions.
func hashEmbed(_ context.Context, text string) ([]float32, error) {
	v := make([]float32, 8)
	for _, w := range strings.Fields(strings.ToLower(text)) {
		h := sha256.Sum256([]byte(w))
		for i := range v {
			v[i] += float32(int8(h[i])) / 128
		}
	}
	return v, nil
}

// refWords is the plainest reading of Query's lexical words.
func refWords(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		out[strings.ToLower(w)] = true
	}
	return out
}

type refEpisode struct {
	emk.Episode
	order int // append order
}

// refQuery is Query as its documentation reads, over every episode, with
// no SQL, no candidate bound and no shortcut.
func refQuery(all []refEpisode, q emk.Query, embedder bool) []emk.Scored {
	w := q.Weights
	if w == (emk.Weights{}) {
		w = emk.DefaultWeights
	}
	half := q.HalfLife
	if half == 0 {
		half = emk.DefaultHalfLife
	}
	var qv []float32
	if embedder && strings.TrimSpace(q.Text) != "" {
		qv, _ = hashEmbed(context.Background(), q.Text)
	}
	type scored struct {
		emk.Scored
		order int
	}
	var out []scored
	for _, e := range all {
		if q.Agent != "" && e.Agent != q.Agent ||
			len(q.Outcomes) > 0 && !slices.Contains(q.Outcomes, e.Outcome) ||
			!q.Since.IsZero() && e.Time.Before(q.Since) ||
			!q.Until.IsZero() && !e.Time.Before(q.Until) {
			continue
		}
		match := true
		for k, v := range q.Meta {
			if got, ok := e.Meta[k]; !ok || got != v {
				match = false
			}
		}
		if !match {
			continue
		}
		var sim float64
		switch {
		case strings.TrimSpace(q.Text) == "":
		case embedder:
			var dot, a, b float64
			for i := range qv {
				dot += float64(qv[i]) * float64(e.Embedding[i])
				a += float64(qv[i]) * float64(qv[i])
				b += float64(e.Embedding[i]) * float64(e.Embedding[i])
			}
			if a > 0 && b > 0 {
				sim = dot / math.Sqrt(a*b)
			}
		default:
			qw := refWords(q.Text)
			dw := refWords(e.Goal + " " + e.Action + " " + e.Result + " " + e.Reflection)
			hits := 0
			for w := range qw {
				if dw[w] {
					hits++
				}
			}
			if hits > 0 {
				sim = float64(hits) / math.Sqrt(float64(len(qw)*len(dw)))
			}
		}
		rec := 1.0
		if age := q.Now.Sub(e.Time); age > 0 {
			rec = math.Pow(2, -float64(age)/float64(half))
		}
		out = append(out, scored{emk.Scored{Episode: e.Episode, Score: w.Similarity*sim + w.Recency*rec, Similarity: sim, Recency: rec}, e.order})
	}
	slices.SortFunc(out, func(a, b scored) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), b.Episode.Time.Compare(a.Episode.Time), cmp.Compare(b.order, a.order))
	})
	res := []emk.Scored{}
	for i := 0; i < len(out) && i < q.K; i++ {
		res = append(res, out[i].Scored)
	}
	return res
}

// Query against its reference over random stores and random queries. The
// scores of two different episodes may differ by rounding between the two
// computations; the comparison allows for that by comparing scores and
// requiring the same episodes wherever the scores are apart.
func TestQueryAgainstReference(t *testing.T) {
	ctx := context.Background()
	words := []string{"deploy", "api", "database", "migrate", "rollback", "cache", "tag", "pin", "crash", "Deploy", "déjà-vu", "v2"}
	phrase := func(r *rand.Rand) string {
		var b []string
		for range r.IntN(4) {
			b = append(b, words[r.IntN(len(words))])
		}
		return strings.Join(b, " ")
	}
	outcomes := []emk.Outcome{emk.OutcomeUnknown, emk.OutcomeSuccess, emk.OutcomeFailure, emk.OutcomeAntiPattern, emk.OutcomeFact}
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 42))
		embedder := seed%2 == 0
		var opts []emk.Option
		if embedder {
			opts = append(opts, emk.WithEmbedder(hashEmbed))
		}
		s := openMem(t, append(opts, emk.WithClock(newClock().now))...)
		var all []refEpisode
		for i := range 300 {
			e := emk.Episode{
				Agent: []string{"a", "b", "c"}[r.IntN(3)], Goal: phrase(r) + " x", Action: phrase(r), Result: phrase(r),
				Outcome: outcomes[r.IntN(len(outcomes))],
				// Times collide often, so the tie rules are exercised.
				Time: t0.Add(-time.Duration(r.IntN(40)) * 12 * time.Hour),
			}
			if r.IntN(2) == 0 {
				e.Meta = map[string]string{"env": []string{"prod", "dev"}[r.IntN(2)]}
			}
			stored, err := s.Append(ctx, e)
			require.NoError(t, err)
			all = append(all, refEpisode{stored, i})
		}
		for range 200 {
			q := emk.Query{K: 1 + r.IntN(30), Text: phrase(r), HalfLife: time.Duration(r.IntN(3)) * 24 * time.Hour}
			if r.IntN(2) == 0 {
				q.Agent = []string{"a", "b", "c", "d"}[r.IntN(4)]
			}
			if r.IntN(3) == 0 {
				q.Outcomes = []emk.Outcome{outcomes[r.IntN(5)], outcomes[r.IntN(5)]}
			}
			if r.IntN(3) == 0 {
				q.Since = t0.Add(-time.Duration(r.IntN(20)) * 24 * time.Hour)
			}
			if r.IntN(3) == 0 {
				q.Until = t0.Add(-time.Duration(r.IntN(10)) * 12 * time.Hour)
				if !q.Since.IsZero() && !q.Until.After(q.Since) {
					q.Until = time.Time{}
				}
			}
			if r.IntN(3) == 0 {
				q.Meta = map[string]string{"env": "prod"}
			}
			switch r.IntN(3) {
			case 1:
				q.Weights = emk.Weights{Similarity: 1}
			case 2:
				q.Weights = emk.Weights{Similarity: r.Float64(), Recency: r.Float64()}
			}
			if r.IntN(4) == 0 {
				q.Now = t0.Add(-time.Duration(r.IntN(10)) * 24 * time.Hour)
			} else {
				q.Now = t0
			}
			got, err := s.Query(ctx, q)
			require.NoError(t, err)
			want := refQuery(all, q, embedder)
			require.Len(t, got, len(want), "seed %d query %+v", seed, q)
			for i := range want {
				require.InDelta(t, want[i].Score, got[i].Score, 1e-9, "seed %d query %+v rank %d", seed, q, i)
				require.InDelta(t, want[i].Similarity, got[i].Similarity, 1e-9)
				require.InDelta(t, want[i].Recency, got[i].Recency, 1e-9)
			}
			// Blocks of ranks whose scores are within rounding of each
			// other: where both sides computed exactly equal scores the tie
			// rule decides, and the order must match; otherwise the
			// same episodes, in an order rounding may decide (unless
			// the block is cut by K).
			for start := 0; start < len(want); {
				end := start + 1
				for end < len(want) && math.Abs(want[end].Score-want[end-1].Score) <= 1e-9 {
					end++
				}
				exact := true
				for i := start + 1; i < end; i++ {
					exact = exact && want[i].Score == want[start].Score && got[i].Score == got[start].Score
				}
				var w, g []emk.Episode
				for i := start; i < end; i++ {
					w, g = append(w, want[i].Episode), append(g, got[i].Episode)
				}
				switch {
				case exact:
					require.Equal(t, w, g, "seed %d query %+v ranks %d..%d", seed, q, start, end)
				case end < len(want) || len(want) < q.K:
					require.ElementsMatch(t, w, g, "seed %d query %+v ranks %d..%d", seed, q, start, end)
				}
				start = end
			}
		}
	}
}
