package atr_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/agent-os/agentos/atr"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/stretchr/testify/require"
)

// explosive nests anyOf with two branches that both lead to the next
// level: n levels mean 2^n evaluations of the last.
func explosive(n int) string {
	var defs []string
	for i := range n {
		defs = append(defs, fmt.Sprintf(`"d%d":{"anyOf":[{"$ref":"#/$defs/d%d"},{"$ref":"#/$defs/d%d"}]}`, i, i+1, i+1))
	}
	defs = append(defs, fmt.Sprintf(`"d%d":{"type":"string"}`, n))
	return `{"type":"object","properties":{"x":{"$ref":"#/$defs/d0"}},"$defs":{` + strings.Join(defs, ",") + `}}`
}

func TestSchemaShapeRefused(t *testing.T) {
	tests := []struct{ name, schema string }{
		{"self ref", `{"type":"object","$defs":{"d":{"$ref":"#/$defs/d"}},"properties":{"x":{"$ref":"#/$defs/d"}}}`},
		{"allOf cycle", `{"type":"object","allOf":[{"$ref":"#"}]}`},
		{"two-step cycle", `{"type":"object","$defs":{"a":{"anyOf":[{"$ref":"#/$defs/b"}]},"b":{"not":{"$ref":"#/$defs/a"}}},"properties":{"x":{"$ref":"#/$defs/a"}}}`},
		{"exponential anyOf", explosive(12)},
		{"growth across levels", `{"type":"object","$defs":{"n":{"type":"object","properties":{"c":{"anyOf":[{"$ref":"#/$defs/n"},{"$ref":"#/$defs/n"}]}}}},"properties":{"c":{"$ref":"#/$defs/n"}}}`},
		{"dynamic ref", `{"type":"object","$dynamicAnchor":"a","properties":{"x":{"$dynamicRef":"#a"}}}`},
		{"nested id", `{"type":"object","properties":{"x":{"$id":"https://example.com/x","type":"string"}}}`},
		{"ref to nowhere", `{"type":"object","properties":{"x":{"$ref":"#/$defs/missing"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s jsonschema.Schema
			require.NoError(t, json.Unmarshal([]byte(tt.schema), &s))
			err := atr.New().Add(atr.Tool{Name: "t", Meta: atr.Meta{SideEffect: atr.None}, InputSchema: &s, Func: echo})
			require.ErrorIs(t, err, atr.ErrInvalidTool)
			// A hand-built tool that was never added is refused the same way
			// rather than crashing the validator.
			tool := atr.Tool{Name: "t", InputSchema: &s}
			require.ErrorIs(t, tool.Validate(map[string]any{"x": "a", "c": map[string]any{"c": map[string]any{}}}), atr.ErrInvalidTool)
		})
	}
}

func TestSchemaShapeAccepted(t *testing.T) {
	tests := []struct {
		name, schema string
		args         map[string]any
	}{
		{"binary tree", `{"type":"object","$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"l":{"$ref":"#/$defs/node"},"r":{"$ref":"#/$defs/node"}}}},"properties":{"root":{"$ref":"#/$defs/node"}}}`,
			map[string]any{"root": map[string]any{"v": int64(1), "l": map[string]any{"v": int64(2)}, "r": map[string]any{"v": int64(3), "l": map[string]any{}}}}},
		{"root recursion", `{"type":"object","properties":{"child":{"$ref":"#"}}}`, map[string]any{"child": map[string]any{"child": map[string]any{}}}},
		{"anchor", `{"type":"object","$defs":{"s":{"$anchor":"str","type":"string"}},"properties":{"x":{"$ref":"#str"}}}`, map[string]any{"x": "a"}},
		{"shallow anyOf", explosive(5), map[string]any{"x": "a"}},
		{"root id", `{"$id":"https://example.com/tool.json","type":"object","$defs":{"s":{"type":"string"}},"properties":{"x":{"$ref":"#/$defs/s"}}}`, map[string]any{"x": "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s jsonschema.Schema
			require.NoError(t, json.Unmarshal([]byte(tt.schema), &s))
			r := atr.New()
			require.NoError(t, r.Add(atr.Tool{Name: "t", Meta: atr.Meta{SideEffect: atr.None}, InputSchema: &s, Func: echo}))
			tool, err := r.Resolve("t", "")
			require.NoError(t, err)
			require.NoError(t, tool.Validate(tt.args))
		})
	}
}

func TestSchemaPointerShapes(t *testing.T) {
	cyclic := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{}}
	cyclic.Properties["self"] = cyclic

	// Each level refers to the next twice: 2^40 nodes as a tree.
	shared := &jsonschema.Schema{Type: "string"}
	for range 40 {
		shared = &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"a": shared, "b": shared}}
	}
	// A small shared leaf is fine.
	leaf := &jsonschema.Schema{Type: "string"}
	small := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"a": leaf, "b": leaf}}

	for name, s := range map[string]*jsonschema.Schema{"cycle": cyclic, "exponential sharing": shared} {
		t.Run(name, func(t *testing.T) {
			err := atr.New().Add(atr.Tool{Name: "t", Meta: atr.Meta{SideEffect: atr.None}, InputSchema: s, Func: echo})
			require.ErrorIs(t, err, atr.ErrInvalidTool)
			err = atr.New().Add(atr.Tool{Name: "t", Meta: atr.Meta{SideEffect: atr.None}, OutputSchema: s, Func: echo})
			require.ErrorIs(t, err, atr.ErrInvalidTool)
			tool := atr.Tool{Name: "t", InputSchema: s}
			require.ErrorIs(t, tool.Validate(map[string]any{}), atr.ErrInvalidTool)
			require.NotPanics(t, func() { tool.Fingerprint() })
		})
	}
	require.NoError(t, atr.New().Add(atr.Tool{Name: "t", Meta: atr.Meta{SideEffect: atr.None}, InputSchema: small, Func: echo}))
}
