//go:build !linux

package proc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
)

// SandboxSupported returns an error wrapping errors.ErrUnsupported: a
// [Sandbox] needs Linux.
func SandboxSupported() error {
	return fmt.Errorf("proc: a sandbox needs Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func sandboxCmd(*exec.Cmd, *Sandbox, string, []string) (r, w *os.File, err error) {
	return nil, nil, SandboxSupported()
}

func startStatus(io.Reader, string) error { return nil }
