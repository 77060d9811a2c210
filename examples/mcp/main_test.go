package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRun runs the example as "go run ./examples/mcp" does, so that it
// cannot rot: it fails when the program would exit non-zero, and checks
// that the output shows what the example promises.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"QUARANTINED: github.add (findings",
		"agent-os/agentos#42: Flaky test in CI (open)",
		"denied by rule no-destructive-tools: destructive operations need a human (upstream calls: 0)",
		"denied by rule unregistered-tools: the tool is not in the registry (never approved, or quarantined) (upstream calls: 0)",
		"event: quarantined github.read_issue (changed)",
		"read_issue calls that reached the upstream: 1",
		"chain verified",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
