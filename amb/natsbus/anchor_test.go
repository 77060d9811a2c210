package natsbus_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb/natsbus"
	"github.com/agent-os/agentos/amb/natsbus/natstest"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/recorder/recordertest"
)

func anchorStream(t *testing.T) (*natsbus.AnchorStream, *nats.Conn) {
	t.Helper()
	srv := natstest.Start(t, natstest.Options{})
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := natsbus.NewAnchorStream(ctx, nc, nil)
	require.NoError(t, err)
	return s, nc
}

// TestAnchorStream publishes a recorder's signed anchors to JetStream,
// fetches them back, checks their signatures and verifies the recorder
// against them; a recorder whose tail was cut is caught by them.
func TestAnchorStream(t *testing.T) {
	stream, nc := anchorStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	pub := key.Public().(ed25519.PublicKey)

	path := filepath.Join(t.TempDir(), "rec.db")
	rec, err := recorder.Open(path, nil)
	require.NoError(t, err)
	defer rec.Close()
	const source = "host-a:/var/lib/agentos/rec.db"
	p, err := recorder.NewPublisher(rec, key, stream, &recorder.PublisherOptions{Source: source, Every: 5, Interval: time.Hour})
	require.NoError(t, err)
	for i := range 23 {
		_, err := rec.Append(ctx, recordertest.Sample(i))
		require.NoError(t, err)
		if (i+1)%5 == 0 {
			_, err := p.Publish(ctx)
			require.NoError(t, err)
		}
	}
	last, err := p.Publish(ctx) // the final head
	require.NoError(t, err)
	require.NoError(t, p.Close())
	// A retried publish of the same anchor is stored once.
	require.NoError(t, stream.Publish(ctx, last))

	// Another recorder's anchors live beside them, apart.
	other, err := recorder.SignAnchor(key, "host-b", recorder.Anchor{Seq: 1}, time.Now())
	require.NoError(t, err)
	require.NoError(t, stream.Publish(ctx, other))

	signed, err := stream.Fetch(ctx, source)
	require.NoError(t, err)
	var seqs []uint64
	for _, s := range signed {
		seqs = append(seqs, s.Anchor.Seq)
	}
	assert.Equal(t, []uint64{5, 10, 15, 20, 23}, seqs)
	latest, ok, err := stream.Latest(ctx, source)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, last, latest)
	_, ok, err = stream.Latest(ctx, "nobody")
	require.NoError(t, err)
	assert.False(t, ok)
	none, err := stream.Fetch(ctx, "nobody")
	require.NoError(t, err)
	assert.Empty(t, none)

	anchors, err := recorder.VerifySignatures(pub, source, signed)
	require.NoError(t, err)
	rep, err := rec.VerifyAnchors(ctx, anchors)
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Broken)
	// Another key does not vouch for them.
	_, wrong, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	_, err = recorder.VerifySignatures(wrong.Public().(ed25519.PublicKey), source, signed)
	assert.ErrorIs(t, err, recorder.ErrSignature)

	// Deleting or purging anchors through the JetStream API is refused.
	// (The stream and subject are the defaults.)
	_, err = nc.Request("$JS.API.STREAM.MSG.DELETE.AGENTOS_ANCHORS", []byte(`{"seq":1}`), 5*time.Second)
	require.NoError(t, err)
	after, err := stream.Fetch(ctx, source)
	require.NoError(t, err)
	assert.Len(t, after, 5, "an anchor was deleted through the API")

	// Anything that is not an anchor of the source in its subject is an
	// error, not silently skipped.
	_, err = nc.Request("agentos.anchors."+hex.EncodeToString([]byte(source)), []byte(`{"junk":1}`), 5*time.Second)
	require.NoError(t, err)
	_, err = stream.Fetch(ctx, source)
	assert.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestAnchorStreamConfig(t *testing.T) {
	_, err := natsbus.NewAnchorStream(context.Background(), nil, nil)
	assert.ErrorIs(t, err, natsbus.ErrConfig)
}

// OpenAnchorStream reads an existing stream and creates or changes
// nothing: on a server without the stream it fails with ErrNotFound and
// the stream still does not exist; a stream without the anchors' subject
// is refused; on the publisher's stream it fetches what was published.
func TestOpenAnchorStream(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	require.NoError(t, err)

	_, err = natsbus.OpenAnchorStream(ctx, nc, nil)
	require.ErrorIs(t, err, agentos.ErrNotFound)
	_, err = js.Stream(ctx, "AGENTOS_ANCHORS")
	require.ErrorIs(t, err, jetstream.ErrStreamNotFound, "opening created nothing")

	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}, Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	_, err = natsbus.OpenAnchorStream(ctx, nc, &natsbus.AnchorStreamOptions{Stream: "OTHER"})
	require.ErrorIs(t, err, natsbus.ErrConfig)
	info, err := js.Stream(ctx, "OTHER")
	require.NoError(t, err)
	require.Equal(t, []string{"other.>"}, info.CachedInfo().Config.Subjects, "not updated")

	w, err := natsbus.NewAnchorStream(ctx, nc, &natsbus.AnchorStreamOptions{MemoryStorage: true})
	require.NoError(t, err)
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	a, err := recorder.SignAnchor(key, "host-a", recorder.Anchor{Seq: 3}, time.Unix(1, 0))
	require.NoError(t, err)
	require.NoError(t, w.Publish(ctx, a))
	r, err := natsbus.OpenAnchorStream(ctx, nc, nil)
	require.NoError(t, err)
	got, err := r.Fetch(ctx, "host-a")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, uint64(3), got[0].Anchor.Seq)

	_, err = natsbus.OpenAnchorStream(ctx, nil, nil)
	require.ErrorIs(t, err, natsbus.ErrConfig)
}
