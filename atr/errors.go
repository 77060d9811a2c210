package atr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/agent-os/agentos"
)

// Sentinel errors. Each wraps one of the root package's sentinels, so a
// caller that only knows [agentos.ErrInvalid] or [agentos.ErrNotFound] still
// classifies them.
var (
	// ErrInvalidArgs is wrapped by every [*ArgError]: the arguments of a call
	// do not satisfy the tool's input schema. It wraps [agentos.ErrInvalid].
	ErrInvalidArgs error = &sentinel{"atr: invalid tool arguments", agentos.ErrInvalid}
	// ErrInvalidTool is returned by [Registry.Add] and [Register] for a tool
	// whose name, metadata, schema or function is not acceptable. It wraps
	// [agentos.ErrInvalid].
	ErrInvalidTool error = &sentinel{"atr: invalid tool", agentos.ErrInvalid}
	// ErrDuplicate is returned when a tool with the same name and version
	// (semver precedence, so build metadata is ignored) is already
	// registered, or when a name's export form collides with another
	// registered name. It wraps [agentos.ErrInvalid].
	ErrDuplicate error = &sentinel{"atr: duplicate tool", agentos.ErrInvalid}
	// ErrFull is returned when a registry already holds [MaxTools] names, or
	// a name already has [MaxVersionsPerTool] versions. It wraps
	// [agentos.ErrQuota].
	ErrFull error = &sentinel{"atr: registry full", agentos.ErrQuota}
	// ErrNotFound is returned by [Registry.Resolve] when no tool has the
	// name. It wraps [agentos.ErrNotFound].
	ErrNotFound error = &sentinel{"atr: no such tool", agentos.ErrNotFound}
	// ErrNoVersion is returned by [Registry.Resolve] when the name exists
	// but none of its versions satisfies the constraint. It wraps
	// [agentos.ErrNotFound].
	ErrNoVersion error = &sentinel{"atr: no version satisfies the constraint", agentos.ErrNotFound}
	// ErrConstraint is returned for a version constraint or tool reference
	// that does not parse. It wraps [agentos.ErrInvalid].
	ErrConstraint error = &sentinel{"atr: invalid version constraint", agentos.ErrInvalid}
	// ErrPanicked is wrapped by the [*PanicError] that [Tool.Call] returns
	// when the tool's function panics.
	ErrPanicked = errors.New("atr: tool panicked")
	// ErrTimeout is returned by [Tool.Call] when the tool ran past
	// [Meta.Timeout]. The error also matches [context.DeadlineExceeded].
	ErrTimeout = errors.New("atr: tool timed out")
	// ErrNoFunc is returned by [Tool.Call] for a tool with neither a Func
	// nor a typed handler (a zero Tool, or one built by hand without Func).
	ErrNoFunc error = &sentinel{"atr: tool has no function", agentos.ErrInvalid}
	// ErrImport is returned by [ImportMCP] for input that is not a valid MCP
	// tools/list result. It wraps [agentos.ErrInvalid].
	ErrImport error = &sentinel{"atr: invalid MCP tool list", agentos.ErrInvalid}
)

// sentinel is an exported error value that wraps a root sentinel without
// repeating its text, so chains read "atr: invalid tool: ..." rather than
// "atr: invalid tool: agentos: invalid argument: ...".
type sentinel struct {
	msg    string
	parent error
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.parent }

// ArgError reports arguments that do not satisfy a tool's input schema.
// errors.Is(err, ErrInvalidArgs) and errors.Is(err, agentos.ErrInvalid) are
// true for it.
type ArgError struct {
	// Tool is the tool's name.
	Tool string
	// Field is a JSON pointer (RFC 6901) to the offending value in the
	// arguments: "/limit", "/filters/0/op". A missing required property or
	// an unknown property is named by its own pointer. "" is the arguments
	// object itself.
	Field string
	// Reason says what is wrong, in words.
	Reason string
}

func (e *ArgError) Error() string {
	field := e.Field
	if field == "" {
		field = "(root)"
	}
	return fmt.Sprintf("atr: tool %q: invalid argument %s: %s", e.Tool, field, e.Reason)
}

// Unwrap returns [ErrInvalidArgs].
func (e *ArgError) Unwrap() error { return ErrInvalidArgs }

// PanicError is returned by [Tool.Call] when the tool's function panicked.
// errors.Is(err, ErrPanicked) is true for it.
type PanicError struct {
	// Tool is the tool's name.
	Tool string
	// Value is the value passed to panic, formatted with %v.
	Value string
	// Stack is the goroutine's stack at the panic, truncated to
	// [maxStack] bytes.
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("atr: tool %q panicked: %s", e.Tool, e.Value)
}

// Unwrap returns [ErrPanicked].
func (e *PanicError) Unwrap() error { return ErrPanicked }

// pointerEscape escapes one reference token of a JSON pointer (RFC 6901).
func pointerEscape(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}
