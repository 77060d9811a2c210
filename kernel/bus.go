package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/iatp"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// WithBus connects the kernel's agents to a message bus: [Agent.Publish],
// [Agent.Request] and [Agent.Subscribe] then send and receive on b as
// governed syscalls. The bus belongs to the caller: [Kernel.Close] ends
// every subscription the kernel made on it but does not close it, so close
// the bus after the kernel. Without this option those methods fail with
// [ErrNoBus].
func WithBus(b amb.Bus) Option {
	return func(c *config) error {
		if b == nil {
			return fmt.Errorf("kernel: %w: nil bus", agentos.ErrInvalid)
		}
		if c.bus != nil {
			return fmt.Errorf("kernel: %w: more than one bus given", agentos.ErrInvalid)
		}
		c.bus = b
		return nil
	}
}

// topicLimits checks topics before policy sees them: the bus's default
// limits, which also refuse the reserved "_" namespace (so an agent cannot
// publish a dead letter).
var topicLimits = amb.Limits{}.WithDefaults()

// Publish publishes m on topic as the agent. It is an agentos.OpSend syscall
// decided as {op: "send", target: topic, payloadType: m.ContentType,
// meta: {direction: "publish"}}; policy sees no peer (a topic is not an
// agent), so a rule can say
//
//	action.op == "send" && action.target.startsWith("reports.")
//
// The kernel publishes its own copy of m, with the [amb.HeaderSender] header
// set to the agent's id and [amb.HeaderTraceID] to the syscall's trace id,
// overwriting whatever the agent put there (in any letter case): agent code
// cannot forge its sender. The outcome entry carries the SHA-256 digest of
// the payload.
//
// A malformed or reserved topic is refused by the kernel (rule
// [RuleTopic]) before policy. Errors are those of every syscall (see
// [Agent]): a *agentos.PolicyViolation when denied, agentos.ErrKilled once
// the agent is killed, blocking while it is stopped; then the bus's own
// errors (amb.ErrTooLarge, amb.ErrInvalidHeader…), and [ErrNoBus] without
// [WithBus]. The bus call runs with the syscall's context, which a kill or
// SIGINT cancels; a kill that lands while the bus is storing the message may
// not stop it, and the outcome is then recorded as "killed". In shadow mode
// nothing is published and Publish returns nil.
func (a *Agent) Publish(ctx context.Context, topic string, m amb.Message) error {
	bus := a.k.bus
	if bus == nil {
		return ErrNoBus
	}
	m = m.Clone()
	rq := a.busRequest(topic, m.ContentType, DirectionPublish, m.Payload)
	rq.run = func(ctx context.Context, act *agentos.Action) (any, []byte, error) {
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		stamp(&m, a.id, act.ID)
		if err := a.seal(&m, topic); err != nil {
			return nil, nil, err
		}
		if err := bus.Publish(ctx, topic, m); err != nil {
			return nil, nil, err
		}
		return nil, payloadBytes(m.Payload), nil
	}
	_, err := a.syscall(ctx, rq)
	return err
}

// Request sends m on topic as the agent and returns the first reply. It is
// governed as [Agent.Publish] is, with meta.direction "request"; the reply
// is the syscall's result: its digest is recorded, and it is discarded (the
// error then matches agentos.ErrKilled) when the agent is killed before it
// arrives. Besides the errors of Publish, it returns the bus's
// amb.ErrNoResponders, amb.ErrTimeout and amb.ErrHandlerFailed. In shadow
// mode nothing is sent and Request returns a zero Message and nil.
func (a *Agent) Request(ctx context.Context, topic string, m amb.Message) (amb.Message, error) {
	bus := a.k.bus
	if bus == nil {
		return amb.Message{}, ErrNoBus
	}
	m = m.Clone()
	rq := a.busRequest(topic, m.ContentType, DirectionRequest, m.Payload)
	rq.run = func(ctx context.Context, act *agentos.Action) (any, []byte, error) {
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		stamp(&m, a.id, act.ID)
		if err := a.seal(&m, topic); err != nil {
			return nil, nil, err
		}
		reply, err := bus.Request(ctx, topic, m)
		if err != nil {
			return nil, nil, err
		}
		if ts := a.k.trust; ts != nil {
			// A reply is signed for the request's topic; one that fails
			// (or, with RequireSigned, is unsigned) is not handed over.
			h := func(k string) string { return headerFold(reply.Headers, k) }
			if _, err := ts.verify(h, topic, a.id, time.Time{}, reply.Payload); err != nil {
				return nil, payloadBytes(reply.Payload), fmt.Errorf("%w (rule %s)", err, RuleEnvelope)
			}
		}
		return reply, payloadBytes(reply.Payload), nil
	}
	res, err := a.syscall(ctx, rq)
	reply, _ := res.(amb.Message)
	return reply, err
}

// busRequest builds the syscall of a message the agent sends on topic.
func (a *Agent) busRequest(topic, contentType, dir string, payload []byte) request {
	rq := request{
		act: agentos.Action{
			Op:          agentos.OpSend,
			Target:      agentos.AgentID(topic),
			PayloadType: contentType,
			Meta:        map[string]string{MetaDirection: dir},
		},
		topic: true,
	}
	payloadArgs(&rq.act, payload)
	if err := topicLimits.ValidateTopic(topic); err != nil {
		rq.act.Target = agentos.AgentID(truncateString(strings.ToValidUTF8(topic, "\uFFFD"), topicLimits.MaxTopicBytes))
		rq.pre, rq.preRule = fmt.Errorf("kernel: %w", err), RuleTopic
	}
	return rq
}

// stamp sets the headers only the kernel may set.
func stamp(m *amb.Message, sender agentos.AgentID, trace string) {
	h := make(map[string]string, len(m.Headers)+2)
	for k, v := range m.Headers {
		if strings.EqualFold(k, amb.HeaderSender) || strings.EqualFold(k, amb.HeaderTraceID) {
			continue
		}
		h[k] = v
	}
	h[amb.HeaderSender] = string(sender)
	h[amb.HeaderTraceID] = trace
	m.Headers = h
}

// payloadBytes is what a message's digest is computed over: never nil, so
// that an empty payload is digested too.
func payloadBytes(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}

// Subscribe calls h, as the agent, for each message on the kernel's bus
// whose topic matches pattern (see amb.Match); opts are the bus's
// (replay from a sequence or a time, a durable name).
//
// Each delivery is itself a governed syscall of the receiving agent, decided
// before h sees the message, as
//
//	{op: "send", agent: <the receiver>, target: <the message's topic>,
//	 payloadType: <its content type>,
//	 meta: {direction: "receive", pattern: <pattern>,
//	        sender: <its Sender header>, trace: <its Trace-Id header>}}
//
// (sender and trace only when the message has them; policy sees no peer).
// It is an OpSend seen from the receiving end, because what policy must
// decide is the same flow of data between an agent and a topic; a rule
// meant for one direction tests action.meta.direction, which every send the
// kernel makes carries. The delivery is recorded like any syscall, its
// outcome with the handler's error and the payload's digest.
//
// While the agent is stopped, deliveries wait at its gate (and the bus's
// queues fill, with the bus's backpressure); once it is killed nothing more
// is delivered, and the kernel ends the subscription. A delivery that is not
// permitted is not handed to h: the violation is returned to the bus, which
// retries and dead-letters it by its rules, as it does a handler's error.
// A denied delivery never kills the receiver, whatever the rule's onDeny
// and even under [WithStrict]: the receiver did not choose what was sent to
// it, and a sender able to kill receivers by publishing would be a weapon.
// A panic in h is recorded, kills the agent (as in [Kernel.Run]), and is
// passed on to the bus, which dead-letters the message at once. In shadow
// mode ([WithShadow]) a permitted delivery is recorded with status "shadow"
// and not handed to h, and [ErrShadowed] goes back to the bus, which
// dead-letters the message rather than lose it.
//
// A request's reply (Delivery.Respond, in h) is a syscall of the receiving
// agent too: {op: "send", target: <the request's topic>,
// meta: {direction: "reply", requester: <its Sender header>}}, stamped with
// the agent as sender; a denied reply is a violation like any other.
//
// The Sender header, and so meta.sender, is set by the kernel for every
// message an [Agent] publishes, but a program that publishes on the bus
// directly — or another process on a shared NATS server — can write any
// value there: treat it as a claim unless every publisher goes through a
// kernel.
//
// Subscribe itself is recorded (a lifecycle entry) but not decided by
// policy: every delivery is. It fails with agentos.ErrKilled for a killed
// agent, agentos.ErrClosed or agentos.ErrPanicked from the kernel,
// [ErrNoBus] without [WithBus], and the bus's errors (a malformed
// pattern). The subscription ends when the agent is killed, when the kernel
// closes, or on [Subscription.Unsubscribe]; h is called from the bus's
// goroutines, one call at a time.
func (a *Agent) Subscribe(ctx context.Context, pattern string, h amb.Handler, opts ...amb.SubOption) (*Subscription, error) {
	k := a.k
	if k.hub == nil {
		return nil, ErrNoBus
	}
	if h == nil {
		return nil, fmt.Errorf("kernel: %w: nil handler", agentos.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := k.admit(); err != nil {
		return nil, err
	}
	defer k.inflight.Done()
	if err := a.sig.Err(); err != nil {
		return nil, err
	}
	s := &Subscription{a: a, pattern: pattern, h: h, hub: k.hub}
	if cfg, err := amb.NewSubConfig(opts...); err == nil && cfg.Start == amb.StartNew && cfg.Durable == "" {
		// A live subscription is handed only what is published from now
		// on: a signed message that went by before (or was signed well
		// before) is a replay (iatp.Opener.OpenJoined).
		s.joined = k.now()
	}
	inner, err := k.hub.bus.Subscribe(ctx, pattern, s.deliver, opts...)
	if err != nil {
		return nil, err
	}
	s.inner = inner
	if err := k.hub.add(s); err != nil {
		if uerr := s.stop(); uerr != nil {
			k.log.Error("kernel: ending a subscription", "agent", a.id, "pattern", pattern, "err", uerr)
		}
		return nil, err
	}
	if _, err := k.appendEntry(context.WithoutCancel(ctx), recorder.Entry{
		Kind:    recorder.KindLifecycle,
		Agent:   a.id,
		Message: "subscribed",
		Detail:  "pattern=" + truncateString(pattern, maxErrorRecorded),
	}); err != nil {
		k.log.Error("kernel: recording a subscription", "agent", a.id, "err", err)
	}
	return s, nil
}

// Subscription is an agent's subscription to the kernel's bus, made by
// [Agent.Subscribe]. It implements amb.Subscription and is safe for
// concurrent use.
type Subscription struct {
	a       *Agent
	pattern string
	h       amb.Handler
	hub     *busHub
	inner   amb.Subscription // set before the subscription is registered
	joined  time.Time        // when a live subscription began; zero for a replaying or durable one

	// active is held shared by each delivery in flight; the kernel takes it
	// exclusively to end the subscription of a dead agent only after those
	// deliveries returned, so that the bus still dead-letters (or fails the
	// request of) a message whose handler got the agent killed.
	active sync.RWMutex
	ended  bool // guarded by active

	once sync.Once
	err  error
}

var _ amb.Subscription = (*Subscription)(nil)

// Pattern returns the pattern the agent subscribed with.
func (s *Subscription) Pattern() string { return s.pattern }

// Agent returns the id of the subscribing agent.
func (s *Subscription) Agent() agentos.AgentID { return s.a.id }

// Unsubscribe ends the subscription and waits for its handler to return; it
// is idempotent. Like amb.Subscription.Unsubscribe, it must not be called
// from the subscription's own handler.
func (s *Subscription) Unsubscribe() error {
	s.hub.remove(s)
	return s.stop()
}

func (s *Subscription) stop() error {
	s.once.Do(func() { s.err = s.inner.Unsubscribe() })
	return s.err
}

// deliver is the handler the kernel gives the bus: it governs one delivery
// and calls the agent's handler when it is permitted.
func (s *Subscription) deliver(ctx context.Context, d amb.Delivery) error {
	a := s.a
	s.active.RLock()
	defer s.active.RUnlock()
	if s.ended {
		if err := a.sig.Err(); err != nil {
			return err
		}
		return agentos.ErrClosed
	}
	meta := map[string]string{MetaDirection: DirectionReceive, MetaPattern: s.pattern}
	if v := d.Header(amb.HeaderSender); v != "" {
		meta[MetaSender] = v
	}
	if v := d.Header(amb.HeaderTraceID); v != "" {
		meta[MetaTrace] = v
	}
	var (
		signer *iatp.Peer
		vErr   error
	)
	if ts := a.k.trust; ts != nil {
		if signer, vErr = ts.verify(d.Header, d.Topic, a.id, s.joined, d.Payload); signer != nil {
			meta[MetaSigner] = signer.ID
		}
	}
	var (
		handled  bool
		panicked bool
		pval     any
		stack    []byte
	)
	rq := request{
		act: agentos.Action{
			Op:          agentos.OpSend,
			Target:      agentos.AgentID(d.Topic),
			PayloadType: d.ContentType,
			Meta:        meta,
		},
		topic:    true,
		incoming: true,
		run: func(ctx context.Context, _ *agentos.Action) (any, []byte, error) {
			handled = true
			hd := d
			if d.IsRequest() {
				hd = amb.NewDelivery(d.Message, d.Seq, d.Stored, d.Attempt, s.replier(d, signer))
			}
			if signer != nil {
				ctx = context.WithValue(ctx, signerKey{}, *signer)
			}
			var err error
			panicked, pval, stack, err = callHandler(ctx, s.h, hd)
			return nil, payloadBytes(d.Payload), err
		},
	}
	switch {
	case vErr != nil:
		rq.pre, rq.preRule = vErr, RuleEnvelope
	case signer != nil:
		rq.peer = peerSubject(*signer)
	}
	_, err := a.syscall(ctx, rq)
	if panicked {
		a.k.agentPanicked(a, pval, stack)
		panic(pval) // the bus recovers it and dead-letters the message at once
	}
	if err == nil && !handled {
		return ErrShadowed
	}
	return err
}

// callHandler runs h, recovering a panic.
func callHandler(ctx context.Context, h amb.Handler, d amb.Delivery) (panicked bool, val any, stack []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			panicked, val, stack = true, r, debug.Stack()
			err = fmt.Errorf("kernel: handler panicked: %v", r)
		}
	}()
	return false, nil, nil, h(ctx, d)
}

// agentPanicked records a panic in agent code and kills the agent, as
// Kernel.Run does.
func (k *Kernel) agentPanicked(a *Agent, val any, stack []byte) {
	if _, err := k.appendEntry(context.Background(), recorder.Entry{
		Kind:     recorder.KindPanic,
		Agent:    a.id,
		Message:  fmt.Sprintf("panic in agent code: %v", val),
		Severity: agentos.SeverityCritical,
		Detail:   truncateBytes(stack, maxStackRecorded),
	}); err != nil {
		k.log.Error("kernel: recording agent panic", "agent", a.id, "err", err)
	}
	if err := a.sig.Send(context.Background(), signals.SIGKILL, "panic in agent code"); err != nil && !errors.Is(err, agentos.ErrKilled) {
		k.log.Error("kernel: killing panicked agent", "agent", a.id, "err", err)
	}
}

// replier returns the Respond function of a request delivered to the
// subscription's agent: each reply is a governed send.
func (s *Subscription) replier(d amb.Delivery, requester *iatp.Peer) func(ctx context.Context, m amb.Message) error {
	a := s.a
	return func(ctx context.Context, m amb.Message) error {
		m = m.Clone()
		meta := map[string]string{MetaDirection: DirectionReply}
		if v := d.Header(amb.HeaderSender); v != "" {
			meta[MetaRequester] = v
		}
		if v := d.Header(amb.HeaderTraceID); v != "" {
			meta[MetaTrace] = v
		}
		rq := request{
			act: agentos.Action{
				Op:          agentos.OpSend,
				Target:      agentos.AgentID(d.Topic),
				PayloadType: m.ContentType,
				Meta:        meta,
			},
			topic: true,
			run: func(ctx context.Context, act *agentos.Action) (any, []byte, error) {
				if ctx.Err() != nil {
					return nil, nil, context.Cause(ctx)
				}
				stamp(&m, a.id, act.ID)
				if err := a.seal(&m, d.Topic); err != nil {
					return nil, nil, err
				}
				if err := d.Respond(ctx, m); err != nil {
					return nil, nil, err
				}
				return nil, payloadBytes(m.Payload), nil
			},
		}
		payloadArgs(&rq.act, m.Payload)
		if requester != nil {
			// The reply goes to the agent that signed the request: policy
			// sees it as the peer (its retention, its trust).
			rq.peer = peerSubject(*requester)
			meta[MetaSigner] = requester.ID
		}
		_, err := a.syscall(ctx, rq)
		return err
	}
}

// headerFold returns the value of header name in h, matching the name in
// any letter case, as amb.Delivery.Header does.
func headerFold(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// busHub keeps the kernel's subscriptions per agent and ends them when
// their agent dies or the kernel closes. It owns one goroutine per agent
// that has subscribed: it waits for the agent's death (or the kernel's
// close) and unsubscribes that agent's subscriptions; Kernel.Close waits
// for all of them.
type busHub struct {
	bus amb.Bus
	log *slog.Logger

	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed by close
	agents map[*Agent]map[*Subscription]struct{}
	wg     sync.WaitGroup
}

func newBusHub(b amb.Bus, log *slog.Logger) *busHub {
	return &busHub{bus: b, log: log, done: make(chan struct{}), agents: map[*Agent]map[*Subscription]struct{}{}}
}

// add registers s, starting its agent's watcher if it has none. It fails
// when the kernel is closing or the agent is already dead.
func (h *busHub) add(s *Subscription) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return agentos.ErrClosed
	}
	if err := s.a.sig.Err(); err != nil {
		return err // its watcher has run or is about to, and would miss s
	}
	set := h.agents[s.a]
	if set == nil {
		set = map[*Subscription]struct{}{}
		h.agents[s.a] = set
		a := s.a
		h.wg.Go(func() {
			select {
			case <-a.Done():
			case <-h.done:
			}
			h.drop(a)
		})
	}
	set[s] = struct{}{}
	return nil
}

// remove forgets s.
func (h *busHub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.agents[s.a], s)
}

// drop ends every subscription of a.
func (h *busHub) drop(a *Agent) {
	h.mu.Lock()
	set := h.agents[a]
	delete(h.agents, a)
	h.mu.Unlock()
	for s := range set {
		s.active.Lock()
		s.ended = true
		s.active.Unlock()
		if err := s.stop(); err != nil {
			h.log.Error("kernel: ending a subscription", "agent", a.id, "pattern", s.pattern, "err", err)
		}
	}
}

// close refuses new subscriptions, ends the others and waits, at most
// timeout, for the watchers to return.
func (h *busHub) close(timeout time.Duration) error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	h.mu.Unlock()
	stopped := make(chan struct{})
	go func() { h.wg.Wait(); close(stopped) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-stopped:
		return nil
	case <-timer.C:
		// The waiting goroutine ends when the last handler returns.
		return fmt.Errorf("kernel: close: bus handlers still running after %v", timeout)
	}
}
