package recorder

import (
	"fmt"
	"slices"
)

// OpenSQLiteMemory opens an SQLite in-memory recorder, the store that ""
// meant before the native one, for tests and benchmarks that compare them.
func OpenSQLiteMemory(o *Options) (*Recorder, error) {
	var v Options
	if o != nil {
		v = *o
	}
	return Open("", SQLiteMemory(v))
}

// MemTamperer edits the entries of an in-memory recorder behind its back,
// as recordertest.Tamperer does to a file: no hash is recomputed.
type MemTamperer struct{ r *Recorder }

// NewMemTamperer returns the tamperer of r, which must be in memory.
func NewMemTamperer(r *Recorder) MemTamperer {
	if r.mem == nil {
		panic("recorder: NewMemTamperer of a recorder that is not in memory")
	}
	return MemTamperer{r}
}

// edit hands fn the entries held, in order, and stores what it returns in
// new chunks (views taken before keep the old ones). The head, the genesis
// and the eviction count stay as they were.
func (t MemTamperer) edit(fn func([]memEntry) ([]memEntry, error)) error {
	m := t.r.mem
	m.mu.Lock()
	defer m.mu.Unlock()
	v := memView{chunks: m.chunks, off: m.off, n: m.n}
	all := make([]memEntry, v.n)
	for i := range all {
		all[i] = *v.at(i)
	}
	all, err := fn(all)
	if err != nil {
		return err
	}
	head, bound := m.head, m.maxEntries
	m.chunks, m.off, m.n, m.maxEntries = nil, 0, 0, 0
	m.traces, m.unindexed = nil, false // rebuilt from the edited bodies by the next query by trace
	for i := range all {
		m.put(&all[i])
	}
	m.head, m.maxEntries = head, bound
	return nil
}

func index(all []memEntry, seq uint64) (int, error) {
	for i := range all {
		if all[i].seq == seq {
			return i, nil
		}
	}
	return 0, fmt.Errorf("tamper: no entry %d", seq)
}

func stored(e Entry) memEntry {
	f := fieldsOf(&e)
	return memEntry{body: bodyOf(&f), seq: e.Seq, prev: e.PrevHash, hash: e.Hash}
}

// Replace overwrites every stored field of the entry at e.Seq with e's.
func (t MemTamperer) Replace(e Entry) error {
	return t.edit(func(all []memEntry) ([]memEntry, error) {
		i, err := index(all, e.Seq)
		if err == nil {
			all[i] = stored(e)
		}
		return all, err
	})
}

// Delete removes the entry at seq.
func (t MemTamperer) Delete(seq uint64) error {
	return t.edit(func(all []memEntry) ([]memEntry, error) {
		i, err := index(all, seq)
		if err != nil {
			return nil, err
		}
		return slices.Delete(all, i, i+1), nil
	})
}

// Swap exchanges every stored field but the sequence between a and b.
func (t MemTamperer) Swap(a, b uint64) error {
	return t.edit(func(all []memEntry) ([]memEntry, error) {
		i, err := index(all, a)
		if err != nil {
			return nil, err
		}
		j, err := index(all, b)
		if err != nil {
			return nil, err
		}
		all[i], all[j] = all[j], all[i]
		all[i].seq, all[j].seq = a, b
		return all, nil
	})
}

// Insert moves the entries at at and after it one place up and stores e
// at at.
func (t MemTamperer) Insert(at uint64, e Entry) error {
	return t.edit(func(all []memEntry) ([]memEntry, error) {
		i := len(all)
		for k := range all {
			if all[k].seq >= at {
				i = min(i, k)
				all[k].seq++
			}
		}
		e.Seq = at
		return slices.Insert(all, i, stored(e)), nil
	})
}

// Truncate removes every entry after after.
func (t MemTamperer) Truncate(after uint64) error {
	return t.edit(func(all []memEntry) ([]memEntry, error) {
		return slices.DeleteFunc(all, func(e memEntry) bool { return e.seq > after }), nil
	})
}

// SQLiteMemory returns o set to open "" as an SQLite in-memory database
// (Open or Import) instead of the native in-memory store.
func SQLiteMemory(o Options) *Options {
	o.sqliteMemory = true
	return &o
}
