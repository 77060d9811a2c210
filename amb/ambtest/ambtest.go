package ambtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
)

// Factory returns a new, empty bus configured with o. The bus must honour
// o.Clock (message times and expiry), o.Limits, o.Retry and
// o.RequestTimeout. The factory registers any cleanup of its own with t;
// the suite closes the bus itself too, so Close must be idempotent.
type Factory func(t *testing.T, o amb.Options) amb.Bus

// Timing of the suite. Waits for something that must happen use wait;
// checks that something does not happen watch for quiet.
const (
	wait  = 10 * time.Second
	quiet = 150 * time.Millisecond
)

// Run runs the conformance suite against the buses newBus makes.
func Run(t *testing.T, newBus Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, env *env)
	}{
		{"PublishSubscribe", testPublishSubscribe},
		{"Wildcards", testWildcards},
		{"InvalidInput", testInvalidInput},
		{"Oversized", testOversized},
		{"RequestReply", testRequestReply},
		{"RequestTimeout", testRequestTimeout},
		{"RequestFailsDuringUnsubscribe", testRequestFailsDuringUnsubscribe},
		{"Ordering", testOrdering},
		{"Priority", testPriority},
		{"RetryThenSucceed", testRetryThenSucceed},
		{"DeadLetterOnError", testDeadLetterOnError},
		{"DeadLetterOnPanic", testDeadLetterOnPanic},
		{"DeadLetterOnExpiry", testDeadLetterOnExpiry},
		{"SlowSubscriber", testSlowSubscriber},
		{"Replay", testReplay},
		{"ConcurrentPublishers", testConcurrentPublishers},
		{"Unsubscribe", testUnsubscribe},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock(time.Now().Truncate(time.Millisecond))
			o := amb.Options{
				Clock:          clock.Now,
				Limits:         amb.Limits{MaxMessageBytes: 64 << 10},
				Retry:          amb.Retry{MaxAttempts: 3, Backoff: func(int) time.Duration { return 20 * time.Millisecond }},
				RequestTimeout: 500 * time.Millisecond,
			}
			e := &env{clock: clock, opts: o}
			e.bus = newBus(t, o)
			require.NotNil(t, e.bus)
			t.Cleanup(func() { assert.NoError(t, e.bus.Close()) })
			if c, ok := e.bus.(amb.Capable); ok {
				e.caps = c.Capabilities()
			}
			tc.fn(t, e)
		})
	}
}

type env struct {
	bus   amb.Bus
	clock *Clock
	opts  amb.Options
	caps  amb.Capabilities
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// collector gathers deliveries.
type collector struct {
	mu sync.Mutex
	ds []amb.Delivery
	ch chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1)} }

func (c *collector) handle(_ context.Context, d amb.Delivery) error {
	c.mu.Lock()
	c.ds = append(c.ds, d)
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) snapshot() []amb.Delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]amb.Delivery(nil), c.ds...)
}

// waitN waits until at least n deliveries arrived and returns them.
func (c *collector) waitN(t *testing.T, n int) []amb.Delivery {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		if ds := c.snapshot(); len(ds) >= n {
			return ds
		}
		select {
		case <-c.ch:
		case <-deadline.C:
			require.FailNowf(t, "timeout", "got %d deliveries, want %d", len(c.snapshot()), n)
		}
	}
}

// still waits the quiet period and fails if more than n deliveries arrived.
func (c *collector) still(t *testing.T, n int) []amb.Delivery {
	t.Helper()
	time.Sleep(quiet)
	ds := c.snapshot()
	require.Lenf(t, ds, n, "unexpected deliveries: %v", topics(ds))
	return ds
}

func topics(ds []amb.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Topic
	}
	return out
}

func payloads(ds []amb.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d.Payload)
	}
	return out
}

func sub(t *testing.T, e *env, pattern string, h amb.Handler, opts ...amb.SubOption) amb.Subscription {
	t.Helper()
	s, err := e.bus.Subscribe(ctxT(t), pattern, h, opts...)
	require.NoError(t, err)
	require.Equal(t, pattern, s.Pattern())
	t.Cleanup(func() { _ = s.Unsubscribe() })
	return s
}

func pub(t *testing.T, e *env, topic, payload string) {
	t.Helper()
	require.NoError(t, e.bus.Publish(ctxT(t), topic, amb.Message{Payload: []byte(payload)}))
}

func testPublishSubscribe(t *testing.T, e *env) {
	c := newCollector()
	sub(t, e, "orders.new", c.handle)
	exp := e.clock.Now().Add(time.Hour)
	in := amb.Message{
		ID:          "order-1",
		Payload:     []byte(`{"sku":"A-1"}`),
		ContentType: "application/json",
		Headers:     map[string]string{amb.HeaderTraceID: "trace-9", amb.HeaderSender: "agent-001", "X-Note": "héllo wörld"},
		Priority:    amb.PriorityHigh,
		Expires:     exp,
	}
	require.NoError(t, e.bus.Publish(ctxT(t), "orders.new", in))
	require.NoError(t, e.bus.Publish(ctxT(t), "orders.new", amb.Message{}))
	require.NoError(t, e.bus.Publish(ctxT(t), "orders.old", amb.Message{Payload: []byte("other topic")}))

	ds := c.waitN(t, 2)
	got := ds[0]
	assert.Equal(t, "order-1", got.ID)
	assert.Equal(t, "orders.new", got.Topic)
	assert.Equal(t, in.Payload, got.Payload)
	assert.Equal(t, "application/json", got.ContentType)
	assert.Equal(t, in.Headers, got.Headers)
	assert.Equal(t, amb.PriorityHigh, got.Priority)
	assert.True(t, got.Time.Equal(e.clock.Now()), "time %s, clock %s", got.Time, e.clock.Now())
	assert.True(t, got.Expires.Equal(exp), "expires %s, want %s", got.Expires, exp)
	assert.Equal(t, 1, got.Attempt)
	assert.False(t, got.IsRequest())
	assert.NotZero(t, got.Seq)
	assert.False(t, got.Stored.IsZero())
	assert.ErrorIs(t, got.Respond(ctxT(t), amb.Message{}), amb.ErrNotRequest)

	empty := ds[1]
	assert.NotEmpty(t, empty.ID, "the bus fills an empty id")
	assert.NotEqual(t, got.ID, empty.ID)
	assert.Empty(t, empty.Payload)
	assert.Greater(t, empty.Seq, got.Seq)
	c.still(t, 2)

	// The caller's message is not aliased by the bus.
	in.Payload[0] = 'X'
	assert.Equal(t, byte('{'), ds[0].Payload[0])
}

func testWildcards(t *testing.T, e *env) {
	pubs := []string{"a.b.c", "a.b", "a.x.c", "a", "b.b.c", "a.b.c.d"}
	cases := []struct {
		pattern string
		want    []string
	}{
		{"a.b.c", []string{"a.b.c"}},
		{"a.*", []string{"a.b"}},
		{"a.*.c", []string{"a.b.c", "a.x.c"}},
		{"*.b.c", []string{"a.b.c", "b.b.c"}},
		{"a.>", []string{"a.b.c", "a.b", "a.x.c", "a.b.c.d"}},
		{">", pubs},
		{"*", []string{"a"}},
		{"a.b.c.>", []string{"a.b.c.d"}},
		{"c.>", nil},
	}
	cols := make([]*collector, len(cases))
	for i, tc := range cases {
		cols[i] = newCollector()
		sub(t, e, tc.pattern, cols[i].handle)
	}
	for _, p := range pubs {
		pub(t, e, p, p)
	}
	for i, tc := range cases {
		if len(tc.want) > 0 {
			cols[i].waitN(t, len(tc.want))
		}
	}
	time.Sleep(quiet)
	for i, tc := range cases {
		assert.ElementsMatch(t, tc.want, topics(cols[i].snapshot()), "pattern %q", tc.pattern)
	}
}

func testInvalidInput(t *testing.T, e *env) {
	ctx := ctxT(t)
	nop := func(context.Context, amb.Delivery) error { return nil }
	long := strings.Repeat("a", 300)
	topicCases := []struct{ name, topic string }{
		{"empty", ""}, {"empty token", "a..b"}, {"leading dot", ".a"}, {"trailing dot", "a."},
		{"space", "a b"}, {"tab", "a\tb"}, {"newline", "a\nb"}, {"wildcard star", "a.*"},
		{"wildcard gt", "a.>"}, {"dollar", "$SYS.x"}, {"reserved", "_dlq.a"}, {"reserved other", "_x"},
		{"too long", long}, {"too many tokens", strings.Repeat("a.", 20) + "a"}, {"nul", "a\x00"},
		{"non-ascii", "ünïcode"},
	}
	for _, tc := range topicCases {
		t.Run("topic/"+tc.name, func(t *testing.T) {
			err := e.bus.Publish(ctx, tc.topic, amb.Message{})
			require.ErrorIs(t, err, amb.ErrInvalidTopic)
			require.ErrorIs(t, err, agentos.ErrInvalid)
			_, err = e.bus.Request(ctx, tc.topic, amb.Message{})
			require.ErrorIs(t, err, amb.ErrInvalidTopic)
		})
	}
	patternCases := []struct{ name, pattern string }{
		{"empty", ""}, {"gt not last", "a.>.b"}, {"partial wildcard", "a.b*"}, {"space", "a. b"},
		{"reserved", "_x.>"}, {"bare dlq", "_dlq"}, {"empty token", "a..>"},
	}
	for _, tc := range patternCases {
		t.Run("pattern/"+tc.name, func(t *testing.T) {
			_, err := e.bus.Subscribe(ctx, tc.pattern, nop)
			require.ErrorIs(t, err, amb.ErrInvalidTopic)
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	headerCases := []struct {
		name string
		h    map[string]string
	}{
		{"empty name", map[string]string{"": "v"}},
		{"colon", map[string]string{"a:b": "v"}},
		{"space in name", map[string]string{"a b": "v"}},
		{"newline in value", map[string]string{"A": "v\r\nInjected: 1"}},
		{"nul in value", map[string]string{"A": "v\x00"}},
		{"invalid utf8", map[string]string{"A": "\xff\xfe"}},
		{"leading space", map[string]string{"A": " v"}},
		{"reserved amb", map[string]string{"Amb-Dead-Cause": "x"}},
		{"reserved nats", map[string]string{"nats-msg-id": "x"}},
		{"long name", map[string]string{strings.Repeat("n", 100): "v"}},
		{"long value", map[string]string{"A": strings.Repeat("v", 2000)}},
		{"too many", manyHeaders(40)},
	}
	for _, tc := range headerCases {
		t.Run("header/"+tc.name, func(t *testing.T) {
			err := e.bus.Publish(ctx, "valid.topic", amb.Message{Headers: tc.h})
			require.ErrorIs(t, err, amb.ErrInvalidHeader)
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	msgCases := []struct {
		name string
		m    amb.Message
	}{
		{"id with space", amb.Message{ID: "a b"}},
		{"id too long", amb.Message{ID: strings.Repeat("i", 200)}},
		{"content type newline", amb.Message{ContentType: "text/plain\n"}},
		{"expires before time", amb.Message{Time: time.Unix(100, 0), Expires: time.Unix(50, 0)}},
	}
	for _, tc := range msgCases {
		t.Run("message/"+tc.name, func(t *testing.T) {
			err := e.bus.Publish(ctx, "valid.topic", tc.m)
			require.ErrorIs(t, err, amb.ErrInvalidMessage)
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	t.Run("nil handler", func(t *testing.T) {
		_, err := e.bus.Subscribe(ctx, "a", nil)
		require.ErrorIs(t, err, agentos.ErrInvalid)
	})
	t.Run("bad durable", func(t *testing.T) {
		_, err := e.bus.Subscribe(ctx, "a", nop, amb.Durable("has.dot"))
		require.ErrorIs(t, err, amb.ErrInvalidOption)
	})
	// The bus still works.
	c := newCollector()
	sub(t, e, "valid.topic", c.handle)
	pub(t, e, "valid.topic", "ok")
	c.waitN(t, 1)
}

func manyHeaders(n int) map[string]string {
	h := make(map[string]string, n)
	for i := range n {
		h[fmt.Sprintf("H%d", i)] = "v"
	}
	return h
}

func testOversized(t *testing.T, e *env) {
	limit := e.opts.Limits.MaxMessageBytes
	c := newCollector()
	sub(t, e, "big", c.handle)
	err := e.bus.Publish(ctxT(t), "big", amb.Message{Payload: make([]byte, limit+1)})
	require.ErrorIs(t, err, amb.ErrTooLarge)
	require.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = e.bus.Request(ctxT(t), "big", amb.Message{Payload: make([]byte, limit+1)})
	require.ErrorIs(t, err, amb.ErrTooLarge)
	pub(t, e, "big", string(make([]byte, limit/2)))
	ds := c.waitN(t, 1)
	require.Len(t, ds[0].Payload, limit/2)
	c.still(t, 1)
}

func testRequestReply(t *testing.T, e *env) {
	ctx := ctxT(t)
	sub(t, e, "svc.*", func(ctx context.Context, d amb.Delivery) error {
		if !d.IsRequest() {
			return nil
		}
		switch d.Topic {
		case "svc.fail":
			return errors.New("no can do")
		case "svc.panic":
			panic("responder exploded")
		case "svc.bad":
			err := d.Respond(ctx, amb.Message{Headers: map[string]string{"A": "x\n"}})
			if !errors.Is(err, amb.ErrInvalidHeader) {
				return fmt.Errorf("invalid reply accepted: %v", err)
			}
			return d.Respond(ctx, amb.Message{Payload: []byte("fixed")})
		}
		return d.Respond(ctx, amb.Message{
			Payload: []byte(strings.ToUpper(string(d.Payload))), ContentType: "text/plain",
			Headers: map[string]string{amb.HeaderTraceID: d.Header(amb.HeaderTraceID)},
		})
	})
	rep, err := e.bus.Request(ctx, "svc.echo", amb.Message{Payload: []byte("hello"), Headers: map[string]string{amb.HeaderTraceID: "t-1"}})
	require.NoError(t, err)
	assert.Equal(t, "HELLO", string(rep.Payload))
	assert.Equal(t, "text/plain", rep.ContentType)
	assert.Equal(t, "t-1", rep.Header(amb.HeaderTraceID))
	assert.Equal(t, "svc.echo", rep.Topic)
	assert.NotEmpty(t, rep.ID)

	_, err = e.bus.Request(ctx, "svc.fail", amb.Message{})
	require.ErrorIs(t, err, amb.ErrHandlerFailed)
	assert.Contains(t, err.Error(), "no can do")

	_, err = e.bus.Request(ctx, "svc.panic", amb.Message{})
	require.ErrorIs(t, err, amb.ErrHandlerFailed)

	rep, err = e.bus.Request(ctx, "svc.bad", amb.Message{})
	require.NoError(t, err)
	assert.Equal(t, "fixed", string(rep.Payload))

	_, err = e.bus.Request(ctx, "nobody.home", amb.Message{})
	require.ErrorIs(t, err, amb.ErrNoResponders)

	// The responder survived the panic.
	rep, err = e.bus.Request(ctx, "svc.echo", amb.Message{Payload: []byte("again")})
	require.NoError(t, err)
	assert.Equal(t, "AGAIN", string(rep.Payload))
}

// A handler that fails a request while its subscription is being ended
// still answers the requester with ErrHandlerFailed: the requester must not
// be left to time out.
func testRequestFailsDuringUnsubscribe(t *testing.T, e *env) {
	entered := make(chan struct{})
	s, err := e.bus.Subscribe(ctxT(t), "ending.req", func(ctx context.Context, d amb.Delivery) error {
		if !d.IsRequest() {
			return nil
		}
		close(entered)
		<-ctx.Done() // returns only once Unsubscribe has ended the subscription's context
		return errors.New("ending")
	})
	require.NoError(t, err)
	type result struct {
		err error
		in  time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		_, err := e.bus.Request(context.Background(), "ending.req", amb.Message{})
		done <- result{err, time.Since(start)}
	}()
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatal("the handler was never called")
	}
	require.NoError(t, s.Unsubscribe())
	r := <-done
	require.ErrorIs(t, r.err, amb.ErrHandlerFailed)
	assert.Less(t, r.in, e.opts.RequestTimeout, "answered, not timed out")
}

func testRequestTimeout(t *testing.T, e *env) {
	release := make(chan struct{})
	sub(t, e, "slow.svc", func(ctx context.Context, d amb.Delivery) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil // never replies
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.bus.Request(ctx, "slow.svc", amb.Message{})
	require.ErrorIs(t, err, amb.ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), wait/2)

	// Without a deadline on ctx the bus's RequestTimeout applies.
	start = time.Now()
	_, err = e.bus.Request(context.Background(), "slow.svc", amb.Message{})
	require.ErrorIs(t, err, amb.ErrTimeout)
	assert.GreaterOrEqual(t, time.Since(start), e.opts.RequestTimeout/2)

	// A cancelled ctx is reported as such.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	_, err = e.bus.Request(cctx, "slow.svc", amb.Message{})
	require.ErrorIs(t, err, context.Canceled)
}

func testOrdering(t *testing.T, e *env) {
	const n = 100
	c := newCollector()
	sub(t, e, "seq.>", c.handle)
	for i := range n {
		pub(t, e, fmt.Sprintf("seq.%d", i%3), fmt.Sprint(i))
	}
	ds := c.waitN(t, n)
	for i, d := range ds {
		require.Equal(t, fmt.Sprint(i), string(d.Payload), "delivery %d out of order", i)
		if i > 0 {
			require.Greater(t, d.Seq, ds[i-1].Seq)
		}
	}
}

func testPriority(t *testing.T, e *env) {
	if !e.caps.PriorityOrder {
		t.Skip("bus does not declare PriorityOrder; priorities are carried, not reordered")
	}
	gate := make(chan struct{})
	c := newCollector()
	var first atomic.Bool
	sub(t, e, "prio", func(ctx context.Context, d amb.Delivery) error {
		if first.CompareAndSwap(false, true) {
			<-gate // hold the subscriber so the rest queue up
		}
		return c.handle(ctx, d)
	})
	ctx := ctxT(t)
	require.NoError(t, e.bus.Publish(ctx, "prio", amb.Message{Payload: []byte("blocker")}))
	for !first.Load() {
		time.Sleep(time.Millisecond)
	}
	for _, m := range []struct {
		p amb.Priority
		s string
	}{{amb.PriorityLow, "low1"}, {amb.PriorityNormal, "normal1"}, {amb.PriorityCritical, "critical"},
		{amb.PriorityLow, "low2"}, {amb.PriorityHigh, "high"}, {amb.PriorityNormal, "normal2"}} {
		require.NoError(t, e.bus.Publish(ctx, "prio", amb.Message{Payload: []byte(m.s), Priority: m.p}))
	}
	close(gate)
	ds := c.waitN(t, 7)
	assert.Equal(t, []string{"blocker", "critical", "high", "normal1", "normal2", "low1", "low2"}, payloads(ds))
}

func testRetryThenSucceed(t *testing.T, e *env) {
	var calls atomic.Int32
	c := newCollector()
	sub(t, e, "flaky", func(ctx context.Context, d amb.Delivery) error {
		if calls.Add(1) < 3 {
			return errors.New("transient")
		}
		return c.handle(ctx, d)
	})
	dlq := newCollector()
	sub(t, e, amb.DeadLetterTopic(">"), dlq.handle)
	pub(t, e, "flaky", "x")
	ds := c.waitN(t, 1)
	assert.Equal(t, 3, ds[0].Attempt)
	assert.Equal(t, int32(3), calls.Load())
	dlq.still(t, 0)
}

func testDeadLetterOnError(t *testing.T, e *env) {
	var calls atomic.Int32
	var attempts []int
	var mu sync.Mutex
	sub(t, e, "jobs.*", func(_ context.Context, d amb.Delivery) error {
		calls.Add(1)
		mu.Lock()
		attempts = append(attempts, d.Attempt)
		mu.Unlock()
		return fmt.Errorf("cannot process %s", d.Payload)
	})
	dlq := newCollector()
	sub(t, e, "_dlq.>", dlq.handle)
	all := newCollector()
	sub(t, e, ">", all.handle) // a full wildcard never sees dead letters
	require.NoError(t, e.bus.Publish(ctxT(t), "jobs.resize", amb.Message{
		ID: "job-7", Payload: []byte("img-7"), Headers: map[string]string{amb.HeaderSender: "agent-a"}, Priority: amb.PriorityHigh,
	}))
	ds := dlq.waitN(t, 1)
	d := ds[0]
	assert.Equal(t, "_dlq.jobs.resize", d.Topic)
	assert.Equal(t, "img-7", string(d.Payload))
	assert.Equal(t, string(amb.DeadHandlerError), d.Header(amb.HeaderDeadCause))
	assert.Contains(t, d.Header(amb.HeaderDeadReason), "cannot process img-7")
	assert.Equal(t, "jobs.resize", d.Header(amb.HeaderDeadTopic))
	assert.Equal(t, "job-7", d.Header(amb.HeaderDeadID))
	assert.Equal(t, "3", d.Header(amb.HeaderDeadAttempts))
	assert.NotEmpty(t, d.Header(amb.HeaderDeadSeq))
	assert.Equal(t, "agent-a", d.Header(amb.HeaderSender))
	assert.Equal(t, amb.PriorityHigh, d.Priority)
	assert.NotEqual(t, "job-7", d.ID)
	assert.Equal(t, int32(3), calls.Load())
	mu.Lock()
	assert.Equal(t, []int{1, 2, 3}, attempts)
	mu.Unlock()
	dlq.still(t, 1)
	assert.Equal(t, []string{"jobs.resize"}, topics(all.still(t, 1)))

	// The dead-letter queue is retained and can be replayed.
	replay := newCollector()
	sub(t, e, "_dlq.jobs.*", replay.handle, amb.DeliverAll())
	assert.Equal(t, "img-7", string(replay.waitN(t, 1)[0].Payload))
	if sr, ok := e.bus.(amb.StatsReporter); ok {
		st := sr.Stats()
		assert.GreaterOrEqual(t, st.DeadLettered, uint64(1))
		assert.GreaterOrEqual(t, st.Failed, uint64(3))
		assert.GreaterOrEqual(t, st.Retried, uint64(2))
	}
}

func testDeadLetterOnPanic(t *testing.T, e *env) {
	var calls atomic.Int32
	ok := newCollector()
	sub(t, e, "boom", func(ctx context.Context, d amb.Delivery) error {
		calls.Add(1)
		if string(d.Payload) == "panic" {
			panic("handler bug")
		}
		return ok.handle(ctx, d)
	})
	dlq := newCollector()
	sub(t, e, "_dlq.boom", dlq.handle)
	pub(t, e, "boom", "panic")
	ds := dlq.waitN(t, 1)
	assert.Equal(t, string(amb.DeadPanic), ds[0].Header(amb.HeaderDeadCause))
	assert.Contains(t, ds[0].Header(amb.HeaderDeadReason), "handler bug")
	assert.Equal(t, "1", ds[0].Header(amb.HeaderDeadAttempts))
	assert.Equal(t, int32(1), calls.Load(), "a panic is not retried")
	// The subscription survives.
	pub(t, e, "boom", "fine")
	assert.Equal(t, "fine", string(ok.waitN(t, 1)[0].Payload))
	if sr, ok := e.bus.(amb.StatsReporter); ok {
		assert.GreaterOrEqual(t, sr.Stats().Panics, uint64(1))
	}
}

func testDeadLetterOnExpiry(t *testing.T, e *env) {
	ctx := ctxT(t)
	require.NoError(t, e.bus.Publish(ctx, "ttl", amb.Message{Payload: []byte("stale"), Expires: e.clock.Now().Add(time.Minute)}))
	require.NoError(t, e.bus.Publish(ctx, "ttl", amb.Message{Payload: []byte("fresh"), Expires: e.clock.Now().Add(time.Hour)}))
	require.NoError(t, e.bus.Publish(ctx, "ttl", amb.Message{Payload: []byte("forever")}))
	e.clock.Advance(2 * time.Minute)
	dlq := newCollector()
	sub(t, e, "_dlq.ttl", dlq.handle)
	c := newCollector()
	sub(t, e, "ttl", c.handle, amb.DeliverAll())
	assert.Equal(t, []string{"fresh", "forever"}, payloads(c.waitN(t, 2)))
	ds := dlq.waitN(t, 1)
	assert.Equal(t, "stale", string(ds[0].Payload))
	assert.Equal(t, string(amb.DeadExpired), ds[0].Header(amb.HeaderDeadCause))
	assert.True(t, ds[0].Expires.IsZero(), "a dead letter does not expire")
	c.still(t, 2)
	if sr, ok := e.bus.(amb.StatsReporter); ok {
		assert.GreaterOrEqual(t, sr.Stats().Expired, uint64(1))
	}
}

// testSlowSubscriber: a subscriber that does not keep up never holds back
// another, and every message it misses is accounted for.
func testSlowSubscriber(t *testing.T, e *env) {
	const n = 50
	gate := make(chan struct{})
	slow := newCollector()
	sub(t, e, "feed", func(ctx context.Context, d amb.Delivery) error {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		return slow.handle(ctx, d)
	})
	fast := newCollector()
	sub(t, e, "feed", fast.handle)
	for i := range n {
		pub(t, e, "feed", fmt.Sprint(i))
	}
	ds := fast.waitN(t, n)
	for i, d := range ds {
		require.Equal(t, fmt.Sprint(i), string(d.Payload))
	}
	close(gate)
	var dropped uint64
	sr, hasStats := e.bus.(amb.StatsReporter)
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if hasStats {
			dropped = sr.Stats().Dropped
		}
		if uint64(len(slow.snapshot()))+dropped >= n {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	assert.Equal(t, uint64(n), uint64(len(slow.snapshot()))+dropped, "every message is delivered or counted as dropped")
}

func testReplay(t *testing.T, e *env) {
	ctx := ctxT(t)
	for _, p := range []string{"A", "B"} {
		pub(t, e, "log.x", p)
	}
	pub(t, e, "other", "O")
	e.clock.Advance(time.Second)
	time.Sleep(20 * time.Millisecond) // a server-side store clock moves too
	for _, p := range []string{"C", "D"} {
		pub(t, e, "log.x", p)
	}

	all := newCollector()
	sub(t, e, "log.*", all.handle, amb.DeliverAll())
	ds := all.waitN(t, 4)
	require.Equal(t, []string{"A", "B", "C", "D"}, payloads(ds))
	seqC, storedC := ds[2].Seq, ds[2].Stored
	assert.True(t, storedC.After(ds[1].Stored), "stored times increase")

	bySeq := newCollector()
	sub(t, e, "log.x", bySeq.handle, amb.StartAtSeq(seqC))
	assert.Equal(t, []string{"C", "D"}, payloads(bySeq.waitN(t, 2)))

	byTime := newCollector()
	sub(t, e, "log.>", byTime.handle, amb.StartAtTime(storedC))
	assert.Equal(t, []string{"C", "D"}, payloads(byTime.waitN(t, 2)))

	fresh := newCollector()
	sub(t, e, "log.x", fresh.handle)
	_, err := e.bus.Subscribe(ctx, "log.x", fresh.handle, amb.StartAtSeq(0))
	require.ErrorIs(t, err, amb.ErrInvalidOption)
	pub(t, e, "log.x", "E")
	assert.Equal(t, []string{"E"}, payloads(fresh.waitN(t, 1)))
	fresh.still(t, 1)
	assert.Equal(t, []string{"A", "B", "C", "D", "E"}, payloads(all.waitN(t, 5)))
	assert.Equal(t, []string{"C", "D", "E"}, payloads(bySeq.still(t, 3)))
}

func testConcurrentPublishers(t *testing.T, e *env) {
	const workers, each = 4, 25
	c := newCollector()
	sub(t, e, "conc.>", c.handle)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				assert.NoError(t, e.bus.Publish(context.Background(), fmt.Sprintf("conc.%d", w), amb.Message{Payload: []byte(fmt.Sprintf("%d-%d", w, i))}))
			}
		})
	}
	wg.Wait()
	ds := c.waitN(t, workers*each)
	seen := map[string]bool{}
	last := map[string]int{}
	for _, d := range ds {
		require.False(t, seen[d.ID], "duplicate delivery %s", d.ID)
		seen[d.ID] = true
		var w, i int
		_, err := fmt.Sscanf(string(d.Payload), "%d-%d", &w, &i)
		require.NoError(t, err)
		key := fmt.Sprint(w)
		if prev, ok := last[key]; ok {
			require.Greater(t, i, prev, "publisher %d's messages out of order", w)
		}
		last[key] = i
	}
	c.still(t, workers*each)
}

func testUnsubscribe(t *testing.T, e *env) {
	c := newCollector()
	s := sub(t, e, "unsub", c.handle)
	pub(t, e, "unsub", "1")
	c.waitN(t, 1)
	require.NoError(t, s.Unsubscribe())
	require.NoError(t, s.Unsubscribe(), "Unsubscribe is idempotent")
	pub(t, e, "unsub", "2")
	c.still(t, 1)

	// Unsubscribe cancels a running handler's ctx and waits for it.
	started, finished := make(chan struct{}), make(chan struct{})
	s2 := sub(t, e, "unsub", func(ctx context.Context, d amb.Delivery) error {
		close(started)
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond)
		close(finished)
		return ctx.Err()
	})
	pub(t, e, "unsub", "3")
	<-started
	require.NoError(t, s2.Unsubscribe())
	select {
	case <-finished:
	default:
		t.Fatal("Unsubscribe returned before the handler")
	}
}

func testClose(t *testing.T, e *env) {
	started, finished := make(chan struct{}), make(chan struct{})
	var once sync.Once
	sub(t, e, "closing", func(ctx context.Context, d amb.Delivery) error {
		once.Do(func() { close(started) })
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond)
		select {
		case <-finished:
		default:
			close(finished)
		}
		return ctx.Err()
	})
	reqErr := make(chan error, 1)
	go func() {
		_, err := e.bus.Request(context.Background(), "closing", amb.Message{})
		reqErr <- err
	}()
	<-started
	require.NoError(t, e.bus.Close())
	select {
	case <-finished:
	default:
		t.Fatal("Close returned before the running handler")
	}
	select {
	case err := <-reqErr:
		require.ErrorIs(t, err, amb.ErrClosed)
	case <-time.After(wait):
		t.Fatal("Close did not unblock a pending Request")
	}
	require.NoError(t, e.bus.Close(), "Close is idempotent")
	ctx := ctxT(t)
	err := e.bus.Publish(ctx, "closing", amb.Message{})
	require.ErrorIs(t, err, amb.ErrClosed)
	require.ErrorIs(t, err, agentos.ErrClosed)
	_, err = e.bus.Subscribe(ctx, "closing", func(context.Context, amb.Delivery) error { return nil })
	require.ErrorIs(t, err, amb.ErrClosed)
	_, err = e.bus.Request(ctx, "closing", amb.Message{})
	require.ErrorIs(t, err, amb.ErrClosed)
}
