//go:build linux

package proc_test

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/agent-os/agentos/internal/proc"
)

// requireRoot skips a test that needs root, or fails it where the
// environment says root is there (AGENTOS_REQUIRE_BPF=1, as in CI).
func requireRoot(t *testing.T) {
	t.Helper()
	if isRoot() {
		return
	}
	if os.Getenv("AGENTOS_REQUIRE_BPF") == "1" {
		t.Fatal("root is required here (AGENTOS_REQUIRE_BPF=1)")
	}
	t.Skip("needs root")
}

func isRoot() bool { return os.Geteuid() == 0 }

// status parses the lines of helper whoami into name → fields.
func status(t *testing.T, res *proc.Result) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	for _, l := range lines(res.Stdout) {
		k, v, ok := strings.Cut(l, ":")
		require.True(t, ok, l)
		m[k] = strings.Fields(v)
	}
	return m
}

func TestSandboxIdentity(t *testing.T) {
	requireRoot(t)
	s := compile(t, proc.Command{Args: []string{"whoami"}})
	for _, tc := range []struct {
		name     string
		sb       proc.Sandbox
		uid, gid string
	}{
		{"default nobody", proc.Sandbox{}, "65534", "65534"},
		{"configured", proc.Sandbox{UID: 1234, GID: 4321}, "1234", "4321"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Run(context.Background(), nil, &proc.RunOptions{Sandbox: &tc.sb})
			require.NoError(t, err)
			st := status(t, res)
			assert.Equal(t, []string{tc.uid, tc.uid, tc.uid, tc.uid}, st["Uid"], "real, effective, saved and fs uid")
			assert.Equal(t, []string{tc.gid, tc.gid, tc.gid, tc.gid}, st["Gid"])
			assert.Empty(t, st["Groups"], "no supplementary group")
			for _, set := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
				assert.Equal(t, []string{"0000000000000000"}, st[set], "%s is empty", set)
			}
			assert.Equal(t, []string{"1"}, st["NoNewPrivs"])
			// Its /proc is its namespace's: it sees itself as pid 1.
			assert.Equal(t, []string{"1"}, st["NSpid"], "the program is the init of a pid namespace of its own")
			assert.NotEqual(t, 1, res.Pid, "Result.Pid is the host's pid")
		})
	}
}

func TestSandboxStartError(t *testing.T) {
	requireRoot(t)
	s := compile(t, proc.Command{Path: "/nonexistent/tool"})
	res, err := s.Run(context.Background(), nil, &proc.RunOptions{Sandbox: &proc.Sandbox{}})
	require.Error(t, err)
	assert.Nil(t, res, "nothing ran")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// The program double-forks a beacon into a session of its own; once the
// run is cancelled, nothing it started sends another byte.
func TestSandboxKillReachesEveryProcess(t *testing.T) {
	requireRoot(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var beats atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			beats.Add(1)
			cancel() // the beacon runs: end the run
			_ = c.Close()
		}
	})
	defer func() { _ = ln.Close(); wg.Wait() }()

	s := compile(t, proc.Command{Args: []string{"daemon", ln.Addr().String()}, Timeout: 30 * time.Second})
	res, err := s.Run(ctx, nil, &proc.RunOptions{Sandbox: &proc.Sandbox{}})
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, res)
	require.Positive(t, beats.Load(), "the beacon ran")
	// Connections the beacon made before it died may still wait in the
	// listener's backlog: let them be accepted, then count. A beacon that
	// survived beats every 10ms in the second window.
	time.Sleep(200 * time.Millisecond)
	after := beats.Load()
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, after, beats.Load(), "a byte arrived after Run returned: the beacon survived")
}

// A host process listening on an abstract UNIX socket (a proxy, say) is
// out of the sandboxed program's reach: its data would pass no IP hook.
func TestSandboxAbstractUnixSocket(t *testing.T) {
	requireRoot(t)
	if abi, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION); e != 0 || abi < 6 {
		if os.Getenv("AGENTOS_REQUIRE_BPF") == "1" {
			t.Fatalf("Landlock scopes (ABI 6, Linux 6.12) are required here: ABI %d, %v", abi, e)
		}
		t.Skipf("needs Landlock scopes (ABI 6, Linux 6.12): ABI %d, %v", abi, e)
	}
	name := "@agentos-proc-test-" + strconv.Itoa(os.Getpid())
	ln, err := net.Listen("unix", name)
	require.NoError(t, err)
	var got atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n, _ := io.Copy(io.Discard, c)
			got.Add(n + 1)
			_ = c.Close()
		}
	})
	defer func() { _ = ln.Close(); wg.Wait() }()

	s := compile(t, proc.Command{Args: []string{"unix", name}})
	res, err := s.Run(context.Background(), nil, nil)
	require.NoError(t, err)
	require.Equal(t, "unix: ok\n", string(res.Stdout.Data), "unsandboxed, the socket is reachable")
	require.Eventually(t, func() bool { return got.Load() > 0 }, 5*time.Second, time.Millisecond)

	got.Store(0)
	res, err = s.Run(context.Background(), nil, &proc.RunOptions{Sandbox: &proc.Sandbox{}})
	require.NoError(t, err)
	assert.Equal(t, "unix: EPERM\n", string(res.Stdout.Data))
	time.Sleep(100 * time.Millisecond)
	assert.Zero(t, got.Load(), "the sandboxed program reached the socket")
}
