package amb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"time"
)

// Priority orders messages waiting for the same subscriber: higher first.
// The zero value is [PriorityNormal]. Whether an implementation reorders by
// priority is reported by [Capabilities.PriorityOrder]; one that does not
// still carries the value end to end.
type Priority int8

// Common priorities. Any int8 value is valid.
const (
	PriorityLow      Priority = -10
	PriorityNormal   Priority = 0
	PriorityHigh     Priority = 10
	PriorityCritical Priority = 20
)

// Well-known header names. Headers are case-sensitive.
const (
	HeaderTraceID = "Trace-Id" // trace id linking the message to a syscall (agentos.Action.ID)
	HeaderSender  = "Sender"   // the sending agent (agentos.AgentID)
)

// ReservedHeaderPrefixes are header-name prefixes used by the buses
// themselves (compared case-insensitively). A published message may not
// carry them; a delivered dead letter does.
var ReservedHeaderPrefixes = []string{"Amb-", "Nats-"}

// Headers a bus adds to a dead letter (see [DeadLetterTopic]).
const (
	HeaderDeadCause    = "Amb-Dead-Cause"    // a DeadCause value
	HeaderDeadReason   = "Amb-Dead-Reason"   // human-readable detail (the handler's error, the panic value)
	HeaderDeadTopic    = "Amb-Dead-Topic"    // the original topic
	HeaderDeadID       = "Amb-Dead-Id"       // the original message id
	HeaderDeadSeq      = "Amb-Dead-Seq"      // the original sequence number, when it had one
	HeaderDeadAttempts = "Amb-Dead-Attempts" // deliveries attempted
	HeaderDeadSub      = "Amb-Dead-Sub"      // the subscription (pattern or durable name) that gave up
)

// DeadCause says why a message was dead-lettered.
type DeadCause string

// The causes of a dead letter.
const (
	DeadHandlerError DeadCause = "handler-error" // the handler kept returning an error until retries ran out
	DeadPanic        DeadCause = "panic"         // the handler panicked (recovered); panics are not retried
	DeadExpired      DeadCause = "expired"       // the message's Expires passed before delivery
	DeadOverflow     DeadCause = "overflow"      // evicted from a full subscriber queue
	DeadQueueFull    DeadCause = "queue-full"    // a full queue did not drain within the block timeout
	DeadMaxDeliver   DeadCause = "max-deliver"   // the broker exhausted its deliveries (e.g. ack timeouts)
	DeadMalformed    DeadCause = "malformed"     // the stored frame could not be decoded
)

// Message is one message on the bus. Publish fills ID (random) and Time
// (the bus clock) when they are zero, and sets Topic to the topic published
// to. Payload is opaque bytes; ContentType describes it (a MIME type such as
// "application/json"). Expires, when set, is the instant after which the
// message is no longer delivered but dead-lettered with [DeadExpired].
//
// A Message handed to a handler is the handler's own copy.
type Message struct {
	ID          string
	Topic       string
	Payload     []byte
	ContentType string
	Headers     map[string]string
	Priority    Priority
	Time        time.Time
	Expires     time.Time
}

// Clone returns a deep copy of m.
func (m Message) Clone() Message {
	c := m
	if m.Payload != nil {
		c.Payload = append([]byte(nil), m.Payload...)
	}
	if m.Headers != nil {
		c.Headers = maps.Clone(m.Headers)
	}
	return c
}

// Header returns the value of header name, or "".
func (m Message) Header(name string) string { return m.Headers[name] }

// Expired reports whether m has an expiry at or before now.
func (m Message) Expired(now time.Time) bool {
	return !m.Expires.IsZero() && !now.Before(m.Expires)
}

// size is the number of bytes m counts against [Limits.MaxMessageBytes]:
// payload, topic, id, content type and headers.
func (m Message) size() int {
	n := len(m.Payload) + len(m.Topic) + len(m.ID) + len(m.ContentType)
	for k, v := range m.Headers {
		n += len(k) + len(v)
	}
	return n
}

// NewID returns a random message id (32 hex digits).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b[:])
}

// Delivery is one message handed to a [Handler], with delivery metadata.
type Delivery struct {
	Message
	// Seq is the message's sequence number in the bus's retained log (the
	// stream sequence on JetStream). It is 0 for requests, which are not
	// retained.
	Seq uint64
	// Stored is when the bus stored the message (its own clock for the
	// memory bus, the server's for JetStream); [StartAtTime] compares with
	// it. Zero for requests.
	Stored time.Time
	// Attempt counts deliveries of this message to this subscription,
	// starting at 1.
	Attempt int

	reply replier
}

type replier interface {
	respond(ctx context.Context, m Message) error
}

// IsRequest reports whether the delivery is a request that expects a reply
// through [Delivery.Respond].
func (d Delivery) IsRequest() bool { return d.reply != nil }

// Respond answers a request. Only the first reply to a request reaches the
// requester; later ones are discarded without error. The reply is validated
// like a published message. It returns [ErrNotRequest] when d is not a
// request.
func (d Delivery) Respond(ctx context.Context, m Message) error {
	if d.reply == nil {
		return ErrNotRequest
	}
	return d.reply.respond(ctx, m)
}

// NewDelivery builds a Delivery for implementations outside this package.
// respond is nil for a delivery that is not a request.
func NewDelivery(m Message, seq uint64, stored time.Time, attempt int, respond func(ctx context.Context, m Message) error) Delivery {
	d := Delivery{Message: m, Seq: seq, Stored: stored, Attempt: attempt}
	if respond != nil {
		d.reply = replyFunc(respond)
	}
	return d
}

type replyFunc func(ctx context.Context, m Message) error

func (f replyFunc) respond(ctx context.Context, m Message) error { return f(ctx, m) }

// Handler processes one delivery. Returning nil acknowledges it; returning
// an error makes the bus retry it (see [Retry]) and dead-letter it when the
// attempts run out. A panic is recovered and the message dead-lettered at
// once. ctx is cancelled when the subscription or bus is closed.
//
// A subscription's handler is never called concurrently with itself.
type Handler func(ctx context.Context, d Delivery) error
