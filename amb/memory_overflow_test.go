package amb_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/amb/ambtest"
)

type recorder struct {
	mu sync.Mutex
	ds []amb.Delivery
}

func (r *recorder) handle(_ context.Context, d amb.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ds = append(r.ds, d)
	return nil
}

func (r *recorder) payloads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.ds))
	for i, d := range r.ds {
		out[i] = string(d.Payload)
	}
	return out
}

func (r *recorder) snapshot() []amb.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]amb.Delivery(nil), r.ds...)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ds)
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, time.Millisecond)
}

// blocked subscribes a handler that holds its first message until release
// is closed, and records everything.
func blocked(t *testing.T, b amb.Bus, topic string) (rec *recorder, release func()) {
	t.Helper()
	gate := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	rec = &recorder{}
	_, err := b.Subscribe(context.Background(), topic, func(ctx context.Context, d amb.Delivery) error {
		once.Do(func() {
			close(started)
			select {
			case <-gate:
			case <-ctx.Done(): // Close or Unsubscribe
			}
		})
		return rec.handle(ctx, d)
	})
	require.NoError(t, err)
	require.NoError(t, b.Publish(context.Background(), topic, amb.Message{Payload: []byte("first")}))
	<-started
	return rec, sync.OnceFunc(func() { close(gate) })
}

func TestOverflowDropLowest(t *testing.T) {
	b := amb.NewMemory(&amb.MemoryOptions{QueueSize: 3, Overflow: amb.OverflowDropLowest})
	defer b.Close()
	dlq := &recorder{}
	_, err := b.Subscribe(context.Background(), "_dlq.>", dlq.handle)
	require.NoError(t, err)
	rec, release := blocked(t, b, "work")
	defer release()
	ctx := context.Background()
	for _, m := range []struct {
		s string
		p amb.Priority
	}{{"low", amb.PriorityLow}, {"n1", 0}, {"high", amb.PriorityHigh}, {"n2", 0}, {"crit", amb.PriorityCritical}, {"low2", amb.PriorityLow}} {
		require.NoError(t, b.Publish(ctx, "work", amb.Message{Payload: []byte(m.s), Priority: m.p}), "never blocks")
	}
	// Queue of 3: "low" is evicted by "n2", "n1" (oldest normal) by "crit",
	// and "low2" is itself the lowest.
	release()
	eventually(t, func() bool { return rec.len() == 4 && dlq.len() == 3 })
	assert.Equal(t, []string{"first", "crit", "high", "n2"}, rec.payloads())
	assert.ElementsMatch(t, []string{"low", "n1", "low2"}, dlq.payloads(), "dead letters keep their priority")
	for _, d := range dlq.snapshot() {
		assert.Equal(t, string(amb.DeadOverflow), d.Header(amb.HeaderDeadCause))
	}
	assert.Equal(t, uint64(3), b.Stats().Dropped)
}

func TestOverflowBlock(t *testing.T) {
	b := amb.NewMemory(&amb.MemoryOptions{QueueSize: 1, Overflow: amb.OverflowBlock, BlockTimeout: 200 * time.Millisecond})
	defer b.Close()
	dlq := &recorder{}
	_, err := b.Subscribe(context.Background(), "_dlq.>", dlq.handle)
	require.NoError(t, err)
	rec, release := blocked(t, b, "work")
	defer release()
	ctx := context.Background()
	require.NoError(t, b.Publish(ctx, "work", amb.Message{Payload: []byte("queued")}))

	start := time.Now()
	err = b.Publish(ctx, "work", amb.Message{Payload: []byte("refused")})
	require.ErrorIs(t, err, amb.ErrQueueFull)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "publisher was held back")
	eventually(t, func() bool { return dlq.len() == 1 })
	assert.Equal(t, string(amb.DeadQueueFull), dlq.snapshot()[0].Header(amb.HeaderDeadCause))
	assert.Equal(t, uint64(1), b.Stats().Dropped)

	// A cancelled publisher stops waiting.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, b.Publish(cctx, "work", amb.Message{Payload: []byte("impatient")}), context.DeadlineExceeded)

	// Room appearing unblocks a waiting publisher.
	b2 := amb.NewMemory(&amb.MemoryOptions{QueueSize: 1, BlockTimeout: 5 * time.Second})
	defer b2.Close()
	rec2, release2 := blocked(t, b2, "work")
	require.NoError(t, b2.Publish(ctx, "work", amb.Message{Payload: []byte("queued")}))
	time.AfterFunc(30*time.Millisecond, release2)
	require.NoError(t, b2.Publish(ctx, "work", amb.Message{Payload: []byte("waited")}))
	eventually(t, func() bool { return rec2.len() == 3 })
	assert.Equal(t, []string{"first", "queued", "waited"}, rec2.payloads())

	release()
	eventually(t, func() bool { return rec.len() >= 2 })
	assert.Equal(t, []string{"first", "queued"}, rec.payloads()[:2])
}

func TestCloseUnblocksPublisher(t *testing.T) {
	b := amb.NewMemory(&amb.MemoryOptions{QueueSize: 1, BlockTimeout: time.Minute})
	_, release := blocked(t, b, "work")
	defer release()
	require.NoError(t, b.Publish(context.Background(), "work", amb.Message{}))
	errc := make(chan error, 1)
	go func() { errc <- b.Publish(context.Background(), "work", amb.Message{}) }()
	time.Sleep(20 * time.Millisecond)
	closed := make(chan struct{})
	go func() { _ = b.Close(); close(closed) }()
	<-closed
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, amb.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a publisher blocked")
	}
}

func TestRetentionBounds(t *testing.T) {
	clock := ambtest.NewClock(time.Unix(1000, 0))
	b := amb.NewMemory(&amb.MemoryOptions{Options: amb.Options{MaxRetained: 5, MaxAge: time.Minute, Clock: clock.Now}})
	defer b.Close()
	ctx := context.Background()
	for i := range 10 {
		require.NoError(t, b.Publish(ctx, "r", amb.Message{Payload: []byte{byte('0' + i)}}))
	}
	rec := &recorder{}
	_, err := b.Subscribe(ctx, "r", rec.handle, amb.DeliverAll())
	require.NoError(t, err)
	eventually(t, func() bool { return rec.len() == 5 })
	assert.Equal(t, []string{"5", "6", "7", "8", "9"}, rec.payloads())

	clock.Advance(2 * time.Minute)
	require.NoError(t, b.Publish(ctx, "r", amb.Message{Payload: []byte("new")}))
	late := &recorder{}
	_, err = b.Subscribe(ctx, "r", late.handle, amb.DeliverAll())
	require.NoError(t, err)
	eventually(t, func() bool { return late.len() == 1 })
	assert.Equal(t, []string{"new"}, late.payloads(), "older than MaxAge is gone")
}

func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, topic string
		want           bool
	}{
		{"a", "a", true}, {"a", "b", false}, {"a", "a.b", false}, {"a.b", "a", false},
		{"*", "a", true}, {"*", "a.b", false}, {"a.*", "a.b", true}, {"a.*", "a", false},
		{">", "a", true}, {">", "a.b.c", true}, {"a.>", "a", false}, {"a.>", "a.b.c", true},
		{"*.b", "a.b", true}, {"*.*", "a.b", true}, {"a.*.c", "a.b.c", true}, {"a.*.c", "a.b.d", false},
		{">", "_dlq.a", false}, {"*.a", "_dlq.a", false}, {"_dlq.>", "_dlq.a.b", true}, {"_dlq.a", "_dlq.a", true},
		{"_dlq.*", "_dlq.a", true}, {"_dlq.*", "a", false},
	}
	for _, tc := range cases {
		t.Run(tc.pattern+"~"+tc.topic, func(t *testing.T) {
			assert.Equal(t, tc.want, amb.Match(tc.pattern, tc.topic))
		})
	}
}

func TestExponentialBackoff(t *testing.T) {
	f := amb.ExponentialBackoff(10*time.Millisecond, 50*time.Millisecond)
	assert.Equal(t, []time.Duration{10, 20, 40, 50, 50}, []time.Duration{f(1) / time.Millisecond, f(2) / time.Millisecond, f(3) / time.Millisecond, f(4) / time.Millisecond, f(5) / time.Millisecond})
}
