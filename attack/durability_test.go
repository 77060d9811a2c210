package attack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
)

// Threat: the record of an effect is not the effect. An agent changes the
// buffer it asked to write while the syscall runs, after the kernel stored
// it and before the kernel digested it, so that the flight recorder proves
// a content that was never stored. The changes are made from the kernel's
// clock (a public option), read on the syscall's goroutine.
func TestDigestIsOfWhatWasStored(t *testing.T) {
	for _, appending := range []bool{false, true} {
		t.Run(fmt.Sprintf("append=%v", appending), func(t *testing.T) {
			ctx := t.Context()
			rec := openRecorder(t, "", nil)
			buf := []byte("the invoice says 100")
			var (
				mu    sync.Mutex
				armed bool
				n     int
			)
			clock := func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				if armed {
					n++
					copy(buf, fmt.Sprintf("the invoice says %03d", n))
				}
				return time.Now()
			}
			sink := sinkFunc(func(ctx context.Context, e recorder.Entry) (uint64, error) {
				if e.Op == agentos.OpWrite || e.Op == agentos.OpAppend {
					// From the decision to the outcome, every reading of the
					// clock changes the buffer: before the store and after.
					mu.Lock()
					armed = e.Kind == recorder.KindDecision
					mu.Unlock()
				}
				return rec.Append(ctx, e)
			})
			k, err := kernel.New(kernel.WithRecorder(sink), kernel.WithClock(clock))
			require.NoError(t, err)
			t.Cleanup(func() { _ = k.Close() })
			a, err := k.Spawn(ctx, "forger")
			require.NoError(t, err)
			if appending {
				require.NoError(t, a.Append(ctx, "/mem/episodic/invoice", buf))
			} else {
				require.NoError(t, a.Write(ctx, "/mem/working/invoice", buf))
			}

			fsys, err := k.Inspect("forger")
			require.NoError(t, err)
			name := "mem/working/invoice"
			if appending {
				name = "mem/episodic/invoice"
			}
			stored, err := fs.ReadFile(fsys, name)
			require.NoError(t, err)
			var digests []string
			for e, err := range rec.Query(ctx, recorder.Filter{Agent: "forger", Kind: recorder.KindOutcome}) {
				require.NoError(t, err)
				digests = append(digests, e.ResultDigest)
			}
			sum := sha256.Sum256(stored)
			assert.Equal(t, []string{"sha256:" + hex.EncodeToString(sum[:])}, digests,
				"the recorder proves what was stored (%q)", stored)
		})
	}
}

// sinkFunc is a kernel.Sink from a function.
type sinkFunc func(ctx context.Context, e recorder.Entry) (uint64, error)

func (f sinkFunc) Append(ctx context.Context, e recorder.Entry) (uint64, error) { return f(ctx, e) }

func openRecorder(t *testing.T, path string, o *recorder.Options) *recorder.Recorder {
	t.Helper()
	r, err := recorder.Open(path, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// decisions returns the decision entries of agent id.
func decisions(t *testing.T, rec *recorder.Recorder, id agentos.AgentID) []recorder.Entry {
	t.Helper()
	var out []recorder.Entry
	for e, err := range rec.Query(t.Context(), recorder.Filter{Agent: id, Kind: recorder.KindDecision}) {
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

// Threat: a denied action that leaves no trace. Whatever the size of what an
// agent asks (arguments beyond the recorder's entry limit, a path or a
// target of megabytes), its denial is recorded, with the digest of the
// whole; and an allowed action with such arguments runs only recorded.
func TestEveryDecisionIsRecorded(t *testing.T) {
	const policyYAML = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: exfil}
spec:
  defaultEffect: deny
  rules:
    - name: upload
      effect: allow
      when: action.op == "exec" && action.tool == "upload"
    - name: no-exfil
      effect: deny
      onDeny: refuse
      when: action.op == "exec" && action.tool == "exfil"
`
	ctx := t.Context()
	rec := openRecorder(t, "", nil)
	var mu sync.Mutex
	ran := map[string]int{}
	tool := func(name string) kernel.ToolFunc {
		return func(context.Context, map[string]any) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			ran[name]++
			return nil, nil
		}
	}
	k, err := kernel.New(kernel.WithRecorder(rec), kernel.WithPolicySource("exfil.yaml", []byte(policyYAML)),
		kernel.WithTool("upload", tool("upload")), kernel.WithTool("exfil", tool("exfil")))
	require.NoError(t, err)
	t.Cleanup(func() { _ = k.Close() })

	secret := strings.Repeat("customer-record;", 3<<20/16) // 3 MiB: over the 1 MiB entry limit
	whole, err := recorder.Args(map[string]any{"data": secret})
	require.NoError(t, err)
	sum := sha256.Sum256(whole)
	digest := hex.EncodeToString(sum[:])

	a, err := k.Spawn(ctx, "exfil")
	require.NoError(t, err)
	_, err = a.Exec(ctx, "exfil", map[string]any{"data": secret})
	require.ErrorIs(t, err, agentos.ErrDenied)
	d := decisions(t, rec, "exfil")
	require.Len(t, d, 1, "the denial is recorded")
	assert.Equal(t, recorder.StatusDenied, d[0].Status)
	assert.Contains(t, string(d[0].Args), digest, "with the digest of the whole arguments")

	u, err := k.Spawn(ctx, "upload")
	require.NoError(t, err)
	_, err = u.Exec(ctx, "upload", map[string]any{"data": secret})
	require.NoError(t, err)
	d = decisions(t, rec, "upload")
	require.Len(t, d, 1, "what ran is recorded")
	assert.Contains(t, string(d[0].Args), digest)
	assert.Equal(t, map[string]int{"upload": 1}, ran, "denied never runs; allowed runs once")

	p, err := k.Spawn(ctx, "path")
	require.NoError(t, err)
	huge := strings.Repeat("/x", 2<<20)
	require.ErrorIs(t, p.Write(ctx, huge, nil), agentos.ErrDenied)
	d = decisions(t, rec, "path")
	require.Len(t, d, 1, "the refusal of a huge path is recorded")
	hsum := sha256.Sum256([]byte(huge))
	assert.Contains(t, d[0].Detail, hex.EncodeToString(hsum[:]))
}

// Threat: success reported for an effect whose record is then lost. A
// Buffered recorder writing a file acknowledges entries before they are on
// disk, so the kernel refuses one unless the host accepts the loss window
// by name; with it, once the recorder has lost entries no syscall reports
// success again.
func TestNoSuccessAfterRecordLoss(t *testing.T) {
	dir := t.TempDir()
	buffered := openRecorder(t, filepath.Join(dir, "b.db"), &recorder.Options{Durability: recorder.Buffered})
	_, err := kernel.New(kernel.WithRecorder(buffered))
	require.ErrorIs(t, err, agentos.ErrInvalid, "a lossy recorder is not accepted silently")

	// MaxBytes stands for a full disk (durability_linux_test.go fills a
	// real one).
	path := filepath.Join(dir, "full.db")
	rec := openRecorder(t, path, &recorder.Options{Durability: recorder.Buffered, MaxBytes: 256 << 10, QueueSize: 64})
	k, err := kernel.New(kernel.WithRecorder(rec), kernel.WithLossyRecorder())
	require.NoError(t, err)
	t.Cleanup(func() { _ = k.Close() })
	a, err := k.Spawn(t.Context(), "filler")
	require.NoError(t, err)
	assertNoSuccessAfterLoss(t, rec, a)
}

// assertNoSuccessAfterLoss writes through a until rec reports a loss, and
// then some: no write that started after the loss was reported succeeds.
func assertNoSuccessAfterLoss(t *testing.T, rec *recorder.Recorder, a *kernel.Agent) {
	t.Helper()
	ctx := t.Context()
	after := 0
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; after < 20 && time.Now().Before(deadline); i++ {
		lost := rec.Lost() != nil
		err := a.Write(ctx, fmt.Sprintf("/mem/working/f%d", i%1000), make([]byte, 256))
		if lost {
			after++
			require.Error(t, err, "write %d succeeded after the recorder lost entries", i)
		}
	}
	require.Equal(t, 20, after, "the recorder never lost entries: the disk never filled")
	_, err := a.Read(ctx, "/mem/working/f0")
	require.ErrorIs(t, err, kernel.ErrRecorder, "nothing is admitted any more")
}
