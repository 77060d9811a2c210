package recorder_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// send is a decision entry for a message sent through a pipe.
func send(trace string, meta map[string]string) recorder.Entry {
	return recorder.Entry{Kind: recorder.KindDecision, Trace: trace, Agent: "agent-1", Op: agentos.OpSend,
		Target: "agent-2", PayloadType: "example.com/billing.Invoice", Meta: meta, Effect: agentos.Allow}
}

func queryAll(t *testing.T, r *recorder.Recorder, f recorder.Filter) []recorder.Entry {
	t.Helper()
	var out []recorder.Entry
	for e, err := range r.Query(context.Background(), f) {
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

// TestPayloadTypeAndMetaStored checks the stored form of the two fields:
// their own columns, meta as canonical JSON (keys sorted, no space, no HTML
// escaping), an empty or nil map as the empty string, read back as nil.
func TestPayloadTypeAndMetaStored(t *testing.T) {
	ctx := context.Background()
	p := tempPath(t, "rec.db")
	r := mustOpen(t, p, nil)
	meta := map[string]string{"sender": "agent-1", "direction": "pipe", "note": "<a> & \"b\"\né"}
	_, err := r.Append(ctx, send("t-1", meta))
	require.NoError(t, err)
	_, err = r.Append(ctx, send("t-2", map[string]string{}))
	require.NoError(t, err)
	_, err = r.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Detail: "spawn"})
	require.NoError(t, err)

	db := rawDB(t, p)
	type row struct{ payloadType, meta string }
	var got []row
	rows, err := db.Query("SELECT payload_type, meta FROM entries ORDER BY seq")
	require.NoError(t, err)
	for rows.Next() {
		var w row
		require.NoError(t, rows.Scan(&w.payloadType, &w.meta))
		got = append(got, w)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	assert.Equal(t, []row{
		{"example.com/billing.Invoice", `{"direction":"pipe","note":"<a> & \"b\"\né","sender":"agent-1"}`},
		{"example.com/billing.Invoice", ""},
		{"", ""},
	}, got)
	var kind string
	require.NoError(t, db.QueryRow("SELECT json_extract(meta, '$.direction') FROM entries WHERE seq = 1").Scan(&kind))
	assert.Equal(t, "pipe", kind, "SQLite's JSON functions read the meta column")

	es := queryAll(t, r, recorder.Filter{})
	require.Len(t, es, 3)
	assert.Equal(t, meta, es[0].Meta)
	assert.Nil(t, es[1].Meta, "an empty map reads back as nil")
	assert.Nil(t, es[2].Meta)
	assert.Equal(t, "example.com/billing.Invoice", es[1].PayloadType)

	// A meta column that is not a JSON object of strings is reported by
	// Query as corruption (and by Verify as an edited entry).
	_, err = db.Exec("UPDATE entries SET meta = '{\"direction\":1}' WHERE seq = 1")
	require.NoError(t, err)
	for _, err := range r.Query(ctx, recorder.Filter{}) {
		require.ErrorIs(t, err, recorder.ErrCorrupt)
		break
	}
	rep, err := r.Verify(ctx)
	require.NoError(t, err)
	require.NotNil(t, rep.Broken)
	assert.Equal(t, uint64(1), rep.Broken.Seq)
	assert.Equal(t, recorder.ReasonEdited, rep.Broken.Reason)
}

// TestMetaIsCopied checks that Append keeps its own copy of Meta: a caller
// that reuses its map after Append (as a kernel reusing an Action may) does
// not change what is recorded, even in Buffered mode before the flush.
func TestMetaIsCopied(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, tempPath(t, "rec.db"), &recorder.Options{Durability: recorder.Buffered, FlushInterval: time.Hour})
	meta := map[string]string{"direction": "pipe"}
	_, err := r.Append(ctx, send("t-1", meta))
	require.NoError(t, err)
	meta["direction"] = "publish"
	meta["sender"] = "forged"
	require.NoError(t, r.Flush(ctx))
	es := queryAll(t, r, recorder.Filter{})
	require.Len(t, es, 1)
	assert.Equal(t, map[string]string{"direction": "pipe"}, es[0].Meta)
	rep, err := r.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, "%v", rep.Broken)
}

// TestHashCoversPayloadTypeAndMeta checks that the hash tells apart entries
// that differ only in how bytes are spread over the new fields, and that a
// nil and an empty Meta hash alike (they are stored alike).
func TestHashCoversPayloadTypeAndMeta(t *testing.T) {
	base := recorder.Entry{Seq: 1, Kind: recorder.KindDecision, Trace: "t", Time: time.Unix(0, 0).UTC()}
	with := func(edit func(*recorder.Entry)) recorder.Hash {
		e := base
		edit(&e)
		return recorder.ComputeHash(recorder.Hash{}, e)
	}
	variants := map[string]recorder.Hash{
		"none":              with(func(*recorder.Entry) {}),
		"payload a":         with(func(e *recorder.Entry) { e.PayloadType = "a" }),
		"tool a":            with(func(e *recorder.Entry) { e.Tool = "a" }),
		"target a":          with(func(e *recorder.Entry) { e.Target = "a" }),
		"meta a=":           with(func(e *recorder.Entry) { e.Meta = map[string]string{"a": ""} }),
		"meta =a":           with(func(e *recorder.Entry) { e.Meta = map[string]string{"": "a"} }),
		"meta a=b,c":        with(func(e *recorder.Entry) { e.Meta = map[string]string{"a": "b,c"} }),
		"meta a=b c=":       with(func(e *recorder.Entry) { e.Meta = map[string]string{"a": "b", "c": ""} }),
		"meta ab=":          with(func(e *recorder.Entry) { e.Meta = map[string]string{"ab": ""} }),
		"payload a meta a=": with(func(e *recorder.Entry) { e.PayloadType = "a"; e.Meta = map[string]string{"a": ""} }),
		"policy a":          with(func(e *recorder.Entry) { e.PolicyVersion = "a" }),
		"args":              with(func(e *recorder.Entry) { e.Args = []byte(`{"a":""}`) }),
	}
	seen := map[recorder.Hash]string{}
	for name, h := range variants {
		if other, dup := seen[h]; dup {
			t.Errorf("%s and %s hash alike", name, other)
		}
		seen[h] = name
	}
	assert.Equal(t, variants["none"], with(func(e *recorder.Entry) { e.Meta = map[string]string{} }),
		"an empty Meta is stored, and hashed, as nil")
}

// TestMetaCountsTowardsEntrySize checks that MaxEntryBytes bounds the whole
// entry, payload type and meta included.
func TestMetaCountsTowardsEntrySize(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, "", &recorder.Options{MaxEntryBytes: 4096})
	meta := map[string]string{}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		meta[k] = strings.Repeat("v", recorder.MaxMetaValue)
	}
	_, err := r.Append(ctx, send("t-1", meta))
	require.ErrorIs(t, err, agentos.ErrInvalid)
	delete(meta, "e")
	delete(meta, "d")
	_, err = r.Append(ctx, send("t-1", meta))
	require.NoError(t, err)
}
