package atr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/google/jsonschema-go/jsonschema"
)

// Bounds on what [ImportMCP] accepts.
const (
	// MaxImportBytes is the largest tools/list document ImportMCP reads.
	MaxImportBytes = 8 << 20
	// MaxImportTools is the most tools one document may list.
	MaxImportTools = 1024
)

// mcpList is an MCP tools/list result. Fields beyond the ones MCP defines
// are refused.
type mcpList struct {
	Tools      []mcpTool       `json:"tools"`
	NextCursor string          `json:"nextCursor,omitempty"`
	Meta       json.RawMessage `json:"_meta,omitempty"`
}

// mcpTool is one MCP tool definition. Title, annotations, icons, execution
// and _meta are accepted and not used: an MCP server's behaviour hints are
// its own claims, so the side effect comes from the importer's [Meta].
type mcpTool struct {
	Name         string             `json:"name"`
	Title        string             `json:"title,omitempty"`
	Description  string             `json:"description,omitempty"`
	InputSchema  *jsonschema.Schema `json:"inputSchema"`
	OutputSchema *jsonschema.Schema `json:"outputSchema,omitempty"`
	Annotations  json.RawMessage    `json:"annotations,omitempty"`
	Icons        json.RawMessage    `json:"icons,omitempty"`
	Execution    json.RawMessage    `json:"execution,omitempty"`
	Meta         json.RawMessage    `json:"_meta,omitempty"`
}

// ImportMCP parses the result of an MCP tools/list request, either the
// result object {"tools":[...]} or the bare array of tools, into untyped
// tools ready for [Registry.Add]. Each tool's Func calls call with the
// tool's name and its validated arguments; call runs on the goroutine that
// calls [Tool.Call].
//
// Every tool gets m (version, side effect, cost, tags, permissions,
// timeout, deprecation), except that the server's description replaces
// m.Description when it is not empty. The server's annotations are not
// trusted: m.SideEffect is required, whatever readOnlyHint says.
//
// Decoding is strict: at most [MaxImportBytes] bytes and [MaxImportTools]
// tools, one JSON value and nothing after it, no fields MCP does not
// define, every tool with a name ([CheckName]), an inputSchema of type
// "object" that resolves without remote references, and names unique
// within the list.
//
// Errors wrap [ErrImport]; a tool the registry would refuse also wraps
// [ErrInvalidTool]; a nil call is [ErrInvalidTool].
func ImportMCP(data []byte, call func(ctx context.Context, name string, args map[string]any) (any, error), m Meta) ([]Tool, error) {
	if call == nil {
		return nil, fmt.Errorf("%w: ImportMCP: nil call function", ErrInvalidTool)
	}
	if len(data) > MaxImportBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrImport, len(data), MaxImportBytes)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	var tools []mcpTool
	var err error
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err = decodeOne(trimmed, &tools)
	} else {
		var list mcpList
		err = decodeOne(trimmed, &list)
		if err == nil && list.Tools == nil {
			err = errors.New(`no "tools" array`)
		}
		tools = list.Tools
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImport, err)
	}
	if len(tools) > MaxImportTools {
		return nil, fmt.Errorf("%w: %d tools, more than %d", ErrImport, len(tools), MaxImportTools)
	}
	out := make([]Tool, 0, len(tools))
	seen := make(map[string]bool, len(tools))
	for i, mt := range tools {
		if mt.InputSchema == nil {
			return nil, fmt.Errorf("%w: tool %d (%q): no inputSchema", ErrImport, i, mt.Name)
		}
		if seen[mt.Name] {
			return nil, fmt.Errorf("%w: tool %d: duplicate name %q", ErrImport, i, mt.Name)
		}
		seen[mt.Name] = true
		meta := m
		if mt.Description != "" {
			meta.Description = mt.Description
		}
		name := mt.Name
		t := Tool{
			Name:         name,
			Meta:         meta,
			InputSchema:  mt.InputSchema,
			OutputSchema: mt.OutputSchema,
			Func: func(ctx context.Context, args map[string]any) (any, error) {
				return call(ctx, name, args)
			},
		}
		p, err := t.prepare()
		if err != nil {
			return nil, fmt.Errorf("%w: tool %d: %w", ErrImport, i, err)
		}
		out = append(out, *p)
	}
	return out, nil
}

// decodeOne decodes exactly one JSON value from data into v, refusing
// unknown fields and trailing data.
func decodeOne(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}
