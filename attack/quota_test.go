package attack

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heapGrowth runs fn and returns how much the in-use heap grew across it,
// after a collection on each side; keep holds what fn built alive until
// the second measure.
func heapGrowth(fn func() (keep any)) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep := fn()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return int64(after.HeapInuse) - int64(before.HeapInuse)
}

// deepPath is a path of about 1 KiB under /mem/working whose 62 components
// belong to file i alone: no directory is shared.
func deepPath(i int) string {
	parts := make([]string, 62)
	for j := range parts {
		parts[j] = fmt.Sprintf("%04d-%010d", i, j)
	}
	return "/mem/working/" + strings.Join(parts, "/")
}

// longPath is a path of about 1 KiB under /mem/working in four components,
// the last unique to file i.
func longPath(i int) string {
	c := strings.Repeat("n", 240)
	return fmt.Sprintf("/mem/working/%s/%s/%s/%04d-%s", c, c, c, i, c)
}

// Threat: memory exhaustion through what a quota does not count. An agent
// writes 4,095 empty files at ~1 KiB paths and takes 16 checkpoints: zero
// bytes of data, which pinned 139 MiB under a 64 MiB quota. Deep paths cost
// directory nodes; long names in checkpoints cost their copies. The memory
// the agent's namespace holds stays within about its quota.
func TestEmptyFilesStayWithinQuota(t *testing.T) {
	const quota = 16 << 20 // smaller than the default, so the test is light
	for _, tc := range []struct {
		name  string
		files int
		path  func(int) string
	}{
		{"deep paths", 4095, deepPath},
		{"long names in checkpoints", 2000, longPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			// The trail goes to a sink that keeps nothing: what is
			// measured is the namespace, not the in-memory recorder's
			// entries (which live in the Go heap and have their own bound).
			k, err := kernel.New(kernel.WithQuota(vfs.Quota{MaxBytes: quota}), kernel.WithRecorder(discardSink{}))
			require.NoError(t, err)
			t.Cleanup(func() { _ = k.Close() })
			a, err := k.Spawn(ctx, "hoarder")
			require.NoError(t, err)

			written, refused, checkpoints := 0, 0, 0
			grown := heapGrowth(func() any {
				for i := range tc.files {
					switch err := a.Write(ctx, tc.path(i), nil); {
					case err == nil:
						written++
					case errors.Is(err, agentos.ErrQuota):
						refused++
					default:
						require.NoError(t, err)
					}
				}
				for range 16 {
					if _, err := a.Checkpoint(ctx); err == nil {
						checkpoints++
					} else {
						require.ErrorIs(t, err, agentos.ErrQuota)
						refused++
					}
				}
				return a
			})
			t.Logf("%d empty files written, %d checkpoints, %d refused; heap grew %d bytes under a %d-byte quota",
				written, checkpoints, refused, grown, quota)
			assert.Positive(t, refused, "a quota that counts what things cost refuses some")
			assert.LessOrEqual(t, grown, int64(quota)*5/4, "the namespace holds about its quota, not more")
		})
	}
}

// Threat: many agents, each within its quota, exhaust the host together.
// The kernel's memory budget bounds them all.
func TestManyAgentsStayWithinBudget(t *testing.T) {
	ctx := t.Context()
	const budget = 32 << 20
	k, err := kernel.New(kernel.WithMemoryBudget(budget), kernel.WithQuota(vfs.Quota{MaxBytes: 16 << 20}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = k.Close() })
	chunk := make([]byte, 1<<20)
	stored := 0
	grown := heapGrowth(func() any {
		var agents []*kernel.Agent
		for i := range 8 { // 8 agents × 16 MiB of quota = 128 MiB asked
			a, err := k.Spawn(ctx, agentos.AgentID(fmt.Sprintf("agent-%d", i)))
			require.NoError(t, err)
			agents = append(agents, a)
			for j := range 16 {
				err := a.Write(ctx, fmt.Sprintf("/mem/working/chunk-%d", j), chunk)
				if err != nil {
					require.ErrorIs(t, err, agentos.ErrQuota)
					continue
				}
				stored += len(chunk)
			}
		}
		return agents
	})
	t.Logf("%d bytes stored by 8 agents; heap grew %d bytes under a %d-byte budget", stored, grown, budget)
	assert.LessOrEqual(t, stored, budget)
	assert.LessOrEqual(t, grown, int64(budget)*5/4, "the agents hold about the budget, not more")
}

// discardSink numbers entries and keeps none.
type discardSink struct{ n *atomic.Uint64 }

func (d discardSink) Append(context.Context, recorder.Entry) (uint64, error) {
	if d.n == nil {
		return 1, nil
	}
	return d.n.Add(1), nil
}
