package agentos

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by every package. Test for them with errors.Is;
// packages wrap them with detail.
var (
	ErrDenied     = errors.New("agentos: denied by policy")
	ErrKilled     = errors.New("agentos: agent killed")
	ErrStopped    = errors.New("agentos: agent stopped")
	ErrPanicked   = errors.New("agentos: kernel panicked")
	ErrClosed     = errors.New("agentos: closed")
	ErrNotFound   = errors.New("agentos: not found")
	ErrReadOnly   = errors.New("agentos: read-only")
	ErrAppendOnly = errors.New("agentos: append-only")
	ErrQuota      = errors.New("agentos: quota exceeded")
	ErrUntrusted  = errors.New("agentos: untrusted")
	ErrInvalid    = errors.New("agentos: invalid argument")
)

// PolicyViolation is the error a syscall returns when policy did not permit
// it. errors.Is(err, ErrDenied) is true for it, whatever the effect (a deny,
// or an approve that was not granted).
type PolicyViolation struct {
	Action   Action
	Decision Decision
}

func (e *PolicyViolation) Error() string {
	return fmt.Sprintf("agentos: %s denied: %s", e.Action, e.Decision)
}

// Is makes errors.Is(err, ErrDenied) true.
func (e *PolicyViolation) Is(target error) bool { return target == ErrDenied }
