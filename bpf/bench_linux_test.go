package bpf_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/agent-os/agentos/bpf"
)

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
