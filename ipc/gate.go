package ipc

import (
	"context"
	"errors"
	"fmt"

	"github.com/agent-os/agentos"
)

// Gate decides whether a value may cross from one stage of a pipe to the
// next. The kernel provides Gates bound to a (from, to) agent pair; each
// Admit is then an OpSend syscall from the sending agent to the receiving
// one, decided by policy and recorded.
//
// Admit returns nil to let the value through. A policy denial is an error
// that is, or wraps, a *[agentos.PolicyViolation]; any other error means the
// gate could not decide, and the value does not cross either (fail closed).
// Admit may be called from several goroutines at once.
type Gate interface {
	Admit(ctx context.Context, c Crossing) error
}

// Crossing is one value asking to cross a gate.
type Crossing struct {
	// PayloadType is the package-qualified name of the value's static type,
	// as [TypeName] spells it; policies test it as action.payloadType.
	PayloadType string
	// Value is the value itself, for gates whose policy looks at content.
	Value any
}

// GateFunc adapts a function to a [Gate].
type GateFunc func(ctx context.Context, c Crossing) error

// Admit calls f(ctx, c).
func (f GateFunc) Admit(ctx context.Context, c Crossing) error { return f(ctx, c) }

var _ Gate = GateFunc(nil)

// ErrNoGate is the cause of every refusal by a [PolicyCheck] made with a
// nil Gate: it admits nothing.
var ErrNoGate = errors.New("ipc: no gate")

// GateError is the error of a crossing refused because its [Gate] failed to
// decide (the gate returned an error that is not a policy violation, or
// there was no gate). errors.Is(err, agentos.ErrDenied) holds for it, as for
// a *agentos.PolicyViolation: the value was not forwarded either way.
type GateError struct {
	PayloadType string
	Err         error
}

func (e *GateError) Error() string {
	return fmt.Sprintf("ipc: crossing of %s refused: gate failed: %v", e.PayloadType, e.Err)
}

// Unwrap returns the gate's error.
func (e *GateError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, agentos.ErrDenied) true.
func (e *GateError) Is(target error) bool { return target == agentos.ErrDenied }

// Check is the stage made by [PolicyCheck]. It is safe for concurrent use if
// its Gate is.
type Check[T any] struct {
	gate Gate
	name string
}

var _ Stage[int, int] = (*Check[int])(nil)

// PolicyCheck returns a stage that passes each value on unchanged if gate
// admits it, and otherwise fails that element: nothing is forwarded, so the
// next stage never sees it. The crossing's PayloadType is [TypeName][T](),
// computed once here.
//
// Process returns, for a refused value, the gate's error unchanged when it
// is or wraps a *[agentos.PolicyViolation], and a *[GateError] otherwise
// (including a nil gate, which refuses everything with [ErrNoGate]). For
// both, errors.Is(err, agentos.ErrDenied) is true. Under Stream the error
// becomes that element's Result.Err and the stream goes on.
func PolicyCheck[T any](gate Gate) *Check[T] {
	return &Check[T]{gate: gate, name: TypeName[T]()}
}

// PayloadType returns the name the check puts in each Crossing.
func (c *Check[T]) PayloadType() string { return c.name }

// Process asks the gate to admit v and returns v if it does.
func (c *Check[T]) Process(ctx context.Context, v T) (T, error) {
	var zero T
	if c.gate == nil {
		return zero, &GateError{PayloadType: c.name, Err: ErrNoGate}
	}
	err := c.gate.Admit(ctx, Crossing{PayloadType: c.name, Value: v})
	if err == nil {
		return v, nil
	}
	if pv := (*agentos.PolicyViolation)(nil); errors.As(err, &pv) {
		return zero, err
	}
	return zero, &GateError{PayloadType: c.name, Err: err}
}
