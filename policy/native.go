package policy

import (
	"math"
	"regexp"
	"strings"
	"unique"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
)

// Direct evaluation. The straight-line conditions most rules are made of
// (tests of action fields, arguments and the agent against constants,
// joined by &&, || and !) are compiled a second time, into Go closures
// over the evalState, which decide without the CEL interpreter's attribute
// resolution and dispatch. The closures handle only what they can decide
// exactly as CEL does: values of kind bool, int, uint, double and string,
// compared with the semantics of cel-go's types package. Anything else —
// a missing key, a value of another type, a NaN, an operand of the wrong
// kind — makes them give up, and the CEL program decides (and reports the
// error, if there is one). A rule whose condition uses anything outside
// this subset has no closure at all.
//
// Values the closures leave to CEL on purpose: json.Number and named types
// (type myInt int), which the adapter converts by reflection or parsing;
// lists, maps and null; NaN; ordering of bools; membership of a value of
// another kind than the list's, and in an empty or double list; a missing
// key (CEL reports the error, which makes a deny rule match). Strings are
// compared bytewise, as cel-go does, so invalid UTF-8 needs no case.
//
// So direct evaluation never changes a decision: where it answers, CEL
// answers the same; everywhere else CEL answers. TestDirectMatchesCEL
// compares each closure with the residual program it was compiled from,
// over random conditions and inputs, and TestDecideMatchesReference
// compares whole decisions (index, residuals and closures) with every
// rule's full condition evaluated by plain cel-go.

// nkind is the kind of a directly evaluated value. nUndecided means the
// closures cannot decide and CEL must.
type nkind uint8

const (
	nUndecided nkind = iota
	nBool
	nInt
	nUint
	nDouble
	nString
)

// nval is a CEL value of one of the kinds direct evaluation handles: n
// holds a bool (0 or 1), an int64, a uint64 or a float64's bits.
type nval struct {
	k nkind
	n uint64
	s string
}

var undecided = nval{}

func nbool(b bool) nval {
	if b {
		return nval{k: nBool, n: 1}
	}
	return nval{k: nBool}
}
func nint(i int64) nval      { return nval{k: nInt, n: uint64(i)} }
func nuint(u uint64) nval    { return nval{k: nUint, n: u} }
func ndouble(f float64) nval { return nval{k: nDouble, n: math.Float64bits(f)} }
func nstring(s string) nval  { return nval{k: nString, s: s} }

func (v nval) b() bool    { return v.n != 0 }
func (v nval) i() int64   { return int64(v.n) }
func (v nval) f() float64 { return math.Float64frombits(v.n) }

// tri is the outcome of a condition: false, true, or undecided (CEL must
// decide).
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUndecided
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// vexpr evaluates a value node, pexpr a condition node, for the decision
// in st.
type (
	vexpr func(st *evalState) nval
	pexpr func(st *evalState) tri
)

// compileDirect compiles the checked condition e, or returns nil when it
// uses anything direct evaluation does not handle.
func compileDirect(e ast.Expr) pexpr { return directPred(e) }

// directPred compiles a condition: a logical operator, a comparison, a
// membership or string test, has(), or a value that must be a bool.
func directPred(e ast.Expr) pexpr {
	switch e.Kind() {
	case ast.SelectKind:
		if sel := e.AsSelect(); sel.IsTestOnly() {
			return directHas(sel.Operand(), sel.FieldName())
		}
		v := directGet(e.AsSelect().Operand(), e.AsSelect().FieldName())
		return boolOf(v)
	case ast.CallKind:
		return directCall(e.AsCall())
	case ast.LiteralKind:
		v, ok := constVal(e)
		if !ok || v.k != nBool {
			return nil
		}
		t := triOf(v.b())
		return func(*evalState) tri { return t }
	}
	return nil
}

// boolOf is the condition that the value v is true.
func boolOf(v vexpr) pexpr {
	if v == nil {
		return nil
	}
	return func(st *evalState) tri {
		x := v(st)
		if x.k != nBool {
			return triUndecided
		}
		return triOf(x.b())
	}
}

// directVal compiles a value: a constant, a field, a map entry, or a
// condition (whose value is a bool).
func directVal(e ast.Expr) vexpr {
	switch e.Kind() {
	case ast.LiteralKind:
		v, ok := constVal(e)
		if !ok {
			return nil
		}
		return func(*evalState) nval { return v }
	case ast.SelectKind:
		if sel := e.AsSelect(); !sel.IsTestOnly() {
			return directGet(sel.Operand(), sel.FieldName())
		}
	}
	p := directPred(e) // a call or has(): its value is a bool
	if p == nil {
		return nil
	}
	return func(st *evalState) nval {
		switch p(st) {
		case triTrue:
			return nbool(true)
		case triFalse:
			return nbool(false)
		}
		return undecided
	}
}

func constVal(e ast.Expr) (nval, bool) {
	if e.Kind() != ast.LiteralKind {
		return nval{}, false
	}
	switch v := e.AsLiteral().(type) {
	case types.Bool:
		return nbool(bool(v)), true
	case types.Int:
		return nint(int64(v)), true
	case types.Uint:
		return nuint(uint64(v)), true
	case types.Double:
		return ndouble(float64(v)), true
	case types.String:
		return nstring(string(v)), true
	}
	return nval{}, false
}

// subjectOf returns which subject the identifier names, or -1.
func subjectOf(e ast.Expr) int {
	if e.Kind() != ast.IdentKind {
		return -1
	}
	switch e.AsIdent() {
	case "agent":
		return whichAgent
	case "peer":
		return whichPeer
	}
	return -1
}

func isAction(e ast.Expr) bool { return e.Kind() == ast.IdentKind && e.AsIdent() == "action" }

// Maps a condition can read entries of, as ids in the lookup cache.
const (
	mapArgs uint8 = iota + 1
	mapMeta
	mapAgentLabels
	mapPeerLabels
)

// mapOf recognizes action.args, action.meta, agent.labels and
// peer.labels, and returns the lookup of one key in it.
func mapOf(e ast.Expr) func(st *evalState, key string) (any, bool) {
	if e.Kind() != ast.SelectKind || e.AsSelect().IsTestOnly() {
		return nil
	}
	sel := e.AsSelect()
	if isAction(sel.Operand()) {
		switch sel.FieldName() {
		case "args":
			return cachedLookup(mapArgs, func(st *evalState, k string) (any, bool) {
				v, ok := st.in.Action.Args[k]
				return v, ok
			})
		case "meta":
			return cachedLookup(mapMeta, func(st *evalState, k string) (any, bool) {
				v, ok := st.in.Action.Meta[k]
				return v, ok
			})
		}
		return nil
	}
	if w := subjectOf(sel.Operand()); w >= 0 && sel.FieldName() == "labels" {
		id := mapAgentLabels
		if w == whichPeer {
			id = mapPeerLabels
		}
		return cachedLookup(id, func(st *evalState, k string) (any, bool) {
			v, ok := st.subject(w).Labels[k]
			return v, ok
		})
	}
	return nil
}

// lookupCache remembers the map entries read during one decision, so
// that has(action.args.x) && action.args.x > 1, and the other rules that
// read x, look it up once. The input does not change during a decision.
type lookupCache struct {
	n int
	e [8]lookupEntry
}

type lookupEntry struct {
	m   uint8
	ok  bool
	key string
	v   any
}

// clear forgets the entries, dropping the references to the input.
func (c *lookupCache) clear() {
	clear(c.e[:c.n])
	c.n = 0
}

func cachedLookup(id uint8, lookup func(st *evalState, k string) (any, bool)) func(st *evalState, k string) (any, bool) {
	return func(st *evalState, k string) (any, bool) {
		c := &st.lookups
		for i := range c.n {
			if e := &c.e[i]; e.m == id && e.key == k {
				return e.v, e.ok
			}
		}
		var v any
		var ok bool
		switch id { // the common maps without a call
		case mapArgs:
			v, ok = st.in.Action.Args[k]
		case mapMeta:
			v, ok = st.in.Action.Meta[k]
		default:
			v, ok = lookup(st, k)
		}
		if c.n < len(c.e) {
			c.e[c.n] = lookupEntry{m: id, ok: ok, key: k, v: v}
			c.n++
		}
		return v, ok
	}
}

// actionString returns the getter of a string field of the action, as
// actionFields defines it.
func actionString(name string) func(st *evalState) string {
	switch name {
	case "id":
		return func(st *evalState) string { return st.in.Action.ID }
	case "agent":
		return func(st *evalState) string { return string(st.in.Action.Agent) }
	case "op":
		return func(st *evalState) string { return string(st.in.Action.Op) }
	case "path":
		return func(st *evalState) string { return st.in.Action.Path }
	case "tool":
		return func(st *evalState) string { return st.in.Action.Tool }
	case "target":
		return func(st *evalState) string { return string(st.in.Action.Target) }
	case "payloadType":
		return func(st *evalState) string { return st.in.Action.PayloadType }
	}
	return nil
}

// directGet compiles operand.name: a string field of the action, a field
// of agent or peer, or one key of a map.
func directGet(operand ast.Expr, name string) vexpr {
	if isAction(operand) {
		if get := actionString(name); get != nil {
			return func(st *evalState) nval { return nstring(get(st)) }
		}
		return nil
	}
	if w := subjectOf(operand); w >= 0 {
		switch name {
		case "id":
			return func(st *evalState) nval { return nstring(st.subject(w).ID) }
		case "role":
			return func(st *evalState) nval { return nstring(st.subject(w).Role) }
		case "trust":
			return func(st *evalState) nval { return ndouble(st.subject(w).Trust) }
		case "present":
			return func(st *evalState) nval { return nbool(st.present(w)) }
		}
		return nil
	}
	if lookup := mapOf(operand); lookup != nil {
		name := unique.Make(name).Value() // one copy of each key: equal keys compare by pointer
		return func(st *evalState) nval {
			v, ok := lookup(st, name)
			if !ok {
				return undecided // CEL: no such key
			}
			return nativeVal(v)
		}
	}
	return nil
}

// directHas compiles has(operand.name). Fields are set when not zero, as
// the provider's IsSet says; map keys when present.
func directHas(operand ast.Expr, name string) pexpr {
	var fs map[string]*field
	w := -1
	switch {
	case isAction(operand):
		fs, w = actionFields, whichAction
	case subjectOf(operand) >= 0:
		fs, w = subjectFields, subjectOf(operand)
	}
	if fs != nil {
		f, ok := fs[name]
		if !ok {
			return nil
		}
		return func(st *evalState) tri { return triOf(f.isSet(st, w)) }
	}
	if lookup := mapOf(operand); lookup != nil {
		name := unique.Make(name).Value()
		return func(st *evalState) tri {
			_, ok := lookup(st, name)
			return triOf(ok)
		}
	}
	return nil
}

// nativeVal converts a Go value the way the CEL type adapter does, for
// the types whose conversion is a plain cast (types.Registry.NativeToValue);
// any other value is left to CEL.
func nativeVal(v any) nval {
	switch v := v.(type) {
	case string:
		return nstring(v)
	case bool:
		return nbool(v)
	case int:
		return nint(int64(v))
	case int64:
		return nint(v)
	case int32:
		return nint(int64(v))
	case uint:
		return nuint(uint64(v))
	case uint64:
		return nuint(v)
	case uint32:
		return nuint(uint64(v))
	case float64:
		return ndouble(v)
	case float32:
		return ndouble(float64(v))
	}
	return undecided
}

func directCall(call ast.CallExpr) pexpr {
	args := call.Args()
	fn := call.FunctionName()
	if call.IsMemberFunction() {
		return directMember(fn, call.Target(), args)
	}
	switch fn {
	case operators.LogicalAnd, operators.LogicalOr:
		return directLogic(fn == operators.LogicalOr, args)
	case operators.LogicalNot:
		if len(args) != 1 {
			return nil
		}
		x := directPred(args[0])
		if x == nil {
			return nil
		}
		return func(st *evalState) tri {
			switch x(st) {
			case triTrue:
				return triFalse
			case triFalse:
				return triTrue
			}
			return triUndecided
		}
	case operators.Equals, operators.NotEquals,
		operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
		if len(args) != 2 {
			return nil
		}
		return directRel(fn, args[0], args[1])
	case operators.In:
		return directIn(args)
	}
	return nil
}

// directLogic compiles && (or || when or is set). CEL's && is false when
// any term is false, whatever the others are (errors included), true when
// all are true, and an error otherwise; || is the dual.
func directLogic(or bool, args []ast.Expr) pexpr {
	terms := make([]pexpr, len(args))
	for i, a := range args {
		if terms[i] = directPred(a); terms[i] == nil {
			return nil
		}
	}
	stop, through := triFalse, triTrue
	if or {
		stop, through = triTrue, triFalse
	}
	if len(terms) == 2 {
		a, b := terms[0], terms[1]
		return func(st *evalState) tri {
			x := a(st)
			if x == stop {
				return stop
			}
			y := b(st)
			if y == stop {
				return stop
			}
			if x == through && y == through {
				return through
			}
			return triUndecided
		}
	}
	return func(st *evalState) tri {
		out := through
		for _, t := range terms {
			switch t(st) {
			case stop:
				return stop
			case triUndecided:
				out = triUndecided
			}
		}
		return out
	}
}

// relation is one of ==, !=, <, <=, >, >= applied to the outcome of
// nEqual (eq) or nCompare (c).
func relation(fn string) (useEq bool, holds func(eq bool, c int) bool) {
	switch fn {
	case operators.Equals:
		return true, func(eq bool, _ int) bool { return eq }
	case operators.NotEquals:
		return true, func(eq bool, _ int) bool { return !eq }
	case operators.Less:
		return false, func(_ bool, c int) bool { return c < 0 }
	case operators.LessEquals:
		return false, func(_ bool, c int) bool { return c <= 0 }
	case operators.Greater:
		return false, func(_ bool, c int) bool { return c > 0 }
	}
	return false, func(_ bool, c int) bool { return c >= 0 }
}

// directRel compiles a comparison. The common shapes, a string or an int
// compared with a constant, get their own closures; the rest go through
// nEqual and nCompare.
func directRel(fn string, left, right ast.Expr) pexpr {
	l, r := directVal(left), directVal(right)
	if l == nil || r == nil {
		return nil
	}
	useEq, holds := relation(fn)
	if c, ok := constVal(right); ok {
		switch {
		case c.k == nString && (fn == operators.Equals || fn == operators.NotEquals):
			want := fn == operators.Equals
			return func(st *evalState) tri {
				v := l(st)
				if v.k == nString {
					return triOf((v.s == c.s) == want)
				}
				return rel(useEq, holds, v, c)
			}
		case c.k == nInt:
			return func(st *evalState) tri {
				v := l(st)
				if v.k == nInt {
					x, y := v.i(), c.i()
					return triOf(holds(x == y, cmp3(x < y, x > y)))
				}
				return rel(useEq, holds, v, c)
			}
		}
		return func(st *evalState) tri { return rel(useEq, holds, l(st), c) }
	}
	return func(st *evalState) tri { return rel(useEq, holds, l(st), r(st)) }
}

func rel(useEq bool, holds func(bool, int) bool, a, b nval) tri {
	if useEq {
		eq, ok := nEqual(a, b)
		if !ok {
			return triUndecided
		}
		return triOf(holds(eq, 0))
	}
	c, ok := nCompare(a, b)
	if !ok {
		return triUndecided
	}
	return triOf(holds(false, c))
}

// directIn compiles x in [c1, c2, ...] over constants of one kind (not
// double).
func directIn(args []ast.Expr) pexpr {
	if len(args) != 2 || args[1].Kind() != ast.ListKind {
		return nil
	}
	l := args[1].AsList()
	if len(l.OptionalIndices()) > 0 || l.Size() == 0 {
		return nil
	}
	x := directVal(args[0])
	if x == nil {
		return nil
	}
	elems := make([]nval, 0, l.Size())
	for _, el := range l.Elements() {
		v, ok := constVal(el)
		if !ok || (len(elems) > 0 && v.k != elems[0].k) || v.k == nDouble {
			return nil
		}
		elems = append(elems, v)
	}
	kind := elems[0].k
	if kind == nString && len(elems) <= 8 {
		strs := make([]string, len(elems))
		for i, v := range elems {
			strs[i] = v.s
		}
		return func(st *evalState) tri {
			v := x(st)
			if v.k != nString {
				return triUndecided
			}
			for _, c := range strs {
				if v.s == c {
					return triTrue
				}
			}
			return triFalse
		}
	}
	if kind == nString {
		set := make(map[string]struct{}, len(elems))
		for _, v := range elems {
			set[v.s] = struct{}{}
		}
		return func(st *evalState) tri {
			v := x(st)
			if v.k != nString {
				return triUndecided
			}
			_, ok := set[v.s]
			return triOf(ok)
		}
	}
	return func(st *evalState) tri {
		v := x(st)
		if v.k != kind {
			return triUndecided
		}
		for _, c := range elems {
			if v.n == c.n {
				return triTrue
			}
		}
		return triFalse
	}
}

// directMember compiles s.startsWith(c), s.endsWith(c), s.contains(c)
// and s.matches(c) with a constant string c.
func directMember(fn string, target ast.Expr, args []ast.Expr) pexpr {
	if len(args) != 1 {
		return nil
	}
	c, ok := constVal(args[0])
	if !ok || c.k != nString {
		return nil
	}
	s := directVal(target)
	if s == nil {
		return nil
	}
	var test func(string) bool
	switch fn {
	case overloads.StartsWith:
		test = func(x string) bool { return strings.HasPrefix(x, c.s) }
	case overloads.EndsWith:
		test = func(x string) bool { return strings.HasSuffix(x, c.s) }
	case overloads.Contains:
		test = func(x string) bool { return strings.Contains(x, c.s) }
	case overloads.Matches:
		re, err := regexp.Compile(c.s)
		if err != nil {
			return nil
		}
		test = re.MatchString
	default:
		return nil
	}
	return func(st *evalState) tri {
		v := s(st)
		if v.k != nString {
			return triUndecided
		}
		return triOf(test(v.s))
	}
}

func isNaN(v nval) bool { return v.k == nDouble && math.IsNaN(v.f()) }

// nEqual is CEL's heterogeneous equality (types.Equal) on the handled
// kinds: numbers compare by value across int, uint and double; values of
// different kinds are not equal. NaN is left to CEL.
func nEqual(a, b nval) (eq, ok bool) {
	if a.k == nUndecided || b.k == nUndecided || isNaN(a) || isNaN(b) {
		return false, false
	}
	if a.k == b.k {
		switch a.k {
		case nString:
			return a.s == b.s, true
		case nDouble:
			return a.f() == b.f(), true
		}
		return a.n == b.n, true // bool, int, uint
	}
	if isNum(a) && isNum(b) {
		c, ok := nCompare(a, b)
		return c == 0, ok
	}
	return false, true
}

func isNum(v nval) bool { return v.k == nInt || v.k == nUint || v.k == nDouble }

// nCompare orders two values as the comparers of cel-go's types package
// do: strings bytewise, numbers by value across int, uint and double. It
// gives up on NaN, on bools and on values of different kinds.
func nCompare(a, b nval) (int, bool) {
	if isNaN(a) || isNaN(b) {
		return 0, false
	}
	switch {
	case a.k == nString && b.k == nString:
		return strings.Compare(a.s, b.s), true
	case !isNum(a) || !isNum(b):
		return 0, false
	}
	switch a.k {
	case nInt:
		switch b.k {
		case nInt:
			return cmp3(a.i() < b.i(), a.i() > b.i()), true
		case nUint:
			return cmpIntUint(a.i(), b.n), true
		case nDouble:
			return -cmpDoubleInt(b.f(), a.i()), true
		}
	case nUint:
		switch b.k {
		case nInt:
			return -cmpIntUint(b.i(), a.n), true
		case nUint:
			return cmp3(a.n < b.n, a.n > b.n), true
		case nDouble:
			return -cmpDoubleUint(b.f(), a.n), true
		}
	case nDouble:
		switch b.k {
		case nInt:
			return cmpDoubleInt(a.f(), b.i()), true
		case nUint:
			return cmpDoubleUint(a.f(), b.n), true
		case nDouble:
			return cmp3(a.f() < b.f(), a.f() > b.f()), true
		}
	}
	return 0, false
}

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

// The three below are cel-go's compareDoubleInt, compareDoubleUint and
// compareIntUint (common/types/compare.go).

func cmpDoubleInt(d float64, i int64) int {
	if d < math.MinInt64 {
		return -1
	}
	if d > math.MaxInt64 {
		return 1
	}
	return cmp3(d < float64(i), d > float64(i))
}

func cmpDoubleUint(d float64, u uint64) int {
	if d < 0 {
		return -1
	}
	if d > math.MaxUint64 {
		return 1
	}
	return cmp3(d < float64(u), d > float64(u))
}

func cmpIntUint(i int64, u uint64) int {
	if i < 0 || u > math.MaxInt64 {
		return -1
	}
	return cmp3(i < int64(u), i > int64(u))
}
