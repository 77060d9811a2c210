//go:build linux

package attack

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
)

// smallDisk mounts a tmpfs of size bytes on a temporary directory for the
// test: a disk that fills.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	needRoot(t)
	dir := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)))
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// Threat: the disk under the flight recorder fills while agents work. A
// real full disk (a 4 MiB tmpfs): under a WriteAhead recorder every
// syscall that returned success has its decision recorded, and its
// outcome recorded or reported lost and unknown;
// under a Buffered one accepted by WithLossyRecorder no syscall reports
// success once the recorder lost entries.
func TestFullDiskLosesNoAcknowledgedRecord(t *testing.T) {
	t.Run("write-ahead", func(t *testing.T) {
		ctx := t.Context()
		rec := openRecorder(t, filepath.Join(smallDisk(t, 4<<20), "audit.db"), nil)
		k, err := kernel.New(kernel.WithRecorder(rec))
		require.NoError(t, err)
		t.Cleanup(func() { _ = k.Close() })
		a, err := k.Spawn(ctx, "filler")
		require.NoError(t, err)
		var acked []string
		failures := 0
		for i := 0; failures < 20 && i < 4000; i++ {
			p := fmt.Sprintf("/mem/working/f%d", i)
			if err := a.Write(ctx, p, make([]byte, 64)); err != nil {
				failures++
				continue
			}
			acked = append(acked, p)
		}
		require.Equal(t, 20, failures, "the disk never filled")
		require.NotEmpty(t, acked)
		t.Logf("%d writes acknowledged before the disk filled", len(acked))
		// The promise: every acknowledged syscall's decision is on disk
		// before its effect; its outcome rides on the next commit, and one
		// lost when the disk filled is reported — as a loss (Lost) and as
		// an unknown outcome — never silently dropped.
		lost := rec.Lost()
		kinds := map[string]map[recorder.Kind]uint64{}
		for e, err := range rec.Query(ctx, recorder.Filter{Agent: "filler", Op: agentos.OpWrite}) {
			require.NoError(t, err)
			if kinds[e.Path] == nil {
				kinds[e.Path] = map[recorder.Kind]uint64{}
			}
			kinds[e.Path][e.Kind] = e.Seq
		}
		st, err := rec.Stats(ctx)
		require.NoError(t, err)
		missing := 0
		for _, p := range acked {
			d := kinds[p][recorder.KindDecision]
			require.NotZero(t, d, "the write of %s returned success and its decision is gone", p)
			if kinds[p][recorder.KindOutcome] == 0 {
				missing++
				require.ErrorIs(t, lost, recorder.ErrLost, "the outcome of %s was lost unreported", p)
				require.Contains(t, st.Unknown.Seqs, d, "the outcome of %s is not reported unknown", p)
			}
		}
		assert.LessOrEqual(t, missing, 1, "only the outcome queued when the disk filled can be lost")
		rep, err := rec.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, rep.OK, "%v", rep.Err())
	})
	t.Run("buffered", func(t *testing.T) {
		rec := openRecorder(t, filepath.Join(smallDisk(t, 1<<20), "audit.db"),
			&recorder.Options{Durability: recorder.Buffered, QueueSize: 256})
		k, err := kernel.New(kernel.WithRecorder(rec), kernel.WithLossyRecorder())
		require.NoError(t, err)
		t.Cleanup(func() { _ = k.Close() })
		a, err := k.Spawn(t.Context(), "filler")
		require.NoError(t, err)
		assertNoSuccessAfterLoss(t, rec, a)
	})
}
