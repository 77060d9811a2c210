package vfstest_test

import (
	"testing"
	"time"

	"github.com/agent-os/agentos/vfs"
	"github.com/agent-os/agentos/vfs/vfstest"
	"github.com/stretchr/testify/require"
)

func TestMountOnMemMount(t *testing.T) {
	vfstest.TestMount(t, func(t *testing.T, files map[string][]byte) vfs.Mount {
		m := vfs.NewMemMount(nil)
		for name, data := range files {
			require.NoError(t, m.WriteFile(t.Context(), name, data))
		}
		return m
	})
}

func TestMountOnStaticMount(t *testing.T) {
	vfstest.TestMount(t, func(t *testing.T, files map[string][]byte) vfs.Mount {
		m, err := vfs.NewStaticMount(files, time.Unix(0, 0))
		require.NoError(t, err)
		return m
	})
}

func TestFixtureIsFresh(t *testing.T) {
	a := vfstest.Fixture()
	a["a.txt"][0] = 'X'
	require.Equal(t, "alpha apple", string(vfstest.Fixture()["a.txt"]))
}
