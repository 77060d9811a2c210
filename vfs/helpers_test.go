package vfs_test

import (
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
