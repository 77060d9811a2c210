package main

import (
	"context"
	"testing"
	"time"
)

// TestRun runs the example as "go run ./examples/trust" does, so that it
// cannot rot: it fails when the program would exit non-zero.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		t.Fatal(err)
	}
}
