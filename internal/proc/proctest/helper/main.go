// Command helper is the program the tests of proc and bpf run as a tool.
// Its first argument picks what it does:
//
//	echo ARGS...          print each argument on its own line
//	env                   print the environment, one entry a line
//	cat                   copy stdin to stdout
//	spew N                write N bytes ('a' to 'z' repeated) to stdout and stderr
//	exit N                exit with status N
//	sleep D               sleep for duration D
//	spawn D [exit]        start "sleep D" as a child, print its pid, then sleep D (or exit)
//	tcp ADDR              connect to ADDR over TCP; print "ok" or the errno name
//	udp ADDR              send one datagram to ADDR from an unconnected socket; print "ok" or the errno name
//	tcpsend ADDR BYTES    connect to ADDR and write BYTES bytes
//	raw ADDR              send one UDP datagram to ADDR from a raw IPv4 socket (no sendmsg hook sees it); print "ok" or the errno name
//	pid                   print its own pid
//
// Attack modes, for the sandbox tests (each prints what each step did):
//
//	whoami                print the ids, capability sets and no_new_privs of /proc/self/status
//	escape ADDR           write its pid into the cgroup.procs of every cgroup2 root it can see, then send "exfiltrate" to ADDR over TCP
//	daemon ADDR           double-fork a beacon into a new session (setsid), then sleep; the beacon escapes as above and sends "beat" to ADDR every 10ms, forever
//	unshare ADDR          unshare the network namespace (alone, then with a user namespace), then escape
//	packet ADDR           send one UDP datagram to ADDR through an AF_PACKET socket on the loopback interface
//	bpf ADDR              load a cgroup_skb program, attach it to the cgroup2 root, detach the links of its own cgroup, mount a bpffs, then escape
//	ptrace PID            PTRACE_ATTACH to PID; print "attached" or the errno
//	environ PID           print /proc/PID/environ, NULs as newlines
//	unix ADDR             connect to the UNIX socket ADDR ("@name" for an abstract one) and send "exfiltrate"
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: helper MODE ARGS...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "echo":
		for _, a := range args {
			fmt.Println(a)
		}
	case "env":
		for _, e := range os.Environ() {
			fmt.Println(e)
		}
	case "cat":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fail(err.Error())
		}
	case "spew":
		n, _ := strconv.Atoi(arg(args, 0))
		buf := make([]byte, 4096)
		for i := range buf {
			buf[i] = byte('a' + i%26)
		}
		for n > 0 {
			k := min(n, len(buf))
			os.Stdout.Write(buf[:k])
			os.Stderr.Write(buf[:k])
			n -= k
		}
	case "exit":
		n, _ := strconv.Atoi(arg(args, 0))
		os.Exit(n)
	case "sleep":
		time.Sleep(duration(arg(args, 0)))
	case "spawn":
		d := arg(args, 0)
		self, err := os.Executable()
		if err != nil {
			fail(err.Error())
		}
		c := exec.Command(self, "sleep", d)
		if err := c.Start(); err != nil {
			fail(err.Error())
		}
		fmt.Println(c.Process.Pid)
		if len(args) > 1 && args[1] == "exit" {
			os.Exit(0)
		}
		time.Sleep(duration(d))
	case "tcp":
		fmt.Println(result(dialTCP(arg(args, 0))))
	case "udp":
		fmt.Println(result(sendUDP(arg(args, 0))))
	case "tcpsend":
		n, _ := strconv.Atoi(arg(args, 1))
		c, err := net.Dial("tcp", arg(args, 0))
		if err != nil {
			fmt.Println(result(err))
			os.Exit(1)
		}
		buf := make([]byte, 64<<10)
		for n > 0 {
			k, err := c.Write(buf[:min(n, len(buf))])
			if err != nil {
				fmt.Println(result(err))
				os.Exit(1)
			}
			n -= k
		}
		c.Close()
		fmt.Println("ok")
	case "raw":
		fmt.Println(result(sendRaw(arg(args, 0))))
	case "pid":
		fmt.Println(os.Getpid())
	case "whoami":
		whoami()
	case "escape":
		escape(arg(args, 0), "exfiltrate")
	case "daemon":
		self, err := os.Executable()
		if err != nil {
			fail(err.Error())
		}
		c := exec.Command(self, "detach", arg(args, 0))
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Run(); err != nil {
			fail(err.Error())
		}
		fmt.Println("beacon started")
		time.Sleep(time.Hour)
	case "detach":
		self, err := os.Executable()
		if err != nil {
			fail(err.Error())
		}
		c := exec.Command(self, "beacon", arg(args, 0))
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			fail(err.Error())
		}
	case "beacon":
		moveToRoots()
		for {
			if c, err := net.DialTimeout("tcp", arg(args, 0), time.Second); err == nil {
				_, _ = c.Write([]byte("beat"))
				_ = c.Close()
			}
			time.Sleep(10 * time.Millisecond)
		}
	case "unshare":
		runtime.LockOSThread() // the namespace belongs to this thread
		fmt.Println("unshare net:", result(unix.Unshare(unix.CLONE_NEWNET)))
		fmt.Println("unshare user+net:", result(unix.Unshare(unix.CLONE_NEWUSER|unix.CLONE_NEWNET)))
		escape(arg(args, 0), "exfiltrate")
	case "packet":
		fmt.Println("packet:", result(sendPacket(arg(args, 0))))
	case "bpf":
		loadBPF()
		escape(arg(args, 0), "exfiltrate")
	case "ptrace":
		runtime.LockOSThread() // ptrace requests come from the tracing thread
		pid, _ := strconv.Atoi(arg(args, 0))
		if err := unix.PtraceAttach(pid); err != nil {
			fmt.Println("ptrace:", result(err))
			break
		}
		fmt.Println("attached")
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WALL, nil)
		_ = unix.PtraceDetach(pid)
	case "unix":
		c, err := net.Dial("unix", arg(args, 0))
		if err == nil {
			_, err = c.Write([]byte("exfiltrate"))
			_ = c.Close()
		}
		fmt.Println("unix:", result(err))
	case "environ":
		b, err := os.ReadFile("/proc/" + arg(args, 0) + "/environ")
		if err != nil {
			fmt.Println("environ:", result(err))
			break
		}
		fmt.Println(strings.ReplaceAll(string(b), "\x00", "\n"))
	default:
		fail("unknown mode " + os.Args[1])
	}
}

func dialTCP(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// sendUDP sends from an unconnected socket, so that the kernel checks the
// destination of the send itself (sendto), not that of a connect.
func sendUDP(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	network := "udp4"
	if ap.Addr().Is6() {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.WriteToUDPAddrPort([]byte("exfiltrate"), ap)
	return err
}

// sendRaw sends a UDP datagram through a raw socket: the kernel adds the IP
// header, and only the packet-level (skb) program can stop it.
func sendRaw(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	if !ap.Addr().Is4() {
		return errors.New("raw: IPv4 only")
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_UDP)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	payload := []byte("exfiltrate")
	udp := make([]byte, 8+len(payload))
	udp[0], udp[1] = 0xbe, 0xef // source port 48879
	udp[2], udp[3] = byte(ap.Port()>>8), byte(ap.Port())
	udp[4], udp[5] = byte(len(udp)>>8), byte(len(udp))
	copy(udp[8:], payload) // checksum 0: none (IPv4)
	return syscall.Sendto(fd, udp, 0, &syscall.SockaddrInet4{Addr: ap.Addr().As4()})
}

func result(err error) string {
	if err == nil {
		return "ok"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EPERM:
			return "EPERM"
		case syscall.ECONNREFUSED:
			return "ECONNREFUSED"
		}
		if n := unix.ErrnoName(errno); n != "" {
			return n
		}
		return "errno " + strconv.Itoa(int(errno))
	}
	return err.Error()
}

func arg(args []string, i int) string {
	if i >= len(args) {
		fail("missing argument")
	}
	return args[i]
}

func duration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		fail(err.Error())
	}
	return d
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "helper:", msg)
	os.Exit(2)
}

func whoami() {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fail(err.Error())
	}
	for l := range strings.Lines(string(b)) {
		for _, k := range []string{"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "NSpid:"} {
			if strings.HasPrefix(l, k) {
				fmt.Print(l)
			}
		}
	}
}

// cgroup2Roots lists the cgroup2 mount points in /proc/self/mountinfo, and
// the usual places of one.
func cgroup2Roots() []string {
	roots := []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for l := range strings.Lines(string(b)) {
			f := strings.Fields(l)
			for i, x := range f {
				if x == "-" && i >= 5 && i+1 < len(f) && f[i+1] == "cgroup2" {
					roots = append(roots, f[4])
				}
			}
		}
	}
	return roots
}

// moveToRoots writes the process's pid into the cgroup.procs of each
// cgroup2 root: out of its cgroup, and out of reach of what is attached
// there.
func moveToRoots() {
	for _, r := range cgroup2Roots() {
		err := os.WriteFile(filepath.Join(r, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
		fmt.Println("move to", r+":", result(err))
	}
}

func escape(addr, msg string) {
	moveToRoots()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		_, err = c.Write([]byte(msg))
		_ = c.Close()
	}
	fmt.Println("send:", result(err))
}

// sendPacket sends an IPv4 UDP datagram to addr as a link-layer frame on
// the loopback interface: below IP, where no socket hook sees it.
func sendPacket(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return errors.New("packet: IPv4 address:port needed")
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return err
	}
	proto := uint16(unix.ETH_P_IP)
	be := proto<<8 | proto>>8
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(be))
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	payload := []byte("exfiltrate")
	pkt := make([]byte, 20+8+len(payload))
	ip := pkt[:20]
	ip[0], ip[8], ip[9] = 0x45, 64, unix.IPPROTO_UDP
	ip[2], ip[3] = byte(len(pkt)>>8), byte(len(pkt))
	dst := ap.Addr().As4()
	copy(ip[12:16], []byte{127, 0, 0, 1})
	copy(ip[16:20], dst[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(ip[i])<<8 | uint32(ip[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	ip[10], ip[11] = byte(^sum>>8), byte(^sum)
	udp := pkt[20:]
	udp[0], udp[1] = 0xbe, 0xef
	udp[2], udp[3] = byte(ap.Port()>>8), byte(ap.Port())
	udp[4], udp[5] = byte(len(udp)>>8), byte(len(udp))
	copy(udp[8:], payload)
	// To lo's all-zero hardware address.
	return unix.Sendto(fd, pkt, 0, &unix.SockaddrLinklayer{Ifindex: lo.Index, Protocol: be, Halen: 6})
}

// loadBPF tries what a tool with CAP_BPF or CAP_SYS_ADMIN could do against
// the egress programs.
func loadBPF() {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.CGroupSKB, AttachType: ebpf.AttachCGroupInetEgress, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Return()},
	})
	fmt.Println("bpf load:", result(err))
	if err == nil {
		for _, r := range cgroup2Roots() {
			l, err := link.AttachCgroup(link.CgroupOptions{Path: r, Attach: ebpf.AttachCGroupInetEgress, Program: prog})
			fmt.Println("bpf attach", r+":", result(err))
			if err == nil {
				defer l.Close()
			}
		}
		defer prog.Close()
	}
	// Detach the links attached to its own cgroup.
	var own uint64
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for l := range strings.Lines(string(b)) {
			if p, ok := strings.CutPrefix(strings.TrimSpace(l), "0::"); ok {
				for _, r := range cgroup2Roots() {
					var st unix.Stat_t
					if unix.Stat(filepath.Join(r, p), &st) == nil {
						own = st.Ino
					}
				}
			}
		}
	}
	it := new(link.Iterator)
	for it.Next() {
		info, err := it.Link.Info()
		if err != nil {
			continue
		}
		if cg := info.Cgroup(); cg != nil && cg.CgroupId == own {
			fmt.Println("bpf detach link", it.ID, result(it.Link.Detach()))
		}
	}
	fmt.Println("bpf links:", result(it.Err()))
	dir, err := os.MkdirTemp("", "bpffs")
	if err == nil {
		err = unix.Mount("bpf", dir, "bpf", 0, "")
		if err == nil {
			_ = unix.Unmount(dir, 0)
		}
		_ = os.Remove(dir)
	}
	fmt.Println("mount bpffs:", result(err))
}
