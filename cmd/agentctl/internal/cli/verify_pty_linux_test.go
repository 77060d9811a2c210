package cli

import (
	"bytes"
	"context"
	"fmt"
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

// reader hands over what is written to the terminal, chunk by chunk,
// until the master is closed or the slave's last close (EIO).
func reader(m *os.File) <-chan string {
	chunks := make(chan string, 64)
	go func() {
		defer close(chunks)
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			if n > 0 {
				chunks <- string(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	return chunks
}

// readUntil reads chunks until the text read so far contains want. It
// does not wait for the slave to close: Linux may drop what the master has
// not read yet when it does.
func readUntil(t *testing.T, chunks <-chan string, want string) string {
	t.Helper()
	var text strings.Builder
	deadline := time.After(20 * time.Second)
	for !strings.Contains(text.String(), want) {
		select {
		case c, ok := <-chunks:
			if !ok {
				t.Fatalf("terminal closed before %q: %q", want, text.String())
			}
			text.WriteString(c)
		case <-deadline:
			t.Fatalf("no %q on the terminal: %q", want, text.String())
		}
	}
	return text.String()
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
		chunks := reader(m)
		code := Main(args, nil, s, s)
		require.Equal(t, ExitOK, code)
		return readUntil(t, chunks, "no-shell\r\n")
	}
	require.Contains(t, run("", "log", path), "\x1b[31mdeny\x1b[0m")
	require.NotContains(t, run("", "--no-color", "log", path), "\x1b[")
	require.NotContains(t, run("1", "log", path), "\x1b[")

	// verify of a small file ends before the first redraw, so the
	// progress line is drawn here directly, as verify draws it, faster,
	// until it shows.
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = time.Millisecond
	m, s := openPTY(t)
	chunks := reader(m)
	stop := startProgress(s, []string{path})
	readUntil(t, chunks, "verifying "+path+" (1 file(s), ")
	stop()
	fmt.Fprint(s, "end\n")
	text := readUntil(t, chunks, "end")
	require.Contains(t, text, "\r\x1b[Kend", "the line is cleared")

	// Not a terminal: nothing.
	var buf bytes.Buffer
	startProgress(&buf, []string{path})()
	require.Empty(t, buf.String())
}
