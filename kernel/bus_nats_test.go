package kernel_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/amb/natsbus"
	"github.com/agent-os/agentos/amb/natsbus/natstest"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/signals"
)

// The same governed exchange on NATS JetStream, against an embedded server:
// an allowed report with a forged sender header (in another letter case,
// which NATS headers could fold together) arrives stamped by the kernel; a
// message from outside the kernel is refused at the receiver's gate and
// dead-lettered; a denied publish never reaches the server.
func TestBusOnNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a nats-server")
	}
	ctx := context.Background()
	srv := natstest.Start(t, natstest.Options{})
	bus, err := natsbus.Connect(ctx, srv.URL(), &natsbus.Options{
		Options:       amb.Options{Retry: amb.Retry{MaxAttempts: 1}},
		MemoryStorage: true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bus.Close()) })
	k := kerneltest.New(t, kerneltest.Policy(sendPolicy), kernel.WithBus(bus))
	reporter := k.MustSpawn("reporter")
	auditor := k.MustSpawn("auditor")

	dlq := collect(t, bus, "_dlq.>")
	h := newHandlerLog()
	_, err = auditor.Subscribe(ctx, "reports.>", h.handle)
	require.NoError(t, err)

	require.NoError(t, reporter.Publish(ctx, "reports.daily", amb.Message{
		Payload: []byte("42"), Headers: map[string]string{"sender": "boss"},
	}))
	d := recv(t, h.got)
	assert.Equal(t, "42", string(d.Payload))
	assert.Equal(t, "reporter", d.Header(amb.HeaderSender))
	assert.Empty(t, d.Header("sender"))

	require.NoError(t, bus.Publish(ctx, "reports.daily", amb.Message{Payload: []byte("forged")}))
	dl := dlq.wait(t)
	assert.Equal(t, "forged", string(dl.Payload))
	assert.Equal(t, 1, h.count(), "the outsider's message reached the handler")
	assert.Equal(t, signals.Running, auditor.State())

	err = reporter.Publish(ctx, "drafts.q3", amb.Message{Payload: []byte("draft")})
	kerneltest.DeniedBy(t, err, "no-drafts")
	require.ErrorIs(t, err, agentos.ErrDenied)
}
