package amb

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Bus is a message bus: publish/subscribe on dot-separated topics with
// NATS-style wildcards, and request/reply. Implementations are safe for
// concurrent use.
//
// Errors: Publish, Subscribe and Request return errors wrapping
// agentos.ErrInvalid ([ErrInvalidTopic], [ErrInvalidHeader],
// [ErrInvalidMessage], [ErrTooLarge]) for bad input, [ErrClosed] after
// Close, and ctx.Err() when ctx ends first. Request also returns
// [ErrNoResponders], [ErrTimeout] and [ErrHandlerFailed].
type Bus interface {
	// Publish stores m on topic and delivers it to every subscription whose
	// pattern matches. m.Topic is set to topic; an empty m.ID and a zero
	// m.Time are filled in.
	Publish(ctx context.Context, topic string, m Message) error
	// Subscribe calls h for each message matching pattern (see [Match])
	// until the subscription is unsubscribed or the bus closed. ctx bounds
	// only the setup, not the subscription's life.
	Subscribe(ctx context.Context, pattern string, h Handler, opts ...SubOption) (Subscription, error)
	// Request sends m to the subscriptions matching topic and returns the
	// first reply. It waits until ctx's deadline, or the bus's default
	// request timeout when ctx has none.
	Request(ctx context.Context, topic string, m Message) (Message, error)
	// Close unsubscribes everything, waits for every goroutine the bus
	// started, and unblocks waiting callers with [ErrClosed]. It is
	// idempotent.
	Close() error
}

// Subscription is a live subscription. Unsubscribe stops delivery and waits
// for the subscription's goroutines to return; it is idempotent. It must not
// be called from the subscription's own handler, which it would wait for.
type Subscription interface {
	Pattern() string
	Unsubscribe() error
}

// Capabilities describe guarantees that differ between implementations.
// The conformance suite (package ambtest) tests a guarantee only where an
// implementation declares it.
type Capabilities struct {
	// PriorityOrder: messages waiting for one subscriber are delivered
	// highest priority first. Without it, Priority is carried but not acted on.
	PriorityOrder bool
	// Durable: acknowledged messages survive a restart of the bus's
	// process or server.
	Durable bool
	// OrderedRetry: a failing message is retried before later messages are
	// delivered to the same subscriber, so per-subscriber order holds
	// across retries.
	OrderedRetry bool
}

// Capable is implemented by buses that report their [Capabilities].
type Capable interface {
	Capabilities() Capabilities
}

// Stats are a bus's counters since it was created (for a networked bus,
// what this process observed).
type Stats struct {
	Published    uint64 // messages accepted by Publish
	Delivered    uint64 // handler calls that returned nil
	Failed       uint64 // handler calls that returned an error or panicked
	Retried      uint64 // redeliveries scheduled after a failure
	Panics       uint64 // handler panics recovered
	Expired      uint64 // messages dead-lettered because they expired
	Dropped      uint64 // messages evicted from or refused by a full subscriber queue
	DeadLettered uint64 // dead letters published
	DeadLost     uint64 // dead letters that could not be stored (bus closing, DLQ subscriber full, a dead letter's own failure)
}

// StatsReporter is implemented by buses that count what they do.
type StatsReporter interface {
	Stats() Stats
}

// Retry is the redelivery policy for handler errors.
type Retry struct {
	// MaxAttempts is the number of deliveries before a failing message is
	// dead-lettered; default 3. 1 means no retry.
	MaxAttempts int
	// Backoff returns the wait before attempt n+1 after attempt n failed;
	// default [ExponentialBackoff](50ms, 5s).
	Backoff func(attempt int) time.Duration
}

// WithDefaults fills zero fields.
func (r Retry) WithDefaults() Retry {
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 3
	}
	if r.Backoff == nil {
		r.Backoff = ExponentialBackoff(50*time.Millisecond, 5*time.Second)
	}
	return r
}

// ExponentialBackoff returns base·2^(attempt-1), capped at max.
func ExponentialBackoff(base, max time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		return min(d, max)
	}
}

// Options are the settings every implementation shares. The zero value
// means defaults.
type Options struct {
	Limits Limits
	Retry  Retry
	// Clock stamps Message.Time and decides expiry; default time.Now.
	Clock func() time.Time
	// RequestTimeout applies to a Request whose ctx has no deadline;
	// default 5s.
	RequestTimeout time.Duration
	// MaxRetained and MaxAge bound retention for replay: the oldest
	// messages are discarded beyond either. Defaults: 10000 messages
	// (memory bus), 24h.
	MaxRetained int
	MaxAge      time.Duration
}

// WithDefaults fills zero fields.
func (o Options) WithDefaults() Options {
	o.Limits = o.Limits.WithDefaults()
	o.Retry = o.Retry.WithDefaults()
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.MaxRetained <= 0 {
		o.MaxRetained = 10000
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 24 * time.Hour
	}
	return o
}

// StartPolicy says where a new subscription starts reading.
type StartPolicy int

// Start policies.
const (
	StartNew  StartPolicy = iota // only messages published after Subscribe (default)
	StartAll                     // every retained message, then new ones
	StartSeq                     // retained messages from SubConfig.StartSeq on
	StartTime                    // retained messages stored at or after SubConfig.StartTime
)

// SubConfig is the result of applying [SubOption]s; implementations read it
// with [NewSubConfig].
type SubConfig struct {
	Start     StartPolicy
	StartSeq  uint64
	StartTime time.Time
	// Durable names the subscription so that a broker keeps its position
	// across reconnects and restarts (JetStream durable consumer). The
	// memory bus accepts and ignores it.
	Durable string
}

// SubOption configures a subscription.
type SubOption func(*SubConfig) error

// NewSubConfig applies opts. Errors wrap [ErrInvalidOption].
func NewSubConfig(opts ...SubOption) (SubConfig, error) {
	var c SubConfig
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return SubConfig{}, err
		}
	}
	return c, nil
}

// DeliverAll starts the subscription at the oldest retained message.
func DeliverAll() SubOption {
	return func(c *SubConfig) error { c.Start = StartAll; return nil }
}

// StartAtSeq starts the subscription at retained sequence seq (≥ 1).
func StartAtSeq(seq uint64) SubOption {
	return func(c *SubConfig) error {
		if seq == 0 {
			return fmt.Errorf("%w: start sequence must be at least 1", ErrInvalidOption)
		}
		c.Start, c.StartSeq = StartSeq, seq
		return nil
	}
}

// StartAtTime starts the subscription at the first retained message stored
// at or after t (see [Delivery.Stored]).
func StartAtTime(t time.Time) SubOption {
	return func(c *SubConfig) error {
		if t.IsZero() {
			return fmt.Errorf("%w: zero start time", ErrInvalidOption)
		}
		c.Start, c.StartTime = StartTime, t
		return nil
	}
}

// Durable names the subscription (1 to 64 ASCII letters, digits, '-' and
// '_'). With JetStream the name identifies a durable consumer: a second
// subscription with the same name resumes where the first stopped.
func Durable(name string) SubOption {
	return func(c *SubConfig) error {
		if name == "" || len(name) > 64 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return fmt.Errorf("%w: durable name %q", ErrInvalidOption, name)
		}
		c.Durable = name
		return nil
	}
}
