package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

func rules(lines ...string) string {
	return "spec:\n  rules:\n" + strings.Join(lines, "")
}

func r(name, effect, when string, extra ...string) string {
	s := fmt.Sprintf("    - name: %s\n      effect: %s\n      when: %q\n", name, effect, when)
	for _, e := range extra {
		s += "      " + e + "\n"
	}
	return s
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
		line int
		col  int
	}{
		{"syntax", rules(r("x", "allow", "action.tool ==")), "Syntax error", 8, 0},
		{"not boolean", rules(r("x", "allow", "action.tool")), "when must be a boolean expression, but its type is string", 8, 13},
		{"dyn is not boolean", rules(r("x", "allow", "action.args.flag")), "but its type is dyn", 8, 13},
		{"undeclared identifier", rules(r("x", "allow", `actoin.tool == "a"`)), "undeclared reference to 'actoin'", 8, 14},
		{"unknown field", rules(r("x", "allow", `action.tol == "a"`)), "undefined field 'tol'", 8, 0},
		{"undeclared variable", rules(r("x", "allow", `variables.isSQL`)), "undeclared reference", 8, 0},
		{"type error", rules(r("x", "allow", `action.tool > 3`)), "no matching overload", 8, 0},
		{"cost over budget", rules(r("x", "deny", `lists.range(10000).all(i, lists.range(10000).all(j, action.path.matches(string(i))))`)), "over the budget", 8, 13},
		{"bad variable", "spec:\n  variables:\n    - {name: v, expression: 'action.nope'}\n  rules:\n" + r("x", "allow", "true"), "undefined field 'nope'", 6, 0},
		{"variable uses later variable", "spec:\n  variables:\n    - {name: a, expression: 'variables.b'}\n    - {name: b, expression: 'true'}\n  rules:\n" + r("x", "allow", "variables.a"), "undeclared reference", 6, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := doc(t, "p", tt.body)
			_, err := NewEngine([]*Document{d})
			require.Error(t, err)
			assert.ErrorIs(t, err, agentos.ErrInvalid)
			assert.Contains(t, err.Error(), tt.want)
			var pe *Error
			require.True(t, errors.As(err, &pe))
			assert.Equal(t, "p.yaml", pe.File)
			assert.Equal(t, "p", pe.Policy)
			assert.NotEmpty(t, pe.Rule)
			if tt.line > 0 {
				assert.Equal(t, tt.line, pe.Line, err.Error())
			}
			if tt.col > 0 {
				assert.Equal(t, tt.col, pe.Column, err.Error())
			}
		})
	}
}

func TestCompileErrorPositionInsideExpression(t *testing.T) {
	src := header + "metadata: {name: p}\nspec:\n  rules:\n    - name: x\n      effect: allow\n      when: action.tool == \"a\" && action.nope\n"
	d, err := Parse("p.yaml", []byte(src))
	require.NoError(t, err)
	_, err = NewEngine([]*Document{d})
	require.Error(t, err)
	// "when: " starts the scalar at column 13; ".nope" is 25 bytes in.
	assert.Contains(t, err.Error(), `p.yaml:8:41: policy "p": rule "x": undefined field 'nope'`)

	block := header + "metadata: {name: p}\nspec:\n  rules:\n    - name: x\n      effect: allow\n      when: |\n        action.tool == \"a\" &&\n          action.nope\n"
	d, err = Parse("p.yaml", []byte(block))
	require.NoError(t, err)
	_, err = NewEngine([]*Document{d})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "p.yaml:10:17:")
}

func TestCostBudget(t *testing.T) {
	d := doc(t, "p", rules(r("x", "deny", `action.args.items.exists(i, action.path.matches("^/a"))`)))
	_, err := NewEngine([]*Document{d})
	require.NoError(t, err)
	_, err = NewEngine([]*Document{d}, WithCostBudget(100))
	require.ErrorIs(t, err, ErrBudget)
	_, err = NewEngine([]*Document{d}, WithSizeHints(SizeHints{MaxString: 8, MaxEntries: 2}), WithCostBudget(100))
	require.NoError(t, err, "with small size hints the same rule fits the budget")
}

func TestDuplicateRulesAcrossDocuments(t *testing.T) {
	a := doc(t, "shared", rules(r("x", "allow", "true")))
	b := doc(t, "shared", rules(r("x", "deny", "true")))
	_, err := NewEngine([]*Document{a, b})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "duplicate rule name (also defined in shared.yaml:6)")

	other := doc(t, "other", rules(r("x", "deny", "true")))
	_, err = NewEngine([]*Document{a, other})
	require.NoError(t, err, "the same rule name in differently named documents is fine")
}

func TestManyErrorsAreBounded(t *testing.T) {
	var body []string
	for i := range 50 {
		body = append(body, r(fmt.Sprintf("r%d", i), "allow", "action.nope"))
	}
	_, err := NewEngine([]*Document{doc(t, "p", rules(body...))})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "and 30 more errors")
}

func TestCombination(t *testing.T) {
	tests := []struct {
		name   string
		docs   []string
		in     Input
		effect agentos.Effect
		rule   string
	}{
		{"no rule matches: default deny", []string{rules(r("a", "allow", `action.tool == "x"`))}, exec("y", nil), agentos.Deny, ""},
		{"allow", []string{rules(r("a", "allow", `action.tool == "x"`))}, exec("x", nil), agentos.Allow, "a"},
		{"deny overrides allow", []string{rules(r("a", "allow", "true"), r("d", "deny", `action.tool == "x"`))}, exec("x", nil), agentos.Deny, "d"},
		{"deny overrides allow, other order", []string{rules(r("d", "deny", `action.tool == "x"`), r("a", "allow", "true"))}, exec("x", nil), agentos.Deny, "d"},
		{"deny overrides approve", []string{rules(r("p", "approve", "true"), r("d", "deny", "true"))}, exec("x", nil), agentos.Deny, "d"},
		{"approve over allow", []string{rules(r("a", "allow", "true"), r("p", "approve", "true"))}, exec("x", nil), agentos.Approve, "p"},
		{"audit flags allow", []string{rules(r("a", "allow", "true"), r("u", "audit", "true"))}, exec("x", nil), agentos.Audit, "u"},
		{"audit alone", []string{rules(r("u", "audit", "true"))}, exec("x", nil), agentos.Audit, "u"},
		{"first deny in order names the decision", []string{rules(r("d1", "deny", "true"), r("d2", "deny", "true"))}, exec("x", nil), agentos.Deny, "d1"},
		{"default allow", []string{"spec:\n  defaultEffect: allow\n"}, exec("x", nil), agentos.Allow, ""},
		{"default audit", []string{"spec:\n  defaultEffect: audit\n"}, exec("x", nil), agentos.Audit, ""},
		{"most restrictive default wins", []string{"spec:\n  defaultEffect: allow\n", "spec:\n  defaultEffect: deny\n"}, exec("x", nil), agentos.Deny, ""},
		{"absent default counts as deny", []string{"spec:\n  defaultEffect: allow\n", "spec: {}\n"}, exec("x", nil), agentos.Deny, ""},
		{"approve default beats allow default", []string{"spec:\n  defaultEffect: allow\n", "spec:\n  defaultEffect: approve\n"}, exec("x", nil), agentos.Approve, ""},
		{"deny in one document overrides allow in another", []string{rules(r("a", "allow", "true")), rules(r("d", "deny", `action.tool == "x"`))}, exec("x", nil), agentos.Deny, "d"},
		{"allow in one document, default deny in another", []string{rules(r("a", "allow", "true")), "spec: {}\n"}, exec("x", nil), agentos.Allow, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var docs []*Document
			for i, body := range tt.docs {
				docs = append(docs, doc(t, fmt.Sprintf("p%d", i), body))
			}
			for _, indexed := range []bool{true, false} {
				var opts []Option
				if !indexed {
					opts = append(opts, withoutIndex())
				}
				d := decide(t, engine(t, opts, docs...), tt.in)
				assert.Equal(t, tt.effect, d.Effect, d.String())
				assert.Equal(t, tt.rule, d.Rule)
				assert.Empty(t, d.Errors)
			}
		})
	}
}

func TestNoDocumentsDeniesEverything(t *testing.T) {
	e := engine(t, nil)
	assert.Equal(t, "none", e.Version())
	for _, in := range []Input{exec("x", nil), {Action: agentos.Action{Op: agentos.OpRead, Path: "/mem/working/a"}}} {
		d := decide(t, e, in)
		assert.Equal(t, agentos.Deny, d.Effect)
		assert.Contains(t, d.Message, "no policy is loaded")
	}
	var nilEngine *Engine
	d, err := nilEngine.Decide(context.Background(), exec("x", nil))
	require.ErrorIs(t, err, ErrUndecided)
	assert.Equal(t, agentos.Deny, d.Effect)
}

func TestDecisionFields(t *testing.T) {
	d := doc(t, "p", rules(
		r("kill", "deny", `action.tool == "k"`, "severity: critical", "message: no k"),
		r("refuse", "deny", `action.tool == "r"`, "severity: low", "onDeny: refuse", "message: no r"),
		r("ok", "allow", `action.tool == "a"`, "severity: medium", "message: fine"),
	))
	e := engine(t, nil, d)
	got := decide(t, e, exec("k", nil))
	assert.Equal(t, agentos.Decision{Effect: agentos.Deny, Rule: "kill", Message: "no k", Severity: agentos.SeverityCritical,
		PolicyVersion: e.Version()}, got)
	got = decide(t, e, exec("r", nil))
	assert.True(t, got.Refuse)
	assert.Equal(t, agentos.SeverityLow, got.Severity)
	got = decide(t, e, exec("a", nil))
	assert.Equal(t, agentos.Decision{Effect: agentos.Allow, Rule: "ok", Message: "fine", Severity: agentos.SeverityMedium,
		PolicyVersion: e.Version()}, got)
}

func TestErrorsNeverOpenADoor(t *testing.T) {
	d := doc(t, "p", rules(
		r("deny-big", "deny", `action.tool == "pay" && action.args.amount > 100`, "message: too much"),
		r("allow-small", "allow", `action.tool == "pay" && action.args.amount <= 100`),
		r("allow-typed", "allow", `action.tool == "t" && action.args.n + 1 > 0`),
	))
	e := engine(t, nil, d)

	// The deny rule fails (no amount): it counts as matched.
	got := decide(t, e, exec("pay", map[string]any{}))
	assert.Equal(t, agentos.Deny, got.Effect)
	assert.Equal(t, "deny-big", got.Rule)
	assert.Contains(t, got.Message, "failed to evaluate")
	require.Len(t, got.Errors, 1)
	assert.Contains(t, got.Errors[0], "p/deny-big")
	assert.Contains(t, got.Errors[0], "no such key")

	// The allow rule fails (n is a string): it does not match.
	got = decide(t, e, exec("t", map[string]any{"n": "one"}))
	assert.Equal(t, agentos.Deny, got.Effect)
	assert.Equal(t, "", got.Rule)
	require.Len(t, got.Errors, 1)
	assert.Contains(t, got.Errors[0], "p/allow-typed")

	got = decide(t, e, exec("pay", map[string]any{"amount": 50}))
	assert.Equal(t, agentos.Allow, got.Effect)
	got = decide(t, e, exec("pay", map[string]any{"amount": 500.5}))
	assert.Equal(t, agentos.Deny, got.Effect)
	assert.Empty(t, got.Errors)

	// Values CEL cannot represent are errors too.
	got = decide(t, e, exec("pay", map[string]any{"amount": make(chan int)}))
	assert.Equal(t, agentos.Deny, got.Effect)
	assert.NotEmpty(t, got.Errors)
}

func TestVariables(t *testing.T) {
	d := doc(t, "p", `spec:
  variables:
    - name: isSQL
      expression: action.tool == "sql.query"
    - name: query
      expression: 'variables.isSQL ? action.args.query : ""'
    - name: admin
      expression: agent.role == "admin"
  rules:
    - name: no-destructive
      effect: deny
      when: variables.isSQL && sql.destructive(variables.query)
    - name: sql
      effect: allow
      when: variables.isSQL && (variables.admin || !variables.query.contains("salary"))
`)
	e := engine(t, nil, d)
	in := exec("sql.query", map[string]any{"query": "select name from staff"})
	assert.Equal(t, agentos.Allow, decide(t, e, in).Effect)
	in.Action.Args["query"] = "select salary from staff"
	assert.Equal(t, agentos.Deny, decide(t, e, in).Effect)
	in.Agent.Role = "admin"
	assert.Equal(t, agentos.Allow, decide(t, e, in).Effect)
	in.Action.Args["query"] = "DELETE FROM staff"
	assert.Equal(t, "no-destructive", decide(t, e, in).Rule)
}

func TestCELVariables(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	d := doc(t, "p", rules(
		r("fields", "allow", `action.id == "t1" && action.agent == "a1" && action.op == "send" && action.path == "/p" &&
      action.target == "a2" && action.payloadType == "main.Msg" && action.meta.env == "prod" &&
      action.at == timestamp("2025-03-04T05:06:07Z") && agent.id == "a1" && agent.role == "r" &&
      agent.trust == 0.5 && agent.labels.team == "x" && agent.present &&
      peer.present && peer.id == "a2" && peer.trust > 0.8 && has(peer.labels.team) &&
      now == timestamp("2025-03-04T05:06:08Z") && has(action.path) && !has(action.tool)`)))
	e := engine(t, nil, d)
	in := Input{
		Action: agentos.Action{ID: "t1", Agent: "a1", Op: agentos.OpSend, Path: "/p", Target: "a2",
			PayloadType: "main.Msg", Meta: map[string]string{"env": "prod"}, At: at},
		Agent: Subject{ID: "a1", Role: "r", Trust: 0.5, Labels: map[string]string{"team": "x"}},
		Peer:  &Subject{ID: "a2", Trust: 0.9, Labels: map[string]string{"team": "y"}},
		Now:   at.Add(time.Second),
	}
	got := decide(t, e, in)
	assert.Equal(t, agentos.Allow, got.Effect, got.Errors)
}

func TestPeerAbsent(t *testing.T) {
	d := doc(t, "p", rules(
		r("trusted-peer", "allow", `action.op == "send" && peer.present && peer.trust >= 0.5`),
		r("no-peer", "audit", `action.op == "send" && !peer.present && peer.trust == 0.0 && peer.id == "" && !has(peer.id)`),
	))
	e := engine(t, nil, d)
	in := Input{Action: agentos.Action{Op: agentos.OpSend, Target: "t"}}
	got := decide(t, e, in)
	assert.Equal(t, agentos.Audit, got.Effect)
	assert.Equal(t, "no-peer", got.Rule)
	in.Peer = &Subject{ID: "b", Trust: 0.7}
	assert.Equal(t, agentos.Allow, decide(t, e, in).Effect)
}

func TestNowUsesClock(t *testing.T) {
	clk := newFakeClock()
	d := doc(t, "p", rules(r("office-hours", "allow", `now.getHours() >= 9 && now.getHours() < 17`)))
	e := engine(t, []Option{WithClock(clk.Now)}, d)
	assert.Equal(t, agentos.Deny, decide(t, e, exec("x", nil)).Effect, "03:04 UTC")
	clk.Advance(7 * time.Hour)
	assert.Equal(t, agentos.Allow, decide(t, e, exec("x", nil)).Effect, "10:04 UTC")
	in := exec("x", nil)
	in.Now = time.Date(2025, 1, 1, 20, 0, 0, 0, time.UTC)
	assert.Equal(t, agentos.Deny, decide(t, e, in).Effect, "Input.Now wins over the clock")
}

func TestHelpersInRules(t *testing.T) {
	d := doc(t, "p", rules(
		r("no-pii", "deny", `action.op == "send" && (pii.card(string(action.args.body)) || pii.ssn(string(action.args.body)))`),
		r("policy-ro", "deny", `action.op == "write" && path.under(action.path, "/policy")`),
		r("rest", "allow", "true"),
	))
	e := engine(t, nil, d)
	send := func(body string) Input {
		return Input{Action: agentos.Action{Op: agentos.OpSend, Args: map[string]any{"body": body}}}
	}
	assert.Equal(t, agentos.Deny, decide(t, e, send("card 4111 1111 1111 1111 thanks")).Effect)
	assert.Equal(t, agentos.Deny, decide(t, e, send("ssn 123-45-6789")).Effect)
	assert.Equal(t, agentos.Allow, decide(t, e, send("order 1234")).Effect)
	write := func(p string) Input { return Input{Action: agentos.Action{Op: agentos.OpWrite, Path: p}} }
	assert.Equal(t, agentos.Deny, decide(t, e, write("/policy/x.yaml")).Effect)
	assert.Equal(t, agentos.Deny, decide(t, e, write("/mem/../policy/x")).Effect)
	assert.Equal(t, agentos.Allow, decide(t, e, write("/policyX/x")).Effect)
}

func TestBoundedEvaluation(t *testing.T) {
	t.Run("cost limit on loops", func(t *testing.T) {
		d := doc(t, "p", rules(
			r("loop-deny", "deny", `action.tool == "d" && lists.range(5000).exists(i, lists.range(5000).exists(j, i * j < 0))`),
			r("loop-allow", "allow", `action.tool == "a" && lists.range(5000).all(i, lists.range(5000).all(j, i * j >= 0))`),
		))
		e := engine(t, []Option{WithCostBudget(1 << 40), WithCostLimit(100000), WithEvalTimeout(time.Minute)}, d)
		got := decide(t, e, exec("d", nil))
		assert.Equal(t, agentos.Deny, got.Effect)
		assert.Equal(t, "loop-deny", got.Rule)
		require.Len(t, got.Errors, 1)
		assert.Contains(t, got.Errors[0], "cost limit exceeded")
		got = decide(t, e, exec("a", nil))
		assert.Equal(t, agentos.Deny, got.Effect)
		assert.Equal(t, "", got.Rule, "a failing allow rule does not match")
		assert.Contains(t, got.Errors[0], "cost limit exceeded")
	})
	t.Run("lists.range is bounded before allocating", func(t *testing.T) {
		d := doc(t, "p", rules(r("huge", "deny", `lists.range(int(action.args.n)).size() > 0`)))
		_, err := NewEngine([]*Document{d})
		require.ErrorIs(t, err, ErrBudget, "an unbounded range is refused at load")
		d = doc(t, "p", rules(r("huge", "deny", `lists.range(20000).size() > 0`)))
		e := engine(t, []Option{WithCostBudget(1 << 62)}, d)
		got := decide(t, e, exec("x", nil))
		assert.Equal(t, agentos.Deny, got.Effect)
		require.Len(t, got.Errors, 1)
		assert.Contains(t, got.Errors[0], "exceeds maximum allowed")
	})
	t.Run("deadline", func(t *testing.T) {
		d := doc(t, "p", rules(r("slow", "allow", `lists.range(10000).all(i, lists.range(10000).all(j, action.path.matches("^(a|b)*c$") || true))`)))
		e := engine(t, []Option{WithCostBudget(1 << 62), WithCostLimit(1 << 62), WithEvalTimeout(time.Millisecond)}, d)
		start := time.Now()
		got := decide(t, e, Input{Action: agentos.Action{Op: agentos.OpRead, Path: strings.Repeat("ab", 50)}})
		assert.Less(t, time.Since(start), 5*time.Second)
		assert.Equal(t, agentos.Deny, got.Effect)
		require.Len(t, got.Errors, 1)
		assert.Contains(t, got.Errors[0], "interrupted")
	})
	t.Run("caller context", func(t *testing.T) {
		d := doc(t, "p", rules(r("a", "allow", "true")))
		e := engine(t, nil, d)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got, err := e.Decide(ctx, exec("x", nil))
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, ErrUndecided)
		assert.Equal(t, agentos.Deny, got.Effect)
	})
}

func TestVersionAndDocuments(t *testing.T) {
	a := doc(t, "a", "spec: {}\n")
	b, err := Parse("b.yaml", []byte(header+"metadata: {name: b, version: '3'}\nspec: {}\n"))
	require.NoError(t, err)
	e := engine(t, nil, a, b)
	v := e.Version()
	assert.True(t, strings.HasPrefix(v, "a,b@3+"), v)
	assert.Equal(t, []*Document{a, b}, e.Documents())
	e.Documents()[0] = nil
	assert.Equal(t, a, e.Documents()[0], "Documents returns a copy of the list")

	b2, err := Parse("b.yaml", []byte(header+"metadata: {name: b, version: '3'}\nspec: {defaultEffect: deny}\n"))
	require.NoError(t, err)
	require.NoError(t, e.Reload([]*Document{a, b2}))
	assert.NotEqual(t, v, e.Version(), "same names and versions, different content")
	assert.True(t, strings.HasPrefix(e.Version(), "a,b@3+"))
}

func TestReload(t *testing.T) {
	v1 := doc(t, "p", rules(r("a", "allow", `action.tool == "x"`)))
	e := engine(t, nil, v1)
	assert.Equal(t, agentos.Allow, decide(t, e, exec("x", nil)).Effect)
	old := e.Version()

	bad := doc(t, "p", rules(r("a", "allow", `action.nope`)))
	require.Error(t, e.Reload([]*Document{bad}))
	assert.Equal(t, old, e.Version(), "a failed reload keeps the old set")
	assert.Equal(t, agentos.Allow, decide(t, e, exec("x", nil)).Effect)

	v2 := doc(t, "p", rules(r("a", "deny", `action.tool == "x"`)))
	require.NoError(t, e.Reload([]*Document{v2}))
	assert.NotEqual(t, old, e.Version())
	d := decide(t, e, exec("x", nil))
	assert.Equal(t, agentos.Deny, d.Effect)
	assert.Equal(t, e.Version(), d.PolicyVersion)

	require.NoError(t, e.Reload(nil))
	assert.Equal(t, agentos.Deny, decide(t, e, exec("x", nil)).Effect)
}

func TestReloadConcurrentWithDecide(t *testing.T) {
	allow := doc(t, "p", rules(r("a", "allow", "true")))
	deny := doc(t, "p", rules(r("d", "deny", "true")))
	e := engine(t, nil, allow)
	versions := map[string]agentos.Effect{e.Version(): agentos.Allow}
	require.NoError(t, e.Reload([]*Document{deny}))
	versions[e.Version()] = agentos.Deny

	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			docs := []*Document{allow}
			if i%2 == 1 {
				docs = []*Document{deny}
			}
			assert.NoError(t, e.Reload(docs))
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 500 {
				d, err := e.Decide(context.Background(), exec("x", nil))
				if !assert.NoError(t, err) {
					return
				}
				want, ok := versions[d.PolicyVersion]
				assert.True(t, ok, d.PolicyVersion)
				assert.Equal(t, want, d.Effect, "every decision is consistent with the version it names")
			}
		})
	}
	time.Sleep(10 * time.Millisecond)
	cancel()
	wg.Wait()
}

func TestShadow(t *testing.T) {
	active := doc(t, "active", rules(r("a", "allow", "true")))
	candidate := doc(t, "candidate", rules(r("no-search", "deny", `action.tool == "web.search"`), r("a", "allow", "true")))
	shadow := engine(t, nil, candidate)
	e := engine(t, []Option{WithShadow(shadow)}, active)

	got := decide(t, e, exec("web.search", nil))
	assert.Equal(t, agentos.Allow, got.Effect, "the shadow is never enforced")
	require.NotNil(t, got.Shadow)
	assert.Equal(t, agentos.Deny, got.Shadow.Effect)
	assert.Equal(t, "no-search", got.Shadow.Rule)
	assert.Equal(t, shadow.Version(), got.Shadow.PolicyVersion)

	got = decide(t, e, exec("other", nil))
	require.NotNil(t, got.Shadow)
	assert.Equal(t, got.Effect, got.Shadow.Effect)

	x, err := e.Explain(context.Background(), exec("web.search", nil))
	require.NoError(t, err)
	require.NotNil(t, x.Decision.Shadow)
	assert.Equal(t, agentos.Deny, x.Decision.Shadow.Effect)

	_, err = NewEngine(nil, WithShadow(nil))
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestExplain(t *testing.T) {
	d := doc(t, "p", rules(
		r("d", "deny", `action.tool == "x" && action.args.n > 5`, "message: too many", "severity: high"),
		r("broken", "deny", `action.tool == "x" && action.args.missing`),
		r("a", "allow", `action.tool == "x"`, "message: ok"),
		r("u", "audit", `action.tool == "x"`),
		r("other", "allow", `action.tool == "y"`),
	))
	e := engine(t, nil, d)
	x, err := e.Explain(context.Background(), exec("x", map[string]any{"n": 9}))
	require.NoError(t, err)
	assert.Equal(t, agentos.Deny, x.Decision.Effect)
	assert.Equal(t, "d", x.Decision.Rule)
	require.Len(t, x.Rules, 4)
	assert.Equal(t, RuleResult{Policy: "p", Rule: "d", Effect: agentos.Deny, Severity: agentos.SeverityHigh, Message: "too many", Matched: true}, x.Rules[0])
	assert.Equal(t, "broken", x.Rules[1].Rule)
	assert.True(t, x.Rules[1].Matched, "a failing deny rule counts as matched")
	assert.Contains(t, x.Rules[1].Error, "no such key")
	assert.Equal(t, "a", x.Rules[2].Rule)
	assert.Equal(t, "u", x.Rules[3].Rule)
	assert.Equal(t, 4, x.Evaluated)
	assert.Equal(t, 1, x.Skipped)
	s := x.String()
	assert.Contains(t, s, "deny by d: too many")
	assert.Contains(t, s, "matched p/broken (deny, info) [error:")
	assert.Contains(t, s, "1 skipped by the index")

	dd := decide(t, e, exec("x", map[string]any{"n": 9}))
	assert.Equal(t, x.Decision.Effect, dd.Effect)
	assert.Equal(t, x.Decision.Rule, dd.Rule)
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Option{WithClock(nil), WithCostLimit(0), WithCostBudget(0), WithEvalTimeout(0),
		WithSizeHints(SizeHints{}), WithMaxRateBuckets(0)} {
		_, err := NewEngine(nil, o)
		require.ErrorIs(t, err, agentos.ErrInvalid)
	}
	_, err := NewEngine([]*Document{nil})
	require.ErrorIs(t, err, agentos.ErrInvalid)
}
