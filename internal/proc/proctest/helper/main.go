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
// Attack modes, for the sandbox tests (Linux only; each prints what each step did):
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
	"strconv"
	"syscall"
	"time"

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
	default:
		if !attack(os.Args[1], args) {
			fail("unknown mode " + os.Args[1])
		}
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
