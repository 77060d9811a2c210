package cmvk

import (
	"fmt"
	"math"
)

// The embedding distances, each normalised to a drift in [0, 1] that does
// not depend on the vectors' scale. For all four: two empty (or two zero)
// vectors have drift 0, one empty or zero vector against a non-zero one
// drift 1, vectors of different lengths drift 1 with confidence 0.5 (the
// original's shape-mismatch rule), and a NaN or ±Inf component is
// [ErrNotFinite]. Otherwise confidence is 1.

// CosineDrift is 1 − cos(a, b), clamped to [0, 1]: parallel vectors have
// drift 0, orthogonal ones 1, and vectors pointing further apart than 90°
// also 1 (an embedding that opposes another is no closer than an unrelated
// one).
func CosineDrift(a, b []float32) (Score, error) {
	return vectorScore(a, b, func(a, b []float32) float64 {
		var dot, na, nb float64
		for i := range a {
			x, y := float64(a[i]), float64(b[i])
			dot += x * y
			na += x * x
			nb += y * y
		}
		return clamp01(1 - dot/(math.Sqrt(na)*math.Sqrt(nb)))
	})
}

// EuclideanDrift is ‖a − b‖₂ / (‖a‖₂ + ‖b‖₂): 0 for equal vectors, 1 for
// opposite ones (b = −c·a), by the triangle inequality never more. For two
// unit vectors it is half their distance.
func EuclideanDrift(a, b []float32) (Score, error) {
	return vectorScore(a, b, func(a, b []float32) float64 {
		var d, na, nb float64
		for i := range a {
			x, y := float64(a[i]), float64(b[i])
			d += (x - y) * (x - y)
			na += x * x
			nb += y * y
		}
		return clamp01(math.Sqrt(d) / (math.Sqrt(na) + math.Sqrt(nb)))
	})
}

// ManhattanDrift is ‖a − b‖₁ / (‖a‖₁ + ‖b‖₁), in [0, 1] by the triangle
// inequality: 1 when every component differs in sign or one side is zero.
func ManhattanDrift(a, b []float32) (Score, error) {
	return vectorScore(a, b, func(a, b []float32) float64 {
		var d, na, nb float64
		for i := range a {
			x, y := float64(a[i]), float64(b[i])
			d += math.Abs(x - y)
			na += math.Abs(x)
			nb += math.Abs(y)
		}
		return clamp01(d / (na + nb))
	})
}

// ChebyshevDrift is ‖a − b‖∞ / (‖a‖∞ + ‖b‖∞): the largest difference of
// one component against the largest components, in [0, 1]. It is the
// strictest of the four for an answer that moved in a single dimension.
func ChebyshevDrift(a, b []float32) (Score, error) {
	return vectorScore(a, b, func(a, b []float32) float64 {
		var d, na, nb float64
		for i := range a {
			x, y := float64(a[i]), float64(b[i])
			d = max(d, math.Abs(x-y))
			na = max(na, math.Abs(x))
			nb = max(nb, math.Abs(y))
		}
		return clamp01(d / (na + nb))
	})
}

func vectorScore(a, b []float32, drift func(a, b []float32) float64) (Score, error) {
	if err := finite32(a); err != nil {
		return Score{}, err
	}
	if err := finite32(b); err != nil {
		return Score{}, err
	}
	if s, ok := emptyCase(isZero(a), isZero(b)); ok {
		if len(a) != len(b) && len(a) > 0 && len(b) > 0 {
			return mismatch, nil
		}
		return s, nil
	}
	if len(a) != len(b) {
		return mismatch, nil
	}
	return Score{Drift: drift(a, b), Confidence: 1}, nil
}

func finite32(v []float32) error {
	for i, x := range v {
		if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%w: component %d is %v", ErrNotFinite, i, x)
		}
	}
	return nil
}

func isZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// JSDrift is the Jensen–Shannon divergence of the distributions p and q
// divided by ln 2, so in [0, 1]: 0 for the same distribution, 1 for
// disjoint supports. Each side is normalised to sum 1 first, so counts
// work as well as probabilities. Two empty distributions have drift 0, one
// empty drift 1; different lengths drift 1 with confidence 0.5 (the
// supports cannot be aligned). A negative weight is [ErrNegative], NaN or
// ±Inf [ErrNotFinite], a non-empty all-zero side [ErrZeroMass].
func JSDrift(p, q []float64) (Score, error) {
	sp, err := mass(p)
	if err != nil {
		return Score{}, err
	}
	sq, err := mass(q)
	if err != nil {
		return Score{}, err
	}
	if s, ok := emptyCase(len(p) == 0, len(q) == 0); ok {
		return s, nil
	}
	if len(p) != len(q) {
		return mismatch, nil
	}
	var js float64
	for i := range p {
		x, y := p[i]/sp, q[i]/sq
		m := (x + y) / 2
		if x > 0 {
			js += x * math.Log(x/m) / 2
		}
		if y > 0 {
			js += y * math.Log(y/m) / 2
		}
	}
	return Score{Drift: clamp01(js / math.Ln2), Confidence: 1}, nil
}

func mass(p []float64) (float64, error) {
	var s float64
	for i, x := range p {
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			return 0, fmt.Errorf("%w: weight %d is %v", ErrNotFinite, i, x)
		case x < 0:
			return 0, fmt.Errorf("%w: weight %d is %v", ErrNegative, i, x)
		}
		s += x
	}
	if len(p) > 0 && s == 0 {
		return 0, ErrZeroMass
	}
	if math.IsInf(s, 0) {
		return 0, fmt.Errorf("%w: weights overflow", ErrNotFinite)
	}
	return s, nil
}
