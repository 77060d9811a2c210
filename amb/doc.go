// Package amb is the agent message bus: topics, publish/subscribe with
// wildcards, request/reply, priorities, bounded queues with backpressure, a
// dead-letter queue and replay. Agents use it when they are many, or spread
// over processes and machines; inside one process, typed pipes (package
// ipc) are usually simpler.
//
// # Usage
//
// [Bus] is the interface; [NewMemory] returns the in-process
// implementation and package amb/natsbus one on NATS JetStream. Both pass
// the same conformance suite (package amb/ambtest).
//
//	bus := amb.NewMemory(nil)
//	defer bus.Close()
//	sub, err := bus.Subscribe(ctx, "agents.*.inbox", func(ctx context.Context, d amb.Delivery) error {
//		return handle(d.Payload) // nil acks; an error retries, then dead-letters
//	})
//	err = bus.Publish(ctx, "agents.summarizer.inbox", amb.Message{Payload: data})
//	reply, err := bus.Request(ctx, "svc.lookup", amb.Message{Payload: q}) // the handler calls d.Respond
//
// Topics are dot-separated tokens ("agents.a1.inbox"). Patterns use NATS
// wildcards: "*" matches one token, a final ">" one or more. Topics whose
// first token starts with "_" are reserved: dead letters of topic T are
// published on "_dlq."+T ([DeadLetterTopic]) with Amb-Dead-* headers saying
// why ([DeadCause]), and are retained and replayable like other messages.
// A leading wildcard never matches the reserved namespace, so ">" does not
// receive dead letters.
//
// A handler's error makes the bus redeliver the message ([Retry]: attempts
// and backoff); when the attempts run out, or at once for a panic (which
// is recovered) or an expired message, it is dead-lettered. Every input is
// validated against [Limits] (topic length and tokens, header names,
// values and count, message size); errors wrap agentos.ErrInvalid and a
// specific sentinel such as [ErrTooLarge].
//
// # Concurrency
//
// Buses are safe for concurrent use. Each subscription's handler is called
// from goroutines the bus owns, one call at a time; Unsubscribe and Close
// cancel the handler's ctx and wait for those goroutines. Close is
// idempotent and makes later calls return [ErrClosed].
//
// # Caveats
//
// The memory bus delivers highest priority first and retries a failing
// message before later ones; the JetStream bus carries the priority but
// delivers in stream order and retries out of order. [Capabilities]
// reports such differences. The memory bus is not durable; its retention
// is bounded by [Options.MaxRetained] and [Options.MaxAge]. Its overflow
// policy ([OverflowBlock] by default, or [OverflowDropLowest]) decides what
// a full subscriber queue does; a message refused or evicted is counted in
// [Stats.Dropped] and dead-lettered, never lost silently.
package amb
