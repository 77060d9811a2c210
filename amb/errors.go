package amb

import (
	"errors"
	"fmt"

	"github.com/agent-os/agentos"
)

// Sentinel errors. The validation errors wrap [agentos.ErrInvalid] and the
// closed-bus error wraps [agentos.ErrClosed], so callers may test either the
// specific or the shared sentinel with errors.Is.
var (
	// ErrInvalidTopic: a topic or pattern is empty, too long, has an empty
	// token, whitespace, a wildcard where none is allowed, or names the
	// reserved namespace (a first token starting with "_").
	ErrInvalidTopic = fmt.Errorf("amb: invalid topic: %w", agentos.ErrInvalid)
	// ErrInvalidHeader: a header name or value is malformed, too long,
	// reserved, or there are too many headers.
	ErrInvalidHeader = fmt.Errorf("amb: invalid header: %w", agentos.ErrInvalid)
	// ErrTooLarge: a message exceeds [Limits.MaxMessageBytes].
	ErrTooLarge = fmt.Errorf("amb: message too large: %w", agentos.ErrInvalid)
	// ErrInvalidMessage: a message is malformed in another way (bad id,
	// content type or expiry), or a wire frame could not be decoded.
	ErrInvalidMessage = fmt.Errorf("amb: invalid message: %w", agentos.ErrInvalid)
	// ErrInvalidOption: a subscription option is malformed.
	ErrInvalidOption = fmt.Errorf("amb: invalid option: %w", agentos.ErrInvalid)
	// ErrClosed: the bus or subscription was closed.
	ErrClosed = fmt.Errorf("amb: bus closed: %w", agentos.ErrClosed)
	// ErrNoResponders: a request found no subscriber for its topic.
	ErrNoResponders = errors.New("amb: no responders")
	// ErrTimeout: a request got no reply before its deadline. Errors
	// carrying it also satisfy errors.Is(err, context.DeadlineExceeded).
	ErrTimeout = errors.New("amb: request timed out")
	// ErrHandlerFailed: the responder's handler returned an error or
	// panicked instead of replying.
	ErrHandlerFailed = errors.New("amb: responder failed")
	// ErrNotRequest: Respond was called on a delivery that was not a request.
	ErrNotRequest = errors.New("amb: delivery is not a request")
	// ErrQueueFull: a subscriber's queue stayed full past the block timeout
	// (memory bus, [OverflowBlock]); the message was dead-lettered for that
	// subscriber.
	ErrQueueFull = fmt.Errorf("amb: subscriber queue full: %w", agentos.ErrQuota)
)
