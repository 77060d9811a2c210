package natsbus_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/amb/natsbus"
	"github.com/agent-os/agentos/amb/natsbus/natstest"
)

// seen records distinct payloads (delivery is at least once).
type seen struct {
	mu  sync.Mutex
	set map[string]int
	ds  []amb.Delivery
}

func newSeen() *seen { return &seen{set: map[string]int{}} }

func (s *seen) handle(_ context.Context, d amb.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set[string(d.Payload)]++
	s.ds = append(s.ds, d)
	return nil
}

func (s *seen) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.set)
}

func (s *seen) deliveries() []amb.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]amb.Delivery(nil), s.ds...)
}

func (s *seen) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func names(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("m%03d", i))
	}
	sort.Strings(out)
	return out
}

func publishRange(t *testing.T, b amb.Bus, topic string, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := from; i < to; i++ {
		require.NoError(t, b.Publish(ctx, topic, amb.Message{Payload: []byte(fmt.Sprintf("m%03d", i))}))
	}
}

func streamMsgs(t *testing.T, nc *nats.Conn, stream string) uint64 {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var info *jetstream.StreamInfo
	waitFor(t, 10*time.Second, "stream info", func() bool {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return false
		}
		info, err = s.Info(ctx)
		return err == nil
	})
	return info.State.Msgs
}

// TestServerRestart stops the server, publishes while it is down (Publish
// retries), starts it again on the same port and store: every acknowledged
// message is stored once and delivered to the durable subscription.
func TestServerRestart(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	b := connect(t, srv.URL(), nil)
	got := newSeen()
	_, err := b.Subscribe(context.Background(), "orders.*", got.handle, amb.Durable("billing"))
	require.NoError(t, err)

	publishRange(t, b, "orders.new", 0, 20)
	waitFor(t, 10*time.Second, "first 20", func() bool { return got.distinct() == 20 })

	srv.Shutdown()
	done := make(chan struct{})
	go func() {
		defer close(done)
		publishRange(t, b, "orders.new", 20, 40) // blocks, retrying, until the server is back
	}()
	time.Sleep(300 * time.Millisecond)
	srv.Start()
	<-done
	publishRange(t, b, "orders.new", 40, 50)

	waitFor(t, 20*time.Second, "all 50 after restart", func() bool { return got.distinct() == 50 })
	assert.Equal(t, names(0, 50), got.keys())
	assert.Equal(t, uint64(50), streamMsgs(t, b.Conn(), "AMB"), "retried publishes are stored once")
}

// TestDurableResume: a durable subscription resumes after its last ack.
func TestDurableResume(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	b := connect(t, srv.URL(), nil)
	first := newSeen()
	s, err := b.Subscribe(context.Background(), "jobs", first.handle, amb.Durable("worker"))
	require.NoError(t, err)
	publishRange(t, b, "jobs", 0, 3)
	waitFor(t, 10*time.Second, "first batch", func() bool { return first.distinct() == 3 })
	require.NoError(t, s.Unsubscribe())

	publishRange(t, b, "jobs", 3, 6)
	second := newSeen()
	_, err = b.Subscribe(context.Background(), "jobs", second.handle, amb.Durable("worker"))
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "second batch", func() bool { return second.distinct() == 3 })
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, names(3, 6), second.keys())
}

// TestCluster runs a replicated (R3) stream on a 3-node cluster and shuts
// down the stream's leader: publishing and delivery go on, nothing
// acknowledged is lost.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	servers := natstest.StartCluster(t, 3)
	urls := servers[0].URL() + "," + servers[1].URL() + "," + servers[2].URL()
	b := connect(t, urls, &natsbus.Options{Replicas: 3, Options: amb.Options{RequestTimeout: 2 * time.Second}})
	got := newSeen()
	_, err := b.Subscribe(context.Background(), "events.>", got.handle, amb.Durable("audit"))
	require.NoError(t, err)
	publishRange(t, b, "events.a", 0, 10)
	waitFor(t, 15*time.Second, "before failover", func() bool { return got.distinct() == 10 })

	js, err := jetstream.New(b.Conn())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "AMB")
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	require.NotNil(t, info.Cluster)
	assert.Len(t, info.Cluster.Replicas, 2, "R3: a leader and two replicas")
	leader := info.Cluster.Leader
	for _, s := range servers {
		if s.Name() == leader {
			s.Shutdown()
		}
	}

	publishRange(t, b, "events.b", 10, 20)
	waitFor(t, 20*time.Second, "after failover", func() bool { return got.distinct() == 20 })
	assert.Equal(t, names(0, 20), got.keys())
	assert.Equal(t, uint64(20), streamMsgs(t, b.Conn(), "AMB"))

	// Request/reply works across the surviving nodes.
	_, err = b.Subscribe(context.Background(), "svc.ping", func(ctx context.Context, d amb.Delivery) error {
		if d.IsRequest() {
			return d.Respond(ctx, amb.Message{Payload: []byte("pong")})
		}
		return nil
	})
	require.NoError(t, err)
	rep, err := b.Request(context.Background(), "svc.ping", amb.Message{})
	require.NoError(t, err)
	assert.Equal(t, "pong", string(rep.Payload))
}

// TestMaxDeliverAdvisory: a consumer that never acks (here a raw JetStream
// consumer standing for a crashed process) exhausts the message's
// deliveries; the bus turns the server's advisory into a dead letter.
func TestMaxDeliverAdvisory(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	b := connect(t, srv.URL(), nil)
	dlq := newSeen()
	_, err := b.Subscribe(context.Background(), "_dlq.>", dlq.handle)
	require.NoError(t, err)

	js, err := jetstream.New(b.Conn())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "AMB")
	require.NoError(t, err)
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "crashy", FilterSubject: "amb.m.tasks", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 100 * time.Millisecond, MaxDeliver: 2,
	})
	require.NoError(t, err)
	require.NoError(t, b.Publish(ctx, "tasks", amb.Message{Payload: []byte("unlucky")}))
	for range 2 {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
		require.NoError(t, err)
		n := 0
		for range batch.Messages() {
			n++ // never acked
		}
		require.Equal(t, 1, n)
	}
	// The server checks the delivery count when it would redeliver, which
	// for a pull consumer is on the next pull.
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(500*time.Millisecond))
	require.NoError(t, err)
	for range batch.Messages() {
		t.Fatal("delivered past MaxDeliver")
	}
	waitFor(t, 10*time.Second, "dead letter from advisory", func() bool { return dlq.distinct() == 1 })
	d := dlq.deliveries()[0]
	assert.Equal(t, "_dlq.tasks", d.Topic)
	assert.Equal(t, "unlucky", string(d.Payload))
	assert.Equal(t, string(amb.DeadMaxDeliver), d.Header(amb.HeaderDeadCause))
	assert.Equal(t, "crashy", d.Header(amb.HeaderDeadSub))
	assert.Equal(t, "2", d.Header(amb.HeaderDeadAttempts))
}

// TestMalformedFrame: a frame on the bus's subjects that does not decode
// is dead-lettered with cause malformed, not handed to the handler.
func TestMalformedFrame(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	b := connect(t, srv.URL(), nil)
	got, dlq := newSeen(), newSeen()
	_, err := b.Subscribe(context.Background(), "raw", got.handle)
	require.NoError(t, err)
	_, err = b.Subscribe(context.Background(), "_dlq.raw", dlq.handle)
	require.NoError(t, err)
	js, err := jetstream.New(b.Conn())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, h := range []nats.Header{
		{"Amb-Priority": {"urgent"}},
		{"Amb-Time": {"yesterday"}},
		{"X": {"a", "b"}},
		{"Amb-Expires": {"-"}},
	} {
		_, err := js.PublishMsg(ctx, &nats.Msg{Subject: "amb.m.raw", Header: h, Data: []byte("junk")})
		require.NoError(t, err)
	}
	require.NoError(t, b.Publish(ctx, "raw", amb.Message{Payload: []byte("good")}))
	waitFor(t, 10*time.Second, "dead letters", func() bool { return dlq.distinct() == 1 && len(dlq.deliveries()) == 4 })
	waitFor(t, 10*time.Second, "good message", func() bool { return got.distinct() == 1 })
	assert.Equal(t, []string{"good"}, got.keys())
	for _, d := range dlq.deliveries() {
		assert.Equal(t, string(amb.DeadMalformed), d.Header(amb.HeaderDeadCause))
	}
}
