//go:build linux

package bpf_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/bpf"
	"github.com/agent-os/agentos/internal/proc"
)

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// cgroupOf returns the cgroup v2 path of pid, relative to the mount.
func cgroupOf(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	require.NoError(t, err)
	for l := range strings.SplitSeq(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	t.Fatalf("pid %d has no cgroup v2 entry", pid)
	return ""
}

// startInCgroup runs "helper spawn 1h" in cg in the background; it returns
// the helper's pid, its child's pid, and a channel with the run's result.
func startInCgroup(t *testing.T, cg *bpf.Cgroup) (int, int, <-chan *proc.Result) {
	t.Helper()
	spec, err := proc.Compile(proc.Command{Path: helper(t), Args: []string{"spawn", "1h"}, Timeout: time.Minute})
	require.NoError(t, err)
	done := make(chan *proc.Result, 1)
	go func() {
		res, _ := spec.Run(context.Background(), nil, &proc.RunOptions{Cgroup: cg, Environ: []string{}})
		done <- res
	}()
	var pids []int
	require.Eventually(t, func() bool {
		// Go's os/exec probes clone(CLONE_PIDFD) once with a child that
		// exits at once: count only live processes, not that zombie.
		all, _ := cg.Processes()
		pids = slices.DeleteFunc(all, func(pid int) bool { return !alive(pid) })
		return len(pids) == 2
	}, 10*time.Second, 5*time.Millisecond, "helper and child in the cgroup")
	// The helper is the lower pid's parent; tell them apart by ppid.
	leader := pids[0]
	if ppid(t, pids[0]) == pids[1] {
		leader = pids[1]
	}
	child := pids[0] + pids[1] - leader
	return leader, child, done
}

func ppid(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	p, err := strconv.Atoi(f[1])
	require.NoError(t, err)
	return p
}

func TestCgroupLifecycle(t *testing.T) {
	cg := cgroup(t, "life")
	mnt, err := bpf.CgroupMount()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(mnt, testParent, "life"), cg.Path())
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(cg.Path(), &st))
	assert.Equal(t, st.Ino, cg.ID(), "the cgroup id is the directory's inode")
	assert.GreaterOrEqual(t, cg.FD(), 0)

	leader, child, done := startInCgroup(t, cg)
	rel := "/" + testParent + "/life"
	assert.Equal(t, rel, cgroupOf(t, leader), "started directly inside the cgroup")
	assert.Equal(t, rel, cgroupOf(t, child), "and so is what it starts")
	pop, err := cg.Populated()
	require.NoError(t, err)
	assert.True(t, pop)

	ctx := context.Background()
	require.NoError(t, cg.Freeze(ctx))
	frozen, err := cg.Frozen()
	require.NoError(t, err)
	assert.True(t, frozen)
	require.NoError(t, cg.Thaw(ctx))
	frozen, err = cg.Frozen()
	require.NoError(t, err)
	assert.False(t, frozen)

	require.NoError(t, cg.Kill())
	select {
	case res := <-done:
		require.NotNil(t, res)
		assert.Equal(t, syscall.SIGKILL, res.Signal)
	case <-time.After(10 * time.Second):
		t.Fatal("the tool survived cgroup.kill")
	}
	assert.Eventually(t, func() bool { return !alive(child) }, 5*time.Second, 5*time.Millisecond, "the tool's child survived cgroup.kill")

	require.NoError(t, cg.Remove(ctx))
	require.NoError(t, cg.Remove(ctx), "idempotent")
	_, err = os.Stat(cg.Path())
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Equal(t, -1, cg.FD())
	assert.ErrorIs(t, cg.Kill(), agentos.ErrClosed)
}

func TestFreezeStopsTheTool(t *testing.T) {
	cg := cgroup(t, "freeze")
	ctx := context.Background()
	spec, err := proc.Compile(proc.Command{Path: helper(t), Args: []string{"sleep", "50ms"}, Timeout: time.Minute})
	require.NoError(t, err)
	done := make(chan time.Duration, 1)
	require.NoError(t, cg.Freeze(ctx))
	go func() {
		res, err := spec.Run(ctx, nil, &proc.RunOptions{Cgroup: cg, Environ: []string{}})
		if err != nil {
			done <- -1
			return
		}
		done <- res.Duration
	}()
	select {
	case <-done:
		t.Fatal("a tool started in a frozen cgroup ran")
	case <-time.After(500 * time.Millisecond):
	}
	require.NoError(t, cg.Thaw(ctx))
	select {
	case d := <-done:
		assert.Greater(t, d, 500*time.Millisecond)
	case <-time.After(10 * time.Second):
		t.Fatal("the tool did not resume after Thaw")
	}
}

func TestRemoveKillsAndRemovesDescendants(t *testing.T) {
	cg := cgroup(t, "tree")
	sub := filepath.Join(cg.Path(), "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	_, child, done := startInCgroup(t, cg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, cg.Remove(ctx))
	<-done
	assert.False(t, alive(child))
	_, err := os.Stat(cg.Path())
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestNewCgroupErrors(t *testing.T) {
	if _, err := bpf.CgroupMount(); err != nil {
		skipOrFail(t, err)
	}
	for _, name := range []string{"", "..", "a/b", "cgroup.procs", ".hidden", strings.Repeat("a", 129)} {
		_, err := bpf.NewCgroup(testParent, name)
		assert.ErrorIs(t, err, agentos.ErrInvalid, "name %q", name)
	}
	_, err := bpf.NewCgroup("/tmp", "x")
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = bpf.NewCgroup("../..", "x")
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	cg := cgroup(t, "dup")
	_, err = bpf.NewCgroup(testParent, "dup")
	assert.ErrorIs(t, err, os.ErrExist)
	_ = cg
	_, err = bpf.OpenCgroup(os.TempDir())
	assert.Error(t, err)
}

func TestOpenCgroupIsNotOwned(t *testing.T) {
	cg := cgroup(t, "open")
	o, err := bpf.OpenCgroup(cg.Path())
	require.NoError(t, err)
	assert.Equal(t, cg.ID(), o.ID())
	require.NoError(t, o.Close())
	_, err = os.Stat(cg.Path())
	assert.NoError(t, err, "closing an opened cgroup leaves it in place")
	assert.Equal(t, -1, o.FD())
}
