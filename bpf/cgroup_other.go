//go:build !linux

package bpf

import (
	"context"
	"runtime"
)

func errNotLinux(what string) error {
	return unsupported(what+" needs Linux, not "+runtime.GOOS, nil)
}

// CgroupMount returns an error wrapping errors.ErrUnsupported: cgroups
// are a Linux feature.
func CgroupMount() (string, error) { return "", errNotLinux("cgroup v2") }

// NewCgroup returns an error wrapping errors.ErrUnsupported: cgroups are
// a Linux feature.
func NewCgroup(parent, name string) (*Cgroup, error) { return nil, errNotLinux("cgroup v2") }

// OpenCgroup returns an error wrapping errors.ErrUnsupported.
func OpenCgroup(path string) (*Cgroup, error) { return nil, errNotLinux("cgroup v2") }

// AddProcess returns an error wrapping errors.ErrUnsupported.
func (c *Cgroup) AddProcess(pid int) error { return errNotLinux("cgroup v2") }

// Processes returns an error wrapping errors.ErrUnsupported.
func (c *Cgroup) Processes() ([]int, error) { return nil, errNotLinux("cgroup v2") }

// Populated returns an error wrapping errors.ErrUnsupported.
func (c *Cgroup) Populated() (bool, error) { return false, errNotLinux("cgroup v2") }

// Frozen returns an error wrapping errors.ErrUnsupported.
func (c *Cgroup) Frozen() (bool, error) { return false, errNotLinux("cgroup v2") }

// Kill returns an error wrapping errors.ErrUnsupported.
func (c *Cgroup) Kill() error { return errNotLinux("cgroup v2") }

// Freeze returns an error wrapping errors.ErrUnsupported.
func (c *Cgroup) Freeze(ctx context.Context) error { return errNotLinux("cgroup v2") }

// Thaw returns an error wrapping errors.ErrUnsupported.
func (c *Cgroup) Thaw(ctx context.Context) error { return errNotLinux("cgroup v2") }

// Remove returns an error wrapping errors.ErrUnsupported.
func (c *Cgroup) Remove(ctx context.Context) error { return errNotLinux("cgroup v2") }

// Close returns an error wrapping errors.ErrUnsupported.
func (c *Cgroup) Close() error { return errNotLinux("cgroup v2") }
