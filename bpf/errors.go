package bpf

import (
	"errors"
	"fmt"
)

// UnsupportedError says that eBPF enforcement cannot run here and what is
// missing: Linux, a cgroup v2 mount, a privilege, a program or map type of
// the running kernel. It wraps errors.ErrUnsupported, and Err when set.
type UnsupportedError struct {
	Missing string // what is missing, in words
	Err     error  // the underlying cause, may be nil
}

func (e *UnsupportedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("bpf: unsupported: %s: %v", e.Missing, e.Err)
	}
	return "bpf: unsupported: " + e.Missing
}

// Unwrap returns errors.ErrUnsupported and, when set, Err.
func (e *UnsupportedError) Unwrap() []error {
	if e.Err != nil {
		return []error{errors.ErrUnsupported, e.Err}
	}
	return []error{errors.ErrUnsupported}
}

func unsupported(missing string, err error) error {
	return &UnsupportedError{Missing: missing, Err: err}
}
