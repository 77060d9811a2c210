package bench

import (
	"regexp"
	"strings"

	"github.com/agent-os/agentos"
)

// reference evaluates a rule table directly in Go: the oracle the three
// engines are compared with. It also says which rules matched, so that a
// disagreement names its rule.
type reference struct {
	rules []Rule
	re    []*regexp.Regexp // per rule; nil unless KindDenyRegex
}

func newReference(rules []Rule) *reference {
	r := &reference{rules: rules, re: make([]*regexp.Regexp, len(rules))}
	for i, rule := range rules {
		if rule.Kind == KindDenyRegex {
			r.re[i] = regexp.MustCompile(rule.Pattern)
		}
	}
	return r
}

func (ref *reference) matches(i int, in Input) bool {
	r := ref.rules[i]
	a := in.Action
	if a.Tool != r.Tool {
		return false
	}
	arg, hasArg := a.Args[r.Arg]
	switch r.Kind {
	case KindAllowRole:
		return a.Op == agentos.OpExec && contains(r.Roles, in.Agent.Role)
	case KindDenyEquals:
		return hasArg && arg == r.Value
	case KindApproveAbove:
		n, ok := arg.(int)
		return hasArg && ok && n > r.Threshold
	case KindAuditAbove:
		n, ok := arg.(int)
		return a.Op == agentos.OpExec && contains(r.Roles, in.Agent.Role) && hasArg && ok && n > r.Threshold
	case KindDenyPrefix:
		s, ok := arg.(string)
		return hasArg && ok && strings.HasPrefix(s, r.Prefix)
	case KindDenyRegex:
		s, ok := arg.(string)
		return hasArg && ok && ref.re[i].MatchString(s)
	case KindDenyTrustBelow:
		return in.Agent.Trust < r.Trust
	}
	panic("unknown rule kind")
}

// decide combines deny-overrides: any deny, then approve, then audit (an
// audit rule permits and flags), then allow, else deny. It returns the effect and the
// names of the matching rules.
func (ref *reference) decide(in Input) (agentos.Effect, []string) {
	var matched []string
	got := map[agentos.Effect]bool{}
	for i, r := range ref.rules {
		if ref.matches(i, in) {
			matched = append(matched, r.Name)
			got[r.Effect] = true
		}
	}
	switch {
	case got[agentos.Deny]:
		return agentos.Deny, matched
	case got[agentos.Approve]:
		return agentos.Approve, matched
	case got[agentos.Audit]:
		return agentos.Audit, matched
	case got[agentos.Allow]:
		return agentos.Allow, matched
	}
	return agentos.Deny, matched
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
