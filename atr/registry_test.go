package atr_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type queryArgs struct {
	Query string `json:"query" jsonschema:"the SQL to run"`
	Limit int    `json:"limit,omitempty"`
}

type queryResult struct {
	Rows []string `json:"rows"`
}

func runQuery(_ context.Context, a queryArgs) (queryResult, error) {
	return queryResult{Rows: []string{a.Query}}, nil
}

func echo(_ context.Context, args map[string]any) (any, error) { return args, nil }

func untyped(name, version string, se atr.SideEffect) atr.Tool {
	return atr.Tool{Name: name, Meta: atr.Meta{Version: version, SideEffect: se}, Func: echo}
}

func TestAddErrors(t *testing.T) {
	tests := []struct {
		name string
		tool atr.Tool
		want error
	}{
		{"empty name", untyped("", "", atr.Read), atr.ErrInvalidTool},
		{"long name", untyped(string(make([]byte, 65)), "", atr.Read), atr.ErrInvalidTool},
		{"space in name", untyped("sql query", "", atr.Read), atr.ErrInvalidTool},
		{"at in name", untyped("sql@1", "", atr.Read), atr.ErrInvalidTool},
		{"control in name", untyped("sql\x00", "", atr.Read), atr.ErrInvalidTool},
		{"unicode in name", untyped("sqlé", "", atr.Read), atr.ErrInvalidTool},
		{"no side effect", untyped("a", "", ""), atr.ErrInvalidTool},
		{"unknown side effect", untyped("a", "", "teleport"), atr.ErrInvalidTool},
		{"v prefix", untyped("a", "v1.0.0", atr.Read), atr.ErrInvalidTool},
		{"short version", untyped("a", "1.2", atr.Read), atr.ErrInvalidTool},
		{"garbage version", untyped("a", "latest", atr.Read), atr.ErrInvalidTool},
		{"nil func", atr.Tool{Name: "a", Meta: atr.Meta{SideEffect: atr.Read}}, atr.ErrInvalidTool},
		{"negative cost", atr.Tool{Name: "a", Meta: atr.Meta{SideEffect: atr.Read, Cost: -1}, Func: echo}, atr.ErrInvalidTool},
		{"negative timeout", atr.Tool{Name: "a", Meta: atr.Meta{SideEffect: atr.Read, Timeout: -1}, Func: echo}, atr.ErrInvalidTool},
		{"empty tag", atr.Tool{Name: "a", Meta: atr.Meta{SideEffect: atr.Read, Tags: []string{""}}, Func: echo}, atr.ErrInvalidTool},
		{"duplicate permission", atr.Tool{Name: "a", Meta: atr.Meta{SideEffect: atr.Read, Permissions: []string{"db", "db"}}, Func: echo}, atr.ErrInvalidTool},
		{"invalid UTF-8 description", atr.Tool{Name: "a", Meta: atr.Meta{SideEffect: atr.Read, Description: "\xff"}, Func: echo}, atr.ErrInvalidTool},
		{"schema not object", atr.Tool{Name: "a", Meta: atr.Meta{SideEffect: atr.Read}, Func: echo, InputSchema: &jsonschema.Schema{Type: "string"}}, atr.ErrInvalidTool},
		{"schema bad ref", atr.Tool{Name: "a", Meta: atr.Meta{SideEffect: atr.Read}, Func: echo, InputSchema: &jsonschema.Schema{Type: "object", Ref: "https://example.com/x.json"}}, atr.ErrInvalidTool},
		{"schema unknown draft", atr.Tool{Name: "a", Meta: atr.Meta{SideEffect: atr.Read}, Func: echo, InputSchema: &jsonschema.Schema{Type: "object", Schema: "http://json-schema.org/draft-04/schema#"}}, atr.ErrInvalidTool},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := atr.New().Add(tt.tool)
			require.ErrorIs(t, err, tt.want)
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
}

func TestAddDuplicates(t *testing.T) {
	r := atr.New()
	require.NoError(t, r.Add(untyped("sql.query", "1.0.0", atr.Read)))
	require.ErrorIs(t, r.Add(untyped("sql.query", "", atr.Read)), atr.ErrDuplicate, "empty version is 1.0.0")
	require.ErrorIs(t, r.Add(untyped("sql.query", "1.0.0+build.7", atr.Read)), atr.ErrDuplicate, "build metadata does not make a new version")
	require.ErrorIs(t, r.Add(untyped("sql_query", "1.0.0", atr.Read)), atr.ErrDuplicate, "export names collide")
	require.NoError(t, r.Add(untyped("sql.query", "1.0.1", atr.Read)))
	require.Len(t, r.Versions("sql.query"), 2)
}

func TestRegisterErrors(t *testing.T) {
	r := atr.New()
	m := atr.Meta{SideEffect: atr.None}
	require.ErrorIs(t, atr.Register(r, "m", func(context.Context, map[string]any) (int, error) { return 0, nil }, m), atr.ErrInvalidTool)
	require.ErrorIs(t, atr.Register(r, "p", func(context.Context, *queryArgs) (int, error) { return 0, nil }, m), atr.ErrInvalidTool)
	require.ErrorIs(t, atr.Register[queryArgs, int](r, "nil", nil, m), atr.ErrInvalidTool)
	type withChan struct{ C chan int }
	require.ErrorIs(t, atr.Register(r, "chan", func(context.Context, withChan) (int, error) { return 0, nil }, m), atr.ErrInvalidTool)
	require.ErrorIs(t, atr.Register(r, "out", func(context.Context, queryArgs) (func(), error) { return nil, nil }, m), atr.ErrInvalidTool)
	require.ErrorIs(t, atr.Register(r, "bad name", runQuery, m), atr.ErrInvalidTool)
	require.ErrorIs(t, atr.Register(r, "q", runQuery, atr.Meta{}), atr.ErrInvalidTool)
	require.NoError(t, atr.Register(r, "q", runQuery, m))
	require.ErrorIs(t, atr.Register(r, "q", runQuery, m), atr.ErrDuplicate)
	require.Empty(t, r.Versions("m"))
}

func TestRegistryCopiesInput(t *testing.T) {
	r := atr.New()
	schema := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"a": {Type: "string"}}}
	tags := []string{"x"}
	require.NoError(t, r.Add(atr.Tool{Name: "t", Meta: atr.Meta{SideEffect: atr.Read, Tags: tags}, InputSchema: schema, Func: echo}))
	schema.Properties["a"].Type = "integer"
	tags[0] = "changed"
	tool, err := r.Resolve("t", "")
	require.NoError(t, err)
	require.NoError(t, tool.Validate(map[string]any{"a": "s"}))
	require.Equal(t, []string{"x"}, tool.Meta.Tags)
}

func TestOpenSchema(t *testing.T) {
	r := atr.New()
	require.NoError(t, r.Add(untyped("open", "", atr.None)))
	tool, err := r.Resolve("open", "")
	require.NoError(t, err)
	require.Equal(t, "object", tool.InputSchema.Type)
	require.NoError(t, tool.Validate(map[string]any{"anything": []any{int64(1), "x"}}))
	require.NoError(t, tool.Validate(nil))
}

func TestResolve(t *testing.T) {
	r := atr.New()
	add := func(name, v, deprecated string) {
		tl := untyped(name, v, atr.Read)
		tl.Meta.Deprecated = deprecated
		require.NoError(t, r.Add(tl))
	}
	for _, v := range []string{"1.0.0", "1.2.0", "1.2.5", "1.3.0", "2.0.0", "2.1.0-beta.1"} {
		add("q", v, "")
	}
	add("q", "2.0.1", "use 2.0.0, 2.0.1 loses rows")
	add("old", "1.0.0", "gone")
	add("old", "1.1.0", "gone too")
	add("pre", "0.1.0-alpha", "")
	add("pre", "0.1.0-beta", "")
	add("predep", "0.2.0-beta", "no")
	add("predep", "0.1.0-alpha", "")

	tests := []struct {
		name, tool, constraint, want string
		err                          error
	}{
		{"newest stable", "q", "", "2.0.0", nil},
		{"caret", "q", "^1.2", "1.3.0", nil},
		{"caret exact minor", "q", "^1.2.0", "1.3.0", nil},
		{"tilde", "q", "~1.2.0", "1.2.5", nil},
		{"tilde patch", "q", "~1.2.3", "1.2.5", nil},
		{"exact", "q", "1.2.0", "1.2.0", nil},
		{"equals", "q", "=1.0.0", "1.0.0", nil},
		{"range", "q", ">=1, <2", "1.3.0", nil},
		{"or", "q", "^1 || ^2", "2.0.0", nil},
		{"x range", "q", "1.2.x", "1.2.5", nil},
		{"deprecated skipped in range", "q", "~2.0", "2.0.0", nil},
		{"deprecated when asked exactly", "q", "2.0.1", "2.0.1", nil},
		{"prerelease excluded", "q", ">=2.1.0-0", "2.1.0-beta.1", nil},
		{"prerelease needs prerelease constraint", "q", "^2.1", "", atr.ErrNoVersion},
		{"only deprecated", "old", "", "1.1.0", nil},
		{"only deprecated in range", "old", "~1.0", "1.0.0", nil},
		{"only prereleases", "pre", "", "0.1.0-beta", nil},
		{"prereleases prefer not deprecated", "predep", "", "0.1.0-alpha", nil},
		{"no match", "q", "^3", "", atr.ErrNoVersion},
		{"unknown tool", "nope", "", "", atr.ErrNotFound},
		{"bad constraint", "q", "^^1", "", atr.ErrConstraint},
		{"long constraint", "q", string(make([]byte, 300)), "", atr.ErrConstraint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tool, err := r.Resolve(tt.tool, tt.constraint)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.Nil(t, tool)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, tool.Meta.Version)
		})
	}
	require.ErrorIs(t, func() error { _, err := r.Resolve("nope", ""); return err }(), agentos.ErrNotFound)
}

func TestToolsAndVersionsSorted(t *testing.T) {
	r := atr.New()
	for _, tl := range []atr.Tool{
		untyped("b", "1.10.0", atr.Read), untyped("a", "2.0.0", atr.Read), untyped("b", "1.9.0", atr.Read),
		untyped("a", "2.0.0-rc.1", atr.Read), untyped("b", "1.9.0-rc.1", atr.Read),
	} {
		require.NoError(t, r.Add(tl))
	}
	var got []string
	for _, tl := range r.Tools() {
		got = append(got, tl.Name+"@"+tl.Meta.Version)
	}
	require.Equal(t, []string{"a@2.0.0-rc.1", "a@2.0.0", "b@1.9.0-rc.1", "b@1.9.0", "b@1.10.0"}, got)
	require.Len(t, r.Versions("b"), 3)
	require.Nil(t, r.Versions("c"))
}

func TestBounds(t *testing.T) {
	r := atr.New()
	for i := range atr.MaxVersionsPerTool {
		require.NoError(t, r.Add(untyped("v", fmt.Sprintf("1.0.%d", i), atr.Read)))
	}
	err := r.Add(untyped("v", "2.0.0", atr.Read))
	require.ErrorIs(t, err, atr.ErrFull)
	require.ErrorIs(t, err, agentos.ErrQuota)

	r = atr.New()
	for i := range atr.MaxTools {
		require.NoError(t, r.Add(untyped(fmt.Sprintf("t%d", i), "", atr.Read)))
	}
	require.ErrorIs(t, r.Add(untyped("one.more", "", atr.Read)), atr.ErrFull)
	require.NoError(t, r.Add(untyped("t0", "1.0.1", atr.Read)), "a new version of a known name is not a new tool")
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		ref, name, constraint string
		err                   error
	}{
		{"sql.query@^1.2", "sql.query", "^1.2", nil},
		{"sql.query", "sql.query", "", nil},
		{"sql.query@>=1, <2", "sql.query", ">=1, <2", nil},
		{"sql.query@1.2.3", "sql.query", "1.2.3", nil},
		{"sql.query@", "", "", atr.ErrConstraint},
		{"sql.query@^^", "", "", atr.ErrConstraint},
		{"@^1", "", "", atr.ErrInvalidTool},
		{"", "", "", atr.ErrInvalidTool},
		{"a b@1", "", "", atr.ErrInvalidTool},
		{"a@1@2", "", "", atr.ErrConstraint},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			name, c, err := atr.ParseRef(tt.ref)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.ErrorIs(t, err, agentos.ErrInvalid)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.name, name)
			assert.Equal(t, tt.constraint, c)
		})
	}
}

func TestByExportName(t *testing.T) {
	r := atr.New()
	require.NoError(t, r.Add(untyped("sql.query", "1.0.0", atr.Read)))
	require.NoError(t, r.Add(untyped("sql.query", "1.1.0", atr.Read)))
	for _, n := range []string{"sql_query", "sql.query"} {
		tool, err := r.ByExportName(n)
		require.NoError(t, err)
		require.Equal(t, "sql.query", tool.Name)
		require.Equal(t, "1.1.0", tool.Meta.Version)
	}
	_, err := r.ByExportName("nope")
	require.ErrorIs(t, err, atr.ErrNotFound)
}

func TestPrepare(t *testing.T) {
	p, err := atr.Prepare(atr.Tool{Name: "x.y", Meta: atr.Meta{SideEffect: atr.Unclassified, Version: "2.0.0+meta"}, Func: echo})
	require.NoError(t, err)
	require.Equal(t, "2.0.0+meta", p.Meta.Version)
	require.Equal(t, "object", p.InputSchema.Type)
	require.NoError(t, p.Validate(map[string]any{"n": 1.5}))
	_, err = atr.Prepare(atr.Tool{Name: "x y", Meta: atr.Meta{SideEffect: atr.Read}, Func: echo})
	require.ErrorIs(t, err, atr.ErrInvalidTool)
}

func TestSideEffectValid(t *testing.T) {
	for _, s := range []atr.SideEffect{atr.None, atr.Read, atr.Write, atr.Delete, atr.Network, atr.Filesystem, atr.Payment, atr.Unclassified} {
		require.True(t, s.Valid(), s)
	}
	for _, s := range []atr.SideEffect{"", "READ", "teleport"} {
		require.False(t, s.Valid(), s)
	}
	require.True(t, atr.Read.ReadOnly())
	require.False(t, atr.Unclassified.ReadOnly())
}
