package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every command gets a manual page with its synopsis and examples.
func TestManPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"man", dir}, strings.NewReader(""), &stdout, &stderr)
	require.Equal(t, ExitOK, code, stderr.String())
	for _, name := range []string{"agentctl.1", "agentctl-log.1", "agentctl-verify.1", "agentctl-replay.1", "agentctl-policy-lint.1", "agentctl-report.1", "agentctl-run.1"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err, name)
		require.Contains(t, string(b), ".TH \"AGENTCTL\" \"1\"", name)
		require.Contains(t, string(b), "SYNOPSIS", name)
	}
	b, err := os.ReadFile(filepath.Join(dir, "agentctl-verify.1"))
	require.NoError(t, err)
	require.Contains(t, string(b), "EXAMPLE")

	// A directory that cannot be made is a usage error on one line.
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	stderr.Reset()
	code = Main([]string{"man", filepath.Join(blocker, "man1")}, strings.NewReader(""), &stdout, &stderr)
	require.Equal(t, ExitUsage, code)
	require.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
}
