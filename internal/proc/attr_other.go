//go:build !unix

package proc

import "syscall"

func newGroupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
