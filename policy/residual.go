package policy

import (
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// The residual of a rule is its condition without the top-level conjuncts
// that the index proves for every action it hands the rule to: the tests
// on action.op and action.tool that extractConstraints reads. The indexed
// path evaluates the residual, the unindexed path the full condition.
//
// They decide the same: a rule reaches the indexed path only when
// action.tool (and action.op) is in every set its conjuncts name, so each
// dropped conjunct is true there, and such a test cannot fail to evaluate
// (it compares a string field with string constants). CEL's && is
// commutative with respect to errors (false wins over an error, the first
// error in order is the one reported), and true && x is x, so removing
// true conjuncts, keeping the others in their order, changes neither the
// value nor the error.

// stripIndexed is the ASTOptimizer that builds the residual.
type stripIndexed struct{}

func (stripIndexed) Optimize(ctx *cel.OptimizerContext, a *ast.AST) *ast.AST {
	all := conjuncts(a.Expr(), nil)
	keep := make([]ast.Expr, 0, len(all))
	for _, c := range all {
		if _, _, ok := fieldTest(c); ok {
			continue
		}
		keep = append(keep, c)
	}
	if len(keep) == len(all) {
		return a
	}
	if len(keep) == 0 {
		return ctx.NewAST(ctx.NewLiteral(types.True))
	}
	e := keep[0]
	for _, k := range keep[1:] {
		e = ctx.NewCall(operators.LogicalAnd, e, k)
	}
	return ctx.NewAST(e)
}

// residual returns the residual of the checked condition a, or nil when
// the index proves nothing for it (the rule has no op or tool constraint).
func residual(env *cel.Env, a *cel.Ast, c constraints) (*cel.Ast, error) {
	if c.ops == nil && c.tools == nil {
		return nil, nil
	}
	opt, err := cel.NewStaticOptimizer(stripIndexed{})
	if err != nil {
		return nil, err
	}
	r, iss := opt.Optimize(env, a)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	return r, nil
}
