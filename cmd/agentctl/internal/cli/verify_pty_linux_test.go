package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// openPTY opens a pseudo-terminal and returns its master and slave ends;
// the slave is a terminal for isTerminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	require.NoError(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0))
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// drain collects what is written to the terminal until the master is
// closed.
func drain(m *os.File) <-chan string {
	out := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, m) // ends with EIO once the slave is closed
		out <- b.String()
	}()
	return out
}

// TestTerminalOutput checks what agentctl does only on a terminal: log
// colours the result column (unless --no-color or NO_COLOR), and verify
// shows its progress on stderr and clears it.
func TestTerminalOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	rec, err := recorder.Open(path, nil)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = rec.Append(ctx, recorder.Entry{Kind: recorder.KindDecision, Trace: "t1", Agent: "a", Op: agentos.OpExec, Tool: "shell",
		Effect: agentos.Deny, Rule: "no-shell", Status: recorder.StatusDenied})
	require.NoError(t, err)
	require.NoError(t, rec.Close())

	run := func(env string, args ...string) string {
		t.Setenv("NO_COLOR", env)
		m, s := openPTY(t)
		out := drain(m)
		code := Main(args, nil, s, s)
		require.NoError(t, s.Close())
		text := <-out
		require.Equal(t, ExitOK, code, text)
		return text
	}
	require.Contains(t, run("", "log", path), "\x1b[31mdeny\x1b[0m")
	require.NotContains(t, run("", "--no-color", "log", path), "\x1b[")
	require.NotContains(t, run("1", "log", path), "\x1b[")

	// verify of a small file ends before the first redraw, so the
	// progress line is drawn here directly, as verify draws it, faster.
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = time.Millisecond
	m, s := openPTY(t)
	out := drain(m)
	stop := startProgress(s, []string{path})
	time.Sleep(20 * time.Millisecond) // a real-time display: a few redraws
	stop()
	require.NoError(t, s.Close())
	text := <-out
	require.Contains(t, text, "verifying "+path+" (1 file(s), ")
	require.True(t, strings.HasSuffix(text, "\r\x1b[K"), "the line is cleared: %q", text)

	// Not a terminal: nothing.
	var buf bytes.Buffer
	startProgress(&buf, []string{path})()
	require.Empty(t, buf.String())
}
