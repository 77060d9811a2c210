package vfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/agent-os/agentos"
)

// kindError pairs one of the agentos sentinels with the io/fs sentinel of the
// same meaning, so that errors.Is succeeds for either: a missing file is both
// agentos.ErrNotFound and fs.ErrNotExist.
type kindError struct {
	ours, std error
}

func (e *kindError) Error() string   { return e.ours.Error() }
func (e *kindError) Unwrap() []error { return []error{e.ours, e.std} }

var (
	errNotExist    = &kindError{agentos.ErrNotFound, fs.ErrNotExist}
	errInvalid     = &kindError{agentos.ErrInvalid, fs.ErrInvalid}
	errReadOnly    = &kindError{agentos.ErrReadOnly, fs.ErrPermission}
	errAppendOnly  = &kindError{agentos.ErrAppendOnly, fs.ErrPermission}
	errExist       = &kindError{agentos.ErrAppendOnly, fs.ErrExist}
	errUnsupported = &kindError{agentos.ErrInvalid, errors.ErrUnsupported}
)

// detail wraps kind with a short reason: "agentos: invalid argument: is a
// directory".
func detail(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
}

// pathError builds the *fs.PathError every namespace method returns. When err
// is itself a *fs.PathError (as mounts return, with a mount-relative path),
// its inner error is kept and the path replaced by the namespace path. The
// inner error is normalised so that the agentos sentinel and the io/fs
// sentinel of the same meaning both match.
func pathError(op agentos.Op, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: string(op), Path: path, Err: normalize(err)}
}

func normalize(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, agentos.ErrNotFound) != errors.Is(err, fs.ErrNotExist):
		if errors.Is(err, agentos.ErrNotFound) {
			return &kindError{err, fs.ErrNotExist}
		}
		return &kindError{err, agentos.ErrNotFound}
	case errors.Is(err, fs.ErrInvalid) && !errors.Is(err, agentos.ErrInvalid):
		return &kindError{err, agentos.ErrInvalid}
	}
	return err
}

// mountError is what mounts in this package return: a *fs.PathError with the
// mount-relative name.
func mountError(op agentos.Op, name string, err error) error {
	return &fs.PathError{Op: string(op), Path: name, Err: err}
}
