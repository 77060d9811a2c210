package iatp

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// IDPrefix starts every agent id.
const IDPrefix = "did:mesh:"

// idLen is the length of an id: the prefix and 32 lowercase hex digits.
const idLen = len(IDPrefix) + 32

// Identity is an agent's Ed25519 key pair. Its methods are safe for
// concurrent use; the key never changes (Rotate returns a new Identity).
type Identity struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	id   string
}

// NewIdentity generates a key pair from rand (crypto/rand when nil).
// It returns an error only when rand fails.
func NewIdentity(rnd io.Reader) (*Identity, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	pub, priv, err := ed25519.GenerateKey(rnd)
	if err != nil {
		return nil, fmt.Errorf("iatp: generate key: %w", err)
	}
	return &Identity{priv: priv, pub: pub, id: IDOf(pub)}, nil
}

// identityFromSeed rebuilds an identity from its 32-byte seed.
func identityFromSeed(seed []byte) (*Identity, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: seed is %d bytes, want %d", ErrMalformed, len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	return &Identity{priv: priv, pub: pub, id: IDOf(pub)}, nil
}

// IDOf returns the agent id of a public key: "did:mesh:" followed by the
// first 32 hex digits (128 bits) of the SHA-256 of the key.
func IDOf(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return IDPrefix + hex.EncodeToString(sum[:16])
}

// ValidID reports whether s has the form of an agent id (the prefix and 32
// lowercase hex digits). It says nothing about whether the id is known.
func ValidID(s string) bool {
	if len(s) != idLen || s[:len(IDPrefix)] != IDPrefix {
		return false
	}
	for _, c := range []byte(s[len(IDPrefix):]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ID returns the agent id derived from the public key.
func (id *Identity) ID() string { return id.id }

// PublicKey returns a copy of the public key.
func (id *Identity) PublicKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), id.pub...)
}

// Sign signs msg as it is. The protocol's own messages are signed over
// domain-separated bytes by Seal, SignManifest, Respond and Rotate; use
// Sign only with a prefix of your own so its signatures cannot be confused
// with theirs.
func (id *Identity) Sign(msg []byte) []byte {
	return ed25519.Sign(id.priv, msg)
}

// Handover is a key rotation: the old key vouches for the new one. It is
// signed by the old key over its encoding without the signature, after the
// prefix "agentos-iatp-handover-v1\n".
type Handover struct {
	OldID  string
	OldKey ed25519.PublicKey
	NewID  string
	NewKey ed25519.PublicKey
	At     time.Time
	Sig    []byte
}

// Rotate generates a new identity (from rand, crypto/rand when nil) and a
// Handover signed by the receiver's key that passes the peers' registries
// from the old id to the new one ([Registry.Rotate]).
func (id *Identity) Rotate(rnd io.Reader) (*Identity, Handover, error) {
	return id.rotate(rnd, time.Now())
}

func (id *Identity) rotate(rnd io.Reader, now time.Time) (*Identity, Handover, error) {
	next, err := NewIdentity(rnd)
	if err != nil {
		return nil, Handover{}, err
	}
	h := Handover{
		OldID: id.id, OldKey: id.PublicKey(),
		NewID: next.id, NewKey: next.PublicKey(),
		At: now.UTC(),
	}
	body, err := h.body()
	if err != nil {
		return nil, Handover{}, err
	}
	h.Sig = id.Sign(append([]byte(domainHandover), body...))
	return next, h, nil
}

func (h Handover) body() ([]byte, error) {
	if !ValidID(h.OldID) || !ValidID(h.NewID) {
		return nil, fmt.Errorf("%w: handover ids must be agent ids", ErrMalformed)
	}
	if len(h.OldKey) != ed25519.PublicKeySize || len(h.NewKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: handover keys must be %d bytes", ErrMalformed, ed25519.PublicKeySize)
	}
	if err := checkTime(h.At, "handover time"); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 2+2*(1+idLen)+2*ed25519.PublicKeySize+8+ed25519.SignatureSize)
	b = append(b, wireVersion, kindHandover)
	b = appendString(b, h.OldID)
	b = append(b, h.OldKey...)
	b = appendString(b, h.NewID)
	b = append(b, h.NewKey...)
	return appendTime(b, h.At), nil
}

// Encode returns the binary encoding of h. It fails (ErrMalformed) when a
// field has the wrong form or size.
func (h Handover) Encode() ([]byte, error) {
	b, err := h.body()
	if err != nil {
		return nil, err
	}
	if len(h.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: handover signature is %d bytes", ErrMalformed, len(h.Sig))
	}
	return append(b, h.Sig...), nil
}

// DecodeHandover decodes what Handover.Encode produced. It checks the form
// (ErrMalformed) but not the signature: call VerifyHandover.
func DecodeHandover(b []byte) (Handover, error) {
	r := reader{b: b}
	r.header(kindHandover, "handover")
	var h Handover
	h.OldID = r.string("handover old id")
	h.OldKey = ed25519.PublicKey(r.fixed(ed25519.PublicKeySize, "handover old key"))
	h.NewID = r.string("handover new id")
	h.NewKey = ed25519.PublicKey(r.fixed(ed25519.PublicKeySize, "handover new key"))
	h.At = r.time("handover time")
	h.Sig = r.fixed(ed25519.SignatureSize, "handover signature")
	if err := r.end("handover"); err != nil {
		return Handover{}, err
	}
	if !ValidID(h.OldID) || !ValidID(h.NewID) {
		return Handover{}, fmt.Errorf("%w: handover ids must be agent ids", ErrMalformed)
	}
	h.OldKey = append(ed25519.PublicKey(nil), h.OldKey...)
	h.NewKey = append(ed25519.PublicKey(nil), h.NewKey...)
	h.Sig = append([]byte(nil), h.Sig...)
	return h, nil
}

// VerifyHandover checks that both ids match their keys (ErrKeyMismatch),
// that the ids differ, and that the old key signed the handover
// (ErrBadSignature). Malformed fields give ErrMalformed. It does not
// consult a Registry; [Registry.Rotate] does, and also checks the old key is
// the one registered.
func VerifyHandover(h Handover) error {
	body, err := h.body()
	if err != nil {
		return err
	}
	if IDOf(h.OldKey) != h.OldID {
		return fmt.Errorf("%w: handover old key is not %s's", ErrKeyMismatch, h.OldID)
	}
	if IDOf(h.NewKey) != h.NewID {
		return fmt.Errorf("%w: handover new key is not %s's", ErrKeyMismatch, h.NewID)
	}
	if h.OldID == h.NewID {
		return fmt.Errorf("%w: handover to the same id", ErrMalformed)
	}
	if len(h.Sig) != ed25519.SignatureSize ||
		!ed25519.Verify(h.OldKey, append([]byte(domainHandover), body...), h.Sig) {
		return fmt.Errorf("%w: handover from %s", ErrBadSignature, h.OldID)
	}
	return nil
}
