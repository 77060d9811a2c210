package kernel

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// Every message an agent sends or receives through the kernel — a value
// crossing a pipe ([Agent.Gate]) or a bus message ([Agent.Publish],
// [Agent.Request], a delivery to [Agent.Subscribe], a reply — is an
// agentos.OpSend syscall. Policy tells them apart by action.meta.direction,
// which the kernel always sets, so that a rule may test it without a has()
// guard; the other keys are set where they apply.
const (
	// MetaDirection is the meta key naming the kind of send: one of the
	// Direction constants.
	MetaDirection = "direction"
	// MetaSender is, on a delivery, the Sender header of the message as it
	// arrived (see [Agent.Subscribe] for how far it can be trusted).
	MetaSender = "sender"
	// MetaTrace is, on a delivery or a reply, the Trace-Id header of the
	// message: the trace of the sender's syscall when a kernel sent it.
	MetaTrace = "trace"
	// MetaPattern is, on a delivery, the pattern the agent subscribed with.
	MetaPattern = "pattern"
	// MetaRequester is, on a reply, the Sender header of the request.
	MetaRequester = "requester"
)

// Values of action.meta.direction.
const (
	DirectionPipe    = "pipe"    // a value crossing a pipe to agent action.target
	DirectionPublish = "publish" // a message published on topic action.target
	DirectionRequest = "request" // a request on topic action.target
	DirectionReceive = "receive" // a message on topic action.target delivered to the agent
	DirectionReply   = "reply"   // the agent's reply to a request it received on topic action.target
)

// Rules the kernel refuses sends by, before policy is consulted; see also
// [RuleUnknownOp] and the others.
const (
	RuleReceiver    = "kernel.receiver"     // a pipe's receiver is not a live agent of this kernel
	RuleTopic       = "kernel.topic"        // a bus topic that is malformed or reserved
	RulePayloadType = "kernel.payload-type" // a payload type that is empty, over-long or not printable UTF-8
)

// MaxPayloadTypeLen is the longest payload type name a send may carry, in
// bytes.
const MaxPayloadTypeLen = 256

var (
	// ErrNoReceiver is the cause of a pipe crossing refused because its
	// receiver is not a live agent of this kernel (never spawned, killed,
	// or reaped). It matches agentos.ErrNotFound.
	ErrNoReceiver = fmt.Errorf("kernel: the receiver is not a live agent: %w", agentos.ErrNotFound)
	// ErrNoBus is returned by the bus methods of an [Agent] whose kernel was
	// built without [WithBus]. It matches agentos.ErrInvalid.
	ErrNoBus = fmt.Errorf("kernel: no message bus (see WithBus): %w", agentos.ErrInvalid)
	// ErrShadowed is returned, in shadow mode ([WithShadow]), by a pipe
	// crossing and by a bus delivery that policy permitted: the send was
	// recorded with status "shadow" but did not happen, so the value does not
	// reach the next stage and the handler is not called.
	ErrShadowed = errors.New("kernel: shadow mode: the send was recorded, not executed")
)

// checkPayloadType validates a payload type name before policy sees it.
func checkPayloadType(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("kernel: %w: empty payload type", agentos.ErrInvalid)
	case len(s) > MaxPayloadTypeLen:
		return fmt.Errorf("kernel: %w: payload type longer than %d bytes", agentos.ErrInvalid, MaxPayloadTypeLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("kernel: %w: payload type is not valid UTF-8", agentos.ErrInvalid)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("kernel: %w: payload type %q has control characters", agentos.ErrInvalid, s)
	}
	return nil
}

// joinDetail joins two Detail texts with "; ", dropping empty ones.
func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return truncateString(a+"; "+b, maxErrorRecorded)
}
