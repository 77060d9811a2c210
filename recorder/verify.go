package recorder

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"slices"

	"github.com/agent-os/agentos"
)

// Report is the result of Verify.
type Report struct {
	// OK is true when the chain starts where it must, every entry checked
	// links to its predecessor and hashes to its stored hash, and (with
	// anchors) the chain passes through every anchor's genesis and head.
	OK bool
	// Entries is the number of entries checked.
	Entries uint64
	// Genesis is where the first file checked starts: seq 0 and a zero
	// hash for the first file of a chain.
	Genesis Anchor
	// Head is the last entry checked.
	Head Anchor
	// Broken is the first broken link, nil when OK.
	Broken *ChainError
	// Unknown lists the unknown outcomes among the entries checked:
	// permitted decisions with no outcome entry, for which the effect may
	// or may not have happened (see Unknown). Syscalls running while
	// Verify reads show here too; a chain whose kernel closed cleanly has
	// none. It does not make the chain broken: OK says nothing of it.
	Unknown Unknown
	// Evicted is the number of entries an in-memory recorder bounded by
	// Options.MaxEntries dropped before Genesis: they could not be checked.
	Evicted uint64
}

// Err returns Broken as an error (nil when the chain verifies).
func (r Report) Err() error {
	if r.Broken == nil {
		return nil
	}
	return r.Broken
}

// maxSearch bounds the sequences tried when classifying a broken entry.
const maxSearch = 1 << 22

// Verify walks the recorder's chain from the zero genesis, through every
// file of a rolled-over recorder (Segments) in order, and reports the first
// broken link with its sequence and reason. A broken chain is a value in
// Report, not an error; the error is for a chain that could not be read
// (agentos.ErrClosed, I/O, a file that is not a recorder database). Verify
// sees the entries committed when it starts.
//
// A chain must start at the zero genesis: a first file whose genesis is not
// zero is reported as ReasonDeleted (its genesis was moved forward over
// deleted entries) or ReasonGenesis (its genesis hash was rewritten). A
// file that legitimately continues an older chain verifies only against the
// genesis its holder expects: use VerifyAnchor with an anchor that names it.
//
// Verify cannot see entries removed from the tail, nor a chain rewritten
// from some entry on with every later hash recomputed: both are valid
// chains. Only an anchor kept elsewhere reveals them; use VerifyAnchor.
func (r *Recorder) Verify(ctx context.Context) (Report, error) {
	return r.verify(ctx, nil)
}

// VerifyAnchor is Verify against an anchor kept elsewhere: the chain must
// start at the anchor's genesis (a first file that starts earlier is walked
// and must pass through it) and pass through its head with the same hash.
// A chain that ends before the head is reported as ReasonTruncated at the
// first missing sequence, one that starts after the genesis as
// ReasonDeleted, and one whose entry at an anchored sequence has another
// hash as ReasonRewritten. It returns agentos.ErrInvalid for an anchor
// whose head precedes its genesis.
func (r *Recorder) VerifyAnchor(ctx context.Context, anchor Anchor) (Report, error) {
	return r.verify(ctx, []Anchor{anchor})
}

// VerifyAnchors is VerifyAnchor against several anchors at once (the
// anchors published over time, in any order) in one walk: the chain starts
// at the earliest genesis they name and passes through every genesis and
// head of each. With several anchors a rewritten stretch is located between
// the last anchor that matches and the first that does not.
func (r *Recorder) VerifyAnchors(ctx context.Context, anchors []Anchor) (Report, error) {
	return r.verify(ctx, anchors)
}

func (r *Recorder) verify(ctx context.Context, anchors []Anchor) (Report, error) {
	want, err := newExpectation(anchors)
	if err != nil {
		return Report{}, err
	}
	if r.mem != nil {
		return r.mem.verify(ctx, want)
	}
	st, release, err := r.reader(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("recorder: verify: %w", err)
	}
	defer release()
	var files []chainFile
	for _, p := range r.Segments() {
		if p != st.path {
			files = append(files, chainFile{path: p})
		}
	}
	files = append(files, chainFile{path: st.path, st: st})
	return verifyChain(ctx, files, want)
}

// VerifyFiles verifies the files of a rolled-over recorder, in order (as
// listed by Segments): the first must start at the zero genesis, each
// file's chain must link, and each file's genesis must be the head of the
// file before it. A file deleted from the set, listed out of order or
// replaced by a file of another chain is reported (ReasonDeleted,
// ReasonReordered, ReasonGenesis) with the first sequence it breaks and
// the file in ChainError.File. The report's Genesis is the first file's
// and its Head the last entry checked; Entries counts all files. A set
// whose first files were archived verifies only against the anchors its
// holder kept: see VerifyFilesAnchored.
func VerifyFiles(ctx context.Context, paths ...string) (Report, error) {
	return VerifyFilesAnchored(ctx, nil, paths...)
}

// VerifyFilesAnchored is VerifyFiles against anchors kept elsewhere, as
// Recorder.VerifyAnchors: the set starts at the earliest genesis the
// anchors name (the zero genesis when there are none) and passes through
// every anchor's genesis and head.
func VerifyFilesAnchored(ctx context.Context, anchors []Anchor, paths ...string) (Report, error) {
	want, err := newExpectation(anchors)
	if err != nil {
		return Report{}, err
	}
	if len(paths) == 0 {
		return Report{}, fmt.Errorf("%w: recorder: VerifyFiles needs at least one file", agentos.ErrInvalid)
	}
	files := make([]chainFile, len(paths))
	for i, p := range paths {
		files[i] = chainFile{path: p}
	}
	return verifyChain(ctx, files, want)
}

// expectation is what a walk checks besides the links: where the chain
// starts, and the points (the two ends of every anchor) it must pass
// through, sorted by sequence.
type expectation struct {
	start    Anchor // the genesis of the chain, a point
	anchored bool   // start comes from anchors: a first file may start earlier
	points   []Anchor
}

func newExpectation(anchors []Anchor) (expectation, error) {
	var w expectation
	for i, a := range anchors {
		if a.Seq < a.GenesisSeq {
			return w, fmt.Errorf("%w: recorder: anchor %d: head %d precedes its genesis %d", agentos.ErrInvalid, i, a.Seq, a.GenesisSeq)
		}
		g := a.Genesis()
		if i == 0 || g.Seq < w.start.Seq {
			w.start = g
		}
		w.points = append(w.points, g, a.Head())
	}
	w.anchored = len(anchors) > 0
	slices.SortStableFunc(w.points, func(a, b Anchor) int { return cmp.Compare(a.Seq, b.Seq) })
	w.points = slices.Compact(w.points)
	return w, nil
}

// chainFile is one file of a walk: st is the recorder's open store, or nil
// for a file the walk opens read-only.
type chainFile struct {
	path string
	st   *store
}

func (f chainFile) open(ctx context.Context) (*store, func(), error) {
	if f.st != nil {
		return f.st, func() {}, nil
	}
	o := (&Options{ReadOnly: true}).withDefaults()
	st, err := openStore(ctx, f.path, &o, Anchor{})
	if err != nil {
		return nil, nil, err
	}
	return st, func() { st.close() }, nil
}

// walker checks the files of one chain in order.
type walker struct {
	rep     Report
	want    expectation
	pi      int    // next point to pass
	matched Anchor // the last point passed (or the start)
	out     *outcomeTracker
}

// verifyChain walks files in order against want.
func verifyChain(ctx context.Context, files []chainFile, want expectation) (rep Report, err error) {
	w := &walker{want: want, out: newOutcomeTracker()}
	defer func() { rep.Unknown = w.out.result() }()
	for i, f := range files {
		st, release, err := f.open(ctx)
		if err != nil {
			return w.rep, err
		}
		broken, err := w.file(ctx, files, i, st)
		release()
		if err != nil || broken != nil {
			w.rep.Broken = broken
			return w.rep, err
		}
	}
	if w.pi < len(w.want.points) {
		last := w.want.points[len(w.want.points)-1]
		w.rep.Broken = &ChainError{Seq: w.rep.Head.Seq + 1, Reason: ReasonTruncated,
			Detail: fmt.Sprintf("entries %d..%d are missing (the chain ends at %d)", w.rep.Head.Seq+1, last.Seq, w.rep.Head.Seq),
			File:   files[len(files)-1].path}
	}
	w.rep.OK = w.rep.Broken == nil
	return w.rep, nil
}

// file checks where the i-th file starts, then walks its entries.
func (w *walker) file(ctx context.Context, files []chainFile, i int, st *store) (*ChainError, error) {
	g := st.genesis
	if i == 0 {
		w.rep.Genesis, w.rep.Head, w.matched = g, g, g
		start := w.want.start
		if g != start && !(w.want.anchored && g.Seq < start.Seq) {
			return startBreak(ctx, files, i, st, start)
		}
	} else if g != w.rep.Head {
		return startBreak(ctx, files, i, st, w.rep.Head)
	}
	if b := w.pass(g); b != nil {
		b.File = st.path
		return b, nil
	}
	return w.entries(ctx, st)
}

// pass checks the points at p.Seq against p; a point with another hash
// means the chain was rewritten after the last point passed.
func (w *walker) pass(p Anchor) *ChainError {
	for ; w.pi < len(w.want.points) && w.want.points[w.pi].Seq == p.Seq; w.pi++ {
		if w.want.points[w.pi].Hash != p.Hash {
			from := w.matched.Seq + 1
			detail := fmt.Sprintf("entry %d does not have the anchored hash: it was rewritten and the hashes after it recomputed", p.Seq)
			if from < p.Seq {
				detail = fmt.Sprintf("entry %d does not have the anchored hash (entry %d had): the first rewritten entry is one of %d..%d, and every hash after it was recomputed",
					p.Seq, w.matched.Seq, from, p.Seq)
			}
			return &ChainError{Seq: from, Reason: ReasonRewritten, Detail: detail}
		}
		w.matched = p
	}
	return nil
}

// startBreak names the break when the i-th file, st, starts elsewhere than
// at want: another file of the set starts at want (reordered), or none does
// and the file starts later (deleted) or elsewhere (genesis).
func startBreak(ctx context.Context, files []chainFile, i int, st *store, want Anchor) (*ChainError, error) {
	got := st.genesis
	b := &ChainError{Seq: want.Seq + 1, File: files[i].path}
	var first sql.NullInt64
	if err := st.r.QueryRowContext(ctx, "SELECT min(seq) FROM entries").Scan(&first); err != nil {
		return nil, st.wrap(err)
	}
	for j, f := range files {
		if j == i {
			continue
		}
		st, release, err := f.open(ctx)
		if err != nil {
			return nil, err
		}
		g := st.genesis
		release()
		if g == want {
			b.Reason = ReasonReordered
			b.Detail = fmt.Sprintf("the file that continues the chain after %d is %s, listed at place %d, not %d", want.Seq, f.path, j+1, i+1)
			return b, nil
		}
	}
	genesisBreak(b, got, want, first)
	return b, nil
}

// genesisBreak names the break of a chain that starts at got, not want,
// and whose first entry is first (invalid when it holds none).
func genesisBreak(b *ChainError, got, want Anchor, first sql.NullInt64) {
	switch {
	case got.Seq > want.Seq && first.Valid && first.Int64 <= int64(got.Seq):
		b.Reason = ReasonGenesis
		b.Detail = fmt.Sprintf("the genesis was moved to %d, but the file holds entry %d", got.Seq, first.Int64)
	case got.Seq > want.Seq:
		b.Reason = ReasonDeleted
		b.Detail = fmt.Sprintf("entries %d..%d are missing: the chain resumes from genesis %d (entries deleted and the genesis moved, or files missing)",
			want.Seq+1, got.Seq, got.Seq)
	case got.Seq == want.Seq:
		b.Reason = ReasonGenesis
		b.Detail = fmt.Sprintf("the chain starts from hash %s at %d, not %s (a rewritten genesis, or a file of another chain)",
			got.Hash, got.Seq, want.Hash)
	default:
		b.Reason = ReasonGenesis
		b.Detail = fmt.Sprintf("the chain restarts at %d, before %d (a file of another chain, or one listed twice)", got.Seq, want.Seq)
	}
}

// entries checks the chain of one store from its genesis, which has been
// checked. It reads rows through the driver directly: database/sql's
// per-column conversions cost more than the hashing.
func (w *walker) entries(ctx context.Context, st *store) (*ChainError, error) {
	conn, err := st.r.Conn(ctx)
	if err != nil {
		return nil, st.wrap(err)
	}
	var broken *brokenRow
	var pointErr *ChainError
	expect := st.genesis
	entries := uint64(0)
	points := w.want.points
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("recorder: unexpected driver connection %T", dc)
		}
		rows, err := sc.QueryContext(ctx, "SELECT "+columns+" FROM entries ORDER BY seq", nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, numColumns)
		buf := make([]byte, 0, 512)
		var f fields[string]
		for {
			if entries&1023 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := rows.Next(dest); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			seq, okRow := rowFields(dest, &f)
			prev, _ := dest[numColumns-2].([]byte)
			hash, _ := dest[numColumns-1].([]byte)
			buf = encode(buf[:0], &f)
			selfOK := okRow && len(prev) == HashSize && len(hash) == HashSize && seq > 0 &&
				seal(buf, Hash(prev), uint64(seq)) == Hash(hash)
			if selfOK && uint64(seq) == expect.Seq+1 && Hash(prev) == expect.Hash {
				expect = Anchor{Seq: uint64(seq), Hash: Hash(hash)}
				entries++
				w.out.observe(uint64(seq), Kind(f.kind), Status(f.status), f.trace)
				if w.pi < len(points) && points[w.pi].Seq == expect.Seq {
					if pointErr = w.pass(expect); pointErr != nil {
						return nil
					}
				}
				continue
			}
			broken = &brokenRow{seq: uint64(max(seq, 0)), selfOK: selfOK, buf: append([]byte(nil), buf...),
				prev: append([]byte(nil), prev...), hash: append([]byte(nil), hash...)}
			return nil
		}
	})
	conn.Close()
	w.rep.Entries += entries
	w.rep.Head = expect
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, st.wrap(err)
	}
	if pointErr != nil {
		pointErr.File = st.path
		return pointErr, nil
	}
	if broken != nil {
		b, err := classify(ctx, st.genesis, storeRows{st}, expect, *broken)
		if b != nil {
			b.File = st.path
		}
		return b, err
	}
	return nil, nil
}

// rowFields fills f from a driver row in column order and returns the
// sequence; ok is false when a column has an unexpected type (the row was
// tampered with outside the recorder), and then f is filled as far as it
// could be.
func rowFields(d []driver.Value, f *fields[string]) (seq int64, ok bool) {
	ok = true
	i64 := func(v driver.Value) int64 {
		n, isInt := v.(int64)
		ok = ok && isInt
		return n
	}
	str := func(v driver.Value) string {
		switch x := v.(type) {
		case string:
			return x
		case []byte:
			return string(x)
		}
		ok = false
		return ""
	}
	seq = i64(d[0])
	f.time = i64(d[1])
	f.trace, f.agent, f.kind, f.op, f.tool = str(d[2]), str(d[3]), str(d[4]), str(d[5]), str(d[6])
	f.path, f.target, f.args = str(d[7]), str(d[8]), str(d[9])
	f.payloadType, f.meta = str(d[10]), str(d[11])
	f.policyVersion, f.rule = str(d[12]), str(d[13])
	f.effect = i64(d[14])
	f.message = str(d[15])
	f.severity = i64(d[16])
	f.status, f.errText = str(d[17]), str(d[18])
	f.duration = i64(d[19])
	f.resultDigest, f.detail = str(d[20]), str(d[21])
	return seq, ok
}

// brokenRow is the first row that does not link.
type brokenRow struct {
	seq        uint64
	selfOK     bool
	buf        []byte // hashing buffer of the row's fields
	prev, hash []byte
}

// hashesWith reports whether the row hashes to its stored hash when given
// sequence k.
func (b *brokenRow) hashesWith(k uint64) bool {
	if len(b.prev) != HashSize || len(b.hash) != HashSize {
		return false
	}
	return seal(b.buf, Hash(b.prev), k) == Hash(b.hash)
}

// classify names the first broken link. expect is the last good entry
// (or the genesis).
func classify(ctx context.Context, genesis Anchor, rows chainRows, expect Anchor, b brokenRow) (*ChainError, error) {
	want := expect.Seq + 1
	if b.seq > want && b.selfOK {
		return &ChainError{Seq: want, Reason: ReasonDeleted,
			Detail: fmt.Sprintf("entries %d..%d are missing", want, b.seq-1)}, nil
	}
	if b.selfOK {
		// The row is intact at its place but does not link to the entry
		// before it: that one was replaced by a forged entry whose hash
		// was recomputed (or, for the first entry, the genesis was changed).
		if expect.Seq == genesis.Seq {
			return &ChainError{Seq: b.seq, Reason: ReasonEdited,
				Detail: "the first entry does not link to the file's genesis"}, nil
		}
		return &ChainError{Seq: expect.Seq, Reason: ReasonEdited,
			Detail: fmt.Sprintf("entry %d was rewritten: entry %d records another hash for it", expect.Seq, b.seq)}, nil
	}
	// The row does not hash at its place. Find the place where it does.
	head, err := rows.maxSeq(ctx)
	if err != nil {
		return nil, err
	}
	lo := genesis.Seq + 1
	hi := max(head, b.seq) + 1
	tries := 0
	for k := lo; k <= hi && tries < maxSearch; k, tries = k+1, tries+1 {
		if k == b.seq || !b.hashesWith(k) {
			continue
		}
		if k < b.seq {
			// The entry appended as k now sits at b.seq: entries were
			// inserted before it.
			return &ChainError{Seq: k, Reason: ReasonInserted,
				Detail: fmt.Sprintf("entries %d..%d were inserted: the entry appended as %d sits at %d", k, b.seq-1, k, b.seq)}, nil
		}
		// The entry appended as k sits earlier, at b.seq. If the entry
		// appended as b.seq sits at k, two entries were swapped.
		other, err := rows.rowAt(ctx, k)
		if err != nil {
			return nil, err
		}
		if other != nil && other.hashesWith(b.seq) {
			return &ChainError{Seq: b.seq, Reason: ReasonReordered,
				Detail: fmt.Sprintf("entries %d and %d were swapped", b.seq, k)}, nil
		}
		return &ChainError{Seq: b.seq, Reason: ReasonDeleted,
			Detail: fmt.Sprintf("entries %d..%d are missing; later entries were renumbered", b.seq, k-1)}, nil
	}
	if b.seq > want {
		return &ChainError{Seq: want, Reason: ReasonDeleted,
			Detail: fmt.Sprintf("entries %d..%d are missing", want, b.seq-1)}, nil
	}
	return &ChainError{Seq: b.seq, Reason: ReasonEdited, Detail: "stored fields do not match the entry's hash"}, nil
}

// chainRows reads what classify needs of a store besides the broken row:
// the highest sequence held, and the row at a sequence (nil if none).
type chainRows interface {
	maxSeq(ctx context.Context) (uint64, error)
	rowAt(ctx context.Context, seq uint64) (*brokenRow, error)
}

// storeRows is chainRows of an SQLite store.
type storeRows struct{ st *store }

func (s storeRows) maxSeq(ctx context.Context) (uint64, error) { return maxSeq(ctx, s.st) }

func (s storeRows) rowAt(ctx context.Context, seq uint64) (*brokenRow, error) {
	return rowAt(ctx, s.st, seq)
}

func maxSeq(ctx context.Context, st *store) (uint64, error) {
	var n sql.NullInt64
	if err := st.r.QueryRowContext(ctx, "SELECT max(seq) FROM entries").Scan(&n); err != nil {
		return 0, st.wrap(err)
	}
	return uint64(max(n.Int64, 0)), nil
}

func rowAt(ctx context.Context, st *store, seq uint64) (*brokenRow, error) {
	w := newRawRow()
	rows, err := st.r.QueryContext(ctx, "SELECT "+columns+" FROM entries WHERE seq = ?", int64(seq))
	if err != nil {
		return nil, st.wrap(err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, st.wrap(rows.Err())
	}
	if err := rows.Scan(w.dest...); err != nil {
		return nil, st.wrap(err)
	}
	w.fill()
	return &brokenRow{seq: seq, buf: encode(nil, &w.f),
		prev: append([]byte(nil), w.prev...), hash: append([]byte(nil), w.hash...)}, nil
}

// rawRow is one entries row as scanned by Verify.
type rawRow struct {
	seq            int64
	f              fields[[]byte]
	prev, hash     []byte
	dest           []any
	trace, agent   sql.RawBytes
	kind, op, tool sql.RawBytes
	path, target   sql.RawBytes
	args, pv, rule sql.RawBytes
	ptype, meta    sql.RawBytes
	msg, status    sql.RawBytes
	errText, rd    sql.RawBytes
	detail         sql.RawBytes
	rprev, rhash   sql.RawBytes
}

func newRawRow() *rawRow {
	w := &rawRow{}
	w.dest = []any{&w.seq, &w.f.time, &w.trace, &w.agent, &w.kind, &w.op, &w.tool, &w.path,
		&w.target, &w.args, &w.ptype, &w.meta, &w.pv, &w.rule, &w.f.effect, &w.msg, &w.f.severity, &w.status,
		&w.errText, &w.f.duration, &w.rd, &w.detail, &w.rprev, &w.rhash}
	return w
}

func (w *rawRow) fill() {
	w.f.trace, w.f.agent, w.f.kind, w.f.op, w.f.tool = w.trace, w.agent, w.kind, w.op, w.tool
	w.f.path, w.f.target, w.f.args, w.f.policyVersion, w.f.rule = w.path, w.target, w.args, w.pv, w.rule
	w.f.payloadType, w.f.meta = w.ptype, w.meta
	w.f.message, w.f.status, w.f.errText, w.f.resultDigest, w.f.detail = w.msg, w.status, w.errText, w.rd, w.detail
	w.prev, w.hash = w.rprev, w.rhash
}
