package recorder

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/agent-os/agentos"
)

// Order is the order of Query results.
type Order uint8

const (
	Ascending  Order = iota // oldest first (by sequence)
	Descending              // newest first
)

// Filter selects entries for Query. Zero fields match everything; set
// fields must all match.
type Filter struct {
	Agent agentos.AgentID
	Op    agentos.Op
	Tool  string
	// PayloadType matches Entry.PayloadType exactly (a partial index holds
	// the entries that have one).
	PayloadType string
	Kind        Kind
	Trace       string
	Effects     []agentos.Effect // any of these; nil matches every effect
	// Since and Until bound the entry time: Since <= Time < Until.
	Since, Until time.Time
	// After and Before bound the sequence: After < Seq < Before (0: no
	// bound). They make a cursor for paging.
	After, Before uint64
	// Limit bounds the results (0: no limit).
	Limit int
	Order Order
}

// pageSize is the number of rows fetched per query while iterating; no
// connection is held while the caller's loop body runs.
const pageSize = 256

// Query returns the entries matching f, in sequence order (or reverse). The
// iteration reads pages of entries and holds no database connection or lock
// while the loop body runs, so the body may call Append. Entries appended
// during the iteration may or may not be seen. An error ends the iteration
// as its last pair.
func (r *Recorder) Query(ctx context.Context, f Filter) iter.Seq2[Entry, error] {
	if r.mem != nil {
		return r.mem.query(ctx, f)
	}
	return func(yield func(Entry, error) bool) {
		if f.Limit < 0 {
			yield(Entry{}, fmt.Errorf("%w: recorder: negative limit", agentos.ErrInvalid))
			return
		}
		where, args := f.where()
		after, before := f.After, f.Before
		left := f.Limit
		for {
			n := pageSize
			if f.Limit > 0 {
				n = min(n, left)
			}
			page, err := r.page(ctx, where, args, after, before, f.Order, n)
			if err != nil {
				yield(Entry{}, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			if f.Limit > 0 {
				left -= len(page)
				if left == 0 {
					return
				}
			}
			if len(page) < n {
				return
			}
			last := page[len(page)-1].Seq
			if f.Order == Descending {
				before = last
			} else {
				after = last
			}
		}
	}
}

func (f *Filter) where() ([]string, []any) {
	var w []string
	var a []any
	add := func(cond string, v any) { w = append(w, cond); a = append(a, v) }
	if f.Agent != "" {
		add("agent = ?", string(f.Agent))
	}
	if f.Op != "" {
		add("op = ?", string(f.Op))
	}
	if f.Tool != "" {
		add("tool = ? AND tool <> ''", f.Tool)
	}
	if f.PayloadType != "" {
		add("payload_type = ? AND payload_type <> ''", f.PayloadType)
	}
	if f.Kind != "" {
		add("kind = ?", string(f.Kind))
	}
	if f.Trace != "" {
		add("trace = ?", f.Trace)
	}
	if len(f.Effects) > 0 {
		ph := strings.TrimSuffix(strings.Repeat("?,", len(f.Effects)), ",")
		w = append(w, "effect IN ("+ph+")")
		for _, e := range f.Effects {
			a = append(a, int64(e))
		}
	}
	if !f.Since.IsZero() {
		add("time >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("time < ?", f.Until.UnixNano())
	}
	return w, a
}

func (r *Recorder) page(ctx context.Context, where []string, args []any, after, before uint64, order Order, n int) ([]Entry, error) {
	st, release, err := r.reader(ctx)
	if err != nil {
		return nil, fmt.Errorf("recorder: query: %w", err)
	}
	defer release()
	w := append([]string(nil), where...)
	a := append([]any(nil), args...)
	if after > 0 {
		w = append(w, "seq > ?")
		a = append(a, int64(after))
	}
	if before > 0 {
		w = append(w, "seq < ?")
		a = append(a, int64(before))
	}
	rows, err := st.r.QueryContext(ctx, selectSQL(w, order, n), a...)
	if err != nil {
		return nil, st.wrap(err)
	}
	defer rows.Close()
	out := make([]Entry, 0, min(n, 64))
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, st.wrap(err)
		}
		out = append(out, e)
	}
	return out, st.wrap(rows.Err())
}

// selectSQL returns the query of one page of entries.
func selectSQL(where []string, order Order, n int) string {
	q := "SELECT " + columns + " FROM entries"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if order == Descending {
		q += " ORDER BY seq DESC"
	} else {
		q += " ORDER BY seq"
	}
	return q + fmt.Sprintf(" LIMIT %d", n)
}

func scanEntry(rows *sql.Rows) (Entry, error) {
	var (
		e                               Entry
		seq, tm, effect, severity, dur  int64
		agent, kind, op, target, status string
		args, meta, prev, hash          []byte
	)
	err := rows.Scan(&seq, &tm, &e.Trace, &agent, &kind, &op, &e.Tool, &e.Path, &target, &args,
		&e.PayloadType, &meta, &e.PolicyVersion, &e.Rule, &effect, &e.Message, &severity, &status, &e.Error, &dur,
		&e.ResultDigest, &e.Detail, &prev, &hash)
	if err != nil {
		return e, err
	}
	e.Seq, e.Time = uint64(seq), time.Unix(0, tm).UTC()
	e.Agent, e.Kind, e.Op, e.Target, e.Status = agentos.AgentID(agent), Kind(kind), agentos.Op(op), agentos.AgentID(target), Status(status)
	if len(args) > 0 {
		e.Args = args
	}
	if e.Meta, err = parseMeta(meta); err != nil {
		return e, fmt.Errorf("%w: entry %d: stored meta is not a JSON object of strings: %v", ErrCorrupt, seq, err)
	}
	e.Effect, e.Severity, e.Duration = agentos.Effect(effect), agentos.Severity(severity), time.Duration(dur)
	copy(e.PrevHash[:], prev)
	copy(e.Hash[:], hash)
	return e, nil
}

// Stats summarises a recorder.
type Stats struct {
	Path     string // current file ("" in memory)
	Files    int    // files of the chain (rollover)
	Entries  uint64 // committed entries in the current file
	Genesis  Anchor // where the current file's chain starts
	Head     Anchor // last committed entry
	Oldest   time.Time
	Newest   time.Time
	Agents   int                       // distinct agents
	ByKind   map[Kind]uint64           // entries per kind
	ByEffect map[agentos.Effect]uint64 // decision entries per effect
	Pending  int                       // entries accepted, not yet committed
	// LastError is the last commit or rollover failure, nil if none.
	LastError error
	// Evicted counts the entries an in-memory recorder bounded by
	// Options.MaxEntries dropped; Genesis is the last one dropped.
	Evicted uint64
	// Unknown lists the unknown outcomes of the current file: permitted
	// decisions with no outcome entry, for which the effect may or may not
	// have happened (see Unknown). A syscall running when Stats reads
	// shows here too; a file whose kernel closed cleanly has none. A
	// decision whose outcome went to the next file of a rollover counts
	// here; Verify, which walks every file, does not count it. Computing
	// it reads the kind, status and trace of every decision and outcome
	// (about 1µs an entry: half of Stats' time on a file of 100 000).
	Unknown Unknown
}

// Stats counts the committed entries of the current file.
func (r *Recorder) Stats(ctx context.Context) (Stats, error) {
	if r.mem != nil {
		return r.mem.stats(ctx)
	}
	st, release, err := r.reader(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("recorder: stats: %w", err)
	}
	defer release()
	s := Stats{Path: st.path, Genesis: st.genesis, Head: st.genesis,
		ByKind: map[Kind]uint64{}, ByEffect: map[agentos.Effect]uint64{}}
	var oldest, newest sql.NullInt64
	var last sql.NullInt64
	var lastHash []byte
	if err := st.r.QueryRowContext(ctx, "SELECT count(*), min(time), max(time), count(DISTINCT agent) FROM entries").
		Scan(&s.Entries, &oldest, &newest, &s.Agents); err != nil {
		return s, st.wrap(err)
	}
	if oldest.Valid {
		s.Oldest, s.Newest = time.Unix(0, oldest.Int64).UTC(), time.Unix(0, newest.Int64).UTC()
	}
	err = st.r.QueryRowContext(ctx, "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").Scan(&last, &lastHash)
	if err == nil && len(lastHash) == HashSize {
		s.Head = Anchor{Seq: uint64(last.Int64), Hash: Hash(lastHash)}
	} else if err != nil && err != sql.ErrNoRows {
		return s, st.wrap(err)
	}
	if err := group(ctx, st, "SELECT kind, count(*) FROM entries GROUP BY kind", func(k string, n uint64) {
		s.ByKind[Kind(k)] = n
	}); err != nil {
		return s, err
	}
	if err := group(ctx, st, "SELECT effect, count(*) FROM entries WHERE kind = 'decision' GROUP BY effect", func(k string, n uint64) {
		var e int64
		fmt.Sscan(k, &e)
		s.ByEffect[agentos.Effect(e)] = n
	}); err != nil {
		return s, err
	}
	if s.Unknown, err = st.unknown(ctx); err != nil {
		return s, err
	}
	r.mu.Lock()
	s.Pending = r.queued
	r.mu.Unlock()
	r.dmu.Lock()
	s.LastError = r.lastErr
	s.Files = max(len(r.segments), 1)
	if r.base == "" {
		s.Files = 1
	}
	r.dmu.Unlock()
	return s, nil
}

// unknown computes the unknown outcomes of the store's entries (see
// unknownOutcomes), reading only the decision and outcome rows' kind,
// status and trace.
func (st *store) unknown(ctx context.Context) (Unknown, error) {
	rows, err := st.r.QueryContext(ctx,
		"SELECT seq, kind, status, trace FROM entries WHERE kind IN ('decision', 'outcome') ORDER BY seq")
	if err != nil {
		return Unknown{}, st.wrap(err)
	}
	defer rows.Close()
	t := newOutcomeTracker()
	for rows.Next() {
		var seq uint64
		var kind, status, trace string
		if err := rows.Scan(&seq, &kind, &status, &trace); err != nil {
			return Unknown{}, st.wrap(err)
		}
		t.observe(seq, Kind(kind), Status(status), trace)
	}
	if err := rows.Err(); err != nil {
		return Unknown{}, st.wrap(err)
	}
	return t.result(), nil
}

func group(ctx context.Context, st *store, q string, fn func(string, uint64)) error {
	rows, err := st.r.QueryContext(ctx, q)
	if err != nil {
		return st.wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n uint64
		if err := rows.Scan(&k, &n); err != nil {
			return st.wrap(err)
		}
		fn(k, n)
	}
	return st.wrap(rows.Err())
}
