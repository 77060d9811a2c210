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
}

// Embedding reports whether m compares embeddings.
func (m Metric) Embedding() bool { _, ok := vectorMetrics[m]; return ok }

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
	f, ok := vectorMetrics[m]
	if !ok {
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
	return f(va, vb)
}

// CompareVectors compares two embeddings by m, which must be an embedding
// metric (else an error wrapping [ErrUnknown]).
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

// The profiles. The first six are the original CMVK's threshold profiles;
// the last three are this package's for text that an embedding would
// blur: code, JSON and the original's plain lexical verify().
var (
	General   = Profile{Name: "general", Metric: Cosine, Threshold: 0.3}
	Carbon    = Profile{Name: "carbon", Metric: Euclidean, Threshold: 0.15}
	Financial = Profile{Name: "financial", Metric: Chebyshev, Threshold: 0.10}
	Medical   = Profile{Name: "medical", Metric: Manhattan, Threshold: 0.20}
	Strict    = Profile{Name: "strict", Metric: Euclidean, Threshold: 0.05}
	Lenient   = Profile{Name: "lenient", Metric: Cosine, Threshold: 0.5}

	CodeProfile    = Profile{Name: "code", Metric: Code, Threshold: 0.25}
	JSONProfile    = Profile{Name: "json", Metric: JSON, Threshold: 0}
	LexicalProfile = Profile{Name: "lexical", Metric: Lexical, Threshold: 0.3}
)

// Profiles returns the built-in profiles, in the order of the list above.
func Profiles() []Profile {
	return []Profile{General, Carbon, Financial, Medical, Strict, Lenient, CodeProfile, JSONProfile, LexicalProfile}
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
