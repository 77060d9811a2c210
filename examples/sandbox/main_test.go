package main

import (
	"context"
	"errors"
	"os"
	"testing"
)

// TestMain lets the test binary serve as the example's tool, as the
// program itself does: run with "connect ADDR" it is the tool.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "connect" {
		connect(os.Args[2])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun runs the example as "sudo go run ./examples/sandbox" does, so
// that it cannot rot. Without root and eBPF it skips, except under
// AGENTOS_REQUIRE_BPF (set by .ci/run), where that is a failure.
func TestRun(t *testing.T) {
	err := run(context.Background())
	if errors.Is(err, errors.ErrUnsupported) && os.Getenv("AGENTOS_REQUIRE_BPF") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
}
