package natsbus_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/amb/ambtest"
	"github.com/agent-os/agentos/amb/natsbus"
	"github.com/agent-os/agentos/amb/natsbus/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func connect(t *testing.T, url string, o *natsbus.Options) *natsbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := natsbus.Connect(ctx, url, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	var n atomic.Int32
	ambtest.Run(t, func(t *testing.T, o amb.Options) amb.Bus {
		// Each test gets its own stream and subject prefix on the shared server.
		name := fmt.Sprintf("T%d", n.Add(1))
		return connect(t, srv.URL(), &natsbus.Options{Options: o, Stream: name, Prefix: name})
	})
}
