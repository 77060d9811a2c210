package bpf_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/bpf"
)

// inCgroup moves this process into cg for the rest of the benchmark, and
// back to its own cgroup at the end. Sockets opened meanwhile belong to
// cg; the listeners, opened before, do not.
func inCgroup(b *testing.B, cg *bpf.Cgroup) {
	b.Helper()
	raw, err := os.ReadFile("/proc/self/cgroup")
	require.NoError(b, err)
	var home string
	for l := range strings.SplitSeq(string(raw), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			home = p
		}
	}
	mnt, err := bpf.CgroupMount()
	require.NoError(b, err)
	orig, err := bpf.OpenCgroup(filepath.Join(mnt, home))
	require.NoError(b, err)
	require.NoError(b, cg.AddProcess(os.Getpid()))
	b.Cleanup(func() {
		require.NoError(b, orig.AddProcess(os.Getpid()))
		require.NoError(b, orig.Close()) // opened, not owned: only closes it
	})
}

// setup returns a loopback listener and two cgroups, one with the egress
// programs attached (allowing the listener) and one without.
func setup(b *testing.B) (net.Listener, *bpf.Cgroup, *bpf.Cgroup) {
	e := enforcer(b)
	ln := listener(b, "tcp4", "127.0.0.1:0")
	plain := cgroup(b, fmt.Sprintf("bench-plain-%d", b.N))
	enforced := cgroup(b, fmt.Sprintf("bench-enforced-%d", b.N))
	_, err := e.Attach(enforced, []bpf.Rule{loopback(port(b, ln.Addr()), bpf.TCP)})
	require.NoError(b, err)
	return ln, plain, enforced
}

// BenchmarkConnect is net.Dial+close to a loopback listener from a
// process in a cgroup without (unenforced) and with (enforced) the egress
// programs: what a Go program pays end to end, the dialer's allocations
// and goroutine handoffs included. [BenchmarkConnectSyscall] isolates the
// system call the program runs in.
func BenchmarkConnect(b *testing.B) {
	ln, plain, enforced := setup(b)
	for _, c := range []struct {
		name string
		cg   *bpf.Cgroup
	}{{"unenforced", plain}, {"enforced", enforced}} {
		b.Run(c.name, func(b *testing.B) {
			inCgroup(b, c.cg)
			b.ReportAllocs()
			for b.Loop() {
				conn, err := net.Dial("tcp4", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				conn.Close()
			}
		})
	}
}

// BenchmarkThroughput is loopback TCP throughput (64 KiB writes) from a
// process in a cgroup without and with the egress programs (the skb
// program sees every packet). Target: enforced ≥ 0.9× unenforced.
func BenchmarkThroughput(b *testing.B) {
	ln, plain, enforced := setup(b)
	buf := make([]byte, 64<<10)
	for _, c := range []struct {
		name string
		cg   *bpf.Cgroup
	}{{"unenforced", plain}, {"enforced", enforced}} {
		b.Run(c.name, func(b *testing.B) {
			inCgroup(b, c.cg)
			conn, err := net.Dial("tcp4", ln.Addr().String())
			require.NoError(b, err)
			defer conn.Close()
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := conn.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
