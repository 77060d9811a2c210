//go:build !cgo

package recorder_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/recorder/recordertest"
)

// Without cgo the package builds, the in-memory recorder works, and
// opening a file says plainly why it cannot work.
func TestOpenWithoutCgo(t *testing.T) {
	r, err := recorder.Open("", nil)
	if err != nil {
		t.Fatalf("Open in memory without cgo: %v", err)
	}
	defer r.Close()
	ctx := context.Background()
	for i := range 10 {
		if _, err := r.Append(ctx, recordertest.Sample(i)); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if rep, err := r.Verify(ctx); err != nil || !rep.OK || rep.Entries != 10 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
	_, err = recorder.Open(filepath.Join(t.TempDir(), "rec.db"), nil)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Open of a file without cgo: got %v, want an error wrapping errors.ErrUnsupported", err)
	}
}
