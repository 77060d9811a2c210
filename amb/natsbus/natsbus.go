package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/agent-os/agentos/amb"
)

// Options configure [New]. A nil *Options, or a zero field, means the
// default.
type Options struct {
	amb.Options
	// Stream is the JetStream stream name; default "AMB".
	Stream string
	// Prefix is the subject prefix (one NATS token); default "amb".
	Prefix string
	// Replicas is the stream's replication factor (1, 3 or 5 in a
	// cluster); default 1.
	Replicas int
	// MemoryStorage keeps the stream in server memory instead of files:
	// faster, and lost when the server restarts.
	MemoryStorage bool
	// AckWait is how long the server waits for a handler's ack before
	// redelivering; default 30s.
	AckWait time.Duration
	// MaxAckPending bounds unacknowledged messages per subscription;
	// default 256.
	MaxAckPending int
	// PullBatch bounds the messages buffered in the client per
	// subscription; default 32.
	PullBatch int
	// InactiveThreshold removes the consumer of an unnamed subscription
	// left behind by a process that died; default 5m.
	InactiveThreshold time.Duration
	// DuplicateWindow is how long JetStream remembers message ids to drop
	// duplicate publishes; default 2m.
	DuplicateWindow time.Duration
	// RetryWait is the pause between publish attempts while the server is
	// unreachable; default 50ms. Publish retries until its ctx ends.
	RetryWait time.Duration
}

func (o Options) withDefaults() Options {
	o.Options = o.Options.WithDefaults()
	if o.Stream == "" {
		o.Stream = "AMB"
	}
	if o.Prefix == "" {
		o.Prefix = "amb"
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxAckPending <= 0 {
		o.MaxAckPending = 256
	}
	if o.PullBatch <= 0 {
		o.PullBatch = 32
	}
	if o.InactiveThreshold <= 0 {
		o.InactiveThreshold = 5 * time.Minute
	}
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = 2 * time.Minute
	}
	if o.RetryWait <= 0 {
		o.RetryWait = 50 * time.Millisecond
	}
	return o
}

// Bus is an [amb.Bus] on NATS JetStream. Published messages are stored in
// one stream (subjects prefix.m.> and, for dead letters, prefix.d.>) and
// delivered to each subscription through its own durable pull consumer,
// at least once: a handler's nil return acks, an error naks with the
// configured backoff, and the message is dead-lettered when its attempts
// run out. Requests travel over core NATS request/reply (prefix.r.<topic>)
// and are not stored.
//
// Priorities are carried in a header but JetStream delivers in stream
// order, so [amb.Capabilities.PriorityOrder] is false. A retried message
// does not hold back later ones ([amb.Capabilities.OrderedRetry] false).
//
// Bus is safe for concurrent use. Each subscription owns two goroutines
// (stream messages and requests) that call its handler one at a time; the
// bus owns one more that turns max-delivery advisories into dead letters.
// Close joins them all.
type Bus struct {
	nc        *nats.Conn
	ownsNC    bool
	js        jetstream.JetStream
	stream    jetstream.Stream
	o         Options
	advSub    *nats.Subscription
	advCancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	subs    map[*sub]struct{}
	wg      sync.WaitGroup

	st counters
}

var (
	_ amb.Bus           = (*Bus)(nil)
	_ amb.Capable       = (*Bus)(nil)
	_ amb.StatsReporter = (*Bus)(nil)
	_ amb.Subscription  = (*sub)(nil)
)

type counters struct {
	published, delivered, failed, retried, panics, expired, dead, deadLost atomic.Uint64
}

// ErrConfig is returned by New for invalid options or a stream that cannot
// be created; it wraps the cause.
var ErrConfig = errors.New("natsbus: configuration")

// New creates (or updates) the stream and returns a bus on nc. The caller
// keeps ownership of nc; configure its reconnect behaviour there
// (nats.MaxReconnects(-1) keeps it trying while a server restarts). ctx
// bounds the setup, which retries while a cluster elects its leader.
func New(ctx context.Context, nc *nats.Conn, o *Options) (*Bus, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	opts = opts.withDefaults()
	if err := (amb.Limits{}).ValidateTopic(opts.Prefix); err != nil || len(opts.Prefix) > 32 || containsDot(opts.Prefix) {
		return nil, fmt.Errorf("%w: prefix %q must be one topic token", ErrConfig, opts.Prefix)
	}
	if _, err := amb.NewSubConfig(amb.Durable(opts.Stream)); err != nil {
		return nil, fmt.Errorf("%w: stream name %q", ErrConfig, opts.Stream)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	storage := jetstream.FileStorage
	if opts.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	cfg := jetstream.StreamConfig{
		Name:       opts.Stream,
		Subjects:   []string{opts.Prefix + "." + nsMsg + ".>", opts.Prefix + "." + nsDead + ".>"},
		Storage:    storage,
		Replicas:   opts.Replicas,
		MaxAge:     opts.MaxAge,
		MaxMsgs:    int64(opts.MaxRetained),
		MaxMsgSize: int32(opts.Limits.MaxMessageBytes + 8<<10),
		Duplicates: opts.DuplicateWindow,
		Discard:    jetstream.DiscardOld,
		Retention:  jetstream.LimitsPolicy,
	}
	var stream jetstream.Stream
	for {
		// A request sent before a cluster has elected its meta leader gets
		// no answer, so each attempt has its own short deadline.
		actx, cancel := context.WithTimeout(ctx, time.Second)
		stream, err = js.CreateOrUpdateStream(actx, cfg)
		cancel()
		if err == nil {
			break
		}
		if !sleepCtx(ctx, opts.RetryWait, nil) {
			return nil, fmt.Errorf("%w: stream %s: %w", ErrConfig, opts.Stream, err)
		}
	}
	b := &Bus{nc: nc, js: js, stream: stream, o: opts, closing: make(chan struct{}), subs: make(map[*sub]struct{})}
	b.advSub, err = nc.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + opts.Stream + ".*")
	if err != nil {
		return nil, fmt.Errorf("%w: advisories: %w", ErrConfig, err)
	}
	actx, cancel := context.WithCancel(context.Background())
	b.advCancel = cancel
	b.wg.Add(1)
	go b.advisories(actx)
	return b, nil
}

func containsDot(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return true
		}
	}
	return false
}

// Connect dials url with reconnects enabled (forever, every 100ms, unless
// natsOpts say otherwise) and returns a bus that owns the connection: Close
// closes it.
func Connect(ctx context.Context, url string, o *Options, natsOpts ...nats.Option) (*Bus, error) {
	all := append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}, natsOpts...)
	nc, err := nats.Connect(url, all...)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect: %w", err)
	}
	b, err := New(ctx, nc, o)
	if err != nil {
		nc.Close()
		return nil, err
	}
	b.ownsNC = true
	return b, nil
}

// Capabilities: durable with file storage; no priority reordering; retries
// do not hold back later messages.
func (b *Bus) Capabilities() amb.Capabilities {
	return amb.Capabilities{Durable: !b.o.MemoryStorage}
}

// Stats returns what this process observed.
func (b *Bus) Stats() amb.Stats {
	return amb.Stats{
		Published: b.st.published.Load(), Delivered: b.st.delivered.Load(), Failed: b.st.failed.Load(),
		Retried: b.st.retried.Load(), Panics: b.st.panics.Load(), Expired: b.st.expired.Load(),
		DeadLettered: b.st.dead.Load(), DeadLost: b.st.deadLost.Load(),
	}
}

// Conn returns the underlying connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *Bus) fill(m *amb.Message) {
	if m.ID == "" {
		m.ID = amb.NewID()
	}
	if m.Time.IsZero() {
		m.Time = b.o.Clock()
	}
}

// Publish implements [amb.Bus]. It returns once JetStream has acknowledged
// storing the message. While the server is unreachable it retries, with the
// same message id so that JetStream drops duplicates, until ctx ends.
func (b *Bus) Publish(ctx context.Context, topic string, m amb.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.o.Limits.ValidateMessage(topic, m); err != nil {
		return err
	}
	m.Topic = topic
	b.fill(&m)
	if err := b.store(ctx, m); err != nil {
		return err
	}
	b.st.published.Add(1)
	return nil
}

// store publishes m to the stream and waits for the ack, retrying
// transient failures.
func (b *Bus) store(ctx context.Context, m amb.Message) error {
	nm := encode(m)
	nm.Subject = subject(b.o.Prefix, m.Topic)
	nm.Header.Set(nats.MsgIdHdr, m.ID)
	for {
		if b.isClosed() {
			return amb.ErrClosed
		}
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := b.js.PublishMsg(actx, nm)
		cancel()
		if err == nil {
			return nil
		}
		switch {
		case errors.Is(err, nats.ErrMaxPayload):
			return fmt.Errorf("%w: %w", amb.ErrTooLarge, err)
		case errors.Is(err, nats.ErrConnectionClosed):
			if b.isClosed() {
				return amb.ErrClosed
			}
			return fmt.Errorf("natsbus: publish %q: %w", m.Topic, err)
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.Code >= 400 && apiErr.Code < 500 && apiErr.Code != 408 {
			return fmt.Errorf("natsbus: publish %q: %w", m.Topic, err)
		}
		if !sleepCtx(ctx, b.o.RetryWait, b.closing) {
			if ctx.Err() != nil {
				return fmt.Errorf("natsbus: publish %q: %w (last error: %v)", m.Topic, ctx.Err(), err)
			}
			return amb.ErrClosed
		}
	}
}

// sleepCtx waits d; false if ctx ended or stop closed first.
func sleepCtx(ctx context.Context, d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}

// Request implements [amb.Bus] with core NATS request/reply.
func (b *Bus) Request(ctx context.Context, topic string, m amb.Message) (amb.Message, error) {
	if err := ctx.Err(); err != nil {
		return amb.Message{}, err
	}
	if err := b.o.Limits.ValidateMessage(topic, m); err != nil {
		return amb.Message{}, err
	}
	if b.isClosed() {
		return amb.Message{}, amb.ErrClosed
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.o.RequestTimeout)
		defer cancel()
	}
	m.Topic = topic
	b.fill(&m)
	nm := encode(m)
	nm.Subject = requestSubject(b.o.Prefix, topic)

	// Close cancels requests in flight.
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-b.closing:
			cancel(amb.ErrClosed)
		case <-stop:
		}
	})
	defer func() { close(stop); wg.Wait() }()

	resp, err := b.nc.RequestMsgWithContext(rctx, nm)
	if err != nil {
		switch {
		case errors.Is(context.Cause(rctx), amb.ErrClosed), errors.Is(err, nats.ErrConnectionClosed):
			return amb.Message{}, amb.ErrClosed
		case errors.Is(err, nats.ErrNoResponders):
			return amb.Message{}, fmt.Errorf("%w: topic %q", amb.ErrNoResponders, topic)
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return amb.Message{}, fmt.Errorf("%w: topic %q: %w", amb.ErrTimeout, topic, ctx.Err())
		case ctx.Err() != nil:
			return amb.Message{}, ctx.Err()
		case errors.Is(err, nats.ErrMaxPayload):
			return amb.Message{}, fmt.Errorf("%w: %w", amb.ErrTooLarge, err)
		}
		return amb.Message{}, fmt.Errorf("natsbus: request %q: %w", topic, err)
	}
	if e := resp.Header.Get(hdrError); e != "" {
		return amb.Message{}, fmt.Errorf("%w: topic %q: %s", amb.ErrHandlerFailed, topic, e)
	}
	rep, err := Decode(topic, resp.Header, resp.Data, b.o.Limits)
	if err != nil {
		return amb.Message{}, fmt.Errorf("natsbus: reply on %q: %w", topic, err)
	}
	return rep, nil
}

// Close implements [amb.Bus]: it stops every subscription (unnamed ones'
// consumers are deleted, durable ones kept), waits for all goroutines,
// fails requests in flight with [amb.ErrClosed], and closes the connection
// if the bus owns it.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.closing)
	subs := make([]*sub, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	clear(b.subs)
	b.mu.Unlock()
	for _, s := range subs {
		s.stop()
	}
	for _, s := range subs {
		s.cleanup()
	}
	b.advCancel()
	_ = b.advSub.Unsubscribe()
	b.wg.Wait()
	if b.ownsNC {
		b.nc.Close()
	}
	return nil
}

// deadLetter stores the dead letter for m. The id is derived from the
// consumer and stream sequence, so the subscription and the advisory
// listener (of any process) store it once between them.
func (b *Bus) deadLetter(ctx context.Context, m amb.Message, cause amb.DeadCause, reason string, seq uint64, attempts int, consumer string) error {
	if amb.IsDeadLetterTopic(m.Topic) {
		b.st.deadLost.Add(1)
		return nil
	}
	dl := amb.DeadLetter(m, cause, reason, seq, attempts, consumer)
	dl.Time = b.o.Clock()
	if seq > 0 {
		dl.ID = "dlq-" + consumer + "-" + strconv.FormatUint(seq, 10)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.store(ctx, dl); err != nil {
		b.st.deadLost.Add(1)
		return err
	}
	b.st.dead.Add(1)
	return nil
}

// advisory is the part of a JetStream max-deliveries advisory we read.
type advisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// advisories turns max-delivery advisories (a message whose deliveries ran
// out without our handler giving up on it: ack timeouts, a crashed
// process) into dead letters.
func (b *Bus) advisories(ctx context.Context) {
	defer b.wg.Done()
	for {
		nm, err := b.advSub.NextMsgWithContext(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, nats.ErrBadSubscription) || errors.Is(err, nats.ErrConnectionClosed) {
				return
			}
			continue
		}
		var adv advisory
		if err := json.Unmarshal(nm.Data, &adv); err != nil || adv.Stream != b.o.Stream || adv.StreamSeq == 0 {
			continue
		}
		gctx, gcancel := context.WithTimeout(ctx, 5*time.Second)
		raw, err := b.stream.GetMsg(gctx, adv.StreamSeq)
		gcancel()
		if err != nil {
			b.st.deadLost.Add(1) // discarded by retention before we could copy it
			continue
		}
		topic, ok := topicOf(b.o.Prefix, raw.Subject)
		if !ok {
			b.st.deadLost.Add(1)
			continue
		}
		m, err := Decode(topic, raw.Header, raw.Data, b.o.Limits)
		if err != nil {
			m = amb.Message{Topic: topic, Payload: raw.Data}
		}
		_ = b.deadLetter(ctx, m, amb.DeadMaxDeliver,
			fmt.Sprintf("%d deliveries to consumer %s without an ack", adv.Deliveries, adv.Consumer),
			adv.StreamSeq, int(adv.Deliveries), adv.Consumer)
	}
}
