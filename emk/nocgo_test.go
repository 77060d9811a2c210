//go:build !cgo

package emk_test

import (
	"errors"
	"testing"

	"github.com/agent-os/agentos/emk"
)

// Without cgo the package builds, and Open says plainly why it cannot work.
func TestOpenWithoutCgo(t *testing.T) {
	_, err := emk.Open("")
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Open without cgo: got %v, want an error wrapping errors.ErrUnsupported", err)
	}
}
