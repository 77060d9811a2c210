package bpf

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Cgroup is one cgroup v2 directory, held open: the cgroup an agent's tool
// processes run in. Create one with [NewCgroup] (or open one with
// [OpenCgroup]); start processes in it with its [Cgroup.FD] (clone3 into
// the cgroup) or move them with [Cgroup.AddProcess].
//
// A Cgroup is safe for concurrent use. Its FD stays valid until Close or
// Remove.
type Cgroup struct {
	path  string
	id    uint64
	owned bool // made by NewCgroup: Close removes it

	mu     sync.Mutex
	fd     int // -1 once closed
	closed bool
}

// CgroupRemoveTimeout bounds how long Close waits for the processes of a
// cgroup to die before it gives up removing it.
const CgroupRemoveTimeout = 10 * time.Second

var cgroupName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func checkCgroupName(name string) error {
	if !cgroupName.MatchString(name) || strings.HasPrefix(name, "cgroup.") {
		return fmt.Errorf("bpf: cgroup name %q is not valid (letters, digits, '.', '_', '-'; at most 128; not cgroup.*)", name)
	}
	return nil
}

// Path returns the cgroup's directory.
func (c *Cgroup) Path() string { return c.path }

// ID returns the cgroup id: the inode of its directory, which is what the
// kernel's bpf_get_current_cgroup_id reports and what [Event.CgroupID]
// holds.
func (c *Cgroup) ID() uint64 { return c.id }

// FD returns the open directory descriptor of the cgroup, -1 once it is
// closed. It is what proc.RunOptions.Cgroup needs to start a program
// inside the cgroup.
func (c *Cgroup) FD() int {
	if c == nil {
		return -1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fd
}

// parseMountinfo returns the mount point of the first cgroup2 file system
// listed in r, in the format of /proc/self/mountinfo.
func parseMountinfo(r io.Reader) (string, bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+1 >= len(fields) {
			continue
		}
		if fields[sep+1] == "cgroup2" {
			return unescapeMount(fields[4]), true
		}
	}
	return "", false
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
