package mute

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Facts is the context a plan is validated in: fact name to value. A node
// of kind context, resource or constraint is present when Facts holds its
// id (any value); a precondition holds when Facts maps its Fact to its Want.
type Facts map[string]string

// ViolationKind says why a plan is not valid.
type ViolationKind string

// The kinds of violation.
const (
	ViolationMissingRequirement ViolationKind = "missing_requirement" // a requires, consumes or depends_on not satisfied
	ViolationConflict           ViolationKind = "conflict"            // a conflicts_with edge in force
	ViolationPrecondition       ViolationKind = "failed_precondition" // a precondition's fact has another value
	ViolationPolicyDenial       ViolationKind = "policy_denial"       // policy would not permit a step (Rule names the rule)
	ViolationUnknownNode        ViolationKind = "unknown_node"        // a step's action is not an action of the graph
	ViolationCycle              ViolationKind = "cycle"               // the steps depend on each other in a cycle
	ViolationMalformed          ViolationKind = "malformed"           // the plan is not well formed otherwise
	ViolationOutOfScope         ViolationKind = "out_of_scope"        // no action of the graph produces the goal
	ViolationTruncated          ViolationKind = "truncated"           // more than MaxViolations; the rest are not listed
)

// MaxViolations is the most violations Validate lists; past it the last one
// is [ViolationTruncated].
const MaxViolations = 1000

// Violation is one reason a plan is not valid.
type Violation struct {
	Kind ViolationKind
	// Step is the id of the step concerned; empty for the whole plan.
	Step string
	// Node is the graph node concerned (the requirement, the conflicting
	// node, the unknown action), when there is one.
	Node string
	// Rule is the policy rule that denied the step (ViolationPolicyDenial).
	Rule    string
	Message string
}

func (v Violation) String() string {
	var b strings.Builder
	b.WriteString(string(v.Kind))
	if v.Step != "" {
		fmt.Fprintf(&b, " step=%s", v.Step)
	}
	if v.Node != "" {
		fmt.Fprintf(&b, " node=%s", v.Node)
	}
	if v.Rule != "" {
		fmt.Fprintf(&b, " rule=%s", v.Rule)
	}
	if v.Message != "" {
		b.WriteString(": " + v.Message)
	}
	return b.String()
}

// actionName is the tool name of a step action "name@constraint".
func actionName(a string) string {
	if i := strings.IndexByte(a, '@'); i >= 0 {
		return a[:i]
	}
	return a
}

// Validate checks plan against graph in the context facts and returns every
// violation found, or nil when the plan is valid as far as the graph can
// tell (the policy dry run is [DryRun]; [Session.Validate] runs both).
//
// Steps are taken in execution order ([Plan.Order]); each step sees the
// facts plus what earlier steps produced, less what they consumed. For
// each step: its action must be an action node; each requires edge must
// reach a present node, or a precondition that holds (preconditions are
// read from facts only: what steps produce does not refresh a stale
// fact); each consumes edge a
// present node, which is then gone; each depends_on edge an action an
// earlier step ran; no conflicts_with edge may reach another step's action
// or a present node. The goal, when set, must be produced by some action
// of the graph (else [ViolationOutOfScope]) and by some step of the plan.
//
// Validate stops early, returning what it found so far, when ctx ends.
func Validate(ctx context.Context, plan *Plan, graph *Graph, facts Facts) []Violation {
	vs := &violations{}
	order, err := plan.Order()
	if err != nil {
		kind := ViolationMalformed
		if errors.Is(err, ErrCycle) {
			kind = ViolationCycle
		}
		vs.add(Violation{Kind: kind, Message: err.Error()})
		return vs.list
	}
	if graph == nil {
		graph = NewGraph()
	}
	if plan.Goal != "" {
		if _, err := graph.ActionsFor(plan.Goal); err != nil {
			vs.add(Violation{Kind: ViolationOutOfScope, Node: plan.Goal, Message: err.Error()})
		}
	}
	avail := make(map[string]bool, len(facts))
	for k := range facts {
		avail[k] = true
	}
	inPlan := make(map[string]string, len(plan.Steps)) // action -> first step id
	for _, s := range plan.Steps {
		if _, ok := inPlan[actionName(s.Action)]; !ok {
			inPlan[actionName(s.Action)] = s.ID
		}
	}
	ran := make(map[string]bool, len(plan.Steps))
	goalMet := plan.Goal == ""
	for n, i := range order {
		if n%256 == 0 && ctx.Err() != nil {
			vs.add(Violation{Kind: ViolationTruncated, Message: fmt.Sprintf("validation stopped: %v", context.Cause(ctx))})
			return vs.list
		}
		s := plan.Steps[i]
		name := actionName(s.Action)
		node := graph.nodes[name]
		if node == nil || node.Kind != NodeAction {
			vs.add(Violation{Kind: ViolationUnknownNode, Step: s.ID, Node: name, Message: "the graph has no action " + quote(name)})
			continue
		}
		for _, e := range graph.out[name] {
			to := graph.nodes[e.To]
			switch e.Kind {
			case EdgeRequires:
				if to.Kind == NodePrecondition {
					got, ok := facts[to.Fact]
					if !ok || got != to.Want {
						vs.add(Violation{Kind: ViolationPrecondition, Step: s.ID, Node: to.ID,
							Message: fmt.Sprintf("fact %s is %s, want %s", quote(to.Fact), factValue(got, ok), quote(to.Want))})
					}
				} else if !avail[e.To] {
					vs.add(Violation{Kind: ViolationMissingRequirement, Step: s.ID, Node: e.To,
						Message: fmt.Sprintf("%s requires %s %s, which is not present", name, to.Kind, quote(e.To))})
				}
			case EdgeConsumes:
				if !avail[e.To] {
					vs.add(Violation{Kind: ViolationMissingRequirement, Step: s.ID, Node: e.To,
						Message: fmt.Sprintf("%s consumes %s %s, which is not present", name, to.Kind, quote(e.To))})
				}
			case EdgeDependsOn:
				if !ran[e.To] {
					vs.add(Violation{Kind: ViolationMissingRequirement, Step: s.ID, Node: e.To,
						Message: fmt.Sprintf("%s depends on action %s, which no earlier step runs", name, quote(e.To))})
				}
			case EdgeConflictsWith:
				if to.Kind == NodeAction {
					if other, ok := inPlan[e.To]; ok && other != s.ID {
						vs.add(Violation{Kind: ViolationConflict, Step: s.ID, Node: e.To,
							Message: fmt.Sprintf("%s conflicts with %s (step %s)", name, quote(e.To), quote(other))})
					}
				} else if avail[e.To] {
					vs.add(Violation{Kind: ViolationConflict, Step: s.ID, Node: e.To,
						Message: fmt.Sprintf("%s conflicts with %s %s, which is present", name, to.Kind, quote(e.To))})
				}
			}
		}
		for _, e := range graph.out[name] {
			switch e.Kind {
			case EdgeConsumes:
				delete(avail, e.To)
			case EdgeProduces:
				avail[e.To] = true
				if e.To == plan.Goal {
					goalMet = true
				}
			}
		}
		ran[name] = true
	}
	if !goalMet {
		vs.add(Violation{Kind: ViolationMissingRequirement, Node: plan.Goal, Message: "no step produces the goal " + quote(plan.Goal)})
	}
	return vs.list
}

// PolicyViolations turns the dry run's refusals into violations.
func PolicyViolations(ds []StepDecision) []Violation {
	vs := &violations{}
	for _, d := range ds {
		if d.Permitted {
			continue
		}
		vs.add(Violation{Kind: ViolationPolicyDenial, Step: d.StepID, Node: d.Action.Tool, Rule: d.Decision.Rule, Message: d.Reason})
	}
	return vs.list
}

type violations struct{ list []Violation }

func (vs *violations) add(v Violation) {
	switch {
	case len(vs.list) < MaxViolations-1:
		vs.list = append(vs.list, v)
	case len(vs.list) == MaxViolations-1:
		vs.list = append(vs.list, Violation{Kind: ViolationTruncated, Message: fmt.Sprintf("more than %d violations", MaxViolations-1)})
	}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func factValue(v string, ok bool) string {
	if !ok {
		return "unset"
	}
	return quote(v)
}
