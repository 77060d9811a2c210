package recorder_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/recorder/recordertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func exportSample(t testing.TB, n int) []byte {
	t.Helper()
	r := mustOpen(t, "", nil)
	for i := range n {
		_, err := r.Append(context.Background(), recordertest.Sample(i))
		require.NoError(t, err)
	}
	var buf bytes.Buffer
	require.NoError(t, r.Export(context.Background(), &buf))
	return buf.Bytes()
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	data := exportSample(t, 25)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 26)
	assert.True(t, strings.HasPrefix(lines[0], `{"format":"agentos.recorder","version":1,"genesis":{"seq":0,"hash":"0000`), lines[0])

	p := tempPath(t, "imported.db")
	r, err := recorder.Import(ctx, bytes.NewReader(data), p, nil)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	rep, err := r.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK)
	assert.Equal(t, uint64(25), rep.Entries)
	assert.Equal(t, uint64(25), r.Anchor().Seq)
	var again bytes.Buffer
	require.NoError(t, r.Export(ctx, &again))
	assert.Equal(t, string(data), again.String())
	// The imported recorder goes on appending to the same chain.
	seq, err := r.Append(ctx, recordertest.Sample(25))
	require.NoError(t, err)
	assert.Equal(t, uint64(26), seq)
	rep, err = r.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK)

	// Importing into a file that already holds entries is refused.
	require.NoError(t, r.Close())
	_, err = recorder.Import(ctx, bytes.NewReader(data), p, nil)
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestImportDetectsTampering(t *testing.T) {
	ctx := context.Background()
	data := exportSample(t, 10)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	join := func(ls []string) string { return strings.Join(ls, "\n") + "\n" }
	edit := func(i int, old, new string) string {
		ls := append([]string(nil), lines...)
		require.Contains(t, ls[i], old)
		ls[i] = strings.Replace(ls[i], old, new, 1)
		return join(ls)
	}
	cases := []struct {
		name   string
		input  string
		seq    uint64
		reason recorder.Reason
	}{
		{"edited effect", edit(3, `"effect":"deny"`, `"effect":"allow"`), 3, recorder.ReasonEdited},
		{"edited rule", edit(1, `"rule":"rule-0"`, `"rule":"rule-1"`), 1, recorder.ReasonEdited},
		{"deleted line", join(append(append([]string{}, lines[:5]...), lines[6:]...)), 5, recorder.ReasonDeleted},
		{"swapped lines", join(append(append(append([]string{}, lines[:4]...), lines[5], lines[4]), lines[6:]...)), 4, recorder.ReasonReordered},
		{"args reformatted", edit(1, `{"limit":0,"query":"SELECT 0"}`, `{"query":"SELECT 0","limit":0}`), 1, recorder.ReasonEdited},
		{"edited payload type", edit(7, `"payload_type":"example.com/billing.Invoice"`, `"payload_type":"example.com/billing.Refund"`), 7, recorder.ReasonEdited},
		{"payload type removed", edit(8, `"payload_type":"example.com/billing.Invoice",`, ``), 8, recorder.ReasonEdited},
		{"edited meta value", edit(7, `"direction":"pipe"`, `"direction":"publish"`), 7, recorder.ReasonEdited},
		{"meta entry added", edit(8, `"sender":"agent-1"`, `"sender":"agent-1","via":"relay"`), 8, recorder.ReasonEdited},
		{"meta removed", edit(7, `"meta":{"direction":"pipe","sender":"agent-0","trace":"t-3"},`, ``), 7, recorder.ReasonEdited},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := tempPath(t, "imp.db")
			r, err := recorder.Import(ctx, strings.NewReader(c.input), p, nil)
			require.Nil(t, r)
			require.ErrorIs(t, err, recorder.ErrTampered)
			var ce *recorder.ChainError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, c.seq, ce.Seq, "%v", err)
			assert.Equal(t, c.reason, ce.Reason, "%v", err)
			assert.NoFileExists(t, p, "a failed import leaves no file behind")
		})
	}
	malformed := map[string]string{
		"empty":            "",
		"no header":        join(lines[1:]),
		"bad format":       strings.Replace(join(lines), "agentos.recorder", "other", 1),
		"unknown field":    edit(2, `"kind":`, `"extra":1,"kind":`),
		"not json":         join(append(append([]string{}, lines[:3]...), "{oops")),
		"bad kind":         edit(2, `"kind":"outcome"`, `"kind":"verdict"`),
		"bad hash":         edit(2, `"hash":"`, `"hash":"zz`),
		"trailing data":    edit(2, `}`, `} {}`),
		"newer version":    strings.Replace(join(lines), `"version":1`, `"version":2`, 1),
		"meta not strings": edit(7, `"direction":"pipe"`, `"direction":1`),
		"meta not object":  edit(7, `"meta":{"direction":"pipe","sender":"agent-0","trace":"t-3"}`, `"meta":["pipe"]`),
		"payload type too long": edit(7, `"payload_type":"example.com/billing.Invoice"`,
			`"payload_type":"`+strings.Repeat("p", recorder.MaxPayloadType+1)+`"`),
	}
	for name, input := range malformed {
		t.Run(name, func(t *testing.T) {
			r, err := recorder.Import(ctx, strings.NewReader(input), "", nil)
			require.Nil(t, r)
			require.Error(t, err)
			assert.True(t, errors.Is(err, agentos.ErrInvalid) || errors.Is(err, recorder.ErrSchemaVersion), "%v", err)
		})
	}
}

// TestImportMetaIsData checks that the meta of an export is read as a map:
// the order of its keys and the escaping of its strings are not part of the
// record, and the import stores the canonical form.
func TestImportMetaIsData(t *testing.T) {
	ctx := context.Background()
	data := string(exportSample(t, 18))
	lines := strings.Split(strings.TrimSpace(data), "\n")
	require.Contains(t, lines[15], `"meta":{"direction":"publish","note":"say \"hi\" <b>&amp; é\n\u2028","pattern":"billing.*","sender":"agent-2","trace":"t-7"}`)
	lines[15] = strings.Replace(lines[15],
		`"meta":{"direction":"publish","note":"say \"hi\" <b>&amp; é\n\u2028","pattern":"billing.*","sender":"agent-2","trace":"t-7"}`,
		`"meta":{ "trace":"t-7", "sender":"agent-2", "pattern":"billing.*", "note":"say \u0022hi\" \u003cb>&amp; \u00e9\n\u2028", "direction":"publish" }`, 1)
	r, err := recorder.Import(ctx, strings.NewReader(strings.Join(lines, "\n")), "", nil)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	rep, err := r.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Broken)
	var again bytes.Buffer
	require.NoError(t, r.Export(ctx, &again))
	assert.Equal(t, data, again.String(), "the export of the import is the canonical original")
}

// FuzzImport feeds arbitrary input to Import: it must never panic, and
// whatever it accepts must verify and export back to an equivalent stream.
func FuzzImport(f *testing.F) {
	f.Add(exportSample(f, 6))
	f.Add([]byte(`{"format":"agentos.recorder","version":1,"genesis":{"seq":0,"hash":"0000000000000000000000000000000000000000000000000000000000000000"}}`))
	f.Add([]byte("{}\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		r, err := recorder.Import(ctx, bytes.NewReader(data), "", &recorder.Options{MaxEntryBytes: 64 << 10})
		if err != nil {
			if r != nil {
				t.Fatal("Import returned a recorder with an error")
			}
			return
		}
		defer r.Close()
		// An export may continue an older chain: it verifies from the
		// genesis its header names, which is the recorder's anchor's.
		rep, err := r.VerifyAnchor(ctx, r.Anchor())
		if err != nil || !rep.OK {
			t.Fatalf("imported chain does not verify: %v %v", err, rep.Broken)
		}
		var out bytes.Buffer
		if err := r.Export(ctx, &out); err != nil {
			t.Fatal(err)
		}
		r2, err := recorder.Import(ctx, &out, "", nil)
		if err != nil {
			t.Fatalf("re-import of an export: %v", err)
		}
		defer r2.Close()
		if r2.Anchor() != r.Anchor() {
			t.Fatalf("re-import head %v, want %v", r2.Anchor(), r.Anchor())
		}
	})
}
