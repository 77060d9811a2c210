package mute

import (
	"errors"
	"fmt"
)

// Sentinel errors. Methods document which of them they return; match them
// with errors.Is.
var (
	// ErrInvalidPlan: a plan that does not decode or is not well formed
	// (unknown fields, unknown step ids, cycles, too many steps).
	ErrInvalidPlan = errors.New("mute: invalid plan")
	// ErrCycle: the plan's steps depend on each other in a cycle. It
	// matches ErrInvalidPlan too.
	ErrCycle = fmt.Errorf("%w: dependency cycle", ErrInvalidPlan)
	// ErrOutOfScope: the graph has no action for the goal; there is no
	// answer rather than a guess.
	ErrOutOfScope = errors.New("mute: goal out of scope")
	// ErrIllegalTransition: a session was asked to move between two states
	// the transition table does not link.
	ErrIllegalTransition = errors.New("mute: illegal transition")
	// ErrRejected: validation or the dry run found violations.
	ErrRejected = errors.New("mute: plan rejected")
	// ErrStepFailed: a step failed during execution.
	ErrStepFailed = errors.New("mute: step failed")
	// ErrSubject: the executing agent is not the subject the plan was
	// validated for.
	ErrSubject = errors.New("mute: agent is not the validated subject")
	// ErrInvalidGraph: a graph node or edge that is not well formed.
	ErrInvalidGraph = errors.New("mute: invalid graph")
)

// TransitionError is the error of an illegal state transition. It matches
// [ErrIllegalTransition].
type TransitionError struct {
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("mute: illegal transition %s -> %s", e.From, e.To)
}

// Unwrap returns [ErrIllegalTransition].
func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }

// StepError is the error of a failed step. It matches [ErrStepFailed] and
// the step's own error.
type StepError struct {
	StepID string
	Tool   string
	Err    error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("mute: step %q (%s) failed: %v", e.StepID, e.Tool, e.Err)
}

// Unwrap returns [ErrStepFailed] and the step's error.
func (e *StepError) Unwrap() []error { return []error{ErrStepFailed, e.Err} }

// RejectedError carries the violations that rejected a plan. It matches
// [ErrRejected], and [ErrOutOfScope] when one violation is
// [ViolationOutOfScope].
type RejectedError struct {
	Violations []Violation
}

func (e *RejectedError) Error() string {
	if len(e.Violations) == 0 {
		return "mute: plan rejected"
	}
	return fmt.Sprintf("mute: plan rejected: %d violation(s), first: %s", len(e.Violations), e.Violations[0])
}

// Unwrap returns [ErrRejected], with [ErrOutOfScope] when the goal is out of
// scope.
func (e *RejectedError) Unwrap() []error {
	errs := []error{ErrRejected}
	for _, v := range e.Violations {
		if v.Kind == ViolationOutOfScope {
			errs = append(errs, ErrOutOfScope)
			break
		}
	}
	return errs
}
