package proc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The marker of the sandbox init: argv[0] and an environment entry, both
// set by Run and neither passed on to the program.
const (
	initArg0 = "agentos-sandbox-init"
	initEnv  = "AGENTOS_SANDBOX_INIT"
	// statusFD is the descriptor on which the init reports a failed setup;
	// it is close-on-exec, so the parent reads EOF once the program runs.
	statusFD = 3
)

// SandboxSupported returns nil where Run can apply a [Sandbox]: on Linux.
func SandboxSupported() error { return nil }

// init turns this process into the sandbox init when it was started as
// one. It runs before main (and before a test binary's TestMain), in every
// binary that links this package, and returns at once otherwise.
func init() {
	if len(os.Args) < 3 || os.Args[0] != initArg0 {
		return
	}
	cfg, ok := os.LookupEnv(initEnv)
	if !ok {
		return
	}
	// Namespaces, credentials, the bounding set and no_new_privs set here
	// belong to this thread; execve keeps this thread's.
	runtime.LockOSThread()
	_, _ = unix.FcntlInt(statusFD, unix.F_SETFD, unix.FD_CLOEXEC)
	err := sandboxInit(cfg, os.Args[1], os.Args[2:])
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		errno = syscall.EPERM
	}
	msg := fmt.Sprintf("%d %v", int(errno), err)
	_, _ = unix.Write(statusFD, []byte(msg))
	os.Exit(126)
}

// sandboxInit sets the sandbox up and executes path; it returns only on
// failure.
func sandboxInit(cfg, path string, argv []string) error {
	var uid, gid uint32
	var root bool
	if _, err := fmt.Sscanf(cfg, "%d:%d:%t", &uid, &gid, &root); err != nil {
		return fmt.Errorf("sandbox: bad configuration %q: %w", cfg, syscall.EINVAL)
	}
	env := make([]string, 0, len(os.Environ()))
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, initEnv+"=") {
			env = append(env, e)
		}
	}
	if root {
		if uid == 0 || gid == 0 {
			return fmt.Errorf("sandbox: refusing to run as uid %d gid %d: %w", uid, gid, syscall.EPERM)
		}
		if err := isolate(); err != nil {
			return err
		}
		if err := dropPrivileges(uid, gid); err != nil {
			return err
		}
	} else if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("sandbox: clearing ambient capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("sandbox: no_new_privs: %w", err)
	}
	if err := scope(); err != nil {
		return err
	}
	err := unix.Exec(path, argv, env)
	return fmt.Errorf("sandbox: exec %s: %w", path, err)
}

// isolate runs in the new mount and pid namespaces the init was cloned
// into, already inside the program's cgroup.
func isolate() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("sandbox: making mounts private: %w", err)
	}
	// Rooted at the cgroup this process was started in.
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("sandbox: cgroup namespace: %w", err)
	}
	mounts, err := readMounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		switch m.fstype {
		case "cgroup2":
			// A fresh mount in the new cgroup namespace shows only the
			// program's own cgroup and below, read-only.
			if err := unix.Unmount(m.point, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("sandbox: unmounting %s: %w", m.point, err)
			}
			if err := unix.Mount("cgroup2", m.point, "cgroup2", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
				return fmt.Errorf("sandbox: mounting cgroup2 read-only at %s: %w", m.point, err)
			}
		case "cgroup", "bpf":
			flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
			if err := unix.Mount("", m.point, "", flags, ""); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("sandbox: remounting %s read-only: %w", m.point, err)
			}
		}
	}
	// The namespace's own processes only: the kernel's process, its
	// environment and its memory are not even visible.
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("sandbox: mounting /proc: %w", err)
	}
	return nil
}

type mount struct{ point, fstype string }

// readMounts lists the mount points and file system types of
// /proc/self/mountinfo, in its order (parents before children).
func readMounts() ([]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer f.Close()
	var out []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, fl := range fields {
			if fl == "-" && i >= 5 && i+1 < len(fields) {
				out = append(out, mount{point: unescapeOctal(fields[4]), fstype: fields[i+1]})
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sandbox: reading mountinfo: %w", err)
	}
	return out, nil
}

// unescapeOctal undoes mountinfo's \ooo escapes.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// dropPrivileges empties the bounding and ambient capability sets, then
// becomes uid/gid with no supplementary group and clears the permitted,
// effective and inheritable sets. Each call acts on this thread only (raw
// system calls, not the all-threads wrappers): this thread executes the
// program, and execve ends every other.
func dropPrivileges(uid, gid uint32) error {
	last := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("sandbox: dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("sandbox: clearing ambient capabilities: %w", err)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
		return fmt.Errorf("sandbox: setgroups: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
		return fmt.Errorf("sandbox: setresgid %d: %w", gid, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return fmt.Errorf("sandbox: setresuid %d: %w", uid, e)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("sandbox: clearing capabilities: %w", err)
	}
	return nil
}

// landlockScopeABI is the first Landlock ABI with scopes (Linux 6.12).
const landlockScopeABI = 6

// scope puts the program in a Landlock domain of its own that scopes
// abstract UNIX sockets and signals (Linux 6.12): it can neither connect
// to an abstract socket that a process outside the domain listens on (a
// local proxy would carry data past the eBPF egress rules, which see only
// IP) nor signal a process outside it. Where the kernel has no Landlock
// scopes it does nothing. It needs no_new_privs set, and acts on this
// thread, which executes the program.
func scope() error {
	abi, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 || abi < landlockScopeABI {
		return nil
	}
	// The ABI 6 layout of struct landlock_ruleset_attr.
	attr := struct{ fs, net, scoped uint64 }{scoped: unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | unix.LANDLOCK_SCOPE_SIGNAL}
	fd, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		return fmt.Errorf("sandbox: landlock ruleset: %w", e)
	}
	defer unix.Close(int(fd))
	if _, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		return fmt.Errorf("sandbox: landlock: %w", e)
	}
	return nil
}

// sandboxCmd makes cmd start the init, which sets sb up and executes path
// with argv. It returns the status pipe: the caller closes w once the
// process started and reads r with [startStatus].
func sandboxCmd(cmd *exec.Cmd, sb *Sandbox, path string, argv []string) (r, w *os.File, err error) {
	root := os.Geteuid() == 0
	uid, gid := sb.ids()
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("proc: %w", err)
	}
	cmd.Path = "/proc/self/exe"
	cmd.Args = append([]string{initArg0, path}, argv...)
	cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d:%d:%t", initEnv, uid, gid, root))
	cmd.ExtraFiles = []*os.File{w}
	if root {
		cmd.SysProcAttr.Cloneflags |= unix.CLONE_NEWNS | unix.CLONE_NEWPID
	}
	return r, w, nil
}

// startStatus reads the init's report: EOF alone means the program runs.
func startStatus(r io.Reader, path string) error {
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return fmt.Errorf("proc: reading the sandbox status: %w", err)
	}
	if len(b) == 0 {
		return nil
	}
	num, msg, _ := strings.Cut(string(b), " ")
	n, _ := strconv.Atoi(num)
	if n <= 0 {
		n = int(syscall.EPERM)
	}
	return &os.PathError{Op: "sandbox", Path: path, Err: &sandboxError{errno: syscall.Errno(n), msg: msg}}
}

// sandboxError is a failed step of the init: its message, and the errno
// that errors.Is matches (ENOENT reads as fs.ErrNotExist).
type sandboxError struct {
	errno syscall.Errno
	msg   string
}

func (e *sandboxError) Error() string { return e.msg }
func (e *sandboxError) Unwrap() error { return e.errno }
