package atr_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/stretchr/testify/require"
)

type recordedCall struct {
	name string
	args map[string]any
}

func TestImportMCP(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "mcp_tools_list.json"))
	require.NoError(t, err)
	var calls []recordedCall
	call := func(_ context.Context, name string, args map[string]any) (any, error) {
		calls = append(calls, recordedCall{name, args})
		return "done", nil
	}
	tools, err := atr.ImportMCP(data, call, atr.Meta{SideEffect: atr.Network, Version: "2.1.0", Description: "fallback", Tags: []string{"mcp"}})
	require.NoError(t, err)
	require.Len(t, tools, 2)
	require.Equal(t, "get_weather", tools[0].Name)
	require.Equal(t, "Get current weather information for a location", tools[0].Meta.Description)
	require.Equal(t, atr.Network, tools[0].Meta.SideEffect, "the server's readOnlyHint is not trusted")
	require.Equal(t, "2.1.0", tools[0].Meta.Version)
	require.NotNil(t, tools[0].OutputSchema)

	r := atr.New()
	for _, tool := range tools {
		require.NoError(t, r.Add(tool))
	}
	w, err := r.Resolve("get_weather", "^2")
	require.NoError(t, err)
	out, err := w.Call(t.Context(), map[string]any{"location": "Paris", "days": int64(3)})
	require.NoError(t, err)
	require.Equal(t, "done", out)
	_, err = w.Call(t.Context(), map[string]any{"location": "Paris", "days": int64(9)})
	require.ErrorIs(t, err, atr.ErrInvalidArgs)

	g, err := r.Resolve("git.commit", "")
	require.NoError(t, err)
	_, err = g.Call(t.Context(), map[string]any{"message": "fix", "files": []any{"a.go"}})
	require.NoError(t, err)
	_, err = g.Call(t.Context(), map[string]any{"message": "fix", "amend": true})
	require.ErrorIs(t, err, atr.ErrInvalidArgs)
	require.Equal(t, []recordedCall{
		{"get_weather", map[string]any{"location": "Paris", "days": int64(3)}},
		{"git.commit", map[string]any{"message": "fix", "files": []any{"a.go"}}},
	}, calls, "refused calls never reach the server")

	// The unprepared copies ImportMCP returned validate and call as well.
	_, err = tools[1].Call(t.Context(), map[string]any{})
	require.ErrorIs(t, err, atr.ErrInvalidArgs)
}

func TestImportMCPBareArray(t *testing.T) {
	tools, err := atr.ImportMCP([]byte(` [{"name":"a","inputSchema":{"type":"object"}}] `), noCall, atr.Meta{SideEffect: atr.Read})
	require.NoError(t, err)
	require.Len(t, tools, 1)
	require.Empty(t, tools[0].Meta.Description)
}

func noCall(context.Context, string, map[string]any) (any, error) { return nil, nil }

func TestImportMCPErrors(t *testing.T) {
	m := atr.Meta{SideEffect: atr.Read}
	tests := []struct {
		name string
		data string
		meta atr.Meta
	}{
		{"empty", ``, m},
		{"not JSON", `tools`, m},
		{"no tools", `{}`, m},
		{"null tools", `{"tools":null}`, m},
		{"unknown top-level field", `{"tools":[],"extra":1}`, m},
		{"unknown tool field", `{"tools":[{"name":"a","inputSchema":{"type":"object"},"handler":"x"}]}`, m},
		{"trailing data", `{"tools":[]} {"tools":[]}`, m},
		{"trailing garbage", `[]]`, m},
		{"truncated", `{"tools":[{"name":"a"`, m},
		{"missing name", `[{"inputSchema":{"type":"object"}}]`, m},
		{"bad name", `[{"name":"a b","inputSchema":{"type":"object"}}]`, m},
		{"missing schema", `[{"name":"a"}]`, m},
		{"null schema", `[{"name":"a","inputSchema":null}]`, m},
		{"schema not object", `[{"name":"a","inputSchema":{"type":"string"}}]`, m},
		{"schema wrong JSON type", `[{"name":"a","inputSchema":"object"}]`, m},
		{"remote ref", `[{"name":"a","inputSchema":{"type":"object","$ref":"https://evil.example/s.json"}}]`, m},
		{"duplicate", `[{"name":"a","inputSchema":{"type":"object"}},{"name":"a","inputSchema":{"type":"object"}}]`, m},
		{"name wrong type", `[{"name":1,"inputSchema":{"type":"object"}}]`, m},
		{"no side effect", `[{"name":"a","inputSchema":{"type":"object"}}]`, atr.Meta{}},
		{"too big", `[` + strings.Repeat(" ", atr.MaxImportBytes) + `]`, m},
		{"too many", `[` + strings.Repeat(`{"name":"a","inputSchema":{"type":"object"}},`, atr.MaxImportTools) + `{"name":"b","inputSchema":{"type":"object"}}]`, m},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tools, err := atr.ImportMCP([]byte(tt.data), noCall, tt.meta)
			require.ErrorIs(t, err, atr.ErrImport)
			require.ErrorIs(t, err, agentos.ErrInvalid)
			require.Nil(t, tools)
		})
	}
	_, err := atr.ImportMCP([]byte(`[]`), nil, m)
	require.ErrorIs(t, err, atr.ErrInvalidTool)
}

// FuzzImportMCP: arbitrary bytes never panic; whatever is accepted can be
// registered, exported and called with empty arguments without panicking.
func FuzzImportMCP(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "mcp_tools_list.json"))
	require.NoError(f, err)
	f.Add(data)
	for _, seed := range []string{
		`[]`, `{"tools":[]}`, `[{"name":"a","inputSchema":{"type":"object"}}]`,
		`[{"name":"a","inputSchema":{"type":"object","properties":{"x":{"$ref":"#"}},"required":["x"]}}]`,
		`[{"name":"a","inputSchema":{"type":"object","$defs":{"d":{"$ref":"#/$defs/d"}},"properties":{"x":{"$ref":"#/$defs/d"}}}}]`,
		`[{"name":"a","inputSchema":{"type":"object","patternProperties":{"(":{}}}}]`,
		`{"tools":[{"name":"a","inputSchema":{"type":"object","anyOf":[{"required":["q"]}]}}],"nextCursor":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tools, err := atr.ImportMCP(data, noCall, atr.Meta{SideEffect: atr.Read})
		if err != nil {
			require.ErrorIs(t, err, atr.ErrImport)
			return
		}
		r := atr.New()
		for _, tool := range tools {
			require.NoError(t, r.Add(tool))
			_, _ = tool.Call(context.Background(), map[string]any{"q": int64(1), "x": map[string]any{}})
		}
		_ = r.OpenAI()
		_ = r.MCP()
		_ = r.Anthropic()
	})
}
