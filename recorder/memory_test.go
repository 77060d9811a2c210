package recorder_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/recorder/recordertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fillBoth appends the first n sample entries to a bounded and an
// unbounded in-memory recorder, and returns the unbounded one's entries.
func fillBoth(t *testing.T, bounded *recorder.Recorder, n int) []recorder.Entry {
	t.Helper()
	ctx := context.Background()
	all := mustOpen(t, "", nil)
	for i := range n {
		_, err := bounded.Append(ctx, recordertest.Sample(i))
		require.NoError(t, err)
		_, err = all.Append(ctx, recordertest.Sample(i))
		require.NoError(t, err)
	}
	var out []recorder.Entry
	for e, err := range all.Query(ctx, recorder.Filter{}) {
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

func point(e recorder.Entry) recorder.Anchor { return recorder.Anchor{Seq: e.Seq, Hash: e.Hash} }

// With MaxEntries the store holds the newest entries only, verifies them
// from the head of the last one dropped, says how many it dropped and
// never returns one of them.
func TestMemoryMaxEntries(t *testing.T) {
	ctx := context.Background()
	const bound, n = 100, 1300 // across chunk boundaries
	r := mustOpen(t, "", &recorder.Options{MaxEntries: bound})
	all := fillBoth(t, r, n)
	cut := all[n-bound-1] // the last entry dropped

	st, err := r.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(bound), st.Entries)
	assert.Equal(t, uint64(n-bound), st.Evicted)
	assert.Equal(t, point(cut), st.Genesis)
	assert.Equal(t, point(all[n-1]), st.Head)

	rep, err := r.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Broken)
	assert.Equal(t, uint64(bound), rep.Entries)
	assert.Equal(t, uint64(n-bound), rep.Evicted)
	assert.Equal(t, point(cut), rep.Genesis)
	assert.Equal(t, point(all[n-1]), rep.Head)

	var seqs []uint64
	for e, err := range r.Query(ctx, recorder.Filter{}) {
		require.NoError(t, err)
		seqs = append(seqs, e.Seq)
	}
	require.Len(t, seqs, bound)
	assert.Equal(t, cut.Seq+1, seqs[0])
	for e, err := range r.Query(ctx, recorder.Filter{Before: cut.Seq + 1, Order: recorder.Descending}) {
		require.NoError(t, err)
		t.Fatalf("Query returned evicted entry %d", e.Seq)
	}

	// The anchor still names the whole chain; anchors among the dropped
	// entries cannot be checked, one at the cut and those after can.
	a := r.Anchor()
	assert.Equal(t, uint64(0), a.GenesisSeq)
	assert.Equal(t, point(all[n-1]), a.Head())
	rep, err = r.VerifyAnchors(ctx, []recorder.Anchor{point(all[10]), point(cut), point(all[n-50]), a})
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Broken)
	forged := point(cut)
	forged.Hash[0] ^= 1
	rep, err = r.VerifyAnchor(ctx, forged)
	require.NoError(t, err)
	require.False(t, rep.OK)
	assert.Equal(t, recorder.ReasonRewritten, rep.Broken.Reason)
	later := point(all[n-10])
	later.Hash[0] ^= 1
	rep, err = r.VerifyAnchor(ctx, later)
	require.NoError(t, err)
	require.False(t, rep.OK)
	assert.Equal(t, recorder.ReasonRewritten, rep.Broken.Reason)

	// The export starts at the cut; a file imported from it verifies
	// against the anchor that names the cut as its genesis.
	var x bytes.Buffer
	require.NoError(t, r.Export(ctx, &x))
	f, err := recorder.Import(ctx, &x, tempPath(t, "ring.db"), nil)
	require.NoError(t, err)
	defer f.Close()
	rep, err = f.VerifyAnchor(ctx, recorder.Anchor{Seq: a.Seq, Hash: a.Hash, GenesisSeq: cut.Seq, GenesisHash: cut.Hash})
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Broken)
}

// Tampering with what a bounded store holds is detected as in an
// unbounded one.
func TestMemoryMaxEntriesTamper(t *testing.T) {
	ctx := context.Background()
	const bound, n = 64, 600
	cases := []struct {
		name   string
		tamper func(tm recorder.MemTamperer, all []recorder.Entry) error
		reason recorder.Reason
		seq    uint64
	}{
		{"edit", func(tm recorder.MemTamperer, all []recorder.Entry) error {
			e := all[n-20]
			e.Detail = "forged"
			return tm.Replace(e)
		}, recorder.ReasonEdited, n - 19},
		{"delete first held", func(tm recorder.MemTamperer, all []recorder.Entry) error {
			return tm.Delete(n - bound + 1)
		}, recorder.ReasonDeleted, n - bound + 1},
		{"swap", func(tm recorder.MemTamperer, all []recorder.Entry) error {
			return tm.Swap(n-30, n-29)
		}, recorder.ReasonReordered, n - 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := mustOpen(t, "", &recorder.Options{MaxEntries: bound})
			all := fillBoth(t, r, n)
			require.NoError(t, c.tamper(recorder.NewMemTamperer(r), all))
			rep, err := r.Verify(ctx)
			require.NoError(t, err)
			require.False(t, rep.OK)
			assert.Equal(t, c.reason, rep.Broken.Reason, "%v", rep.Broken)
			assert.Equal(t, c.seq, rep.Broken.Seq, "%v", rep.Broken)
		})
	}
}

func TestMemoryOptions(t *testing.T) {
	_, err := recorder.Open("", &recorder.Options{MaxEntries: -1})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = recorder.Open(":memory:", &recorder.Options{ReadOnly: true})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	r := mustOpen(t, ":memory:", &recorder.Options{MaxEntryBytes: 200})
	require.True(t, r.InMemory())
	assert.Nil(t, r.Segments())
	e := recordertest.Sample(0)
	e.Detail = string(make([]byte, 300))
	_, err = r.Append(context.Background(), e)
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

// Close is idempotent and every method fails with ErrClosed after it.
func TestMemoryClose(t *testing.T) {
	ctx := context.Background()
	r, err := recorder.Open("", nil)
	require.NoError(t, err)
	_, err = r.Append(ctx, recordertest.Sample(0))
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	_, err = r.Append(ctx, recordertest.Sample(1))
	require.ErrorIs(t, err, agentos.ErrClosed)
	_, err = r.AppendLater(ctx, recordertest.Sample(1))
	require.ErrorIs(t, err, agentos.ErrClosed)
	require.ErrorIs(t, r.Flush(ctx), agentos.ErrClosed)
	_, err = r.Verify(ctx)
	require.ErrorIs(t, err, agentos.ErrClosed)
	_, err = r.Stats(ctx)
	require.ErrorIs(t, err, agentos.ErrClosed)
	require.ErrorIs(t, r.Export(ctx, &bytes.Buffer{}), agentos.ErrClosed)
	for _, err := range r.Query(ctx, recorder.Filter{}) {
		require.ErrorIs(t, err, agentos.ErrClosed)
	}
	assert.Equal(t, uint64(1), r.Anchor().Seq)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	r2 := mustOpen(t, "", nil)
	_, err = r2.Append(canceled, recordertest.Sample(0))
	require.ErrorIs(t, err, context.Canceled)
}

// Appenders and readers run at once while the bound evicts: every reader
// sees a chain that verifies and query results in order without gaps.
func TestMemoryConcurrentEviction(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, "", &recorder.Options{MaxEntries: 700})
	var wg sync.WaitGroup
	const writers, per = 4, 800
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				_, err := r.Append(ctx, recordertest.Sample(w*per+i))
				assert.NoError(t, err)
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 30 {
				rep, err := r.Verify(ctx)
				assert.NoError(t, err)
				assert.True(t, rep.OK, "%v", rep.Broken)
				var prev uint64
				for e, err := range r.Query(ctx, recorder.Filter{}) {
					if !assert.NoError(t, err) {
						break
					}
					if prev != 0 {
						assert.Equal(t, prev+1, e.Seq)
					}
					prev = e.Seq
				}
				var x bytes.Buffer
				assert.NoError(t, r.Export(ctx, &x))
				_, err = r.Stats(ctx)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	st, err := r.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(700), st.Entries)
	assert.Equal(t, uint64(writers*per-700), st.Evicted)
	rep, err := r.VerifyAnchor(ctx, r.Anchor())
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Broken)
}

// Query copies what it returns: changing a returned entry's Args or Meta
// does not change the store.
func TestMemoryQueryCopies(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, "", nil)
	for i := range 8 {
		_, err := r.Append(ctx, recordertest.Sample(i))
		require.NoError(t, err)
	}
	for e, err := range r.Query(ctx, recorder.Filter{}) {
		require.NoError(t, err)
		for i := range e.Args {
			e.Args[i] = 'x'
		}
		for k := range e.Meta {
			e.Meta[k] = "forged"
		}
	}
	rep, err := r.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Broken)
}

// FuzzImportMemory imports the same input into the in-memory store and
// into SQLite (in memory): both accept it or both refuse it with the same
// error, and what they accept exports to the same bytes.
func FuzzImportMemory(f *testing.F) {
	f.Add(exportSample(f, 6))
	f.Add([]byte(`{"format":"agentos.recorder","version":1,"genesis":{"seq":0,"hash":"0000000000000000000000000000000000000000000000000000000000000000"}}`))
	f.Add([]byte("{}\n{}"))
	f.Add(bytes.Replace(exportSample(f, 4), []byte(`"seq":2`), []byte(`"seq":3`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		o := recorder.Options{MaxEntryBytes: 64 << 10}
		m, merr := recorder.Import(ctx, bytes.NewReader(data), "", &o)
		s, serr := recorder.Import(ctx, bytes.NewReader(data), "", recorder.SQLiteMemory(o))
		if merr != nil || serr != nil {
			if merr == nil || serr == nil {
				t.Fatalf("memory: %v, SQLite: %v", merr, serr)
			}
			if merr.Error() != serr.Error() {
				t.Fatalf("memory: %v, SQLite: %v", merr, serr)
			}
			var ce1, ce2 *recorder.ChainError
			if errors.As(merr, &ce1) != errors.As(serr, &ce2) {
				t.Fatalf("memory: %#v, SQLite: %#v", merr, serr)
			}
			if m != nil || s != nil {
				t.Fatal("Import returned a recorder with an error")
			}
			return
		}
		defer m.Close()
		defer s.Close()
		if m.Anchor() != s.Anchor() {
			t.Fatalf("anchors: memory %v, SQLite %v", m.Anchor(), s.Anchor())
		}
		rep, err := m.VerifyAnchor(ctx, m.Anchor())
		if err != nil || !rep.OK {
			t.Fatalf("imported chain does not verify: %v %v", err, rep.Broken)
		}
		var mx, sx bytes.Buffer
		if err := m.Export(ctx, &mx); err != nil {
			t.Fatal(err)
		}
		if err := s.Export(ctx, &sx); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mx.Bytes(), sx.Bytes()) {
			t.Fatalf("exports differ:\n%s\n%s", mx.Bytes(), sx.Bytes())
		}
	})
}

// A Publisher anchors the memory store as it anchors a file: the signed
// anchors it publishes verify, and expose a rewritten entry.
func TestMemoryPublisher(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, "", &recorder.Options{MaxEntries: 40})
	key := testKey(9)
	sink := &recorder.MemoryAnchors{}
	tick := make(chan time.Time)
	p, err := recorder.NewPublisher(r, key, sink, &recorder.PublisherOptions{Source: "memory", Every: 1 << 30, Tick: tick})
	require.NoError(t, err)
	defer p.Close()
	for i := range 100 {
		_, err := r.Append(ctx, recordertest.Sample(i))
		require.NoError(t, err)
		if i%25 == 24 {
			_, err := p.Publish(ctx)
			require.NoError(t, err)
		}
	}
	var anchors []recorder.Anchor
	for _, sa := range sink.Anchors() {
		require.NoError(t, sa.Verify(key.Public().(ed25519.PublicKey)))
		anchors = append(anchors, sa.Anchor)
	}
	require.Len(t, anchors, 4)
	rep, err := r.VerifyAnchors(ctx, anchors)
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Broken)
	assert.Equal(t, uint64(60), rep.Evicted)

	// Rewrite entry 80 and every hash after it: only the anchor at 100
	// (published before) contradicts the recomputed chain.
	var held []recorder.Entry
	for e, err := range r.Query(ctx, recorder.Filter{After: 79}) {
		require.NoError(t, err)
		held = append(held, e)
	}
	tm := recorder.NewMemTamperer(r)
	prev := held[0].PrevHash
	for _, e := range held {
		if e.Seq == 80 {
			e.Detail = "rewritten"
		}
		e.PrevHash = prev
		e.Hash = recorder.ComputeHash(prev, e)
		prev = e.Hash
		require.NoError(t, tm.Replace(e))
	}
	rep, err = r.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "a recomputed chain links")
	rep, err = r.VerifyAnchors(ctx, anchors)
	require.NoError(t, err)
	require.False(t, rep.OK)
	assert.Equal(t, recorder.ReasonRewritten, rep.Broken.Reason)
	assert.Equal(t, uint64(76), rep.Broken.Seq, "%v", rep.Broken)
}
