package scak

import (
	"fmt"
	"path"
	"strings"

	"github.com/agent-os/agentos"
)

// Priority says when a failure is to be corrected.
type Priority uint8

const (
	// FixLater queues the failure for the next batch of corrections.
	FixLater Priority = iota
	// FixNow corrects the failure before the agent's next run.
	FixNow
)

// String returns "fix-later" or "fix-now".
func (p Priority) String() string {
	switch p {
	case FixLater:
		return "fix-later"
	case FixNow:
		return "fix-now"
	}
	return fmt.Sprintf("priority(%d)", uint8(p))
}

// Effort is how much work the user asked for.
type Effort uint8

// The efforts a request may carry; the zero value is EffortUnknown.
const (
	EffortUnknown Effort = iota
	EffortLow
	EffortMedium
	EffortHigh
)

// Case is what triage decides about: a failure and what is known of the
// request it failed.
type Case struct {
	Failure Failure
	// Reasoning is true when the agent's answer carried a chain of thought
	// (a plan it reasoned out before acting).
	Reasoning bool
	// Effort is the effort the request asked for.
	Effort Effort
	// User holds the labels of the user the agent served (see
	// TriageConfig.VIPLabel).
	User map[string]string
	// Severity is the severity of the policy rule of a denial
	// (Failure.Kind == KindDenied).
	Severity agentos.Severity
}

// TriageConfig configures a Triage. The zero value means the defaults.
type TriageConfig struct {
	// CriticalTools are glob patterns (path.Match syntax, "*" within a
	// dot-separated name too) of the tools whose failures are fixed now.
	// nil means DefaultCriticalTools; an empty non-nil slice names none.
	CriticalTools []string
	// VIPLabel and VIPValue name the user label that marks a VIP:
	// User[VIPLabel] == VIPValue. Empty means "tier" and "vip".
	VIPLabel, VIPValue string
	// MinSeverity is the lowest severity of a denial that is fixed now;
	// zero means SeverityCritical.
	MinSeverity agentos.Severity
}

// DefaultCriticalTools are the tools whose failures triage fixes now
// unless TriageConfig.CriticalTools says otherwise: payments, deletions,
// dropped tables and SQL run from text.
var DefaultCriticalTools = []string{
	"payments.*", "payment.*", "*.delete", "delete", "*.delete_*",
	"drop_table", "*.drop_table", "execute_sql", "*.execute_sql",
}

// MaxCriticalTools bounds TriageConfig.CriticalTools.
const MaxCriticalTools = 256

// TriageRule is one rule of a Triage: a name, what it means, and the
// priority it gives to the cases it matches.
type TriageRule struct {
	Name        string
	Description string
	Priority    Priority
	match       func(*Case) bool
}

// Names of the triage rules, in the order they are tried.
const (
	RuleCriticalTool     = "critical-tool"
	RuleReasonedFailure  = "reasoned-failed-action"
	RuleCriticalDenial   = "critical-denial"
	RuleVIPUser          = "vip-user"
	RuleHighEffort       = "high-effort"
	RuleDefaultFixLater  = "default"
	defaultVIPLabel      = "tier"
	defaultVIPValue      = "vip"
	maxTriagePatternSize = 256
)

// TriageDecision is triage's answer: the priority and the rule that gave
// it.
type TriageDecision struct {
	Priority Priority
	Rule     string
	Reason   string
}

// Triage decides whether a failure is fixed now or later by rules that
// are visible ([Triage.Rules]) and tried in order; the first that matches
// decides, and a case no rule matches is fixed later. A *Triage is
// immutable and safe for concurrent use.
type Triage struct {
	rules    []TriageRule
	critical []string
}

// NewTriage builds a Triage. Errors wrap agentos.ErrInvalid: a malformed
// or oversized tool pattern, too many patterns, an unknown severity.
func NewTriage(cfg TriageConfig) (*Triage, error) {
	patterns := cfg.CriticalTools
	if patterns == nil {
		patterns = DefaultCriticalTools
	}
	if len(patterns) > MaxCriticalTools {
		return nil, fmt.Errorf("scak: %w: %d critical tool patterns, over %d", agentos.ErrInvalid, len(patterns), MaxCriticalTools)
	}
	for _, p := range patterns {
		if p == "" || len(p) > maxTriagePatternSize {
			return nil, fmt.Errorf("scak: %w: critical tool pattern %q is empty or too long", agentos.ErrInvalid, p)
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("scak: %w: critical tool pattern %q: %v", agentos.ErrInvalid, p, err)
		}
	}
	label, value := cfg.VIPLabel, cfg.VIPValue
	if label == "" {
		label = defaultVIPLabel
	}
	if value == "" {
		value = defaultVIPValue
	}
	minSev := cfg.MinSeverity
	if minSev == agentos.SeverityInfo {
		minSev = agentos.SeverityCritical
	}
	if minSev > agentos.SeverityCritical {
		return nil, fmt.Errorf("scak: %w: unknown severity %d", agentos.ErrInvalid, minSev)
	}
	t := &Triage{critical: append([]string(nil), patterns...)}
	t.rules = []TriageRule{
		{
			Name:        RuleCriticalTool,
			Description: "the failed call used a critical tool (" + strings.Join(t.critical, ", ") + ")",
			Priority:    FixNow,
			match:       func(c *Case) bool { return t.criticalTool(c.Failure.Tool) },
		},
		{
			Name:        RuleReasonedFailure,
			Description: "the agent reasoned out a plan (chain of thought) and an action of it failed (tool error or denial)",
			Priority:    FixNow,
			match: func(c *Case) bool {
				return c.Reasoning && (c.Failure.Kind == KindToolError || c.Failure.Kind == KindDenied)
			},
		},
		{
			Name:        RuleCriticalDenial,
			Description: "policy denied the action by a rule of severity " + minSev.String() + " or above",
			Priority:    FixNow,
			match:       func(c *Case) bool { return c.Failure.Kind == KindDenied && c.Severity >= minSev },
		},
		{
			Name:        RuleVIPUser,
			Description: fmt.Sprintf("the user is a VIP (label %s=%s)", label, value),
			Priority:    FixNow,
			match:       func(c *Case) bool { v, ok := c.User[label]; return ok && v == value },
		},
		{
			Name:        RuleHighEffort,
			Description: "the user asked for high effort",
			Priority:    FixNow,
			match:       func(c *Case) bool { return c.Effort == EffortHigh },
		},
		{
			Name:        RuleDefaultFixLater,
			Description: "no other rule matched: the failure waits for the next batch",
			Priority:    FixLater,
			match:       func(*Case) bool { return true },
		},
	}
	return t, nil
}

// criticalTool reports whether tool matches a critical pattern, as a whole
// name ("execute_sql" does not match "db.execute_sql"; "*.execute_sql"
// does).
func (t *Triage) criticalTool(tool string) bool {
	if tool == "" {
		return false
	}
	for _, p := range t.critical {
		if ok, _ := path.Match(p, tool); ok {
			return true
		}
	}
	return false
}

// Rules returns the rules in the order they are tried, the catch-all last.
func (t *Triage) Rules() []TriageRule {
	return append([]TriageRule(nil), t.rules...)
}

// Decide returns the priority of c and the rule that gave it.
func (t *Triage) Decide(c Case) TriageDecision {
	for i := range t.rules {
		r := &t.rules[i]
		if r.match(&c) {
			return TriageDecision{Priority: r.Priority, Rule: r.Name, Reason: r.Description}
		}
	}
	// Unreachable: the last rule matches everything.
	return TriageDecision{Priority: FixLater, Rule: RuleDefaultFixLater}
}
