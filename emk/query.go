package emk

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Query bounds and defaults.
const (
	// MaxK bounds Query.K.
	MaxK = 1000
	// MaxCandidates bounds the episodes a Text query scores: the most
	// recent MaxCandidates that match the other filters. Older matches are
	// not considered; narrow the query (agent, outcome, time, meta) to
	// reach them.
	MaxCandidates = 50_000
	// MaxQueryText bounds Query.Text, in bytes.
	MaxQueryText = 4 * MaxFieldSize
	// DefaultHalfLife is the recency half-life of a Query without one.
	DefaultHalfLife = 7 * 24 * time.Hour
)

// DefaultWeights are the weights of a Query whose Weights are zero.
var DefaultWeights = Weights{Similarity: 0.7, Recency: 0.3}

// Query selects and ranks episodes. The filters (Agent, Outcomes, Since,
// Until, Meta) select; the score ranks:
//
//	Score = Weights.Similarity·Similarity + Weights.Recency·Recency
//
// Recency is 2^(−age/HalfLife), 1 for an episode at or after Now.
// Similarity is, with an embedder, the cosine of the episode's embedding
// and the embedded Text (0 for an episode stored without an embedding or
// with one of other dimensions); without an embedder it is lexical: the
// cosine of the sets of lowercase letter-and-digit words of Text and of
// the episode's goal, action, result and reflection, |Q∩D|/√(|Q|·|D|), in
// 0..1. With no Text, Similarity is 0 and only recency ranks. Ties go to
// the more recent episode, then to the one appended later.
type Query struct {
	Agent    string            // "" = every agent
	Outcomes []Outcome         // nil = any
	Since    time.Time         // inclusive; zero = no lower bound
	Until    time.Time         // exclusive; zero = no upper bound
	Meta     map[string]string // exact matches, all required
	Text     string            // similarity to this text; at most MaxQueryText bytes
	K        int               // results wanted: 1..MaxK
	Weights  Weights           // zero value = DefaultWeights
	HalfLife time.Duration     // recency half-life; 0 = DefaultHalfLife
	Now      time.Time         // zero = the store's clock
}

// Weights mix similarity and recency into a score; both are finite and not
// negative. The zero value means DefaultWeights.
type Weights struct{ Similarity, Recency float64 }

// Scored is an episode with its score and the parts it was made of.
type Scored struct {
	Episode                    Episode
	Score, Similarity, Recency float64
}

func (q *Query) check() error {
	if q.K < 1 || q.K > MaxK {
		return invalid("query K %d is outside 1..%d", q.K, MaxK)
	}
	for _, o := range q.Outcomes {
		if !o.Valid() {
			return invalid("query outcome %q is unknown", o)
		}
	}
	if len(q.Outcomes) > 5 {
		return invalid("query names %d outcomes; there are 5", len(q.Outcomes))
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return invalid("query Until %s is not after Since %s", q.Until, q.Since)
	}
	for _, t := range []time.Time{q.Since, q.Until} {
		if !t.IsZero() && (t.Before(minTime) || t.After(maxTime)) {
			return invalid("query time %s is outside the years 1678 to 2262", t)
		}
	}
	if len(q.Meta) > MaxMetaEntries {
		return invalid("query has %d meta labels, over the limit of %d", len(q.Meta), MaxMetaEntries)
	}
	if err := checkText("query text", q.Text, MaxQueryText); err != nil {
		return err
	}
	w := q.Weights
	for _, x := range []float64{w.Similarity, w.Recency} {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return invalid("query weights %+v must be finite and not negative", w)
		}
	}
	if q.HalfLife < 0 {
		return invalid("query HalfLife %s is negative", q.HalfLife)
	}
	return nil
}

// where returns the SQL filter of q (on the alias e) and its arguments.
func (q *Query) where() (string, []any) {
	var conds []string
	var args []any
	if q.Agent != "" {
		conds = append(conds, "e.agent = ?")
		args = append(args, q.Agent)
	}
	if len(q.Outcomes) > 0 {
		conds = append(conds, "e.outcome IN ("+strings.TrimSuffix(strings.Repeat("?,", len(q.Outcomes)), ",")+")")
		for _, o := range q.Outcomes {
			args = append(args, string(o))
		}
	}
	if !q.Since.IsZero() {
		conds = append(conds, "e.time >= ?")
		args = append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		conds = append(conds, "e.time < ?")
		args = append(args, q.Until.UnixNano())
	}
	keys := make([]string, 0, len(q.Meta))
	for k := range q.Meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		conds = append(conds, "EXISTS (SELECT 1 FROM json_each(e.meta) j WHERE j.key = ? AND j.type = 'text' AND j.value = ?)")
		args = append(args, k, q.Meta[k])
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// candidate is an episode being ranked.
type candidate struct {
	seq, time int64
	sim, rec  float64
	score     float64
}

// better orders candidates best first: score, then time, then append
// order, the order in which SQL returned them.
func better(a, b *candidate) int {
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	if c := cmp.Compare(b.time, a.time); c != 0 {
		return c
	}
	return cmp.Compare(b.seq, a.seq)
}

// Query returns the K best episodes that match q, best first (see [Query]
// for the score). Errors: agentos.ErrInvalid for a malformed query,
// agentos.ErrClosed after Close, and the embedder's error.
func (s *Store) Query(ctx context.Context, q Query) ([]Scored, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	if q.Weights == (Weights{}) {
		q.Weights = DefaultWeights
	}
	if q.HalfLife == 0 {
		q.HalfLife = DefaultHalfLife
	}
	if q.Now.IsZero() {
		q.Now = s.cfg.now()
	}
	text := strings.TrimSpace(q.Text) != ""
	var qvec []float64
	if text && s.cfg.embed != nil {
		v, err := s.embed(ctx, q.Text)
		if err != nil {
			return nil, err
		}
		qvec = unit(v)
	}
	if err := s.enter("query"); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	where, args := q.where()
	limit := q.K // without text, recency alone ranks, in time order
	cols := "e.seq, e.time"
	switch {
	case text && qvec != nil:
		limit = s.cfg.candidates
		cols += ", m.vec"
	case text:
		limit = s.cfg.candidates
		cols += ", e.goal, e.action, e.result, e.reflection"
	}
	rows, err := s.r.QueryContext(ctx, "SELECT "+cols+" FROM episodes e LEFT JOIN embeddings m ON m.seq = e.seq"+
		where+" ORDER BY e.time DESC, e.seq DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, s.wrap(err)
	}
	var lex *lexical
	if text && qvec == nil {
		lex = newLexical(q.Text)
	}
	now := q.Now.UnixNano()
	half := float64(q.HalfLife)
	var cands []candidate
	// One set of destinations for every row, so that scanning allocates
	// nothing of its own.
	var (
		c                                candidate
		vec                              sql.RawBytes // valid until the next row: read in place
		goal, action, result, reflection string
	)
	dest := []any{&c.seq, &c.time}
	switch {
	case qvec != nil:
		dest = append(dest, &vec)
	case lex != nil:
		dest = append(dest, &goal, &action, &result, &reflection)
	}
	for rows.Next() {
		c = candidate{}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, s.wrap(err)
		}
		switch {
		case qvec != nil:
			c.sim, err = cosineBlob(qvec, vec)
			if err != nil {
				rows.Close()
				return nil, s.wrap(err)
			}
		case lex != nil:
			c.sim = lex.score(goal, action, result, reflection)
		}
		c.rec = 1
		if age := now - c.time; age > 0 {
			c.rec = math.Exp2(-float64(age) / half)
		}
		c.score = q.Weights.Similarity*c.sim + q.Weights.Recency*c.rec
		cands = append(cands, c)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, s.wrap(err)
	}
	rows.Close()
	slices.SortFunc(cands, func(a, b candidate) int { return better(&a, &b) })
	if len(cands) > q.K {
		cands = cands[:q.K]
	}
	return s.load(ctx, cands)
}

// load reads the episodes of ranked candidates.
func (s *Store) load(ctx context.Context, cands []candidate) ([]Scored, error) {
	out := make([]Scored, 0, len(cands))
	if len(cands) == 0 {
		return out, nil
	}
	args := make([]any, len(cands))
	for i, c := range cands {
		args[i] = c.seq
	}
	eps, seqs, err := s.queryEpisodes(ctx, selectEpisodes+" WHERE e.seq IN ("+
		strings.TrimSuffix(strings.Repeat("?,", len(cands)), ",")+")", args...)
	if err != nil {
		return nil, err
	}
	bySeq := make(map[int64]Episode, len(eps))
	for i, e := range eps {
		bySeq[seqs[i]] = e
	}
	for _, c := range cands {
		e, ok := bySeq[c.seq]
		if !ok {
			return nil, fmt.Errorf("emk: episode %d vanished while queried: %w", c.seq, ErrCorrupt)
		}
		out = append(out, Scored{Episode: e, Score: c.score, Similarity: c.sim, Recency: c.rec})
	}
	return out, nil
}

// unit returns v scaled to unit length in float64, or nil when v is zero.
func unit(v []float32) []float64 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return nil
	}
	n = math.Sqrt(n)
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x) / n
	}
	return out
}

// cosineBlob returns the cosine of unit vector q and the stored vector
// blob b (float32, little-endian, read in place): 0 when b is absent, zero
// or of another dimension.
func cosineBlob(q []float64, b []byte) (float64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b)%4 != 0 || len(b)/4 > MaxDims {
		return 0, fmt.Errorf("%w: embedding blob of %d bytes", ErrCorrupt, len(b))
	}
	if len(b)/4 != len(q) {
		return 0, nil
	}
	var dot, n float64
	for i := range q {
		f := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		dot += f * q[i]
		n += f * f
	}
	if n == 0 {
		return 0, nil
	}
	return max(-1, min(1, dot/math.Sqrt(n))), nil
}

// lexical scores texts by the cosine of their word sets with a query's.
type lexical struct {
	q    map[string]bool
	seen map[string]bool // reused per document
}

func newLexical(text string) *lexical {
	l := &lexical{q: map[string]bool{}, seen: map[string]bool{}}
	words(text, func(w string) { l.q[w] = true })
	return l
}

func (l *lexical) score(fields ...string) float64 {
	if len(l.q) == 0 {
		return 0
	}
	clear(l.seen)
	hits := 0
	for _, f := range fields {
		words(f, func(w string) {
			if !l.seen[w] {
				l.seen[w] = true
				if l.q[w] {
					hits++
				}
			}
		})
	}
	if hits == 0 {
		return 0
	}
	return float64(hits) / math.Sqrt(float64(len(l.q))*float64(len(l.seen)))
}

// words calls fn with each lowercase run of letters and digits of s.
func words(s string, fn func(string)) {
	start := -1
	for i, r := range s {
		word := unicode.IsLetter(r) || unicode.IsDigit(r)
		if word && start < 0 {
			start = i
		}
		if !word && start >= 0 {
			fn(strings.ToLower(s[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		fn(strings.ToLower(s[start:]))
	}
}

// Failures answers "what went wrong last time I did X": the k failures and
// anti-patterns of agent ("" = every agent) most similar to text, the most
// recent first among equals (with no text, the most recent). It is Query
// with Weights{Similarity: 1}.
func (s *Store) Failures(ctx context.Context, agent, text string, k int) ([]Scored, error) {
	return s.Query(ctx, Query{Agent: agent, Outcomes: []Outcome{OutcomeFailure, OutcomeAntiPattern},
		Text: text, K: k, Weights: Weights{Similarity: 1}})
}

// Successes is Failures for successes: what worked before.
func (s *Store) Successes(ctx context.Context, agent, text string, k int) ([]Scored, error) {
	return s.Query(ctx, Query{Agent: agent, Outcomes: []Outcome{OutcomeSuccess},
		Text: text, K: k, Weights: Weights{Similarity: 1}})
}

// MarkAntiPattern records that the episode id is an anti-pattern, for the
// reason given. Episodes are immutable, so this appends a new episode of
// the same agent with OutcomeAntiPattern, the original's goal and action,
// reason as its reflection and id as its cause, and returns it. Marking the
// same episode for the same reason at the same clock time is idempotent.
// Errors: agentos.ErrInvalid for a malformed id or a reason over
// MaxFieldSize, agentos.ErrNotFound when id is not stored, and those of
// Append.
func (s *Store) MarkAntiPattern(ctx context.Context, id, reason string) (Episode, error) {
	if strings.TrimSpace(reason) == "" {
		return Episode{}, invalid("anti-pattern reason is blank")
	}
	orig, err := s.Get(ctx, id)
	if err != nil {
		return Episode{}, err
	}
	return s.Append(ctx, Episode{
		Agent: orig.Agent, Goal: orig.Goal, Action: orig.Action,
		Result: "marked as an anti-pattern", Reflection: reason,
		Outcome: OutcomeAntiPattern, Causes: []string{id},
	})
}
