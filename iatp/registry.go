package iatp

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxEntries bounds a Registry unless WithMaxEntries says otherwise.
const DefaultMaxEntries = 10_000

// Option configures a Registry.
type Option func(*Registry)

// WithClock sets the clock the Registry reads (time.Now by default); a nil
// clock keeps the default.
func WithClock(now func() time.Time) Option {
	return func(r *Registry) {
		if now != nil {
			r.now = now
		}
	}
}

// WithHalfLife sets the half-life of reputation events (DefaultHalfLife
// by default); d <= 0 keeps the default.
func WithHalfLife(d time.Duration) Option {
	return func(r *Registry) {
		if d > 0 {
			r.halfLife = d
		}
	}
}

// WithMaxEntries bounds the number of peers, revoked ones included
// (DefaultMaxEntries by default); n <= 0 keeps the default. A full
// Registry refuses new peers rather than forget old ones, since forgetting
// a revoked peer would un-revoke it.
func WithMaxEntries(n int) Option {
	return func(r *Registry) {
		if n > 0 {
			r.max = n
		}
	}
}

// Registry is the local source of truth about peers: their verified
// manifests, keys, reputation and revocation. Scores are always computed
// here from the manifest and the events reported locally, never taken
// from what a peer says about itself. A Registry is safe for concurrent
// use. Make one with NewRegistry; the zero value is not usable.
type Registry struct {
	now      func() time.Time
	halfLife time.Duration
	max      int

	mu    sync.RWMutex
	peers map[string]*entry
}

type entry struct {
	m         Manifest
	score     Score // ScoreManifest(m)
	rep       reputation
	revoked   bool
	rotatedTo string
}

// NewRegistry returns an empty Registry.
func NewRegistry(opts ...Option) *Registry {
	r := &Registry{now: time.Now, halfLife: DefaultHalfLife, max: DefaultMaxEntries, peers: map[string]*entry{}}
	for _, o := range opts {
		if o != nil {
			o(r)
		}
	}
	return r
}

// Peer is what a Registry knows of an agent, at the time it was asked.
// The slices and maps are copies the caller may keep.
type Peer struct {
	ID        string
	Name      string
	Key       ed25519.PublicKey
	Manifest  Manifest
	Score     Score
	Revoked   bool   // revoked, or rotated away
	RotatedTo string // the id that replaced this one by a Handover, if any
}

// Labels returns the manifest's labels plus the peer's trust facts under
// reserved keys, for policy (peer.labels): "iatp.level",
// "iatp.retention", "iatp.human_in_loop" and "iatp.training_consent"
// ("true"/"false"), "iatp.reversibility" (the level) and "iatp.verdict"
// ("allow", "warn" or "refuse"; "refuse" for a revoked peer).
func (p Peer) Labels() map[string]string {
	out := make(map[string]string, len(p.Manifest.Labels)+6)
	maps.Copy(out, p.Manifest.Labels)
	out["iatp.level"] = string(p.Manifest.TrustLevel)
	out["iatp.retention"] = string(p.Manifest.Privacy.Retention)
	out["iatp.human_in_loop"] = strconv.FormatBool(p.Manifest.Privacy.HumanInLoop)
	out["iatp.training_consent"] = strconv.FormatBool(p.Manifest.Privacy.TrainingConsent)
	out["iatp.reversibility"] = string(p.Manifest.Reversibility.Level)
	v := p.Score.Verdict
	if p.Revoked {
		v = Refuse
	}
	out["iatp.verdict"] = v.String()
	return out
}

// HasCapabilities reports whether the peer's manifest lists every one of caps.
func (p Peer) HasCapabilities(caps ...string) bool {
	for _, c := range caps {
		if _, ok := slices.BinarySearch(p.Manifest.Capabilities, c); !ok {
			return false
		}
	}
	return true
}

func (r *Registry) peerLocked(id string, e *entry, now time.Time) Peer {
	m := e.m
	m.PublicKey = slices.Clone(m.PublicKey)
	m.Capabilities = slices.Clone(m.Capabilities)
	m.Labels = cloneLabels(m.Labels)
	s := e.score.withReputation(e.rep.valueAt(now, r.halfLife))
	if e.revoked || !now.Before(m.Expires) {
		// As Score fails closed for a revoked peer or an expired
		// manifest, the score a Peer carries does too.
		s.Total, s.Verdict = 0, Refuse
	}
	return Peer{ID: id, Name: m.Name, Key: m.PublicKey, Manifest: m, Score: s, Revoked: e.revoked, RotatedTo: e.rotatedTo}
}

// Register verifies sm at the Registry's clock ([SignedManifest.Verify]:
// ErrMalformed, ErrKeyMismatch, ErrBadSignature, ErrExpired) and records
// the peer. Registering is the host's decision to deal with that agent at
// the trust level its manifest declares; register only manifests from
// sources you trust for that (configuration, a known URL over TLS).
//
// A peer already present keeps its reputation and takes the new manifest
// when that was issued no earlier than the one held (else ErrStale). A
// revoked or rotated id cannot come back (ErrRevoked), and a different key
// for a known id is refused (ErrKeyMismatch; keys change only through
// Rotate). A full Registry refuses new ids (ErrRegistryFull).
func (r *Registry) Register(sm SignedManifest) error {
	now := r.now()
	if err := sm.Verify(now); err != nil {
		return err
	}
	m := sm.Manifest
	m.PublicKey = slices.Clone(m.PublicKey)
	m.Capabilities = slices.Clone(m.Capabilities)
	m.Labels = cloneLabels(m.Labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.peers[m.AgentID]; ok {
		switch {
		case e.revoked:
			return fmt.Errorf("%w: %s", ErrRevoked, m.AgentID)
		case !bytes.Equal(e.m.PublicKey, m.PublicKey):
			return fmt.Errorf("%w: %s is registered with another key (use Rotate)", ErrKeyMismatch, m.AgentID)
		case m.IssuedAt.Before(e.m.IssuedAt):
			return fmt.Errorf("%w: %s: issued %v, registered one %v", ErrStale, m.AgentID, m.IssuedAt, e.m.IssuedAt)
		}
		e.m, e.score = m, ScoreManifest(m)
		return nil
	}
	if len(r.peers) >= r.max {
		return fmt.Errorf("%w: %d peers", ErrRegistryFull, r.max)
	}
	r.peers[m.AgentID] = &entry{m: m, score: ScoreManifest(m)}
	return nil
}

// Lookup returns what the Registry knows of id, with the score at the
// Registry's clock. Revoked peers are included (Peer.Revoked) and so are
// peers whose manifest has expired; the score of either is zero with
// verdict Refuse, as Score, Opener and Handshaker refuse them.
func (r *Registry) Lookup(id string) (Peer, bool) {
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.peers[id]
	if !ok {
		return Peer{}, false
	}
	return r.peerLocked(id, e, now), true
}

// Len returns the number of peers held, revoked ones included.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.peers)
}

// Report records a reputation event for id at the Registry's clock and
// returns the new score. Errors: ErrUnknownPeer, ErrRevoked, and
// ErrMalformed for an event of unknown kind or bad weight.
func (r *Registry) Report(id string, ev Event) (Score, error) {
	d, err := ev.delta()
	if err != nil {
		return Score{}, err
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e, err := r.liveLocked(id)
	if err != nil {
		return Score{}, err
	}
	e.rep = e.rep.add(d, now, r.halfLife)
	return e.score.withReputation(e.rep.valueAt(now, r.halfLife)), nil
}

// Score returns id's score at the Registry's clock. It fails closed, with
// a zero Score (whose verdict is Refuse), for an unknown id
// (ErrUnknownPeer), a revoked or rotated one (ErrRevoked) and one whose
// manifest has expired (ErrExpired).
func (r *Registry) Score(id string) (Score, error) {
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, err := r.liveLocked(id)
	if err != nil {
		return Score{}, err
	}
	if !now.Before(e.m.Expires) {
		return Score{}, fmt.Errorf("%w: manifest of %s expired at %v", ErrExpired, id, e.m.Expires)
	}
	return e.score.withReputation(e.rep.valueAt(now, r.halfLife)), nil
}

func (r *Registry) liveLocked(id string) (*entry, error) {
	e, ok := r.peers[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownPeer, id)
	}
	if e.revoked {
		if e.rotatedTo != "" {
			return nil, fmt.Errorf("%w: %s rotated to %s", ErrRevoked, id, e.rotatedTo)
		}
		return nil, fmt.Errorf("%w: %s", ErrRevoked, id)
	}
	return e, nil
}

// active returns the peer id if it may take part in an exchange now:
// known (ErrUnknownPeer), not revoked (ErrRevoked), its manifest not
// expired (ErrExpired).
func (r *Registry) active(id string, now time.Time) (Peer, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, err := r.liveLocked(id)
	if err != nil {
		return Peer{}, err
	}
	if !now.Before(e.m.Expires) {
		return Peer{}, fmt.Errorf("%w: manifest of %s expired at %v", ErrExpired, id, e.m.Expires)
	}
	return r.peerLocked(id, e, now), nil
}

// key returns the registered key of an active peer (see active) without
// copying the rest.
func (r *Registry) key(id string, now time.Time) (ed25519.PublicKey, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, err := r.liveLocked(id)
	if err != nil {
		return nil, err
	}
	if !now.Before(e.m.Expires) {
		return nil, fmt.Errorf("%w: manifest of %s expired at %v", ErrExpired, id, e.m.Expires)
	}
	return e.m.PublicKey, nil
}

// Revoke marks id revoked for good: every later envelope, handshake and
// score of it is refused with ErrRevoked, and it cannot register again.
// Revoking twice is not an error; an unknown id is (ErrUnknownPeer).
func (r *Registry) Revoke(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.peers[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownPeer, id)
	}
	e.revoked = true
	return nil
}

// Rotate applies a key handover: h must verify ([VerifyHandover]:
// ErrMalformed, ErrKeyMismatch, ErrBadSignature), its old id must be
// registered and live (ErrUnknownPeer, ErrRevoked) with the old key the
// Registry holds (ErrKeyMismatch), and its new id unknown (ErrKeyMismatch
// if it is already registered). The new id takes over the manifest and
// the reputation; the old id is revoked (Peer.RotatedTo names its
// successor), so envelopes signed by the old key are refused from then on.
// The new agent should register a manifest signed by its new key before
// the carried-over one expires.
func (r *Registry) Rotate(h Handover) error {
	if err := VerifyHandover(h); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old, err := r.liveLocked(h.OldID)
	if err != nil {
		return err
	}
	if !bytes.Equal(old.m.PublicKey, h.OldKey) {
		return fmt.Errorf("%w: handover old key is not the one registered for %s", ErrKeyMismatch, h.OldID)
	}
	if _, ok := r.peers[h.NewID]; ok {
		return fmt.Errorf("%w: %s is already registered", ErrKeyMismatch, h.NewID)
	}
	if len(r.peers) >= r.max {
		return fmt.Errorf("%w: %d peers", ErrRegistryFull, r.max)
	}
	m := old.m
	m.AgentID = h.NewID
	m.PublicKey = slices.Clone(h.NewKey)
	r.peers[h.NewID] = &entry{m: m, score: old.score, rep: old.rep}
	old.revoked, old.rotatedTo = true, h.NewID
	return nil
}
