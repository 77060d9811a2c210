package iatp

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Handshake defaults and bounds.
const (
	DefaultChallengeTTL = 30 * time.Second
	MaxChallengeTTL     = 10 * time.Minute
	DefaultMaxPending   = 1024
	DefaultCacheSize    = 1024
	DefaultCacheTTL     = 5 * time.Minute
	handshakeSkew       = 30 * time.Second
)

// Challenge asks To to prove it holds its key. It is not signed: the
// proof is the Response, and the challenger only accepts a response to a
// challenge it remembers issuing.
//
// Binary encoding (version 1): 0x01 'C', from, to (1 length byte +
// bytes each), nonce (32 bytes), at, expires (int64 big-endian Unix
// nanoseconds each).
type Challenge struct {
	From, To    string
	Nonce       [32]byte
	At, Expires time.Time
}

// Response answers a Challenge: the responder's id and key and its
// signature over "agentos-iatp-response-v1\n" followed by the encoding of
// the response up to the signature, which includes the whole challenge.
//
// Binary encoding (version 1): 0x01 'R', the challenge's fields as in its
// encoding, from (1 length byte + bytes), key (32 bytes), signature (64).
type Response struct {
	Challenge Challenge
	From      string
	Key       ed25519.PublicKey
	Signature []byte
}

const (
	challengeSize = 2 + 2*(1+idLen) + 32 + 16
	responseSize  = challengeSize + 1 + idLen + ed25519.PublicKeySize + ed25519.SignatureSize
)

func (c Challenge) appendFields(b []byte) ([]byte, error) {
	if !ValidID(c.From) || !ValidID(c.To) {
		return nil, fmt.Errorf("%w: challenge from %q to %q: want agent ids", ErrMalformed, c.From, c.To)
	}
	if err := checkTime(c.At, "challenge time"); err != nil {
		return nil, err
	}
	if err := checkTime(c.Expires, "challenge expiry"); err != nil {
		return nil, err
	}
	if !c.At.Before(c.Expires) || c.Expires.Sub(c.At) > MaxChallengeTTL {
		return nil, fmt.Errorf("%w: challenge valid from %v to %v (at most %v)", ErrMalformed, c.At, c.Expires, MaxChallengeTTL)
	}
	b = appendString(b, c.From)
	b = appendString(b, c.To)
	b = append(b, c.Nonce[:]...)
	b = appendTime(b, c.At)
	return appendTime(b, c.Expires), nil
}

func (r *reader) challengeFields() Challenge {
	var c Challenge
	c.From = r.string("challenge from")
	c.To = r.string("challenge to")
	copy(c.Nonce[:], r.fixed(32, "challenge nonce"))
	c.At = r.time("challenge time")
	c.Expires = r.time("challenge expiry")
	return c
}

// Encode returns the binary encoding of c (ErrMalformed when a field has
// the wrong form: ids, times, a validity over MaxChallengeTTL).
func (c Challenge) Encode() ([]byte, error) {
	return c.appendFields(append(make([]byte, 0, challengeSize), wireVersion, kindChallenge))
}

// DecodeChallenge decodes what Challenge.Encode produced, strictly
// (ErrMalformed).
func DecodeChallenge(b []byte) (Challenge, error) {
	if len(b) > challengeSize {
		return Challenge{}, fmt.Errorf("%w: challenge of %d bytes", ErrTooLarge, len(b))
	}
	r := reader{b: b}
	r.header(kindChallenge, "challenge")
	c := r.challengeFields()
	if err := r.end("challenge"); err != nil {
		return Challenge{}, err
	}
	if _, err := c.appendFields(nil); err != nil {
		return Challenge{}, err
	}
	return c, nil
}

func (resp Response) body() ([]byte, error) {
	b := make([]byte, 0, len(domainResponse)+responseSize)
	b = append(b, domainResponse...)
	b = append(b, wireVersion, kindResponse)
	b, err := resp.Challenge.appendFields(b)
	if err != nil {
		return nil, err
	}
	if !ValidID(resp.From) {
		return nil, fmt.Errorf("%w: response from %q: want an agent id", ErrMalformed, resp.From)
	}
	if len(resp.Key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: response key of %d bytes", ErrMalformed, len(resp.Key))
	}
	b = appendString(b, resp.From)
	return append(b, resp.Key...), nil
}

// Encode returns the binary encoding of resp (ErrMalformed when a field
// has the wrong form).
func (resp Response) Encode() ([]byte, error) {
	b, err := resp.body()
	if err != nil {
		return nil, err
	}
	if len(resp.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: response signature of %d bytes", ErrMalformed, len(resp.Signature))
	}
	return append(b[len(domainResponse):], resp.Signature...), nil
}

// DecodeResponse decodes what Response.Encode produced, strictly
// (ErrMalformed). It verifies nothing: Handshaker.Verify does.
func DecodeResponse(b []byte) (Response, error) {
	if len(b) > responseSize {
		return Response{}, fmt.Errorf("%w: response of %d bytes", ErrTooLarge, len(b))
	}
	r := reader{b: b}
	r.header(kindResponse, "response")
	var resp Response
	resp.Challenge = r.challengeFields()
	resp.From = r.string("response from")
	resp.Key = slices.Clone(ed25519.PublicKey(r.fixed(ed25519.PublicKeySize, "response key")))
	resp.Signature = slices.Clone(r.fixed(ed25519.SignatureSize, "response signature"))
	if err := r.end("response"); err != nil {
		return Response{}, err
	}
	if _, err := resp.body(); err != nil {
		return Response{}, err
	}
	return resp, nil
}

// HandshakeOption configures a Handshaker.
type HandshakeOption func(*Handshaker)

// WithHandshakeClock sets the clock (the Registry's by default; nil keeps it).
func WithHandshakeClock(now func() time.Time) HandshakeOption {
	return func(h *Handshaker) {
		if now != nil {
			h.now = now
		}
	}
}

// WithChallengeTTL sets how long a challenge may be answered
// (DefaultChallengeTTL; values outside (0, MaxChallengeTTL] keep it).
func WithChallengeTTL(d time.Duration) HandshakeOption {
	return func(h *Handshaker) {
		if d > 0 && d <= MaxChallengeTTL {
			h.ttl = d
		}
	}
}

// WithMaxPending bounds the challenges remembered (DefaultMaxPending;
// n <= 0 keeps it). Issuing one more forgets the oldest, whose response
// is then refused with ErrUnknownChallenge.
func WithMaxPending(n int) HandshakeOption {
	return func(h *Handshaker) {
		if n > 0 {
			h.maxPending = n
		}
	}
}

// WithRequiredScore sets the total score a peer needs for Verify to pass
// (AllowAt by default, so a peer whose verdict is Warn or Refuse fails
// with ErrInsufficientTrust).
func WithRequiredScore(min float64) HandshakeOption {
	return func(h *Handshaker) { h.minScore = min }
}

// WithRequiredCapabilities sets capabilities a peer's manifest must list
// for Verify to pass (ErrMissingCapability).
func WithRequiredCapabilities(caps ...string) HandshakeOption {
	return func(h *Handshaker) { h.caps = slices.Clone(caps) }
}

// WithResultCache sets how many verified peers are remembered, and for
// how long, for Verified (DefaultCacheSize, DefaultCacheTTL; values <= 0
// keep the default).
func WithResultCache(size int, ttl time.Duration) HandshakeOption {
	return func(h *Handshaker) {
		if size > 0 {
			h.cacheSize = size
		}
		if ttl > 0 {
			h.cacheTTL = ttl
		}
	}
}

// Handshaker runs the challenge-response handshake for one local identity
// against a Registry. A mutual handshake is two one-way ones, each side
// challenging the other (see the package example). It is safe for
// concurrent use.
type Handshaker struct {
	id         *Identity
	reg        *Registry
	now        func() time.Time
	ttl        time.Duration
	maxPending int
	minScore   float64
	caps       []string
	cacheSize  int
	cacheTTL   time.Duration

	mu       sync.Mutex
	pending  map[[32]byte]*pendingChallenge
	queue    [][32]byte // pending nonces, oldest first
	verified map[string]verifiedAt
	vqueue   []verifiedAt // verifications, oldest first; len(verified) <= len(vqueue) <= cacheSize
	vseq     uint64
}

type verifiedAt struct {
	id  string
	at  time.Time
	seq uint64 // tells a peer's latest verification from its earlier ones
}

type pendingChallenge struct {
	c    Challenge
	used bool
}

// NewHandshaker returns a Handshaker for id over reg. Both are required
// (ErrMalformed).
func NewHandshaker(id *Identity, reg *Registry, opts ...HandshakeOption) (*Handshaker, error) {
	if id == nil || reg == nil {
		return nil, fmt.Errorf("%w: a handshaker needs an identity and a registry", ErrMalformed)
	}
	h := &Handshaker{id: id, reg: reg, now: reg.now, ttl: DefaultChallengeTTL, maxPending: DefaultMaxPending,
		minScore: AllowAt, cacheSize: DefaultCacheSize, cacheTTL: DefaultCacheTTL,
		pending: map[[32]byte]*pendingChallenge{}, verified: map[string]verifiedAt{}}
	for _, o := range opts {
		if o != nil {
			o(h)
		}
	}
	return h, nil
}

// ID returns the local identity's id.
func (h *Handshaker) ID() string { return h.id.ID() }

// NewChallenge issues a challenge to the agent id to and remembers it
// until it expires, is answered, or is evicted (WithMaxPending). An id of
// the wrong form gives ErrMalformed.
func (h *Handshaker) NewChallenge(to string) (Challenge, error) {
	if !ValidID(to) {
		return Challenge{}, fmt.Errorf("%w: challenge to %q: want an agent id", ErrMalformed, to)
	}
	now := h.now().UTC()
	c := Challenge{From: h.id.ID(), To: to, At: now, Expires: now.Add(h.ttl)}
	_, _ = rand.Read(c.Nonce[:]) // crypto/rand.Read does not fail
	if _, err := c.appendFields(nil); err != nil {
		return Challenge{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.purgeLocked(now)
	for len(h.queue) >= h.maxPending {
		delete(h.pending, h.queue[0])
		h.queue = h.queue[1:]
	}
	h.pending[c.Nonce] = &pendingChallenge{c: c}
	h.queue = append(h.queue, c.Nonce)
	return c, nil
}

func (h *Handshaker) purgeLocked(now time.Time) {
	for len(h.queue) > 0 {
		p := h.pending[h.queue[0]]
		if p != nil && now.Before(p.c.Expires) {
			break
		}
		delete(h.pending, h.queue[0])
		h.queue = h.queue[1:]
	}
}

// Respond answers a challenge addressed to this identity: ErrWrongRecipient
// when it is not, ErrExpired outside its validity (with 30 s of clock
// skew before its time), ErrMalformed for a challenge of the wrong form,
// ErrRevoked when the challenger is a revoked peer of the Registry. A
// challenger the Registry does not know is answered: the response only
// proves who we are.
func (h *Handshaker) Respond(c Challenge) (Response, error) {
	if c.To != h.id.ID() {
		return Response{}, fmt.Errorf("%w: challenge for %q answered by %s", ErrWrongRecipient, c.To, h.id.ID())
	}
	now := h.now()
	if now.Before(c.At.Add(-handshakeSkew)) || !now.Before(c.Expires) {
		return Response{}, fmt.Errorf("%w: challenge from %s valid %v to %v, now %v", ErrExpired, c.From, c.At, c.Expires, now.UTC())
	}
	if p, ok := h.reg.Lookup(c.From); ok && p.Revoked {
		return Response{}, fmt.Errorf("%w: challenger %s", ErrRevoked, c.From)
	}
	resp := Response{Challenge: c, From: h.id.ID(), Key: h.id.PublicKey()}
	body, err := resp.body()
	if err != nil {
		return Response{}, err
	}
	resp.Signature = h.id.Sign(body)
	return resp, nil
}

// Verify checks a response to a challenge this Handshaker issued and
// returns the peer as the Registry knows it. In order:
//
//   - the response's form (ErrMalformed);
//   - the challenge is ours (ErrWrongRecipient), from its responder
//     (ErrWrongRecipient when someone else answers);
//   - the nonce is one we issued and still remember, with the challenge
//     echoed unchanged (ErrUnknownChallenge), not yet answered (ErrReplay),
//     not expired (ErrExpired);
//   - the responder is registered (ErrUnknownPeer), not revoked
//     (ErrRevoked), its manifest not expired (ErrExpired);
//   - the key it presents is its id's and the one registered
//     (ErrKeyMismatch), and the signature verifies (ErrBadSignature);
//   - its score is at least the required one (ErrInsufficientTrust) and it
//     has the required capabilities (ErrMissingCapability).
//
// The nonce is spent only when every check passes; then the peer enters
// the result cache (see Verified).
func (h *Handshaker) Verify(resp Response) (Peer, error) {
	body, err := resp.body()
	if err != nil {
		return Peer{}, err
	}
	c := resp.Challenge
	if c.From != h.id.ID() {
		return Peer{}, fmt.Errorf("%w: challenge of %s verified by %s", ErrWrongRecipient, c.From, h.id.ID())
	}
	if resp.From != c.To {
		return Peer{}, fmt.Errorf("%w: challenge for %s answered by %s", ErrWrongRecipient, c.To, resp.From)
	}
	now := h.now()
	h.mu.Lock()
	p, ok := h.pending[c.Nonce]
	var used bool
	if ok {
		used = p.used
		ok = p.c.To == c.To && p.c.At.Equal(c.At) && p.c.Expires.Equal(c.Expires)
	}
	h.mu.Unlock()
	switch {
	case !ok:
		return Peer{}, fmt.Errorf("%w: response from %s", ErrUnknownChallenge, resp.From)
	case used:
		return Peer{}, fmt.Errorf("%w: challenge already answered by %s", ErrReplay, resp.From)
	case !now.Before(c.Expires):
		return Peer{}, fmt.Errorf("%w: challenge to %s expired at %v", ErrExpired, c.To, c.Expires)
	}
	peer, err := h.reg.active(resp.From, now)
	if err != nil {
		return Peer{}, err
	}
	if IDOf(resp.Key) != resp.From || !bytes.Equal(resp.Key, peer.Key) {
		return Peer{}, fmt.Errorf("%w: %s presented a key other than its registered one", ErrKeyMismatch, resp.From)
	}
	if len(resp.Signature) != ed25519.SignatureSize || !ed25519.Verify(peer.Key, body, resp.Signature) {
		return Peer{}, fmt.Errorf("%w: response from %s", ErrBadSignature, resp.From)
	}
	if !(peer.Score.Total >= h.minScore) {
		return Peer{}, fmt.Errorf("%w: %s scores %.2f, need %.2f", ErrInsufficientTrust, resp.From, peer.Score.Total, h.minScore)
	}
	for _, c := range h.caps {
		if !peer.HasCapabilities(c) {
			return Peer{}, fmt.Errorf("%w: %s lacks %q", ErrMissingCapability, resp.From, c)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.used { // a concurrent Verify of the same response won
		return Peer{}, fmt.Errorf("%w: challenge already answered by %s", ErrReplay, resp.From)
	}
	p.used = true
	h.rememberLocked(resp.From, now)
	return peer, nil
}

func (h *Handshaker) rememberLocked(id string, now time.Time) {
	h.vseq++
	v := verifiedAt{id: id, at: now, seq: h.vseq}
	h.verified[id] = v
	h.vqueue = append(h.vqueue, v)
	for len(h.vqueue) > h.cacheSize {
		old := h.vqueue[0]
		h.vqueue = h.vqueue[1:]
		if cur, ok := h.verified[old.id]; ok && cur.seq == old.seq { // the latest entry for that peer
			delete(h.verified, old.id)
		}
	}
}

// Verified returns the peer id when it passed Verify within the cache TTL
// and still passes the Registry's checks (known, not revoked, manifest not
// expired) and the required score and capabilities now; otherwise false.
// It lets a caller skip a handshake it did recently.
func (h *Handshaker) Verified(id string) (Peer, bool) {
	now := h.now()
	h.mu.Lock()
	v, ok := h.verified[id]
	if ok && (now.Sub(v.at) >= h.cacheTTL || now.Before(v.at)) {
		delete(h.verified, id)
		ok = false
	}
	h.mu.Unlock()
	if !ok {
		return Peer{}, false
	}
	peer, err := h.reg.active(id, now)
	if err != nil || !(peer.Score.Total >= h.minScore) || !peer.HasCapabilities(h.caps...) {
		return Peer{}, false
	}
	return peer, true
}
