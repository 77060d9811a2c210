package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/policy"
)

// AgentOS decides with the agentos policy engine over the YAML rendering of
// a rule table. It is safe for concurrent use.
type AgentOS struct {
	eng *policy.Engine
}

var _ Decider = (*AgentOS)(nil)

// NewAgentOS parses and compiles the YAML rendering of rules.
func NewAgentOS(rules []Rule) (*AgentOS, error) {
	doc, err := policy.Parse("bench.yaml", PolicyYAML("bench", rules))
	if err != nil {
		return nil, fmt.Errorf("bench: parse policy: %w", err)
	}
	eng, err := policy.NewEngine([]*policy.Document{doc})
	if err != nil {
		return nil, fmt.Errorf("bench: compile policy: %w", err)
	}
	return &AgentOS{eng: eng}, nil
}

// Engine returns the underlying engine.
func (a *AgentOS) Engine() *policy.Engine { return a.eng }

// PolicyInput converts in to the engine's input type (a field-by-field
// copy: no conversion of the action is needed).
func PolicyInput(in Input) policy.Input {
	return policy.Input{
		Action: in.Action,
		Agent:  policy.Subject{ID: in.Agent.ID, Role: in.Agent.Role, Trust: in.Agent.Trust, Labels: in.Agent.Labels},
		Now:    in.Now,
	}
}

// Decide returns the effect of the engine's decision on in. A decision
// that recorded rule evaluation errors (which the engine resolves against
// the action: an erroring deny rule matches) is returned with an error too,
// as [Cedar.Decide] does, so that such a difference cannot pass unseen.
func (a *AgentOS) Decide(ctx context.Context, in Input) (agentos.Effect, error) {
	d, err := a.eng.Decide(ctx, PolicyInput(in))
	if err != nil {
		return d.Effect, err
	}
	if len(d.Errors) > 0 {
		return d.Effect, fmt.Errorf("bench: agentos evaluation errors: %s", strings.Join(d.Errors, "; "))
	}
	return d.Effect, nil
}
