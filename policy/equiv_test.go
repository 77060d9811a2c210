package policy

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

var (
	policySeed = flag.Uint64("policy.seed", 0, "seed of the random policies and actions of the equivalence tests (0: a fresh seed from the clock)")
	policyLong = flag.Bool("policy.long", false, "equivalence tests: a million cases (10,000 policies × 100 actions) instead of 100,000")
)

// testSeed returns the seed of a randomized test, fresh from the clock
// unless -policy.seed sets it, and logs it so that a failure can be
// reproduced.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := *policySeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (reproduce with -policy.seed %d)", seed, seed)
	return seed
}

// reference is the meaning of a set of documents as Engine.Decide
// documents it, computed the slow way: every rule's whole condition,
// compiled by plain cel-go in an environment of its own and evaluated for
// every action, its effect combined by deny-overrides. No index, no
// residual program, no direct evaluation.
type reference struct {
	rules  []refRule // in policy order
	def    agentos.Effect
	permit struct{ needAll bool } // an audit or rate-limited rule: every permit rule matters
}

type refRule struct {
	doc  *Document
	rule *Rule
	prg  cel.Program
}

var refEnv = sync.OnceValues(func() (*cel.Env, error) { return baseEnv(MaxListRange) })

// newReference compiles docs for the reference. It fails when a rule does
// not compile: the generator then draws another policy.
func newReference(docs []*Document) (*reference, error) {
	base, err := refEnv()
	if err != nil {
		return nil, err
	}
	ref := &reference{def: agentos.Deny}
	for i, d := range docs {
		e := agentos.Deny
		if d.HasDefault {
			e = d.DefaultEffect
		}
		if i == 0 || e.Overrides(ref.def) {
			ref.def = e
		}
		env := base
		var inlines []*cel.InlineVariable
		for _, v := range d.Variables {
			a, iss := env.Compile(v.Expression)
			if iss.Err() != nil {
				return nil, iss.Err()
			}
			if env, err = env.Extend(cel.Variable("variables."+v.Name, a.OutputType())); err != nil {
				return nil, err
			}
			inlines = append([]*cel.InlineVariable{cel.NewInlineVariable("variables."+v.Name, a)}, inlines...)
		}
		for j := range d.Rules {
			r := &d.Rules[j]
			a, iss := env.Compile(r.When)
			if iss.Err() != nil {
				return nil, fmt.Errorf("%s: %w", r.Name, iss.Err())
			}
			if !a.OutputType().IsExactType(cel.BoolType) {
				return nil, fmt.Errorf("%s: not a bool", r.Name)
			}
			if len(inlines) > 0 {
				opt, err := cel.NewStaticOptimizer(cel.NewInliningOptimizer(inlines...))
				if err != nil {
					return nil, err
				}
				if a, iss = opt.Optimize(env, a); iss.Err() != nil {
					return nil, iss.Err()
				}
			}
			prg, err := env.Program(a)
			if err != nil {
				return nil, err
			}
			if r.Effect == agentos.Audit || r.Limit != nil {
				ref.permit.needAll = true
			}
			ref.rules = append(ref.rules, refRule{doc: d, rule: r, prg: prg})
		}
	}
	return ref, nil
}

// refDecision is what the engine's Decide and Explain must agree with.
type refDecision struct {
	Effect   agentos.Effect
	Rule     string
	Severity agentos.Severity
	Refuse   bool
	Errors   []string
}

// refOf keeps of a decision what the reference predicts. Of an error it
// keeps the rule that failed: the text depends on how cel-go planned the
// program (an optimized program reports a regular expression's overload
// error without the function's name).
func refOf(d agentos.Decision) refDecision {
	return refDecision{Effect: d.Effect, Rule: d.Rule, Severity: d.Severity, Refuse: d.Refuse, Errors: failedRules(d.Errors)}
}

func failedRules(errs []string) []string {
	var out []string
	for _, e := range errs {
		label, _, _ := strings.Cut(e, ": ")
		out = append(out, label)
	}
	return out
}

// refResults is x.Rules with each error reduced to its presence.
func refResults(rs []RuleResult) []RuleResult {
	var out []RuleResult
	for _, r := range rs {
		if r.Error != "" {
			r.Error = "failed"
		}
		out = append(out, r)
	}
	return out
}

// decide returns the decision Decide must make (with the errors of the
// rules Decide evaluates before it stops), the decision and the rule
// results Explain must report.
func (ref *reference) decide(in Input) (decide, explain refDecision, rules []RuleResult) {
	st := new(evalState)
	st.reset(&in, time.Now, types.DefaultTypeAdapter)
	type outcome struct {
		m   bool
		err error
	}
	outs := make([]outcome, len(ref.rules))
	for i, r := range ref.rules {
		out, _, err := r.prg.Eval(st)
		if err == nil {
			b, ok := out.(types.Bool)
			if !ok {
				err = errNotBool
			}
			outs[i].m = bool(b)
		}
		outs[i].err = err
	}
	label := func(r refRule) string { return r.doc.Name + "/" + r.rule.Name }
	phaseOf := func(e agentos.Effect) int {
		switch e {
		case agentos.Deny:
			return 0
		case agentos.Approve:
			return 1
		}
		return 2
	}
	// matched: a failing deny rule matches, any other failing rule does not.
	matched := func(i int) bool {
		if ref.rules[i].rule.Effect == agentos.Deny {
			return outs[i].m || outs[i].err != nil
		}
		return outs[i].m && outs[i].err == nil
	}
	// Explain evaluates everything: its results are listed phase by phase,
	// in policy order within each.
	var first [3]int
	var audit, allow = -1, -1
	for ph := range 3 {
		first[ph] = -1
		for i, r := range ref.rules {
			if phaseOf(r.rule.Effect) != ph {
				continue
			}
			if outs[i].err != nil {
				explain.Errors = append(explain.Errors, label(r))
			}
			if m := matched(i); m || outs[i].err != nil {
				rr := RuleResult{Policy: r.doc.Name, Rule: r.rule.Name, Effect: r.rule.Effect,
					Severity: r.rule.Severity, Message: r.rule.Message, Matched: m}
				if outs[i].err != nil {
					rr.Error = "failed"
				}
				rules = append(rules, rr)
			}
			if !matched(i) {
				continue
			}
			if first[ph] < 0 {
				first[ph] = i
			}
			if r.rule.Effect == agentos.Audit && audit < 0 {
				audit = i
			}
			if r.rule.Effect == agentos.Allow && allow < 0 {
				allow = i
			}
		}
	}
	decidedBy := -1
	switch {
	case first[0] >= 0:
		decidedBy = first[0]
	case first[1] >= 0:
		decidedBy = first[1]
	case audit >= 0:
		decidedBy = audit
	case allow >= 0:
		decidedBy = allow
	}
	var d refDecision
	if decidedBy < 0 {
		d.Effect = ref.def
	} else {
		r := ref.rules[decidedBy].rule
		d = refDecision{Effect: r.Effect, Rule: r.Name, Severity: r.Severity, Refuse: r.Effect == agentos.Deny && r.OnDeny == OnDenyRefuse}
	}
	explain.Effect, explain.Rule, explain.Severity, explain.Refuse = d.Effect, d.Rule, d.Severity, d.Refuse
	// Decide stops a phase at its first match (the permit phase only when
	// no audit or rate-limited rule is in it) and skips the later phases
	// once one matched: it reports the errors of what it evaluated.
	decide = d
	for ph := range 3 {
		for i, r := range ref.rules {
			if phaseOf(r.rule.Effect) != ph {
				continue
			}
			if outs[i].err != nil {
				decide.Errors = append(decide.Errors, label(r))
			}
			if matched(i) && (ph < 2 || !ref.permit.needAll) {
				break
			}
		}
		if first[ph] >= 0 {
			break
		}
	}
	return decide, explain, rules
}

// sameRules returns an engine that decides with e's compiled rules, under
// the option o.
func sameRules(e *Engine, o Option) *Engine {
	cfg := e.cfg
	if err := o(&cfg); err != nil {
		panic(err)
	}
	v := &Engine{cfg: cfg, limiter: newLimiter(cfg.maxBuckets)}
	v.cur.Store(e.cur.Load())
	return v
}

// withoutMerged returns an engine that decides with e's compiled rules
// without the merged per-(tool, op) lists, as it does for a policy too
// large for them (maxMergedRules): the index merges at decision time.
func withoutMerged(e *Engine) *Engine {
	rs := *e.cur.Load()
	rs.merged, rs.other = nil, nil
	v := &Engine{cfg: e.cfg, limiter: newLimiter(e.cfg.maxBuckets)}
	v.cur.Store(&rs)
	return v
}

// The generator. Literals are written in CEL's syntax ("\xff" is the code
// point U+00FF there, not a byte); the values of actions are Go values,
// invalid UTF-8 included.
var (
	genToolLits = []string{`""`, `""`, `"shell"`, `"web.search"`, `"a"`, `"é"`, `"e\u0301"`, `"\xff"`, `"ÿ"`, `"日本"`, `" "`, `"sql.query"`}
	genOpLits   = []string{`""`, `""`, `"exec"`, `"read"`, `"write"`, `"send"`, `"zzz"`, `"EXEC"`}
	genTools    = []string{"", "", "shell", "shell", "web.search", "a", "é", "e\u0301", "\xff", "ÿ", "日本", " ", "sql.query", "zzz", "A"}
	genOps      = []agentos.Op{"", agentos.OpExec, agentos.OpExec, agentos.OpRead, agentos.OpWrite, agentos.OpSend, agentos.OpSignal, "zzz", "EXEC"}
	genConsts   = []string{`3`, `-1`, `0`, `3u`, `0u`, `18446744073709551615u`, `9223372036854775807`, `2.5`, `3.0`, `-0.0`, `1e19`,
		`"3"`, `"a"`, `""`, `"é"`, `"\xff"`, `"ÿ"`, `true`, `false`, `null`}
	genLists = []string{`[1, 3]`, `["a", "3", ""]`, `[3u]`, `[2.5, 3.0]`, `[true]`, `[1, "a"]`, `["x", "y", "z", "a", "b", "c", "d", "e", "f"]`, `[]`}
	genKeys  = []string{"n", "n", "s", "b", "m", "l", "x"}
	genRels  = []string{"==", "!=", "<", "<=", ">", ">="}
)

type myInt int
type myUint uint8
type myFloat float64
type myString string
type myBool bool

var genScalars = []any{
	0, 3, -1, int64(3), int32(7), int8(3), int16(-2), uint(3), uint8(3), uint16(3), uint32(0), uint64(math.MaxUint64),
	3.0, 2.5, float32(2.5), math.Copysign(0, -1), math.NaN(), math.Inf(1), 1e19,
	json.Number("3"), json.Number("2.5"), json.Number("1e400"), json.Number("x"),
	myInt(3), myUint(3), myFloat(2.5), myString("a"), myBool(true),
	"a", "", "3", "é", "e\u0301", "\xff", "ÿ", "DROP TABLE t", "SELECT 1", true, false, nil,
}

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

// genFieldTest is a test of a string field against literals, in every
// shape the index might read (or must not).
func genFieldTest(rng *rand.Rand, f string, lits []string) string {
	l := func() string { return pick(rng, lits) }
	switch rng.IntN(14) {
	case 0, 1:
		return fmt.Sprintf("%s == %s", f, l())
	case 2:
		return fmt.Sprintf("%s == %s", l(), f)
	case 3:
		return fmt.Sprintf("%s != %s", f, l())
	case 4, 5:
		return fmt.Sprintf("%s in [%s, %s]", f, l(), l())
	case 6:
		return fmt.Sprintf("%s in [%s]", f, l())
	case 7:
		return fmt.Sprintf("!(%s == %s)", f, l())
	case 8:
		return fmt.Sprintf("!(%s in [%s, %s])", f, l(), l())
	case 9:
		return fmt.Sprintf("(%s == %s || %s == %s)", f, l(), f, l())
	case 10:
		return fmt.Sprintf("has(%s)", f)
	case 11:
		return fmt.Sprintf("%s.startsWith(%s)", f, l())
	case 12:
		return fmt.Sprintf("(%s == %s || %s in [%s, %s])", f, l(), f, l(), l())
	}
	return fmt.Sprintf("%s in []", f)
}

func genArgTest(rng *rand.Rand) string {
	k := "action.args." + pick(rng, genKeys)
	c := func() string { return pick(rng, genConsts) }
	switch rng.IntN(30) {
	case 0, 1, 2, 3, 4:
		return fmt.Sprintf("%s %s %s", k, pick(rng, genRels), c())
	case 5:
		return fmt.Sprintf("%s %s %s", c(), pick(rng, genRels), k)
	case 6, 7:
		return fmt.Sprintf("%s in %s", k, pick(rng, genLists))
	case 8, 9:
		return fmt.Sprintf("has(%s)", k)
	case 10:
		return "has(action.args.m.k)"
	case 11:
		return fmt.Sprintf("action.args.m.k == %s", c())
	case 12:
		return "action.args.m.k.n == 1 || has(action.args.m.k.n)"
	case 13:
		return fmt.Sprintf("action.args.l[0] == %s", c())
	case 14:
		return fmt.Sprintf("%s in action.args.l", c())
	case 15:
		return fmt.Sprintf("action.args.l.exists(x, x == %s)", c())
	case 16:
		return "action.args.l.all(x, x != 3)"
	case 17:
		return fmt.Sprintf("size(%s) > 0", k)
	case 18:
		return fmt.Sprintf("%s + 1 > 3", k)
	case 19:
		return fmt.Sprintf("%s.matches(\"^[a-z]\")", k)
	case 20:
		return fmt.Sprintf("%s.%s(%s)", k, pick(rng, []string{"startsWith", "endsWith", "contains"}), pick(rng, []string{`"a"`, `""`, `"é"`, `"\xff"`}))
	case 21:
		return k
	case 22:
		return "!" + k
	case 23:
		return fmt.Sprintf("%s(%s) == %s", pick(rng, []string{"int", "uint", "double", "string"}), k, c())
	case 24:
		return fmt.Sprintf("type(%s) == %s", k, pick(rng, []string{"int", "uint", "double", "string", "bool", "null_type"}))
	case 25:
		return `action.args.m == {"k": 1}`
	case 26:
		return `action.args.l == [1, 3]`
	case 27:
		return "sql.destructive(action.args.s)"
	case 28:
		return `action.args["n"] == 3`
	}
	return "action.args.exists(k, k == \"n\")"
}

func genOtherTest(rng *rand.Rand) string {
	return pick(rng, []string{
		`agent.role == "reader"`, `agent.role in ["reader", ""]`, `has(agent.role)`, `agent.role != "reader"`,
		`agent.trust >= 0.5`, `agent.trust < 1`, `agent.trust == 0.0`, `agent.labels.team == "x"`, `has(agent.labels.team)`,
		`peer.present`, `!peer.present`, `peer.trust > 0.5`, `peer.role == "reader"`, `has(peer.labels.k)`,
		`action.meta.k == ""`, `has(action.meta.k)`, `action.path.startsWith("/mem")`, `path.under(action.path, "/mem")`,
		`size(action.args) == 0`, `has(action.args)`, `action.path.matches("^/m.m")`, `now > timestamp("2020-01-01T00:00:00Z")`,
		`true`, `false`,
	})
}

func genAtom(rng *rand.Rand, vars []string) string {
	switch rng.IntN(10) {
	case 0, 1:
		return genFieldTest(rng, "action.tool", genToolLits)
	case 2:
		return genFieldTest(rng, "action.op", genOpLits)
	case 3, 4, 5:
		return genArgTest(rng)
	case 6:
		if len(vars) > 0 {
			return "variables." + pick(rng, vars)
		}
	}
	return genOtherTest(rng)
}

func genCond(rng *rand.Rand, depth int, vars []string) string {
	if depth <= 0 || rng.IntN(3) == 0 {
		return genAtom(rng, vars)
	}
	switch rng.IntN(5) {
	case 0:
		return "!(" + genCond(rng, depth-1, vars) + ")"
	case 1, 2:
		return "(" + genCond(rng, depth-1, vars) + " || " + genCond(rng, depth-1, vars) + ")"
	}
	return "(" + genCond(rng, depth-1, vars) + " && " + genCond(rng, depth-1, vars) + ")"
}

// genWhen is a rule condition: usually a conjunction with tests of the
// tool and the op at the top, where the index reads them.
func genWhen(rng *rand.Rand, vars []string) string {
	var conj []string
	if rng.IntN(10) < 6 {
		conj = append(conj, genFieldTest(rng, "action.tool", genToolLits))
	}
	if rng.IntN(10) < 3 {
		conj = append(conj, genFieldTest(rng, "action.op", genOpLits))
	}
	if len(vars) > 0 && rng.IntN(5) == 0 {
		conj = append(conj, "variables."+pick(rng, vars))
	}
	for range rng.IntN(3) {
		conj = append(conj, genCond(rng, rng.IntN(3), vars))
	}
	if len(conj) == 0 {
		return "true"
	}
	rng.Shuffle(len(conj), func(i, j int) { conj[i], conj[j] = conj[j], conj[i] })
	return strings.Join(conj, " && ")
}

var genVariables = []struct{ name, expr string }{
	{"empty", `action.tool == ""`},
	{"reader", `agent.role == "reader"`},
	{"searchish", `action.tool in ["", "web.search"]`},
	{"execEmpty", `action.op == "exec" && action.tool == ""`},
}

// genCheckEnv declares every variable genDocuments may define, to type-check
// a drawn condition before it goes into a document.
var genCheckEnv = sync.OnceValues(func() (*cel.Env, error) {
	env, err := refEnv()
	if err != nil {
		return nil, err
	}
	for _, v := range genVariables {
		a, iss := env.Compile(v.expr)
		if iss.Err() != nil {
			return nil, iss.Err()
		}
		if env, err = env.Extend(cel.Variable("variables."+v.name, a.OutputType())); err != nil {
			return nil, err
		}
	}
	return env, nil
})

// genRuleWhen draws conditions until one type-checks as a bool (the
// generator is loose: it may compare a conversion with a constant of
// another type, which the checker refuses).
func genRuleWhen(rng *rand.Rand, vars []string) (string, error) {
	env, err := genCheckEnv()
	if err != nil {
		return "", err
	}
	for {
		when := genWhen(rng, vars)
		if a, iss := env.Compile(when); iss.Err() == nil && a.OutputType().IsExactType(cel.BoolType) {
			return when, nil
		}
	}
}

// genDocuments builds one or two documents of random rules that the
// reference compiles, and returns them with the reference.
func genDocuments(rng *rand.Rand) ([]*Document, *reference, error) {
	effects := []string{"allow", "allow", "deny", "approve", "audit"}
	defaults := []string{"", "allow", "deny", "approve", "audit"}
	var docs []*Document
	for di := range 1 + rng.IntN(2) {
		var b strings.Builder
		b.WriteString("spec:\n")
		if def := pick(rng, defaults); def != "" {
			fmt.Fprintf(&b, "  defaultEffect: %s\n", def)
		}
		var vars []string
		if rng.IntN(3) == 0 {
			b.WriteString("  variables:\n")
			for i, v := range genVariables {
				if i == 0 || rng.IntN(2) == 0 {
					fmt.Fprintf(&b, "    - {name: %s, expression: '%s'}\n", v.name, v.expr)
					vars = append(vars, v.name)
				}
			}
		}
		b.WriteString("  rules:\n")
		for i := range 1 + rng.IntN(8) {
			eff := pick(rng, effects)
			when, err := genRuleWhen(rng, vars)
			if err != nil {
				return nil, nil, err
			}
			fmt.Fprintf(&b, "    - name: r%d\n      effect: %s\n      when: '%s'\n", i, eff, strings.ReplaceAll(when, "'", "''"))
			if eff == "deny" && rng.IntN(3) == 0 {
				b.WriteString("      onDeny: refuse\n")
			}
			if rng.IntN(3) == 0 {
				fmt.Fprintf(&b, "      severity: %s\n", pick(rng, []string{"low", "high", "critical"}))
			}
		}
		d, err := Parse(fmt.Sprintf("p%d.yaml", di), []byte(header+fmt.Sprintf("metadata: {name: p%d}\n", di)+b.String()))
		if err != nil {
			return nil, nil, fmt.Errorf("%w\n%s", err, b.String())
		}
		docs = append(docs, d)
	}
	ref, err := newReference(docs)
	if err != nil {
		return nil, nil, err
	}
	return docs, ref, nil
}

func genValue(rng *rand.Rand, depth int) any {
	if depth <= 0 || rng.IntN(4) > 0 {
		return pick(rng, genScalars)
	}
	switch rng.IntN(7) {
	case 0:
		return []any{genValue(rng, depth-1), genValue(rng, depth-1)}
	case 1:
		return []int{1, 3}
	case 2:
		return []string{"a", "\xff"}
	case 3:
		return map[string]any{"k": genValue(rng, depth-1), "n": genValue(rng, depth-1)}
	case 4:
		return map[string]int{"k": 1}
	case 5:
		return map[string]any{}
	}
	return []any{}
}

func genInput(rng *rand.Rand) Input {
	in := Input{
		Action: agentos.Action{ID: "x", Agent: "a1", Op: pick(rng, genOps), Tool: pick(rng, genTools),
			Path: pick(rng, []string{"", "/mem/x", "/etc/passwd", "/mem/../etc", "\xff"})},
		Agent: Subject{ID: "a1", Role: pick(rng, []string{"reader", "reader", "", "admin", "é"}),
			Trust: pick(rng, []float64{0, 0.5, 1, math.NaN()})},
		Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	if rng.IntN(10) > 0 {
		in.Action.Args = map[string]any{}
		for _, k := range []string{"n", "s", "b", "m", "l"} {
			if rng.IntN(10) < 6 {
				in.Action.Args[k] = genValue(rng, 2)
			}
		}
	}
	if rng.IntN(2) == 0 {
		in.Action.Meta = map[string]string{"k": pick(rng, []string{"", "a", "\xff"})}
	}
	if rng.IntN(2) == 0 {
		in.Agent.Labels = map[string]string{"team": pick(rng, []string{"x", "y"})}
	}
	if rng.IntN(2) == 0 {
		in.Peer = &Subject{ID: "p", Role: pick(rng, []string{"reader", ""}), Trust: pick(rng, []float64{0.2, 0.9}),
			Labels: map[string]string{"k": "v"}}
	}
	return in
}

// TestDecideMatchesReference is the equivalence proof of the decision
// path: over random documents and random actions, Decide and Explain (with
// the index and direct evaluation, with the index and CEL only, with
// neither, and with the index merging at decision time) make exactly the decision of the reference, which evaluates
// every rule's whole condition with plain cel-go and combines effects as
// documented. 1,000 policies × 100 actions by default, a million cases
// with -policy.long; the seed is fresh each run (-policy.seed replays one).
// Policies are checked in parallel, each drawn from its own generator
// seeded by the run's seed and its number, so a seed replays the same
// cases however the work is scheduled.
func TestDecideMatchesReference(t *testing.T) {
	seed := testSeed(t)
	policies, actions := 1000, 100
	if *policyLong {
		policies = 10000
	}
	if testing.Short() {
		policies = 200
	}
	var (
		next                        atomic.Int64
		cases, byRule, denied, errs atomic.Int64
		mu                          sync.Mutex
		failure                     string
		wg                          sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				p := int(next.Add(1) - 1)
				if p >= policies {
					return
				}
				st, msg := checkPolicy(seed, p, actions)
				cases.Add(int64(st.cases))
				byRule.Add(int64(st.byRule))
				denied.Add(int64(st.denied))
				errs.Add(int64(st.errs))
				if msg != "" {
					mu.Lock()
					if failure == "" {
						failure = msg
					}
					mu.Unlock()
					next.Store(int64(policies)) // stop the others
					return
				}
			}
		})
	}
	wg.Wait()
	if failure != "" {
		t.Fatal(failure)
	}
	n := cases.Load()
	t.Logf("%d policies × %d actions = %d cases: %d decided by a rule, %d denied, %d with evaluation errors",
		policies, actions, n, byRule.Load(), denied.Load(), errs.Load())
	// The generator must reach both sides of every phase.
	require.Equal(t, int64(policies*actions), n)
	require.Greater(t, byRule.Load(), n/10)
	require.Greater(t, n-byRule.Load(), n/10)
	require.Greater(t, errs.Load(), n/100)
}

type equivStats struct{ cases, byRule, denied, errs int }

// checkPolicy draws policy p of the run with seed and compares the
// engine with the reference on its actions. It returns the description
// of the first difference, or "".
func checkPolicy(seed uint64, p, actions int) (st equivStats, failure string) {
	rng := rand.New(rand.NewPCG(seed, uint64(p)))
	docs, ref, err := genDocuments(rng)
	if err != nil {
		return st, fmt.Sprintf("seed %d, policy %d: generating: %v", seed, p, err)
	}
	src := func() string {
		var b strings.Builder
		for _, d := range docs {
			b.Write(d.Source)
		}
		return b.String()
	}
	e, err := NewEngine(docs)
	if err != nil {
		return st, fmt.Sprintf("seed %d, policy %d: the reference compiles what the engine refuses: %v\n%s", seed, p, err, src())
	}
	// The same compiled rules decided four ways: the default engine for
	// every action, the other three for every third action each.
	engines := []*Engine{e, sameRules(e, withoutDirect()), sameRules(e, withoutIndex()), withoutMerged(e)}
	ctx := context.Background()
	for a := range actions {
		in := genInput(rng)
		wantD, wantX, wantRules := ref.decide(in)
		st.cases++
		if wantD.Rule != "" {
			st.byRule++
		}
		if wantD.Effect == agentos.Deny {
			st.denied++
		}
		if len(wantX.Errors) > 0 {
			st.errs++
		}
		for i, e := range engines {
			if i > 0 && i != 1+a%3 {
				continue
			}
			d, err := e.Decide(ctx, in)
			x, xerr := e.Explain(ctx, in)
			if err == nil && xerr == nil && reflect.DeepEqual(wantD, refOf(d)) &&
				reflect.DeepEqual(wantX, refOf(x.Decision)) && reflect.DeepEqual(wantRules, refResults(x.Rules)) {
				continue
			}
			return st, fmt.Sprintf("seed %d, policy %d, action %d, engine %d (0 default, 1 without direct evaluation, 2 without index, 3 without the merged lists)\n%s\n"+
				"action %+q\nargs %#v\nagent %+v peer %+v\n"+
				"Decide:  %v, %+v\nwant     %+v\nExplain: %v, %+v\nwant     %+v\nrules    %+v\nwant     %+v",
				seed, p, a, i, src(), in.Action, in.Action.Args, in.Agent, in.Peer,
				err, refOf(d), wantD, xerr, refOf(x.Decision), wantX, refResults(x.Rules), wantRules)
		}
	}
	return st, ""
}
