package iatp

import (
	"container/heap"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// Envelope carries the proof that a payload comes from its sender: the
// sender's signature over the sender, the recipient, the time, a random
// nonce and the SHA-256 digest of the payload. The payload travels beside
// it (a bus message body, a pipe value); an Envelope is small enough for a
// bus header ([MaxEnvelopeString]).
//
// Binary encoding (version 1): 0x01 'E', sender (1 length byte + bytes),
// recipient (likewise), time (int64 big-endian Unix nanoseconds), nonce
// (16 bytes), digest (32), signature (64). The signature is over
// "agentos-iatp-envelope-v1\n" followed by the encoding up to the
// signature.
type Envelope struct {
	Sender    string // the sender's agent id
	Recipient string // an agent id, a topic, or "" for a broadcast
	At        time.Time
	Nonce     [16]byte
	Digest    [32]byte // SHA-256 of the payload
	Signature []byte
}

// Envelope size bounds.
const (
	MaxEnvelopeSize = 2 + 2*(1+maxWireString) + 8 + 16 + 32 + ed25519.SignatureSize
	// MaxEnvelopeString is the longest EncodeString result (under the
	// 1 KiB default header value limit of package amb).
	MaxEnvelopeString = (MaxEnvelopeSize*8 + 5) / 6
)

// Seal signs payload for recipient as id at time now. The recipient is
// an agent id, a topic or "" (a broadcast, see [Opener.Open]); it must be
// text of at most 255 bytes (else ErrMalformed).
func Seal(id *Identity, recipient string, payload []byte, now time.Time) (Envelope, error) {
	if id == nil {
		return Envelope{}, fmt.Errorf("%w: nil identity", ErrMalformed)
	}
	env := Envelope{Sender: id.ID(), Recipient: recipient, At: now.UTC(), Digest: sha256.Sum256(payload)}
	_, _ = rand.Read(env.Nonce[:]) // crypto/rand.Read does not fail (it crashes the program instead)
	buf := make([]byte, 0, len(domainEnvelope)+MaxEnvelopeSize)
	buf = append(buf, domainEnvelope...)
	buf, err := env.appendBody(buf)
	if err != nil {
		return Envelope{}, err
	}
	env.Signature = id.Sign(buf)
	return env, nil
}

func (env Envelope) appendBody(b []byte) ([]byte, error) {
	if !ValidID(env.Sender) {
		return nil, fmt.Errorf("%w: sender %q is not an agent id", ErrMalformed, env.Sender)
	}
	if err := checkText(env.Recipient, maxWireString); err != nil {
		return nil, fmt.Errorf("%w: recipient: %v", ErrMalformed, err)
	}
	if err := checkTime(env.At, "envelope time"); err != nil {
		return nil, err
	}
	b = append(b, wireVersion, kindEnvelope)
	b = appendString(b, env.Sender)
	b = appendString(b, env.Recipient)
	b = appendTime(b, env.At)
	b = append(b, env.Nonce[:]...)
	return append(b, env.Digest[:]...), nil
}

// Encode returns the binary encoding of env, or nil when env cannot be
// encoded (a sender that is not an agent id, a recipient over 255 bytes or
// with control characters, a time outside 1970..2262, a signature that is
// not 64 bytes). Seal never makes such an envelope.
func (env Envelope) Encode() []byte {
	if len(env.Signature) != ed25519.SignatureSize {
		return nil
	}
	b, err := env.appendBody(make([]byte, 0, MaxEnvelopeSize))
	if err != nil {
		return nil
	}
	return append(b, env.Signature...)
}

var envB64 = base64.RawURLEncoding.Strict()

// EncodeString returns Encode in unpadded base64url, for a message header:
// at most MaxEnvelopeString bytes ("" when Encode returns nil).
func (env Envelope) EncodeString() string {
	b := env.Encode()
	if b == nil {
		return ""
	}
	return envB64.EncodeToString(b)
}

// DecodeEnvelope decodes what Encode produced, strictly: the version, kind
// and sizes must be right, the sender an agent id, the recipient text, no
// trailing bytes. Errors wrap ErrMalformed (ErrTooLarge over
// MaxEnvelopeSize). It does not verify anything: Opener.Open does.
func DecodeEnvelope(b []byte) (Envelope, error) {
	if len(b) > MaxEnvelopeSize {
		return Envelope{}, fmt.Errorf("%w: envelope of %d bytes, limit %d", ErrTooLarge, len(b), MaxEnvelopeSize)
	}
	r := reader{b: b}
	r.header(kindEnvelope, "envelope")
	var env Envelope
	env.Sender = r.string("envelope sender")
	env.Recipient = r.string("envelope recipient")
	env.At = r.time("envelope time")
	copy(env.Nonce[:], r.fixed(16, "envelope nonce"))
	copy(env.Digest[:], r.fixed(32, "envelope digest"))
	sig := r.fixed(ed25519.SignatureSize, "envelope signature")
	if err := r.end("envelope"); err != nil {
		return Envelope{}, err
	}
	if !ValidID(env.Sender) {
		return Envelope{}, fmt.Errorf("%w: sender %q is not an agent id", ErrMalformed, env.Sender)
	}
	env.Signature = append([]byte(nil), sig...)
	return env, nil
}

// DecodeEnvelopeString decodes what EncodeString produced (ErrTooLarge
// over MaxEnvelopeString, ErrMalformed for anything but canonical
// unpadded base64url of a valid encoding).
func DecodeEnvelopeString(s string) (Envelope, error) {
	if len(s) > MaxEnvelopeString {
		return Envelope{}, fmt.Errorf("%w: envelope of %d characters, limit %d", ErrTooLarge, len(s), MaxEnvelopeString)
	}
	b, err := envB64.DecodeString(s)
	if err != nil {
		return Envelope{}, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	return DecodeEnvelope(b)
}

// Opener defaults.
const (
	DefaultReplayWindow = 2 * time.Minute
	DefaultMaxSkew      = 30 * time.Second
	DefaultMaxNonces    = 100_000
)

// OpenerOption configures an Opener.
type OpenerOption func(*Opener)

// WithReplayWindow sets how old an envelope may be (DefaultReplayWindow;
// d <= 0 keeps it). The nonces of accepted envelopes are remembered this
// long.
func WithReplayWindow(d time.Duration) OpenerOption {
	return func(o *Opener) {
		if d > 0 {
			o.window = d
		}
	}
}

// WithMaxSkew sets how far in the future an envelope's time may be
// (DefaultMaxSkew; d < 0 keeps it, 0 allows none).
func WithMaxSkew(d time.Duration) OpenerOption {
	return func(o *Opener) {
		if d >= 0 {
			o.skew = d
		}
	}
}

// WithOpenerClock sets the clock (the Registry's by default; nil keeps it).
func WithOpenerClock(now func() time.Time) OpenerOption {
	return func(o *Opener) {
		if now != nil {
			o.now = now
		}
	}
}

// WithMaxNonces bounds the replay cache (DefaultMaxNonces; n <= 0 keeps
// it). When it is full of nonces still inside the window, the oldest is
// forgotten and from then on envelopes no newer than it are refused
// (ErrReplay): the bound costs availability under a flood, never safety.
func WithMaxNonces(n int) OpenerOption {
	return func(o *Opener) {
		if n > 0 {
			o.maxNonces = n
		}
	}
}

// Opener verifies envelopes against a Registry and refuses replays. It is
// safe for concurrent use. Make one with NewOpener; the zero value is not
// usable. Its memory is bounded by WithMaxNonces (about 100 bytes a
// nonce).
type Opener struct {
	reg       *Registry
	now       func() time.Time
	window    time.Duration
	skew      time.Duration
	maxNonces int

	mu    sync.Mutex
	seen  map[nonceKey]int64 // when accepted, Unix nanoseconds by the Opener's clock
	order nonceHeap
	floor int64 // Unix nanoseconds: envelopes at or before it are refused
}

type nonceKey struct {
	sender   string
	receiver string // OpenFor's receiver: "" for Open
	nonce    [16]byte
	// first marks the entry of an envelope's first acceptance by OpenFor
	// for any receiver (receiver ""), which OpenJoined compares with the
	// time its receiver joined.
	first bool
}

// NewOpener returns an Opener over reg.
func NewOpener(reg *Registry, opts ...OpenerOption) *Opener {
	o := &Opener{reg: reg, window: DefaultReplayWindow, skew: DefaultMaxSkew, maxNonces: DefaultMaxNonces,
		seen: map[nonceKey]int64{}}
	if reg != nil {
		o.now = reg.now
	} else {
		o.now = time.Now
	}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}

// Open verifies env for the payload it travels with, on behalf of
// recipient, and returns the sender as the Registry knows it now (with its
// current score). The checks, in order:
//
//   - the envelope's form (ErrMalformed);
//   - env.Recipient equals recipient exactly (ErrWrongRecipient): a
//     broadcast envelope (Recipient "") opens only for a caller that passes
//     "", and a directed one never does, so a message sent to one agent
//     cannot be replayed as a broadcast or to another agent;
//   - env.At is within the replay window before now and the skew after
//     it (ErrExpired);
//   - the sender is registered (ErrUnknownPeer), not revoked or rotated
//     away (ErrRevoked), its manifest not expired (ErrExpired);
//   - the payload's SHA-256 is env.Digest, and the signature verifies
//     under the key the Registry holds, never a key the message brings
//     (ErrBadSignature);
//   - the nonce was not accepted before from that sender (ErrReplay).
//
// Only envelopes that pass every other check enter the replay cache, so
// forgeries cannot fill it. A nil Registry refuses everything
// (ErrUnknownPeer).
func (o *Opener) Open(env Envelope, recipient string, payload []byte) (Peer, error) {
	return o.OpenFor(env, recipient, "", payload)
}

// OpenFor is Open on behalf of one receiver among several that share this
// Opener: a kernel whose agents subscribe to the same topic, each of which
// is handed the same broadcast once. The checks are Open's, except that a
// nonce is refused as a replay only when the same receiver accepted it
// before, so every subscriber of a topic can open a message once and none
// can open it twice. Open is OpenFor with receiver "".
//
// A receiver that joins later, with the same broadcast's genuine copy gone
// by, would accept one replayed copy within the replay window: use
// OpenJoined for it.
func (o *Opener) OpenFor(env Envelope, recipient, receiver string, payload []byte) (Peer, error) {
	return o.open(env, recipient, receiver, time.Time{}, payload)
}

// OpenJoined is OpenFor for a receiver that began to listen at joined (a
// reading of the Opener's clock taken before it could receive anything)
// and is handed only what is published from then on, such as a live bus
// subscription. Besides OpenFor's checks it refuses as a replay
// (ErrReplay) an envelope this Opener accepted for any receiver before
// joined — its genuine copy went by before the receiver listened — and
// one signed more than the allowed skew (WithMaxSkew) before joined, which
// it could not have been handed unless replayed. A zero joined is OpenFor.
func (o *Opener) OpenJoined(env Envelope, recipient, receiver string, joined time.Time, payload []byte) (Peer, error) {
	return o.open(env, recipient, receiver, joined, payload)
}

func (o *Opener) open(env Envelope, recipient, receiver string, joined time.Time, payload []byte) (Peer, error) {
	var buf [len(domainEnvelope) + MaxEnvelopeSize]byte
	signed, err := env.appendBody(append(buf[:0], domainEnvelope...))
	if err != nil {
		return Peer{}, err
	}
	if len(env.Signature) != ed25519.SignatureSize {
		return Peer{}, fmt.Errorf("%w: signature of %d bytes", ErrMalformed, len(env.Signature))
	}
	if env.Recipient != recipient {
		return Peer{}, fmt.Errorf("%w: envelope for %q opened by %q", ErrWrongRecipient, env.Recipient, recipient)
	}
	now := o.now()
	if env.At.Before(now.Add(-o.window)) || env.At.After(now.Add(o.skew)) {
		return Peer{}, fmt.Errorf("%w: envelope from %s at %v, now %v", ErrExpired, env.Sender, env.At, now.UTC())
	}
	if o.reg == nil {
		return Peer{}, fmt.Errorf("%w: %s (no registry)", ErrUnknownPeer, env.Sender)
	}
	peer, err := o.reg.active(env.Sender, now)
	if err != nil {
		return Peer{}, err
	}
	if sha256.Sum256(payload) != env.Digest {
		return Peer{}, fmt.Errorf("%w: payload from %s does not match the signed digest", ErrBadSignature, env.Sender)
	}
	if !ed25519.Verify(peer.Key, signed, env.Signature) {
		return Peer{}, fmt.Errorf("%w: envelope from %s", ErrBadSignature, env.Sender)
	}
	if !joined.IsZero() && env.At.Before(joined.Add(-o.skew)) {
		return Peer{}, fmt.Errorf("%w: envelope from %s signed at %v, before %q listened (%v)", ErrReplay, env.Sender, env.At, receiver, joined.UTC())
	}
	if err := o.remember(env, receiver, joined, now); err != nil {
		return Peer{}, err
	}
	return peer, nil
}

func (o *Opener) remember(env Envelope, receiver string, joined, now time.Time) error {
	at := env.At.UnixNano()
	k := nonceKey{sender: env.Sender, receiver: receiver, nonce: env.Nonce}
	first := nonceKey{sender: env.Sender, nonce: env.Nonce, first: true}
	o.mu.Lock()
	defer o.mu.Unlock()
	cutoff := now.Add(-o.window).UnixNano()
	for len(o.order) > 0 && o.order[0].at < cutoff {
		delete(o.seen, heap.Pop(&o.order).(nonceEntry).key)
	}
	if at <= o.floor {
		return fmt.Errorf("%w: envelope from %s older than the replay cache remembers", ErrReplay, env.Sender)
	}
	if _, dup := o.seen[k]; dup {
		return fmt.Errorf("%w: nonce from %s", ErrReplay, env.Sender)
	}
	// The first acceptance of a nonce by OpenFor, for any receiver, is kept
	// apart (not by Open, whose one entry is it, nor in a cache of one).
	track := receiver != "" && o.maxNonces >= 2
	firstAt, seenBefore := o.seen[first]
	if track && seenBefore && !joined.IsZero() && firstAt < joined.UnixNano() {
		return fmt.Errorf("%w: nonce from %s, accepted here before %q listened", ErrReplay, env.Sender, receiver)
	}
	addFirst := track && !seenBefore
	need := 1
	if addFirst {
		need = 2
	}
	for len(o.order) > 0 && len(o.order)+need > o.maxNonces {
		e := heap.Pop(&o.order).(nonceEntry)
		delete(o.seen, e.key)
		o.floor = max(o.floor, e.at)
	}
	if at <= o.floor { // the eviction just above may have raised the floor past env
		return fmt.Errorf("%w: envelope from %s older than the replay cache remembers", ErrReplay, env.Sender)
	}
	o.seen[k] = now.UnixNano()
	heap.Push(&o.order, nonceEntry{at: at, key: k})
	if addFirst {
		o.seen[first] = now.UnixNano()
		heap.Push(&o.order, nonceEntry{at: at, key: first})
	}
	return nil
}

type nonceEntry struct {
	at  int64
	key nonceKey
}

// nonceHeap is a min-heap of accepted nonces by envelope time.
type nonceHeap []nonceEntry

func (h nonceHeap) Len() int           { return len(h) }
func (h nonceHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h nonceHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nonceHeap) Push(x any)        { *h = append(*h, x.(nonceEntry)) }
func (h *nonceHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
