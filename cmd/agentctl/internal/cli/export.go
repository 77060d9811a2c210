package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func init() { register("export", newExportCmd) }

func newExportCmd(e *env) *cobra.Command {
	var out string
	var force bool
	c := &cobra.Command{
		Use:   "export FILE",
		Short: "Export a flight recorder as JSON Lines",
		Long: `Export the chain of a flight recorder as JSON Lines: a header line
{"format":"agentos.recorder","version":1,"genesis":…} and then one entry a
line in sequence order, hashes in hex. "agentctl import" reads it back and
re-verifies every link.

The chain is verified first: a file that does not verify is not exported
(exit 1) unless --force, for forensics, exports it as it is. With -o the
export is written to a temporary file renamed into place once complete,
so a failed export leaves no partial file. One file of a rollover set is
exported at a time; its header names the genesis it continues from.`,
		Example: `  agentctl export audit.db -o audit.jsonl
  agentctl export audit.db > audit.jsonl
  agentctl export audit.000002.db -o part2.jsonl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd.Context(), e, args[0], out, force)
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "-", `file to write ("-": standard output)`)
	c.Flags().BoolVar(&force, "force", false, "export even if the chain does not verify")
	return c
}

func runExport(ctx context.Context, e *env, path, out string, force bool) (err error) {
	if out == "" {
		return usageError("-o: empty file name")
	}
	r, err := openRecorder(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if !force {
		rep, err := r.Verify(ctx)
		if err != nil {
			return readError(path, err)
		}
		if rep.Broken != nil {
			return readError(path, fmt.Errorf("%w (not exported; --force exports it anyway)", rep.Broken))
		}
	}
	if out == "-" {
		return readError(path, r.Export(ctx, e.stdout))
	}
	return writeAtomically(out, func(w io.Writer) error {
		return readError(path, r.Export(ctx, w))
	})
}

// writeAtomically writes a new file at path through fill: into a
// temporary file in the same directory, synced and renamed into place
// when fill succeeds, removed when it fails.
func writeAtomically(path string, fill func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return usageError("-o %s: %v", path, unwrapPathError(err))
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return usageError("-o %s: %v", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return usageError("-o %s: %v", path, err)
	}
	return nil
}
