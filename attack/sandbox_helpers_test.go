//go:build linux

package attack

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/agent-os/agentos/internal/proc/proctest"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
)

// requireEnv makes tests that need root fail instead of skipping (CI).
const bpfRequiredEnv = "AGENTOS_REQUIRE_BPF"

// needRoot skips a test that needs root and eBPF, or fails it where
// requireEnv says they are there.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv(bpfRequiredEnv) == "1" {
		t.Fatalf("root is required here (%s=1)", bpfRequiredEnv)
	}
	t.Skipf("needs root, cgroup v2 and eBPF (set %s=1 to make this a failure)", bpfRequiredEnv)
}

// sink is a loopback TCP listener that counts what it receives: the
// attacker's destination.
type tcpSink struct {
	ln    net.Listener
	conns atomic.Int64
	bytes atomic.Int64
}

func newTCPSink(t *testing.T) *tcpSink {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	s := &tcpSink{ln: ln}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					s.bytes.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return s
}

func (s *tcpSink) addr() string { return s.ln.Addr().String() }
func (s *tcpSink) port() int    { return s.ln.Addr().(*net.TCPAddr).Port }

// sniffer watches every interface at the link layer for UDP datagrams to
// one port carrying a marker: a packet that left a socket by any road
// (raw, packet, plain) shows here.
type udpSniffer struct {
	port int
	seen atomic.Int64
}

func newUDPSniffer(t *testing.T, port int) *udpSniffer {
	t.Helper()
	all := uint16(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(all<<8|all>>8))
	require.NoError(t, err)
	require.NoError(t, unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 50000}))
	s := &udpSniffer{port: port}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 65536)
		for !stop.Load() {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err == nil && s.match(buf[:n]) {
				s.seen.Add(1)
			}
		}
	})
	t.Cleanup(func() { stop.Store(true); wg.Wait(); _ = unix.Close(fd) })
	return s
}

// match reports whether frame is an Ethernet frame (as on lo) holding an
// IPv4 UDP datagram to the sniffer's port whose payload says exfiltrate.
func (s *udpSniffer) match(frame []byte) bool {
	if len(frame) < 14+20+8 || frame[12] != 0x08 || frame[13] != 0x00 {
		return false
	}
	ip := frame[14:]
	hl := int(ip[0]&0x0f) * 4
	if ip[9] != unix.IPPROTO_UDP || len(ip) < hl+8 {
		return false
	}
	udp := ip[hl:]
	return int(udp[2])<<8|int(udp[3]) == s.port && bytes.Contains(udp[8:], []byte("exfiltrate"))
}

// attacker is the program the attacks run as a command tool (see the
// proctest helper for its modes), built where the tools' user can run it.
func buildAttacker(t *testing.T) string {
	t.Helper()
	p, err := proctest.Build(proctest.SharedDir(t))
	require.NoError(t, err)
	return p
}

// attackTool is the command tool "attack": the buildAttacker program with a
// mode and one argument.
func attackTool(path string) kernel.Option {
	return kernel.WithCommand("attack", kernel.Command{
		Path: path, Args: []string{"{mode}", "{arg}"},
		Params:  []kernel.CommandParam{{Name: "mode", Required: true}, {Name: "arg"}},
		Timeout: 30 * time.Second,
	})
}

// sandboxPolicy lets every agent run the attack tool, and reach only
// allowedPort on loopback over TCP.
func sandboxPolicy(allowedPort int) string {
	return fmt.Sprintf(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: sandbox-attack, version: "1"}
spec:
  rules:
    - name: tools
      effect: allow
      when: action.op == "exec" && action.tool == "attack"
  egress:
    - name: allowed
      role: "*"
      cidrs: [127.0.0.1]
      ports: [%d]
`, allowedPort)
}

var sandboxCgroupSeq atomic.Int64

// enforcingKernel is a kernel as a careful deployment runs it: root,
// egress enforced by eBPF (required), every tool in its agent's cgroup.
func enforcingKernel(t *testing.T, allowedPort int, opts ...kernel.Option) *kerneltest.Kernel {
	t.Helper()
	needRoot(t)
	parent := fmt.Sprintf("agentos-attack-%d-%d", os.Getpid(), sandboxCgroupSeq.Add(1))
	t.Cleanup(func() {
		if mnt := hostCgroup2Mount(); mnt != "" {
			_ = os.Remove(filepath.Join(mnt, parent))
		}
	})
	return kerneltest.New(t, append([]kernel.Option{
		kerneltest.Policy(sandboxPolicy(allowedPort)),
		kernel.WithCgroupParent(parent),
		kernel.WithEgressEnforcement(kernel.EgressRequired),
	}, opts...)...)
}

// cgroup2Mount returns the host's cgroup2 mount point.
func hostCgroup2Mount() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for l := range bytes.Lines(b) {
		f := bytes.Fields(l)
		for i, x := range f {
			if string(x) == "-" && i >= 5 && i+1 < len(f) && string(f[i+1]) == "cgroup2" {
				return string(f[4])
			}
		}
	}
	return ""
}

// processesRunning returns the host pids of live processes executing path.
func processesRunningExe(t *testing.T, path string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || exe != path {
			continue
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i > 0 && i+2 < len(st) && st[i+2] != 'Z' && st[i+2] != 'X' {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
