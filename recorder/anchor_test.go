package recorder_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/recorder/recordertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testKey is a fixed Ed25519 key, so that failures reproduce.
func testKey(seed byte) ed25519.PrivateKey {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed + byte(i)
	}
	return ed25519.NewKeyFromSeed(s)
}

var at = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func TestSignAnchor(t *testing.T) {
	key := testKey(1)
	pub := key.Public().(ed25519.PublicKey)
	a := recorder.Anchor{Seq: 42, Hash: recorder.Hash{1, 2, 3}, GenesisSeq: 10, GenesisHash: recorder.Hash{9}}
	s, err := recorder.SignAnchor(key, "host-a:/var/lib/agentos/audit.db", a, at)
	require.NoError(t, err)
	require.NoError(t, s.Verify(pub))

	// Every signed field is covered: changing any one breaks the signature.
	changes := map[string]func(*recorder.SignedAnchor){
		"Seq":         func(s *recorder.SignedAnchor) { s.Anchor.Seq++ },
		"Hash":        func(s *recorder.SignedAnchor) { s.Anchor.Hash[31] ^= 1 },
		"GenesisSeq":  func(s *recorder.SignedAnchor) { s.Anchor.GenesisSeq-- },
		"GenesisHash": func(s *recorder.SignedAnchor) { s.Anchor.GenesisHash[0] ^= 1 },
		"Source":      func(s *recorder.SignedAnchor) { s.Source += "x" },
		"Time":        func(s *recorder.SignedAnchor) { s.Time = s.Time.Add(time.Nanosecond) },
		"Signature":   func(s *recorder.SignedAnchor) { s.Signature = append([]byte(nil), s.Signature...); s.Signature[5] ^= 1 },
		"Short":       func(s *recorder.SignedAnchor) { s.Signature = s.Signature[:10] },
	}
	for name, change := range changes {
		c := s
		change(&c)
		assert.ErrorIs(t, c.Verify(pub), recorder.ErrSignature, name)
	}
	other := testKey(2).Public().(ed25519.PublicKey)
	assert.ErrorIs(t, s.Verify(other), recorder.ErrSignature, "another key")
	assert.ErrorIs(t, s.Verify(pub[:5]), agentos.ErrInvalid)

	// JSON round trip keeps the signature valid.
	b, err := json.Marshal(s)
	require.NoError(t, err)
	back, err := recorder.ParseSignedAnchor(b)
	require.NoError(t, err)
	assert.Equal(t, s, back)
	require.NoError(t, back.Verify(pub))

	anchors, err := recorder.VerifySignatures(pub, s.Source, []recorder.SignedAnchor{s, back})
	require.NoError(t, err)
	assert.Equal(t, []recorder.Anchor{a, a}, anchors)
	_, err = recorder.VerifySignatures(pub, "host-b", []recorder.SignedAnchor{s})
	assert.ErrorIs(t, err, recorder.ErrSignature, "an anchor of another recorder")
	_, err = recorder.VerifySignatures(other, s.Source, []recorder.SignedAnchor{s})
	assert.ErrorIs(t, err, recorder.ErrSignature)
}

func TestSignAnchorRejects(t *testing.T) {
	key := testKey(1)
	for name, f := range map[string]func() error{
		"short key": func() error {
			_, err := recorder.SignAnchor(key[:31], "s", recorder.Anchor{}, at)
			return err
		},
		"long source": func() error {
			_, err := recorder.SignAnchor(key, string(make([]byte, recorder.MaxAnchorSource+1)), recorder.Anchor{}, at)
			return err
		},
		"source not UTF-8": func() error {
			_, err := recorder.SignAnchor(key, "a\xff", recorder.Anchor{}, at)
			return err
		},
		"head before genesis": func() error {
			_, err := recorder.SignAnchor(key, "s", recorder.Anchor{Seq: 1, GenesisSeq: 2}, at)
			return err
		},
	} {
		assert.ErrorIs(t, f(), agentos.ErrInvalid, name)
	}
}

func TestParseSignedAnchorRejects(t *testing.T) {
	s, err := recorder.SignAnchor(testKey(1), "s", recorder.Anchor{Seq: 3}, at)
	require.NoError(t, err)
	good, err := json.Marshal(s)
	require.NoError(t, err)
	_, err = recorder.ParseSignedAnchor(good)
	require.NoError(t, err)
	for name, b := range map[string]string{
		"empty":         ``,
		"not JSON":      `{`,
		"unknown field": `{"anchor":{"seq":1,"hash":"` + zeroHex + `"},"source":"s","time":"2026-03-01T12:00:00Z","signature":"` + sig64 + `","x":1}`,
		"trailing":      string(good) + ` {}`,
		"no signature":  `{"anchor":{"seq":1,"hash":"` + zeroHex + `"},"source":"s","time":"2026-03-01T12:00:00Z"}`,
		"short hash":    `{"anchor":{"seq":1,"hash":"00"},"source":"s","time":"2026-03-01T12:00:00Z","signature":"` + sig64 + `"}`,
		"no time":       `{"anchor":{"seq":1,"hash":"` + zeroHex + `"},"source":"s","signature":"` + sig64 + `"}`,
		"head<genesis":  `{"anchor":{"seq":1,"hash":"` + zeroHex + `","genesis_seq":2},"source":"s","time":"2026-03-01T12:00:00Z","signature":"` + sig64 + `"}`,
		"too long":      `{"source":"` + string(make([]byte, recorder.MaxSignedAnchorBytes)) + `"}`,
	} {
		_, err := recorder.ParseSignedAnchor([]byte(b))
		assert.ErrorIs(t, err, agentos.ErrInvalid, name)
	}
}

const zeroHex = "0000000000000000000000000000000000000000000000000000000000000000"

// sig64 is 64 bytes in base64.
const sig64 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="

// FuzzParseSignedAnchor: the parser never panics, and what it accepts
// encodes back to something it accepts as the same anchor.
func FuzzParseSignedAnchor(f *testing.F) {
	s, err := recorder.SignAnchor(testKey(1), "host-a", recorder.Anchor{Seq: 7, Hash: recorder.Hash{7}, GenesisSeq: 2}, at)
	require.NoError(f, err)
	good, err := json.Marshal(s)
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte(`{"anchor":{"seq":1,"hash":"` + zeroHex + `"},"source":"s","time":"2026-03-01T12:00:00Z","signature":"` + sig64 + `"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := recorder.ParseSignedAnchor(b)
		if err != nil {
			if !errors.Is(err, agentos.ErrInvalid) {
				t.Fatalf("error %v does not wrap agentos.ErrInvalid", err)
			}
			return
		}
		again, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("accepted anchor does not encode: %v", err)
		}
		back, err := recorder.ParseSignedAnchor(again)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", again, err)
		}
		if string(back.SigningPayload()) != string(a.SigningPayload()) || string(back.Signature) != string(a.Signature) {
			t.Fatalf("re-parse changed the anchor: %+v vs %+v", back, a)
		}
	})
}

// manualSource is an AnchorSource whose head the test moves.
type manualSource struct {
	mu sync.Mutex
	a  recorder.Anchor
}

func (m *manualSource) Anchor() recorder.Anchor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.a
}

func (m *manualSource) set(seq uint64) {
	m.mu.Lock()
	m.a = recorder.Anchor{Seq: seq, Hash: recorder.Hash{byte(seq)}}
	m.mu.Unlock()
}

// signalSink is a MemoryAnchors that says when it got an anchor.
type signalSink struct {
	recorder.MemoryAnchors
	got chan uint64
	err error
}

func (s *signalSink) Publish(ctx context.Context, a recorder.SignedAnchor) error {
	if s.err != nil {
		return s.err
	}
	if err := s.MemoryAnchors.Publish(ctx, a); err != nil {
		return err
	}
	s.got <- a.Anchor.Seq
	return nil
}

func seqs(as []recorder.SignedAnchor) []uint64 {
	var out []uint64
	for _, a := range as {
		out = append(out, a.Anchor.Seq)
	}
	return out
}

// TestPublisherEvery: with Every 5 an anchor is published once the head is
// 5 past the last one, and not before; the injected tick publishes any
// head that moved; Close stops the goroutine (goleak checks in TestMain).
func TestPublisherTriggers(t *testing.T) {
	src := &manualSource{}
	sink := &signalSink{got: make(chan uint64, 16)}
	tick := make(chan time.Time)
	key := testKey(3)
	p, err := recorder.NewPublisher(src, key, sink, &recorder.PublisherOptions{
		Source: "test", Every: 5, Interval: time.Hour, Tick: tick, Clock: func() time.Time { return at },
	})
	require.NoError(t, err)
	defer p.Close()

	// The first notification publishes the genesis: nothing was yet.
	p.Appended()
	assert.Equal(t, uint64(0), <-sink.got)
	for seq := uint64(1); seq <= 12; seq++ {
		src.set(seq)
		p.Appended()
		if seq == 5 || seq == 10 {
			assert.Equal(t, seq, <-sink.got)
		}
	}
	// 12 is not 5 past 10; the tick publishes it.
	tick <- at
	assert.Equal(t, uint64(12), <-sink.got)
	// A tick with an unchanged head publishes nothing; Publish does not
	// repeat it either.
	tick <- at
	last, err := p.Publish(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint64(12), last.Anchor.Seq)
	assert.Equal(t, []uint64{0, 5, 10, 12}, seqs(sink.Anchors()))
	for _, a := range sink.Anchors() {
		require.NoError(t, a.Verify(key.Public().(ed25519.PublicKey)))
		assert.Equal(t, "test", a.Source)
		assert.True(t, a.Time.Equal(at))
	}
	src.set(13)
	last, err = p.Publish(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint64(13), last.Anchor.Seq)
	assert.Equal(t, uint64(13), <-sink.got)

	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	_, err = p.Publish(context.Background())
	assert.ErrorIs(t, err, agentos.ErrClosed)
	p.Appended() // after Close: no goroutine, no block
}

func TestPublisherErrors(t *testing.T) {
	src := &manualSource{}
	boom := errors.New("sink down")
	sink := &signalSink{got: make(chan uint64, 1), err: boom}
	errs := make(chan error, 4)
	p, err := recorder.NewPublisher(src, testKey(3), sink, &recorder.PublisherOptions{
		Every: 1, OnError: func(err error) { errs <- err },
	})
	require.NoError(t, err)
	defer p.Close()
	src.set(1)
	p.Appended()
	assert.ErrorIs(t, <-errs, boom)
	assert.ErrorIs(t, p.Err(), boom)
	_, has := p.Last()
	assert.False(t, has)

	for name, f := range map[string]func() error{
		"nil source": func() error { _, err := recorder.NewPublisher(nil, testKey(1), sink, nil); return err },
		"nil sink":   func() error { _, err := recorder.NewPublisher(src, testKey(1), nil, nil); return err },
		"bad key":    func() error { _, err := recorder.NewPublisher(src, testKey(1)[:3], sink, nil); return err },
		"negative": func() error {
			_, err := recorder.NewPublisher(src, testKey(1), sink, &recorder.PublisherOptions{Interval: -1})
			return err
		},
		"source": func() error {
			_, err := recorder.NewPublisher(src, testKey(1), sink, &recorder.PublisherOptions{Source: "\xff"})
			return err
		},
	} {
		assert.ErrorIs(t, f(), agentos.ErrInvalid, name)
	}
}

// TestPublisherRecorder publishes a real recorder's anchors and verifies
// the recorder against them; then the anchors reveal a truncated tail.
func TestPublisherRecorder(t *testing.T) {
	path := tempPath(t, "rec.db")
	r, err := recorder.Open(path, nil)
	require.NoError(t, err)
	sink := &recorder.MemoryAnchors{}
	key := testKey(4)
	p, err := recorder.NewPublisher(r, key, sink, &recorder.PublisherOptions{Source: path, Every: 4, Interval: time.Hour})
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 20 {
		_, err := r.Append(ctx, recordertest.Sample(i))
		require.NoError(t, err)
		// Synchronous here so that the anchors are deterministic.
		if (i+1)%4 == 0 {
			_, err := p.Publish(ctx)
			require.NoError(t, err)
		}
	}
	require.NoError(t, p.Close())
	anchors, err := recorder.VerifySignatures(key.Public().(ed25519.PublicKey), path, sink.Anchors())
	require.NoError(t, err)
	require.Len(t, anchors, 5)
	rep, err := r.VerifyAnchors(ctx, anchors)
	require.NoError(t, err)
	require.True(t, rep.OK, "%v", rep.Broken)
	require.NoError(t, r.Close())

	attackSQL(t, path, q("DELETE FROM entries WHERE seq > 17"))
	r = mustOpen(t, path, &recorder.Options{ReadOnly: true})
	rep, err = r.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK, "a truncated tail is a valid chain")
	rep, err = r.VerifyAnchors(ctx, anchors)
	require.NoError(t, err)
	require.NotNil(t, rep.Broken)
	assert.Equal(t, recorder.ReasonTruncated, rep.Broken.Reason)
	assert.Equal(t, uint64(18), rep.Broken.Seq)
}

func TestMemoryAnchorsBound(t *testing.T) {
	m := &recorder.MemoryAnchors{Max: 3}
	for i := range 5 {
		require.NoError(t, m.Publish(context.Background(), recorder.SignedAnchor{Anchor: recorder.Anchor{Seq: uint64(i)}}))
	}
	assert.Equal(t, []uint64{2, 3, 4}, seqs(m.Anchors()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, m.Publish(ctx, recorder.SignedAnchor{}), context.Canceled)
}

func TestAnchorFile(t *testing.T) {
	path := tempPath(t, "anchors.jsonl")
	f, err := recorder.OpenAnchorFile(path)
	require.NoError(t, err)
	key := testKey(5)
	var want []recorder.SignedAnchor
	for seq := range uint64(4) {
		s, err := recorder.SignAnchor(key, "src", recorder.Anchor{Seq: seq * 10, Hash: recorder.Hash{byte(seq)}}, at)
		require.NoError(t, err)
		require.NoError(t, f.Publish(context.Background(), s))
		want = append(want, s)
	}
	require.NoError(t, f.Close())
	require.NoError(t, f.Close())
	assert.ErrorIs(t, f.Publish(context.Background(), want[0]), agentos.ErrClosed)
	got, err := recorder.ReadAnchorFile(path)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	_, err = recorder.VerifySignatures(key.Public().(ed25519.PublicKey), "src", got)
	require.NoError(t, err)

	// Appending again keeps what was there; a damaged line is an error
	// naming it.
	f, err = recorder.OpenAnchorFile(path)
	require.NoError(t, err)
	require.NoError(t, f.Publish(context.Background(), want[0]))
	require.NoError(t, f.Close())
	got, err = recorder.ReadAnchorFile(path)
	require.NoError(t, err)
	assert.Len(t, got, 5)
	w, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = w.WriteString("{\"anchor\":\n")
	require.NoError(t, err)
	require.NoError(t, w.Close())
	_, err = recorder.ReadAnchorFile(path)
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	assert.ErrorContains(t, err, "line 6")
}
