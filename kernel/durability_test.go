package kernel_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// tapSink passes entries to a recorder and calls onEntry with each one
// first, on the syscall's goroutine.
type tapSink struct {
	rec     *recorder.Recorder
	onEntry func(recorder.Entry)
}

func (s *tapSink) Append(ctx context.Context, e recorder.Entry) (uint64, error) {
	s.onEntry(e)
	return s.rec.Append(ctx, e)
}

func (s *tapSink) Flush(ctx context.Context) error { return s.rec.Flush(ctx) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// What a write stores is the data as it was when the call was made, and
// the outcome digest is the digest of what was stored, even when the
// caller changes its buffer while the syscall runs: before the store and
// between the store and the digest (the window of the old code, which
// stored a copy of the caller's slice and digested the slice later). The
// changes are made by the kernel's clock, which the kernel and the
// namespace read on the syscall's goroutine: no data race.
func TestWriteDigestsWhatItStores(t *testing.T) {
	for _, op := range []agentos.Op{agentos.OpWrite, agentos.OpAppend} {
		t.Run(string(op), func(t *testing.T) {
			ctx := t.Context()
			rec, err := recorder.Open("", nil)
			require.NoError(t, err)
			t.Cleanup(func() { _ = rec.Close() })

			buf := []byte("what the agent meant to store")
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
					copy(buf, fmt.Sprintf("tampered %d", n))
				}
				return time.Now()
			}
			sink := &tapSink{rec: rec, onEntry: func(e recorder.Entry) {
				if e.Op == op {
					// Between the decision and the outcome every reading of
					// the clock changes the buffer: before the store and
					// after it.
					mu.Lock()
					armed = e.Kind == recorder.KindDecision
					mu.Unlock()
				}
			}}
			k, err := kernel.New(kernel.WithRecorder(sink), kernel.WithClock(clock))
			require.NoError(t, err)
			t.Cleanup(func() { _ = k.Close() })
			a, err := k.Spawn(ctx, "writer")
			require.NoError(t, err)

			const p = "/mem/working/note"
			if op == agentos.OpWrite {
				require.NoError(t, a.Write(ctx, p, buf))
			} else {
				require.NoError(t, a.Append(ctx, p, buf))
			}
			fsys, err := k.Inspect("writer")
			require.NoError(t, err)
			stored, err := fs.ReadFile(fsys, strings.TrimPrefix(p, "/"))
			require.NoError(t, err)
			assert.Equal(t, "what the agent meant to store", string(stored), "stored before the change")

			var outcome recorder.Entry
			for e, err := range rec.Query(ctx, recorder.Filter{Agent: "writer", Op: op, Kind: recorder.KindOutcome}) {
				require.NoError(t, err)
				outcome = e
			}
			require.Equal(t, recorder.StatusOK, outcome.Status)
			assert.Equal(t, "sha256:"+sha256Hex(stored), outcome.ResultDigest,
				"the outcome digest is the digest of the stored data")
		})
	}
}

// A Buffered recorder writing a file acknowledges entries before they are
// on disk: the kernel refuses it unless the trade-off is accepted by name.
func TestBufferedFileRecorderNeedsConsent(t *testing.T) {
	dir := t.TempDir()
	open := func(name string, d recorder.Durability) *recorder.Recorder {
		path := ""
		if name != "" {
			path = filepath.Join(dir, name)
		}
		r, err := recorder.Open(path, &recorder.Options{Durability: d})
		require.NoError(t, err)
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	tests := []struct {
		name    string
		rec     *recorder.Recorder
		lossy   bool
		refused bool
	}{
		{"buffered file", open("b.db", recorder.Buffered), false, true},
		{"buffered file accepted", open("b2.db", recorder.Buffered), true, false},
		{"write-ahead file", open("w.db", recorder.WriteAhead), false, false},
		{"buffered in memory", open("", recorder.Buffered), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []kernel.Option{kernel.WithRecorder(tt.rec)}
			if tt.lossy {
				opts = append(opts, kernel.WithLossyRecorder())
			}
			k, err := kernel.New(opts...)
			if tt.refused {
				require.ErrorIs(t, err, agentos.ErrInvalid)
				assert.Contains(t, err.Error(), "WithLossyRecorder")
				return
			}
			require.NoError(t, err)
			require.NoError(t, k.Close())
		})
	}
}

// fillUntilLost writes through agent a until the recorder reports a loss
// and a few writes more. It asserts, for every write, that one which
// started after the loss was detectable did not return success, and
// returns the number of writes that succeeded.
func fillUntilLost(t *testing.T, rec *recorder.Recorder, a *kernel.Agent) (ok int) {
	t.Helper()
	ctx := t.Context()
	payload := make([]byte, 512)
	after := 0
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; after < 20 && time.Now().Before(deadline); i++ {
		lostBefore := rec.Lost() != nil
		err := a.Write(ctx, "/mem/working/f", payload)
		if lostBefore {
			after++
			require.Error(t, err, "write %d returned success after the recorder reported a loss", i)
			require.ErrorIs(t, err, kernel.ErrRecorder)
			require.ErrorIs(t, err, recorder.ErrLost)
			continue
		}
		if err == nil {
			ok++
			continue
		}
		require.ErrorIs(t, err, kernel.ErrRecorder, "write %d", i)
	}
	require.Equal(t, 20, after, "the recorder never reported a loss")
	return ok
}

// A full disk under a Buffered file recorder: once the recorder reports the
// loss, no syscall succeeds again, the kernel halts, and the loss is bounded
// by the recorder's queue.
func TestRecorderLossHaltsKernel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.db")
	const queue = 64
	rec, err := recorder.Open(path, &recorder.Options{
		Durability: recorder.Buffered, MaxBytes: 256 << 10, QueueSize: queue, BatchSize: 16,
	})
	require.NoError(t, err)
	k, err := kernel.New(kernel.WithRecorder(rec), kernel.WithLossyRecorder())
	require.NoError(t, err)
	a, err := k.Spawn(t.Context(), "filler")
	require.NoError(t, err)

	ok := fillUntilLost(t, rec, a)
	_, err = a.Read(t.Context(), "/mem/working/f")
	require.ErrorIs(t, err, kernel.ErrRecorder, "every later syscall is refused, reads too")
	require.ErrorIs(t, err, agentos.ErrPanicked)
	_, err = k.Spawn(t.Context(), "another")
	require.ErrorIs(t, err, agentos.ErrPanicked)
	require.ErrorIs(t, a.Err(), agentos.ErrKilled, "the kernel killed its agents")
	_ = k.Close()
	require.NoError(t, rec.Close())

	// What survived: the acknowledged writes whose outcome is on disk,
	// short of those acknowledged by at most one queue's worth of entries.
	r, err := recorder.Open(path, &recorder.Options{ReadOnly: true})
	require.NoError(t, err)
	defer r.Close()
	recorded := 0
	for e, err := range r.Query(t.Context(), recorder.Filter{Op: agentos.OpWrite, Kind: recorder.KindOutcome}) {
		require.NoError(t, err)
		if e.Status == recorder.StatusOK {
			recorded++
		}
	}
	t.Logf("%d writes acknowledged, %d outcomes recorded", ok, recorded)
	assert.LessOrEqual(t, ok-recorded, queue, "the loss is bounded by the queue")
}

// The same full disk under a WriteAhead recorder loses no decision: every
// syscall that returned success has its decision on disk, and its outcome
// too unless the commit that carried it (with the next decision) failed;
// then the recorder reports the loss (Lost, which halts the kernel) and
// Stats names the decision's outcome as unknown.
func TestWriteAheadFullDiskLosesNothing(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "full.db")
	rec, err := recorder.Open(path, &recorder.Options{MaxBytes: 192 << 10, Sync: recorder.SyncNormal})
	require.NoError(t, err)
	k, err := kernel.New(kernel.WithRecorder(rec))
	require.NoError(t, err)
	a, err := k.Spawn(ctx, "filler")
	require.NoError(t, err)
	var acked []string
	failures := 0
	for i := 0; failures < 20 && i < 4000; i++ {
		p := fmt.Sprintf("/mem/working/f%d", i)
		if err := a.Write(ctx, p, []byte("x")); err != nil {
			require.ErrorIs(t, err, kernel.ErrRecorder)
			failures++
			continue
		}
		acked = append(acked, p)
	}
	require.Equal(t, 20, failures, "the file never filled")
	lost := rec.Lost()
	_ = k.Close()
	_ = rec.Close() // reports the loss once, if there was one

	r, err := recorder.Open(path, &recorder.Options{ReadOnly: true})
	require.NoError(t, err)
	defer r.Close()
	kinds := map[string]map[recorder.Kind]uint64{}
	for e, err := range r.Query(ctx, recorder.Filter{Agent: "filler", Op: agentos.OpWrite}) {
		require.NoError(t, err)
		if kinds[e.Path] == nil {
			kinds[e.Path] = map[recorder.Kind]uint64{}
		}
		kinds[e.Path][e.Kind] = e.Seq
	}
	st, err := r.Stats(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, acked)
	missing := 0
	for _, p := range acked {
		d := kinds[p][recorder.KindDecision]
		require.NotZero(t, d, "acknowledged write of %s lost its decision", p)
		if kinds[p][recorder.KindOutcome] == 0 {
			missing++
			require.ErrorIs(t, lost, recorder.ErrLost, "the outcome of %s was lost unreported", p)
			require.Contains(t, st.Unknown.Seqs, d, "the outcome of %s is not reported unknown", p)
		}
	}
	assert.LessOrEqual(t, missing, 1, "only the outcome queued when the disk filled can be lost")
}

// truncated decodes the arguments recorded for an action too large to
// record whole.
func truncated(t *testing.T, e recorder.Entry) (bytes int, sum, prefix string) {
	t.Helper()
	var v map[string]struct {
		Bytes  int    `json:"bytes"`
		SHA256 string `json:"sha256"`
		Prefix string `json:"prefix"`
	}
	require.NoError(t, json.Unmarshal(e.Args, &v))
	require.Len(t, v, 1)
	tr, ok := v[kernel.ArgsTruncatedKey]
	require.True(t, ok, "args are marked truncated: %.200s", e.Args)
	assert.Contains(t, e.Detail, "args truncated")
	return tr.Bytes, tr.SHA256, tr.Prefix
}

// Every decision is recorded, whatever the size of the arguments: beyond
// the recorder's entry limit they are recorded cut, with the digest of the
// whole. An allowed action is recorded the same way and runs; it never runs
// unrecorded.
func TestHugeArgumentsAreRecorded(t *testing.T) {
	const policyYAML = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: big}
spec:
  defaultEffect: deny
  rules:
    - name: allow-upload
      effect: allow
      when: action.op == "exec" && action.tool == "upload"
    - name: no-exfil
      effect: deny
      onDeny: refuse
      when: action.op == "exec" && action.tool == "exfil"
`
	for _, limit := range []int{0, 64 << 10} { // the default 1 MiB entry limit, and a small one
		t.Run(map[int]string{0: "default limit", 64 << 10: "small limit"}[limit], func(t *testing.T) {
			ctx := t.Context()
			rec, err := recorder.Open("", &recorder.Options{MaxEntryBytes: limit})
			require.NoError(t, err)
			t.Cleanup(func() { _ = rec.Close() })
			runs := map[string]int{}
			var mu sync.Mutex
			tool := func(name string) kernel.ToolFunc {
				return func(ctx context.Context, args map[string]any) (any, error) {
					mu.Lock()
					runs[name]++
					mu.Unlock()
					return "ok", nil
				}
			}
			k := kerneltest.New(t, kernel.WithRecorder(rec), kerneltest.Policy(policyYAML),
				kernel.WithTool("upload", tool("upload")), kernel.WithTool("exfil", tool("exfil")))
			a := k.MustSpawn("big")
			args := map[string]any{"blob": strings.Repeat("<a&b>\"", 2<<20/6), "n": 1}
			whole, err := recorder.Args(args)
			require.NoError(t, err)
			require.Greater(t, len(whole), rec.MaxEntryBytes(), "larger than an entry may be")

			_, err = a.Exec(ctx, "exfil", args)
			kerneltest.DeniedBy(t, err, "no-exfil")
			_, err = a.Exec(ctx, "upload", args)
			require.NoError(t, err)
			assert.Equal(t, map[string]int{"upload": 1}, runs)

			for _, tc := range []struct {
				tool   string
				status recorder.Status
			}{{"exfil", recorder.StatusDenied}, {"upload", kernel.StatusPermitted}} {
				var got []recorder.Entry
				for e, err := range rec.Query(ctx, recorder.Filter{Agent: "big", Tool: tc.tool, Kind: recorder.KindDecision}) {
					require.NoError(t, err)
					got = append(got, e)
				}
				require.Len(t, got, 1, "one decision entry for %s", tc.tool)
				assert.Equal(t, tc.status, got[0].Status)
				n, sum, prefix := truncated(t, got[0])
				assert.Equal(t, len(whole), n)
				assert.Equal(t, sha256Hex(whole), sum, "the digest of the whole canonical arguments")
				assert.True(t, strings.HasPrefix(string(whole), prefix), "the prefix is the start of the whole")
				assert.NotEmpty(t, prefix)
			}
		})
	}
}

// The memory budget bounds all agents together, each within its own quota;
// reaping an agent gives its share back.
func TestMemoryBudgetAcrossAgents(t *testing.T) {
	ctx := t.Context()
	_, err := kernel.New(kernel.WithMemoryBudget(0))
	require.ErrorIs(t, err, agentos.ErrInvalid)

	k := kerneltest.New(t, kernel.WithMemoryBudget(1<<20))
	chunk := make([]byte, 600<<10)
	a := k.MustSpawn("a")
	b := k.MustSpawn("b")
	require.NoError(t, a.Write(ctx, "/mem/working/x", chunk))
	err = b.Write(ctx, "/mem/working/x", chunk)
	require.ErrorIs(t, err, agentos.ErrQuota, "within b's quota, past the kernel's budget")
	_, err = a.Checkpoint(ctx)
	require.ErrorIs(t, err, agentos.ErrQuota, "checkpoint copies count too")

	require.NoError(t, k.Signal(ctx, "a", signals.SIGKILL, "done"))
	require.NoError(t, k.Reap("a"))
	require.NoError(t, b.Write(ctx, "/mem/working/x", chunk), "a's share was given back")
}

// A refusal is recorded whatever the size of what was asked: a path far
// beyond the path limit, a target or a tool name given to Do.
func TestHugeFieldsAreRecorded(t *testing.T) {
	ctx := t.Context()
	rec, err := recorder.Open("", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rec.Close() })
	k := kerneltest.New(t, kernel.WithRecorder(rec))
	huge := strings.Repeat("/a", 1<<20)

	a := k.MustSpawn("paths")
	kerneltest.DeniedBy(t, a.Write(ctx, huge, nil), kernel.RulePath)
	b := k.MustSpawn("targets")
	_, err = b.Do(ctx, agentos.Action{Op: agentos.OpSend, Target: agentos.AgentID(huge[1:]), Tool: huge[1:]},
		func(context.Context) (any, error) { t.Error("a denied send ran"); return nil, nil })
	kerneltest.Denied(t, err)

	for _, id := range []agentos.AgentID{"paths", "targets"} {
		var got []recorder.Entry
		for e, err := range rec.Query(ctx, recorder.Filter{Agent: id, Kind: recorder.KindDecision}) {
			require.NoError(t, err)
			got = append(got, e)
		}
		require.Len(t, got, 1, "the refusal of %s is recorded", id)
		e := got[0]
		assert.Equal(t, recorder.StatusDenied, e.Status)
		assert.LessOrEqual(t, len(e.Path)+len(e.Tool)+len(e.Target), 3*4100)
		assert.Contains(t, e.Detail, "truncated")
		sum := sha256.Sum256([]byte(huge))
		if id == "targets" {
			sum = sha256.Sum256([]byte(huge[1:]))
		}
		assert.Contains(t, e.Detail, "sha256:"+hex.EncodeToString(sum[:]), "the digest of the whole")
	}
}

// TestDecisionRecordedUnderSmallEntryLimit: a recorder with a small entry
// limit refuses an entry carrying the largest meta an action may have;
// the decision is still recorded, cut to its digests, and a denied action
// as well as an allowed one leave their entry.
func TestDecisionRecordedUnderSmallEntryLimit(t *testing.T) {
	ctx := t.Context()
	rec, err := recorder.Open("", &recorder.Options{MaxEntryBytes: 8 << 10})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rec.Close() })
	k := kerneltest.New(t, kernel.WithRecorder(rec), kerneltest.Policy(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: meta}
spec:
  rules:
    - name: ok
      effect: allow
      when: action.tool == "ok"
`))
	meta := make(map[string]string, recorder.MaxMetaEntries)
	for i := range recorder.MaxMetaEntries {
		meta[fmt.Sprintf("k%02d%s", i, strings.Repeat("k", recorder.MaxMetaKey-3))] = strings.Repeat("v", recorder.MaxMetaValue)
	}
	ran := 0
	run := func(context.Context) (any, error) { ran++; return "done", nil }
	a := k.MustSpawn("meta")
	_, err = a.Do(ctx, agentos.Action{Op: agentos.OpSearch, Tool: "ok", Meta: meta, Args: map[string]any{"q": strings.Repeat("x", 64<<10)}}, run)
	require.NoError(t, err, "an allowed action whose entry is cut still runs, recorded")
	require.Equal(t, 1, ran)
	_, err = a.Do(ctx, agentos.Action{Op: agentos.OpSearch, Tool: "nope", Meta: meta}, run)
	kerneltest.Denied(t, err)
	require.Equal(t, 1, ran, "the denied action never ran")

	var got []recorder.Entry
	for e, err := range rec.Query(ctx, recorder.Filter{Agent: "meta", Kind: recorder.KindDecision}) {
		require.NoError(t, err)
		got = append(got, e)
	}
	require.Len(t, got, 2, "both decisions are recorded")
	m, err := json.Marshal(meta)
	require.NoError(t, err)
	sum := sha256.Sum256(m)
	for _, e := range got {
		assert.Empty(t, e.Meta)
		assert.Contains(t, e.Detail, "meta cut: 32 entries, sha256:"+hex.EncodeToString(sum[:]))
	}
	assert.Equal(t, kernel.StatusPermitted, got[0].Status)
	assert.Equal(t, recorder.StatusDenied, got[1].Status)
	rep, err := rec.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK)
}
