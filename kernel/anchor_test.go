package kernel_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
)

// TestWithAnchors: a kernel given WithAnchors publishes signed anchors of
// its recorder while agents run and the final head on Close; the recorder
// verifies against them.
func TestWithAnchors(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	rec, err := recorder.Open(path, nil)
	require.NoError(t, err)
	defer rec.Close()
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	sink := &recorder.MemoryAnchors{}
	pub, err := recorder.NewPublisher(rec, key, sink, &recorder.PublisherOptions{Source: "test", Every: 3, Interval: time.Hour})
	require.NoError(t, err)
	defer pub.Close()

	k, err := kernel.New(kernel.WithPolicySource("p.yaml", []byte(testPolicy)), kernel.WithAnchors(rec, pub),
		kernel.WithTool("sql.query", func(context.Context, map[string]any) (any, error) { return "ok", nil }))
	require.NoError(t, err)
	a, err := k.Spawn(ctx, "agent-1")
	require.NoError(t, err)
	for range 6 {
		_, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
		require.NoError(t, err)
	}
	_, err = a.Exec(ctx, "sql.query", map[string]any{"query": "DROP TABLE orders"})
	var v *agentos.PolicyViolation
	require.ErrorAs(t, err, &v)
	require.NoError(t, k.Close())

	final, ok := pub.Last()
	require.True(t, ok)
	assert.Equal(t, rec.Anchor(), final.Anchor, "Close publishes the final head")
	signed := sink.Anchors()
	require.Greater(t, len(signed), 1, "anchors were published while the kernel ran")
	anchors, err := recorder.VerifySignatures(key.Public().(ed25519.PublicKey), "test", signed)
	require.NoError(t, err)
	rep, err := rec.VerifyAnchors(ctx, anchors)
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Broken)
	// The kill is in the recorder, covered by the final anchor.
	var killed bool
	for e, err := range rec.Query(ctx, recorder.Filter{Agent: "agent-1", Kind: recorder.KindSignal}) {
		require.NoError(t, err)
		killed = killed || e.Seq <= final.Anchor.Seq
	}
	assert.True(t, killed, "no signal entry under the final anchor")
}

func TestWithAnchorsRejects(t *testing.T) {
	rec, err := recorder.Open("", nil)
	require.NoError(t, err)
	defer rec.Close()
	other, err := recorder.Open("", nil)
	require.NoError(t, err)
	defer other.Close()
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	pub, err := recorder.NewPublisher(other, key, &recorder.MemoryAnchors{}, nil)
	require.NoError(t, err)
	defer pub.Close()
	mine, err := recorder.NewPublisher(rec, key, &recorder.MemoryAnchors{}, nil)
	require.NoError(t, err)
	defer mine.Close()
	for name, opts := range map[string][]kernel.Option{
		"nil recorder":         {kernel.WithAnchors(nil, pub)},
		"nil publisher":        {kernel.WithAnchors(rec, nil)},
		"another's publisher":  {kernel.WithAnchors(rec, pub)},
		"WithRecorder as well": {kernel.WithRecorder(rec), kernel.WithAnchors(rec, mine)},
	} {
		k, err := kernel.New(opts...)
		if k != nil {
			k.Close()
		}
		assert.ErrorIs(t, err, agentos.ErrInvalid, name)
	}
}

// TestWithAnchorsKeepsRecorderChecks: the kernel sees through WithAnchors
// to the recorder's own capabilities: it refuses a Buffered file recorder
// exactly as with WithRecorder.
func TestWithAnchorsKeepsRecorderChecks(t *testing.T) {
	rec, err := recorder.Open(filepath.Join(t.TempDir(), "b.db"), &recorder.Options{Durability: recorder.Buffered})
	require.NoError(t, err)
	defer rec.Close()
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	pub, err := recorder.NewPublisher(rec, key, &recorder.MemoryAnchors{}, nil)
	require.NoError(t, err)
	defer pub.Close()
	k1, errPlain := kernel.New(kernel.WithRecorder(rec))
	if k1 != nil {
		k1.Close()
	}
	k2, errAnchored := kernel.New(kernel.WithAnchors(rec, pub))
	if k2 != nil {
		k2.Close()
	}
	assert.Equal(t, errPlain == nil, errAnchored == nil, "WithRecorder: %v; WithAnchors: %v", errPlain, errAnchored)
	if errPlain != nil {
		assert.Equal(t, errors.Unwrap(errPlain) == nil, errors.Unwrap(errAnchored) == nil)
	}
}
