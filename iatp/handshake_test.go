package iatp

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/require"
)

func handshaker(t testing.TB, w *world, i int, opts ...HandshakeOption) *Handshaker {
	t.Helper()
	h, err := NewHandshaker(w.ids[i], w.reg, opts...)
	require.NoError(t, err)
	return h
}

func TestHandshakeMutual(t *testing.T) {
	w := newWorld(t, 2)
	ha, hb := handshaker(t, w, 0), handshaker(t, w, 1)

	ca, err := ha.NewChallenge(hb.ID())
	require.NoError(t, err)
	cb, err := hb.NewChallenge(ha.ID())
	require.NoError(t, err)

	// The messages cross a transport as bytes.
	wire := func(c Challenge) Challenge {
		b, err := c.Encode()
		require.NoError(t, err)
		back, err := DecodeChallenge(b)
		require.NoError(t, err)
		require.Equal(t, c, back)
		return back
	}
	wireR := func(r Response) Response {
		b, err := r.Encode()
		require.NoError(t, err)
		back, err := DecodeResponse(b)
		require.NoError(t, err)
		require.Equal(t, r, back)
		return back
	}
	rb, err := hb.Respond(wire(ca))
	require.NoError(t, err)
	ra, err := ha.Respond(wire(cb))
	require.NoError(t, err)

	pb, err := ha.Verify(wireR(rb))
	require.NoError(t, err)
	require.Equal(t, hb.ID(), pb.ID)
	pa, err := hb.Verify(wireR(ra))
	require.NoError(t, err)
	require.Equal(t, ha.ID(), pa.ID)

	_, err = ha.Verify(rb)
	require.ErrorIs(t, err, ErrReplay)

	got, ok := ha.Verified(hb.ID())
	require.True(t, ok)
	require.Equal(t, hb.ID(), got.ID)
	w.clk.Advance(DefaultCacheTTL)
	_, ok = ha.Verified(hb.ID())
	require.False(t, ok, "the cached result expires")
}

func TestHandshakeRefusals(t *testing.T) {
	w := newWorld(t, 3)
	low := detIdentity(t, 50)
	lm := baseManifest(epoch)
	lm.TrustLevel = Standard // 5: Warn
	lm.Reversibility = Reversibility{Level: ReversibleNone}
	lm.Capabilities = []string{"bus:publish"}
	require.NoError(t, w.reg.Register(signed(t, low, lm)))
	stranger := detIdentity(t, 51)

	type setup struct {
		resp Response
		h    *Handshaker
	}
	// respond makes i's handshaker challenge `who` and `who` answer.
	challenge := func(h *Handshaker, who *Identity) (Challenge, Response) {
		c, err := h.NewChallenge(who.ID())
		require.NoError(t, err)
		hw, err := NewHandshaker(who, w.reg)
		require.NoError(t, err)
		r, err := hw.Respond(c)
		require.NoError(t, err)
		return c, r
	}
	resign := func(r Response, id *Identity) Response {
		body, err := r.body()
		require.NoError(t, err)
		r.Signature = id.Sign(body)
		return r
	}

	cases := map[string]struct {
		make func() setup
		want error
	}{
		"unknown peer": {func() setup {
			h := handshaker(t, w, 0)
			_, r := challenge(h, stranger)
			return setup{r, h}
		}, ErrUnknownPeer},
		"revoked": {func() setup {
			h := handshaker(t, w, 0)
			x := detIdentity(t, 60)
			require.NoError(t, w.reg.Register(signed(t, x, baseManifest(epoch))))
			_, r := challenge(h, x)
			require.NoError(t, w.reg.Revoke(x.ID()))
			return setup{r, h}
		}, ErrRevoked},
		"insufficient trust": {func() setup {
			h := handshaker(t, w, 0)
			_, r := challenge(h, low)
			return setup{r, h}
		}, ErrInsufficientTrust},
		"missing capability": {func() setup {
			h := handshaker(t, w, 0, WithRequiredScore(WarnAt), WithRequiredCapabilities("bus:publish", "tool:sql.query"))
			_, r := challenge(h, low)
			return setup{r, h}
		}, ErrMissingCapability},
		"expired": {func() setup {
			h := handshaker(t, w, 0)
			_, r := challenge(h, w.ids[1])
			w.clk.Advance(DefaultChallengeTTL)
			return setup{r, h}
		}, ErrExpired},
		"not our challenge": {func() setup {
			_, r := challenge(handshaker(t, w, 2), w.ids[1])
			return setup{r, handshaker(t, w, 0)}
		}, ErrWrongRecipient},
		"answered by someone else": {func() setup {
			h := handshaker(t, w, 0)
			c, _ := challenge(h, w.ids[1])
			r := Response{Challenge: c, From: w.ids[2].ID(), Key: w.ids[2].PublicKey()}
			return setup{resign(r, w.ids[2]), h}
		}, ErrWrongRecipient},
		"never issued": {func() setup {
			h := handshaker(t, w, 0)
			c := Challenge{From: h.ID(), To: w.ids[1].ID(), At: w.clk.Now(), Expires: w.clk.Now().Add(time.Second)}
			r, err := handshaker(t, w, 1).Respond(c)
			require.NoError(t, err)
			return setup{r, h}
		}, ErrUnknownChallenge},
		"echo altered": {func() setup {
			h := handshaker(t, w, 0)
			_, r := challenge(h, w.ids[1])
			r.Challenge.Expires = r.Challenge.Expires.Add(time.Minute)
			return setup{resign(r, w.ids[1]), h}
		}, ErrUnknownChallenge},
		"key of another peer": {func() setup {
			h := handshaker(t, w, 0)
			_, r := challenge(h, w.ids[1])
			r.Key = w.ids[2].PublicKey()
			return setup{resign(r, w.ids[2]), h}
		}, ErrKeyMismatch},
		"bad signature": {func() setup {
			h := handshaker(t, w, 0)
			_, r := challenge(h, w.ids[1])
			r.Signature = bytes.Clone(r.Signature)
			r.Signature[0] ^= 0x80
			return setup{r, h}
		}, ErrBadSignature},
		"signed without the domain prefix": {func() setup {
			h := handshaker(t, w, 0)
			_, r := challenge(h, w.ids[1])
			body, err := r.body()
			require.NoError(t, err)
			r.Signature = w.ids[1].Sign(body[len(domainResponse):])
			return setup{r, h}
		}, ErrBadSignature},
		"evicted": {func() setup {
			h := handshaker(t, w, 0, WithMaxPending(2))
			_, r := challenge(h, w.ids[1])
			_, err := h.NewChallenge(w.ids[1].ID())
			require.NoError(t, err)
			_, err = h.NewChallenge(w.ids[1].ID())
			require.NoError(t, err)
			return setup{r, h}
		}, ErrUnknownChallenge},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := tc.make()
			_, err := s.h.Verify(s.resp)
			require.ErrorIs(t, err, tc.want)
			require.ErrorIs(t, err, agentos.ErrUntrusted)
		})
	}
	require.True(t, errors.Is(ErrMalformed, agentos.ErrInvalid))
}

func TestHandshakeRespondRefusals(t *testing.T) {
	w := newWorld(t, 3)
	ha, hb := handshaker(t, w, 0), handshaker(t, w, 1)
	c, err := ha.NewChallenge(hb.ID())
	require.NoError(t, err)

	_, err = handshaker(t, w, 2).Respond(c)
	require.ErrorIs(t, err, ErrWrongRecipient)

	early := c
	early.At, early.Expires = c.At.Add(time.Minute), c.Expires.Add(time.Minute)
	_, err = hb.Respond(early)
	require.ErrorIs(t, err, ErrExpired)

	long := c
	long.Expires = c.At.Add(MaxChallengeTTL + time.Second)
	_, err = hb.Respond(long)
	require.ErrorIs(t, err, ErrMalformed)

	require.NoError(t, w.reg.Revoke(ha.ID()))
	_, err = hb.Respond(c)
	require.ErrorIs(t, err, ErrRevoked)

	w.clk.Advance(DefaultChallengeTTL)
	c2, err := hb.NewChallenge(w.ids[2].ID())
	require.NoError(t, err)
	w.clk.Advance(DefaultChallengeTTL)
	_, err = handshaker(t, w, 2).Respond(c2)
	require.ErrorIs(t, err, ErrExpired)

	_, err = ha.NewChallenge("agent-2")
	require.ErrorIs(t, err, ErrMalformed)
	_, err = NewHandshaker(nil, w.reg)
	require.ErrorIs(t, err, ErrMalformed)
	_, err = NewHandshaker(w.ids[0], nil)
	require.ErrorIs(t, err, ErrMalformed)
}

func TestHandshakeBitFlips(t *testing.T) {
	w := newWorld(t, 2)
	ha, hb := handshaker(t, w, 0), handshaker(t, w, 1)
	c, err := ha.NewChallenge(hb.ID())
	require.NoError(t, err)
	r, err := hb.Respond(c)
	require.NoError(t, err)
	enc, err := r.Encode()
	require.NoError(t, err)
	for i := range len(enc) * 8 {
		x := bytes.Clone(enc)
		x[i/8] ^= 1 << (i % 8)
		got, err := DecodeResponse(x)
		if err == nil {
			_, err = ha.Verify(got)
		}
		require.Error(t, err, "byte %d bit %d", i/8, i%8)
		require.True(t, errors.Is(err, agentos.ErrInvalid) || errors.Is(err, agentos.ErrUntrusted), "%v", err)
	}
	_, err = ha.Verify(r)
	require.NoError(t, err, "the control still verifies: failed attempts do not spend the nonce")

	cenc, err := c.Encode()
	require.NoError(t, err)
	for name, in := range map[string][]byte{
		"empty": nil, "truncated": cenc[:len(cenc)-1], "trailing": append(bytes.Clone(cenc), 1),
		"kind": append([]byte{1, 'R'}, cenc[2:]...),
	} {
		_, err := DecodeChallenge(in)
		require.ErrorIs(t, err, agentos.ErrInvalid, name)
		_, err = DecodeResponse(in)
		require.ErrorIs(t, err, agentos.ErrInvalid, name)
	}
	_, err = DecodeChallenge(enc)
	require.ErrorIs(t, err, agentos.ErrInvalid, "a response is not a challenge")
	_, err = DecodeResponse(cenc)
	require.ErrorIs(t, err, agentos.ErrInvalid, "a challenge is not a response")
}

func TestHandshakePendingBound(t *testing.T) {
	w := newWorld(t, 2)
	h := handshaker(t, w, 0, WithMaxPending(8), WithChallengeTTL(time.Second), WithResultCache(2, time.Hour))
	for range 100 {
		_, err := h.NewChallenge(w.ids[1].ID())
		require.NoError(t, err)
	}
	h.mu.Lock()
	require.Len(t, h.pending, 8)
	require.Len(t, h.queue, 8)
	h.mu.Unlock()
	w.clk.Advance(2 * time.Second)
	_, err := h.NewChallenge(w.ids[1].ID())
	require.NoError(t, err)
	h.mu.Lock()
	require.Len(t, h.pending, 1, "expired challenges are purged")
	h.mu.Unlock()

	// The result cache holds at most its size.
	hb := handshaker(t, w, 1)
	for range 5 {
		c, err := h.NewChallenge(hb.ID())
		require.NoError(t, err)
		r, err := hb.Respond(c)
		require.NoError(t, err)
		_, err = h.Verify(r)
		require.NoError(t, err)
	}
	h.mu.Lock()
	require.LessOrEqual(t, len(h.vqueue), 2)
	require.Len(t, h.verified, 1)
	h.mu.Unlock()
	_, ok := h.Verified(hb.ID())
	require.True(t, ok)
	require.NoError(t, w.reg.Revoke(hb.ID()))
	_, ok = h.Verified(hb.ID())
	require.False(t, ok, "a revoked peer is not verified, whatever the cache says")
}
