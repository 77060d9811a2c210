package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"

	"github.com/agent-os/agentos/recorder"
)

// openRecorder opens the flight recorder at path for reading. It never
// creates a file: a missing path is an error, and the recorder is opened
// read-only (SQLite may still create the -wal and -shm companions of a
// file in WAL mode next to it, as any reader does; the database itself is
// not written). Errors are usage errors (exit 2) in one line: see
// readError.
func openRecorder(path string) (*recorder.Recorder, error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	r, err := recorder.Open(path, &recorder.Options{ReadOnly: true, ReadConns: 2})
	if err != nil {
		return nil, readError(path, err)
	}
	return r, nil
}

// checkFile refuses a path that is missing, a directory or empty before
// SQLite sees it (SQLite would create a missing file, and reads an empty
// one as a new database).
func checkFile(path string) error {
	return checkInput(path, "a flight recorder")
}

// checkInput refuses a path that is missing or a directory, and, when
// what is a flight recorder, an empty file; what names the expected
// content in the error.
func checkInput(path, what string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usageError("%s: no such file", path)
	case err != nil:
		return usageError("%s: %v", path, unwrapPathError(err))
	case st.IsDir():
		return usageError("%s: is a directory, not %s", path, what)
	case st.Size() == 0 && what == "a flight recorder":
		return usageError("%s: empty file, not %s", path, what)
	}
	return nil
}

// readError turns an error of reading a recorder into one line naming the
// file and the problem, with exit code 2 (input that cannot be read), or 1
// for a chain that does not verify. Context cancellation (an interrupt)
// passes through.
func readError(path string, err error) error {
	var se *recorder.SchemaError
	var ce *recorder.ChainError
	var xe *exitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &xe):
		return err // already one line with its code
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &se):
		return usageError("%s: written by a newer agentos (recorder schema %d; this agentctl reads up to %d)", path, se.Found, se.Want)
	case errors.As(err, &ce):
		if ce.File != "" {
			path = ce.File
		}
		return checkFailed("%s: %s", path, chainProblem(ce))
	case errors.Is(err, recorder.ErrCorrupt):
		return usageError("%s: not a flight recorder, or damaged (%s)", path, lastCause(err))
	case errors.Is(err, errors.ErrUnsupported):
		return usageError("%s: %v", path, err)
	}
	return usageError("%s: %s", path, strings.TrimPrefix(err.Error(), "recorder: "))
}

// chainProblem says in words where and how a chain breaks.
func chainProblem(ce *recorder.ChainError) string {
	s := fmt.Sprintf("chain broken at seq %d: %s", ce.Seq, ce.Reason)
	if what := reasonWords[ce.Reason]; what != "" {
		s += " (" + what + ")"
	}
	if d := strings.TrimSuffix(ce.Detail, " in "+ce.File); d != "" {
		s += ": " + d
	}
	return s
}

// reasonWords explains each kind of tampering.
var reasonWords = map[recorder.Reason]string{
	recorder.ReasonEdited:    "an entry was changed after it was recorded",
	recorder.ReasonDeleted:   "entries were removed",
	recorder.ReasonInserted:  "entries were added that were never recorded",
	recorder.ReasonReordered: "entries were moved",
	recorder.ReasonTruncated: "entries were cut from the end",
	recorder.ReasonGenesis:   "the chain does not start where it must",
	recorder.ReasonRewritten: "the chain was rewritten from some entry on",
}

// lastCause returns the innermost message of a wrapped error chain, the
// part that names what SQLite found, without the recorder's prefixes.
func lastCause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// unwrapPathError drops the operation and path of an *fs.PathError (the
// caller names the path already).
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// segments returns the files of the rollover set that starts at path, in
// chain order: path itself, then every "NAME.NNNNNN.EXT" beside it (the
// names recorder.Options.Rollover gives), by number. A file missing from
// the middle of the set thus shows as a gap that verify reports, instead
// of ending the set early.
func segments(path string) []string {
	ext := filepath.Ext(path)
	stem := strings.TrimSuffix(path, ext)
	matches, _ := filepath.Glob(globEscaper.Replace(stem) + ".[0-9][0-9][0-9][0-9][0-9][0-9]" + globEscaper.Replace(ext))
	slices.Sort(matches) // fixed-width numbers sort as text
	return append([]string{path}, matches...)
}

// recorderFiles returns the recorder files a command given args reads: a
// single FILE brings its rollover set (see segments), several are taken as
// given. Each must be a readable recorder file (checkFile).
func recorderFiles(args []string) ([]string, error) {
	files := args
	if len(args) == 1 {
		files = segments(args[0])
	}
	for _, p := range files {
		if err := checkFile(p); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// globEscaper quotes the metacharacters of filepath.Match.
var globEscaper = strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)

// interruptible returns a context that ends on SIGINT, for commands that
// run until interrupted (log --follow, run) or must clean up (import).
//
// Bulk reads (log, verify, stats, export) run under the caller's context
// instead, which is never cancelled, and SIGINT ends the process as it
// does by default: SQLite's driver watches a cancellable context with a
// goroutine and channels on every row step, which made "agentctl log" of
// a large file cost a quarter more CPU than the library's Query.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt)
}

// plain returns err's message without the package prefixes of the
// library's wrapped errors ("recorder: ", "kernel: "), which say nothing to
// an operator.
func plain(err error) string {
	return prefixDropper.Replace(err.Error())
}

var prefixDropper = strings.NewReplacer("recorder: ", "", "kernel: ", "")
