package agentos

import (
	"fmt"
	"strings"
)

// Effect is what a policy decision lets happen. The zero value is Deny, so a
// Decision that was never filled in forbids the action.
type Effect uint8

const (
	// Deny forbids the action.
	Deny Effect = iota
	// Allow permits the action.
	Allow
	// Approve means the action needs a human (or an approver function) to
	// say yes first; without one it is denied.
	Approve
	// Audit permits the action and flags it for review.
	Audit
)

var effectNames = [...]string{Deny: "deny", Allow: "allow", Approve: "approve", Audit: "audit"}

// String returns the lower-case name used in policy documents.
func (e Effect) String() string {
	if int(e) < len(effectNames) {
		return effectNames[e]
	}
	return fmt.Sprintf("effect(%d)", uint8(e))
}

// Permits reports whether the effect lets the action run without further
// approval (Allow or Audit).
func (e Effect) Permits() bool { return e == Allow || e == Audit }

// Overrides reports whether e takes precedence over o when both apply — a
// deny rule and an allow rule matching one action, or two documents with
// different default effects: deny over approve over audit over allow, the
// most restrictive wins. An effect with no name ranks as deny.
func (e Effect) Overrides(o Effect) bool { return e.rank() > o.rank() }

func (e Effect) rank() int {
	switch e {
	case Allow:
		return 0
	case Audit:
		return 1
	case Approve:
		return 2
	}
	return 3
}

// ParseEffect parses a name as written in policy documents ("allow",
// "deny", "approve", "audit"). Matching is exact; anything else is an error
// wrapping ErrInvalid.
func ParseEffect(s string) (Effect, error) {
	for i, n := range effectNames {
		if s == n {
			return Effect(i), nil
		}
	}
	return Deny, fmt.Errorf("%w: unknown effect %q (want allow, deny, approve or audit)", ErrInvalid, s)
}

// MarshalText implements encoding.TextMarshaler.
func (e Effect) MarshalText() ([]byte, error) {
	if int(e) >= len(effectNames) {
		return nil, fmt.Errorf("%w: effect(%d)", ErrInvalid, uint8(e))
	}
	return []byte(e.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *Effect) UnmarshalText(b []byte) error {
	v, err := ParseEffect(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// Severity ranks how serious a rule's match is. The zero value is Info.
type Severity uint8

const (
	SeverityInfo Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// String returns the lower-case name used in policy documents.
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// ParseSeverity parses "info", "low", "medium", "high" or "critical"
// (exact match); anything else is an error wrapping ErrInvalid.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if s == n {
			return Severity(i), nil
		}
	}
	return SeverityInfo, fmt.Errorf("%w: unknown severity %q (want info, low, medium, high or critical)", ErrInvalid, s)
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) {
	if int(s) >= len(severityNames) {
		return nil, fmt.Errorf("%w: severity(%d)", ErrInvalid, uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Decision is the verdict of policy on one Action. A denial is a value, not
// an error. The zero Decision denies.
type Decision struct {
	Effect        Effect
	Rule          string   // the deciding rule ("" when the default effect applied)
	Message       string   // human explanation from the rule
	Severity      Severity // of the deciding rule
	PolicyVersion string   // version of the policy set that decided
	// Refuse is true when the deciding deny rule says onDeny: refuse: the
	// syscall fails but the agent is not killed. False (the zero value) means
	// the kernel's default, kill.
	Refuse bool
	// Errors lists evaluation errors met while deciding (each names its
	// rule). An erroring deny rule counts as matched; an erroring allow rule
	// does not.
	Errors []string
	// Shadow is the decision of a shadow (candidate) policy evaluated beside
	// the active one, when one is configured. It is never enforced.
	Shadow *Decision
}

// Permits reports whether the decision lets the action run without approval.
func (d Decision) Permits() bool { return d.Effect.Permits() }

// String renders the decision for logs.
func (d Decision) String() string {
	var b strings.Builder
	b.WriteString(d.Effect.String())
	if d.Rule != "" {
		fmt.Fprintf(&b, " by %s", d.Rule)
	} else {
		b.WriteString(" by default")
	}
	if d.Message != "" {
		fmt.Fprintf(&b, ": %s", d.Message)
	}
	if d.PolicyVersion != "" {
		fmt.Fprintf(&b, " (policy %s)", d.PolicyVersion)
	}
	return b.String()
}
