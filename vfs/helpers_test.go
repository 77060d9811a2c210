package vfs_test

import (
	"strings"
	"testing"

	"github.com/agent-os/agentos/vfs"
	"github.com/stretchr/testify/require"
)

// newAgentFS returns a standard namespace with a fake clock and a policy
// mount holding one document.
func newAgentFS(t testing.TB, opts ...vfs.Option) *vfs.FS {
	t.Helper()
	policy, err := vfs.NewStaticMount(map[string][]byte{"base.yaml": []byte("defaultEffect: deny\n")}, epoch)
	require.NoError(t, err)
	f, err := vfs.NewAgentFS(policy, append([]vfs.Option{vfs.WithClock(newClock().Now)}, opts...)...)
	require.NoError(t, err)
	return f
}

// liveCost is what live files of the given mount-relative names cost
// besides their data: the documented charge of FileOverhead, the name, and
// DirOverhead per directory component.
func liveCost(names ...string) int64 {
	var n int64
	for _, name := range names {
		n += int64(len(name)) + vfs.FileOverhead + vfs.DirOverhead*int64(strings.Count(name, "/"))
	}
	return n
}

// heldCost is what a checkpoint's copies of files of the given names cost
// besides their data.
func heldCost(names ...string) int64 {
	var n int64
	for _, name := range names {
		n += int64(len(name)) + vfs.FileOverhead
	}
	return n
}
