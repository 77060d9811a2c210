//go:build linux

package proc_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/agent-os/agentos/internal/proc"
	"github.com/agent-os/agentos/internal/proc/proctest"
)

var helper string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "proc-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Sandboxed runs execute the helper as an unprivileged user.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	helper, err = proctest.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

func compile(t *testing.T, c proc.Command) *proc.Spec {
	t.Helper()
	if c.Path == "" && c.Script == "" {
		c.Path = helper
	}
	s, err := proc.Compile(c)
	require.NoError(t, err)
	return s
}

func lines(o proc.Output) []string {
	s := strings.TrimSuffix(string(o.Data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestArgumentsAreSingleElements(t *testing.T) {
	s := compile(t, proc.Command{
		Args: []string{"echo", "{q}", "--limit={n}", "literal {{braces}}", "{opt}", "x{flag}"},
		Params: []proc.Param{
			{Name: "q", Required: true},
			{Name: "n", Pattern: `[0-9]+`},
			{Name: "opt"},
			{Name: "flag"},
		},
	})
	hostile := []string{
		"; rm -rf / #", "$(id)", "`id`", "a b  c", "'quoted' \"double\"", "x\ny", "*", "&& echo pwned",
	}
	for _, v := range hostile {
		t.Run(strconv.Quote(v), func(t *testing.T) {
			res, err := s.Run(context.Background(), map[string]any{"q": v, "n": 7, "flag": true}, &proc.RunOptions{Environ: []string{}})
			require.NoError(t, err)
			out := string(res.Stdout.Data)
			assert.Equal(t, v+"\n--limit=7\nliteral {braces}\nxtrue\n", out)
			assert.Equal(t, []string{"helper", "echo", v, "--limit=7", "literal {braces}", "xtrue"}, res.Argv)
		})
	}
}

func TestArgumentValidation(t *testing.T) {
	s := compile(t, proc.Command{
		Args: []string{"echo", "{q}", "--n={n}"},
		Params: []proc.Param{
			{Name: "q", Required: true, MaxLen: 16},
			{Name: "n", Pattern: `[0-9]+`},
		},
	})
	cases := []struct {
		name  string
		args  map[string]any
		param string
		why   string
	}{
		{"missing required", map[string]any{}, "q", "required"},
		{"unknown argument", map[string]any{"q": "x", "cmd": "rm"}, "cmd", "not a parameter"},
		{"leading dash", map[string]any{"q": "--output=/etc"}, "q", "starts with '-'"},
		{"NUL byte", map[string]any{"q": "a\x00b"}, "q", "NUL"},
		{"too long", map[string]any{"q": strings.Repeat("a", 17)}, "q", "over the limit"},
		{"pattern", map[string]any{"q": "x", "n": "1; id"}, "n", "does not match"},
		{"pattern is anchored", map[string]any{"q": "x", "n": "12a"}, "n", "does not match"},
		{"not text", map[string]any{"q": []string{"a", "b"}}, "q", "not a string"},
		{"null", map[string]any{"q": nil}, "q", "null"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := s.Run(context.Background(), c.args, nil)
			require.ErrorIs(t, err, proc.ErrArgs)
			assert.Nil(t, res, "nothing runs when an argument is refused")
			var ae *proc.ArgError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, c.param, ae.Param)
			assert.Contains(t, ae.Reason, c.why)
		})
	}
	// A dash inside an element is harmless and allowed.
	res, err := s.Run(context.Background(), map[string]any{"q": "x", "n": "5"}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"x", "--n=5"}, lines(res.Stdout))
	allow := compile(t, proc.Command{Args: []string{"echo", "{q}"}, Params: []proc.Param{{Name: "q", AllowLeadingDash: true}}})
	res, err = allow.Run(context.Background(), map[string]any{"q": "-v"}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"-v"}, lines(res.Stdout))
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name string
		c    proc.Command
		why  string
	}{
		{"no path", proc.Command{}, "no program path"},
		{"relative path", proc.Command{Path: "sh"}, "not absolute"},
		{"undeclared reference", proc.Command{Path: "/bin/true", Args: []string{"{x}"}}, "undeclared parameter"},
		{"unclosed brace", proc.Command{Path: "/bin/true", Args: []string{"{x"}, Params: []proc.Param{{Name: "x"}}}, "unclosed"},
		{"stray brace", proc.Command{Path: "/bin/true", Args: []string{"a}"}}, "unmatched"},
		{"bad pattern", proc.Command{Path: "/bin/true", Params: []proc.Param{{Name: "x", Pattern: "("}}}, "pattern"},
		{"duplicate param", proc.Command{Path: "/bin/true", Params: []proc.Param{{Name: "x"}, {Name: "x"}}}, "twice"},
		{"bad env", proc.Command{Path: "/bin/true", Env: []string{"A B=1"}}, "environment entry"},
		{"stdin undeclared", proc.Command{Path: "/bin/true", Stdin: "in"}, "stdin parameter"},
		{"negative timeout", proc.Command{Path: "/bin/true", Timeout: -time.Second}, "timeout"},
		{"huge output", proc.Command{Path: "/bin/true", MaxStdout: proc.MaxOutput + 1}, "output limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := proc.Compile(c.c)
			require.ErrorIs(t, err, proc.ErrCommand)
			assert.Contains(t, err.Error(), c.why)
		})
	}
}

func TestShellOnlyByRequestAndValuesStayData(t *testing.T) {
	s := compile(t, proc.Command{
		Script: `printf '%s|' "$0" "$@"`,
		Name:   "tool",
		Args:   []string{"{a}", "{b}"},
		Params: []proc.Param{{Name: "a"}, {Name: "b"}},
	})
	res, err := s.Run(context.Background(), map[string]any{"a": "$(echo pwned)", "b": "; echo pwned"}, nil)
	require.NoError(t, err)
	assert.Equal(t, "tool|$(echo pwned)|; echo pwned|", string(res.Stdout.Data))
	assert.Equal(t, []string{"/bin/sh", "-c", `printf '%s|' "$0" "$@"`, "tool", "$(echo pwned)", "; echo pwned"}, res.Argv)
}

func TestEnvAllowList(t *testing.T) {
	s := compile(t, proc.Command{Args: []string{"env"}, Env: []string{"KEEP", "FIXED=1", "ABSENT"}})
	res, err := s.Run(context.Background(), nil, &proc.RunOptions{
		Environ: []string{"KEEP=old", "SECRET=s3cret", "PATH=/usr/bin", "KEEP=yes", "AWS_SECRET_ACCESS_KEY=x"},
	})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"KEEP=yes", "FIXED=1"}, lines(res.Stdout))
}

func TestStdinFromArgument(t *testing.T) {
	s := compile(t, proc.Command{Args: []string{"cat"}, Params: []proc.Param{{Name: "input", AllowLeadingDash: true, MaxLen: 1 << 20}}, Stdin: "input"})
	in := "-line one\n$(not a command)\n" + strings.Repeat("x", 200<<10)
	res, err := s.Run(context.Background(), map[string]any{"input": in}, nil)
	require.NoError(t, err)
	assert.Equal(t, in, string(res.Stdout.Data))
	// Without the argument, stdin is empty.
	res, err = s.Run(context.Background(), nil, nil)
	require.NoError(t, err)
	assert.Empty(t, res.Stdout.Data)
}

func TestOutputLimit(t *testing.T) {
	const n = 300_000
	s := compile(t, proc.Command{Args: []string{"spew", "{n}"}, Params: []proc.Param{{Name: "n"}}, MaxStdout: 1000, MaxStderr: 10})
	res, err := s.Run(context.Background(), map[string]any{"n": n}, nil)
	require.NoError(t, err)
	want := make([]byte, n)
	for i := range want {
		want[i] = byte('a' + (i%4096)%26)
	}
	assert.Equal(t, want[:1000], res.Stdout.Data)
	assert.EqualValues(t, n, res.Stdout.Size)
	assert.True(t, res.Stdout.Truncated)
	assert.Equal(t, sha256.Sum256(want), res.Stdout.SHA256, "the digest covers every byte written")
	assert.Len(t, res.Stderr.Data, 10)
	assert.True(t, res.Stderr.Truncated)

	small := compile(t, proc.Command{Args: []string{"echo", "hi"}})
	res, err = small.Run(context.Background(), nil, nil)
	require.NoError(t, err)
	assert.False(t, res.Stdout.Truncated)
	assert.Equal(t, sha256.Sum256([]byte("hi\n")), res.Stdout.SHA256)
}

func TestExitStatus(t *testing.T) {
	s := compile(t, proc.Command{Args: []string{"exit", "{n}"}, Params: []proc.Param{{Name: "n"}}})
	res, err := s.Run(context.Background(), map[string]any{"n": 3}, nil)
	var ee *proc.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 3, ee.Code)
	assert.Equal(t, 3, res.ExitCode)
	assert.False(t, res.Success())
	assert.Positive(t, res.Pid)
	assert.Positive(t, res.Duration)
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func grandchild(t *testing.T, res *proc.Result) int {
	t.Helper()
	l := lines(res.Stdout)
	require.NotEmpty(t, l, "the helper printed its child's pid")
	pid, err := strconv.Atoi(l[0])
	require.NoError(t, err)
	return pid
}

func TestTimeoutKillsTheGroup(t *testing.T) {
	s := compile(t, proc.Command{Args: []string{"spawn", "1h"}, Timeout: 300 * time.Millisecond})
	start := time.Now()
	res, err := s.Run(context.Background(), nil, nil)
	require.ErrorIs(t, err, proc.ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, res.TimedOut)
	assert.Equal(t, syscall.SIGKILL, res.Signal)
	assert.Less(t, time.Since(start), 30*time.Second)
	pid := grandchild(t, res)
	assert.Eventually(t, func() bool { return !alive(pid) }, 5*time.Second, 10*time.Millisecond, "grandchild %d survived", pid)
}

func TestCancelKillsTheGroup(t *testing.T) {
	s := compile(t, proc.Command{Args: []string{"spawn", "1h"}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := s.Run(ctx, nil, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, proc.ErrTimeout, "the caller's deadline is not the command's time limit")
	assert.False(t, res.TimedOut)
	pid := grandchild(t, res)
	assert.Eventually(t, func() bool { return !alive(pid) }, 5*time.Second, 10*time.Millisecond, "grandchild %d survived", pid)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = s.Run(ctx, nil, nil)
	require.ErrorIs(t, err, context.Canceled)
}

func TestExitKillsWhatTheProgramLeftBehind(t *testing.T) {
	s := compile(t, proc.Command{Args: []string{"spawn", "1h", "exit"}})
	start := time.Now()
	res, err := s.Run(context.Background(), nil, nil)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 30*time.Second, "Run does not wait for the background child")
	pid := grandchild(t, res)
	assert.Eventually(t, func() bool { return !alive(pid) }, 5*time.Second, 10*time.Millisecond, "background child %d survived", pid)
}

func TestStartError(t *testing.T) {
	s := compile(t, proc.Command{Path: "/nonexistent/tool"})
	res, err := s.Run(context.Background(), nil, nil)
	require.Error(t, err)
	assert.Nil(t, res)
	assert.True(t, errors.Is(err, os.ErrNotExist), err)
}

func TestConcurrentRuns(t *testing.T) {
	s := compile(t, proc.Command{Args: []string{"echo", "{i}"}, Params: []proc.Param{{Name: "i"}}})
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			res, err := s.Run(context.Background(), map[string]any{"i": i}, nil)
			if err == nil && string(res.Stdout.Data) != fmt.Sprintf("%d\n", i) {
				err = fmt.Errorf("run %d printed %q", i, res.Stdout.Data)
			}
			errs <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}
