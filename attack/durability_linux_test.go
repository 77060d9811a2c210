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
// syscall that returned success has its decision and outcome recorded;
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
		kinds := map[string]map[recorder.Kind]bool{}
		for e, err := range rec.Query(ctx, recorder.Filter{Agent: "filler", Op: agentos.OpWrite}) {
			require.NoError(t, err)
			if kinds[e.Path] == nil {
				kinds[e.Path] = map[recorder.Kind]bool{}
			}
			kinds[e.Path][e.Kind] = true
		}
		for _, p := range acked {
			assert.True(t, kinds[p][recorder.KindDecision] && kinds[p][recorder.KindOutcome],
				"the write of %s returned success and its record is gone", p)
		}
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
