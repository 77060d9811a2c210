package recorder

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"

	"errors"
	"fmt"

	"github.com/agent-os/agentos"
)

// Report is the result of Verify.
type Report struct {
	// OK is true when every entry checked links to its predecessor and
	// hashes to its stored hash (and, with an anchor, the anchor is there).
	OK bool
	// Entries is the number of entries checked.
	Entries uint64
	// Genesis is where the checked chain starts (the previous file's head
	// after a rollover, else seq 0 and a zero hash).
	Genesis Anchor
	// Head is the last entry checked.
	Head Anchor
	// Broken is the first broken link, nil when OK.
	Broken *ChainError
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

// Verify walks the chain of the current file from its genesis and reports
// the first broken link, with its sequence and reason. A broken chain is a
// value in Report, not an error; the error is for a chain that could not be
// read (agentos.ErrClosed, I/O). Verify sees the entries committed when it
// starts. It cannot see entries removed from the tail; use VerifyAnchor.
func (r *Recorder) Verify(ctx context.Context) (Report, error) {
	return r.verify(ctx, nil)
}

// VerifyAnchor is Verify that also checks that the chain reaches anchor (a
// head saved earlier from Anchor) with the same hash. A shorter chain is
// reported as ReasonTruncated at the first missing sequence.
func (r *Recorder) VerifyAnchor(ctx context.Context, anchor Anchor) (Report, error) {
	return r.verify(ctx, &anchor)
}

func (r *Recorder) verify(ctx context.Context, anchor *Anchor) (Report, error) {
	st, release, err := r.reader()
	if err != nil {
		return Report{}, fmt.Errorf("recorder: verify: %w", err)
	}
	defer release()
	return verifyStore(ctx, st, anchor)
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

// verifyStore checks the chain of one store. It reads rows through the
// driver directly: database/sql's per-column conversions cost more than
// the hashing.
func verifyStore(ctx context.Context, st *store, anchor *Anchor) (Report, error) {
	rep := Report{Genesis: st.genesis, Head: st.genesis}
	conn, err := st.r.Conn(ctx)
	if err != nil {
		return rep, st.wrap(err)
	}
	var broken *brokenRow
	expect := st.genesis
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
			if rep.Entries&1023 == 0 {
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
				rep.Entries++
				continue
			}
			broken = &brokenRow{seq: uint64(max(seq, 0)), selfOK: selfOK, buf: append([]byte(nil), buf...),
				prev: append([]byte(nil), prev...), hash: append([]byte(nil), hash...)}
			return nil
		}
	})
	conn.Close()
	rep.Head = expect
	if err != nil {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		return rep, st.wrap(err)
	}
	if broken != nil {
		rep.Broken, err = classify(ctx, st, expect, *broken)
		return rep, err
	}
	if anchor != nil {
		switch {
		case anchor.Seq < st.genesis.Seq:
			return rep, fmt.Errorf("%w: recorder: anchor %d precedes this file's genesis %d", agentos.ErrInvalid, anchor.Seq, st.genesis.Seq)
		case rep.Head.Seq < anchor.Seq:
			rep.Broken = &ChainError{Seq: rep.Head.Seq + 1, Reason: ReasonTruncated,
				Detail: fmt.Sprintf("entries %d..%d are missing (the chain ends at %d)", rep.Head.Seq+1, anchor.Seq, rep.Head.Seq)}
		default:
			h, err := hashAt(ctx, st, anchor.Seq)
			if err != nil {
				return rep, err
			}
			if h != anchor.Hash {
				rep.Broken = &ChainError{Seq: anchor.Seq, Reason: ReasonEdited,
					Detail: "the entry at the anchor differs from the anchor (the chain was rewritten)"}
			}
		}
	}
	rep.OK = rep.Broken == nil
	return rep, nil
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
func classify(ctx context.Context, st *store, expect Anchor, b brokenRow) (*ChainError, error) {
	want := expect.Seq + 1
	if b.seq > want && b.selfOK {
		return &ChainError{Seq: want, Reason: ReasonDeleted,
			Detail: fmt.Sprintf("entries %d..%d are missing", want, b.seq-1)}, nil
	}
	if b.selfOK {
		// The row is intact at its place but does not link to the entry
		// before it: that one was replaced by a forged entry whose hash
		// was recomputed (or, for the first entry, the genesis was changed).
		if expect.Seq == st.genesis.Seq {
			return &ChainError{Seq: b.seq, Reason: ReasonEdited,
				Detail: "the first entry does not link to the file's genesis"}, nil
		}
		return &ChainError{Seq: expect.Seq, Reason: ReasonEdited,
			Detail: fmt.Sprintf("entry %d was rewritten: entry %d records another hash for it", expect.Seq, b.seq)}, nil
	}
	// The row does not hash at its place. Find the place where it does.
	head, err := maxSeq(ctx, st)
	if err != nil {
		return nil, err
	}
	lo := st.genesis.Seq + 1
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
		other, err := rowAt(ctx, st, k)
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

func maxSeq(ctx context.Context, st *store) (uint64, error) {
	var n sql.NullInt64
	if err := st.r.QueryRowContext(ctx, "SELECT max(seq) FROM entries").Scan(&n); err != nil {
		return 0, st.wrap(err)
	}
	return uint64(max(n.Int64, 0)), nil
}

func hashAt(ctx context.Context, st *store, seq uint64) (Hash, error) {
	var h []byte
	err := st.r.QueryRowContext(ctx, "SELECT hash FROM entries WHERE seq = ?", int64(seq)).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) || err == nil && len(h) != HashSize {
		if seq == st.genesis.Seq {
			return st.genesis.Hash, nil
		}
		return Hash{}, nil
	}
	if err != nil {
		return Hash{}, st.wrap(err)
	}
	return Hash(h), nil
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

// VerifyFiles verifies a rolled-over recorder's files in order (as listed
// by Segments): each file's chain, and that each file's genesis is the head
// of the file before it. The report's Genesis is the first file's and its
// Head the last file's; Entries counts all files.
func VerifyFiles(ctx context.Context, paths ...string) (Report, error) {
	var total Report
	for i, p := range paths {
		o := (&Options{ReadOnly: true}).withDefaults()
		st, err := openStore(ctx, p, &o, Anchor{})
		if err != nil {
			return total, err
		}
		rep, err := verifyStore(ctx, st, nil)
		st.close()
		if err != nil {
			return total, err
		}
		if i == 0 {
			total.Genesis = rep.Genesis
		} else if rep.Genesis != total.Head {
			total.Broken = &ChainError{Seq: total.Head.Seq + 1, Reason: ReasonDeleted,
				Detail: fmt.Sprintf("%s starts after %d but the previous file ends at %d (or with another hash)", p, rep.Genesis.Seq, total.Head.Seq)}
			return total, nil
		}
		total.Entries += rep.Entries
		total.Head = rep.Head
		if rep.Broken != nil {
			total.Broken = rep.Broken
			return total, nil
		}
	}
	total.OK = true
	return total, nil
}
