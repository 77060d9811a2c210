//go:build !cgo

package recorder_test

import (
	"errors"
	"testing"

	"github.com/agent-os/agentos/recorder"
)

// Without cgo the package builds, and Open says plainly why it cannot work.
func TestOpenWithoutCgo(t *testing.T) {
	_, err := recorder.Open("", nil)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Open without cgo: got %v, want an error wrapping errors.ErrUnsupported", err)
	}
}
