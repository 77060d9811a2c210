//go:build !linux

package proc

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
)

// sysProcAttr puts the program in a new process group; starting it in a
// cgroup needs Linux.
func sysProcAttr(cg Cgroup) (*syscall.SysProcAttr, error) {
	if cg != nil {
		return nil, fmt.Errorf("proc: starting a program in a cgroup needs Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
	}
	return newGroupAttr(), nil
}
