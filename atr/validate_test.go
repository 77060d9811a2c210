package atr_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/stretchr/testify/require"
)

// searchSchema exercises every keyword the field locator understands.
const searchSchema = `{
  "type": "object",
  "properties": {
    "table":   {"type": "string", "enum": ["users", "orders"]},
    "limit":   {"type": "integer", "minimum": 1, "maximum": 100},
    "ratio":   {"type": "number", "exclusiveMaximum": 1},
    "step":    {"type": "integer", "multipleOf": 5},
    "name":    {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
    "mode":    {"const": "fast"},
    "tags":    {"type": "array", "items": {"type": "string"}, "maxItems": 3, "uniqueItems": true},
    "filters": {"type": "array", "items": {"$ref": "#/$defs/filter"}},
    "point":   {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}], "items": false},
    "labels":  {"type": "object", "additionalProperties": {"type": "string"}},
    "a/b":     {"type": "boolean"},
    "either":  {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    "nullable":{"type": ["string", "null"]}
  },
  "required": ["table"],
  "additionalProperties": false,
  "$defs": {
    "filter": {
      "type": "object",
      "properties": {
        "field": {"type": "string"},
        "op":    {"type": "string", "enum": ["=", "<", ">"]},
        "value": {}
      },
      "required": ["field", "op"],
      "additionalProperties": false
    }
  }
}`

func searchTool(t testing.TB) *atr.Tool {
	t.Helper()
	var s jsonschema.Schema
	require.NoError(t, json.Unmarshal([]byte(searchSchema), &s))
	r := atr.New()
	require.NoError(t, r.Add(atr.Tool{Name: "db.search", Meta: atr.Meta{SideEffect: atr.Read}, InputSchema: &s, Func: echo}))
	tool, err := r.Resolve("db.search", "")
	require.NoError(t, err)
	return tool
}

func TestValidateNamesField(t *testing.T) {
	tool := searchTool(t)
	filter := func(f map[string]any) map[string]any { return f }
	tests := []struct {
		name  string
		args  map[string]any
		field string
	}{
		{"missing required", map[string]any{}, "/table"},
		{"nil args miss required", nil, "/table"},
		{"unknown property", map[string]any{"table": "users", "colour": "red"}, "/colour"},
		{"wrong type", map[string]any{"table": int64(3)}, "/table"},
		{"enum", map[string]any{"table": "secrets"}, "/table"},
		{"const", map[string]any{"table": "users", "mode": "slow"}, "/mode"},
		{"float for integer", map[string]any{"table": "users", "limit": 2.5}, "/limit"},
		{"string for integer", map[string]any{"table": "users", "limit": "10"}, "/limit"},
		{"below minimum", map[string]any{"table": "users", "limit": int64(0)}, "/limit"},
		{"above maximum", map[string]any{"table": "users", "limit": int64(101)}, "/limit"},
		{"exclusive maximum", map[string]any{"table": "users", "ratio": 1.0}, "/ratio"},
		{"multiple of", map[string]any{"table": "users", "step": int64(7)}, "/step"},
		{"min length", map[string]any{"table": "users", "name": "a"}, "/name"},
		{"max length", map[string]any{"table": "users", "name": "abcdef"}, "/name"},
		{"pattern", map[string]any{"table": "users", "name": "AB"}, "/name"},
		{"array item type", map[string]any{"table": "users", "tags": []any{"a", int64(1)}}, "/tags/1"},
		{"max items", map[string]any{"table": "users", "tags": []any{"a", "b", "c", "d"}}, "/tags"},
		{"unique items", map[string]any{"table": "users", "tags": []any{"a", "b", "a"}}, "/tags/2"},
		{"nested enum", map[string]any{"table": "users", "filters": []any{
			filter(map[string]any{"field": "a", "op": "="}),
			filter(map[string]any{"field": "b", "op": "LIKE"}),
		}}, "/filters/1/op"},
		{"nested missing", map[string]any{"table": "users", "filters": []any{map[string]any{"field": "a"}}}, "/filters/0/op"},
		{"nested unknown", map[string]any{"table": "users", "filters": []any{map[string]any{"field": "a", "op": "=", "x": 1}}}, "/filters/0/x"},
		{"nested wrong type", map[string]any{"table": "users", "filters": []any{"a"}}, "/filters/0"},
		{"prefix item", map[string]any{"table": "users", "point": []any{1.5, "y"}}, "/point/1"},
		{"extra item", map[string]any{"table": "users", "point": []any{1.5, 2.5, 3.5}}, "/point/2"},
		{"additional properties schema", map[string]any{"table": "users", "labels": map[string]any{"k": true}}, "/labels/k"},
		{"escaped pointer", map[string]any{"table": "users", "a/b": "yes"}, "/a~1b"},
		{"anyOf blames the value", map[string]any{"table": "users", "either": 1.5}, "/either"},
		{"type list", map[string]any{"table": "users", "nullable": int64(1)}, "/nullable"},
		{"NaN", map[string]any{"table": "users", "ratio": math.NaN()}, "/ratio"},
		{"infinity", map[string]any{"table": "users", "ratio": math.Inf(-1)}, "/ratio"},
		{"Go type", map[string]any{"table": "users", "labels": map[string]string{"a": "b"}}, "/labels"},
		{"struct value", map[string]any{"table": "users", "x": struct{}{}}, "/x"},
		{"invalid UTF-8", map[string]any{"table": "us\xffers"}, "/table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tool.Validate(tt.args)
			require.Error(t, err)
			require.ErrorIs(t, err, atr.ErrInvalidArgs)
			require.ErrorIs(t, err, agentos.ErrInvalid)
			ae, ok := errors.AsType[*atr.ArgError](err)
			require.True(t, ok, "%T", err)
			require.Equal(t, tt.field, ae.Field, "reason: %s", ae.Reason)
			require.Equal(t, "db.search", ae.Tool)
			require.NotEmpty(t, ae.Reason)
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tool := searchTool(t)
	for name, args := range map[string]map[string]any{
		"minimal":          {"table": "users"},
		"int64 limit":      {"table": "users", "limit": int64(10)},
		"int limit":        {"table": "users", "limit": 10},
		"integral float":   {"table": "users", "limit": 10.0},
		"uint limit":       {"table": "users", "limit": uint8(10)},
		"everything":       {"table": "orders", "ratio": 0.5, "step": int64(10), "name": "abc", "mode": "fast", "tags": []any{"a", "b"}, "point": []any{1.0, int64(2)}, "labels": map[string]any{"k": "v"}, "a/b": true, "either": "x", "nullable": nil},
		"nested":           {"table": "users", "filters": []any{map[string]any{"field": "a", "op": "<", "value": []any{nil, false}}}},
		"anyOf second arm": {"table": "users", "either": int64(3)},
	} {
		t.Run(name, func(t *testing.T) { require.NoError(t, tool.Validate(args)) })
	}
}

func TestValidateBounds(t *testing.T) {
	r := atr.New()
	require.NoError(t, r.Add(untyped("open", "", atr.None)))
	tool, err := r.Resolve("open", "")
	require.NoError(t, err)

	deep := map[string]any{}
	cur := deep
	for range atr.MaxArgDepth {
		next := map[string]any{}
		cur["d"] = next
		cur = next
	}
	err = tool.Validate(deep)
	require.ErrorIs(t, err, atr.ErrInvalidArgs)
	require.Contains(t, err.Error(), "deeper")

	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	require.ErrorIs(t, tool.Validate(cyclic), atr.ErrInvalidArgs)

	wide := make([]any, atr.MaxArgNodes)
	require.ErrorIs(t, tool.Validate(map[string]any{"w": wide}), atr.ErrInvalidArgs)
}

func TestValidateUnregisteredTool(t *testing.T) {
	// A Tool built by hand and never added still validates (resolving its
	// schema per call) and refuses to run without a function.
	tool := &atr.Tool{Name: "hand", InputSchema: &jsonschema.Schema{Type: "object", Required: []string{"a"}}}
	err := tool.Validate(map[string]any{})
	require.ErrorIs(t, err, atr.ErrInvalidArgs)
	_, err = tool.Call(context.Background(), map[string]any{"a": 1})
	require.ErrorIs(t, err, atr.ErrNoFunc)
	var zero atr.Tool
	require.NoError(t, zero.Validate(map[string]any{"x": 1}))
}

// FuzzValidate feeds arbitrary JSON arguments to a schema using every
// keyword the locator knows: no panic, and every failure is an *ArgError
// whose Field points into the arguments (or at a property missing from an
// object in them).
func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		`{"table":"users"}`, `{}`, `{"table":1}`, `{"table":"users","filters":[{"field":"a","op":"LIKE"}]}`,
		`{"table":"users","point":[1,"y",3]}`, `{"table":"users","tags":["a","a"]}`, `{"a/b":"x","~":1}`,
		`{"table":"users","labels":{"k":{"deep":[1,2,{"x":null}]}}}`, `{"table":"users","either":1.5}`,
	} {
		f.Add([]byte(seed))
	}
	tool := searchTool(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var args map[string]any
		dec := json.NewDecoder(bytesReader(data))
		if dec.Decode(&args) != nil {
			return
		}
		args = intify(args).(map[string]any)
		err := tool.Validate(args)
		if err == nil {
			return
		}
		ae, ok := errors.AsType[*atr.ArgError](err)
		if !ok {
			t.Fatalf("error %T is not an *ArgError: %v", err, err)
		}
		if !pointsInto(args, ae.Field) {
			t.Fatalf("field %q does not point into %v", ae.Field, args)
		}
	})
}

func TestValidateCopyWithNewSchema(t *testing.T) {
	tool := searchTool(t)
	cp := *tool
	cp.InputSchema = &jsonschema.Schema{Type: "object"}
	require.NoError(t, cp.Validate(map[string]any{"anything": true}), "the copy's own schema applies")
	require.Error(t, tool.Validate(map[string]any{"anything": true}))
}

func TestValidateUniqueItemsLarge(t *testing.T) {
	var s jsonschema.Schema
	require.NoError(t, json.Unmarshal([]byte(`{"type":"object","properties":{"ids":{"type":"array","uniqueItems":true},"objs":{"type":"array","uniqueItems":true}}}`), &s))
	tool := atr.Tool{Name: "u", InputSchema: &s}
	ids := make([]any, 50_000)
	for i := range ids {
		ids[i] = int64(i)
	}
	ids[len(ids)-1] = float64(17) // equal to item 17 as JSON numbers
	err := tool.Validate(map[string]any{"ids": ids})
	ae, ok := errors.AsType[*atr.ArgError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, "/ids/49999", ae.Field)
	require.Contains(t, ae.Reason, "item 17")

	// Distinct objects of one shape share a bucket; the comparisons stay
	// bounded and the array is blamed as a whole.
	objs := make([]any, 2_000)
	for i := range objs {
		objs[i] = map[string]any{"n": int64(i)}
	}
	objs = append(objs, map[string]any{"n": int64(0)})
	err = tool.Validate(map[string]any{"objs": objs})
	ae, ok = errors.AsType[*atr.ArgError](err)
	require.True(t, ok, "%v", err)
	require.Contains(t, []string{"/objs", "/objs/2000"}, ae.Field)
}
