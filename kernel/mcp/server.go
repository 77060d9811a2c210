package mcp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
)

// MaxResultBytes bounds the text of one tools/call result: the server
// returns a larger one as an error result, and an upstream's larger result
// is an error wrapping ErrUpstream.
const MaxResultBytes = 4 << 20

// ServerOption configures [NewServer].
type ServerOption func(*serverConfig)

type serverConfig struct {
	impl   mcpsdk.Implementation
	filter func(atr.MCPTool) bool
	opts   mcpsdk.ServerOptions
}

// WithImplementation sets the name and version the server introduces
// itself with (default "agentos", "1").
func WithImplementation(name, version string) ServerOption {
	return func(c *serverConfig) { c.impl = mcpsdk.Implementation{Name: name, Version: version} }
}

// WithFilter exposes only the registry's tools for which keep returns true.
func WithFilter(keep func(atr.MCPTool) bool) ServerOption {
	return func(c *serverConfig) { c.filter = keep }
}

// WithInstructions sets the instructions the server gives clients.
func WithInstructions(text string) ServerOption {
	return func(c *serverConfig) { c.opts.Instructions = text }
}

// NewServer returns an MCP server that exposes the current version of
// every tool in reg (as reg.MCP exports them: name, description, input and
// output schema, behaviour hints) and runs every tools/call as the agent's
// syscall a.Exec(ctx, name, args): validated, decided by policy and
// recorded by the kernel, which must know the tools: reg is usually the
// kernel's own registry (kernel.WithRegistry, or Kernel.Registry).
//
// A call the kernel refuses becomes an error result (isError) whose text
// names the deciding rule and its message — "denied by policy rule
// no-delete: deleting repositories is not allowed" — so that the model on
// the other side sees why; any other error becomes an error result with
// its text. A result becomes text content: a string as it is, []byte as
// text when it is UTF-8 (else base64), anything else as its JSON; and also
// structuredContent when the tool has an output schema and the result is a
// JSON object. Arguments that are not a JSON object are an error result.
//
// Serve it with [Run] (stdio and other transports) or [HTTPHandler]. The
// server belongs to the caller; it holds a and reg and nothing else.
func NewServer(a *kernel.Agent, reg *atr.Registry, opts ...ServerOption) (*mcpsdk.Server, error) {
	if a == nil || reg == nil {
		return nil, invalid("NewServer needs an agent and a registry")
	}
	c := serverConfig{impl: mcpsdk.Implementation{Name: "agentos", Version: "1"}}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	c.opts.Capabilities = &mcpsdk.ServerCapabilities{Tools: &mcpsdk.ToolCapabilities{}}
	s := mcpsdk.NewServer(&c.impl, &c.opts)
	for _, t := range reg.MCP() {
		if c.filter != nil && !c.filter(t) {
			continue
		}
		tool := &mcpsdk.Tool{Name: t.Name, Description: t.Description, InputSchema: t.InputSchema}
		if len(t.OutputSchema) > 0 {
			tool.OutputSchema = t.OutputSchema
		}
		if an := t.Annotations; an != nil {
			tool.Annotations = &mcpsdk.ToolAnnotations{DestructiveHint: an.DestructiveHint, OpenWorldHint: an.OpenWorldHint}
			if an.ReadOnlyHint != nil {
				tool.Annotations.ReadOnlyHint = *an.ReadOnlyHint
			}
		}
		s.AddTool(tool, handler(a, t.Name, len(t.OutputSchema) > 0))
	}
	return s, nil
}

func handler(a *kernel.Agent, name string, structured bool) mcpsdk.ToolHandler {
	return func(ctx context.Context, req *mcpsdk.CallToolRequest) (*mcpsdk.CallToolResult, error) {
		args, err := decodeArgs(req.Params.Arguments)
		if err != nil {
			return errorResult(err.Error()), nil
		}
		out, err := a.Exec(ctx, name, args)
		if err != nil {
			return errorResult(describe(err)), nil
		}
		return toResult(out, structured), nil
	}
}

// decodeArgs decodes tools/call arguments: absent or null is no
// arguments; anything but an object is refused. Numbers stay json.Number,
// which the kernel accepts, so that integers keep their precision.
func decodeArgs(raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var args map[string]any
	if err := dec.Decode(&args); err != nil {
		return nil, fmt.Errorf("arguments must be a JSON object: %v", err)
	}
	if dec.More() {
		return nil, errors.New("arguments must be one JSON object")
	}
	if args == nil {
		args = map[string]any{}
	}
	return args, nil
}

// describe says why a call failed, naming the rule of a denial.
func describe(err error) string {
	var v *agentos.PolicyViolation
	if errors.As(err, &v) {
		rule := v.Decision.Rule
		if rule == "" {
			rule = "(the default effect)"
		}
		msg := v.Decision.Message
		if msg == "" {
			msg = string(v.Decision.Effect)
		}
		return cut(fmt.Sprintf("denied by policy rule %s: %s", rule, msg), MaxErrorText)
	}
	return cut(err.Error(), MaxErrorText)
}

func errorResult(text string) *mcpsdk.CallToolResult {
	return &mcpsdk.CallToolResult{IsError: true, Content: []mcpsdk.Content{&mcpsdk.TextContent{Text: text}}}
}

func toResult(out any, structured bool) *mcpsdk.CallToolResult {
	var text string
	var obj json.RawMessage
	switch v := out.(type) {
	case nil:
		text = ""
	case string:
		text = v
	case []byte:
		if utf8.Valid(v) {
			text = string(v)
		} else {
			text = base64.StdEncoding.EncodeToString(v)
		}
	case json.RawMessage:
		text = string(v)
		obj = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return errorResult(fmt.Sprintf("result of type %T cannot be encoded: %v", out, err))
		}
		text, obj = string(b), b
	}
	if len(text) > MaxResultBytes {
		return errorResult(fmt.Sprintf("result of %d bytes is over the bound of %d", len(text), MaxResultBytes))
	}
	res := &mcpsdk.CallToolResult{Content: []mcpsdk.Content{&mcpsdk.TextContent{Text: text}}}
	if structured && len(obj) > 0 && obj[0] == '{' {
		res.StructuredContent = obj
	}
	return res
}

// Run serves s on t until ctx is done or the client disconnects; for
// stdio, t is &mcpsdk.StdioTransport{}.
func Run(ctx context.Context, s *mcpsdk.Server, t mcpsdk.Transport) error {
	if s == nil || t == nil {
		return invalid("Run needs a server and a transport")
	}
	return s.Run(ctx, t)
}

// HTTPHandler serves s over MCP's streamable HTTP transport, one session
// per client. opts may be nil; request bodies are bounded by the SDK's
// default (4 MiB) unless opts says otherwise.
func HTTPHandler(s *mcpsdk.Server, opts *mcpsdk.StreamableHTTPOptions) http.Handler {
	return mcpsdk.NewStreamableHTTPHandler(func(*http.Request) *mcpsdk.Server { return s }, opts)
}
