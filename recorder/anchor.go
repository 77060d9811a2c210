package recorder

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// Genesis returns the point a's chain starts from (its GenesisSeq and
// GenesisHash as a point).
func (a Anchor) Genesis() Anchor { return Anchor{Seq: a.GenesisSeq, Hash: a.GenesisHash} }

// Head returns a's head as a point (without the genesis fields).
func (a Anchor) Head() Anchor { return Anchor{Seq: a.Seq, Hash: a.Hash} }

// from returns the head a as an anchor of the chain that starts at genesis.
func (a Anchor) from(genesis Anchor) Anchor {
	return Anchor{Seq: a.Seq, Hash: a.Hash, GenesisSeq: genesis.Seq, GenesisHash: genesis.Hash}
}

// originOf returns the genesis of the first file of a recorder: st's own
// for a single file, else the stored genesis of segs[0]. It is read once at
// Open and is what the recorder's anchors name as their genesis.
func originOf(ctx context.Context, segs []string, st *store) (Anchor, error) {
	if len(segs) <= 1 || segs[0] == st.path {
		return st.genesis, nil
	}
	first, release, err := chainFile{path: segs[0]}.open(ctx)
	if err != nil {
		return Anchor{}, err
	}
	defer release()
	return first.genesis, nil
}

// Bounds of a signed anchor.
const (
	// MaxAnchorSource is the longest Source of a signed anchor, in bytes.
	MaxAnchorSource = 256
	// MaxSignedAnchorBytes bounds the JSON encoding of a signed anchor
	// that ParseSignedAnchor accepts.
	MaxSignedAnchorBytes = 4096
)

// anchorDomain starts the signed encoding of an anchor, so that a signature
// made for anything else never verifies as an anchor's.
const anchorDomain = "agentos.recorder.anchor.v1\x00"

// SignedAnchor is an anchor signed with Ed25519 by the holder of a key the
// verifier trusts, so that it proves the chain even when it is stored
// where an attacker can write: the attacker cannot sign another one. It
// travels as JSON (ParseSignedAnchor reads it back).
type SignedAnchor struct {
	Anchor Anchor `json:"anchor"`
	// Source names the recorder the anchor is of (a host and path, a
	// kernel's name), so that an anchor of one recorder is not taken for
	// another's: at most MaxAnchorSource bytes of UTF-8.
	Source string `json:"source"`
	// Time is when the anchor was signed (UTC, nanoseconds).
	Time time.Time `json:"time"`
	// Signature is the Ed25519 signature of SigningPayload.
	Signature []byte `json:"signature"`
}

// SigningPayload returns the canonical bytes the signature covers: a domain
// string, the source (length-prefixed), the genesis and head (sequence as 8
// bytes big-endian, then the hash) and the time in Unix nanoseconds (8
// bytes big-endian, two's complement).
func (s SignedAnchor) SigningPayload() []byte {
	b := make([]byte, 0, len(anchorDomain)+2+len(s.Source)+2*(8+HashSize)+8)
	b = append(b, anchorDomain...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.Source)))
	b = append(b, s.Source...)
	b = binary.BigEndian.AppendUint64(b, s.Anchor.GenesisSeq)
	b = append(b, s.Anchor.GenesisHash[:]...)
	b = binary.BigEndian.AppendUint64(b, s.Anchor.Seq)
	b = append(b, s.Anchor.Hash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Time.UnixNano()))
	return b
}

func checkSource(source string) error {
	if len(source) > MaxAnchorSource || !utf8.ValidString(source) {
		return fmt.Errorf("%w: recorder: anchor source must be at most %d bytes of UTF-8", agentos.ErrInvalid, MaxAnchorSource)
	}
	return nil
}

// SignAnchor signs a as an anchor of source at time at. It returns
// agentos.ErrInvalid for a key that is not an Ed25519 private key, a source
// out of bounds or an anchor whose head precedes its genesis.
func SignAnchor(key ed25519.PrivateKey, source string, a Anchor, at time.Time) (SignedAnchor, error) {
	if len(key) != ed25519.PrivateKeySize {
		return SignedAnchor{}, fmt.Errorf("%w: recorder: Ed25519 private key of %d bytes, want %d", agentos.ErrInvalid, len(key), ed25519.PrivateKeySize)
	}
	if err := checkSource(source); err != nil {
		return SignedAnchor{}, err
	}
	if a.Seq < a.GenesisSeq {
		return SignedAnchor{}, fmt.Errorf("%w: recorder: anchor head %d precedes its genesis %d", agentos.ErrInvalid, a.Seq, a.GenesisSeq)
	}
	s := SignedAnchor{Anchor: a, Source: source, Time: time.Unix(0, at.UnixNano()).UTC()}
	s.Signature = ed25519.Sign(key, s.SigningPayload())
	return s, nil
}

// Verify checks s's signature with pub. It returns ErrSignature when the
// signature does not verify (a forged or altered anchor, or another key)
// and agentos.ErrInvalid for a key that is not an Ed25519 public key.
func (s SignedAnchor) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: recorder: Ed25519 public key of %d bytes, want %d", agentos.ErrInvalid, len(pub), ed25519.PublicKeySize)
	}
	if len(s.Signature) != ed25519.SignatureSize || !ed25519.Verify(pub, s.SigningPayload(), s.Signature) {
		return fmt.Errorf("%w: anchor %d of %q", ErrSignature, s.Anchor.Seq, s.Source)
	}
	return nil
}

// VerifySignatures checks every anchor's signature with pub and that it is
// an anchor of source, and returns the anchors, ready for
// Recorder.VerifyAnchors or VerifyFilesAnchored. The error (ErrSignature,
// agentos.ErrInvalid) names the first anchor that fails.
func VerifySignatures(pub ed25519.PublicKey, source string, signed []SignedAnchor) ([]Anchor, error) {
	out := make([]Anchor, 0, len(signed))
	for i, s := range signed {
		if err := s.Verify(pub); err != nil {
			return nil, fmt.Errorf("recorder: signed anchor %d: %w", i, err)
		}
		if s.Source != source {
			return nil, fmt.Errorf("%w: recorder: signed anchor %d is of %q, not %q", ErrSignature, i, s.Source, source)
		}
		out = append(out, s.Anchor)
	}
	return out, nil
}

// ParseSignedAnchor reads one signed anchor in its JSON form, strictly: no
// unknown field, no trailing data, at most MaxSignedAnchorBytes, a 64-byte
// signature, a source within bounds and a head that does not precede its
// genesis. It does not check the signature (see Verify). Errors wrap
// agentos.ErrInvalid.
func ParseSignedAnchor(b []byte) (SignedAnchor, error) {
	var s SignedAnchor
	if len(b) > MaxSignedAnchorBytes {
		return s, fmt.Errorf("%w: recorder: signed anchor of %d bytes exceeds %d", agentos.ErrInvalid, len(b), MaxSignedAnchorBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return SignedAnchor{}, fmt.Errorf("%w: recorder: signed anchor: %v", agentos.ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return SignedAnchor{}, fmt.Errorf("%w: recorder: signed anchor: trailing data", agentos.ErrInvalid)
	}
	switch {
	case len(s.Signature) != ed25519.SignatureSize:
		return SignedAnchor{}, fmt.Errorf("%w: recorder: signed anchor: signature of %d bytes, want %d", agentos.ErrInvalid, len(s.Signature), ed25519.SignatureSize)
	case s.Anchor.Seq < s.Anchor.GenesisSeq:
		return SignedAnchor{}, fmt.Errorf("%w: recorder: signed anchor: head %d precedes genesis %d", agentos.ErrInvalid, s.Anchor.Seq, s.Anchor.GenesisSeq)
	case s.Time.IsZero():
		return SignedAnchor{}, fmt.Errorf("%w: recorder: signed anchor: no time", agentos.ErrInvalid)
	}
	if err := checkSource(s.Source); err != nil {
		return SignedAnchor{}, err
	}
	s.Time = s.Time.UTC()
	return s, nil
}
