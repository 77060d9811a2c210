package bench

import (
	"context"
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/agent-os/agentos"
)

// OPA decides with Open Policy Agent: the generated Rego module, prepared
// once with rego.PrepareForEval, evaluated once per decision.
// It is safe for concurrent use.
type OPA struct {
	pq rego.PreparedEvalQuery
}

var _ Decider = (*OPA)(nil)

// NewOPA compiles the Rego rendering of rules.
func NewOPA(ctx context.Context, rules []Rule) (*OPA, error) {
	pq, err := rego.New(
		rego.Query("data."+RegoPackage+".decision"),
		rego.Module("bench.rego", PolicyRego(rules)),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: prepare rego: %w", err)
	}
	return &OPA{pq: pq}, nil
}

// OPAInput converts in to the input document the Rego module reads: the
// fields agentos exposes to CEL, under the same names.
func OPAInput(in Input) map[string]any {
	a := in.Action
	args := a.Args
	if args == nil {
		args = map[string]any{}
	}
	meta := a.Meta
	if meta == nil {
		meta = map[string]string{}
	}
	labels := in.Agent.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return map[string]any{
		"action": map[string]any{
			"id":          a.ID,
			"agent":       string(a.Agent),
			"op":          string(a.Op),
			"path":        a.Path,
			"tool":        a.Tool,
			"args":        args,
			"target":      string(a.Target),
			"payloadType": a.PayloadType,
			"meta":        meta,
			"at":          a.At.UnixNano(),
		},
		"agent": map[string]any{
			"id":     in.Agent.ID,
			"role":   in.Agent.Role,
			"trust":  in.Agent.Trust,
			"labels": labels,
		},
		"now": in.Now.UnixNano(),
	}
}

// Decide converts in with [OPAInput] and evaluates the prepared query.
func (o *OPA) Decide(ctx context.Context, in Input) (agentos.Effect, error) {
	return o.eval(ctx, rego.EvalInput(OPAInput(in)))
}

// DecideParsed evaluates the prepared query on an input already converted to
// an OPA value (ast.InterfaceToValue of [OPAInput]): the cost of evaluation
// alone, without the per-call conversion.
func (o *OPA) DecideParsed(ctx context.Context, in ast.Value) (agentos.Effect, error) {
	return o.eval(ctx, rego.EvalParsedInput(in))
}

var errNoResult = errors.New("bench: rego query returned no decision")

func (o *OPA) eval(ctx context.Context, opt rego.EvalOption) (agentos.Effect, error) {
	rs, err := o.pq.Eval(ctx, opt)
	if err != nil {
		return agentos.Deny, fmt.Errorf("bench: rego eval: %w", err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return agentos.Deny, errNoResult
	}
	s, ok := rs[0].Expressions[0].Value.(string)
	if !ok {
		return agentos.Deny, fmt.Errorf("bench: rego decision is %T, want string", rs[0].Expressions[0].Value)
	}
	return agentos.ParseEffect(s)
}
