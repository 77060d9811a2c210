//go:build !unix

package proc

import (
	"errors"
	"os"
	"syscall"
)

// killGroup kills only the process itself: process groups need a Unix
// system.
func killGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func exitStatus(ps *os.ProcessState) (int, syscall.Signal) {
	return ps.ExitCode(), 0
}
