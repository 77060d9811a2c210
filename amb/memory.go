package amb

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// OverflowPolicy says what the memory bus does when a subscriber's queue is
// full. Neither policy loses a message silently: every message refused or
// evicted is counted in [Stats.Dropped] and published on the dead-letter
// topic (see [DeadLetterTopic]) with cause [DeadQueueFull] or [DeadOverflow].
type OverflowPolicy int

// Overflow policies.
const (
	// OverflowBlock makes Publish wait up to MemoryOptions.BlockTimeout for
	// room (backpressure). When the time runs out the message is
	// dead-lettered for that subscriber and Publish returns an error
	// wrapping [ErrQueueFull]; other subscribers still got it.
	OverflowBlock OverflowPolicy = iota
	// OverflowDropLowest never blocks: the lowest-priority message is
	// evicted (the oldest among equals), which may be the new message
	// itself, and dead-lettered with cause [DeadOverflow].
	OverflowDropLowest
)

// MemoryOptions configure [NewMemory]. A nil *MemoryOptions, or a zero
// field, means the default.
type MemoryOptions struct {
	Options
	// QueueSize bounds each subscriber's queue; default 1024.
	QueueSize int
	// Overflow is the policy for a full queue; default OverflowBlock.
	Overflow OverflowPolicy
	// BlockTimeout bounds the wait under OverflowBlock; default 1s.
	BlockTimeout time.Duration
}

// Memory is the in-process [Bus]. It keeps the last MaxRetained messages
// (for at most MaxAge) for replay, delivers to each subscription from one
// goroutine that it owns, in priority order (highest first, then publish
// order), retries failing handlers with backoff, and dead-letters what it
// cannot deliver. It is safe for concurrent use.
type Memory struct {
	o MemoryOptions

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	seq     uint64
	log     []entry // retained messages, ascending seq
	subs    map[*memSub]struct{}

	wg sync.WaitGroup // delivery goroutines
	st counters
}

var (
	_ Bus           = (*Memory)(nil)
	_ Capable       = (*Memory)(nil)
	_ StatsReporter = (*Memory)(nil)
	_ Subscription  = (*memSub)(nil)
)

type entry struct {
	seq    uint64
	stored time.Time
	msg    Message
}

type counters struct {
	published, delivered, failed, retried, panics, expired, dropped, dead, deadLost atomic.Uint64
}

// NewMemory returns an empty in-memory bus. o may be nil.
func NewMemory(o *MemoryOptions) *Memory {
	var opts MemoryOptions
	if o != nil {
		opts = *o
	}
	opts.Options = opts.Options.WithDefaults()
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.BlockTimeout <= 0 {
		opts.BlockTimeout = time.Second
	}
	return &Memory{o: opts, closing: make(chan struct{}), subs: make(map[*memSub]struct{})}
}

// Capabilities reports priority ordering and in-order retries; the memory
// bus is not durable.
func (b *Memory) Capabilities() Capabilities {
	return Capabilities{PriorityOrder: true, OrderedRetry: true}
}

// Stats returns the bus's counters.
func (b *Memory) Stats() Stats {
	return Stats{
		Published: b.st.published.Load(), Delivered: b.st.delivered.Load(), Failed: b.st.failed.Load(),
		Retried: b.st.retried.Load(), Panics: b.st.panics.Load(), Expired: b.st.expired.Load(),
		Dropped: b.st.dropped.Load(), DeadLettered: b.st.dead.Load(), DeadLost: b.st.deadLost.Load(),
	}
}

// Publish implements [Bus]. Under [OverflowBlock] it may wait for a full
// subscriber queue, and returns an error wrapping [ErrQueueFull] when one
// stays full; the message is then still retained and delivered to the
// other subscribers.
func (b *Memory) Publish(ctx context.Context, topic string, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.o.Limits.ValidateMessage(topic, m); err != nil {
		return err
	}
	m = m.Clone()
	m.Topic = topic
	b.fill(&m)
	return b.publish(ctx, m, false)
}

func (b *Memory) fill(m *Message) {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.Time.IsZero() {
		m.Time = b.o.Clock()
	}
}

func (b *Memory) publish(ctx context.Context, m Message, dead bool) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	now := b.o.Clock()
	b.seq++
	e := entry{seq: b.seq, stored: now, msg: m}
	b.log = append(b.log, e)
	b.trim(now)
	targets := b.matching(m.Topic)
	b.mu.Unlock()
	if dead {
		b.st.dead.Add(1)
	} else {
		b.st.published.Add(1)
	}
	var errs []error
	for _, s := range targets {
		if err := s.enqueue(ctx, &item{msg: m, seq: e.seq, stored: now}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// trim drops retained entries beyond MaxRetained or older than MaxAge.
// Called with b.mu held.
func (b *Memory) trim(now time.Time) {
	n := 0
	for n < len(b.log) && (len(b.log)-n > b.o.MaxRetained || now.Sub(b.log[n].stored) > b.o.MaxAge) {
		b.log[n] = entry{}
		n++
	}
	b.log = b.log[n:]
}

func (b *Memory) matching(topic string) []*memSub {
	var out []*memSub
	for s := range b.subs {
		if Match(s.pattern, topic) {
			out = append(out, s)
		}
	}
	return out
}

// retained returns up to max retained entries with from ≤ seq ≤ to whose
// topic matches pattern.
func (b *Memory) retained(from, to uint64, pattern string, max int) []entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := sort.Search(len(b.log), func(i int) bool { return b.log[i].seq >= from })
	var out []entry
	for ; i < len(b.log) && b.log[i].seq <= to && len(out) < max; i++ {
		if Match(pattern, b.log[i].msg.Topic) {
			out = append(out, b.log[i])
		}
	}
	return out
}

// Subscribe implements [Bus]. Replay options ([DeliverAll], [StartAtSeq],
// [StartAtTime]) deliver the matching retained messages, in sequence order,
// before new ones. [Durable] is accepted and ignored.
func (b *Memory) Subscribe(ctx context.Context, pattern string, h Handler, opts ...SubOption) (Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := b.o.Limits.ValidatePattern(pattern); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidOption)
	}
	cfg, err := NewSubConfig(opts...)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &memSub{
		bus: b, pattern: pattern, h: h, cancel: cancel,
		ready: make(chan struct{}, 1), space: make(chan struct{}),
		done: make(chan struct{}), exited: make(chan struct{}),
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		cancel()
		return nil, ErrClosed
	}
	s.replayFrom, s.replayTo = b.replayRange(cfg)
	b.subs[s] = struct{}{}
	b.wg.Add(1)
	b.mu.Unlock()
	go s.run(sctx)
	return s, nil
}

// replayRange returns the retained sequences a new subscription replays;
// from > to when there is nothing to replay. Called with b.mu held.
func (b *Memory) replayRange(cfg SubConfig) (from, to uint64) {
	to = b.seq
	switch cfg.Start {
	case StartAll:
		from = 1
	case StartSeq:
		from = cfg.StartSeq
	case StartTime:
		i := sort.Search(len(b.log), func(i int) bool { return !b.log[i].stored.Before(cfg.StartTime) })
		if i == len(b.log) {
			return to + 1, to
		}
		from = b.log[i].seq
	default:
		return to + 1, to
	}
	return from, to
}

// Request implements [Bus]. Every matching subscription receives the
// request through its queue; the first reply (or failure) wins.
func (b *Memory) Request(ctx context.Context, topic string, m Message) (Message, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, err
	}
	if err := b.o.Limits.ValidateMessage(topic, m); err != nil {
		return Message{}, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.o.RequestTimeout)
		defer cancel()
	}
	m = m.Clone()
	m.Topic = topic
	b.fill(&m)
	rs := &memReply{bus: b, topic: topic, ch: make(chan replyResult, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return Message{}, ErrClosed
	}
	targets := b.matching(topic)
	b.mu.Unlock()
	if len(targets) == 0 {
		return Message{}, fmt.Errorf("%w: topic %q", ErrNoResponders, topic)
	}
	for _, s := range targets {
		_ = s.enqueue(ctx, &item{msg: m, reply: rs}) // a refused request is counted; the requester waits for another
	}
	select {
	case r := <-rs.ch:
		return r.msg, r.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Message{}, fmt.Errorf("%w: topic %q: %w", ErrTimeout, topic, ctx.Err())
		}
		return Message{}, ctx.Err()
	case <-b.closing:
		return Message{}, ErrClosed
	}
}

type replyResult struct {
	msg Message
	err error
}

type memReply struct {
	bus   *Memory
	topic string
	once  sync.Once
	ch    chan replyResult // capacity 1
}

func (r *memReply) respond(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.bus.o.Limits.ValidateReply(m); err != nil {
		return err
	}
	m = m.Clone()
	m.Topic = r.topic
	r.bus.fill(&m)
	r.once.Do(func() { r.ch <- replyResult{msg: m} })
	return nil
}

func (r *memReply) fail(err error) {
	r.once.Do(func() {
		r.ch <- replyResult{err: fmt.Errorf("%w: topic %q: %v", ErrHandlerFailed, r.topic, err)}
	})
}

// Close implements [Bus]: it stops every subscription, waits for their
// goroutines, and wakes blocked publishers and requesters. Messages still
// queued are not delivered (they stay retained until the bus is dropped).
func (b *Memory) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.closing)
	subs := make([]*memSub, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	clear(b.subs)
	b.mu.Unlock()
	for _, s := range subs {
		s.stop()
	}
	b.wg.Wait()
	return nil
}

// deadLetter publishes a copy of it on the dead-letter topic. A dead letter
// that cannot itself be delivered is counted in DeadLost, never re-queued.
func (b *Memory) deadLetter(it *item, cause DeadCause, reason string, attempts int, sub string) {
	if it.reply != nil {
		return // requests are not retained; the requester sees the failure
	}
	if IsDeadLetterTopic(it.msg.Topic) {
		b.st.deadLost.Add(1)
		return
	}
	dl := DeadLetter(it.msg, cause, reason, it.seq, attempts, sub)
	dl.Time = b.o.Clock()
	if err := b.publish(context.Background(), dl, true); err != nil {
		b.st.deadLost.Add(1)
	}
}

// DeadLetter builds the dead letter for m: the same payload, content type,
// priority and headers, a new id, topic [DeadLetterTopic](m.Topic), no
// expiry, and the Amb-Dead-* headers. reason is cut to 256 bytes. Implementations use it so that dead
// letters look the same on every bus.
func DeadLetter(m Message, cause DeadCause, reason string, seq uint64, attempts int, sub string) Message {
	dl := m.Clone()
	dl.ID = NewID()
	dl.Topic = DeadLetterTopic(m.Topic)
	dl.Expires = time.Time{}
	if dl.Headers == nil {
		dl.Headers = make(map[string]string, 7)
	}
	dl.Headers[HeaderDeadCause] = string(cause)
	if r := SanitizeHeaderValue(reason); r != "" {
		dl.Headers[HeaderDeadReason] = r
	}
	dl.Headers[HeaderDeadTopic] = m.Topic
	if m.ID != "" {
		dl.Headers[HeaderDeadID] = m.ID
	}
	if seq > 0 {
		dl.Headers[HeaderDeadSeq] = strconv.FormatUint(seq, 10)
	}
	dl.Headers[HeaderDeadAttempts] = strconv.Itoa(attempts)
	if sub != "" {
		dl.Headers[HeaderDeadSub] = sub
	}
	return dl
}

// SanitizeHeaderValue turns free text (an error message, a panic value)
// into a valid header value of at most 256 bytes: control characters become
// spaces and surrounding space is trimmed.
func SanitizeHeaderValue(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > maxReasonBytes {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}
