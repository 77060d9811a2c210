package recorder_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"slices"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/recorder/recordertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTamperEveryStoredByte flips one byte (one bit of an integer) of every
// stored column of an entry, directly in SQLite, and checks that Verify
// names that entry.
func TestTamperEveryStoredByte(t *testing.T) {
	path := tempPath(t, "rec.db")
	r := mustOpen(t, path, nil)
	ctx := context.Background()
	const n = 12
	for i := range n {
		_, err := r.Append(ctx, recordertest.Sample(i))
		require.NoError(t, err)
	}
	db := rawDB(t, path)
	columns := []string{"time", "trace", "agent", "kind", "op", "tool", "path", "target", "args",
		"payload_type", "meta", "policy_version", "rule", "effect", "message", "severity", "status", "error", "duration",
		"result_digest", "detail", "prev_hash", "hash"}
	for _, target := range []int64{1, 4, 7, n} {
		for _, col := range columns {
			var orig any
			require.NoError(t, db.QueryRow("SELECT "+col+" FROM entries WHERE seq=?", target).Scan(&orig))
			var changed any
			switch v := orig.(type) {
			case int64:
				changed = v ^ 1
			case []byte:
				b := append([]byte(nil), v...)
				if len(b) == 0 {
					b = []byte{'x'}
				} else {
					b[len(b)/2] ^= 0x01
				}
				changed = b
			case string:
				b := []byte(v)
				if len(b) == 0 {
					b = []byte{'x'}
				} else {
					b[len(b)/2] ^= 0x01
				}
				changed = string(b)
			default:
				t.Fatalf("column %s: unexpected type %T", col, orig)
			}
			_, err := db.Exec("UPDATE entries SET "+col+"=? WHERE seq=?", changed, target)
			require.NoError(t, err)
			rep, err := r.Verify(ctx)
			require.NoError(t, err)
			if assert.NotNil(t, rep.Broken, "%s of %d changed, not detected", col, target) {
				assert.Equal(t, uint64(target), rep.Broken.Seq, "%s of %d: %v", col, target, rep.Broken)
				assert.Equal(t, recorder.ReasonEdited, rep.Broken.Reason, "%s of %d", col, target)
			}
			_, err = db.Exec("UPDATE entries SET "+col+"=? WHERE seq=?", orig, target)
			require.NoError(t, err)
		}
	}
	rep, err := r.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK)
}

// TestTriggersRefuseChanges checks that the stored chain cannot be updated
// or deleted through SQL while the triggers are in place.
func TestTriggersRefuseChanges(t *testing.T) {
	path := tempPath(t, "rec.db")
	r := mustOpen(t, path, nil)
	_, err := r.Append(context.Background(), recordertest.Sample(0))
	require.NoError(t, err)
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	require.NoError(t, err)
	defer db.Close()
	for _, q := range []string{
		"UPDATE entries SET rule='x' WHERE seq=1",
		"DELETE FROM entries WHERE seq=1",
		"UPDATE meta SET value=x'00' WHERE key='genesis_hash'",
		"DELETE FROM meta",
	} {
		_, err := db.Exec(q)
		assert.ErrorContains(t, err, "append-only", q)
	}
	rep, err := r.Verify(context.Background())
	require.NoError(t, err)
	assert.True(t, rep.OK)
}

// attackSQL tampers with a closed recorder file as an attacker with write
// access would: it saves and drops the append-only triggers, runs stmts
// in one transaction, and recreates the triggers exactly as they were.
// No hash is recomputed unless the statements carry recomputed values.
func attackSQL(t testing.TB, path string, stmts ...sqlStmt) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.Query("SELECT name, sql FROM sqlite_schema WHERE type='trigger'")
	require.NoError(t, err)
	var names, defs []string
	for rows.Next() {
		var n, d string
		require.NoError(t, rows.Scan(&n, &d))
		names, defs = append(names, n), append(defs, d)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Len(t, names, 4, "the recorder's four append-only triggers")
	tx, err := db.Begin()
	require.NoError(t, err)
	for _, n := range names {
		_, err := tx.Exec("DROP TRIGGER " + n)
		require.NoError(t, err)
	}
	for _, s := range stmts {
		_, err := tx.Exec(s.q, s.args...)
		require.NoError(t, err, s.q)
	}
	for _, d := range defs {
		_, err := tx.Exec(d)
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	// The file is again append-only to anyone who looks.
	_, err = db.Exec("UPDATE meta SET value=value")
	require.ErrorContains(t, err, "append-only")
}

type sqlStmt struct {
	q    string
	args []any
}

func q(query string, args ...any) sqlStmt { return sqlStmt{query, args} }

// rewriteAll replaces every entry of the file by es, renumbered from first
// and re-chained from genesis with recomputed hashes: the attack that no
// chain can reveal without an anchor kept elsewhere.
func rewriteAll(genesis recorder.Anchor, first uint64, es []recorder.Entry) []sqlStmt {
	out := []sqlStmt{q("DELETE FROM entries")}
	prev := genesis.Hash
	for i, e := range es {
		e.Seq = first + uint64(i)
		e.PrevHash = prev
		e.Hash = recorder.ComputeHash(prev, e)
		prev = e.Hash
		out = append(out, q("INSERT INTO entries (seq, time, trace, agent, kind, op, tool, path, target, args, payload_type, meta, policy_version, rule, effect, message, severity, status, error, duration, result_digest, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			append([]any{int64(e.Seq)}, values(e)...)...))
	}
	return out
}

// genesisTo sets the file's stored genesis.
func genesisTo(a recorder.Anchor) []sqlStmt {
	return []sqlStmt{
		q("UPDATE meta SET value=? WHERE key='genesis_seq'", int64(a.Seq)),
		q("UPDATE meta SET value=? WHERE key='genesis_hash'", a.Hash[:]),
	}
}

// anchoredFile records n entries in a new file, keeping the recorder's
// anchor every 5 entries as a publisher would, and closes it. It returns
// the entries and the anchors, oldest first.
func anchoredFile(t *testing.T, path string, n int) ([]recorder.Entry, []recorder.Anchor) {
	t.Helper()
	r, err := recorder.Open(path, nil)
	require.NoError(t, err)
	ctx := context.Background()
	var anchors []recorder.Anchor
	for i := range n {
		_, err := r.Append(ctx, recordertest.Sample(i))
		require.NoError(t, err)
		if (i+1)%5 == 0 {
			anchors = append(anchors, r.Anchor())
		}
	}
	var es []recorder.Entry
	for e, err := range r.Query(ctx, recorder.Filter{}) {
		require.NoError(t, err)
		es = append(es, e)
	}
	require.NoError(t, r.Close())
	return es, anchors
}

type verdict struct {
	ok     bool // the check passes (the tampering is invisible to it)
	reason recorder.Reason
	seq    uint64
}

func detected(reason recorder.Reason, seq uint64) verdict { return verdict{reason: reason, seq: seq} }

var invisible = verdict{ok: true}

func checkVerdict(t *testing.T, what string, rep recorder.Report, err error, want verdict) {
	t.Helper()
	require.NoError(t, err, what)
	if want.ok {
		assert.True(t, rep.OK, "%s: %v", what, rep.Broken)
		return
	}
	if assert.False(t, rep.OK, "%s: not detected", what) && assert.NotNil(t, rep.Broken, what) {
		assert.Equal(t, want.reason, rep.Broken.Reason, "%s: %v", what, rep.Broken)
		assert.Equal(t, want.seq, rep.Broken.Seq, "%s: %v", what, rep.Broken)
		assert.ErrorIs(t, rep.Err(), recorder.ErrTampered)
		var ce *recorder.ChainError
		assert.ErrorAs(t, rep.Err(), &ce)
	}
}

// TestTamperAtSQL tampers with a closed recorder file at the SQL level, the
// triggers dropped and restored, and checks what Verify (no anchor),
// VerifyAnchor (the last anchor, both ends) and VerifyAnchors (every
// anchor published) each see: the kind of tampering and the first bad
// sequence. Without an anchor a truncated tail and a chain rewritten with
// recomputed hashes are valid chains; the anchors reveal both.
func TestTamperAtSQL(t *testing.T) {
	const n = 20
	type tc struct {
		name    string
		attack  func(es []recorder.Entry) []sqlStmt
		verify  verdict // Verify
		last    verdict // VerifyAnchor(last anchor)
		anchors verdict // VerifyAnchors(all anchors)
	}
	edit := func(seq uint64, col string, v any) func([]recorder.Entry) []sqlStmt {
		return func([]recorder.Entry) []sqlStmt {
			return []sqlStmt{q("UPDATE entries SET "+col+"=? WHERE seq=?", v, int64(seq))}
		}
	}
	del := func(seqs ...int64) func([]recorder.Entry) []sqlStmt {
		return func([]recorder.Entry) []sqlStmt {
			var out []sqlStmt
			for _, s := range seqs {
				out = append(out, q("DELETE FROM entries WHERE seq=?", s))
			}
			return out
		}
	}
	point := func(e recorder.Entry) recorder.Anchor { return recorder.Anchor{Seq: e.Seq, Hash: e.Hash} }
	cases := []tc{
		{"EditArgsOfFirst", edit(1, "args", []byte(`{"query":"SELECT 2"}`)), detected(recorder.ReasonEdited, 1), detected(recorder.ReasonEdited, 1), detected(recorder.ReasonEdited, 1)},
		{"DenyBecomesAllow", edit(11, "effect", int64(agentos.Allow)), detected(recorder.ReasonEdited, 11), detected(recorder.ReasonEdited, 11), detected(recorder.ReasonEdited, 11)},
		{"EditHashOfLast", edit(n, "hash", make([]byte, 32)), detected(recorder.ReasonEdited, n), detected(recorder.ReasonEdited, n), detected(recorder.ReasonEdited, n)},
		{"EditPrevHash", edit(12, "prev_hash", make([]byte, 32)), detected(recorder.ReasonEdited, 12), detected(recorder.ReasonEdited, 12), detected(recorder.ReasonEdited, 12)},
		{"DeleteFirst", del(1), detected(recorder.ReasonDeleted, 1), detected(recorder.ReasonDeleted, 1), detected(recorder.ReasonDeleted, 1)},
		{"DeleteMiddle", del(10, 11), detected(recorder.ReasonDeleted, 10), detected(recorder.ReasonDeleted, 10), detected(recorder.ReasonDeleted, 10)},
		{"DeleteLast", del(n), invisible, detected(recorder.ReasonTruncated, n), detected(recorder.ReasonTruncated, n)},
		{"Reorder", func([]recorder.Entry) []sqlStmt {
			return []sqlStmt{q("UPDATE entries SET seq=-1 WHERE seq=4"), q("UPDATE entries SET seq=4 WHERE seq=8"), q("UPDATE entries SET seq=8 WHERE seq=-1")}
		}, detected(recorder.ReasonReordered, 4), detected(recorder.ReasonReordered, 4), detected(recorder.ReasonReordered, 4)},
		{"InsertForged", func(es []recorder.Entry) []sqlStmt {
			// A forged entry that links to entry 6 and hashes correctly,
			// the entries after it moved one place up.
			forged := es[3]
			forged.Rule, forged.Seq, forged.PrevHash = "forged", 7, es[5].Hash
			forged.Hash = recorder.ComputeHash(forged.PrevHash, forged)
			out := []sqlStmt{q("UPDATE entries SET seq=-seq WHERE seq>=7"), q("UPDATE entries SET seq=1-seq WHERE seq<0")}
			return append(out, q("INSERT INTO entries (seq, time, trace, agent, kind, op, tool, path, target, args, payload_type, meta, policy_version, rule, effect, message, severity, status, error, duration, result_digest, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
				append([]any{int64(7)}, values(forged)...)...))
		}, detected(recorder.ReasonInserted, 7), detected(recorder.ReasonInserted, 7), detected(recorder.ReasonInserted, 7)},
		{"DeletePrefixRewriteGenesis", func(es []recorder.Entry) []sqlStmt {
			// The finding: entries 1..6 go, the genesis becomes entry 6.
			return append([]sqlStmt{q("DELETE FROM entries WHERE seq<=6")}, genesisTo(point(es[5]))...)
		}, detected(recorder.ReasonDeleted, 1), detected(recorder.ReasonDeleted, 1), detected(recorder.ReasonDeleted, 1)},
		{"RewriteGenesisHash", func([]recorder.Entry) []sqlStmt {
			return []sqlStmt{q("UPDATE meta SET value=? WHERE key='genesis_hash'", bytes.Repeat([]byte{7}, 32))}
		}, detected(recorder.ReasonGenesis, 1), detected(recorder.ReasonGenesis, 1), detected(recorder.ReasonGenesis, 1)},
		{"RewriteGenesisSeq", func([]recorder.Entry) []sqlStmt {
			return []sqlStmt{q("UPDATE meta SET value=3 WHERE key='genesis_seq'")}
		}, detected(recorder.ReasonGenesis, 1), detected(recorder.ReasonGenesis, 1), detected(recorder.ReasonGenesis, 1)},
		{"DeletePrefixRecomputeAll", func(es []recorder.Entry) []sqlStmt {
			// Entries 1..4 go and the rest is renumbered from 1 and
			// re-chained from the zero genesis: a valid chain.
			return rewriteAll(recorder.Anchor{}, 1, es[4:])
		}, invisible, detected(recorder.ReasonTruncated, n-3), detected(recorder.ReasonRewritten, 1)},
		{"EditRecomputeTail", func(es []recorder.Entry) []sqlStmt {
			// Entry 12 is changed and 12..n re-chained.
			tail := slices.Clone(es)
			tail[11].Effect, tail[11].Rule = agentos.Allow, "forged"
			return rewriteAll(recorder.Anchor{}, 1, tail)
		}, invisible, detected(recorder.ReasonRewritten, 1), detected(recorder.ReasonRewritten, 11)},
		{"DropAllAndRestart", func([]recorder.Entry) []sqlStmt {
			return []sqlStmt{q("DELETE FROM entries")}
		}, invisible, detected(recorder.ReasonTruncated, 1), detected(recorder.ReasonTruncated, 1)},
		{"ExtraMetaRow", func([]recorder.Entry) []sqlStmt {
			// Rows outside the chain change nothing the chain proves.
			return []sqlStmt{q("INSERT INTO meta (key, value) VALUES ('note', 'x')")}
		}, invisible, invisible, invisible},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := tempPath(t, "rec.db")
			es, anchors := anchoredFile(t, path, n)
			require.Len(t, anchors, n/5)
			attackSQL(t, path, c.attack(es)...)
			r := mustOpen(t, path, &recorder.Options{ReadOnly: true})
			ctx := context.Background()
			rep, err := r.Verify(ctx)
			checkVerdict(t, "Verify", rep, err, c.verify)
			rep, err = r.VerifyAnchor(ctx, anchors[len(anchors)-1])
			checkVerdict(t, "VerifyAnchor", rep, err, c.last)
			rep, err = r.VerifyAnchors(ctx, anchors)
			checkVerdict(t, "VerifyAnchors", rep, err, c.anchors)
		})
	}
}

// TestPrefixDeletionWithGenesisRewrite is the attack of the review: drop
// the triggers, delete the oldest entries, move the genesis to the last
// deleted entry, restore the triggers. No hash is recomputed. Neither
// Verify nor VerifyAnchor with the head may pass.
func TestPrefixDeletionWithGenesisRewrite(t *testing.T) {
	path := tempPath(t, "rec.db")
	r, err := recorder.Open(path, nil)
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 10 {
		_, err := r.Append(ctx, recordertest.Sample(i))
		require.NoError(t, err)
	}
	head := r.Anchor()
	var h4 []byte
	require.NoError(t, r.Close())
	db := rawDB(t, path)
	require.NoError(t, db.QueryRow("SELECT hash FROM entries WHERE seq=4").Scan(&h4))
	for _, s := range []string{"DELETE FROM entries WHERE seq<=4",
		"UPDATE meta SET value=4 WHERE key='genesis_seq'"} {
		_, err := db.Exec(s)
		require.NoError(t, err)
	}
	_, err = db.Exec("UPDATE meta SET value=? WHERE key='genesis_hash'", h4)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	r = mustOpen(t, path, &recorder.Options{ReadOnly: true})
	rep, err := r.Verify(ctx)
	require.NoError(t, err)
	require.False(t, rep.OK, "Verify passed a file whose first 4 entries were deleted")
	assert.Equal(t, uint64(1), rep.Broken.Seq)
	assert.Equal(t, recorder.ReasonDeleted, rep.Broken.Reason)
	rep, err = r.VerifyAnchor(ctx, head)
	require.NoError(t, err)
	require.False(t, rep.OK, "VerifyAnchor passed a file whose first 4 entries were deleted")
	assert.Equal(t, uint64(1), rep.Broken.Seq)
}

// TestVerifyFilesFirstFilesMissing: a rollover set whose first files were
// deleted is not a whole chain.
func TestVerifyFilesFirstFilesMissing(t *testing.T) {
	segs := rolledOver(t, 35, 10, 0)
	ctx := context.Background()
	for _, from := range []int{1, 2} {
		rep, err := recorder.VerifyFiles(ctx, segs[from:]...)
		require.NoError(t, err)
		require.False(t, rep.OK, "VerifyFiles passed a set without its first %d files", from)
		assert.Equal(t, uint64(1), rep.Broken.Seq)
		assert.Equal(t, recorder.ReasonDeleted, rep.Broken.Reason)
	}
}

// rolledOver records n entries (samples from offset on) into files of per
// entries and returns them.
func rolledOver(t *testing.T, n, per, offset int) []string {
	t.Helper()
	base := tempPath(t, "audit.db")
	r, err := recorder.Open(base, &recorder.Options{Rollover: &recorder.Rollover{MaxEntries: uint64(per)}})
	require.NoError(t, err)
	for i := range n {
		_, err := r.Append(context.Background(), recordertest.Sample(offset+i))
		require.NoError(t, err)
	}
	segs := r.Segments()
	require.NoError(t, r.Close())
	return segs
}

// TestTamperRolloverSet deletes, reorders and replaces files of a rollover
// set and checks that VerifyFiles names the kind, the first bad sequence
// and the file.
func TestTamperRolloverSet(t *testing.T) {
	ctx := context.Background()
	segs := rolledOver(t, 35, 10, 0) // files of 1..10, 11..20, 21..30, 31..35
	require.Len(t, segs, 4)
	other := rolledOver(t, 35, 10, 1000)
	all, err := recorder.VerifyFiles(ctx, segs...)
	require.NoError(t, err)
	require.True(t, all.OK, "%v", all.Broken)
	head := all.Head // an anchor of the whole set: zero genesis, head 35

	// A copy of file 3 whose entries were rewritten from file 2's head with
	// recomputed hashes: it links, but file 4 records another head.
	rewritten := tempPath(t, "rewritten.db")
	copyFile(t, segs[2], rewritten)
	es := readAll(t, rewritten)
	es[0].Rule = "forged"
	attackSQL(t, rewritten, rewriteAll(recorder.Anchor{Seq: 20, Hash: es[0].PrevHash}, 21, es)...)

	cases := []struct {
		name    string
		files   []string
		anchors []recorder.Anchor
		want    verdict
		file    string
	}{
		{"Whole", segs, nil, invisible, ""},
		{"DeleteFirst", segs[1:], nil, detected(recorder.ReasonDeleted, 1), segs[1]},
		{"DeleteMiddle", []string{segs[0], segs[2], segs[3]}, nil, detected(recorder.ReasonDeleted, 11), segs[2]},
		{"DeleteLast", segs[:3], nil, invisible, ""},
		{"DeleteLastAnchored", segs[:3], []recorder.Anchor{head}, detected(recorder.ReasonTruncated, 31), segs[2]},
		{"ReorderMiddle", []string{segs[0], segs[2], segs[1], segs[3]}, nil, detected(recorder.ReasonReordered, 11), segs[2]},
		{"ReorderFirst", []string{segs[1], segs[0], segs[2], segs[3]}, nil, detected(recorder.ReasonReordered, 1), segs[1]},
		{"ReplaceByAnotherChain", []string{segs[0], other[1], segs[2], segs[3]}, nil, detected(recorder.ReasonGenesis, 11), other[1]},
		{"ReplaceRewritten", []string{segs[0], segs[1], rewritten, segs[3]}, nil, detected(recorder.ReasonGenesis, 31), segs[3]},
		{"ReplaceRewrittenLast", []string{segs[0], segs[1], rewritten}, []recorder.Anchor{{Seq: 30, Hash: readAll(t, segs[2])[9].Hash}}, detected(recorder.ReasonRewritten, 1), rewritten},
		{"ListedTwice", []string{segs[0], segs[1], segs[1], segs[2], segs[3]}, nil, detected(recorder.ReasonReordered, 21), segs[1]},
		// A holder who archived the first file vouches for its head.
		{"ArchivedPrefixAnchored", segs[1:], []recorder.Anchor{{Seq: 35, Hash: head.Hash, GenesisSeq: 10, GenesisHash: readAll(t, segs[0])[9].Hash}}, invisible, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := recorder.VerifyFilesAnchored(ctx, c.anchors, c.files...)
			checkVerdict(t, "VerifyFiles", rep, err, c.want)
			if !c.want.ok && rep.Broken != nil {
				assert.Equal(t, c.file, rep.Broken.File)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o600))
}

func readAll(t *testing.T, path string) []recorder.Entry {
	t.Helper()
	r := mustOpen(t, path, &recorder.Options{ReadOnly: true})
	var es []recorder.Entry
	for e, err := range r.Query(context.Background(), recorder.Filter{}) {
		require.NoError(t, err)
		es = append(es, e)
	}
	require.NoError(t, r.Close())
	return es
}

// TestAnchorsAfterReopenOfTamperedFile: a recorder reopened on a file
// whose prefix was deleted and genesis moved anchors the rewritten chain;
// those later anchors alone vouch for it, the earlier ones do not.
func TestAnchorsAfterReopenOfTamperedFile(t *testing.T) {
	path := tempPath(t, "rec.db")
	es, before := anchoredFile(t, path, 10)
	attackSQL(t, path, append([]sqlStmt{q("DELETE FROM entries WHERE seq<=4")},
		genesisTo(recorder.Anchor{Seq: 4, Hash: es[3].Hash})...)...)
	r := mustOpen(t, path, nil)
	ctx := context.Background()
	for i := range 5 {
		_, err := r.Append(ctx, recordertest.Sample(100+i))
		require.NoError(t, err)
	}
	after := r.Anchor()
	assert.Equal(t, uint64(4), after.GenesisSeq, "the reopened recorder anchors the genesis it found")
	rep, err := r.VerifyAnchors(ctx, []recorder.Anchor{after})
	require.NoError(t, err)
	assert.True(t, rep.OK, "the latest anchor alone vouches for what it was given")
	rep, err = r.VerifyAnchors(ctx, append(before, after))
	checkVerdict(t, "every anchor", rep, err, detected(recorder.ReasonDeleted, 1))
}
