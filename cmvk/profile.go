package cmvk

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/agent-os/agentos"
)

// ErrNoEmbedder is returned when a comparison needs an embedding (the
// metric is cosine, euclidean, manhattan or chebyshev and the input is
// text) and no [agentos.Embedder] was given. It wraps [agentos.ErrInvalid].
var ErrNoEmbedder = fmt.Errorf("cmvk: the metric needs an embedder: %w", agentos.ErrInvalid)

// ErrUnknown is wrapped by the error for a metric or profile name this
// package does not know. It wraps [agentos.ErrNotFound].
var ErrUnknown = fmt.Errorf("cmvk: unknown: %w", agentos.ErrNotFound)

// Metric names a way of comparing two answers.
type Metric string

// The metrics. The text metrics compare answers as text; the embedding
// metrics embed each text with an [agentos.Embedder] and compare the
// vectors.
const (
	Lexical   Metric = "lexical"   // [LexicalDrift]
	Sequence  Metric = "sequence"  // [SequenceDrift]
	JSON      Metric = "json"      // [JSONShapeDrift]
	Code      Metric = "code"      // [CodeShapeDrift]
	Numeric   Metric = "numeric"   // [NumericDrift] with [DefaultTolerance]
	Cosine    Metric = "cosine"    // [CosineDrift]
	Euclidean Metric = "euclidean" // [EuclideanDrift]
	Manhattan Metric = "manhattan" // [ManhattanDrift]
	Chebyshev Metric = "chebyshev" // [ChebyshevDrift]

	JSONValue     Metric = "jsonvalue" // [JSONValueDrift] with [DefaultTolerance]
	CodeToken     Metric = "codetoken" // [CodeTokenDrift]
	Figures       Metric = "figures"   // [QuantityDrift] with [DefaultTolerance]
	PolarityCheck Metric = "polarity"  // [PolarityDrift]
	Factual       Metric = "factual"   // [FactualDrift]: cosine, contradictions and figures; needs an embedder
)

// vectorMetrics maps each embedding metric to its distance.
var vectorMetrics = map[Metric]func(a, b []float32) (Score, error){
	Cosine:    CosineDrift,
	Euclidean: EuclideanDrift,
	Manhattan: ManhattanDrift,
	Chebyshev: ChebyshevDrift,
}

var textMetrics = map[Metric]func(a, b string) (Score, error){
	Lexical:  LexicalDrift,
	Sequence: SequenceDrift,
	JSON:     JSONShapeDrift,
	Code:     CodeShapeDrift,
	Numeric:  func(a, b string) (Score, error) { return NumericDrift(a, b, DefaultTolerance) },

	JSONValue:     func(a, b string) (Score, error) { return JSONValueDrift(a, b, DefaultTolerance) },
	CodeToken:     CodeTokenDrift,
	Figures:       func(a, b string) (Score, error) { return QuantityDrift(a, b, DefaultTolerance) },
	PolarityCheck: PolarityDrift,
}

// Embedding reports whether m compares embeddings (the composite
// [Factual] does, and reads the texts as well).
func (m Metric) Embedding() bool {
	_, ok := vectorMetrics[m]
	return ok || m == Factual
}

// compareItems compares two prepared texts (each with its embedding when
// m is an embedding metric and the text is not blank) by m, which must be
// valid.
func compareItems(m Metric, a, b item) (Score, error) {
	if f, ok := textMetrics[m]; ok {
		return f(a.text, b.text)
	}
	if m == Factual {
		cos, err := CosineDrift(a.vec, b.vec)
		if err != nil {
			return Score{}, err
		}
		if blank(a.text) || blank(b.text) {
			return cos, nil
		}
		fa, fb := a.facts, b.facts
		if fa == nil {
			fa = readFacts(a.text)
		}
		if fb == nil {
			fb = readFacts(b.text)
		}
		return factualScore(cos, fa, fb)
	}
	return vectorMetrics[m](a.vec, b.vec)
}

// Valid reports whether m is one of this package's metrics.
func (m Metric) Valid() bool {
	_, ok := textMetrics[m]
	return ok || m.Embedding()
}

// Compare compares two texts by m. For an embedding metric each text is
// embedded with embed first (an error from embed is returned wrapped, as is
// ctx's error), and a text of white space alone counts as empty; for a text
// metric embed is not used and may be nil. It
// returns the errors of the metric's function, [ErrNoEmbedder], and one
// wrapping [ErrUnknown] for a metric it does not know.
func Compare(ctx context.Context, m Metric, a, b string, embed agentos.Embedder) (Score, error) {
	if f, ok := textMetrics[m]; ok {
		return f(a, b)
	}
	if !m.Embedding() {
		return Score{}, fmt.Errorf("%w metric %q", ErrUnknown, m)
	}
	if embed == nil {
		return Score{}, ErrNoEmbedder
	}
	if s, ok := emptyCase(blank(a), blank(b)); ok {
		return s, nil
	}
	va, err := embedText(ctx, embed, a)
	if err != nil {
		return Score{}, err
	}
	vb, err := embedText(ctx, embed, b)
	if err != nil {
		return Score{}, err
	}
	return compareItems(m, item{text: a, vec: va}, item{text: b, vec: vb})
}

// CompareVectors compares two embeddings by m, which must be one of the
// four vector metrics (else an error wrapping [ErrUnknown]; [Factual]
// needs the texts too, so it is not one).
func CompareVectors(m Metric, a, b []float32) (Score, error) {
	f, ok := vectorMetrics[m]
	if !ok {
		return Score{}, fmt.Errorf("%w embedding metric %q", ErrUnknown, m)
	}
	return f(a, b)
}

func embedText(ctx context.Context, embed agentos.Embedder, s string) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := embed(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("cmvk: embed: %w", err)
	}
	return v, nil
}

// Profile is a metric and the drift above which two answers disagree: two
// answers agree when their drift is at most Threshold.
type Profile struct {
	Name      string
	Metric    Metric
	Threshold float64 // in [0, 1]
}

// Validate returns an error wrapping [agentos.ErrInvalid] when p's metric
// is unknown or its threshold is outside [0, 1] or NaN.
func (p Profile) Validate() error {
	var errs []error
	if !p.Metric.Valid() {
		errs = append(errs, fmt.Errorf("cmvk: profile %q: unknown metric %q: %w", p.Name, p.Metric, agentos.ErrInvalid))
	}
	if !(p.Threshold >= 0 && p.Threshold <= 1) || math.IsNaN(p.Threshold) {
		errs = append(errs, fmt.Errorf("cmvk: profile %q: threshold %v outside [0, 1]: %w", p.Name, p.Threshold, agentos.ErrInvalid))
	}
	return errors.Join(errs...)
}

// The profiles. The first six are named after the original CMVK's
// threshold profiles; the rest are this package's for text that an
// embedding would blur: code, JSON, figures and the original's plain
// lexical verify(). General, Financial and Medical judge by the composite
// [Factual] metric (the original judged them by cosine, Chebyshev and
// Manhattan distance alone, which a negation or a changed figure does not
// move: see docs/BENCHMARKS.md), CodeProfile by [CodeToken] (was the
// skeleton metric [Code] at 0.25) and JSONProfile by [JSONValue] (was the
// shape metric [JSON]); the thresholds were chosen on the tune half of
// cmvk/testdata/driftpairs.jsonl. A caller that wants an original profile
// builds it: Profile{Name: "general", Metric: Cosine, Threshold: 0.3}.
var (
	General   = Profile{Name: "general", Metric: Factual, Threshold: 0.18}
	Carbon    = Profile{Name: "carbon", Metric: Euclidean, Threshold: 0.15}
	Financial = Profile{Name: "financial", Metric: Factual, Threshold: 0.18}
	Medical   = Profile{Name: "medical", Metric: Factual, Threshold: 0.18}
	Strict    = Profile{Name: "strict", Metric: Euclidean, Threshold: 0.05}
	Lenient   = Profile{Name: "lenient", Metric: Cosine, Threshold: 0.5}

	CodeProfile    = Profile{Name: "code", Metric: CodeToken, Threshold: 0}
	JSONProfile    = Profile{Name: "json", Metric: JSONValue, Threshold: 0}
	NumericProfile = Profile{Name: "numeric", Metric: Figures, Threshold: 0}
	LexicalProfile = Profile{Name: "lexical", Metric: Lexical, Threshold: 0.3}
)

// Profiles returns the built-in profiles, in the order of the list above.
func Profiles() []Profile {
	return []Profile{General, Carbon, Financial, Medical, Strict, Lenient, CodeProfile, JSONProfile, NumericProfile, LexicalProfile}
}

// ProfileByName returns the built-in profile called name, or an error
// wrapping [ErrUnknown].
func ProfileByName(name string) (Profile, error) {
	for _, p := range Profiles() {
		if p.Name == name {
			return p, nil
		}
	}
	return Profile{}, fmt.Errorf("%w profile %q", ErrUnknown, name)
}
