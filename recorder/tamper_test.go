package recorder_test

import (
	"context"
	"database/sql"
	"testing"

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
