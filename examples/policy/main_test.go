package main

import "testing"

// TestRun runs the example on its default policy file, as
// "go run ./examples/policy" does, so that it cannot rot.
func TestRun(t *testing.T) {
	if err := run(defaultPolicy()); err != nil {
		t.Fatal(err)
	}
}
