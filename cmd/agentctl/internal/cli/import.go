package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

func init() { register("import", newImportCmd) }

func newImportCmd(e *env) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "import IN.jsonl -o FILE",
		Short: "Import a JSON Lines export into a new flight recorder",
		Long: `Import a JSON Lines export (see "agentctl export") into a new flight
recorder file. Every entry is re-verified as it is read: its link to the
one before and its hash. A stream that does not verify is refused with
the first bad sequence and the kind of tampering (exit 1), and nothing is
written. The new file is verified once more after it is written.

-o must name a file that does not exist yet. IN may be "-" for standard
input.`,
		Example: `  agentctl import audit.jsonl -o restored.db
  agentctl export audit.db | agentctl import - -o copy.db`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(cmd.Context(), e, args[0], out)
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "recorder file to create (required)")
	return c
}

// importResult is what import prints.
type importResult struct {
	File    string          `json:"file"`
	Entries uint64          `json:"entries"`
	Genesis recorder.Anchor `json:"genesis"`
	Head    recorder.Anchor `json:"head"`
}

func runImport(ctx context.Context, e *env, in, out string) (err error) {
	if out == "" {
		return usageError("import needs -o FILE, the recorder to create")
	}
	if _, err := os.Lstat(out); err == nil {
		return usageError("-o %s: exists; import creates a new recorder", out)
	}
	var src io.Reader = e.stdin
	name := "standard input"
	if in != "-" {
		if err := checkInput(in, "a JSON Lines export"); err != nil {
			return err
		}
		f, err := os.Open(in)
		if err != nil {
			return usageError("%s: %v", in, unwrapPathError(err))
		}
		defer f.Close()
		src, name = f, in
	}
	ctx, stop := interruptible(ctx)
	defer stop()
	r, err := recorder.Import(ctx, bufio.NewReaderSize(src, 256<<10), out, nil)
	if err != nil {
		return importError(name, err)
	}
	rep, verr := r.Verify(ctx)
	cerr := r.Close()
	if verr == nil && rep.Broken != nil {
		verr = rep.Broken
	}
	if err := errors.Join(verr, cerr); err != nil {
		for _, p := range []string{out, out + "-wal", out + "-shm"} {
			os.Remove(p)
		}
		return readError(out, err)
	}
	res := importResult{File: out, Entries: rep.Entries, Genesis: rep.Genesis, Head: rep.Head}
	return writeRecords(e, []string{"FILE", "ENTRIES", "GENESIS", "HEAD"}, []importResult{res}, func(r importResult) []string {
		return []string{r.File, fmt.Sprint(r.Entries), fmt.Sprint(r.Genesis.Seq), fmt.Sprint(r.Head.Seq)}
	})
}

// importError names what is wrong with an import stream: a broken chain
// (exit 1), or a stream that is not an export (exit 2).
func importError(name string, err error) error {
	var ce *recorder.ChainError
	switch {
	case errors.As(err, &ce):
		return checkFailed("%s: refused: %s", name, chainProblem(ce))
	case errors.Is(err, recorder.ErrSchemaVersion):
		msg := strings.ReplaceAll(err.Error(), recorder.ErrSchemaVersion.Error()+": ", "")
		return usageError("%s: written by a newer agentos (%s)", name, prefixDropper.Replace(msg))
	case errors.Is(err, agentos.ErrInvalid):
		msg := strings.ReplaceAll(err.Error(), agentos.ErrInvalid.Error()+": ", "")
		return usageError("%s: not an agentos recorder export: %s", name, prefixDropper.Replace(msg))
	}
	return readError(name, err)
}
