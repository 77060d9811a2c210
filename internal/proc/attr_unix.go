//go:build unix && !linux

package proc

import "syscall"

func newGroupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
