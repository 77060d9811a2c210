package iatp

import (
	"fmt"
	"math"
	"time"

	"github.com/agent-os/agentos"
)

// Verdict is what a trust score means for an interaction. The zero value
// is Refuse, so an unset verdict fails closed.
type Verdict int

// Verdicts, from the total score: at least 7 Allow, at least 3 Warn (the
// interaction needs an override), below 3 Refuse.
const (
	Refuse Verdict = iota
	Warn
	Allow
)

// Score thresholds.
const (
	AllowAt = 7.0
	WarnAt  = 3.0
)

// String returns "refuse", "warn" or "allow" ("refuse" for an unknown value).
func (v Verdict) String() string {
	switch v {
	case Allow:
		return "allow"
	case Warn:
		return "warn"
	}
	return "refuse"
}

// MarshalText encodes v as its String; an unknown value is an error.
func (v Verdict) MarshalText() ([]byte, error) {
	if v != Allow && v != Warn && v != Refuse {
		return nil, fmt.Errorf("%w: verdict %d", agentos.ErrInvalid, int(v))
	}
	return []byte(v.String()), nil
}

// UnmarshalText parses "allow", "warn" or "refuse" exactly.
func (v *Verdict) UnmarshalText(b []byte) error {
	switch string(b) {
	case "allow":
		*v = Allow
	case "warn":
		*v = Warn
	case "refuse":
		*v = Refuse
	default:
		return fmt.Errorf("%w: verdict %q", agentos.ErrInvalid, b)
	}
	return nil
}

// VerdictOf maps a total score to its verdict. NaN refuses.
func VerdictOf(total float64) Verdict {
	switch {
	case total >= AllowAt:
		return Allow
	case total >= WarnAt:
		return Warn
	}
	return Refuse
}

// Score is a peer's trust. Base is its level's base score; Manifest the
// base adjusted by the manifest's promises and clamped to 0..10;
// Reputation the decayed sum of reported events; Total is Manifest plus
// Reputation clamped to 0..10, and Verdict is VerdictOf(Total).
type Score struct {
	Base, Manifest, Reputation, Total float64
	Verdict                           Verdict
}

// BaseScore returns the base score of a trust level (0 for an invalid one).
func BaseScore(l TrustLevel) float64 {
	switch l {
	case VerifiedPartner:
		return 10
	case Trusted:
		return 7
	case Standard:
		return 5
	case Unknown:
		return 2
	}
	return 0
}

// ScoreManifest scores a manifest as the IATP specification does: the
// base of its trust level, +2 when it is reversible (level full or
// partial), +1 for ephemeral retention, -1 for permanent retention, -2
// when humans are in the loop, -1 with training consent; clamped to
// 0..10. Reputation is 0, so Total is the manifest score.
func ScoreManifest(m Manifest) Score {
	base := BaseScore(m.TrustLevel)
	s := base
	if m.Reversibility.Level == ReversibleFull || m.Reversibility.Level == ReversiblePartial {
		s += 2
	}
	switch m.Privacy.Retention {
	case RetentionEphemeral:
		s++
	case RetentionPermanent:
		s--
	}
	if m.Privacy.HumanInLoop {
		s -= 2
	}
	if m.Privacy.TrainingConsent {
		s--
	}
	s = clamp(s, 0, 10)
	return Score{Base: base, Manifest: s, Total: s, Verdict: VerdictOf(s)}
}

// withReputation returns s with a reputation adjustment applied.
func (s Score) withReputation(rep float64) Score {
	s.Reputation = rep
	s.Total = clamp(s.Manifest+rep, 0, 10)
	s.Verdict = VerdictOf(s.Total)
	return s
}

func clamp(x, lo, hi float64) float64 {
	if math.IsNaN(x) {
		return lo
	}
	return math.Min(hi, math.Max(lo, x))
}

// EventKind is the kind of a reputation event.
type EventKind int

// Event kinds and the reputation each moves by at weight 1.
const (
	Success   EventKind = iota + 1 // +0.1: an interaction that went as promised
	Failure                        // -0.5: an interaction that failed (error, timeout)
	Violation                      // -2: the peer broke policy or its manifest's promises
)

// Reputation bounds: the adjustment a Registry keeps stays within
// [MinReputation, MaxReputation], so good behaviour can lift a score by at
// most 2 while misbehaviour can cancel it entirely.
const (
	MinReputation  = -10.0
	MaxReputation  = 2.0
	MaxEventWeight = 100.0
	// DefaultHalfLife is how long a reputation event takes to count half.
	DefaultHalfLife = 24 * time.Hour
)

// String returns "success", "failure" or "violation".
func (k EventKind) String() string {
	switch k {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Violation:
		return "violation"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a reputation event. Weight scales its effect; zero means 1.
type Event struct {
	Kind   EventKind
	Weight float64
}

// delta returns the reputation change of e, or an error (ErrMalformed)
// for an unknown kind or a weight that is negative, not finite or over
// MaxEventWeight.
func (e Event) delta() (float64, error) {
	w := e.Weight
	if w == 0 {
		w = 1
	}
	if math.IsNaN(w) || w < 0 || w > MaxEventWeight {
		return 0, fmt.Errorf("%w: event weight %v: want 0..%v", ErrMalformed, e.Weight, MaxEventWeight)
	}
	switch e.Kind {
	case Success:
		return 0.1 * w, nil
	case Failure:
		return -0.5 * w, nil
	case Violation:
		return -2 * w, nil
	}
	return 0, fmt.Errorf("%w: event kind %d", ErrMalformed, int(e.Kind))
}

// reputation is a sum of events decaying exponentially: the value v held
// at time at is worth v * 2^(-(t-at)/halfLife) at time t. Adding events to
// one running value is exact because decay is linear; the value is
// clamped to [MinReputation, MaxReputation] after each event.
type reputation struct {
	v  float64
	at time.Time
}

func (r reputation) valueAt(now time.Time, halfLife time.Duration) float64 {
	if r.v == 0 {
		return 0
	}
	age := now.Sub(r.at)
	if age <= 0 { // a clock that went back does not amplify
		return r.v
	}
	return r.v * math.Exp2(-float64(age)/float64(halfLife))
}

func (r reputation) add(d float64, now time.Time, halfLife time.Duration) reputation {
	v := r.valueAt(now, halfLife)
	at := now
	if now.Before(r.at) {
		at = r.at
	}
	return reputation{v: clamp(v+d, MinReputation, MaxReputation), at: at}
}
