// Package proctest builds the helper program that the tests of proc and
// bpf run as a tool (see the helper directory for what it does).
package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// HelperPackage is the import path of the helper program.
const HelperPackage = "github.com/agent-os/agentos/internal/proc/proctest/helper"

// Build compiles the helper program into dir and returns its path. It runs
// the go command found in PATH.
func Build(dir string) (string, error) {
	goCmd, err := exec.LookPath("go") // go test puts its own toolchain first in PATH
	if err != nil {
		return "", fmt.Errorf("proctest: no go command: %w", err)
	}
	out := filepath.Join(dir, "helper")
	if runtime.GOOS == "windows" {
		out += ".exe"
	}
	cmd := exec.Command(goCmd, "build", "-o", out, HelperPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("proctest: building the helper: %w\n%s", err, b)
	}
	return out, nil
}

// SharedDir makes a directory that every user may enter and write to
// (mode 1777, like /tmp), removed when tb ends: sandboxed programs run as
// an unprivileged user and cannot reach a test's private TempDir. Build
// the helper into it so that they can execute it.
func SharedDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "agentos-shared-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		tb.Fatal(err)
	}
	return dir
}
