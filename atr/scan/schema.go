package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// parseJSON decodes b into nil, bool, string, json.Number, []any and
// map[string]any, refusing duplicate object keys, trailing data, and
// documents over the byte, depth or node bounds. Errors wrap ErrInvalid.
func parseJSON(b []byte, maxBytes, maxDepth, maxNodes int) (any, error) {
	if len(b) > maxBytes {
		return nil, fmt.Errorf("%w: schema of %d bytes, at most %d", ErrInvalid, len(b), maxBytes)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	p := jsonParser{d: d, maxDepth: maxDepth, nodes: maxNodes}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: schema has data after its value", ErrInvalid)
	}
	return v, nil
}

type jsonParser struct {
	d        *json.Decoder
	maxDepth int
	nodes    int
}

func (p *jsonParser) value(depth int) (any, error) {
	if depth > p.maxDepth {
		return nil, fmt.Errorf("%w: schema nested deeper than %d", ErrInvalid, p.maxDepth)
	}
	if p.nodes--; p.nodes < 0 {
		return nil, fmt.Errorf("%w: schema has too many values", ErrInvalid)
	}
	t, err := p.d.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: schema is not JSON: %v", ErrInvalid, err)
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for p.d.More() {
				kt, err := p.d.Token()
				if err != nil {
					return nil, fmt.Errorf("%w: schema is not JSON: %v", ErrInvalid, err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("%w: schema is not JSON: object key %v", ErrInvalid, kt)
				}
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("%w: schema has the key %q twice in one object", ErrInvalid, k)
				}
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
			if _, err := p.d.Token(); err != nil {
				return nil, fmt.Errorf("%w: schema is not JSON: %v", ErrInvalid, err)
			}
			return m, nil
		case '[':
			a := []any{}
			for p.d.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := p.d.Token(); err != nil {
				return nil, fmt.Errorf("%w: schema is not JSON: %v", ErrInvalid, err)
			}
			return a, nil
		}
		return nil, fmt.Errorf("%w: schema is not JSON: unexpected %v", ErrInvalid, t)
	default:
		return t, nil // nil, bool, string, json.Number
	}
}

// structural names schema keywords whose string values are machinery, not
// text a model reads as prose; every other string in a schema is scanned.
var structural = map[string]bool{
	"type": true, "format": true, "pattern": true, "$ref": true, "$schema": true, "$id": true,
	"$anchor": true, "$dynamicRef": true, "$dynamicAnchor": true, "contentEncoding": true,
	"contentMediaType": true, "required": true,
}

// commandNames are property names (lower case, separators removed) that
// say the value is code or a command line.
var commandNames = map[string]bool{
	"command": true, "commands": true, "cmd": true, "cmdline": true, "commandline": true,
	"shell": true, "shellcommand": true, "script": true, "code": true, "sourcecode": true,
	"sql": true, "sqlquery": true, "rawsql": true, "exec": true, "eval": true, "bash": true,
	"powershell": true, "program": true, "expression": true, "python": true, "javascript": true,
}

func (s *Scanner) scanSchema(c *collector, raw []byte) {
	const field = "inputSchema"
	if len(bytes.TrimSpace(raw)) == 0 {
		c.add(Finding{Kind: KindPermissive, Severity: SeverityMedium, Field: field,
			Message: "no input schema: arguments are unchecked"})
		return
	}
	v, err := parseJSON(raw, s.o.MaxSchemaBytes, s.o.MaxSchemaDepth, s.o.MaxSchemaNodes)
	if err != nil {
		c.add(Finding{Kind: KindInvalidSchema, Severity: SeverityHigh, Field: field,
			Message: err.Error(), Evidence: evidence(string(raw), 0, 32)})
		return
	}
	switch root := v.(type) {
	case bool:
		if root {
			c.add(Finding{Kind: KindPermissive, Severity: SeverityMedium, Field: field, Message: "schema true accepts any input"})
		}
		return
	case map[string]any:
		if len(root) == 0 {
			c.add(Finding{Kind: KindPermissive, Severity: SeverityMedium, Field: field, Message: "empty schema {} accepts any input"})
		} else if t, ok := root["type"]; ok && t != "object" {
			c.add(Finding{Kind: KindInvalidSchema, Severity: SeverityMedium, Field: field,
				Message: fmt.Sprintf("input schema has type %v; MCP tools take an object", t)})
		} else if !hasProperties(root) {
			switch ap, ok := root["additionalProperties"]; {
			case !ok:
				c.add(Finding{Kind: KindPermissive, Severity: SeverityLow, Field: field,
					Message: "no properties and additionalProperties absent: any arguments are accepted"})
			case ap == true:
				c.add(Finding{Kind: KindPermissive, Severity: SeverityMedium, Field: field,
					Message: "no properties and additionalProperties true: any arguments are accepted"})
			}
		}
	default:
		c.add(Finding{Kind: KindInvalidSchema, Severity: SeverityHigh, Field: field,
			Message: fmt.Sprintf("input schema is a JSON %s, not an object", jsonKind(v))})
		return
	}
	s.walk(c, field, "", v)
}

func hasProperties(m map[string]any) bool {
	for _, k := range []string{"properties", "patternProperties"} {
		if p, ok := m[k].(map[string]any); ok && len(p) > 0 {
			return true
		}
	}
	_, comp := m["allOf"]
	_, any := m["anyOf"]
	_, one := m["oneOf"]
	_, ref := m["$ref"]
	return comp || any || one || ref
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "array"
	}
	return "object"
}

// walk scans every prose string of a schema value at path; key is the
// keyword the value sits under ("" at the root).
func (s *Scanner) walk(c *collector, path, key string, v any) {
	switch v := v.(type) {
	case string:
		if !structural[key] {
			s.scanText(c, path, v, 0)
		}
	case []any:
		for i, e := range v {
			s.walk(c, path+"/"+strconv.Itoa(i), key, e)
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			sub := path + "/" + escapePointer(k)
			if k == "properties" || k == "patternProperties" || k == "$defs" || k == "definitions" || k == "dependentSchemas" {
				if props, ok := v[k].(map[string]any); ok {
					s.properties(c, sub, k == "properties", props)
					continue
				}
			}
			s.walk(c, sub, k, v[k])
		}
	}
}

// properties scans a map of named schemas: each name is text too, and each
// property is checked for permissiveness.
func (s *Scanner) properties(c *collector, path string, named bool, props map[string]any) {
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		sub := path + "/" + escapePointer(n)
		if named {
			s.scanText(c, sub+"#name", n, 0)
			s.checkProperty(c, sub, n, props[n])
		}
		s.walk(c, sub, "", props[n])
	}
}

func (s *Scanner) checkProperty(c *collector, path, name string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		if v == true {
			c.add(Finding{Kind: KindPermissive, Severity: SeverityLow, Field: path, Message: "property accepts any value"})
		}
		return
	}
	if len(m) == 0 {
		c.add(Finding{Kind: KindPermissive, Severity: SeverityLow, Field: path, Message: "property accepts any value"})
		return
	}
	if isString(m["type"]) && commandNames[normalizeName(name)] {
		_, pat := m["pattern"]
		_, enum := m["enum"]
		_, cnst := m["const"]
		if !pat && !enum && !cnst {
			c.add(Finding{Kind: KindPermissive, Severity: SeverityMedium, Field: path,
				Message: fmt.Sprintf("free-form string %q with no pattern or enum: arbitrary code or commands", name)})
		}
	}
	if n, ok := m["maxLength"].(json.Number); ok {
		if f, err := n.Float64(); err == nil && f > float64(s.o.HugeMaxLength) {
			c.add(Finding{Kind: KindPermissive, Severity: SeverityLow, Field: path + "/maxLength",
				Message: fmt.Sprintf("maxLength %s is effectively unbounded", n.String())})
		}
	}
}

func isString(t any) bool {
	switch t := t.(type) {
	case string:
		return t == "string"
	case []any:
		return slices.Contains(t, any("string"))
	}
	return false
}

func normalizeName(n string) string {
	n = strings.ToLower(n)
	return strings.NewReplacer("_", "", "-", "", ".", "", " ", "").Replace(n)
}

func escapePointer(k string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
}
