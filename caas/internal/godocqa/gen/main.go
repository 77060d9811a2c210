// Command gen writes the godocqa retrieval set from the Go sources of the
// Go installation at -goroot: docs.jsonl, queries.jsonl and version.txt in -out.
// go generate in caas/internal/godocqa runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/agent-os/agentos/caas/internal/godocqa"
)

func main() {
	out := flag.String("out", "testdata", "directory to write the set to")
	goroot := flag.String("goroot", os.Getenv("GOROOT"), "Go installation whose src/ to read (default: $GOROOT, as go generate sets it, else go env GOROOT)")
	flag.Parse()
	if err := run(*goroot, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(goroot, out string) error {
	if goroot == "" {
		b, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			return fmt.Errorf("go env GOROOT: %w", err)
		}
		goroot = strings.TrimSpace(string(b))
	}
	version, err := godocqa.Version(goroot)
	if err != nil {
		return err
	}
	docs, queries, err := godocqa.Generate(goroot)
	if err != nil {
		return err
	}
	d, q, err := godocqa.Encode(docs, queries)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"docs.jsonl":    d,
		"queries.jsonl": q,
		"version.txt":   []byte(version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("gen: %d documents, %d queries from %s (%s)\n", len(docs), len(queries), goroot, version)
	return nil
}
