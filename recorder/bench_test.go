package recorder_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/recorder/recordertest"
	"github.com/stretchr/testify/require"
)

// The raw baselines insert the same rows (the recorder's workload, with
// random hashes) into the same table and indexes of a file created by the
// recorder, through the same driver, with no hashing, no canonical JSON and
// no queue: what plain SQLite does for the same data.

const rawInsert = `INSERT INTO entries (seq, time, trace, agent, kind, op, tool, path, target, args,
	payload_type, meta, policy_version, rule, effect, message, severity, status, error, duration,
	result_digest, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

// rawFile creates an empty recorder file and opens it raw with the given
// synchronous level.
func rawFile(b *testing.B, sync string) (*sql.DB, *sql.Stmt) {
	p := tempPath(b, "raw.db")
	r, err := recorder.Open(p, nil)
	require.NoError(b, err)
	require.NoError(b, r.Close())
	db, err := sql.Open("sqlite3", "file:"+p+"?_journal_mode=WAL&_synchronous="+sync+"&_busy_timeout=10000")
	require.NoError(b, err)
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	st, err := db.Prepare(rawInsert)
	require.NoError(b, err)
	return db, st
}

var rng = rand.NewChaCha8([32]byte{1})

func rawRow(i int) []any {
	e := recordertest.Sample(i)
	var prev, hash [32]byte
	rng.Read(prev[:])
	rng.Read(hash[:])
	args := []byte(e.Args)
	if args == nil {
		args = []byte{}
	}
	var meta string // one JSON encoding of the map, as the recorder makes
	if len(e.Meta) > 0 {
		b, _ := json.Marshal(e.Meta)
		meta = string(b)
	}
	return []any{int64(i + 1), e.Time.UnixNano(), e.Trace, string(e.Agent), string(e.Kind), string(e.Op),
		e.Tool, e.Path, string(e.Target), args, e.PayloadType, meta, e.PolicyVersion, e.Rule, int64(e.Effect), e.Message,
		int64(e.Severity), string(e.Status), e.Error, int64(e.Duration), e.ResultDigest, e.Detail, prev[:], hash[:]}
}

// rate reports entries per second over the whole measurement, including the
// final commit.
func rate(b *testing.B, n int, start time.Time) {
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "entries/s")
}

func BenchmarkRawOneRowTx(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			db, st := rawFile(b, sync)
			b.ReportAllocs()
			i := 0
			start := time.Now()
			for b.Loop() {
				tx, err := db.Begin()
				require.NoError(b, err)
				_, err = tx.Stmt(st).Exec(rawRow(i)...)
				require.NoError(b, err)
				require.NoError(b, tx.Commit())
				i++
			}
			rate(b, i, start)
		})
	}
}

func BenchmarkRawBatched(b *testing.B) {
	db, st := rawFile(b, "NORMAL")
	b.ReportAllocs()
	const batch = 512
	var tx *sql.Tx
	var stmt *sql.Stmt
	i := 0
	start := time.Now()
	for b.Loop() {
		if tx == nil {
			var err error
			tx, err = db.Begin()
			require.NoError(b, err)
			stmt = tx.Stmt(st)
		}
		_, err := stmt.Exec(rawRow(i)...)
		require.NoError(b, err)
		if i++; i%batch == 0 {
			require.NoError(b, tx.Commit())
			tx = nil
		}
	}
	if tx != nil {
		require.NoError(b, tx.Commit())
	}
	rate(b, i, start)
}

func BenchmarkAppendBuffered(b *testing.B) {
	r := mustOpen(b, tempPath(b, "rec.db"), &recorder.Options{Durability: recorder.Buffered})
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	start := time.Now()
	for b.Loop() {
		if _, err := r.Append(ctx, recordertest.Sample(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	require.NoError(b, r.Flush(ctx))
	rate(b, i, start)
}

func BenchmarkAppendWriteAhead(b *testing.B) {
	for _, sync := range []recorder.Sync{recorder.SyncFull, recorder.SyncNormal} {
		name := map[recorder.Sync]string{recorder.SyncFull: "FULL", recorder.SyncNormal: "NORMAL"}[sync]
		b.Run("appenders=1/sync="+name, func(b *testing.B) {
			r := mustOpen(b, tempPath(b, "rec.db"), &recorder.Options{Sync: sync})
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			start := time.Now()
			for b.Loop() {
				if _, err := r.Append(ctx, recordertest.Sample(i)); err != nil {
					b.Fatal(err)
				}
				i++
			}
			rate(b, i, start)
		})
		b.Run("appenders=64/sync="+name, func(b *testing.B) {
			r := mustOpen(b, tempPath(b, "rec.db"), &recorder.Options{Sync: sync})
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(max(64/runtime.GOMAXPROCS(0), 1))
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := r.Append(ctx, recordertest.Sample(i)); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			rate(b, b.N, start)
		})
	}
}

// BenchmarkVerify verifies a file of 100 000 entries per op, without
// anchors and against 100 anchors (one every 1 000 entries, both ends
// each). It reports the entries one Verify really checked (entries/op,
// from the Report) and the rate; allocs/op are for the whole file.
func BenchmarkVerify(b *testing.B) {
	const n = 100_000
	p := tempPath(b, "rec.db")
	r := mustOpen(b, p, &recorder.Options{Durability: recorder.Buffered})
	ctx := context.Background()
	var anchors []recorder.Anchor
	for i := range n {
		_, err := r.Append(ctx, recordertest.Sample(i))
		require.NoError(b, err)
		if (i+1)%1000 == 0 {
			require.NoError(b, r.Flush(ctx))
			anchors = append(anchors, r.Anchor())
		}
	}
	require.NoError(b, r.Flush(ctx))
	for _, c := range []struct {
		name    string
		anchors []recorder.Anchor
	}{{"anchors=0", nil}, {"anchors=100", anchors}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			runs := 0
			var elapsed time.Duration
			var checked uint64
			for b.Loop() {
				start := time.Now()
				var rep recorder.Report
				var err error
				if c.anchors == nil {
					rep, err = r.Verify(ctx)
				} else {
					rep, err = r.VerifyAnchors(ctx, c.anchors)
				}
				elapsed += time.Since(start)
				if err != nil || !rep.OK || rep.Entries != n {
					b.Fatalf("%v %+v", err, rep)
				}
				checked += rep.Entries
				runs++
			}
			b.ReportMetric(float64(checked)/float64(runs), "entries/op")
			b.ReportMetric(float64(checked)/elapsed.Seconds(), "entries/s")
		})
	}
}
