package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/cedar-policy/cedar-go"

	"github.com/agent-os/agentos"
)

// Cedar decides with cedar-go over the Cedar-expressible part of a rule
// table (see [Rule.Cedar] for the mapping and [CedarSubset] for what is left
// out). It is safe for concurrent use.
type Cedar struct {
	ps      *cedar.PolicySet
	effects map[cedar.PolicyID]agentos.Effect
	left    []string
}

var _ Decider = (*Cedar)(nil)

// Entity types of the Cedar rendering.
const (
	cedarAgent  cedar.EntityType = "Agent"
	cedarTool   cedar.EntityType = "Tool"
	cedarAction cedar.EntityType = "Action"
)

// NewCedar parses the Cedar rendering of rules.
func NewCedar(rules []Rule) (*Cedar, error) {
	src, left := PolicyCedar(rules)
	list, err := cedar.NewPolicyListFromBytes("bench.cedar", []byte(src))
	if err != nil {
		return nil, fmt.Errorf("bench: parse cedar: %w", err)
	}
	c := &Cedar{ps: cedar.NewPolicySet(), effects: make(map[cedar.PolicyID]agentos.Effect, len(list)), left: left}
	for _, p := range list {
		ann := p.Annotations()
		id := cedar.PolicyID(ann["id"])
		eff, err := agentos.ParseEffect(string(ann["effect"]))
		if err != nil {
			return nil, fmt.Errorf("bench: cedar policy %s: %w", id, err)
		}
		if id == "" || !c.ps.Add(id, p) {
			return nil, fmt.Errorf("bench: cedar policy %q: missing or duplicate @id", id)
		}
		c.effects[id] = eff
	}
	return c, nil
}

// Len is the number of Cedar policies.
func (c *Cedar) Len() int { return len(c.effects) }

// LeftOut names the rules that have no Cedar rendering.
func (c *Cedar) LeftOut() []string { return c.left }

// agentEntity serves the one entity a request needs: its principal.
type agentEntity cedar.Entity

func (e *agentEntity) Get(uid cedar.EntityUID) (cedar.Entity, bool) {
	if uid == e.UID {
		return cedar.Entity(*e), true
	}
	return cedar.Entity{}, false
}

// CedarRequest converts in to a Cedar request and the principal entity:
// Agent::"id" with role, trust and labels; Action::"op"; Tool::"tool"; the
// context holds args, path, target, payloadType, meta and at.
func CedarRequest(in Input) (cedar.Request, cedar.EntityGetter, error) {
	a := in.Action
	args, err := cedarRecord(a.Args)
	if err != nil {
		return cedar.Request{}, nil, err
	}
	trust, err := cedar.NewDecimal(int64(math.Round(in.Agent.Trust*1e4)), -4)
	if err != nil {
		return cedar.Request{}, nil, fmt.Errorf("bench: trust %v: %w", in.Agent.Trust, err)
	}
	principal := cedar.NewEntityUID(cedarAgent, cedar.String(in.Agent.ID))
	ent := &agentEntity{
		UID: principal,
		Attributes: cedar.NewRecord(cedar.RecordMap{
			"role":   cedar.String(in.Agent.Role),
			"trust":  trust,
			"labels": stringRecord(in.Agent.Labels),
		}),
	}
	req := cedar.Request{
		Principal: principal,
		Action:    cedar.NewEntityUID(cedarAction, cedar.String(a.Op)),
		Resource:  cedar.NewEntityUID(cedarTool, cedar.String(a.Tool)),
		Context: cedar.NewRecord(cedar.RecordMap{
			"args":        args,
			"path":        cedar.String(a.Path),
			"target":      cedar.String(a.Target),
			"payloadType": cedar.String(a.PayloadType),
			"meta":        stringRecord(a.Meta),
			"at":          cedar.NewDatetime(a.At),
		}),
	}
	return req, ent, nil
}

// Decide converts in with [CedarRequest] and authorizes it.
func (c *Cedar) Decide(_ context.Context, in Input) (agentos.Effect, error) {
	req, ents, err := CedarRequest(in)
	if err != nil {
		return agentos.Deny, err
	}
	return c.DecideRequest(req, ents)
}

// DecideRequest authorizes a request already converted: the cost of
// evaluation alone. Cedar answers allow or deny; the @effect annotations of
// the policies that decided tell deny from approve and allow from audit.
// A policy that fails to evaluate is reported as an error (Cedar itself
// skips it), so that a difference from agentos, which counts an erroring
// deny rule as matched, cannot pass unseen.
func (c *Cedar) DecideRequest(req cedar.Request, ents cedar.EntityGetter) (agentos.Effect, error) {
	dec, diag := c.ps.IsAuthorized(ents, req)
	if len(diag.Errors) > 0 {
		msgs := make([]string, len(diag.Errors))
		for i, e := range diag.Errors {
			msgs[i] = string(e.PolicyID) + ": " + e.Message
		}
		return agentos.Deny, errors.New("bench: cedar evaluation errors: " + strings.Join(msgs, "; "))
	}
	if dec == cedar.Allow {
		for _, r := range diag.Reasons {
			if c.effects[r.PolicyID] == agentos.Audit {
				return agentos.Audit, nil
			}
		}
		return agentos.Allow, nil
	}
	eff := agentos.Deny
	if len(diag.Reasons) > 0 {
		eff = agentos.Approve
		for _, r := range diag.Reasons {
			if c.effects[r.PolicyID] == agentos.Deny {
				return agentos.Deny, nil
			}
		}
	}
	return eff, nil
}

func stringRecord(m map[string]string) cedar.Record {
	rm := make(cedar.RecordMap, len(m))
	for k, v := range m {
		rm[cedar.String(k)] = cedar.String(v)
	}
	return cedar.NewRecord(rm)
}

// cedarRecord converts tool arguments. Cedar has no floating-point type:
// integers, strings, booleans, lists and objects convert; a float is an
// error.
func cedarRecord(m map[string]any) (cedar.Record, error) {
	rm := make(cedar.RecordMap, len(m))
	for k, v := range m {
		cv, err := cedarValue(v)
		if err != nil {
			return cedar.Record{}, fmt.Errorf("bench: arg %q: %w", k, err)
		}
		rm[cedar.String(k)] = cv
	}
	return cedar.NewRecord(rm), nil
}

func cedarValue(v any) (cedar.Value, error) {
	switch v := v.(type) {
	case string:
		return cedar.String(v), nil
	case bool:
		return cedar.Boolean(v), nil
	case int:
		return cedar.Long(v), nil
	case int64:
		return cedar.Long(v), nil
	case map[string]any:
		return cedarRecord(v)
	case []any:
		vs := make([]cedar.Value, len(v))
		for i, e := range v {
			cv, err := cedarValue(e)
			if err != nil {
				return nil, err
			}
			vs[i] = cv
		}
		return cedar.NewSet(vs...), nil
	}
	return nil, fmt.Errorf("type %T has no Cedar equivalent", v)
}
