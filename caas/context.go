package caas

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agent-os/agentos"
)

// Defaults and bounds of [ContextRequest].
const (
	// DefaultContextK is the number of candidate chunks ranked when K is 0.
	DefaultContextK = 20
	// DefaultColdAfter is the age from which a chunk is cold (archived,
	// left out unless IncludeCold) when ColdAfter is 0.
	DefaultColdAfter = 30 * 24 * time.Hour
	// DefaultDecayRate is the decay per day when DecayRate is 0: a chunk a
	// week old weighs 0.59 of a fresh one, a month old 0.25.
	DefaultDecayRate = 0.1
	// NoDecay as a DecayRate turns decay off (any negative rate does).
	NoDecay = -1.0
	// MaxContextTokens is the largest MaxTokens.
	MaxContextTokens = 1 << 20
	// MaxBlocks bounds the number of Hot and of Warm blocks.
	MaxBlocks = 64
	// MaxBlockBytes bounds each Hot or Warm block.
	MaxBlockBytes = 1 << 20
	// blockSep joins the blocks of a context.
	blockSep = "\n\n"
)

// defaultTierWeights weight a chunk's score by its tier when packing a
// context: contracts say the most per token.
var defaultTierWeights = map[Tier]float64{TierContract: 1.2, TierBody: 1.0, TierNote: 0.8}

// ContextRequest asks for a context window: what the agent must see now,
// always, and what the collection knows that bears on Query, within
// MaxTokens.
type ContextRequest struct {
	// Query selects retrieved chunks; empty retrieves nothing.
	Query string
	// MaxTokens is the budget, 1 to MaxContextTokens, counted with the
	// service's token counter over the whole Text.
	MaxTokens int
	// Hot is the current situation, packed first, whole; if it alone
	// exceeds the budget the request fails with [ErrBudget]. Blocks of
	// only whitespace are skipped, here and in Warm.
	Hot []string
	// Warm is the persona and standing instructions, packed next; a warm
	// block that does not fit is dropped (and counted in Dropped).
	Warm []string
	// IncludeCold admits chunks older than ColdAfter (the archive), left
	// out by default.
	IncludeCold bool
	// ColdAfter is the age from which a chunk is cold (0: DefaultColdAfter).
	ColdAfter time.Duration
	// DecayRate is the decay per day of a chunk's score (0:
	// DefaultDecayRate; negative, e.g. NoDecay: none).
	DecayRate float64
	// TierWeights multiply scores by tier, each at least 0; a tier not in
	// the map weighs as by default: contract 1.2, body 1.0, note 0.8.
	TierWeights map[Tier]float64
	// K is how many candidates are ranked (0: DefaultContextK, at most MaxK).
	K int
	// Mode ranks the candidates (default hybrid).
	Mode Mode
	// Prefix keeps only sources in this directory ("" for all).
	Prefix string
	// Now is the time ages are measured at (zero: the service's clock).
	Now time.Time
}

// Context is a packed context window.
type Context struct {
	// Text is the hot blocks, the warm blocks, then the retrieved blocks,
	// each retrieved block headed by "[source:start-end]", separated by
	// blank lines.
	Text string
	// Tokens is the token count of Text, at most MaxTokens.
	Tokens int
	// Citations name the retrieved blocks, in the order of Text.
	Citations []Citation
	// Dropped counts the warm blocks and candidate chunks that did not fit.
	Dropped int
}

// Citation names where a retrieved block of a context comes from: Text of
// the document Source, bytes Start to End (adjacent chunks of a source are
// merged into one block).
type Citation struct {
	Source     string
	Start, End int
	// Tier is the best (lowest) tier among the merged chunks.
	Tier Tier
	// Score is the best weighted score among them.
	Score float64
	// Heading is the first chunk's heading.
	Heading string
}

type packed struct {
	hit    Hit
	weight float64
}

// Context packs a context window. Candidates are the K best chunks for
// Query (by Mode, under Prefix, without cold chunks unless IncludeCold),
// ranked by score × decay × tier weight. They are taken greedily, best
// first, each whole chunk if it still fits the budget left after the hot
// and warm blocks (a chunk that does not fit is skipped, and a smaller one
// after it may still fit). Chunks of one source that touch or overlap (or
// are separated by whitespace only) are merged into one block, cited by
// source and byte offsets into the stored document. The token count of the
// final Text is verified; should joining blocks have cost more tokens
// than counting them apart, the lowest-ranked chunk is dropped until it
// fits.
//
// Errors: a bad request wraps [agentos.ErrInvalid]; hot blocks over the
// budget [ErrBudget]; and those of [Collection.Search].
func (c *Collection) Context(ctx context.Context, r ContextRequest) (Context, error) {
	if err := c.closedErr("context"); err != nil {
		return Context{}, err
	}
	bad := func(format string, args ...any) (Context, error) {
		return Context{}, fmt.Errorf("caas: %s: context: %s: %w", c.name, fmt.Sprintf(format, args...), agentos.ErrInvalid)
	}
	switch {
	case r.MaxTokens < 1 || r.MaxTokens > MaxContextTokens:
		return bad("MaxTokens %d, want 1..%d", r.MaxTokens, MaxContextTokens)
	case len(r.Hot) > MaxBlocks || len(r.Warm) > MaxBlocks:
		return bad("more than %d hot or warm blocks", MaxBlocks)
	case r.K < 0 || r.K > MaxK:
		return bad("K = %d, want 0..%d", r.K, MaxK)
	case r.ColdAfter < 0:
		return bad("negative ColdAfter")
	case math.IsNaN(r.DecayRate) || math.IsInf(r.DecayRate, 0):
		return bad("decay rate %v", r.DecayRate)
	case r.Mode < ModeHybrid || r.Mode > ModeLexical:
		return bad("unknown mode %d", r.Mode)
	case len(r.Query) > MaxQueryBytes:
		return bad("query of %d bytes, more than %d", len(r.Query), MaxQueryBytes)
	}
	if _, err := normPrefix(r.Prefix); err != nil {
		return Context{}, err
	}
	for _, b := range slices.Concat(r.Hot, r.Warm) {
		if len(b) > MaxBlockBytes {
			return bad("a hot or warm block of %d bytes, more than %d", len(b), MaxBlockBytes)
		}
	}
	weights := maps.Clone(defaultTierWeights)
	for t, w := range r.TierWeights {
		if !t.valid() || w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return bad("tier weight %v for %v", w, t)
		}
		weights[t] = w
	}
	k := r.K
	if k == 0 {
		k = DefaultContextK
	}
	cold := r.ColdAfter
	if cold == 0 {
		cold = DefaultColdAfter
	}
	rate := r.DecayRate
	if rate == 0 {
		rate = DefaultDecayRate
	}
	now := r.Now
	if now.IsZero() {
		now = c.svc.clock()
	}
	count := c.svc.counter.Count

	var out Context
	var fixed []string // hot and warm blocks taken
	for _, h := range r.Hot {
		if strings.TrimSpace(h) != "" {
			fixed = append(fixed, h)
		}
	}
	if len(fixed) > 0 {
		n, err := count(strings.Join(fixed, blockSep))
		if err != nil {
			return Context{}, err
		}
		if n > r.MaxTokens {
			return Context{}, fmt.Errorf("caas: %s: context: hot blocks of %d tokens, budget %d: %w", c.name, n, r.MaxTokens, ErrBudget)
		}
	}
	for _, w := range r.Warm {
		if strings.TrimSpace(w) == "" {
			continue
		}
		n, err := count(strings.Join(append(fixed, w), blockSep))
		if err != nil {
			return Context{}, err
		}
		if n > r.MaxTokens {
			out.Dropped++
			continue
		}
		fixed = append(fixed, w)
	}

	var cands []packed
	var texts map[string]string
	if strings.TrimSpace(r.Query) != "" {
		s, err := c.checkQuery(Query{Text: r.Query, K: k, Mode: r.Mode, Prefix: r.Prefix, Now: now})
		if err != nil {
			return Context{}, err
		}
		if !r.IncludeCold {
			s.keep = func(ch *Chunk) bool { return now.Sub(ch.Time) < cold }
		}
		s.pool = max(4*k, minPool)
		qv, err := c.embedQuery(ctx, s)
		if err != nil {
			return Context{}, err
		}
		c.mu.RLock()
		hits, err := c.searchLocked(s, qv)
		texts = make(map[string]string)
		for _, h := range hits {
			if e := c.sources[h.Chunk.Source]; e != nil {
				texts[h.Chunk.Source] = e.doc.Text
			}
		}
		c.mu.RUnlock()
		if err != nil {
			return Context{}, err
		}
		for _, h := range hits {
			w := decayed(h.Score, Decay(now.Sub(h.Chunk.Time), rate)) * weights[h.Chunk.Tier]
			cands = append(cands, packed{hit: h, weight: w})
		}
		slices.SortStableFunc(cands, func(a, b packed) int {
			if c := cmp.Compare(b.weight, a.weight); c != 0 {
				return c
			}
			return strings.Compare(a.hit.Chunk.ID, b.hit.Chunk.ID)
		})
	}

	// Greedy: estimate each addition by counting the block alone.
	used := 0
	if len(fixed) > 0 {
		n, err := count(strings.Join(fixed, blockSep))
		if err != nil {
			return Context{}, err
		}
		used = n
	}
	sepTokens, err := count(blockSep)
	if err != nil {
		return Context{}, err
	}
	var taken []packed
	for _, p := range cands {
		n, err := count(header(p.hit.Chunk.Source, p.hit.Chunk.Start, p.hit.Chunk.End) + p.hit.Chunk.Text)
		if err != nil {
			return Context{}, err
		}
		if used > 0 {
			n += sepTokens
		}
		if used+n > r.MaxTokens {
			out.Dropped++
			continue
		}
		used += n
		taken = append(taken, p)
	}
	// Verify the real count; drop the lowest-ranked chunk, then warm
	// blocks, until it fits.
	for {
		text, cites := render(fixed, taken, texts)
		n, err := count(text)
		if err != nil {
			return Context{}, err
		}
		if n <= r.MaxTokens {
			out.Text, out.Tokens, out.Citations = text, n, cites
			return out, nil
		}
		out.Dropped++
		if len(taken) > 0 {
			taken = taken[:len(taken)-1]
		} else {
			fixed = fixed[:len(fixed)-1] // hot alone fits: only warm goes
		}
	}
}

func header(source string, start, end int) string {
	return "[" + source + ":" + strconv.Itoa(start) + "-" + strconv.Itoa(end) + "]\n"
}

// render builds the text: fixed blocks, then the taken chunks merged per
// source into blocks, ordered by their best rank.
func render(fixed []string, taken []packed, texts map[string]string) (string, []Citation) {
	type block struct {
		cite Citation
		rank int
	}
	bySource := map[string][]int{}
	for i, p := range taken {
		bySource[p.hit.Chunk.Source] = append(bySource[p.hit.Chunk.Source], i)
	}
	var blocks []block
	for src, idx := range bySource {
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(taken[a].hit.Chunk.Start, taken[b].hit.Chunk.Start) })
		text := texts[src]
		var cur *block
		for _, i := range idx {
			ch := taken[i].hit.Chunk
			if cur != nil && (ch.Start <= cur.cite.End || strings.TrimSpace(text[cur.cite.End:ch.Start]) == "") {
				cur.cite.End = max(cur.cite.End, ch.End)
				cur.cite.Tier = min(cur.cite.Tier, ch.Tier)
				cur.cite.Score = max(cur.cite.Score, taken[i].weight)
				cur.rank = min(cur.rank, i)
				continue
			}
			blocks = append(blocks, block{cite: Citation{Source: src, Start: ch.Start, End: ch.End, Tier: ch.Tier, Score: taken[i].weight, Heading: ch.Heading}, rank: i})
			cur = &blocks[len(blocks)-1]
		}
	}
	slices.SortFunc(blocks, func(a, b block) int { return cmp.Compare(a.rank, b.rank) })
	parts := slices.Clone(fixed)
	cites := make([]Citation, 0, len(blocks))
	for _, b := range blocks {
		parts = append(parts, header(b.cite.Source, b.cite.Start, b.cite.End)+texts[b.cite.Source][b.cite.Start:b.cite.End])
		cites = append(cites, b.cite)
	}
	return strings.Join(parts, blockSep), cites
}
