package bpf_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

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

// connectBatch is how many sockets BenchmarkConnectSyscall opens, with
// the timer stopped, before it times their connects.
const connectBatch = 128

// BenchmarkConnectSyscall times the connect(2) system call alone, which is
// where the connect4 program runs: unix.Connect on a blocking TCP socket
// opened beforehand (socket, close and Go's dialer are outside the timed
// region), to an allowed loopback listener, from a cgroup without and with
// the egress programs. The handshake with the loopback listener happens
// inside the call, in both cases.
func BenchmarkConnectSyscall(b *testing.B) {
	e := enforcer(b)
	sa := rawListener(b)
	plain := cgroup(b, fmt.Sprintf("bench-sys-plain-%d", b.N))
	enforced := cgroup(b, fmt.Sprintf("bench-sys-enforced-%d", b.N))
	_, err := e.Attach(enforced, []bpf.Rule{loopback(uint16(sa.Port), bpf.TCP)})
	require.NoError(b, err)
	for _, c := range []struct {
		name string
		cg   *bpf.Cgroup
	}{{"unenforced", plain}, {"enforced", enforced}} {
		b.Run(c.name, func(b *testing.B) {
			inCgroup(b, c.cg) // sockets belong to the cgroup they are made in
			var fresh, used []int
			closeAll := func() {
				for _, fd := range append(fresh, used...) {
					_ = unix.Close(fd)
				}
				fresh, used = fresh[:0], used[:0]
			}
			defer closeAll()
			b.ReportAllocs()
			for b.Loop() {
				if len(fresh) == 0 {
					b.StopTimer()
					closeAll()
					for range connectBatch {
						fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
						if err != nil {
							b.Fatal(err)
						}
						fresh = append(fresh, fd)
					}
					b.StartTimer()
				}
				fd := fresh[len(fresh)-1]
				fresh = fresh[:len(fresh)-1]
				used = append(used, fd)
				if err := unix.Connect(fd, sa); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// rawListener listens on a loopback port and accepts and closes each
// connection with bare system calls, so that the benchmark's allocation
// figures are the client's.
func rawListener(b *testing.B) *unix.SockaddrInet4 {
	b.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(b, err)
	require.NoError(b, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(b, unix.Listen(fd, 4096))
	sa, err := unix.Getsockname(fd)
	require.NoError(b, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
			if err == unix.EINTR || err == unix.ECONNABORTED {
				continue
			}
			if err != nil {
				return
			}
			_ = unix.Close(nfd)
		}
	}()
	b.Cleanup(func() {
		_ = unix.Shutdown(fd, unix.SHUT_RDWR) // wakes the blocked accept
		<-done
		_ = unix.Close(fd)
	})
	return sa.(*unix.SockaddrInet4)
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
