package bpf_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/agent-os/agentos/bpf"
	"github.com/agent-os/agentos/internal/proc"
	"github.com/agent-os/agentos/internal/proc/proctest"
)

// requireEnv, when set to 1, turns the skip of a privileged test into a
// failure: CI sets it, so enforcement is proven on every run.
const requireEnv = "AGENTOS_REQUIRE_BPF"

var (
	helperDir  string
	helperPath string
	helperErr  error
	helperOnce sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if helperDir != "" {
		os.RemoveAll(helperDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// skipOrFail skips a privileged test, or fails it under AGENTOS_REQUIRE_BPF=1.
func skipOrFail(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv(requireEnv) == "1" {
		tb.Fatalf("eBPF enforcement is required here (%s=1) but unavailable: %v", requireEnv, err)
	}
	tb.Skipf("eBPF enforcement unavailable (set %s=1 to make this a failure): %v", requireEnv, err)
}

// enforcer returns a new Enforcer, closed at the end of the test.
func enforcer(tb testing.TB) *bpf.Enforcer {
	tb.Helper()
	e, err := bpf.New(nil)
	if errors.Is(err, errors.ErrUnsupported) {
		skipOrFail(tb, err)
	}
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, e.Close()) })
	return e
}

// testParent is the cgroup parent of this test process's cgroups.
var testParent = fmt.Sprintf("agentos-test-%d", os.Getpid())

// cgroup creates a cgroup for the test, removed at its end.
func cgroup(tb testing.TB, name string) *bpf.Cgroup {
	tb.Helper()
	cg, err := bpf.NewCgroup(testParent, name)
	if errors.Is(err, errors.ErrUnsupported) || errors.Is(err, os.ErrPermission) {
		skipOrFail(tb, err)
	}
	require.NoError(tb, err)
	tb.Cleanup(func() {
		require.NoError(tb, cg.Close())
		if mnt, err := bpf.CgroupMount(); err == nil {
			_ = os.Remove(mnt + "/" + testParent) // the last one out removes it
		}
	})
	return cg
}

func helper(tb testing.TB) string {
	tb.Helper()
	helperOnce.Do(func() {
		helperDir, helperErr = os.MkdirTemp("", "bpf-test-")
		if helperErr == nil {
			helperPath, helperErr = proctest.Build(helperDir)
		}
	})
	require.NoError(tb, helperErr)
	return helperPath
}

// run runs the helper with args, in cg when cg is not nil, and returns its
// first line of output and its pid.
func run(tb testing.TB, cg *bpf.Cgroup, args ...string) (string, int) {
	tb.Helper()
	tmpl := make([]string, len(args))
	params := make([]proc.Param, len(args))
	vals := map[string]any{}
	for i, a := range args {
		name := fmt.Sprintf("a%d", i)
		tmpl[i] = "{" + name + "}"
		params[i] = proc.Param{Name: name}
		vals[name] = a
	}
	spec, err := proc.Compile(proc.Command{Path: helper(tb), Args: tmpl, Params: params, Timeout: 30 * time.Second})
	require.NoError(tb, err)
	opts := &proc.RunOptions{Environ: []string{}}
	if cg != nil {
		opts.Cgroup = cg
	}
	res, err := spec.Run(context.Background(), vals, opts)
	if res != nil && err != nil {
		tb.Logf("helper stderr: %s", res.Stderr.Data)
	}
	require.NoError(tb, err, "helper %v", args)
	return strings.TrimSpace(string(res.Stdout.Data)), res.Pid
}

// listener is a TCP listener on loopback that accepts and drains
// connections until the test ends.
func listener(tb testing.TB, network, addr string) net.Listener {
	tb.Helper()
	ln, err := net.Listen(network, addr)
	require.NoError(tb, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			})
		}
	})
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln
}

// nextEvent returns the next denial of cgroup id, failing after a while.
func nextEvent(tb testing.TB, e *bpf.Enforcer, id uint64) bpf.Event {
	tb.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-e.Events():
			require.True(tb, ok, "events channel closed")
			if ev.CgroupID == id {
				return ev
			}
		case <-timeout:
			tb.Fatalf("no denial event for cgroup %d", id)
		}
	}
}
