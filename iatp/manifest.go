package iatp

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// ProtocolVersion is the manifest format this package writes and reads.
const ProtocolVersion = "1"

// Bounds on a manifest.
const (
	MaxManifestSize   = 64 << 10 // encoded SignedManifest
	MaxNameLen        = 128
	MaxCapabilities   = 256
	MaxCapabilityLen  = 128
	MaxLabels         = 32
	MaxLabelKeyLen    = 63
	MaxLabelValueLen  = 256
	MaxUndoWindow     = 365 * 24 * time.Hour
	manifestClockSkew = time.Minute
)

// TrustLevel is the trust an agent's manifest declares. The Registry takes
// it as the host's assessment because registering a manifest is the host's
// decision (see [Registry.Register]).
type TrustLevel string

// The trust levels and their base scores.
const (
	VerifiedPartner TrustLevel = "verified_partner" // 10
	Trusted         TrustLevel = "trusted"          // 7
	Standard        TrustLevel = "standard"         // 5
	Unknown         TrustLevel = "unknown"          // 2
	Untrusted       TrustLevel = "untrusted"        // 0
)

// Valid reports whether l is one of the five levels (exact spelling).
func (l TrustLevel) Valid() bool {
	switch l {
	case VerifiedPartner, Trusted, Standard, Unknown, Untrusted:
		return true
	}
	return false
}

// ReversibilityLevel says how far an agent can undo what it did.
type ReversibilityLevel string

// Reversibility levels.
const (
	ReversibleFull    ReversibilityLevel = "full"
	ReversiblePartial ReversibilityLevel = "partial"
	ReversibleNone    ReversibilityLevel = "none"
)

// Valid reports whether l is one of the levels.
func (l ReversibilityLevel) Valid() bool {
	return l == ReversibleFull || l == ReversiblePartial || l == ReversibleNone
}

// Reversibility is what a manifest promises about undo. UndoWindow is a
// whole number of seconds, at most [MaxUndoWindow], and zero when Level is
// none (zero otherwise means "not stated").
type Reversibility struct {
	Level      ReversibilityLevel
	UndoWindow time.Duration
}

// Retention says how long an agent keeps the data it receives.
type Retention string

// Retention values.
const (
	RetentionEphemeral Retention = "ephemeral"
	RetentionSession   Retention = "session"
	RetentionPermanent Retention = "permanent"
)

// Valid reports whether r is one of the retention values.
func (r Retention) Valid() bool {
	return r == RetentionEphemeral || r == RetentionSession || r == RetentionPermanent
}

// Privacy is what a manifest promises about the data an agent receives.
type Privacy struct {
	Retention       Retention
	HumanInLoop     bool // humans may see the data
	TrainingConsent bool // the data may be used for training
}

// Manifest is an agent's self-description: who it is, what it may do and
// what it promises. See the package documentation for its canonical
// encoding and [Manifest.Validate] for the rules it must follow.
type Manifest struct {
	AgentID       string
	Name          string
	PublicKey     ed25519.PublicKey
	TrustLevel    TrustLevel
	Capabilities  []string // sorted, no duplicates (SignManifest sorts them)
	Reversibility Reversibility
	Privacy       Privacy
	Labels        map[string]string // optional; keys must not start with "iatp."
	IssuedAt      time.Time
	Expires       time.Time
	Version       string // ProtocolVersion
}

// SignedManifest is a manifest with the signature of its agent's key over
// "agentos-iatp-manifest-v1\n" followed by the canonical encoding of
// Manifest.
type SignedManifest struct {
	Manifest  Manifest
	Signature []byte
}

// Validate checks the form of m: the id and key (the id derived from the
// key, else ErrKeyMismatch), the enums, the bounds above, capabilities
// sorted and unique, label keys of [A-Za-z0-9._/-] not starting with
// "iatp.", text valid UTF-8 without control characters, IssuedAt before
// Expires, both within 1970..2262. Form errors wrap ErrMalformed (and so
// agentos.ErrInvalid). Validate does not look at the clock.
func (m Manifest) Validate() error {
	if m.Version != ProtocolVersion {
		return fmt.Errorf("%w: manifest version %q, want %q", ErrMalformed, m.Version, ProtocolVersion)
	}
	if !ValidID(m.AgentID) {
		return fmt.Errorf("%w: agent id %q is not did:mesh:<32 hex>", ErrMalformed, m.AgentID)
	}
	if len(m.PublicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key is %d bytes, want %d", ErrMalformed, len(m.PublicKey), ed25519.PublicKeySize)
	}
	if IDOf(m.PublicKey) != m.AgentID {
		return fmt.Errorf("%w: manifest key is not %s's", ErrKeyMismatch, m.AgentID)
	}
	if err := checkText(m.Name, MaxNameLen); err != nil {
		return fmt.Errorf("%w: name: %v", ErrMalformed, err)
	}
	if !m.TrustLevel.Valid() {
		return fmt.Errorf("%w: trust level %q", ErrMalformed, m.TrustLevel)
	}
	if len(m.Capabilities) > MaxCapabilities {
		return fmt.Errorf("%w: %d capabilities, limit %d", ErrMalformed, len(m.Capabilities), MaxCapabilities)
	}
	for i, c := range m.Capabilities {
		if err := checkCapability(c); err != nil {
			return err
		}
		if i > 0 && m.Capabilities[i-1] >= c {
			return fmt.Errorf("%w: capabilities not sorted and unique at %q", ErrMalformed, c)
		}
	}
	r := m.Reversibility
	if !r.Level.Valid() {
		return fmt.Errorf("%w: reversibility level %q", ErrMalformed, r.Level)
	}
	if r.UndoWindow < 0 || r.UndoWindow > MaxUndoWindow || r.UndoWindow%time.Second != 0 {
		return fmt.Errorf("%w: undo window %v: want whole seconds in 0..%v", ErrMalformed, r.UndoWindow, MaxUndoWindow)
	}
	if r.Level == ReversibleNone && r.UndoWindow != 0 {
		return fmt.Errorf("%w: undo window %v with reversibility none", ErrMalformed, r.UndoWindow)
	}
	if !m.Privacy.Retention.Valid() {
		return fmt.Errorf("%w: retention %q", ErrMalformed, m.Privacy.Retention)
	}
	if len(m.Labels) > MaxLabels {
		return fmt.Errorf("%w: %d labels, limit %d", ErrMalformed, len(m.Labels), MaxLabels)
	}
	for k, v := range m.Labels {
		if err := checkLabelKey(k); err != nil {
			return err
		}
		if err := checkText(v, MaxLabelValueLen); err != nil {
			return fmt.Errorf("%w: label %q: %v", ErrMalformed, k, err)
		}
	}
	if err := checkTime(m.IssuedAt, "issued_at"); err != nil {
		return err
	}
	if err := checkTime(m.Expires, "expires"); err != nil {
		return err
	}
	if !m.IssuedAt.Before(m.Expires) {
		return fmt.Errorf("%w: expires %v is not after issued_at %v", ErrMalformed, m.Expires, m.IssuedAt)
	}
	return nil
}

func checkCapability(c string) error {
	if c == "" || len(c) > MaxCapabilityLen {
		return fmt.Errorf("%w: capability of %d bytes (1..%d)", ErrMalformed, len(c), MaxCapabilityLen)
	}
	for _, b := range []byte(c) {
		if b <= ' ' || b >= 0x7f || b == '"' || b == '\\' {
			return fmt.Errorf("%w: capability %q: printable ASCII without spaces, quotes or backslashes", ErrMalformed, c)
		}
	}
	return nil
}

func checkLabelKey(k string) error {
	if k == "" || len(k) > MaxLabelKeyLen {
		return fmt.Errorf("%w: label key of %d bytes (1..%d)", ErrMalformed, len(k), MaxLabelKeyLen)
	}
	for _, b := range []byte(k) {
		ok := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			b == '.' || b == '_' || b == '-' || b == '/'
		if !ok {
			return fmt.Errorf("%w: label key %q: letters, digits and . _ - / only", ErrMalformed, k)
		}
	}
	if len(k) >= 5 && k[:5] == "iatp." {
		return fmt.Errorf("%w: label key %q: the iatp. prefix is reserved", ErrMalformed, k)
	}
	return nil
}

// canonical returns the canonical encoding of a valid manifest: JSON with
// the keys of every object in byte order, no insignificant whitespace,
// strings escaped only where JSON requires it (", \ and controls, as
// \b \t \n \f \r or \u00xx), integers only, times in RFC 3339 UTC with
// the fewest fractional digits that are exact, the key in unpadded
// base64url.
func (m Manifest) canonical() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 512)
	b = append(b, `{"agent_id":`...)
	b = appendJSONString(b, m.AgentID)
	b = append(b, `,"capabilities":[`...)
	for i, c := range m.Capabilities {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c)
	}
	b = append(b, `],"expires":`...)
	b = appendJSONString(b, m.Expires.UTC().Format(time.RFC3339Nano))
	b = append(b, `,"issued_at":`...)
	b = appendJSONString(b, m.IssuedAt.UTC().Format(time.RFC3339Nano))
	b = append(b, `,"labels":{`...)
	keys := make([]string, 0, len(m.Labels))
	for k := range m.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m.Labels[k])
	}
	b = append(b, `},"name":`...)
	b = appendJSONString(b, m.Name)
	b = append(b, `,"privacy":{"human_in_loop":`...)
	b = strconv.AppendBool(b, m.Privacy.HumanInLoop)
	b = append(b, `,"retention":`...)
	b = appendJSONString(b, string(m.Privacy.Retention))
	b = append(b, `,"training_consent":`...)
	b = strconv.AppendBool(b, m.Privacy.TrainingConsent)
	b = append(b, `},"public_key":`...)
	b = appendJSONString(b, b64.EncodeToString(m.PublicKey))
	b = append(b, `,"reversibility":{"level":`...)
	b = appendJSONString(b, string(m.Reversibility.Level))
	b = append(b, `,"undo_window_s":`...)
	b = strconv.AppendInt(b, int64(m.Reversibility.UndoWindow/time.Second), 10)
	b = append(b, `},"trust_level":`...)
	b = appendJSONString(b, string(m.TrustLevel))
	b = append(b, `,"version":`...)
	b = appendJSONString(b, m.Version)
	return append(b, '}'), nil
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// SignManifest completes m from id (AgentID, PublicKey, Version when
// empty), sorts and de-duplicates its capabilities, validates it
// ([Manifest.Validate]) and signs it. A zero IssuedAt is an error
// (ErrMalformed), as is a key or id in m that is not id's (ErrKeyMismatch).
func SignManifest(id *Identity, m Manifest) (SignedManifest, error) {
	if id == nil {
		return SignedManifest{}, fmt.Errorf("%w: nil identity", ErrMalformed)
	}
	if m.AgentID != "" && m.AgentID != id.ID() {
		return SignedManifest{}, fmt.Errorf("%w: manifest for %s signed by %s", ErrKeyMismatch, m.AgentID, id.ID())
	}
	if m.PublicKey != nil && !bytes.Equal(m.PublicKey, id.pub) {
		return SignedManifest{}, fmt.Errorf("%w: manifest key is not the signer's", ErrKeyMismatch)
	}
	m.AgentID, m.PublicKey = id.ID(), id.PublicKey()
	if m.Version == "" {
		m.Version = ProtocolVersion
	}
	if len(m.Capabilities) > 0 {
		m.Capabilities = slices.Compact(slices.Sorted(slices.Values(m.Capabilities)))
	} else {
		m.Capabilities = nil
	}
	m.Labels = cloneLabels(m.Labels)
	m.IssuedAt, m.Expires = m.IssuedAt.UTC(), m.Expires.UTC()
	body, err := m.canonical()
	if err != nil {
		return SignedManifest{}, err
	}
	return SignedManifest{Manifest: m, Signature: id.Sign(append([]byte(domainManifest), body...))}, nil
}

func cloneLabels(l map[string]string) map[string]string {
	if len(l) == 0 {
		return nil
	}
	out := make(map[string]string, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}

// Verify checks sm at time now: the manifest's form ([Manifest.Validate],
// ErrMalformed), its key against its id (ErrKeyMismatch), the signature
// (ErrBadSignature), and that now is within IssuedAt (less a minute of
// clock skew) and Expires (ErrExpired).
func (sm SignedManifest) Verify(now time.Time) error {
	body, err := sm.Manifest.canonical()
	if err != nil {
		return err
	}
	if len(sm.Signature) != ed25519.SignatureSize ||
		!ed25519.Verify(sm.Manifest.PublicKey, append([]byte(domainManifest), body...), sm.Signature) {
		return fmt.Errorf("%w: manifest of %s", ErrBadSignature, sm.Manifest.AgentID)
	}
	if now.Before(sm.Manifest.IssuedAt.Add(-manifestClockSkew)) {
		return fmt.Errorf("%w: manifest of %s issued at %v, now %v", ErrExpired, sm.Manifest.AgentID, sm.Manifest.IssuedAt, now.UTC())
	}
	if !now.Before(sm.Manifest.Expires) {
		return fmt.Errorf("%w: manifest of %s expired at %v, now %v", ErrExpired, sm.Manifest.AgentID, sm.Manifest.Expires, now.UTC())
	}
	return nil
}

// Encode returns the canonical encoding of sm:
// {"manifest":<canonical manifest>,"signature":"<base64url>"}. It fails
// (ErrMalformed) when the manifest is not valid or the signature is not
// 64 bytes; it does not verify the signature.
func (sm SignedManifest) Encode() ([]byte, error) {
	body, err := sm.Manifest.canonical()
	if err != nil {
		return nil, err
	}
	if len(sm.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is %d bytes", ErrMalformed, len(sm.Signature))
	}
	b := make([]byte, 0, len(body)+128)
	b = append(b, `{"manifest":`...)
	b = append(b, body...)
	b = append(b, `,"signature":`...)
	b = appendJSONString(b, b64.EncodeToString(sm.Signature))
	return append(b, '}'), nil
}

// MarshalJSON is Encode.
func (sm SignedManifest) MarshalJSON() ([]byte, error) { return sm.Encode() }

// UnmarshalJSON decodes a signed manifest embedded in another JSON
// document. Unlike DecodeManifest it accepts any formatting (an enclosing
// encoder may re-escape it); the fields, bounds and form rules are the
// same. It does not verify the signature.
func (sm *SignedManifest) UnmarshalJSON(data []byte) error {
	out, err := decodeManifest(data, false)
	if err != nil {
		return err
	}
	*sm = out
	return nil
}

type wireManifest struct {
	AgentID       string            `json:"agent_id"`
	Capabilities  []string          `json:"capabilities"`
	Expires       string            `json:"expires"`
	IssuedAt      string            `json:"issued_at"`
	Labels        map[string]string `json:"labels"`
	Name          string            `json:"name"`
	Privacy       wirePrivacy       `json:"privacy"`
	PublicKey     string            `json:"public_key"`
	Reversibility wireReversibility `json:"reversibility"`
	TrustLevel    string            `json:"trust_level"`
	Version       string            `json:"version"`
}

type wirePrivacy struct {
	HumanInLoop     bool   `json:"human_in_loop"`
	Retention       string `json:"retention"`
	TrainingConsent bool   `json:"training_consent"`
}

type wireReversibility struct {
	Level       string `json:"level"`
	UndoWindowS int64  `json:"undo_window_s"`
}

type wireSigned struct {
	Manifest  *wireManifest `json:"manifest"`
	Signature string        `json:"signature"`
}

// DecodeManifest decodes a signed manifest strictly: at most
// MaxManifestSize bytes (else ErrTooLarge), and exactly the canonical
// encoding that Encode produces (so no unknown, missing or duplicate
// fields, no whitespace, no alternative escapes or time forms), with a
// manifest that passes [Manifest.Validate]. Errors wrap ErrMalformed,
// except a key that is not the agent id's (ErrKeyMismatch). It does not
// verify the signature or the validity window: call Verify.
func DecodeManifest(data []byte) (SignedManifest, error) {
	return decodeManifest(data, true)
}

func decodeManifest(data []byte, strict bool) (SignedManifest, error) {
	if len(data) > MaxManifestSize {
		return SignedManifest{}, fmt.Errorf("%w: manifest of %d bytes, limit %d", ErrTooLarge, len(data), MaxManifestSize)
	}
	if !utf8.Valid(data) {
		return SignedManifest{}, fmt.Errorf("%w: manifest is not UTF-8", ErrMalformed)
	}
	var w wireSigned
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return SignedManifest{}, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	if dec.More() {
		return SignedManifest{}, fmt.Errorf("%w: data after the manifest", ErrMalformed)
	}
	if w.Manifest == nil {
		return SignedManifest{}, fmt.Errorf("%w: no manifest", ErrMalformed)
	}
	wm := w.Manifest
	key, err := b64.DecodeString(wm.PublicKey)
	if err != nil {
		return SignedManifest{}, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	sig, err := b64.DecodeString(w.Signature)
	if err != nil {
		return SignedManifest{}, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	issued, err := time.Parse(time.RFC3339Nano, wm.IssuedAt)
	if err != nil {
		return SignedManifest{}, fmt.Errorf("%w: issued_at: %v", ErrMalformed, err)
	}
	expires, err := time.Parse(time.RFC3339Nano, wm.Expires)
	if err != nil {
		return SignedManifest{}, fmt.Errorf("%w: expires: %v", ErrMalformed, err)
	}
	const maxUndoS = int64(MaxUndoWindow / time.Second)
	if wm.Reversibility.UndoWindowS < 0 || wm.Reversibility.UndoWindowS > maxUndoS {
		return SignedManifest{}, fmt.Errorf("%w: undo_window_s %d outside 0..%d", ErrMalformed, wm.Reversibility.UndoWindowS, maxUndoS)
	}
	m := Manifest{
		AgentID:      wm.AgentID,
		Name:         wm.Name,
		PublicKey:    ed25519.PublicKey(key),
		TrustLevel:   TrustLevel(wm.TrustLevel),
		Capabilities: wm.Capabilities,
		Reversibility: Reversibility{
			Level:      ReversibilityLevel(wm.Reversibility.Level),
			UndoWindow: time.Duration(wm.Reversibility.UndoWindowS) * time.Second,
		},
		Privacy: Privacy{
			Retention:       Retention(wm.Privacy.Retention),
			HumanInLoop:     wm.Privacy.HumanInLoop,
			TrainingConsent: wm.Privacy.TrainingConsent,
		},
		Labels:   wm.Labels,
		IssuedAt: issued.UTC(),
		Expires:  expires.UTC(),
		Version:  wm.Version,
	}
	if len(m.Capabilities) == 0 {
		m.Capabilities = nil
	}
	if len(m.Labels) == 0 {
		m.Labels = nil
	}
	sm := SignedManifest{Manifest: m, Signature: sig}
	enc, err := sm.Encode()
	if err != nil {
		return SignedManifest{}, err
	}
	if strict && !bytes.Equal(enc, data) {
		return SignedManifest{}, fmt.Errorf("%w: manifest is not in canonical form", ErrMalformed)
	}
	return sm, nil
}
