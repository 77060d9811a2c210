package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

// Operands of the random conditions: fields, map entries (present,
// missing, of every type) and constants of every kind.
var directOperands = []string{
	`action.tool`, `action.op`, `action.path`, `agent.role`, `agent.trust`, `peer.trust`, `peer.role`,
	`agent.present`, `peer.present`,
	`action.args.n`, `action.args.s`, `action.args.b`, `action.args.x`, `action.meta.k`, `agent.labels.k`, `peer.labels.k`,
	`3`, `-1`, `0`, `9223372036854775807`, `3u`, `0u`, `18446744073709551615u`, `3.0`, `2.5`, `-0.0`, `1e19`, `-1e19`,
	`"a"`, `""`, `"exec"`, `"3"`, `true`, `false`, `"\xff"`, `"ÿ"`, `"é"`,
}

var directRelations = []string{"==", "!=", "<", "<=", ">", ">="}

func randomCondition(rng *rand.Rand, depth int) string {
	operand := func() string { return directOperands[rng.IntN(len(directOperands))] }
	if depth <= 0 {
		switch rng.IntN(6) {
		case 0:
			return fmt.Sprintf("has(%s)", []string{"action.args.n", "action.args.x", "action.meta.k", "agent.labels.k", "peer.labels.k", "action.tool", "agent.trust", "peer.present"}[rng.IntN(8)])
		case 1:
			lists := []string{`["a", "exec", ""]`, `[1, 3]`, `[3u]`, `[true]`, `["x", "y", "z", "a", "b", "c", "d", "e", "f"]`}
			return fmt.Sprintf("%s in %s", operand(), lists[rng.IntN(len(lists))])
		case 2:
			fn := []string{"startsWith", "endsWith", "contains", "matches"}[rng.IntN(4)]
			arg := []string{`"a"`, `""`, `"ex"`, `"^e.*c$"`}[rng.IntN(4)]
			return fmt.Sprintf("%s.%s(%s)", operand(), fn, arg)
		case 3:
			return []string{"true", "false", "agent.present", "action.args.b == true"}[rng.IntN(4)]
		}
		return fmt.Sprintf("%s %s %s", operand(), directRelations[rng.IntN(len(directRelations))], operand())
	}
	switch rng.IntN(4) {
	case 0:
		return "!(" + randomCondition(rng, depth-1) + ")"
	case 1:
		return "(" + randomCondition(rng, depth-1) + " || " + randomCondition(rng, depth-1) + ")"
	}
	return "(" + randomCondition(rng, depth-1) + " && " + randomCondition(rng, depth-1) + ")"
}

var directValues = []any{
	3, int64(-1), int32(7), uint(3), uint64(math.MaxUint64), uint32(0), 3.0, 2.5, float32(2.5), math.NaN(), math.Inf(1), math.Copysign(0, -1), 1e19,
	"a", "", "exec", "3", true, false, nil, []any{1}, map[string]any{"a": 1}, int8(3), json3{},
	json.Number("3"), json.Number("2.5"), json.Number("x"), myInt(3), myUint(3), myFloat(2.5), myString("a"), myBool(true),
	"\xff", "ÿ", "é", "e\u0301", uint8(3), int16(-1),
}

// json3 is a value of a type the CEL adapter converts by reflection:
// direct evaluation leaves it to CEL.
type json3 struct{}

func randomInput(rng *rand.Rand) Input {
	pick := func() any { return directValues[rng.IntN(len(directValues))] }
	args := map[string]any{}
	for _, k := range []string{"n", "s", "b"} {
		if rng.IntN(4) > 0 {
			args[k] = pick()
		}
	}
	in := Input{
		Action: agentos.Action{Op: []agentos.Op{agentos.OpExec, agentos.OpRead, ""}[rng.IntN(3)],
			Tool: []string{"a", "exec", "", "3", "\xff", "ÿ"}[rng.IntN(6)], Path: []string{"", "/a", "a", "\xff"}[rng.IntN(4)], Args: args},
		Agent: Subject{ID: "a1", Role: []string{"a", "", "exec"}[rng.IntN(3)], Trust: []float64{0, 2.5, 3, math.NaN()}[rng.IntN(4)]},
	}
	if rng.IntN(2) == 0 {
		in.Action.Meta = map[string]string{"k": []string{"a", "3", ""}[rng.IntN(3)]}
	}
	if rng.IntN(2) == 0 {
		in.Agent.Labels = map[string]string{"k": "a"}
	}
	if rng.IntN(2) == 0 {
		in.Peer = &Subject{ID: "p", Role: "a", Trust: []float64{3, 0.5}[rng.IntN(2)], Labels: map[string]string{"k": "exec"}}
	}
	return in
}

// TestDirectMatchesCEL compares direct evaluation with the program it was
// compiled from, the rule's residual, over random conditions and inputs
// (a fresh seed each run, -policy.seed replays one): where direct
// evaluation decides, CEL must give the same bool; where CEL fails, direct
// evaluation must not decide. Half the conditions start with tests of the
// tool and the op, which the residual drops.
func TestDirectMatchesCEL(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 11))
	var compiled, checked, decided, stripped int
	for compiled < 400 {
		when := randomCondition(rng, rng.IntN(4))
		if rng.IntN(2) == 0 {
			when = fmt.Sprintf(`action.tool in [%s, "a"] && action.op == %s && %s`,
				[]string{`""`, `"exec"`, `"\xff"`}[rng.IntN(3)], []string{`""`, `"exec"`}[rng.IntN(2)], when)
		}
		d, err := Parse("p.yaml", []byte(header+"metadata: {name: p}\nspec:\n  rules:\n    - name: r\n      effect: allow\n      when: '"+when+"'\n"))
		require.NoError(t, err)
		e, err := NewEngine([]*Document{d})
		if err != nil {
			continue // ill-typed: the checker refuses it, as it should
		}
		compiled++
		r := e.cur.Load().permit.all[0]
		if r.cons.ops != nil || r.cons.tools != nil {
			stripped++
		}
		if r.direct == nil {
			continue
		}
		for range 40 {
			in := randomInput(rng)
			st := new(evalState)
			st.reset(&in, time.Now, types.DefaultTypeAdapter)
			got := r.direct(st)
			m, ok := got == triTrue, got != triUndecided
			st.reset(&in, time.Now, types.DefaultTypeAdapter)
			out, _, cerr := r.residual.Eval(st)
			want, werr := result(out, cerr)
			checked++
			if !ok {
				continue
			}
			decided++
			require.NoError(t, werr, "%s: direct evaluation decided %v where CEL fails, input %+v args %#v", when, m, in.Action, in.Action.Args)
			require.Equal(t, want, m, "%s, input %+v args %#v", when, in.Action, in.Action.Args)
		}
	}
	t.Logf("%d conditions (%d with a residual), %d evaluations, %d decided directly", compiled, stripped, checked, decided)
	assert.Greater(t, stripped, compiled/4, "residuals should be compared")
	assert.Greater(t, decided, checked/4, "direct evaluation should decide most evaluations")
}

func TestCompileDirect(t *testing.T) {
	tests := []struct {
		when   string
		direct bool
	}{
		{`action.tool == "a" && has(action.args.n) && action.args.n > 3`, true},
		{`agent.role in ["a", "b"] || !(action.path.startsWith("/etc/"))`, true},
		{`action.args.q.matches("^SELECT")`, true},
		{`peer.present && peer.trust >= 0.5 && agent.labels.team == "x"`, true},
		{`action.meta.k != "" && action.op == "exec"`, true},
		{`[1, 2].exists(x, x == action.args.n)`, false}, // a comprehension
		{`action.args.n + 1 > 3`, false},                // arithmetic
		{`now > action.at`, false},                      // timestamps
		{`size(action.args) > 1`, false},
		{`sql.destructive(action.args.q)`, false},
		{`action.args["n"] == 3`, false}, // index operator
		{`action.args.q.matches(action.args.p)`, false},
		{`action.args.n in [1.5, 2.5]`, false}, // double list
	}
	for _, tt := range tests {
		t.Run(tt.when, func(t *testing.T) {
			d := doc(t, "p", "spec:\n  rules:\n"+r("x", "allow", tt.when))
			e := engine(t, nil, d)
			assert.Equal(t, tt.direct, e.cur.Load().permit.all[0].direct != nil)
		})
	}
}

// The lookup cache keeps entries of different maps apart and is empty at
// the start of every decision.
func TestDirectLookupCache(t *testing.T) {
	d := doc(t, "p", "spec:\n  rules:\n"+
		r("m", "deny", `has(action.meta.k) && action.meta.k == "meta"`)+
		r("a", "allow", `has(action.args.k) && action.args.k == "args" && agent.labels.k == "label"`))
	e := engine(t, nil, d)
	in := exec("t", map[string]any{"k": "args"})
	in.Action.Meta = map[string]string{"k": "other"}
	in.Agent.Labels = map[string]string{"k": "label"}
	assert.Equal(t, agentos.Allow, decide(t, e, in).Effect)
	in.Action.Meta["k"] = "meta"
	assert.Equal(t, agentos.Deny, decide(t, e, in).Effect)
	in.Action.Meta = nil
	in.Action.Args["k"] = "nope"
	got := decide(t, e, in)
	assert.Equal(t, agentos.Deny, got.Effect)
	assert.Equal(t, "", got.Rule, "the default denies")
}

// A residual never reaches CEL with the conjuncts the index proved; the
// full program keeps them.
func TestResidual(t *testing.T) {
	d := doc(t, "p", "spec:\n  rules:\n"+
		r("x", "allow", `action.op == "exec" && action.tool in ["a", "b"] && agent.role == "r"`)+
		r("y", "allow", `action.tool == "a"`)+
		r("z", "allow", `agent.role == "r"`))
	e := engine(t, nil, d)
	all := e.cur.Load().permit.all
	for _, c := range all {
		assert.NotNil(t, c.residual)
	}
	assert.NotSame(t, &all[0].prg, &all[0].residual)
	// The residual of x tests only the role: evaluated for any action, it
	// ignores op and tool.
	in := Input{Action: agentos.Action{Op: agentos.OpRead, Tool: "zzz"}, Agent: Subject{Role: "r"}}
	st := new(evalState)
	st.reset(&in, time.Now, types.DefaultTypeAdapter)
	out, _, err := all[0].residual.Eval(st)
	require.NoError(t, err)
	assert.Equal(t, types.True, out)
	out, _, err = all[0].prg.Eval(st)
	require.NoError(t, err)
	assert.Equal(t, types.False, out)
	// y's residual is true; z has no constraint, so its residual is its
	// program.
	out, _, err = all[1].residual.Eval(st)
	require.NoError(t, err)
	assert.Equal(t, types.True, out)
	assert.Equal(t, all[2].prg, all[2].residual)
	// Through the engine, the index keeps the meaning.
	got, err := e.Decide(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, "z", got.Rule)
	in.Agent.Role = "q"
	got, err = e.Decide(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, agentos.Deny, got.Effect)
	assert.True(t, strings.HasPrefix(got.Message, "no rule matched"))
}
