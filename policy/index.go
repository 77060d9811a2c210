package policy

import (
	"slices"

	"github.com/agent-os/agentos"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// constraints is what a rule requires of action.op and action.tool: the
// values it can match, or nil when it can match any. The rule can only be
// true when every required field has one of the listed values.
type constraints struct {
	ops, tools map[string]struct{}
	op         string // the one op of ops, when it has exactly one
}

// The keys of the index maps (by tool, by op) are the literal values a
// rule tests for, "" included: a rule that requires action.tool == "" is
// filed under "" and applies to the tool "" only. Rules that apply to a
// tool no rule names are kept apart (ruleSet.other), never under a key
// that is also a value.

// allowsOp reports whether op satisfies the op constraint. The empty op
// is a value like any other: a rule that requires action.op == "" allows
// only the op "".
func (c *constraints) allowsOp(op string) bool {
	switch len(c.ops) {
	case 0:
		return c.ops == nil
	case 1:
		return op == c.op
	}
	_, ok := c.ops[op]
	return ok
}

// extractConstraints reads the tests on action.op and action.tool in the
// top-level conjunction of e: equality with a string constant, membership
// in a list of string constants, or a disjunction of such tests on the
// same field. Because CEL's logical operators are commutative with respect
// to errors (false && error is false), a rule whose required field has
// another value evaluates to false, never to an error, so skipping it does
// not change any decision.
func extractConstraints(e ast.Expr) constraints {
	var c constraints
	for _, conj := range conjuncts(e, nil) {
		f, vals, ok := fieldTest(conj)
		if !ok {
			continue
		}
		set := make(map[string]struct{}, len(vals))
		for _, v := range vals {
			set[v] = struct{}{}
		}
		switch f {
		case "op":
			c.ops = intersect(c.ops, set)
		case "tool":
			c.tools = intersect(c.tools, set)
		}
	}
	if len(c.ops) == 1 {
		for o := range c.ops {
			c.op = o
		}
	}
	return c
}

func intersect(a, b map[string]struct{}) map[string]struct{} {
	if a == nil {
		return b
	}
	out := map[string]struct{}{}
	for k := range a {
		if _, ok := b[k]; ok {
			out[k] = struct{}{}
		}
	}
	return out
}

func conjuncts(e ast.Expr, out []ast.Expr) []ast.Expr {
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
		for _, a := range e.AsCall().Args() {
			out = conjuncts(a, out)
		}
		return out
	}
	return append(out, e)
}

// fieldTest recognizes action.F == "v", "v" == action.F, action.F in
// ["v", ...] and disjunctions of those on one field F (op or tool).
func fieldTest(e ast.Expr) (string, []string, bool) {
	if e.Kind() != ast.CallKind {
		return "", nil, false
	}
	call := e.AsCall()
	args := call.Args()
	switch call.FunctionName() {
	case operators.Equals:
		if len(args) != 2 {
			return "", nil, false
		}
		if f, ok := actionField(args[0]); ok {
			if s, ok := stringConst(args[1]); ok {
				return f, []string{s}, true
			}
		}
		if f, ok := actionField(args[1]); ok {
			if s, ok := stringConst(args[0]); ok {
				return f, []string{s}, true
			}
		}
	case operators.In:
		if len(args) != 2 || args[1].Kind() != ast.ListKind {
			return "", nil, false
		}
		f, ok := actionField(args[0])
		if !ok {
			return "", nil, false
		}
		l := args[1].AsList()
		if len(l.OptionalIndices()) > 0 {
			return "", nil, false
		}
		vals := make([]string, 0, l.Size())
		for _, el := range l.Elements() {
			s, ok := stringConst(el)
			if !ok {
				return "", nil, false
			}
			vals = append(vals, s)
		}
		return f, vals, true
	case operators.LogicalOr:
		var field string
		var vals []string
		for _, a := range args {
			f, v, ok := fieldTest(a)
			if !ok || (field != "" && f != field) {
				return "", nil, false
			}
			field = f
			vals = append(vals, v...)
		}
		return field, vals, field != ""
	}
	return "", nil, false
}

func actionField(e ast.Expr) (string, bool) {
	if e.Kind() != ast.SelectKind {
		return "", false
	}
	sel := e.AsSelect()
	if sel.IsTestOnly() || sel.Operand().Kind() != ast.IdentKind || sel.Operand().AsIdent() != "action" {
		return "", false
	}
	switch f := sel.FieldName(); f {
	case "op", "tool":
		return f, true
	}
	return "", false
}

func stringConst(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

// hasComprehension reports whether e loops (all, exists, map, filter,
// cel.bind and the like): only those check for interruption.
func hasComprehension(e ast.Expr) bool {
	found := false
	ast.PostOrderVisit(e, ast.NewExprVisitor(func(x ast.Expr) {
		if x.Kind() == ast.ComprehensionKind {
			found = true
		}
	}))
	return found
}

// hasEmptyIn reports whether e tests membership in an empty list literal.
// cel-go's optimized programs (cel.OptOptimize) fold x in [] to false
// without evaluating x, where plain CEL reports x's error (a missing key):
// a deny rule would then not match where an erroring deny rule denies. A
// rule with such a test is planned without the optimization.
func hasEmptyIn(e ast.Expr) bool {
	found := false
	ast.PostOrderVisit(e, ast.NewExprVisitor(func(x ast.Expr) {
		if x.Kind() != ast.CallKind || x.AsCall().FunctionName() != operators.In {
			return
		}
		if args := x.AsCall().Args(); len(args) == 2 && args[1].Kind() == ast.ListKind && args[1].AsList().Size() == 0 {
			found = true
		}
	}))
	return found
}

// phase holds the rules of one effect class, indexed.
type phase struct {
	all    []*compiledRule            // every rule, in policy order
	byTool map[string][]*compiledRule // rules that require action.tool (and maybe op)
	byOp   map[string][]*compiledRule // rules that require action.op only
	always []*compiledRule            // rules with no constraint
	// needAll is true when the phase has an audit or rate-limited rule:
	// then every matching rule matters, not only the first.
	needAll bool
}

func (p *phase) add(r *compiledRule) {
	p.all = append(p.all, r)
	if r.rule.Effect == agentos.Audit || r.rule.Limit != nil {
		p.needAll = true
	}
	if r.cons.ops != nil && len(r.cons.ops) == 0 || r.cons.tools != nil && len(r.cons.tools) == 0 {
		return // contradictory tests: the rule can never match
	}
	switch {
	case r.cons.tools != nil:
		if p.byTool == nil {
			p.byTool = map[string][]*compiledRule{}
		}
		for t := range r.cons.tools {
			p.byTool[t] = append(p.byTool[t], r)
		}
	case r.cons.ops != nil:
		if p.byOp == nil {
			p.byOp = map[string][]*compiledRule{}
		}
		for o := range r.cons.ops {
			p.byOp[o] = append(p.byOp[o], r)
		}
	default:
		p.always = append(p.always, r)
	}
}

// cursor walks the rules of a phase that can apply to one action, in
// policy order, without allocating.
type cursor struct {
	lists  [3][]*compiledRule
	op     string
	filter bool // check the op constraint of rules found by tool
}

func (c *cursor) next() *compiledRule {
	if len(c.lists[1]) == 0 && len(c.lists[2]) == 0 {
		// Only rules found by tool are left: no merge.
		for len(c.lists[0]) > 0 {
			r := c.lists[0][0]
			c.lists[0] = c.lists[0][1:]
			if !c.filter || r.cons.allowsOp(c.op) {
				return r
			}
		}
		return nil
	}
	for {
		best := -1
		for i := range c.lists {
			if len(c.lists[i]) > 0 && (best < 0 || c.lists[i][0].idx < c.lists[best][0].idx) {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		r := c.lists[best][0]
		c.lists[best] = c.lists[best][1:]
		if best == 0 && c.filter && !r.cons.allowsOp(c.op) {
			continue
		}
		return r
	}
}

// phaseLists are the rules of the three phases (deny, approve, permit)
// that one tool or one op selects.
type phaseLists [3][]*compiledRule

// buildIndex gathers the per-phase indexes by tool and by op into one map
// each, so that a decision looks up its tool and its op once for all
// three phases.
func (rs *ruleSet) buildIndex() {
	rs.byTool, rs.byOp = map[string]*phaseLists{}, map[string]*phaseLists{}
	for i, p := range []*phase{&rs.deny, &rs.approve, &rs.permit} {
		for t, l := range p.byTool {
			if rs.byTool[t] == nil {
				rs.byTool[t] = new(phaseLists)
			}
			rs.byTool[t][i] = l
		}
		for o, l := range p.byOp {
			if rs.byOp[o] == nil {
				rs.byOp[o] = new(phaseLists)
			}
			rs.byOp[o][i] = l
		}
	}
}

// lookup returns the rules that the tool and the op select, for every
// phase (nil when they select none). When the merged lists cover the
// action, merged is set instead and byTool and byOp are nil. A tool that
// no rule names gets the lists of ruleSet.other: the rules that do not
// require any tool, never the rules of the literal tool "".
func (rs *ruleSet) lookup(op, tool string) (byTool, byOp, merged *phaseLists) {
	if rs.merged != nil {
		if i := opSlot(op); i >= 0 {
			m, named := rs.merged[tool]
			if !named {
				m = rs.other
			}
			return nil, nil, &m[i]
		}
	}
	return rs.byTool[tool], rs.byOp[op], nil
}

// phaseCursor is cursor, walking the merged list when lookup found one.
func (rs *ruleSet) phaseCursor(i int, op, tool string, byTool, byOp, merged *phaseLists, indexed bool) cursor {
	if merged != nil && indexed {
		return cursor{lists: [3][]*compiledRule{merged[i]}}
	}
	return rs.cursor(i, op, byTool, byOp, indexed)
}

// numOps is the number of ops the merged lists are built for: the length
// of agentos.Ops (checked by a test).
const numOps = 13

// opSlot returns the position of op in agentos.Ops, or -1 for an unknown
// op (whose rules are then found by merging at decision time).
func opSlot(op string) int {
	switch agentos.Op(op) {
	case agentos.OpRead:
		return 0
	case agentos.OpWrite:
		return 1
	case agentos.OpAppend:
		return 2
	case agentos.OpStat:
		return 3
	case agentos.OpList:
		return 4
	case agentos.OpDelete:
		return 5
	case agentos.OpExec:
		return 6
	case agentos.OpSend:
		return 7
	case agentos.OpSearch:
		return 8
	case agentos.OpCheckpoint:
		return 9
	case agentos.OpRollback:
		return 10
	case agentos.OpSpawn:
		return 11
	case agentos.OpSignal:
		return 12
	}
	return -1
}

// maxMergedRules bounds the rule references the merged lists may hold in
// all: rules that apply to every action are copied into the list of every
// (tool, op) pair, so a policy with many of them and many tools keeps the
// merging at decision time instead.
const maxMergedRules = 1 << 16

// buildMerged precomputes, for every tool some rule names (the literal
// "" included) and separately for the tools no rule names, the candidate
// rules of each phase for each known op: exactly what a cursor would
// yield, in the same order.
func (rs *ruleSet) buildMerged() {
	total := 0
	build := func(byTool *phaseLists) *[numOps]phaseLists {
		m := new([numOps]phaseLists)
		for i, op := range agentos.Ops() {
			byOp := rs.byOp[string(op)]
			for ph := range 3 {
				c := rs.cursor(ph, string(op), byTool, byOp, true)
				var l []*compiledRule
				for r := c.next(); r != nil; r = c.next() {
					l = append(l, r)
				}
				total += len(l)
				if total > maxMergedRules {
					return nil
				}
				m[i][ph] = slices.Clip(l)
			}
		}
		return m
	}
	other := build(nil) // a tool that no rule names selects no rule by tool
	if other == nil {
		return
	}
	merged := make(map[string]*[numOps]phaseLists, len(rs.byTool))
	for t, l := range rs.byTool {
		m := build(l)
		if m == nil {
			return
		}
		merged[t] = m
	}
	rs.merged, rs.other = merged, other
}

// cursor returns the cursor of phase i (0 deny, 1 approve, 2 permit) for
// one action, given what lookup returned: the same rules, in the same
// order, as the phase's own cursor.
func (rs *ruleSet) cursor(i int, op string, byTool, byOp *phaseLists, indexed bool) cursor {
	p := &rs.permit
	switch i {
	case 0:
		p = &rs.deny
	case 1:
		p = &rs.approve
	}
	if !indexed {
		return cursor{lists: [3][]*compiledRule{p.all}}
	}
	c := cursor{op: op, filter: true}
	if byTool != nil {
		c.lists[0] = byTool[i]
	}
	if byOp != nil {
		c.lists[1] = byOp[i]
	}
	c.lists[2] = p.always
	return c
}
