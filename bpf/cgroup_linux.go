package bpf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agent-os/agentos"
)

// CgroupMount returns the mount point of the cgroup v2 hierarchy, read from
// /proc/self/mountinfo (/sys/fs/cgroup on most systems,
// /sys/fs/cgroup/unified in hybrid mode). Without one the error wraps
// errors.ErrUnsupported.
func CgroupMount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", unsupported("cgroup v2 (cannot read the mount table)", err)
	}
	defer f.Close()
	mnt, ok := parseMountinfo(f)
	if !ok {
		return "", unsupported("cgroup v2 (no cgroup2 file system is mounted)", nil)
	}
	return mnt, nil
}

// NewCgroup creates the cgroup name under parent and opens it. parent is
// a directory of the cgroup v2 hierarchy: absolute (inside the mount), or
// relative to the mount point; "" is the mount point itself. Missing
// parents are created. Creating needs write access to the parent (root,
// or a delegated subtree). A cgroup of that name that already exists is
// an error wrapping fs.ErrExist: an agent's cgroup is always new.
func NewCgroup(parent, name string) (*Cgroup, error) {
	if err := checkCgroupName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", agentos.ErrInvalid, err)
	}
	dir, err := cgroupDir(parent)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bpf: creating cgroup parent: %w", err)
	}
	path := filepath.Join(dir, name)
	if err := os.Mkdir(path, 0o755); err != nil {
		return nil, fmt.Errorf("bpf: creating cgroup: %w", err)
	}
	c, err := OpenCgroup(path)
	if err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	c.owned = true
	return c, nil
}

func cgroupDir(parent string) (string, error) {
	mnt, err := CgroupMount()
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(parent) {
		parent = filepath.Join(mnt, parent)
	}
	parent = filepath.Clean(parent)
	if rel, err := filepath.Rel(mnt, parent); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%w: bpf: cgroup parent %s is not inside the cgroup2 mount %s", agentos.ErrInvalid, parent, mnt)
	}
	return parent, nil
}

// OpenCgroup opens an existing cgroup v2 directory. The Cgroup is not
// owned: Close only closes its descriptor (Remove still removes it).
func OpenCgroup(path string) (*Cgroup, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return nil, fmt.Errorf("bpf: opening cgroup: %w", err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("%w: bpf: %s is not in a cgroup2 file system", agentos.ErrInvalid, path)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("bpf: opening cgroup: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	var s unix.Stat_t
	if err := unix.Fstat(fd, &s); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("bpf: opening cgroup: %w", err)
	}
	return &Cgroup{path: path, id: s.Ino, fd: fd}, nil
}

func (c *Cgroup) file(name string) string { return filepath.Join(c.path, name) }

func (c *Cgroup) check() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("bpf: cgroup %s: %w", c.path, agentos.ErrClosed)
	}
	return nil
}

// AddProcess moves process pid (all its threads) into the cgroup.
func (c *Cgroup) AddProcess(pid int) error {
	if err := c.check(); err != nil {
		return err
	}
	if err := os.WriteFile(c.file("cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return fmt.Errorf("bpf: moving %d into cgroup: %w", pid, err)
	}
	return nil
}

// Processes lists the processes of the cgroup itself (not of its
// descendants).
func (c *Cgroup) Processes() ([]int, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return readPids(c.file("cgroup.procs"))
}

func readPids(file string) ([]int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("bpf: %w", err)
	}
	var pids []int
	for _, l := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(l); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// events reads one key of cgroup.events ("populated", "frozen").
func (c *Cgroup) events(key string) (bool, error) {
	b, err := os.ReadFile(c.file("cgroup.events"))
	if err != nil {
		return false, fmt.Errorf("bpf: %w", err)
	}
	for l := range bytes.Lines(b) {
		k, v, _ := strings.Cut(strings.TrimSpace(string(l)), " ")
		if k == key {
			return v == "1", nil
		}
	}
	return false, fmt.Errorf("bpf: %s has no %q", c.file("cgroup.events"), key)
}

// Populated reports whether a process runs in the cgroup or below it.
func (c *Cgroup) Populated() (bool, error) {
	if err := c.check(); err != nil {
		return false, err
	}
	return c.events("populated")
}

// Frozen reports whether the cgroup is frozen (every process in it and
// below it stopped).
func (c *Cgroup) Frozen() (bool, error) {
	if err := c.check(); err != nil {
		return false, err
	}
	return c.events("frozen")
}

// Kill kills every process in the cgroup and its descendants with SIGKILL,
// at once (cgroup.kill, Linux 5.14), so that none can fork away. On older
// kernels it sends SIGKILL to each listed process until none is left.
// It does not wait for them to die; [Cgroup.Remove] does.
func (c *Cgroup) Kill() error {
	if err := c.check(); err != nil {
		return err
	}
	err := os.WriteFile(c.file("cgroup.kill"), []byte("1"), 0)
	if err == nil {
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bpf: killing cgroup: %w", err)
	}
	return c.killEach()
}

// killEach is the fallback of Kill without cgroup.kill: freeze (so that
// nothing forks between the listing and the kill), kill every process of
// the subtree, thaw.
func (c *Cgroup) killEach() error {
	frozen := os.WriteFile(c.file("cgroup.freeze"), []byte("1"), 0) == nil
	err := filepath.WalkDir(c.path, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		pids, err := readPids(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return err
		}
		for _, pid := range pids {
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
		}
		return nil
	})
	if frozen {
		_ = os.WriteFile(c.file("cgroup.freeze"), []byte("0"), 0)
	}
	if err != nil {
		return fmt.Errorf("bpf: killing cgroup: %w", err)
	}
	return nil
}

// Freeze stops every process of the cgroup and its descendants
// (cgroup.freeze) and waits until the kernel reports the cgroup frozen, or
// ctx ends.
func (c *Cgroup) Freeze(ctx context.Context) error { return c.setFrozen(ctx, true) }

// Thaw lets the processes of a frozen cgroup run again and waits until the
// kernel reports it thawed, or ctx ends.
func (c *Cgroup) Thaw(ctx context.Context) error { return c.setFrozen(ctx, false) }

func (c *Cgroup) setFrozen(ctx context.Context, on bool) error {
	if err := c.check(); err != nil {
		return err
	}
	v := "0"
	if on {
		v = "1"
	}
	if err := os.WriteFile(c.file("cgroup.freeze"), []byte(v), 0); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return unsupported("cgroup.freeze (Linux 5.2 or later)", err)
		}
		return fmt.Errorf("bpf: cgroup.freeze: %w", err)
	}
	return c.waitEvent(ctx, "frozen", on)
}

// waitEvent waits until key of cgroup.events reads want. The kernel
// signals changes of the file with POLLPRI; the poll also times out, so a
// missed notification costs at most one interval.
func (c *Cgroup) waitEvent(ctx context.Context, key string, want bool) error {
	f, err := os.Open(c.file("cgroup.events"))
	if err != nil {
		return fmt.Errorf("bpf: %w", err)
	}
	defer f.Close()
	interval := time.Millisecond
	for {
		got, err := c.events(key)
		if err != nil {
			return err
		}
		if got == want {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bpf: waiting for cgroup %s %s=%v: %w", c.path, key, want, err)
		}
		fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLPRI}}
		_, _ = unix.Poll(fds, int(interval/time.Millisecond))
		interval = min(2*interval, 50*time.Millisecond)
	}
}

// Remove kills every process of the cgroup and its descendants, waits
// until none is left (or ctx ends), removes the cgroup and its descendant
// cgroups, and closes it. After Remove, the Cgroup's methods return errors
// wrapping agentos.ErrClosed. Calling Remove again does nothing.
func (c *Cgroup) Remove(ctx context.Context) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil
	}
	if err := c.Kill(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := c.waitEvent(ctx, "populated", false); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var dirs []string
	err := filepath.WalkDir(c.path, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bpf: removing cgroup: %w", err)
	}
	slices.Reverse(dirs) // deepest first
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("bpf: removing cgroup: %w", &os.PathError{Op: "rmdir", Path: d, Err: err})
		}
	}
	return c.closeFD()
}

// Close removes a cgroup made by NewCgroup as Remove does, waiting at
// most CgroupRemoveTimeout for its processes to die; for a cgroup opened
// with OpenCgroup it only closes the descriptor. It is idempotent.
func (c *Cgroup) Close() error {
	if !c.owned {
		return c.closeFD()
	}
	ctx, cancel := context.WithTimeout(context.Background(), CgroupRemoveTimeout)
	defer cancel()
	return c.Remove(ctx)
}

func (c *Cgroup) closeFD() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	fd := c.fd
	c.fd = -1
	if err := unix.Close(fd); err != nil {
		return fmt.Errorf("bpf: closing cgroup: %w", err)
	}
	return nil
}
