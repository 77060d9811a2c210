package cmvk

import (
	"context"
	"strings"

	"github.com/agent-os/agentos"
)

// comparer compares prepared answers by one profile's metric. For an
// embedding metric each text is embedded once, in prepare, so that N
// answers cost N embeddings rather than N².
type comparer struct {
	metric Metric
	embed  agentos.Embedder
}

// item is one prepared answer.
type item struct {
	text  string
	vec   []float32 // the embedding, for an embedding metric and a non-empty text
	facts *facts    // what the factual metric reads from text, read once; nil for other metrics
}

func newComparer(p Profile, embed agentos.Embedder) (comparer, error) {
	if err := p.Validate(); err != nil {
		return comparer{}, err
	}
	if p.Metric.Embedding() && embed == nil {
		return comparer{}, ErrNoEmbedder
	}
	return comparer{metric: p.Metric, embed: embed}, nil
}

// prepare embeds text when the metric needs it; it returns the embedder's
// error (wrapped) or ctx's.
func (c comparer) prepare(ctx context.Context, text string) (item, error) {
	it := item{text: text}
	if !c.metric.Embedding() || blank(text) {
		return it, nil
	}
	v, err := embedText(ctx, c.embed, text)
	if err != nil {
		return item{}, err
	}
	it.vec = v
	return withFacts(c.metric, it), nil
}

// withFacts reads it's text for the factual metric, once per answer rather
// than once per pair.
func withFacts(m Metric, it item) item {
	if m == Factual && !blank(it.text) {
		it.facts = readFacts(it.text)
	}
	return it
}

func (c comparer) compare(a, b item) (Score, error) {
	if c.metric.Embedding() {
		if s, ok := emptyCase(blank(a.text), blank(b.text)); ok {
			return s, nil
		}
	}
	return compareItems(c.metric, a, b)
}

// blank reports whether an embedding metric treats text as empty: it has
// nothing but white space, which there is nothing to embed (an embedder may
// refuse it, as models/glove does), so it takes the empty-answer edge case
// instead of failing the whole comparison: one model's blank answer must
// not stop the others being verified.
func blank(text string) bool { return strings.TrimSpace(text) == "" }
