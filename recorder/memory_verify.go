package recorder

import (
	"context"
	"database/sql"
	"fmt"
)

// verify is Recorder.Verify, VerifyAnchor and VerifyAnchors in memory. The
// store is inside the process, yet the walk checks every link and hash as
// for a file: the chain must start at the store's origin (the zero genesis,
// or the genesis of an imported export), as a file's must. Entries evicted
// by Options.MaxEntries are gone: the walk starts from the head of the last
// one evicted, which the store kept (Report.Genesis), counts them in
// Report.Evicted, and cannot check anchor points that fall among them; an
// anchor point at the eviction head itself is checked.
func (m *memStore) verify(ctx context.Context, want expectation) (rep Report, err error) {
	v, genesis, err := m.view()
	if err != nil {
		return Report{}, fmt.Errorf("recorder: verify: %w", err)
	}
	m.mu.Lock()
	origin, evicted := m.origin, m.evicted
	m.mu.Unlock()
	w := &walker{want: want, out: newOutcomeTracker()}
	defer func() { rep.Unknown = w.out.result() }()
	w.rep.Genesis, w.rep.Head, w.matched = origin, origin, origin
	if origin != want.start && !(want.anchored && origin.Seq < want.start.Seq) {
		var first sql.NullInt64
		if v.n > 0 {
			first = sql.NullInt64{Int64: int64(v.at(0).seq), Valid: true}
		}
		b := &ChainError{Seq: want.start.Seq + 1}
		genesisBreak(b, origin, want.start, first)
		w.rep.Broken = b
		return w.rep, nil
	}
	if b := w.pass(origin); b != nil {
		w.rep.Broken = b
		return w.rep, nil
	}
	if evicted > 0 {
		for w.pi < len(w.want.points) && w.want.points[w.pi].Seq < genesis.Seq {
			w.pi++ // among the evicted entries: nothing left to check them against
		}
		w.matched = genesis
		if b := w.pass(genesis); b != nil {
			w.rep.Broken = b
			return w.rep, nil
		}
		w.rep.Genesis, w.rep.Head, w.rep.Evicted = genesis, genesis, evicted
	}
	if b, err := w.memEntries(ctx, &v, genesis); err != nil || b != nil {
		w.rep.Broken = b
		return w.rep, err
	}
	if w.pi < len(w.want.points) {
		last := w.want.points[len(w.want.points)-1]
		w.rep.Broken = &ChainError{Seq: w.rep.Head.Seq + 1, Reason: ReasonTruncated,
			Detail: fmt.Sprintf("entries %d..%d are missing (the chain ends at %d)", w.rep.Head.Seq+1, last.Seq, w.rep.Head.Seq)}
	}
	w.rep.OK = w.rep.Broken == nil
	return w.rep, nil
}

// memEntries walks the entries of v from genesis, as walker.entries does
// the rows of a file.
func (w *walker) memEntries(ctx context.Context, v *memView, genesis Anchor) (*ChainError, error) {
	expect := genesis
	points := w.want.points
	buf := make([]byte, offBody, 512)
	buf[offVersion] = encodingVersion
	var broken *brokenRow
	var entries uint64
	defer func() {
		w.rep.Entries += entries
		w.rep.Head = expect
	}()
	for i := range v.n {
		if i&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		e := v.at(i)
		buf = append(buf[:offBody], e.body...)
		selfOK := e.seq > 0 && int64(e.seq) > 0 && seal(buf, e.prev, e.seq) == e.hash
		if selfOK && e.seq == expect.Seq+1 && e.prev == expect.Hash {
			expect = Anchor{Seq: e.seq, Hash: e.hash}
			entries++
			if f, ok := e.fields(); ok { // it hashes: it decodes
				w.out.observe(e.seq, Kind(f.kind), Status(f.status), f.trace)
			}
			if w.pi < len(points) && points[w.pi].Seq == expect.Seq {
				if b := w.pass(expect); b != nil {
					return b, nil
				}
			}
			continue
		}
		broken = &brokenRow{seq: e.seq, selfOK: selfOK, buf: e.hashingBuf(),
			prev: append([]byte(nil), e.prev[:]...), hash: append([]byte(nil), e.hash[:]...)}
		break
	}
	if broken == nil {
		return nil, nil
	}
	return classify(ctx, genesis, memRows{v}, expect, *broken)
}

// memRows reads the rows classify needs from a view.
type memRows struct{ v *memView }

func (r memRows) maxSeq(context.Context) (uint64, error) {
	if r.v.n == 0 {
		return 0, nil
	}
	return r.v.at(r.v.n - 1).seq, nil
}

func (r memRows) rowAt(_ context.Context, seq uint64) (*brokenRow, error) {
	i := r.v.search(func(s uint64) bool { return s >= seq })
	if i == r.v.n || r.v.at(i).seq != seq {
		return nil, nil
	}
	e := r.v.at(i)
	return &brokenRow{seq: seq, buf: e.hashingBuf(), prev: append([]byte(nil), e.prev[:]...),
		hash: append([]byte(nil), e.hash[:]...)}, nil
}

// hashingBuf returns a new hashing buffer of e (see encode): room for the
// previous hash and the sequence, the version, then the body.
func (e *memEntry) hashingBuf() []byte {
	b := make([]byte, offBody, offBody+len(e.body))
	b[offVersion] = encodingVersion
	return append(b, e.body...)
}
