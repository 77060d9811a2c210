package recorder_test

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/recorder/recordertest"
	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	goleak.VerifyTestMain(m)
}

// rawDB opens the recorder file with a plain connection and drops the
// append-only triggers, as an attacker with write access would.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	for _, tr := range []string{"entries_no_update", "entries_no_delete", "meta_no_update", "meta_no_delete"} {
		_, err := db.Exec("DROP TRIGGER IF EXISTS " + tr)
		require.NoError(t, err)
	}
	return db
}

// sqlTamperer implements recordertest.Tamperer on a recorder file.
type sqlTamperer struct{ db *sql.DB }

var _ recordertest.Tamperer = sqlTamperer{}

const cols = `time=?, trace=?, agent=?, kind=?, op=?, tool=?, path=?, target=?, args=?, payload_type=?, meta=?,
	policy_version=?, rule=?, effect=?, message=?, severity=?, status=?, error=?, duration=?, result_digest=?,
	detail=?, prev_hash=?, hash=?`

// storedMeta is the stored form of an entry's meta: its canonical JSON
// object, or "" when it has none.
func storedMeta(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	c, err := recorder.CanonicalJSON(b)
	if err != nil {
		panic(err)
	}
	return string(c)
}

func values(e recorder.Entry) []any {
	args := []byte(e.Args)
	if args == nil {
		args = []byte{}
	}
	return []any{e.Time.UnixNano(), e.Trace, string(e.Agent), string(e.Kind), string(e.Op), e.Tool, e.Path,
		string(e.Target), args, e.PayloadType, storedMeta(e.Meta), e.PolicyVersion, e.Rule, int64(e.Effect), e.Message, int64(e.Severity),
		string(e.Status), e.Error, int64(e.Duration), e.ResultDigest, e.Detail, e.PrevHash[:], e.Hash[:]}
}

func (s sqlTamperer) Replace(e recorder.Entry) error {
	_, err := s.db.Exec("UPDATE entries SET "+cols+" WHERE seq=?", append(values(e), int64(e.Seq))...)
	return err
}

func (s sqlTamperer) Delete(seq uint64) error {
	_, err := s.db.Exec("DELETE FROM entries WHERE seq=?", int64(seq))
	return err
}

func (s sqlTamperer) Swap(a, b uint64) error {
	const tmp = -1
	for _, q := range []struct {
		from, to int64
	}{{int64(a), tmp}, {int64(b), int64(a)}, {tmp, int64(b)}} {
		if _, err := s.db.Exec("UPDATE entries SET seq=? WHERE seq=?", q.to, q.from); err != nil {
			return err
		}
	}
	return nil
}

func (s sqlTamperer) Insert(at uint64, e recorder.Entry) error {
	// Renumber from the top down so that no two rows share a seq.
	rows, err := s.db.Query("SELECT seq FROM entries WHERE seq >= ? ORDER BY seq DESC", int64(at))
	if err != nil {
		return err
	}
	var seqs []int64
	for rows.Next() {
		var q int64
		if err := rows.Scan(&q); err != nil {
			return err
		}
		seqs = append(seqs, q)
	}
	rows.Close()
	for _, q := range seqs {
		if _, err := s.db.Exec("UPDATE entries SET seq=? WHERE seq=?", q+1, q); err != nil {
			return err
		}
	}
	_, err = s.db.Exec("INSERT INTO entries (seq, time, trace, agent, kind, op, tool, path, target, args, payload_type, meta, policy_version, rule, effect, message, severity, status, error, duration, result_digest, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		append([]any{int64(at)}, values(e)...)...)
	return err
}

func (s sqlTamperer) Truncate(after uint64) error {
	_, err := s.db.Exec("DELETE FROM entries WHERE seq > ?", int64(after))
	return err
}

func tempPath(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(t.TempDir(), name)
}

func mustOpen(t testing.TB, path string, o *recorder.Options) *recorder.Recorder {
	t.Helper()
	r, err := recorder.Open(path, o)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

func fileFactory(o recorder.Options) recordertest.Factory {
	return func(t *testing.T) (recordertest.Recorder, recordertest.Tamperer) {
		p := tempPath(t, "rec.db")
		r, err := recorder.Open(p, &o)
		require.NoError(t, err)
		return r, sqlTamperer{rawDB(t, p)}
	}
}
