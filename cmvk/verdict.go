package cmvk

import (
	"context"
	"errors"
	"fmt"

	"github.com/agent-os/agentos"
)

// VerifyOptions configures [Verify]; the zero value is valid for the text
// metrics.
type VerifyOptions struct {
	// Embedder embeds answers for an embedding metric; required for one.
	Embedder agentos.Embedder
}

// Pair is the comparison of two successful answers, A before B in the
// order of the answers. A comparison that failed (for example an answer
// that is not JSON under the "json" profile) has Err set, Drift 1 and
// Confidence 0: it counts as disagreement.
type Pair struct {
	A, B       string
	Drift      float64
	Confidence float64
	Err        error
}

// Verdict is the agreement of several answers under one profile.
//
// The answers counted, N, are all those given except the ones that carry
// [ErrQuorum] (they were not awaited, so they neither agree nor dissent).
// A failed answer counts against agreement: fail closed.
//
// Every pair of successful answers is compared. Two answers agree when
// their drift is at most the profile's threshold. The Representative is
// the successful answer that agrees with the most others (ties: the lower
// mean drift to those it agrees with, then the earlier answer); the
// Majority is it and the answers that agree with it. Note that two members
// of the Majority may be up to twice the threshold apart.
//
//   - Agree: the Majority holds more than half of N (a strict majority, so
//     a 2–2 tie does not agree), and N ≥ 2. With N < 2 there is nothing to
//     cross-verify and Agree is false.
//   - Drift: the mean drift over all pairs of successful answers (0 with
//     fewer than two): how far apart the answers are overall.
//   - Confidence: |Majority|/N × (1 − the mean drift from the
//     Representative to the other members) × the mean Confidence of those
//     comparisons (both factors 1 for a Majority of one); 0 with no
//     successful answer or N < 2. Unanimous identical answers have
//     confidence 1.
type Verdict struct {
	Profile        Profile
	Agree          bool
	Drift          float64
	Confidence     float64
	Representative string // the name of the representative answer; "" when none succeeded
	Answer         string // its text
	Majority       []string
	Dissenters     []string // successful answers outside the Majority
	Failed         []string // answers with an error other than ErrQuorum
	Pairs          []Pair
	Reason         string // why Agree is what it is, in words
}

// Verify compares answers under profile p and returns the verdict
// described at [Verdict]. It returns an error, and no verdict, when the
// agreement cannot be judged: p is invalid or more than [MaxModels]
// answers are given (errors wrapping [agentos.ErrInvalid]), p's metric
// needs an embedder that opts lacks ([ErrNoEmbedder]), the embedder fails,
// or ctx is done.
func Verify(ctx context.Context, answers Answers, p Profile, opts VerifyOptions) (Verdict, error) {
	cmp, err := newComparer(p, opts.Embedder)
	if err != nil {
		return Verdict{}, err
	}
	if len(answers) > MaxModels {
		return Verdict{}, fmt.Errorf("cmvk: %d answers (at most %d): %w", len(answers), MaxModels, agentos.ErrInvalid)
	}
	v := Verdict{Profile: p}
	var ok []int
	var items []item
	n := 0
	for i, a := range answers {
		switch {
		case errors.Is(a.Err, ErrQuorum):
			continue
		case a.Err != nil:
			v.Failed = append(v.Failed, a.Name)
		default:
			it, err := cmp.prepare(ctx, a.Completion.Text)
			if err != nil {
				return Verdict{}, fmt.Errorf("cmvk: verify %q: %w", a.Name, err)
			}
			ok = append(ok, i)
			items = append(items, it)
		}
		n++
	}
	if len(ok) == 0 {
		v.Reason = fmt.Sprintf("no answer of %d succeeded", n)
		return v, nil
	}

	// drift[x][y] over the successful answers, by their index in ok.
	drift := make([][]Score, len(ok))
	for x := range ok {
		drift[x] = make([]Score, len(ok))
		drift[x][x] = identical
	}
	var sum float64
	for x := range ok {
		for y := x + 1; y < len(ok); y++ {
			if err := ctx.Err(); err != nil {
				return Verdict{}, err
			}
			s, err := cmp.compare(items[x], items[y])
			if err != nil {
				s = Score{Drift: 1, Confidence: 0}
			}
			drift[x][y], drift[y][x] = s, s
			sum += s.Drift
			v.Pairs = append(v.Pairs, Pair{A: answers[ok[x]].Name, B: answers[ok[y]].Name, Drift: s.Drift, Confidence: s.Confidence, Err: err})
		}
	}
	if len(v.Pairs) > 0 {
		v.Drift = sum / float64(len(v.Pairs))
	}

	best, bestN, bestMean := -1, -1, 0.0
	for x := range ok {
		cnt, total := 0, 0.0
		for y := range ok {
			if y != x && drift[x][y].Drift <= p.Threshold {
				cnt++
				total += drift[x][y].Drift
			}
		}
		mean := 0.0
		if cnt > 0 {
			mean = total / float64(cnt)
		}
		if cnt > bestN || (cnt == bestN && mean < bestMean) {
			best, bestN, bestMean = x, cnt, mean
		}
	}
	rep := answers[ok[best]]
	v.Representative, v.Answer = rep.Name, rep.Completion.Text
	confSum := 0.0
	for y := range ok {
		switch {
		case y == best:
			v.Majority = append(v.Majority, rep.Name)
		case drift[best][y].Drift <= p.Threshold:
			v.Majority = append(v.Majority, answers[ok[y]].Name)
			confSum += drift[best][y].Confidence
		default:
			v.Dissenters = append(v.Dissenters, answers[ok[y]].Name)
		}
	}
	meanConf := 1.0
	if bestN > 0 {
		meanConf = confSum / float64(bestN)
	}
	v.Confidence = clamp01(float64(len(v.Majority)) / float64(n) * (1 - bestMean) * meanConf)
	switch {
	case n < 2:
		v.Confidence = 0
		v.Reason = "fewer than two answers: nothing to cross-verify"
	case 2*len(v.Majority) > n:
		v.Agree = true
		v.Reason = fmt.Sprintf("%d of %d answers within %v %s drift of %q", len(v.Majority), n, p.Threshold, p.Metric, rep.Name)
	default:
		v.Reason = fmt.Sprintf("no majority: at most %d of %d answers within %v %s drift of one another", len(v.Majority), n, p.Threshold, p.Metric)
	}
	return v, nil
}
