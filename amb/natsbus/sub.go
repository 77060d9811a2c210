package natsbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/agent-os/agentos/amb"
)

// sub is one subscription: a JetStream pull consumer read by runStream and
// a core NATS subscription for requests read by runRequests. hmu makes the
// two call the handler one at a time.
type sub struct {
	b       *Bus
	pattern string
	name    string // consumer name
	durable bool
	h       amb.Handler
	cons    jetstream.Consumer
	rsub    *nats.Subscription
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	hmu     sync.Mutex

	mu      sync.Mutex
	stopped bool
	iter    jetstream.MessagesContext
}

func (s *sub) Pattern() string { return s.pattern }

// Subscribe implements [amb.Bus]. Without [amb.Durable] the subscription's
// consumer gets a random name and is deleted by Unsubscribe; with it, the
// consumer is kept, and a later subscription with the same name resumes
// where it stopped (its start options are then ignored).
func (b *Bus) Subscribe(ctx context.Context, pattern string, h amb.Handler, opts ...amb.SubOption) (amb.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := b.o.Limits.ValidatePattern(pattern); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil handler", amb.ErrInvalidOption)
	}
	cfg, err := amb.NewSubConfig(opts...)
	if err != nil {
		return nil, err
	}
	if b.isClosed() {
		return nil, amb.ErrClosed
	}
	s := &sub{b: b, pattern: pattern, h: h, name: cfg.Durable, durable: cfg.Durable != ""}
	if !s.durable {
		s.name = "amb_" + nuid.Next()
	}
	cc := jetstream.ConsumerConfig{
		Durable:       s.name,
		FilterSubject: subject(b.o.Prefix, pattern),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.o.AckWait,
		MaxDeliver:    b.o.Retry.MaxAttempts,
		MaxAckPending: b.o.MaxAckPending,
		DeliverPolicy: jetstream.DeliverNewPolicy,
	}
	if !s.durable {
		cc.InactiveThreshold = b.o.InactiveThreshold
	}
	switch cfg.Start {
	case amb.StartAll:
		cc.DeliverPolicy = jetstream.DeliverAllPolicy
	case amb.StartSeq:
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, cfg.StartSeq
	case amb.StartTime:
		t := cfg.StartTime
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	if s.durable {
		s.cons, err = b.stream.Consumer(ctx, s.name)
	}
	if s.cons == nil {
		s.cons, err = b.stream.CreateOrUpdateConsumer(ctx, cc)
	}
	if err != nil {
		return nil, fmt.Errorf("natsbus: subscribe %q: %w", pattern, err)
	}
	s.rsub, err = b.nc.SubscribeSync(requestSubject(b.o.Prefix, pattern))
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("natsbus: subscribe %q: %w", pattern, err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		cancel()
		_ = s.rsub.Unsubscribe()
		s.cleanup()
		return nil, amb.ErrClosed
	}
	b.subs[s] = struct{}{}
	s.wg.Add(2)
	b.wg.Add(2)
	b.mu.Unlock()
	go s.runStream(sctx)
	go s.runRequests(sctx)
	return s, nil
}

// Unsubscribe implements [amb.Subscription]: it stops delivery, waits for
// the subscription's goroutines, and deletes the consumer of an unnamed
// subscription. A message whose handler was interrupted is redelivered to
// the next subscription on the same durable consumer.
func (s *sub) Unsubscribe() error {
	s.b.mu.Lock()
	_, live := s.b.subs[s]
	delete(s.b.subs, s)
	s.b.mu.Unlock()
	s.stop()
	s.wg.Wait()
	if live {
		s.cleanup()
	}
	return nil
}

func (s *sub) stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	it := s.iter
	s.mu.Unlock()
	if it != nil {
		it.Stop()
	}
	_ = s.rsub.Unsubscribe()
	s.cancel()
}

// cleanup deletes an unnamed subscription's consumer (best effort: the
// server removes it after InactiveThreshold anyway).
func (s *sub) cleanup() {
	if s.durable || s.b.nc.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.b.stream.DeleteConsumer(ctx, s.name)
}

// runStream reads the consumer and hands each message to the handler,
// reopening the iterator if the server drops it (restart, leader change).
func (s *sub) runStream(ctx context.Context) {
	defer s.b.wg.Done()
	defer s.wg.Done()
	for ctx.Err() == nil {
		it, err := s.cons.Messages(jetstream.PullMaxMessages(s.b.o.PullBatch), jetstream.PullHeartbeat(time.Second))
		if err != nil {
			if !sleepCtx(ctx, s.b.o.RetryWait*4, nil) {
				return
			}
			s.reopen(ctx)
			continue
		}
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			it.Stop()
			return
		}
		s.iter = it
		s.mu.Unlock()
		for {
			msg, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
					break
				}
				if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrTimeout) {
					continue // transient; the iterator re-issues its pulls
				}
				it.Stop()
				break
			}
			s.handle(ctx, msg)
		}
		if ctx.Err() != nil {
			return
		}
		if !sleepCtx(ctx, s.b.o.RetryWait, nil) {
			return
		}
		s.reopen(ctx)
	}
}

// reopen looks the consumer up again (it may have moved to a new leader or
// been recreated after a restart).
func (s *sub) reopen(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if c, err := s.b.stream.Consumer(lctx, s.name); err == nil {
		s.cons = c
	}
}

func (s *sub) handle(ctx context.Context, msg jetstream.Msg) {
	b := s.b
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		b.st.deadLost.Add(1)
		return
	}
	seq, attempt := md.Sequence.Stream, int(md.NumDelivered)
	topic, ok := topicOf(b.o.Prefix, msg.Subject())
	if !ok {
		_ = msg.TermWithReason("subject outside the bus")
		b.st.deadLost.Add(1)
		return
	}
	m, err := Decode(topic, msg.Headers(), msg.Data(), b.o.Limits)
	if err != nil {
		raw := amb.Message{Topic: topic, Payload: msg.Data()}
		s.giveUp(ctx, msg, raw, amb.DeadMalformed, err.Error(), seq, attempt)
		return
	}
	if m.Expired(b.o.Clock()) {
		b.st.expired.Add(1)
		s.giveUp(ctx, msg, m, amb.DeadExpired, "expired at "+m.Expires.Format(time.RFC3339Nano), seq, attempt-1)
		return
	}
	d := amb.NewDelivery(m, seq, md.Timestamp, attempt, nil)
	s.hmu.Lock()
	panicked, herr := amb.CallHandler(ctx, s.h, d)
	s.hmu.Unlock()
	if herr == nil {
		_ = msg.Ack()
		b.st.delivered.Add(1)
		return
	}
	b.st.failed.Add(1)
	if panicked {
		b.st.panics.Add(1)
	}
	switch {
	case panicked:
		// Dead-lettered even when the subscription ended meanwhile (a
		// kernel kills the agent whose handler panicked, which ends its
		// subscriptions): a message that makes handlers panic is not
		// handed to the next reader.
		s.giveUp(ctx, msg, m, amb.DeadPanic, herr.Error(), seq, attempt)
	case ctx.Err() != nil:
		_ = msg.Nak() // interrupted by Unsubscribe or Close: the next reader gets it
	case attempt >= b.o.Retry.MaxAttempts:
		s.giveUp(ctx, msg, m, amb.DeadHandlerError, herr.Error(), seq, attempt)
	default:
		b.st.retried.Add(1)
		_ = msg.NakWithDelay(b.o.Retry.Backoff(attempt))
	}
}

// giveUp dead-letters m and then terminates its delivery. If the dead
// letter cannot be stored, the message is nak'ed instead so that it is not
// lost: the server redelivers it, or reports it through a max-deliveries
// advisory.
func (s *sub) giveUp(ctx context.Context, msg jetstream.Msg, m amb.Message, cause amb.DeadCause, reason string, seq uint64, attempts int) {
	if err := s.b.deadLetter(context.WithoutCancel(ctx), m, cause, reason, seq, attempts, s.name); err != nil {
		_ = msg.NakWithDelay(s.b.o.Retry.Backoff(max(attempts, 1)))
		return
	}
	_ = msg.TermWithReason(string(cause))
}

// runRequests answers requests on the core subscription.
func (s *sub) runRequests(ctx context.Context) {
	defer s.b.wg.Done()
	defer s.wg.Done()
	for {
		nm, err := s.rsub.NextMsgWithContext(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, nats.ErrBadSubscription) || errors.Is(err, nats.ErrConnectionClosed) {
				return
			}
			continue
		}
		s.request(ctx, nm)
	}
}

func (s *sub) request(ctx context.Context, nm *nats.Msg) {
	b := s.b
	if nm.Reply == "" {
		return
	}
	var once sync.Once
	answer := func(rm *nats.Msg) {
		once.Do(func() {
			rm.Subject = nm.Reply
			_ = b.nc.PublishMsg(rm)
		})
	}
	fail := func(text string) {
		if text = amb.SanitizeHeaderValue(text); text == "" {
			text = "failed"
		}
		answer(&nats.Msg{Header: nats.Header{hdrError: []string{text}}})
	}
	topic, ok := topicOf(b.o.Prefix, nm.Subject)
	if !ok {
		return
	}
	m, err := Decode(topic, nm.Header, nm.Data, b.o.Limits)
	if err != nil {
		fail("malformed request: " + err.Error())
		return
	}
	if m.Expired(b.o.Clock()) {
		b.st.expired.Add(1)
		fail("request expired")
		return
	}
	respond := func(rctx context.Context, r amb.Message) error {
		if err := rctx.Err(); err != nil {
			return err
		}
		if err := b.o.Limits.ValidateReply(r); err != nil {
			return err
		}
		r.Topic = topic
		b.fill(&r)
		answer(encode(r))
		return nil
	}
	d := amb.NewDelivery(m, 0, time.Time{}, 1, respond)
	s.hmu.Lock()
	panicked, herr := amb.CallHandler(ctx, s.h, d)
	s.hmu.Unlock()
	if herr == nil {
		b.st.delivered.Add(1)
		return
	}
	b.st.failed.Add(1)
	if panicked {
		b.st.panics.Add(1)
	}
	// Answer the requester even when the subscription ended while the
	// handler ran, rather than let it time out.
	fail(herr.Error())
}
