package signals

import (
	"errors"
	"fmt"

	"github.com/agent-os/agentos"
)

var errInvalid = agentos.ErrInvalid

// ErrInterrupted is the cause with which SIGINT cancels the contexts of the
// syscalls in flight (wrapped in a *SignalError; read it with
// context.Cause).
var ErrInterrupted = errors.New("signals: syscall interrupted")

// SignalError is the error that carries the signal behind an outcome: the
// termination of an agent (Err is agentos.ErrKilled) or the interruption of
// its syscalls (Err is ErrInterrupted). errors.Is sees through it to Err.
type SignalError struct {
	Agent  agentos.AgentID
	Signal Signal // the signal that caused it (SIGPOLICY, not the SIGKILL it escalated to)
	Reason string
	Err    error
}

func (e *SignalError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("signals: agent %s: %s: %v", e.Agent, e.Signal, e.Err)
	}
	return fmt.Sprintf("signals: agent %s: %s (%s): %v", e.Agent, e.Signal, e.Reason, e.Err)
}

func (e *SignalError) Unwrap() error { return e.Err }
