package kernel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// brokenEvaluator cannot decide; it even claims to allow while failing.
type brokenEvaluator struct{ effect agentos.Effect }

func (b brokenEvaluator) Decide(context.Context, policy.Input) (agentos.Decision, error) {
	return agentos.Decision{Effect: b.effect, Rule: ""}, errors.New("engine on fire")
}

func TestEngineErrorDenies(t *testing.T) {
	for _, eff := range []agentos.Effect{agentos.Deny, agentos.Allow, agentos.Audit, agentos.Approve} {
		t.Run(eff.String(), func(t *testing.T) {
			ctx := context.Background()
			c := &counter{}
			k := kerneltest.New(t, kernel.WithPolicy(brokenEvaluator{eff}), kernel.WithTool("sql.query", c.tool),
				kernel.WithApprover(func(context.Context, agentos.Action, agentos.Decision) (bool, error) { return true, nil }, 0))
			a := k.MustSpawn("a")

			err := a.Write(ctx, "/mem/working/x", []byte("1"))
			v := kerneltest.DeniedBy(t, err, kernel.RulePolicyError)
			assert.NotEmpty(t, v.Decision.Errors)
			_, err = a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
			kerneltest.DeniedBy(t, err, kernel.RulePolicyError)

			assert.False(t, exists(t, k, "a", "mem/working/x"), "the write happened")
			assert.Zero(t, c.runs.Load(), "the tool ran")
			assert.Equal(t, signals.Running, a.State(), "an engine error refuses; it does not kill")
			d := k.LastDecision("a")
			assert.Equal(t, agentos.Deny, d.Effect)
			assert.Contains(t, d.Error, "engine on fire")
		})
	}
}

func TestUnknownOpDenied(t *testing.T) {
	ctx := context.Background()
	k, _ := newTestKernel(t)
	a := k.MustSpawn("a")
	for _, op := range []agentos.Op{"", "READ", "read ", "exec\x00", "spawn2", "рead"} {
		ran := false
		_, err := a.Do(ctx, agentos.Action{Op: op}, func(context.Context) (any, error) { ran = true; return nil, nil })
		kerneltest.DeniedBy(t, err, kernel.RuleUnknownOp)
		assert.ErrorIs(t, err, agentos.ErrInvalid)
		assert.False(t, ran, "op %q ran", op)
		d := k.LastDecision("a")
		assert.Equal(t, kernel.RuleUnknownOp, d.Rule)
		assert.Equal(t, recorder.StatusDenied, d.Status)
	}
	assert.Equal(t, signals.Running, a.State())
}

// An action whose meta or payload type the recorder could not record is
// refused before policy sees it, and the refusal itself is recorded.
func TestUnrecordableActionRefused(t *testing.T) {
	ctx := context.Background()
	k, _ := newTestKernel(t)
	a := k.MustSpawn("a")
	many := map[string]string{}
	for i := range recorder.MaxMetaEntries + 1 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	cases := []struct {
		name string
		act  agentos.Action
		rule string
	}{
		{"too many meta entries", agentos.Action{Op: agentos.OpSend, Target: "b", Meta: many}, kernel.RuleMeta},
		{"long meta key", agentos.Action{Op: agentos.OpSend, Target: "b", Meta: map[string]string{strings.Repeat("k", recorder.MaxMetaKey+1): "v"}}, kernel.RuleMeta},
		{"long meta value", agentos.Action{Op: agentos.OpSend, Target: "b", Meta: map[string]string{"k": strings.Repeat("v", recorder.MaxMetaValue+1)}}, kernel.RuleMeta},
		{"meta not UTF-8", agentos.Action{Op: agentos.OpSend, Target: "b", Meta: map[string]string{"k": "\xff"}}, kernel.RuleMeta},
		{"long payload type", agentos.Action{Op: agentos.OpSend, Target: "b", PayloadType: strings.Repeat("p", recorder.MaxPayloadType+1)}, kernel.RulePayloadType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran := false
			_, err := a.Do(ctx, c.act, func(context.Context) (any, error) { ran = true; return nil, nil })
			kerneltest.DeniedBy(t, err, c.rule)
			assert.ErrorIs(t, err, agentos.ErrInvalid)
			assert.False(t, ran)
			d := k.LastDecision("a")
			assert.Equal(t, c.rule, d.Rule)
			assert.Equal(t, recorder.StatusDenied, d.Status)
		})
	}
	assert.Equal(t, signals.Running, a.State())
}

// Policy compares tool names exactly, and so does the tool table: a name
// that differs only in case or by a look-alike is another tool, denied by
// default.
func TestToolLookalikesDenied(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{
		"SQL.query", "sql.Query", "Sql.Query", "SQL.QUERY",
		"sql.quеry",  // Cyrillic е
		"ѕql.query",  // Cyrillic dze
		"sqI.query",  // capital I for l
		"ｓｑｌ.query",  // fullwidth
		"sql·query",  // middle dot
		"sql.query ", // trailing space
		" sql.query",
		"sql.query\u200b", // zero-width space
		"sql\u200d.query", // zero-width joiner
		"sql.query\u0301", // combining accent
		"sql.query\x00",   // NUL
		"sql.query\n",
	} {
		t.Run(name, func(t *testing.T) {
			k, c := newTestKernel(t)
			a := k.MustSpawn("a")
			_, err := a.Exec(ctx, name, map[string]any{"query": "SELECT 1"})
			v := kerneltest.Denied(t, err)
			assert.Contains(t, []string{"", kernel.RuleToolName}, v.Decision.Rule)
			assert.Zero(t, c.runs.Load(), "the allowed tool ran under the name %q", name)
		})
	}
	// The exact name is allowed and runs.
	k, c := newTestKernel(t)
	a := k.MustSpawn("a")
	out, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
	require.NoError(t, err)
	assert.Equal(t, "rows: 1", out)
	assert.EqualValues(t, 1, c.runs.Load())
}

func TestApproveWithoutApproverDenied(t *testing.T) {
	ctx := context.Background()
	k, c := newTestKernel(t)
	a := k.MustSpawn("a")
	_, err := a.Exec(ctx, "payments.send", map[string]any{"amount": 5000})
	v := kerneltest.DeniedBy(t, err, "payments-approval")
	assert.Equal(t, agentos.Approve, v.Decision.Effect)
	assert.Zero(t, c.runs.Load())
	d := k.LastDecision("a")
	assert.Equal(t, recorder.StatusDenied, d.Status)
	assert.Contains(t, d.Detail, "no approver")
	assert.Equal(t, signals.Running, a.State(), "an ungranted approval refuses")
}

// If the decision cannot be recorded, nothing executes.
func TestUnrecordedDecisionFailsClosed(t *testing.T) {
	ctx := context.Background()
	rec, err := recorder.Open("", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rec.Close() })
	var down bool
	sink := &failingSink{rec: rec, fail: func(e recorder.Entry) bool { return down && e.Kind == recorder.KindDecision }}
	c := &counter{}
	k := kerneltest.New(t, kerneltest.Policy(testPolicy), kernel.WithRecorder(sink), kernel.WithTool("sql.query", c.tool))
	a := k.MustSpawn("a")
	down = true

	err = a.Write(ctx, "/mem/working/x", []byte("1"))
	require.ErrorIs(t, err, kernel.ErrRecorder)
	require.ErrorIs(t, err, errSinkDown)
	_, err = a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
	require.ErrorIs(t, err, kernel.ErrRecorder)
	assert.False(t, exists(t, k, "a", "mem/working/x"))
	assert.Zero(t, c.runs.Load())

	// A denial is still enforced (and still kills) when it cannot be recorded.
	_, err = a.Exec(ctx, "sql.query", map[string]any{"query": "DROP TABLE users"})
	require.ErrorIs(t, err, agentos.ErrDenied)
	require.ErrorIs(t, err, kernel.ErrRecorder)
	assert.Equal(t, signals.Terminated, a.State())
	assert.Zero(t, c.runs.Load())
}

// Hostile paths are refused by the kernel before policy and recorded; the
// agent is not killed unless the kernel is strict.
func TestHostilePathsRefused(t *testing.T) {
	ctx := context.Background()
	hostile := []string{
		"", "mem/working/x", "/mem/working/../../etc/passwd", "/mem/../policy/x", "/..",
		"/mem/working/a\x00b", "/mem/working/\xff", "/mem/working/a\\b", "/mem/working/\u202ecod.exe",
		"/mem/working/\u200bx", "/mem/working/a\nb", "/" + strings.Repeat("a/", 600), "/mem/working/" + strings.Repeat("x", 300),
	}
	k, _ := newTestKernel(t)
	a := k.MustSpawn("a")
	for _, p := range hostile {
		err := a.Write(ctx, p, []byte("x"))
		kerneltest.DeniedBy(t, err, kernel.RulePath)
		assert.ErrorIs(t, err, agentos.ErrInvalid, "path %q", p)
		_, err = a.Read(ctx, p)
		kerneltest.DeniedBy(t, err, kernel.RulePath)
		d := k.LastDecision("a")
		assert.Equal(t, kernel.RulePath, d.Rule)
		assert.Equal(t, recorder.StatusDenied, d.Status)
	}
	assert.Equal(t, signals.Running, a.State())
	ds := k.Decisions("a")
	assert.Len(t, ds, 2*len(hostile))

	// Prefix confusion is not a hostile path but is not under the mount.
	_, err := a.Read(ctx, "/memory/x")
	kerneltest.DeniedBy(t, err, "")

	// Strict: a hostile path kills.
	ks, _ := newTestKernel(t, kernel.WithStrict())
	b := ks.MustSpawn("b")
	kerneltest.DeniedBy(t, b.Write(ctx, "/mem/../x", nil), kernel.RulePath)
	assert.Equal(t, signals.Terminated, b.State())
}

// The path policy sees is the cleaned one, so a rule on /mem/working/secret
// cannot be dodged with extra slashes or dots.
func TestPolicySeesCleanedPath(t *testing.T) {
	ctx := context.Background()
	k, _ := newTestKernel(t)
	a := k.MustSpawn("a")
	for _, p := range []string{"/mem/working/secret/k", "/mem//working/secret/k", "/mem/./working/secret//k", "/mem/working/secret/k/"} {
		err := a.Write(ctx, p, []byte("x"))
		kerneltest.DeniedBy(t, err, "secrets")
		assert.Equal(t, "/mem/working/secret/k", k.LastDecision("a").Path)
	}
	assert.False(t, exists(t, k, "a", "mem/working/secret/k"))
	assert.Equal(t, signals.Running, a.State(), "onDeny: refuse")
}

func TestStrictKillsOnRefuse(t *testing.T) {
	ctx := context.Background()
	k, _ := newTestKernel(t, kernel.WithStrict())
	a := k.MustSpawn("a")
	kerneltest.DeniedBy(t, a.Write(ctx, "/mem/working/secret/k", nil), "secrets")
	assert.Equal(t, signals.Terminated, a.State())
}

func TestBadArgumentsDenied(t *testing.T) {
	ctx := context.Background()
	k, c := newTestKernel(t)
	a := k.MustSpawn("a")
	deep := map[string]any{}
	cur := deep
	for range kernel.MaxArgsDepth + 2 {
		next := map[string]any{}
		cur["x"] = next
		cur = next
	}
	for name, args := range map[string]map[string]any{
		"func":    {"query": func() {}},
		"chan":    {"query": make(chan int)},
		"nan":     {"n": mathNaN()},
		"deep":    deep,
		"badutf8": {"query": "\xff"},
		"struct":  {"query": struct{ A int }{1}},
	} {
		_, err := a.Exec(ctx, "sql.query", args)
		kerneltest.DeniedBy(t, err, kernel.RuleArgs)
		assert.ErrorIs(t, err, agentos.ErrInvalid, name)
	}
	assert.Zero(t, c.runs.Load())
}
