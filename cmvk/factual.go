package cmvk

import "errors"

// FiguresConflict reports whether two texts state different figures: each
// has at least one figure ([Quantities]) that no figure of the other
// equals (within tol, or as a rounded restatement). A figure on one side
// only (a date the other answer leaves out) is an omission, not a
// conflict; "3 pm" against "5 pm" is one. It also returns the share of
// figures left unpaired, (unpaired a + unpaired b) / (count a + count b).
// Its errors are those of [Quantities] and, for a negative or NaN tol,
// one wrapping [agentos.ErrInvalid].
func FiguresConflict(a, b string, tol Tolerance) (bool, float64, error) {
	if err := tol.check(); err != nil {
		return false, 0, err
	}
	qa, err := Quantities(a)
	if err != nil {
		return false, 0, err
	}
	qb, err := Quantities(b)
	if err != nil {
		return false, 0, err
	}
	conflict, share := figuresConflict(qa, qb, tol)
	return conflict, share, nil
}

func figuresConflict(qa, qb []Quantity, tol Tolerance) (bool, float64) {
	if len(qa)+len(qb) == 0 {
		return false, 0
	}
	m := matchQuantities(qa, qb, tol)
	share := float64(len(qa)+len(qb)-2*m) / float64(len(qa)+len(qb))
	return m < len(qa) && m < len(qb), share
}

// facts is what [FactualDrift] reads from one text.
type facts struct {
	claim claim
	qs    []Quantity
	err   error // from Quantities
}

func readFacts(text string) *facts {
	qs, err := Quantities(text)
	return &facts{claim: parseClaim(text), qs: qs, err: err}
}

// FactualDrift combines an embedding comparison with the two checks an
// embedding is blind to, for answers whose facts matter:
//
//	drift = 1                  when [Contradiction] finds the texts contradict
//	        1                  when [FiguresConflict] finds a conflicting figure
//	        cosine drift       otherwise
//
// cos is the [CosineDrift] of the texts' embeddings, a and b the texts. So
// a paraphrase keeps its small embedding drift, while "You can / cannot
// deploy on Friday" and "The meeting is at 3 pm / 5 pm", which a
// bag-of-words embedding puts within 0.03 of each other, drift 1. When a
// check fires Confidence is 1 for a figure or opposite verdicts and the
// content-word overlap for a negation or antonym; otherwise it is cos's.
// When a text is blank only cos counts: [Compare] and [Verify] give blank
// answers the shared empty-answer scores before they get here, and a
// [Monitor] observation may carry its embedding without its text. It
// returns the errors of [Quantities].
func FactualDrift(cos Score, a, b string) (Score, error) {
	if blank(a) || blank(b) {
		return cos, nil
	}
	return factualScore(cos, readFacts(a), readFacts(b))
}

func factualScore(cos Score, a, b *facts) (Score, error) {
	if p := contradiction(a.claim, b.claim); p.Contradicts {
		conf := p.Overlap
		if p.Verdicts {
			conf = 1
		}
		return Score{Drift: 1, Confidence: conf}, nil
	}
	if err := errors.Join(a.err, b.err); err != nil {
		return Score{}, err
	}
	if conflict, _ := figuresConflict(a.qs, b.qs, DefaultTolerance); conflict {
		return Score{Drift: 1, Confidence: 1}, nil
	}
	return cos, nil
}
