package proc

import (
	"fmt"
	"syscall"
)

// sysProcAttr puts the program in a new process group and, when cg is not
// nil, starts it inside that cgroup.
func sysProcAttr(cg Cgroup) (*syscall.SysProcAttr, error) {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if cg != nil {
		fd := cg.FD()
		if fd < 0 {
			return nil, fmt.Errorf("%w: cgroup is closed", ErrCommand)
		}
		attr.UseCgroupFD, attr.CgroupFD = true, fd
	}
	return attr, nil
}
