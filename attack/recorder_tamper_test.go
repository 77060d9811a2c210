package attack

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb/natsbus"
	"github.com/agent-os/agentos/amb/natsbus/natstest"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
	_ "github.com/mattn/go-sqlite3"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Threat: someone with write access to the flight recorder's file, after
// the fact, hides what an agent tried: a denied exec and the kill that
// followed. The promise: no tampering goes unnoticed by a verifier who
// holds the signed anchors the kernel published while it ran.

const tamperPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: tamper, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: sql-read
      effect: allow
      when: action.op == "exec" && action.tool == "sql.query" && sql.readonly(action.args.query)
    - name: no-destructive-sql
      effect: deny
      severity: critical
      when: action.op == "exec" && action.tool == "sql.query" && sql.destructive(action.args.query)
`

const tamperSource = "attack-host:audit.db"

// recordedRun is what a kernel left behind: its recorder's files, the
// signed anchors it published and the verifier's public key.
type recordedRun struct {
	segs     []string
	signed   []recorder.SignedAnchor
	pub      ed25519.PublicKey
	entries  []recorder.Entry
	segFirst []uint64 // first sequence of each file of segs (0: empty)
	denied   uint64   // seq of the denied decision
	killed   uint64   // seq of the kill
}

// runKernel runs a kernel on a recorder file with anchors published every
// 3 entries to sink (a MemoryAnchors when nil): one agent's DROP TABLE is
// denied and it is killed, another runs queries. The denied tool never
// runs.
func runKernel(t *testing.T, dir string, opts *recorder.Options, sink recorder.AnchorSink, key ed25519.PrivateKey) recordedRun {
	t.Helper()
	ctx := t.Context()
	mem := &recorder.MemoryAnchors{}
	if sink == nil {
		sink = mem
	}
	if key == nil {
		var err error
		_, key, err = ed25519.GenerateKey(nil)
		require.NoError(t, err)
	}
	rec, err := recorder.Open(filepath.Join(dir, "audit.db"), opts)
	require.NoError(t, err)
	pub, err := recorder.NewPublisher(rec, key, sink, &recorder.PublisherOptions{Source: tamperSource, Every: 3, Interval: time.Hour})
	require.NoError(t, err)
	var ran atomic.Int32
	k, err := kernel.New(kernel.WithPolicySource("p.yaml", []byte(tamperPolicy)), kernel.WithAnchors(rec, pub),
		kernel.WithTool("sql.query", func(_ context.Context, args map[string]any) (any, error) {
			if args["query"] != "SELECT 1" {
				ran.Add(1)
			}
			return "ok", nil
		}))
	require.NoError(t, err)
	bad, err := k.Spawn(ctx, "mallory")
	require.NoError(t, err)
	_, err = bad.Exec(ctx, "sql.query", map[string]any{"query": "DROP TABLE orders"})
	var v *agentos.PolicyViolation
	require.ErrorAs(t, err, &v)
	good, err := k.Spawn(ctx, "alice")
	require.NoError(t, err)
	for range 6 {
		_, err := good.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
		require.NoError(t, err)
	}
	require.NoError(t, k.Close())
	require.Zero(t, ran.Load(), "the denied DROP TABLE ran")
	run := recordedRun{segs: rec.Segments(), pub: key.Public().(ed25519.PublicKey)}
	require.NoError(t, pub.Close())
	require.NoError(t, rec.Close())
	for _, p := range run.segs {
		ro, err := recorder.Open(p, &recorder.Options{ReadOnly: true})
		require.NoError(t, err)
		var first uint64
		for e, err := range ro.Query(ctx, recorder.Filter{Order: recorder.Ascending}) {
			require.NoError(t, err)
			if first == 0 {
				first = e.Seq
			}
			run.entries = append(run.entries, e)
			if e.Agent == "mallory" && e.Kind == recorder.KindDecision && e.Effect == agentos.Deny && run.denied == 0 {
				run.denied = e.Seq
			}
			if e.Agent == "mallory" && e.Kind == recorder.KindSignal && run.killed == 0 {
				run.killed = e.Seq
			}
		}
		run.segFirst = append(run.segFirst, first)
		require.NoError(t, ro.Close())
	}
	require.NotZero(t, run.denied)
	require.NotZero(t, run.killed)
	run.signed = mem.Anchors()
	return run
}

// sqlAttack opens the recorder file as an attacker: it drops the
// append-only triggers, runs f in one transaction and puts the triggers
// back as they were.
func sqlAttack(t *testing.T, path string, f func(tx *sql.Tx)) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	require.NoError(t, err)
	defer db.Close()
	tx, err := db.Begin()
	require.NoError(t, err)
	rows, err := tx.Query("SELECT name, sql FROM sqlite_schema WHERE type='trigger'")
	require.NoError(t, err)
	var names, defs []string
	for rows.Next() {
		var n, d string
		require.NoError(t, rows.Scan(&n, &d))
		names, defs = append(names, n), append(defs, d)
	}
	rows.Close()
	require.NotEmpty(t, names)
	for _, n := range names {
		_, err := tx.Exec("DROP TRIGGER " + n)
		require.NoError(t, err)
	}
	f(tx)
	for _, d := range defs {
		_, err := tx.Exec(d)
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
}

func sqlExec(t *testing.T, tx *sql.Tx, q string, args ...any) {
	t.Helper()
	_, err := tx.Exec(q, args...)
	require.NoError(t, err, q)
}

// rechain writes es as the file's whole chain, renumbered from first and
// linked from genesis with every hash recomputed: the attack that leaves
// a valid chain.
func rechain(t *testing.T, tx *sql.Tx, genesis recorder.Hash, first uint64, es []recorder.Entry) {
	t.Helper()
	sqlExec(t, tx, "DELETE FROM entries")
	prev := genesis
	for i, e := range es {
		e.Seq, e.PrevHash = first+uint64(i), prev
		e.Hash = recorder.ComputeHash(prev, e)
		prev = e.Hash
		meta := ""
		if len(e.Meta) > 0 {
			// The stored form: canonical JSON, keys sorted, no HTML
			// escaping. The attacker knows it as well as the recorder.
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			require.NoError(t, enc.Encode(e.Meta))
			meta = strings.TrimSuffix(b.String(), "\n")
		}
		args := []byte(e.Args)
		if args == nil {
			args = []byte{}
		}
		sqlExec(t, tx, `INSERT INTO entries (seq, time, trace, agent, kind, op, tool, path, target, args, payload_type,
			meta, policy_version, rule, effect, message, severity, status, error, duration, result_digest, detail,
			prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			int64(e.Seq), e.Time.UnixNano(), e.Trace, string(e.Agent), string(e.Kind), string(e.Op), e.Tool, e.Path,
			string(e.Target), args, e.PayloadType, meta, e.PolicyVersion, e.Rule, int64(e.Effect), e.Message,
			int64(e.Severity), string(e.Status), e.Error, int64(e.Duration), e.ResultDigest, e.Detail,
			e.PrevHash[:], e.Hash[:])
	}
}

// without returns es less the entries from..to (inclusive).
func without(es []recorder.Entry, from, to uint64) []recorder.Entry {
	var out []recorder.Entry
	for _, e := range es {
		if e.Seq < from || e.Seq > to {
			out = append(out, e)
		}
	}
	return out
}

// assertDetected opens the recorder's files as a verifier with the signed
// anchors: the tampering must be reported, at or before first, the first
// sequence the attacker touched. A file that no longer opens as a recorder
// counts as detected.
func assertDetected(t *testing.T, run recordedRun, segs []string, first uint64) {
	t.Helper()
	anchors, err := recorder.VerifySignatures(run.pub, tamperSource, run.signed)
	require.NoError(t, err)
	require.NotEmpty(t, anchors)
	rep, err := recorder.VerifyFilesAnchored(t.Context(), anchors, segs...)
	if err != nil {
		t.Logf("detected: the files no longer open: %v", err)
		return
	}
	require.False(t, rep.OK, "tampering not detected: %d entries verified up to %d", rep.Entries, rep.Head.Seq)
	require.ErrorIs(t, rep.Err(), recorder.ErrTampered)
	assert.LessOrEqual(t, rep.Broken.Seq, first, "reported after the first tampered entry: %v", rep.Broken)
	t.Logf("detected: %v", rep.Broken)
}

// TestRecorderTamperDetected: each way of hiding the denied exec and the
// kill in a closed recorder file is detected against the anchors the
// kernel published.
func TestRecorderTamperDetected(t *testing.T) {
	cases := []struct {
		name   string
		attack func(t *testing.T, run recordedRun, path string) (first uint64)
	}{
		{"DeletePrefixMoveGenesis", func(t *testing.T, run recordedRun, path string) uint64 {
			// The review's attack: no hash recomputed.
			cut := run.entries[run.killed-1]
			sqlAttack(t, path, func(tx *sql.Tx) {
				sqlExec(t, tx, "DELETE FROM entries WHERE seq <= ?", int64(cut.Seq))
				sqlExec(t, tx, "UPDATE meta SET value=? WHERE key='genesis_seq'", int64(cut.Seq))
				sqlExec(t, tx, "UPDATE meta SET value=? WHERE key='genesis_hash'", cut.Hash[:])
			})
			return 1
		}},
		{"DeleteDeniedDecision", func(t *testing.T, run recordedRun, path string) uint64 {
			sqlAttack(t, path, func(tx *sql.Tx) { sqlExec(t, tx, "DELETE FROM entries WHERE seq = ?", int64(run.denied)) })
			return run.denied
		}},
		{"DenyBecomesAllow", func(t *testing.T, run recordedRun, path string) uint64 {
			sqlAttack(t, path, func(tx *sql.Tx) {
				sqlExec(t, tx, "UPDATE entries SET effect=?, rule='sql-read' WHERE seq = ?", int64(agentos.Allow), int64(run.denied))
			})
			return run.denied
		}},
		{"DenyBecomesAllowRecomputed", func(t *testing.T, run recordedRun, path string) uint64 {
			es := append([]recorder.Entry(nil), run.entries...)
			es[run.denied-1].Effect, es[run.denied-1].Rule = agentos.Allow, "sql-read"
			sqlAttack(t, path, func(tx *sql.Tx) { rechain(t, tx, recorder.Hash{}, 1, es) })
			return run.denied
		}},
		{"DeletePrefixRecomputed", func(t *testing.T, run recordedRun, path string) uint64 {
			sqlAttack(t, path, func(tx *sql.Tx) { rechain(t, tx, recorder.Hash{}, 1, run.entries[run.killed:]) })
			return 1
		}},
		{"DeleteDenialAndKillRecomputed", func(t *testing.T, run recordedRun, path string) uint64 {
			sqlAttack(t, path, func(tx *sql.Tx) {
				rechain(t, tx, recorder.Hash{}, 1, without(run.entries, run.denied, run.killed))
			})
			return run.denied
		}},
		{"TruncateTail", func(t *testing.T, run recordedRun, path string) uint64 {
			last := uint64(len(run.entries))
			sqlAttack(t, path, func(tx *sql.Tx) { sqlExec(t, tx, "DELETE FROM entries WHERE seq > ?", int64(last-3)) })
			return last - 2
		}},
		{"SwapDenialWithLater", func(t *testing.T, run recordedRun, path string) uint64 {
			later := run.killed + 3
			sqlAttack(t, path, func(tx *sql.Tx) {
				sqlExec(t, tx, "UPDATE entries SET seq=-1 WHERE seq=?", int64(run.denied))
				sqlExec(t, tx, "UPDATE entries SET seq=? WHERE seq=?", int64(run.denied), int64(later))
				sqlExec(t, tx, "UPDATE entries SET seq=? WHERE seq=-1", int64(later))
			})
			return run.denied
		}},
		{"RewriteGenesisHash", func(t *testing.T, run recordedRun, path string) uint64 {
			sqlAttack(t, path, func(tx *sql.Tx) {
				sqlExec(t, tx, "UPDATE meta SET value=? WHERE key='genesis_hash'", bytes.Repeat([]byte{1}, 32))
			})
			return 1
		}},
		{"DeleteGenesis", func(t *testing.T, run recordedRun, path string) uint64 {
			sqlAttack(t, path, func(tx *sql.Tx) { sqlExec(t, tx, "DELETE FROM meta") })
			return 1
		}},
		{"ReplaceWholeFile", func(t *testing.T, run recordedRun, path string) uint64 {
			// A file from another, innocent run, with its own valid chain.
			other := runKernel(t, t.TempDir(), nil, nil, nil)
			b, err := os.ReadFile(other.segs[0])
			require.NoError(t, err)
			for _, side := range []string{"-wal", "-shm"} {
				if err := os.Remove(path + side); err != nil {
					require.ErrorIs(t, err, fs.ErrNotExist)
				}
			}
			require.NoError(t, os.WriteFile(path, b, 0o600))
			return 1
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := runKernel(t, t.TempDir(), nil, nil, nil)
			require.Len(t, run.segs, 1)
			first := c.attack(t, run, run.segs[0])
			assertDetected(t, run, run.segs, first)
		})
	}
}

// TestRecorderRolloverTamperDetected: the same kernel on a recorder that
// rolls over every 4 entries; whole files are deleted, reordered or
// replaced.
func TestRecorderRolloverTamperDetected(t *testing.T) {
	opts := &recorder.Options{Rollover: &recorder.Rollover{MaxEntries: 4}}
	cases := []struct {
		name   string
		files  func(run recordedRun) []string
		attack func(t *testing.T, run recordedRun)
		first  uint64
	}{
		{"DeleteFirstFile", func(run recordedRun) []string { return run.segs[1:] }, nil, 1},
		{"DeleteFirstTwoFiles", func(run recordedRun) []string { return run.segs[2:] }, nil, 1},
		{"DeleteSecondFile", func(run recordedRun) []string { return append([]string{run.segs[0]}, run.segs[2:]...) }, nil, 5},
		{"DeleteLastFile", func(run recordedRun) []string { return run.segs[:lastFull(run)] }, nil, 0},
		{"SwapFirstTwo", func(run recordedRun) []string {
			return append([]string{run.segs[1], run.segs[0]}, run.segs[2:]...)
		}, nil, 1},
		{"DeleteFirstFileMoveGenesis", func(run recordedRun) []string { return run.segs[1:] }, func(t *testing.T, run recordedRun) {
			// The next file's genesis is made to look like a first file's.
			sqlAttack(t, run.segs[1], func(tx *sql.Tx) {
				sqlExec(t, tx, "UPDATE meta SET value=0 WHERE key='genesis_seq'")
				sqlExec(t, tx, "UPDATE meta SET value=? WHERE key='genesis_hash'", make([]byte, 32))
			})
		}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := runKernel(t, t.TempDir(), opts, nil, nil)
			require.GreaterOrEqual(t, len(run.segs), 4)
			if c.attack != nil {
				c.attack(t, run)
			}
			first := c.first
			if first == 0 { // the first entry of the last file that holds any
				first = firstSeq(t, run.segs[lastFull(run)])
			}
			assertDetected(t, run, c.files(run), first)
		})
	}
}

// lastFull is the index of the last file of a rollover set that holds
// entries: a rollover can leave an empty file last, and deleting it
// deletes nothing.
func lastFull(run recordedRun) int {
	last := run.entries[len(run.entries)-1].Seq
	for i := len(run.segs) - 1; i >= 0; i-- {
		if run.segFirst[i] != 0 && run.segFirst[i] <= last {
			return i
		}
	}
	return len(run.segs) - 1
}

// firstSeq is the first sequence a recorder file holds (0 when empty).
func firstSeq(t *testing.T, path string) uint64 {
	t.Helper()
	ro, err := recorder.Open(path, &recorder.Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	for e, err := range ro.Query(t.Context(), recorder.Filter{Order: recorder.Ascending}) {
		require.NoError(t, err)
		return e.Seq
	}
	return 0
}

// TestRecorderTamperDetectedAgainstJetStream keeps the anchors off the
// host, in a NATS JetStream stream, and checks a prefix deletion against
// the anchors fetched back. An attacker who also publishes anchors of the
// tampered file, signed with a key of their own, does not get them past
// the verifier.
func TestRecorderTamperDetectedAgainstJetStream(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	stream, err := natsbus.NewAnchorStream(ctx, nc, nil)
	require.NoError(t, err)

	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	run := runKernel(t, t.TempDir(), nil, stream, key)
	path := run.segs[0]
	cut := run.entries[run.killed-1]
	sqlAttack(t, path, func(tx *sql.Tx) {
		sqlExec(t, tx, "DELETE FROM entries WHERE seq <= ?", int64(cut.Seq))
		sqlExec(t, tx, "UPDATE meta SET value=? WHERE key='genesis_seq'", int64(cut.Seq))
		sqlExec(t, tx, "UPDATE meta SET value=? WHERE key='genesis_hash'", cut.Hash[:])
	})
	// The attacker anchors the tampered file with their own key.
	_, forger, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	rec, err := recorder.Open(path, &recorder.Options{ReadOnly: true})
	require.NoError(t, err)
	forged, err := recorder.SignAnchor(forger, tamperSource, rec.Anchor(), time.Now())
	require.NoError(t, err)
	require.NoError(t, rec.Close())
	require.NoError(t, stream.Publish(ctx, forged))

	signed, err := stream.Fetch(ctx, tamperSource)
	require.NoError(t, err)
	require.Greater(t, len(signed), 2)
	_, err = recorder.VerifySignatures(run.pub, tamperSource, signed)
	require.ErrorIs(t, err, recorder.ErrSignature, "the forged anchor passed as the kernel's")
	// The verifier keeps the anchors its key signed; they reveal the cut.
	var genuine []recorder.SignedAnchor
	for _, s := range signed {
		if s.Verify(run.pub) == nil {
			genuine = append(genuine, s)
		}
	}
	require.Len(t, genuine, len(signed)-1)
	run.signed = genuine
	assertDetected(t, run, run.segs, 1)
}

// TestRecorderUntamperedVerifies is the control: the same runs, untouched,
// verify against their anchors, so the tests above detect tampering, not
// noise.
func TestRecorderUntamperedVerifies(t *testing.T) {
	for name, opts := range map[string]*recorder.Options{
		"single":   nil,
		"rollover": {Rollover: &recorder.Rollover{MaxEntries: 4}},
	} {
		t.Run(name, func(t *testing.T) {
			run := runKernel(t, t.TempDir(), opts, nil, nil)
			anchors, err := recorder.VerifySignatures(run.pub, tamperSource, run.signed)
			require.NoError(t, err)
			rep, err := recorder.VerifyFilesAnchored(t.Context(), anchors, run.segs...)
			require.NoError(t, err)
			require.True(t, rep.OK, "%v", rep.Broken)
			assert.Equal(t, uint64(len(run.entries)), rep.Entries)
			last := anchors[len(anchors)-1]
			assert.Equal(t, rep.Head.Seq, last.Seq, "the final anchor covers the whole run")
			assert.False(t, errors.Is(rep.Err(), recorder.ErrTampered))
		})
	}
}
