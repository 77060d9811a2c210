package recorder

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/agent-os/agentos"
)

// jsonlFormat names the JSON Lines format in its header line.
const jsonlFormat = "agentos.recorder"

// header is the first line of an export.
type header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Genesis Anchor `json:"genesis"`
}

// Export writes the committed chain of the current file as JSON Lines: a
// header line {"format":"agentos.recorder","version":1,"genesis":…} and
// then one entry per line in sequence order, hashes in hex. Entries
// committed while Export runs may be included.
func (r *Recorder) Export(ctx context.Context, w io.Writer) error {
	if r.mem != nil {
		return r.mem.export(ctx, w)
	}
	st, release, err := r.reader(ctx)
	if err != nil {
		return fmt.Errorf("recorder: export: %w", err)
	}
	genesis := st.genesis
	release()
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header{Format: jsonlFormat, Version: encodingVersion, Genesis: genesis}); err != nil {
		return fmt.Errorf("recorder: export: %w", err)
	}
	for e, err := range r.Query(ctx, Filter{}) {
		if err != nil {
			return err
		}
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("recorder: export: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("recorder: export: %w", err)
	}
	return nil
}

// Import reads a JSON Lines export, re-verifies its chain entry by entry
// and stores it in a new recorder at path ("" for memory), which it returns
// open with opts. The database must be new or empty. Nothing is stored
// unless the whole stream verifies: a broken chain is a *ChainError
// (errors.Is ErrTampered) naming the first bad sequence, a malformed line an
// error wrapping agentos.ErrInvalid with its line number.
func Import(ctx context.Context, r io.Reader, path string, opts *Options) (*Recorder, error) {
	o := opts.withDefaults()
	if o.ReadOnly {
		return nil, fmt.Errorf("%w: recorder: import into a read-only recorder", agentos.ErrInvalid)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 2*o.MaxEntryBytes+64<<10)
	line := 0
	next := func() ([]byte, error) {
		for sc.Scan() {
			line++
			if b := bytes.TrimSpace(sc.Bytes()); len(b) > 0 {
				return b, nil
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%w: recorder: import line %d: %v", agentos.ErrInvalid, line+1, err)
		}
		return nil, io.EOF
	}
	first, err := next()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: recorder: import: empty input (no header)", agentos.ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	var h header
	if err := strictJSON(first, &h); err != nil {
		return nil, fmt.Errorf("%w: recorder: import line %d: header: %v", agentos.ErrInvalid, line, err)
	}
	if h.Format != jsonlFormat {
		return nil, fmt.Errorf("%w: recorder: import: format %q, want %q", agentos.ErrInvalid, h.Format, jsonlFormat)
	}
	if h.Version != encodingVersion {
		return nil, fmt.Errorf("%w: recorder: import: version %d, this recorder reads %d", ErrSchemaVersion, h.Version, encodingVersion)
	}
	// chain reads the entries, checks each and hands it to put.
	chain := func(put func(*Entry) error) (Anchor, error) {
		head := h.Genesis
		for {
			if err := ctx.Err(); err != nil {
				return Anchor{}, err
			}
			b, err := next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return Anchor{}, err
			}
			var e Entry
			if err := strictJSON(b, &e); err != nil {
				return Anchor{}, fmt.Errorf("%w: recorder: import line %d: %v", agentos.ErrInvalid, line, err)
			}
			stored := e.Args
			if err := normalize(&e); err != nil {
				return Anchor{}, fmt.Errorf("recorder: import line %d: %w", line, err)
			}
			if !bytes.Equal(stored, e.Args) {
				return Anchor{}, &ChainError{Seq: e.Seq, Reason: ReasonEdited, Detail: fmt.Sprintf("line %d: args are not in canonical form", line)}
			}
			if err := checkLink(head, &e); err != nil {
				var ce *ChainError
				if errors.As(err, &ce) && ce.Reason == ReasonDeleted && lookAhead(next, head.Seq+1) {
					ce.Reason, ce.Detail = ReasonReordered, fmt.Sprintf("entry %d comes later in the stream", head.Seq+1)
				}
				return Anchor{}, err
			}
			if err := put(&e); err != nil {
				return Anchor{}, err
			}
			head = Anchor{Seq: e.Seq, Hash: e.Hash}
		}
		return head, nil
	}
	if (path == "" || path == ":memory:") && !o.sqliteMemory {
		if err := o.check(); err != nil {
			return nil, err
		}
		m := newMemStore(&o, h.Genesis)
		if _, err := chain(func(e *Entry) error { m.importEntry(e); return nil }); err != nil {
			return nil, err
		}
		return &Recorder{opts: o, mem: m}, nil
	}
	fill := func(st *store) (Anchor, error) {
		if st.head != st.genesis {
			return Anchor{}, fmt.Errorf("%w: recorder: import into %s, which already holds entries", agentos.ErrInvalid, st.name())
		}
		if st.genesis != h.Genesis {
			return Anchor{}, fmt.Errorf("%w: recorder: import into %s, whose genesis differs from the export's", agentos.ErrInvalid, st.name())
		}
		tx, err := st.w.BeginTx(ctx, nil)
		if err != nil {
			return Anchor{}, st.wrap(err)
		}
		defer tx.Rollback()
		stmt := tx.StmtContext(ctx, st.insert)
		head, err := chain(func(e *Entry) error {
			_, err := stmt.ExecContext(ctx, insertArgs(e, metaJSON(e.Meta))...)
			return st.wrap(err)
		})
		if err != nil {
			return Anchor{}, err
		}
		if err := tx.Commit(); err != nil {
			return Anchor{}, st.wrap(err)
		}
		return head, nil
	}
	existed := path == "" || path == ":memory:"
	if !existed {
		_, serr := os.Stat(path)
		existed = serr == nil
	}
	rec, err := open(ctx, path, &o, h.Genesis, fill)
	if err != nil && !existed {
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			os.Remove(p)
		}
	}
	return rec, err
}

// checkLink verifies that e follows head.
func checkLink(head Anchor, e *Entry) error {
	switch {
	case e.Seq <= head.Seq:
		return &ChainError{Seq: e.Seq, Reason: ReasonReordered, Detail: fmt.Sprintf("entry %d follows %d", e.Seq, head.Seq)}
	case e.Seq > head.Seq+1:
		return &ChainError{Seq: head.Seq + 1, Reason: ReasonDeleted, Detail: fmt.Sprintf("entries %d..%d are missing", head.Seq+1, e.Seq-1)}
	case e.PrevHash != head.Hash:
		return &ChainError{Seq: e.Seq, Reason: ReasonInserted, Detail: fmt.Sprintf("entry %d does not link to entry %d", e.Seq, head.Seq)}
	case ComputeHash(e.PrevHash, *e) != e.Hash:
		return &ChainError{Seq: e.Seq, Reason: ReasonEdited, Detail: "fields do not match the entry's hash"}
	}
	return nil
}

// strictJSON decodes exactly one JSON value with no unknown fields.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// lookAhead reports whether one of the next lines (at most 1024) holds the
// entry seq.
func lookAhead(next func() ([]byte, error), seq uint64) bool {
	for range 1024 {
		b, err := next()
		if err != nil {
			return false
		}
		var e struct {
			Seq uint64 `json:"seq"`
		}
		if json.Unmarshal(b, &e) == nil && e.Seq == seq {
			return true
		}
	}
	return false
}
