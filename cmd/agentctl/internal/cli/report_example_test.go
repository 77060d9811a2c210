package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/cmd/agentctl/internal/cli"
	"github.com/agent-os/agentos/recorder"
)

// agentctl report writes one HTML page of a recorder; the summary line
// goes to standard output.
func Example_report() {
	dir, err := os.MkdirTemp("", "report")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "audit.db")
	rec, err := recorder.Open(path, nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []recorder.Entry{
		{Time: t0, Trace: "1", Agent: "alice", Kind: recorder.KindDecision, Op: agentos.OpRead, Path: "/mem/working/a",
			Rule: "own-memory", Effect: agentos.Allow, Status: recorder.StatusPermitted},
		{Time: t0.Add(time.Second), Trace: "1", Agent: "alice", Kind: recorder.KindOutcome, Op: agentos.OpRead, Status: recorder.StatusOK},
		{Time: t0.Add(2 * time.Second), Trace: "2", Agent: "bob", Kind: recorder.KindDecision, Op: agentos.OpExec, Tool: "shell",
			Rule: "no-shell", Effect: agentos.Deny, Status: recorder.StatusDenied},
	} {
		if _, err := rec.Append(ctx, e); err != nil {
			panic(err)
		}
	}
	if err := rec.Close(); err != nil {
		panic(err)
	}

	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"report", path, "-o", filepath.Join(dir, "report.html")}, strings.NewReader(""), &stdout, &stderr)
	fmt.Print(code, " ", strings.ReplaceAll(stdout.String(), dir+string(filepath.Separator), ""))
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		panic(err)
	}
	fmt.Println(bytes.Contains(page, []byte(`<div id="chain-status" class="badge ok" data-status="ok">chain verified: 3 entries</div>`)))
	// Output:
	// 0 wrote report.html: 3 entries, 2 agents, 1 denials, chain verified
	// true
}
