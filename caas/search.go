package caas

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/agent-os/agentos"
)

// Mode chooses how a query ranks chunks.
type Mode int

// The modes of a query.
const (
	// ModeHybrid fuses the vector and the BM25 scores (the zero value).
	ModeHybrid Mode = iota
	// ModeVector ranks by cosine similarity of embeddings.
	ModeVector
	// ModeLexical ranks by BM25 over words.
	ModeLexical
)

// String returns "hybrid", "vector" or "lexical".
func (m Mode) String() string {
	switch m {
	case ModeHybrid:
		return "hybrid"
	case ModeVector:
		return "vector"
	case ModeLexical:
		return "lexical"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// The weights of the two sides in the hybrid fusion, over scores
// normalised per query (see [Collection.Search]). The vector side weighs
// 0.2: with the bag-of-words embedder it is the weaker ranking on every
// kind of query measured (recall_test.go, godocqa, recall@10: vector 0.25
// and BM25 0.56 on description queries, 0.25 and 0.94 on identifiers).
// Reciprocal rank fusion (k = 60) was measured first and fell under BM25
// alone: 0.41 and 0.60 with equal weights, 0.47 and 0.79 with the vector
// side at half weight. Ranks throw away how far BM25's best match stands
// above the rest, which is what an exact identifier gives, and let chance
// agreement deep in two noisy lists outrank it. The normalised sum at
// 0.2/0.8 measured 0.55 and 0.94 (0.1/0.9: 0.56 and 0.94; 0.3/0.7: 0.54
// and 0.94; 0.4/0.6: 0.50 and 0.92), and a chunk both sides rank high
// still rises.
const vectorWeight, lexicalWeight = 0.2, 0.8

// minPool is the fewest candidates each side of a hybrid query (or any
// query re-ranked by decay) considers before ranks are fused or scores
// decayed.
const minPool = 64

// Query is a search of a collection.
type Query struct {
	// Text is what to look for: 1 to MaxQueryBytes bytes.
	Text string
	// K is how many hits to return, 1 to MaxK; fewer when the collection
	// holds fewer matching chunks.
	K int
	// Mode is the ranking (default hybrid).
	Mode Mode
	// Prefix keeps only the sources in this directory ("" for all).
	Prefix string
	// Tiers keeps only chunks of these tiers (none: all).
	Tiers []Tier
	// DecayRate multiplies each score by 1/(1+days·DecayRate), days the
	// age of the chunk's document at Now; 0 is no decay.
	DecayRate float64
	// Now is the time decay is measured at (zero: the service's clock).
	Now time.Time
}

// Hit is a chunk found by a query.
type Hit struct {
	Chunk Chunk
	// Score orders the hits: the fused score in ModeHybrid, the cosine
	// in ModeVector, BM25 in ModeLexical; times the decay.
	Score float64
	// Vector is the cosine similarity, Lexical the BM25 score, each 0
	// when the chunk was not among that side's candidates.
	Vector, Lexical float64
}

// Decay returns 1/(1+days·rate), days being age in days (0 for a negative
// age): 0.5 at one day with rate 1, 0.125 at a week, under 0.01 at a year.
func Decay(age time.Duration, rate float64) float64 {
	if rate <= 0 || age <= 0 {
		return 1
	}
	return 1 / (1 + age.Hours()/24*rate)
}

// decayed applies a decay factor to a score so that it always moves the
// score down the ranking (a negative cosine is divided, not multiplied).
func decayed(score, f float64) float64 {
	if score < 0 {
		return score / f
	}
	return score * f
}

// search is a checked query ready to run.
type search struct {
	text   string
	k      int
	mode   Mode
	prefix string
	tiers  [4]bool // by Tier; all false: every tier
	rate   float64
	now    time.Time
	keep   func(*Chunk) bool // extra filter (Context's cold cut), may be nil
	pool   int               // candidates per side; 0: the default
}

func (c *Collection) checkQuery(q Query) (search, error) {
	bad := func(format string, args ...any) (search, error) {
		return search{}, fmt.Errorf("caas: %s: query: %s: %w", c.name, fmt.Sprintf(format, args...), agentos.ErrInvalid)
	}
	s := search{text: q.Text, k: q.K, mode: q.Mode, rate: q.DecayRate, now: q.Now}
	switch {
	case strings.TrimSpace(q.Text) == "":
		return bad("empty text")
	case len(q.Text) > MaxQueryBytes:
		return bad("text of %d bytes, more than %d", len(q.Text), MaxQueryBytes)
	case q.K < 1 || q.K > MaxK:
		return bad("K = %d, want 1..%d", q.K, MaxK)
	case q.Mode < ModeHybrid || q.Mode > ModeLexical:
		return bad("unknown mode %d", q.Mode)
	case q.DecayRate < 0 || math.IsNaN(q.DecayRate) || math.IsInf(q.DecayRate, 0):
		return bad("decay rate %v", q.DecayRate)
	}
	p, err := normPrefix(q.Prefix)
	if err != nil {
		return search{}, err
	}
	s.prefix = p
	for _, t := range q.Tiers {
		if !t.valid() {
			return bad("unknown tier %d", t)
		}
		s.tiers[t] = true
	}
	if s.now.IsZero() {
		s.now = c.svc.clock()
	}
	return s, nil
}

// Search returns the best K chunks for q, best first, ties broken by chunk
// ID. In ModeHybrid each side (vector and BM25) ranks its best
// max(4K, 64) candidates (after the prefix and tier filters); over their
// union a chunk scores 0.2·v + 0.8·l, v its cosine min-max normalised over
// the vector candidates (0 when not among them), l its BM25 score divided
// by the best BM25 score. Normalising per query puts cosines and BM25
// scores, which live on unrelated scales, on one; keeping BM25's ratio to
// its best (rather than its rank) keeps an exact identifier of the query
// (`http.NewRequest`, `max_tokens`) on top even when the bag-of-words
// embedder misses it. Decay, when set, re-ranks the same candidate pool,
// so a very old chunk can keep a place that a newer one outside the pool
// would have taken only if more than the pool match. A hybrid query whose
// vector is all zero (no word the embedder knows) is ranked by BM25 alone.
//
// Errors: a bad query (empty or long text, K outside 1..MaxK, unknown mode
// or tier, bad prefix, negative decay) wraps [agentos.ErrInvalid]; the
// embedder's failure wraps [ErrEmbedding]; ctx's error; [agentos.ErrClosed].
func (c *Collection) Search(ctx context.Context, q Query) ([]Hit, error) {
	if err := c.closedErr("search"); err != nil {
		return nil, err
	}
	s, err := c.checkQuery(q)
	if err != nil {
		return nil, err
	}
	qv, err := c.embedQuery(ctx, s)
	if err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.searchLocked(s, qv)
}

// embedQuery embeds the query text unless the mode is lexical.
func (c *Collection) embedQuery(ctx context.Context, s search) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.mode == ModeLexical {
		return nil, nil
	}
	v, err := c.svc.embed(ctx, s.text)
	if err == nil && s.mode == ModeHybrid && len(v) > 0 && allZero(v) {
		return nil, nil // no direction to rank by: the words alone decide
	}
	if err == nil {
		err = checkVector(v, 0)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("caas: %s: query: %w", c.name, ctx.Err())
		}
		return nil, fmt.Errorf("caas: %s: query: %w: %w", c.name, ErrEmbedding, err)
	}
	return v, nil
}

func allZero(v []float32) bool {
	for _, f := range v {
		if f != 0 {
			return false
		}
	}
	return true
}

// searchLocked runs a search under the read lock. qv is nil in lexical
// mode, and in hybrid mode when the query's vector was all zero.
func (c *Collection) searchLocked(s search, qv []float32) ([]Hit, error) {
	if c.vec == nil || len(c.byID) == 0 {
		return []Hit{}, nil
	}
	if qv != nil && len(qv) != c.vec.Dims() {
		return nil, fmt.Errorf("caas: %s: query: %w: vector of %d dimensions, the collection has %d", c.name, ErrEmbedding, len(qv), c.vec.Dims())
	}
	anyTier := s.tiers == [4]bool{}
	var keep func(string) bool
	if s.prefix != "" || !anyTier || s.keep != nil {
		keep = func(id string) bool {
			ch := c.byID[id]
			return ch != nil && under(ch.Source, s.prefix) && (anyTier || s.tiers[ch.Tier]) && (s.keep == nil || s.keep(ch))
		}
	}
	pool := s.k
	if s.mode == ModeHybrid || s.rate > 0 {
		pool = max(4*s.k, minPool)
	}
	if s.pool > pool {
		pool = s.pool
	}
	pool = min(pool, len(c.byID))
	type cand struct {
		vec, lex   float64
		vrank, lrk int
	}
	cands := make(map[string]*cand, 2*pool)
	get := func(id string) *cand {
		x := cands[id]
		if x == nil {
			x = &cand{}
			cands[id] = x
		}
		return x
	}
	if s.mode != ModeLexical && qv != nil {
		hits, err := c.vec.Search(qv, pool, keep)
		if err != nil {
			return nil, fmt.Errorf("caas: %s: query: %w", c.name, err)
		}
		for i, h := range hits {
			x := get(h.ID)
			x.vec, x.vrank = float64(h.Score), i+1
		}
	}
	if s.mode != ModeVector {
		hits, err := c.lex.Search(s.text, pool, keep)
		if err != nil {
			return nil, fmt.Errorf("caas: %s: query: %w", c.name, err)
		}
		for i, h := range hits {
			x := get(h.ID)
			x.lex, x.lrk = h.Score, i+1
		}
	}
	// The ranges of each side's scores, for the normalised fusion.
	vmin, vmax, lmax := math.Inf(1), math.Inf(-1), 0.0
	for _, x := range cands {
		if x.vrank > 0 {
			vmin, vmax = min(vmin, x.vec), max(vmax, x.vec)
		}
		lmax = max(lmax, x.lex)
	}
	out := make([]Hit, 0, len(cands))
	for id, x := range cands {
		ch := c.byID[id]
		if ch == nil {
			continue
		}
		var score float64
		switch s.mode {
		case ModeVector:
			score = x.vec
		case ModeLexical:
			score = x.lex
		default:
			if x.vrank > 0 && vmax > vmin {
				score += vectorWeight * (x.vec - vmin) / (vmax - vmin)
			} else if x.vrank > 0 {
				score += vectorWeight
			}
			if lmax > 0 {
				score += lexicalWeight * x.lex / lmax
			}
		}
		if s.rate > 0 {
			score = decayed(score, Decay(s.now.Sub(ch.Time), s.rate))
		}
		out = append(out, Hit{Chunk: *ch, Score: score, Vector: x.vec, Lexical: x.lex})
	}
	slices.SortFunc(out, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return strings.Compare(a.Chunk.ID, b.Chunk.ID)
	})
	if len(out) > s.k {
		out = out[:s.k]
	}
	return out, nil
}
