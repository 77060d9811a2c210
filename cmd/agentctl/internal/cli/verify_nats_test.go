package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/amb/natsbus"
	"github.com/agent-os/agentos/amb/natsbus/natstest"
	"github.com/agent-os/agentos/recorder"
)

// TestVerifyNATSAnchors verifies a recorder against anchors a publisher
// stored in a real (embedded) NATS JetStream server.
func TestVerifyNATSAnchors(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t, natstest.Options{})
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	stream, err := natsbus.NewAnchorStream(ctx, nc, nil)
	require.NoError(t, err)

	path := filepath.Join(t.TempDir(), "audit.db")
	rec, err := recorder.Open(path, nil)
	require.NoError(t, err)
	for range 5 {
		_, err := rec.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Detail: "x"})
		require.NoError(t, err)
	}
	pub, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	_, otherKey, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good, err := recorder.SignAnchor(key, "host1", rec.Anchor(), at)
	require.NoError(t, err)
	require.NoError(t, stream.Publish(ctx, good))
	forged, err := recorder.SignAnchor(otherKey, "host2", rec.Anchor(), at)
	require.NoError(t, err)
	require.NoError(t, stream.Publish(ctx, forged))
	require.NoError(t, rec.Close())

	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(append([]string{"verify", path, "--pubkey", hex.EncodeToString(pub), "--nats-timeout", "5s"}, args...), nil, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, errOut := run("--anchor-nats", srv.URL(), "--source", "host1", "--format", "jsonl")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, `"ok":true`)
	require.Contains(t, out, `"anchors":1`)

	code, _, errOut = run("--anchor-nats", srv.URL(), "--source", "host2")
	require.Equal(t, ExitCheck, code)
	require.Regexp(t, `^agentctl: nats://127\.0\.0\.1:\d+: signed anchor 0: anchor signature does not verify`, errOut)

	code, _, errOut = run("--anchor-nats", srv.URL(), "--source", "nobody")
	require.Equal(t, ExitUsage, code)
	require.Regexp(t, `^agentctl: nats://127\.0\.0\.1:\d+: no anchors\n$`, errOut)

	code, _, errOut = run("--anchor-nats", srv.URL())
	require.Equal(t, ExitUsage, code)
	require.Equal(t, "agentctl: --anchor-nats needs --source: the stream keeps the anchors of each recorder apart\n", errOut)

	code, _, errOut = run("--anchor-nats", "nats://127.0.0.1:1", "--source", "host1")
	require.Equal(t, ExitUsage, code)
	require.Regexp(t, `^agentctl: --anchor-nats nats://127\.0\.0\.1:1: `, errOut)
	// A stream that is not there is reported, and verify does not create it.
	code, _, errOut = run("--anchor-nats", srv.URL(), "--source", "host1", "--anchor-stream", "ELSEWHERE")
	require.Equal(t, ExitUsage, code)
	require.Regexp(t, `^agentctl: --anchor-nats nats://127\.0\.0\.1:\d+: no stream ELSEWHERE on the server \(see --anchor-stream\)\n$`, errOut)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.Stream(ctx, "ELSEWHERE")
	require.ErrorIs(t, err, jetstream.ErrStreamNotFound)
}
