package atr_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/agent-os/agentos/atr"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

type weatherArgs struct {
	City  string `json:"city" jsonschema:"city name, e.g. Paris"`
	Units string `json:"units" jsonschema:"celsius or fahrenheit"`
}

type weatherResult struct {
	TempC float64 `json:"temp_c"`
}

type transferArgs struct {
	From   string  `json:"from"`
	To     string  `json:"to"`
	Amount float64 `json:"amount"`
	Memo   *string `json:"memo"`
	Lines  []struct {
		SKU string `json:"sku"`
		Qty int    `json:"qty"`
	} `json:"lines"`
}

// exportRegistry holds one tool of each shape the exports treat
// differently.
func exportRegistry(t testing.TB) *atr.Registry {
	t.Helper()
	r := atr.New()
	require.NoError(t, atr.Register(r, "sql.query", runQuery, atr.Meta{
		Description: "Run a read-only SQL query.", SideEffect: atr.Read, Version: "1.2.0"}))
	require.NoError(t, atr.Register(r, "sql.query", runQuery, atr.Meta{
		Description: "Run a SQL query (old).", SideEffect: atr.Read, Version: "1.1.0"}))
	require.NoError(t, atr.Register(r, "weather", func(context.Context, weatherArgs) (weatherResult, error) {
		return weatherResult{TempC: 21}, nil
	}, atr.Meta{Description: "Current weather for a city.", SideEffect: atr.Network}))
	require.NoError(t, atr.Register(r, "pay.transfer", func(context.Context, transferArgs) (string, error) {
		return "ok", nil
	}, atr.Meta{Description: "Move money between accounts.", SideEffect: atr.Payment, Cost: 0.01}))
	var schema jsonschema.Schema
	require.NoError(t, json.Unmarshal([]byte(`{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}`), &schema))
	require.NoError(t, r.Add(atr.Tool{Name: "fs.rm", Meta: atr.Meta{Description: "Remove a file.", SideEffect: atr.Delete,
		Deprecated: "use fs.remove"}, InputSchema: &schema, Func: echo}))
	require.NoError(t, r.Add(atr.Tool{Name: "noop", Meta: atr.Meta{SideEffect: atr.None}, Func: echo}))
	require.NoError(t, r.Add(atr.Tool{Name: "shell-run", Meta: atr.Meta{SideEffect: atr.Unclassified}, Func: echo}))
	return r
}

func TestExportGolden(t *testing.T) {
	r := exportRegistry(t)
	for name, v := range map[string]any{
		"openai.golden.json":    r.OpenAI(),
		"anthropic.golden.json": r.Anthropic(),
		"mcp.golden.json":       r.MCP(),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(v, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			path := filepath.Join("testdata", name)
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./atr -run TestExportGolden -update")
			require.Equal(t, string(want), string(got))
		})
	}
}

func TestExportDeterministic(t *testing.T) {
	a, err := json.Marshal(exportRegistry(t).OpenAI())
	require.NoError(t, err)
	for range 20 {
		b, err := json.Marshal(exportRegistry(t).OpenAI())
		require.NoError(t, err)
		require.Equal(t, string(a), string(b))
	}
}

func TestExportContent(t *testing.T) {
	r := exportRegistry(t)
	oa := r.OpenAI()
	names := map[string]atr.OpenAIFunction{}
	for _, tool := range oa {
		require.Equal(t, "function", tool.Type)
		names[tool.Function.Name] = tool.Function
	}
	require.Contains(t, names, "sql_query")
	require.Contains(t, names["sql_query"].Description, "read-only", "the current version is exported")
	require.False(t, names["sql_query"].Strict, "limit is optional")
	require.True(t, names["weather"].Strict)
	require.True(t, names["pay_transfer"].Strict, "nullable pointer and nested struct slices still qualify")
	require.False(t, names["noop"].Strict, "open schema")
	require.False(t, names["fs_rm"].Strict, "additionalProperties not false")
	require.Contains(t, names["fs_rm"].Description, "Deprecated: use fs.remove")

	for _, m := range r.MCP() {
		switch m.Name {
		case "weather":
			require.JSONEq(t, `{"readOnlyHint":false,"destructiveHint":true,"openWorldHint":true}`, mustJSON(t, m.Annotations))
			require.NotNil(t, m.OutputSchema)
		case "sql.query":
			require.JSONEq(t, `{"readOnlyHint":true,"openWorldHint":false}`, mustJSON(t, m.Annotations))
		case "shell-run":
			require.JSONEq(t, `{"readOnlyHint":false,"destructiveHint":true,"openWorldHint":true}`, mustJSON(t, m.Annotations))
		case "pay.transfer":
			require.Nil(t, m.OutputSchema, "a string result has no MCP output schema")
		}
	}
	require.Len(t, r.Anthropic(), 6)
}

func TestStrictRule(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		strict bool
	}{
		{"closed and required", `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`, true},
		{"empty closed", `{"type":"object","additionalProperties":false}`, true},
		{"optional property", `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}`, false},
		{"open", `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, false},
		{"nested open", `{"type":"object","properties":{"a":{"type":"object"}},"required":["a"],"additionalProperties":false}`, false},
		{"untyped property", `{"type":"object","properties":{"a":{}},"required":["a"],"additionalProperties":false}`, false},
		{"anyOf allowed", `{"type":"object","properties":{"a":{"anyOf":[{"type":"string"},{"type":"null"}]}},"required":["a"],"additionalProperties":false}`, true},
		{"oneOf refused", `{"type":"object","properties":{"a":{"oneOf":[{"type":"string"},{"type":"null"}]}},"required":["a"],"additionalProperties":false}`, false},
		{"ref to closed def", `{"type":"object","properties":{"a":{"$ref":"#/$defs/x"}},"required":["a"],"additionalProperties":false,"$defs":{"x":{"type":"object","properties":{"b":{"type":"integer"}},"required":["b"],"additionalProperties":false}}}`, true},
		{"ref to open def", `{"type":"object","properties":{"a":{"$ref":"#/$defs/x"}},"required":["a"],"additionalProperties":false,"$defs":{"x":{"type":"object"}}}`, false},
		{"array of closed", `{"type":"object","properties":{"a":{"type":"array","items":{"type":"object","properties":{"b":{"type":"string"}},"required":["b"],"additionalProperties":false}}},"required":["a"],"additionalProperties":false}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s jsonschema.Schema
			require.NoError(t, json.Unmarshal([]byte(tt.schema), &s))
			r := atr.New()
			require.NoError(t, r.Add(atr.Tool{Name: "t", Meta: atr.Meta{SideEffect: atr.None}, InputSchema: &s, Func: echo}))
			require.Equal(t, tt.strict, r.OpenAI()[0].Function.Strict)
		})
	}
}

func TestFingerprint(t *testing.T) {
	r := exportRegistry(t)
	old, err := r.Resolve("sql.query", "1.1.0")
	require.NoError(t, err)
	cur, err := r.Resolve("sql.query", "1.2.0")
	require.NoError(t, err)
	require.NotEqual(t, old.Fingerprint(), cur.Fingerprint(), "descriptions differ")

	same := *cur
	same.Meta.Version = "9.9.9"
	same.Meta.Cost = 42
	require.Equal(t, cur.Fingerprint(), same.Fingerprint(), "version and cost are not what a model sees")

	// A schema built in Go and the same schema decoded from JSON with keys
	// in another order fingerprint alike: the bytes hashed are canonical.
	var a, b jsonschema.Schema
	require.NoError(t, json.Unmarshal([]byte(`{"type":"object","required":["x"],"properties":{"x":{"type":"string","maxLength":3}}}`), &a))
	require.NoError(t, json.Unmarshal([]byte(`{"properties":{"x":{"maxLength":3,"type":"string"}},"required":["x"],"type":"object"}`), &b))
	ta := atr.Tool{Name: "n", Meta: atr.Meta{Description: "d"}, InputSchema: &a}
	tb := atr.Tool{Name: "n", Meta: atr.Meta{Description: "d"}, InputSchema: &b}
	require.Equal(t, ta.Fingerprint(), tb.Fingerprint())
	tc := ta
	tc.Name = "nd"
	tc.Meta.Description = ""
	require.NotEqual(t, ta.Fingerprint(), tc.Fingerprint(), "length prefixes keep name and description apart")

	// The exact bytes, so another implementation can reproduce them; the
	// digest was computed independently (Python's hashlib and struct) from
	// the layout documented on Fingerprint.
	var nilSchema atr.Tool
	nilSchema.Name = "x"
	sum := nilSchema.Fingerprint()
	require.Equal(t, "469034ecacfa4910b22f48dfe1b7677e56fa0a9680d3eec6c812b8ad8395e7d2", hex.EncodeToString(sum[:]))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
