package kernel_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
)

type queryArgs struct {
	Query string `json:"query" jsonschema:"the SQL to run"`
	Limit int    `json:"limit,omitempty"`
}

type queryResult struct {
	Rows int `json:"rows"`
}

const registryPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: registry, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: tools
      effect: allow
      when: action.op == "exec" && tool.registered
    - name: no-destructive-interns
      effect: deny
      onDeny: refuse
      when: tool.sideEffect in ["delete", "payment", "unclassified"] && agent.role == "intern"
      message: interns may not run destructive tools
    - name: limit-cap
      effect: deny
      onDeny: refuse
      when: action.tool == "sql.query" && has(action.args.limit) && action.args.limit > 100
    - name: old-versions
      effect: deny
      onDeny: refuse
      when: action.tool == "sql.query" && action.meta.version.startsWith("1.")
      message: sql.query 1.x is retired
`

// registryKernel registers sql.query 1.0.0 and 2.1.0 (typed), a delete-class
// tool and a WithTool shortcut, counting each run.
func registryKernel(t *testing.T) (*kerneltest.Kernel, *atr.Registry, *atomic.Int64) {
	t.Helper()
	var runs atomic.Int64
	reg := atr.New()
	q := func(_ context.Context, in queryArgs) (queryResult, error) {
		runs.Add(1)
		return queryResult{Rows: len(in.Query)}, nil
	}
	require.NoError(t, atr.Register(reg, "sql.query", q, atr.Meta{Version: "1.0.0", SideEffect: atr.Read}))
	require.NoError(t, atr.Register(reg, "sql.query", q, atr.Meta{Version: "2.1.0", SideEffect: atr.Read}))
	require.NoError(t, reg.Add(atr.Tool{Name: "files.purge", Meta: atr.Meta{SideEffect: atr.Delete},
		Func: func(context.Context, map[string]any) (any, error) { runs.Add(1); return "purged", nil }}))
	k := kerneltest.New(t, kerneltest.Policy(registryPolicy), kernel.WithRegistry(reg),
		kernel.WithTool("shortcut", func(context.Context, map[string]any) (any, error) { runs.Add(1); return "ok", nil }))
	return k, reg, &runs
}

func TestRegistryTypedToolThroughTheKernel(t *testing.T) {
	k, _, runs := registryKernel(t)
	a := k.MustSpawn("a1", kernel.WithRole("analyst"))
	ctx := t.Context()

	res, err := a.Exec(ctx, "sql.query", map[string]any{"query": "select 1"})
	require.NoError(t, err)
	assert.Equal(t, queryResult{Rows: 8}, res)
	d := k.LastDecision("a1")
	assert.Equal(t, "2.1.0", d.Meta[kernel.MetaVersion], "the current version ran and the trail says so")

	// A constraint picks an older version, which policy may refuse by it.
	_, err = a.Exec(ctx, "sql.query@^1", map[string]any{"query": "select 1"})
	v := kerneltest.DeniedBy(t, err, "old-versions")
	assert.Equal(t, "sql.query", v.Action.Tool)
	assert.Equal(t, "^1", v.Action.Meta[kernel.MetaConstraint])
	assert.Equal(t, int64(1), runs.Load())

	// A bad constraint is refused by the kernel.
	_, err = a.Exec(ctx, "sql.query@^^", nil)
	kerneltest.DeniedBy(t, err, kernel.RuleToolName)
	_, err = a.Exec(ctx, "sql.query@9", map[string]any{"query": "x"})
	kerneltest.DeniedBy(t, err, kernel.RuleToolName)
	assert.ErrorIs(t, err, atr.ErrNoVersion)

	// Tools added to the registry after New are callable.
	require.NoError(t, atr.Register(k.Registry(), "later", func(context.Context, struct{}) (string, error) { return "late", nil },
		atr.Meta{SideEffect: atr.None}))
	res, err = a.Exec(ctx, "later", map[string]any{})
	require.NoError(t, err)
	assert.Equal(t, "late", res)
	assert.Equal(t, []string{"files.purge", "later", "shortcut", "sql.query"}, k.Tools())
}

// Arguments that do not satisfy the schema are refused before policy, by
// a recorded refusal that names the field, and the tool never runs.
func TestRegistryArgumentsRefusedBeforePolicy(t *testing.T) {
	k, _, runs := registryKernel(t)
	a := k.MustSpawn("a1")
	for name, c := range map[string]struct {
		args  map[string]any
		field string
	}{
		"missing":    {map[string]any{"limit": 5}, "/query"},
		"wrong type": {map[string]any{"query": 7}, "/query"},
		"unknown":    {map[string]any{"query": "x", "drop": true}, "/drop"},
		"float":      {map[string]any{"query": "x", "limit": 1.5}, "/limit"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := a.Exec(t.Context(), "sql.query", c.args)
			v := kerneltest.DeniedBy(t, err, kernel.RuleToolArgs)
			assert.Contains(t, v.Decision.Message, c.field)
			var ae *atr.ArgError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, c.field, ae.Field)
			d := k.LastDecision("a1")
			assert.Equal(t, kernel.RuleToolArgs, d.Rule)
			assert.Equal(t, recorder.StatusDenied, d.Status)
			assert.Contains(t, d.Message, c.field)
		})
	}
	assert.Zero(t, runs.Load(), "no refused call ran")
	require.NoError(t, a.Err(), "a refused argument does not kill")

	// Valid arguments past the schema still meet policy.
	_, err := a.Exec(t.Context(), "sql.query", map[string]any{"query": "x", "limit": 500})
	kerneltest.DeniedBy(t, err, "limit-cap")
	assert.Zero(t, runs.Load())
}

// A rule on the side-effect class covers every tool of the class, and the
// shortcut tools, whose class is unclassified, with it.
func TestRegistrySideEffectPolicy(t *testing.T) {
	k, _, runs := registryKernel(t)
	intern := k.MustSpawn("i1", kernel.WithRole("intern"))
	staff := k.MustSpawn("s1", kernel.WithRole("staff"))
	ctx := t.Context()
	for _, tool := range []string{"files.purge", "shortcut"} {
		_, err := intern.Exec(ctx, tool, map[string]any{})
		kerneltest.DeniedBy(t, err, "no-destructive-interns")
		_, err = staff.Exec(ctx, tool, map[string]any{})
		require.NoError(t, err, tool)
	}
	_, err := intern.Exec(ctx, "sql.query", map[string]any{"query": "select 1"})
	require.NoError(t, err, "a read tool is not covered")
	assert.Equal(t, int64(3), runs.Load())

	// A tool the registry does not hold is decided as unregistered.
	_, err = staff.Exec(ctx, "nope", nil)
	kerneltest.DeniedBy(t, err, "")
}

func TestRegistryOptions(t *testing.T) {
	fn := func(context.Context, map[string]any) (any, error) { return nil, nil }
	for name, opts := range map[string][]kernel.Option{
		"nil registry":      {kernel.WithRegistry(nil)},
		"two registries":    {kernel.WithRegistry(atr.New()), kernel.WithRegistry(atr.New())},
		"name not exported": {kernel.WithTool("has space", fn)},
		"look-alike":        {kernel.WithTool("t.\u0430llow", fn)},
		"taken in registry": {kernel.WithRegistry(withShortcut(t, "x")), kernel.WithTool("x", fn)},
		"given twice":       {kernel.WithTool("x", fn), kernel.WithTool("x", fn)},
	} {
		t.Run(name, func(t *testing.T) {
			k, err := kernel.New(opts...)
			if k != nil {
				require.NoError(t, k.Close())
			}
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
}

func withShortcut(t *testing.T, name string) *atr.Registry {
	r := atr.New()
	require.NoError(t, r.Add(atr.Tool{Name: name, Meta: atr.Meta{SideEffect: atr.None},
		Func: func(context.Context, map[string]any) (any, error) { return nil, nil }}))
	return r
}
