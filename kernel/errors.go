package kernel

import (
	"errors"
	"fmt"

	"github.com/agent-os/agentos"
)

// ErrRecorder is wrapped by the error of a syscall whose flight-recorder
// entry could not be appended. When the decision entry fails the syscall
// fails closed: nothing was executed. When the outcome entry fails the
// effect has already happened: the syscall returns its result together with
// this error, and the failure is logged.
var ErrRecorder = errors.New("kernel: flight recorder failed")

// AgentPanic is the error [Kernel.Run] returns when agent code panicked. The
// panic was recorded and the agent killed; errors.Is(err, agentos.ErrKilled)
// holds.
type AgentPanic struct {
	Agent agentos.AgentID
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *AgentPanic) Error() string {
	return fmt.Sprintf("kernel: agent %s panicked and was killed: %v", e.Agent, e.Value)
}

// Unwrap returns agentos.ErrKilled, and the panic value when it is an error.
func (e *AgentPanic) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{agentos.ErrKilled, err}
	}
	return []error{agentos.ErrKilled}
}
