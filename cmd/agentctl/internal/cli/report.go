package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/agent-os/agentos/recorder"
)

func init() { register("report", newReportCmd) }

func newReportCmd(e *env) *cobra.Command {
	var (
		out   string
		force bool
		rows  int
	)
	cmd := &cobra.Command{
		Use:   "report FILE... -o report.html",
		Short: "Write a self-contained HTML report of a flight recorder",
		Long: `report reads the flight recorder FILE (read-only) and writes one HTML page:
the chain's verification status (green when it verifies, red with the first
bad sequence and why when it does not), a timeline per agent of its
syscalls (coloured by what policy decided, denials in red), signals,
lifecycle events and panics, the denials by rule, and counts per agent.

The page is self-contained: style and drawings (SVG) are inline, it runs no
script, and its Content-Security-Policy forbids loading anything, so it
can be opened offline or mailed. Agent names, rules, paths and messages
are escaped: a recorder cannot put markup into the page.

Memory and page size are bounded whatever the recorder holds: past a few
hundred events an agent's timeline is drawn in time buckets, and past the
limits agents and rules are folded together; the page says what it shows
("showing N of M").

-o is required; "-o -" writes the page to standard output. An existing
file is not replaced without --force; the page is written to a temporary
file and renamed into place, so a reader never sees half a page.

FILE brings the files of its rolled-over set (audit.db, audit.000002.db,
…): the page covers them all, in chain order, and verifies their chain as
one. Several FILEs are read as given, in that order. A later file of a set
read alone continues a chain from a genesis that only an anchor can vouch
for, so its page shows the chain as broken at its first entry.

Exit status: 0 when the chain verifies, 1 when it does not (the page is
still written, with the red status), 2 for a usage error or a FILE that
cannot be read as a recorder.`,
		Example: `  agentctl report audit.db -o report.html
  agentctl report audit.db -o - > report.html
  agentctl report audit.db -o report.html --force`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageError("report: -o FILE is required (\"-o -\" for standard output)")
			}
			if rows < 1 || rows > 200 {
				return usageError("report: --timeline-agents %d: want 1 to 200", rows)
			}
			lim := defaultReportLimits
			lim.TimelineRows = rows
			files := args
			if len(args) == 1 {
				files = segments(args[0])
			}
			return runReport(cmd, e, files, out, force, lim)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", `write the page to this file ("-" for standard output)`)
	f.BoolVar(&force, "force", false, "replace the output file if it exists")
	f.IntVar(&rows, "timeline-agents", defaultReportLimits.TimelineRows, "agents given a timeline, those with the most events (1 to 200)")
	return cmd
}

// runReport reads the recorder files (one, or a rolled-over set in chain
// order) and writes their page to out.
func runReport(cmd *cobra.Command, e *env, files []string, out string, force bool, lim reportLimits) error {
	ctx := cmd.Context()
	path := files[0]
	if out != "-" && !force {
		// Fail before reading a large recorder; reportPublish checks again.
		if err := reportRefuseExisting(out); err != nil {
			return err
		}
	}
	for _, f := range files {
		if out != "-" {
			if err := reportNotInput(f, out); err != nil {
				return err
			}
		}
		// Each file is a readable recorder before any is read in full.
		rec, err := reportOpen(f)
		if err != nil {
			return err
		}
		if err := rec.Close(); err != nil {
			return usageError("report: %s: %v", f, err)
		}
	}
	d, err := reportBuildFiles(ctx, files, func(p string) (*recorder.Recorder, error) {
		return recorder.Open(p, &recorder.Options{ReadOnly: true})
	}, lim)
	if err != nil {
		return usageError("report: %s: %v", path, err)
	}
	if out == "-" {
		bw := bufio.NewWriter(e.stdout)
		if err := reportRender(bw, d); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("report: writing standard output: %w", err)
		}
	} else {
		if err := reportPublish(out, force, func(w io.Writer) error { return reportRender(w, d) }); err != nil {
			return err
		}
		status := "chain verified"
		if !d.Chain.OK {
			status = "chain BROKEN"
		}
		fmt.Fprintf(e.stdout, "wrote %s: %d entries, %d agents, %d denials, %s\n", out, d.read, d.agentCount(), d.denials, status)
	}
	if !d.Chain.OK {
		if b := d.Chain.Broken; b != nil {
			where := path
			if len(files) > 1 && b.File != "" {
				where = b.File
			}
			return checkFailed("report: %s: chain broken at seq %d: %s (the report shows it)", where, b.Seq, b.Reason)
		}
		return checkFailed("report: %s: chain does not verify (the report shows it)", path)
	}
	return nil
}

// reportOpen opens an existing recorder file read-only: nothing is
// created or written, and a file that is missing or not a recorder is a
// usage error.
func reportOpen(path string) (*recorder.Recorder, error) {
	st, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, usageError("report: %s: %v", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, usageError("report: %s: not a regular file", path)
	}
	rec, err := recorder.Open(path, &recorder.Options{ReadOnly: true})
	if err != nil {
		return nil, usageError("report: %s: %v", path, err)
	}
	return rec, nil
}

// reportNotInput refuses an output path that names the recorder itself or
// one of its SQLite side files, which --force would otherwise replace with
// the page.
func reportNotInput(path, out string) error {
	in, err1 := filepath.Abs(path)
	o, err2 := filepath.Abs(out)
	if err1 == nil && err2 == nil {
		for _, side := range []string{"", "-wal", "-shm", "-journal"} {
			if o == in+side {
				return usageError("report: -o %s would replace the recorder %s", out, path)
			}
		}
	}
	a, err1 := os.Stat(path)
	b, err2 := os.Stat(out)
	if err1 == nil && err2 == nil && os.SameFile(a, b) {
		return usageError("report: -o %s would replace the recorder %s", out, path)
	}
	return nil
}

// reportRefuseExisting fails when path exists (anything: a file, a
// directory, a link).
func reportRefuseExisting(path string) error {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return usageError("report: %s exists (--force replaces it)", path)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return usageError("report: %v", err)
}

// reportPublish writes a file atomically: write fills a temporary file in
// path's directory, which is synced and then renamed onto path (with
// force) or hard-linked to it (without, which fails if path appeared in
// the meantime, so that nothing is ever replaced without --force). On any
// error the temporary file is removed and path is untouched.
func reportPublish(path string, force bool, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return usageError("report: %v", err)
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(name)
		}
	}()
	bw := bufio.NewWriter(tmp)
	if err := write(bw); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: writing %s: %w", name, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if force {
		if err := os.Rename(name, path); err != nil {
			return usageError("report: %v", err)
		}
		return nil
	}
	lerr := os.Link(name, path)
	switch {
	case lerr == nil:
		if err := os.Remove(name); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		return nil
	case errors.Is(lerr, fs.ErrExist):
		return usageError("report: %s exists (--force replaces it)", path)
	}
	// A file system without hard links: check, then rename (a file that
	// appears between the two is replaced).
	if err := reportRefuseExisting(path); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return usageError("report: %v", err)
	}
	return nil
}
