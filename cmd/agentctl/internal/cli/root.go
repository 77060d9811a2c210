// Package cli implements agentctl's commands on cobra. Each command lives in
// its own file and registers itself with register; Main builds a fresh
// command tree per call, so tests run it in-process as often as they like.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"
)

// Exit codes a script can rely on.
const (
	ExitOK    = 0 // success
	ExitCheck = 1 // a check failed: a chain that does not verify, a failing policy test, …
	ExitUsage = 2 // a usage error, or input that cannot be read
)

// exitError carries an exit code and one line for stderr.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// checkFailed returns an error that makes agentctl exit with ExitCheck.
func checkFailed(format string, args ...any) error {
	return &exitError{code: ExitCheck, err: fmt.Errorf(format, args...)}
}

// usageError returns an error that makes agentctl exit with ExitUsage.
func usageError(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// env is what every command shares: its streams and the global flags.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	format         string // table, json or jsonl
	noColor        bool
}

// isTerminal reports whether w is a terminal (colour and progress bars only
// then).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// A constructor builds one top-level command.
type constructor func(*env) *cobra.Command

var (
	regMu    sync.Mutex
	registry = map[string]constructor{}
)

// register adds a top-level command; each command file calls it from init.
func register(name string, c constructor) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("agentctl: command registered twice: " + name)
	}
	registry[name] = c
}

// newRoot builds the command tree.
func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "agentctl",
		Short: "Operate agentos kernels: flight recorders, policies, replays, reports",
		Long: `agentctl is the operator's tool for agentos.

It queries, verifies, exports and reports on flight recorders, replays
recorded decisions under another policy, lints and tests policies, and runs
agent programs under a kernel configured from flags or a YAML file.

Exit codes: 0 success, 1 a check failed, 2 a usage error or unreadable input.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.PersistentFlags().StringVar(&e.format, "format", "table", "output format: table, json or jsonl")
	root.PersistentFlags().BoolVar(&e.noColor, "no-color", false, "never colour the output")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		switch e.format {
		case "table", "json", "jsonl":
			return nil
		}
		return usageError("--format %q: want table, json or jsonl", e.format)
	}
	regMu.Lock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		root.AddCommand(registry[n](e))
	}
	regMu.Unlock()
	return root
}

// Main runs agentctl with args and returns its exit code. Errors are one
// line on stderr, "agentctl: ...", never a stack trace.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "agentctl: internal error: %v\n", r)
			code = ExitUsage
		}
	}()
	root := newRoot(e)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	// One line, whatever the error: cobra's suggestions ("Did you mean
	// this?") span several.
	fmt.Fprintf(stderr, "agentctl: %s\n", strings.Join(strings.Fields(err.Error()), " "))
	var xe *exitError
	if errors.As(err, &xe) {
		return xe.code
	}
	// Cobra's own errors (unknown command or flag, wrong argument count)
	// and unreadable input are usage errors.
	return ExitUsage
}
