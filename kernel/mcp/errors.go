package mcp

import (
	"errors"
	"fmt"

	"github.com/agent-os/agentos"
)

// Sentinel errors of the gateway. Each wraps one of the root package's
// sentinels, so a caller that only knows those still classifies them.
var (
	// ErrQuarantined is returned by a call to an upstream tool that is
	// quarantined: its definition had findings at or above the threshold,
	// changed since it was pinned (a rug pull), appeared after Connect and
	// was not approved, or has a name the gateway cannot register. It wraps
	// [agentos.ErrUntrusted]. The error names the tool and the reason.
	ErrQuarantined = fmt.Errorf("mcp: tool quarantined: %w", agentos.ErrUntrusted)
	// ErrUpstream is wrapped by the error of a call the upstream server did
	// not answer: a transport error, a call past its timeout (the error also
	// matches context.DeadlineExceeded), or an upstream that is gone.
	ErrUpstream = errors.New("mcp: upstream failed")
	// ErrToolFailed is wrapped by the [*ToolError] of a call the upstream
	// answered with an error result (isError).
	ErrToolFailed = errors.New("mcp: upstream tool failed")
	// ErrStale is returned by [Upstream.Approve] when the definition to
	// approve is no longer the one the upstream offers: it changed after
	// the operator looked at it. It wraps [agentos.ErrInvalid].
	ErrStale = fmt.Errorf("mcp: definition changed since it was reviewed: %w", agentos.ErrInvalid)
	// ErrPins is wrapped by the errors of [LoadPins] for input that is not a
	// valid pin file. It wraps [agentos.ErrInvalid].
	ErrPins = fmt.Errorf("mcp: invalid pin file: %w", agentos.ErrInvalid)
)

// ToolError is the error of a call that the upstream answered with an error
// result. errors.Is(err, ErrToolFailed) holds.
type ToolError struct {
	Tool    string // the gateway's name of the tool
	Message string // the text content of the error result, cut to MaxErrorText bytes
}

func (e *ToolError) Error() string { return fmt.Sprintf("mcp: tool %s failed: %s", e.Tool, e.Message) }

// Unwrap returns [ErrToolFailed].
func (e *ToolError) Unwrap() error { return ErrToolFailed }
