package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func init() { register("man", newManCmd) }

func newManCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write agentctl's manual pages (section 1) into DIR",
		Long: `Write a manual page for agentctl and each of its commands (agentctl.1,
agentctl-log.1, …) into DIR, which is created if missing. Existing pages
of the same names are replaced.`,
		Example: `  agentctl man /usr/local/share/man/man1
  agentctl man ./man && man ./man/agentctl-verify.1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return usageError("man: %v", err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // pages that do not change with the day they were made
			hdr := &doc.GenManHeader{Title: "AGENTCTL", Section: "1", Source: "agentos", Manual: "agentos manual"}
			if err := doc.GenManTree(root, hdr, dir); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			return nil
		},
	}
}
