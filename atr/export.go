package atr

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/google/jsonschema-go/jsonschema"
)

// OpenAITool is one entry of the "tools" array of OpenAI's Chat
// Completions API.
type OpenAITool struct {
	// Type is always "function".
	Type     string         `json:"type"`
	Function OpenAIFunction `json:"function"`
}

// OpenAIFunction describes a function to OpenAI.
type OpenAIFunction struct {
	// Name is the tool's [ExportName] ('.' replaced by '_').
	Name string `json:"name"`
	// Description is the tool's description; a deprecated version's note
	// is appended as "Deprecated: ...".
	Description string `json:"description,omitempty"`
	// Parameters is the input schema's canonical JSON.
	Parameters json.RawMessage `json:"parameters"`
	// Strict is true only when the schema qualifies for OpenAI's strict
	// mode, in which the model's arguments are guaranteed to match it:
	// every object in the schema (the root, nested properties, items and
	// $defs) lists all of its properties as required and has
	// additionalProperties false; every subschema has a type (or is a
	// $ref, anyOf, enum or const); and no keyword outside that subset is
	// used (allOf, oneOf, not, if/then/else, patternProperties,
	// dependent*, unevaluated*). A typed tool whose struct has no
	// omitempty fields and no maps or interface fields qualifies.
	Strict bool `json:"strict"`
}

// AnthropicTool is one entry of the "tools" array of Anthropic's Messages
// API.
type AnthropicTool struct {
	// Name is the tool's [ExportName].
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

// MCPTool is one entry of an MCP tools/list result.
type MCPTool struct {
	// Name is the registered name, dots included (MCP allows them).
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"inputSchema"`
	// OutputSchema is present only when the tool has one whose type is
	// "object", as MCP requires of structured results.
	OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
	Annotations  *MCPAnnotations `json:"annotations,omitempty"`
}

// MCPAnnotations are MCP's behaviour hints, derived from [SideEffect]:
//
//	none, read:            readOnlyHint true,  openWorldHint false
//	write:                 readOnlyHint false, destructiveHint true,  openWorldHint false
//	delete, filesystem:    readOnlyHint false, destructiveHint true,  openWorldHint false
//	network, payment,
//	unclassified:          readOnlyHint false, destructiveHint true,  openWorldHint true
//
// destructiveHint is true for every class that changes anything, because
// a write may overwrite and the registry cannot tell; a false hint would be
// the unsafe mistake. Hints are advice to clients, never enforcement.
type MCPAnnotations struct {
	ReadOnlyHint    *bool `json:"readOnlyHint,omitempty"`
	DestructiveHint *bool `json:"destructiveHint,omitempty"`
	OpenWorldHint   *bool `json:"openWorldHint,omitempty"`
}

// OpenAI exports the current version (as Resolve(name, "") picks it) of
// every tool, sorted by name.
func (r *Registry) OpenAI() []OpenAITool {
	cur := r.current()
	out := make([]OpenAITool, 0, len(cur))
	for _, t := range cur {
		out = append(out, OpenAITool{Type: "function", Function: OpenAIFunction{
			Name:        ExportName(t.Name),
			Description: exportDescription(t),
			Parameters:  t.inputJSON,
			Strict:      t.strict,
		}})
	}
	return out
}

// Anthropic exports the current version of every tool, sorted by name.
func (r *Registry) Anthropic() []AnthropicTool {
	cur := r.current()
	out := make([]AnthropicTool, 0, len(cur))
	for _, t := range cur {
		out = append(out, AnthropicTool{
			Name:        ExportName(t.Name),
			Description: exportDescription(t),
			InputSchema: t.inputJSON,
		})
	}
	return out
}

// MCP exports the current version of every tool as an MCP tools/list
// would list it, sorted by name.
func (r *Registry) MCP() []MCPTool {
	cur := r.current()
	out := make([]MCPTool, 0, len(cur))
	for _, t := range cur {
		m := MCPTool{
			Name:        t.Name,
			Description: exportDescription(t),
			InputSchema: t.inputJSON,
			Annotations: annotations(t.Meta.SideEffect),
		}
		if t.OutputSchema != nil && t.OutputSchema.Type == "object" {
			m.OutputSchema = t.outputJSON
		}
		out = append(out, m)
	}
	return out
}

func exportDescription(t *Tool) string {
	d := t.Meta.Description
	if t.Meta.Deprecated == "" {
		return d
	}
	if d != "" {
		d += "\n\n"
	}
	return d + "Deprecated: " + t.Meta.Deprecated
}

func annotations(s SideEffect) *MCPAnnotations {
	yes, no := true, false
	switch s {
	case None, Read:
		return &MCPAnnotations{ReadOnlyHint: &yes, OpenWorldHint: &no}
	case Write, Delete, Filesystem:
		return &MCPAnnotations{ReadOnlyHint: &no, DestructiveHint: &yes, OpenWorldHint: &no}
	case Network, Payment, Unclassified:
		return &MCPAnnotations{ReadOnlyHint: &no, DestructiveHint: &yes, OpenWorldHint: &yes}
	}
	return nil
}

// strictOK reports whether root qualifies for OpenAI's strict mode; the
// rule is on [OpenAIFunction.Strict].
func strictOK(root *jsonschema.Schema) bool {
	if root.Type != "object" {
		return false
	}
	ok := true
	var walk func(s *jsonschema.Schema, depth int)
	walk = func(s *jsonschema.Schema, depth int) {
		if !ok || s == nil {
			return
		}
		if depth > MaxArgDepth {
			ok = false
			return
		}
		if s.AllOf != nil || s.OneOf != nil || s.Not != nil || s.If != nil || s.Then != nil || s.Else != nil ||
			s.PatternProperties != nil || s.DependentSchemas != nil || s.DependencySchemas != nil ||
			s.DependentRequired != nil || s.DependencyStrings != nil || s.UnevaluatedProperties != nil ||
			s.UnevaluatedItems != nil || s.PropertyNames != nil || s.Contains != nil ||
			s.ItemsArray != nil || s.AdditionalItems != nil || s.DynamicRef != "" {
			ok = false
			return
		}
		if s.Type == "" && s.Types == nil && s.Ref == "" && s.AnyOf == nil && s.Enum == nil && s.Const == nil {
			ok = false
			return
		}
		if s.Type == "object" || slices.Contains(s.Types, "object") || s.Properties != nil {
			if !isFalse(s.AdditionalProperties) || len(s.Required) != len(s.Properties) {
				ok = false
				return
			}
			for _, p := range s.Required {
				if _, has := s.Properties[p]; !has {
					ok = false
					return
				}
			}
		}
		for _, p := range slices.Sorted(maps.Keys(s.Properties)) {
			walk(s.Properties[p], depth+1)
		}
		for _, d := range []map[string]*jsonschema.Schema{s.Defs, s.Definitions} {
			for _, k := range slices.Sorted(maps.Keys(d)) {
				walk(d[k], depth+1)
			}
		}
		walk(s.Items, depth+1)
		for _, sub := range s.PrefixItems {
			walk(sub, depth+1)
		}
		for _, sub := range s.AnyOf {
			walk(sub, depth+1)
		}
	}
	walk(root, 0)
	return ok
}
