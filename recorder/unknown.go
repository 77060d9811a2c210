package recorder

import (
	"iter"
	"slices"
)

// StatusPermitted is the Status of a decision entry whose action was let
// through to run (kernel.StatusPermitted has the same value). Such a
// decision is followed, once the action has run, by an outcome entry with
// the same Trace; one without an outcome is an unknown outcome (see
// Unknown).
const StatusPermitted Status = "permitted"

// Bounds of the unknown-outcome computation.
const (
	// MaxUnknownListed bounds the sequence numbers listed in Unknown.Seqs
	// (the first ones in chain order); Unknown.Count counts them all.
	MaxUnknownListed = 1024
	// MaxOpenDecisions bounds the permitted decisions a walk of the chain
	// keeps waiting for their outcome. When more wait, the oldest one is
	// given up and counted as unknown: an outcome more than
	// MaxOpenDecisions permitted decisions after its own decision is not
	// matched.
	MaxOpenDecisions = 1 << 20
)

// Unknown lists the unknown outcomes of a chain: permitted decisions
// (KindDecision with Status StatusPermitted) that no later outcome entry
// (KindOutcome with the same Trace) answers. For each of them the effect
// may or may not have happened: the decision was durable before the
// action ran, and the process stopped before its outcome was committed
// (a crash, a kill, a lost commit). Entries of syscalls still running when
// the chain was read show here too; a kernel closed cleanly leaves none.
type Unknown struct {
	// Count is the number of unknown outcomes.
	Count uint64
	// Seqs are the sequence numbers of the first MaxUnknownListed
	// decisions counted, ascending.
	Seqs []uint64
}

// outcomeTracker matches permitted decisions with their outcomes while the
// chain is walked in sequence order. Not safe for concurrent use.
type outcomeTracker struct {
	open  map[string]uint64 // trace → seq of its permitted decision
	order []openDecision    // open decisions in seq order; some may be closed
	head  int               // order[head:] is live
	gone  []uint64          // decisions given up (MaxOpenDecisions), ascending
	lost  uint64            // decisions given up
	limit int
}

type openDecision struct {
	seq   uint64
	trace string
}

func newOutcomeTracker() *outcomeTracker {
	return &outcomeTracker{open: map[string]uint64{}, limit: MaxOpenDecisions}
}

// observe takes the next entry of the chain (its sequence, kind, status
// and trace).
func (t *outcomeTracker) observe(seq uint64, kind Kind, status Status, trace string) {
	switch {
	case kind == KindDecision && status == StatusPermitted:
		if prev, ok := t.open[trace]; ok {
			// A second permitted decision with the trace of an open one:
			// the first is answered by nothing the walk can tell apart.
			t.giveUp(prev)
		}
		t.open[trace] = seq
		t.order = append(t.order, openDecision{seq: seq, trace: trace})
		for len(t.open) > t.limit {
			t.evictOldest()
		}
		t.compact()
	case kind == KindOutcome:
		delete(t.open, trace)
	}
}

// giveUp counts the decision seq as unknown.
func (t *outcomeTracker) giveUp(seq uint64) {
	t.lost++
	if len(t.gone) < MaxUnknownListed {
		t.gone = append(t.gone, seq)
	}
}

// evictOldest gives up the oldest open decision.
func (t *outcomeTracker) evictOldest() {
	for t.head < len(t.order) {
		d := t.order[t.head]
		t.head++
		if s, ok := t.open[d.trace]; ok && s == d.seq {
			delete(t.open, d.trace)
			t.giveUp(d.seq)
			return
		}
	}
}

// compact drops the closed decisions from order once they are most of it,
// so that order stays within twice the open decisions (amortised O(1)).
func (t *outcomeTracker) compact() {
	if len(t.order) < 2*len(t.open)+64 {
		return
	}
	live := t.order[:0]
	for _, d := range t.order[t.head:] {
		if s, ok := t.open[d.trace]; ok && s == d.seq {
			live = append(live, d)
		}
	}
	clear(t.order[len(live):])
	t.order, t.head = live, 0
}

// result returns the unknown outcomes of the entries observed.
func (t *outcomeTracker) result() Unknown {
	u := Unknown{Count: t.lost + uint64(len(t.open))}
	seqs := append([]uint64(nil), t.gone...)
	for _, s := range t.open {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	if len(seqs) > MaxUnknownListed {
		seqs = seqs[:MaxUnknownListed]
	}
	if len(seqs) > 0 {
		u.Seqs = seqs
	}
	return u
}

// unknownOutcomes computes the unknown outcomes of a chain given in
// sequence order. Every store of entries (SQLite, memory) computes
// Stats.Unknown and Report.Unknown with it, or with the outcomeTracker it
// wraps, so that they agree.
func unknownOutcomes(seq iter.Seq[Entry]) Unknown {
	t := newOutcomeTracker()
	for e := range seq {
		t.observe(e.Seq, e.Kind, e.Status, e.Trace)
	}
	return t.result()
}
