//go:build cgo

package emk_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/emk"
	"github.com/agent-os/agentos/models/glove"
)

// The raw baseline inserts the same rows (the episode's columns, its
// content address and, with glove, the embedding blob computed beforehand)
// through the same driver into one plain table with the same indexes, in a
// WAL file with synchronous=NORMAL, with a prepared statement and one
// transaction per batch of the same size: what SQLite alone does for the
// same data, with no validation, hashing, embedding or idempotence check.

const rawSchema = `
CREATE TABLE episodes (
	seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, agent TEXT NOT NULL, time INTEGER NOT NULL,
	outcome TEXT NOT NULL, goal TEXT NOT NULL, action TEXT NOT NULL, result TEXT NOT NULL,
	reflection TEXT NOT NULL, meta TEXT NOT NULL, causes TEXT NOT NULL, vec BLOB);
CREATE INDEX episodes_agent_time ON episodes(agent, time);
CREATE INDEX episodes_time ON episodes(time);
CREATE INDEX episodes_outcome_time ON episodes(outcome, time);`

const rawInsert = `INSERT INTO episodes (id, agent, time, outcome, goal, action, result, reflection, meta, causes, vec)
	VALUES (?,?,?,?,?,?,?,?,?,?,?)`

var (
	gloveOnce sync.Once
	gloveEmb  *glove.Embedder
	gloveErr  error
)

func benchGlove(b *testing.B) *glove.Embedder {
	gloveOnce.Do(func() { gloveEmb, gloveErr = glove.New() })
	require.NoError(b, gloveErr)
	return gloveEmb
}

var (
	outcomes = []emk.Outcome{emk.OutcomeSuccess, emk.OutcomeFailure, emk.OutcomeFailure, emk.OutcomeAntiPattern, emk.OutcomeUnknown}
	verbs    = []string{"deploy", "migrate", "restart", "scale", "back up", "rotate keys of", "debug", "patch"}
	things   = []string{"the payment api", "the postgres database", "the web frontend", "the search cluster", "the billing worker", "the cache"}
	tools    = []string{"kubectl apply", "helm upgrade", "terraform apply", "ansible playbook", "a bash script", "the admin console"}
	results  = []string{"rolled out cleanly", "pods crashed in a loop", "timed out after ten minutes", "lost the connection pool", "needed a manual rollback"}
	lessons  = []string{"pin the image tag", "take a snapshot first", "drain the node before", "check the quota", "run a dry run first", ""}
)

// benchEpisode is the i-th episode of a synthetic workload.
func benchEpisode(i int) emk.Episode {
	return emk.Episode{
		Agent:      fmt.Sprintf("agent-%d", i%16),
		Time:       t0.Add(-time.Duration(i) * time.Minute),
		Goal:       verbs[i%len(verbs)] + " " + things[i/len(verbs)%len(things)],
		Action:     tools[i%len(tools)] + fmt.Sprintf(" (run %d)", i),
		Result:     results[i%len(results)],
		Reflection: lessons[i%len(lessons)],
		Outcome:    outcomes[i%len(outcomes)],
		Meta:       map[string]string{"env": []string{"prod", "staging"}[i%2], "run": fmt.Sprint(i)},
	}
}

func blob(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// rawRow returns the raw insert's arguments for e.
func rawRow(e emk.Episode, vec []byte) []any {
	meta, _ := json.Marshal(e.Meta)
	return []any{e.ComputeID(), e.Agent, e.Time.UnixNano(), string(e.Outcome), e.Goal, e.Action, e.Result,
		e.Reflection, string(meta), strings.Join(e.Causes, ","), vec}
}

// benchRates remembers the raw rate of each case for the emk run after it.
var benchRates sync.Map

func BenchmarkAppend(b *testing.B) {
	const pool = 4096
	for _, embedder := range []string{"none", "glove"} {
		eps := make([]emk.Episode, pool)
		rows := make([][]any, pool)
		var opts []emk.Option
		for i := range eps {
			eps[i] = benchEpisode(i)
		}
		if embedder == "glove" {
			g := benchGlove(b)
			opts = append(opts, emk.WithEmbedder(g.Embed))
		}
		for i, e := range eps {
			var vec []byte
			if embedder == "glove" {
				v, err := benchGlove(b).Embed(context.Background(), strings.Join(slices.DeleteFunc(
					[]string{e.Goal, e.Action, e.Result, e.Reflection}, func(s string) bool { return s == "" }), "\n"))
				require.NoError(b, err)
				vec = blob(v)
			}
			rows[i] = rawRow(e, vec)
		}
		for _, batch := range []int{1, 100} {
			name := fmt.Sprintf("embedder=%s/batch=%d", embedder, batch)
			// Each round of the pool shifts times by a second, so every
			// episode is new; the raw id gets the round as a suffix.
			next := func(i int) (emk.Episode, []any) {
				e, row := eps[i%pool], slices.Clone(rows[i%pool])
				round := i / pool
				e.Time = e.Time.Add(time.Duration(round) * time.Second)
				row[0] = row[0].(string) + fmt.Sprint(round)
				row[2] = e.Time.UnixNano()
				return e, row
			}
			b.Run(name+"/raw", func(b *testing.B) {
				db, err := sql.Open("sqlite3", "file:"+filepath.Join(b.TempDir(), "raw.db")+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000")
				require.NoError(b, err)
				defer db.Close()
				db.SetMaxOpenConns(1)
				_, err = db.Exec(rawSchema)
				require.NoError(b, err)
				st, err := db.Prepare(rawInsert)
				require.NoError(b, err)
				defer st.Close()
				b.ReportAllocs()
				i := 0
				start := time.Now()
				for b.Loop() {
					tx, err := db.Begin()
					require.NoError(b, err)
					ts := tx.Stmt(st)
					for range batch {
						_, row := next(i)
						i++
						_, err := ts.Exec(row...)
						require.NoError(b, err)
					}
					require.NoError(b, tx.Commit())
				}
				r := float64(i) / time.Since(start).Seconds()
				b.ReportMetric(r, "episodes/s")
				benchRates.Store(name, r)
			})
			b.Run(name+"/emk", func(b *testing.B) {
				s, err := emk.Open(filepath.Join(b.TempDir(), "emk.db"), opts...)
				require.NoError(b, err)
				defer s.Close()
				ctx := context.Background()
				es := make([]emk.Episode, batch)
				b.ReportAllocs()
				i := 0
				start := time.Now()
				for b.Loop() {
					for j := range es {
						es[j], _ = next(i)
						i++
					}
					if batch == 1 {
						_, err = s.Append(ctx, es[0])
					} else {
						_, err = s.AppendBatch(ctx, es)
					}
					require.NoError(b, err)
				}
				r := float64(i) / time.Since(start).Seconds()
				b.ReportMetric(r, "episodes/s")
				if raw, ok := benchRates.Load(name); ok {
					b.ReportMetric(r/raw.(float64), "x_raw")
				}
			})
		}
	}
}

// BenchmarkQuery ranks 10,000 episodes. The baseline, scan, is the least
// any embedding query must do: read every vector of the table with plain
// SQL and compute its cosine with the query's, without filters, scoring or
// loading the winners.
func BenchmarkQuery(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	g := benchGlove(b)
	build := func(b *testing.B, opts ...emk.Option) (*emk.Store, string) {
		path := filepath.Join(b.TempDir(), "q.db")
		s, err := emk.Open(path, append(opts, emk.WithClock(func() time.Time { return t0 }))...)
		require.NoError(b, err)
		b.Cleanup(func() { s.Close() })
		for i := 0; i < n; i += emk.MaxBatch {
			es := make([]emk.Episode, emk.MaxBatch)
			for j := range es {
				es[j] = benchEpisode(i + j)
			}
			_, err := s.AppendBatch(ctx, es)
			require.NoError(b, err)
		}
		return s, path
	}
	withGlove, path := build(b, emk.WithEmbedder(g.Embed))
	lexical, _ := build(b)
	const text = "what went wrong when I deployed the payments service"

	var scan float64
	b.Run("scan", func(b *testing.B) {
		db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
		require.NoError(b, err)
		defer db.Close()
		b.ReportAllocs()
		start := time.Now()
		ops := 0
		for b.Loop() {
			q, err := g.Embed(ctx, text)
			require.NoError(b, err)
			rows, err := db.Query("SELECT vec FROM embeddings")
			require.NoError(b, err)
			best := -2.0
			for rows.Next() {
				var v []byte
				require.NoError(b, rows.Scan(&v))
				var dot float64
				for k := range q {
					dot += float64(q[k]) * float64(math.Float32frombits(binary.LittleEndian.Uint32(v[4*k:])))
				}
				best = max(best, dot)
			}
			require.NoError(b, rows.Err())
			rows.Close()
			ops++
		}
		scan = time.Since(start).Seconds() / float64(ops)
	})
	cases := []struct {
		name string
		s    *emk.Store
		q    emk.Query
	}{
		{"embedding", withGlove, emk.Query{Text: text, K: 10}},
		{"embedding/agent+failures", withGlove, emk.Query{Agent: "agent-3", Outcomes: []emk.Outcome{emk.OutcomeFailure}, Text: text, K: 10}},
		{"lexical", lexical, emk.Query{Text: text, K: 10}},
		{"recent", withGlove, emk.Query{K: 10}},
		{"meta", withGlove, emk.Query{Meta: map[string]string{"run": "4242"}, K: 10}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			ops := 0
			for b.Loop() {
				got, err := c.s.Query(ctx, c.q)
				require.NoError(b, err)
				require.NotEmpty(b, got)
				ops++
			}
			if scan > 0 {
				b.ReportMetric(time.Since(start).Seconds()/float64(ops)/scan, "x_scan")
			}
		})
	}
}
