package iatp

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/require"
)

func TestEnvelopeSealOpen(t *testing.T) {
	w := newWorld(t, 2)
	a, b := w.ids[0], w.ids[1]
	op := NewOpener(w.reg)
	payload := []byte(`{"task":"summarize"}`)
	env, err := Seal(a, b.ID(), payload, w.clk.Now())
	require.NoError(t, err)

	enc := env.Encode()
	require.NotNil(t, enc)
	require.LessOrEqual(t, len(enc), MaxEnvelopeSize)
	s := env.EncodeString()
	require.LessOrEqual(t, len(s), MaxEnvelopeString)
	require.LessOrEqual(t, MaxEnvelopeString, 1024, "fits a bus header value")
	require.NotContains(t, s, "=")
	back, err := DecodeEnvelopeString(s)
	require.NoError(t, err)
	require.Equal(t, env, back)

	p, err := op.Open(back, b.ID(), payload)
	require.NoError(t, err)
	require.Equal(t, a.ID(), p.ID)
	require.Equal(t, 9.0, p.Score.Total)

	_, err = op.Open(back, b.ID(), payload)
	require.ErrorIs(t, err, ErrReplay)
	require.ErrorIs(t, err, agentos.ErrUntrusted)
}

func TestEnvelopeBitFlips(t *testing.T) {
	w := newWorld(t, 2)
	a, b := w.ids[0], w.ids[1]
	payload := []byte("payload")
	env, err := Seal(a, b.ID(), payload, w.clk.Now())
	require.NoError(t, err)
	enc := env.Encode()
	for i := range len(enc) * 8 {
		c := append([]byte(nil), enc...)
		c[i/8] ^= 1 << (i % 8)
		got, err := DecodeEnvelope(c)
		if err == nil {
			_, err = NewOpener(w.reg).Open(got, b.ID(), payload)
		}
		require.Error(t, err, "byte %d bit %d", i/8, i%8)
		require.True(t, errors.Is(err, agentos.ErrInvalid) || errors.Is(err, agentos.ErrUntrusted), "%v", err)
	}
	// Payload flips.
	for i := range len(payload) * 8 {
		c := append([]byte(nil), payload...)
		c[i/8] ^= 1 << (i % 8)
		_, err := NewOpener(w.reg).Open(env, b.ID(), c)
		require.ErrorIs(t, err, ErrBadSignature)
	}
	// The control: the original opens.
	_, err = NewOpener(w.reg).Open(env, b.ID(), payload)
	require.NoError(t, err)
}

func TestEnvelopeRefusals(t *testing.T) {
	w := newWorld(t, 3)
	a, b, c := w.ids[0], w.ids[1], w.ids[2]
	payload := []byte("hi")
	now := w.clk.Now()
	seal := func(id *Identity, to string, at time.Time) Envelope {
		env, err := Seal(id, to, payload, at)
		require.NoError(t, err)
		return env
	}
	stranger := detIdentity(t, 42)
	forged := seal(c, b.ID(), now) // signed by c's key, claims to be from a
	forged.Sender = a.ID()
	wrongKey := seal(a, b.ID(), now)
	wrongKey.Signature = c.Sign(append([]byte(domainEnvelope), must(wrongKey.appendBody(nil))...))
	noDomain := seal(a, b.ID(), now)
	noDomain.Signature = a.Sign(must(noDomain.appendBody(nil)))

	cases := []struct {
		name      string
		env       Envelope
		recipient string
		want      error
	}{
		{"forged sender", forged, b.ID(), ErrBadSignature},
		{"signed by another registered key", wrongKey, b.ID(), ErrBadSignature},
		{"signature without the domain prefix", noDomain, b.ID(), ErrBadSignature},
		{"wrong recipient", seal(a, b.ID(), now), c.ID(), ErrWrongRecipient},
		{"directed opened as broadcast", seal(a, b.ID(), now), "", ErrWrongRecipient},
		{"broadcast opened as directed", seal(a, "", now), b.ID(), ErrWrongRecipient},
		{"unknown sender", seal(stranger, b.ID(), now), b.ID(), ErrUnknownPeer},
		{"too old", seal(a, b.ID(), now.Add(-DefaultReplayWindow-time.Nanosecond)), b.ID(), ErrExpired},
		{"from the future", seal(a, b.ID(), now.Add(DefaultMaxSkew+time.Nanosecond)), b.ID(), ErrExpired},
		{"short signature", Envelope{Sender: a.ID(), Recipient: b.ID(), At: now, Signature: []byte{1}}, b.ID(), ErrMalformed},
		{"bad sender form", Envelope{Sender: "agent-1", At: now, Signature: make([]byte, 64)}, "", ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewOpener(w.reg).Open(tc.env, tc.recipient, payload)
			require.ErrorIs(t, err, tc.want)
		})
	}

	ok := []struct {
		name string
		env  Envelope
		to   string
	}{
		{"broadcast", seal(a, "", now), ""},
		{"topic", seal(a, "agents.b.inbox", now), "agents.b.inbox"},
		{"at the window's edge", seal(a, b.ID(), now.Add(-DefaultReplayWindow)), b.ID()},
		{"at the skew's edge", seal(a, b.ID(), now.Add(DefaultMaxSkew)), b.ID()},
	}
	for _, tc := range ok {
		_, err := NewOpener(w.reg).Open(tc.env, tc.to, payload)
		require.NoError(t, err, tc.name)
	}

	_, err := Seal(a, strings.Repeat("x", 256), payload, now)
	require.ErrorIs(t, err, ErrMalformed)
	_, err = Seal(a, "a\nb", payload, now)
	require.ErrorIs(t, err, ErrMalformed)
	_, err = Seal(nil, "", payload, now)
	require.ErrorIs(t, err, ErrMalformed)
	_, err = Seal(a, "", payload, time.Time{})
	require.ErrorIs(t, err, ErrMalformed)
	require.Nil(t, Envelope{}.Encode())
	require.Empty(t, Envelope{}.EncodeString())
	_, err = NewOpener(nil, WithOpenerClock(w.clk.Now)).Open(seal(a, "", now), "", payload)
	require.ErrorIs(t, err, ErrUnknownPeer)
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestEnvelopeRevocationAndRotation(t *testing.T) {
	w := newWorld(t, 2)
	a, b := w.ids[0], w.ids[1]
	op := NewOpener(w.reg)
	payload := []byte("x")
	env, err := Seal(a, b.ID(), payload, w.clk.Now())
	require.NoError(t, err)

	next, h, err := a.rotate(nil, w.clk.Now())
	require.NoError(t, err)
	require.NoError(t, w.reg.Rotate(h))
	_, err = op.Open(env, b.ID(), payload)
	require.ErrorIs(t, err, ErrRevoked, "the old key is refused after rotation")
	env2, err := Seal(a, b.ID(), payload, w.clk.Now())
	require.NoError(t, err)
	_, err = op.Open(env2, b.ID(), payload)
	require.ErrorIs(t, err, ErrRevoked, "new envelopes from the old key too")

	fresh, err := Seal(next, b.ID(), payload, w.clk.Now())
	require.NoError(t, err)
	p, err := op.Open(fresh, b.ID(), payload)
	require.NoError(t, err)
	require.Equal(t, next.ID(), p.ID)
	// The new key cannot pretend to be the old id.
	fake := fresh
	fake.Sender = a.ID()
	_, err = op.Open(fake, b.ID(), payload)
	require.Error(t, err)

	require.NoError(t, w.reg.Revoke(next.ID()))
	fresh2, err := Seal(next, b.ID(), payload, w.clk.Now())
	require.NoError(t, err)
	_, err = op.Open(fresh2, b.ID(), payload)
	require.ErrorIs(t, err, ErrRevoked)

	// A sender whose manifest expired.
	w.clk.Advance(25 * time.Hour)
	late, err := Seal(b, a.ID(), payload, w.clk.Now())
	require.NoError(t, err)
	_, err = op.Open(late, a.ID(), payload)
	require.ErrorIs(t, err, ErrExpired)
}

func TestEnvelopeReplayCache(t *testing.T) {
	w := newWorld(t, 2)
	a, b := w.ids[0], w.ids[1]
	op := NewOpener(w.reg, WithMaxNonces(4), WithReplayWindow(time.Minute), WithMaxSkew(0))
	payload := []byte("x")
	var envs []Envelope
	for i := range 6 {
		env, err := Seal(a, b.ID(), payload, w.clk.Now().Add(-time.Duration(6-i)*time.Second))
		require.NoError(t, err)
		envs = append(envs, env)
	}
	for _, env := range envs {
		_, err := op.Open(env, b.ID(), payload)
		require.NoError(t, err)
	}
	// Full: the two oldest were forgotten, and the floor refuses them.
	for _, env := range envs {
		_, err := op.Open(env, b.ID(), payload)
		require.ErrorIs(t, err, ErrReplay)
	}
	op.mu.Lock()
	require.LessOrEqual(t, len(op.seen), 4)
	require.Equal(t, len(op.seen), len(op.order))
	op.mu.Unlock()
	// An envelope older than the floor, never seen, is refused: the cache
	// cannot tell whether it was.
	older, err := Seal(a, b.ID(), payload, envs[0].At)
	require.NoError(t, err)
	_, err = op.Open(older, b.ID(), payload)
	require.ErrorIs(t, err, ErrReplay)

	// Outside the window, entries are purged and the window itself refuses.
	w.clk.Advance(2 * time.Minute)
	_, err = op.Open(envs[5], b.ID(), payload)
	require.ErrorIs(t, err, ErrExpired)
	env, err := Seal(a, b.ID(), payload, w.clk.Now())
	require.NoError(t, err)
	_, err = op.Open(env, b.ID(), payload)
	require.NoError(t, err)
	op.mu.Lock()
	require.Len(t, op.seen, 1)
	op.mu.Unlock()

	// The same nonce from two senders is two messages.
	e1, err := Seal(a, "", payload, w.clk.Now())
	require.NoError(t, err)
	e2, err := Seal(b, "", payload, w.clk.Now())
	require.NoError(t, err)
	e2.Nonce = e1.Nonce
	e2.Signature = b.Sign(append([]byte(domainEnvelope), must(e2.appendBody(nil))...))
	_, err = op.Open(e1, "", payload)
	require.NoError(t, err)
	_, err = op.Open(e2, "", payload)
	require.NoError(t, err)
}

func TestEnvelopeConcurrentReplay(t *testing.T) {
	w := newWorld(t, 2)
	a, b := w.ids[0], w.ids[1]
	op := NewOpener(w.reg)
	payload := []byte("x")
	env, err := Seal(a, b.ID(), payload, w.clk.Now())
	require.NoError(t, err)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		opened int
	)
	for range 8 {
		wg.Go(func() {
			if _, err := op.Open(env, b.ID(), payload); err == nil {
				mu.Lock()
				opened++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, opened, "exactly one of many concurrent deliveries opens")
}

func TestDecodeEnvelopeStrict(t *testing.T) {
	w := newWorld(t, 1)
	env, err := Seal(w.ids[0], "topic", []byte("x"), w.clk.Now())
	require.NoError(t, err)
	enc := env.Encode()
	cases := map[string][]byte{
		"empty":     nil,
		"truncated": enc[:len(enc)-1],
		"trailing":  append(bytes.Clone(enc), 0),
		"version":   append([]byte{9}, enc[1:]...),
		"kind":      append([]byte{1, 'H'}, enc[2:]...),
		"zero time": func() []byte {
			c := bytes.Clone(enc)
			off := 2 + 1 + idLen + 1 + len("topic")
			copy(c[off:off+8], make([]byte, 8))
			return c
		}(),
	}
	for name, in := range cases {
		_, err := DecodeEnvelope(in)
		require.ErrorIs(t, err, ErrMalformed, name)
	}
	_, err = DecodeEnvelope(make([]byte, MaxEnvelopeSize+1))
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = DecodeEnvelopeString(strings.Repeat("A", MaxEnvelopeString+1))
	require.ErrorIs(t, err, ErrTooLarge)
	for _, bad := range []string{"!!!", env.EncodeString() + "=", strings.TrimSuffix(env.EncodeString(), "A") + "B="} {
		_, err = DecodeEnvelopeString(bad)
		require.ErrorIs(t, err, ErrMalformed, bad)
	}
}

// A broadcast on a topic opens once for each receiver sharing the Opener
// (each agent of a kernel subscribed to it), and never twice for the same
// one; a forged copy is refused for every receiver.
func TestEnvelopeOpenForReceivers(t *testing.T) {
	w := newWorld(t, 1)
	a := w.ids[0]
	op := NewOpener(w.reg)
	payload := []byte("grid.need: 40 MW")
	env, err := Seal(a, "grid.need", payload, w.clk.Now())
	require.NoError(t, err)

	for _, rcv := range []string{"balancer", "producer-1", "producer-2"} {
		p, err := op.OpenFor(env, "grid.need", rcv, payload)
		require.NoError(t, err, rcv)
		require.Equal(t, a.ID(), p.ID)
	}
	_, err = op.OpenFor(env, "grid.need", "producer-1", payload)
	require.ErrorIs(t, err, ErrReplay)
	// Open is the receiver "": one more opening, then a replay.
	_, err = op.Open(env, "grid.need", payload)
	require.NoError(t, err)
	_, err = op.Open(env, "grid.need", payload)
	require.ErrorIs(t, err, ErrReplay)

	_, err = op.OpenFor(env, "grid.need", "producer-3", []byte("grid.need: 400 MW"))
	require.ErrorIs(t, err, ErrBadSignature)
	_, err = op.OpenFor(env, "grid.other", "producer-3", payload)
	require.ErrorIs(t, err, ErrWrongRecipient)
}

// A receiver that joined after a broadcast went by opens no replayed copy
// of it: not one another receiver accepted before it joined, and not one
// signed more than the skew before it joined, even if nobody here opened
// it. What is signed after it joined opens once, as for OpenFor; a zero
// join time is OpenFor.
func TestEnvelopeOpenJoined(t *testing.T) {
	w := newWorld(t, 1)
	a := w.ids[0]
	op := NewOpener(w.reg, WithMaxSkew(5*time.Second))
	payload := []byte("grid.need: 40 MW")
	old, err := Seal(a, "grid.need", payload, w.clk.Now())
	require.NoError(t, err)
	_, err = op.OpenJoined(old, "grid.need", "balancer", w.clk.Now(), payload)
	require.NoError(t, err, "signed as the balancer joined")

	w.clk.Advance(2 * time.Second)
	joined := w.clk.Now()
	_, err = op.OpenJoined(old, "grid.need", "producer-9", joined, payload)
	require.ErrorIs(t, err, ErrReplay, "the balancer accepted it before producer-9 joined")
	_, err = op.OpenFor(old, "grid.need", "producer-9", payload)
	require.NoError(t, err, "OpenFor alone would have accepted the replay")

	// Signed before the skew, opened by nobody: refused all the same.
	unseen, err := Seal(a, "grid.need", payload, w.clk.Now())
	require.NoError(t, err)
	w.clk.Advance(10 * time.Second)
	_, err = op.OpenJoined(unseen, "grid.need", "late", w.clk.Now(), payload)
	require.ErrorIs(t, err, ErrReplay)
	_, err = op.OpenJoined(unseen, "grid.need", "late", time.Time{}, payload)
	require.NoError(t, err, "zero joined: OpenFor")

	// Signed after the receiver joined: once for each receiver.
	joined = w.clk.Now()
	w.clk.Advance(time.Second)
	fresh, err := Seal(a, "grid.need", payload, w.clk.Now())
	require.NoError(t, err)
	for _, rcv := range []string{"balancer", "producer-9"} {
		_, err = op.OpenJoined(fresh, "grid.need", rcv, joined, payload)
		require.NoError(t, err, rcv)
		_, err = op.OpenJoined(fresh, "grid.need", rcv, joined, payload)
		require.ErrorIs(t, err, ErrReplay, rcv)
	}
	// A receiver joining after fresh went by is refused it.
	w.clk.Advance(time.Second)
	_, err = op.OpenJoined(fresh, "grid.need", "newcomer", w.clk.Now(), payload)
	require.ErrorIs(t, err, ErrReplay)
}

// The first-acceptance entries count against WithMaxNonces.
func TestEnvelopeOpenJoinedBounded(t *testing.T) {
	w := newWorld(t, 1)
	a := w.ids[0]
	op := NewOpener(w.reg, WithMaxNonces(8))
	for i := range 50 {
		payload := []byte(fmt.Sprint("m", i))
		env, err := Seal(a, "t", payload, w.clk.Now())
		require.NoError(t, err)
		_, err = op.OpenJoined(env, "t", "r", time.Time{}, payload)
		require.NoError(t, err)
		w.clk.Advance(time.Millisecond)
		op.mu.Lock()
		require.LessOrEqual(t, len(op.seen), 8)
		require.Equal(t, len(op.seen), op.order.Len())
		op.mu.Unlock()
	}
}
