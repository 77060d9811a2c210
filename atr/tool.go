package atr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/google/jsonschema-go/jsonschema"
)

// maxStack bounds the stack a [PanicError] carries.
const maxStack = 8 << 10

// Tool is one registered version of a tool. The *Tool values a [Registry]
// hands out are its own immutable copies: safe for concurrent use, and not
// to be modified (change a tool by adding a new version).
type Tool struct {
	// Name is the tool's name; see [CheckName].
	Name string
	// Meta is what the tool declares about itself.
	Meta Meta
	// InputSchema is the JSON Schema the arguments must satisfy; its type
	// must be "object". For a typed tool it is derived from the argument
	// struct with jsonschema.For, which forbids properties the struct does
	// not have. [Registry.Add] replaces nil with the open schema
	// {"type":"object"}: any object, any properties.
	InputSchema *jsonschema.Schema
	// OutputSchema describes the result; it may be nil. Call does not check
	// results against it.
	OutputSchema *jsonschema.Schema
	// Func runs an untyped tool (kernel.WithTool functions, command tools,
	// imported MCP tools). It receives arguments that have passed Validate.
	// A typed tool made by [Register] has a nil Func.
	Func func(ctx context.Context, args map[string]any) (any, error)

	// handler runs a typed tool: it decodes args into the argument struct
	// strictly and calls the Go function.
	handler func(ctx context.Context, args map[string]any) (any, error)
	// resolved is InputSchema prepared for validation; nil until Add (or
	// ImportMCP) prepares it. Validate uses it only while InputSchema is
	// still the schema it was resolved from, and otherwise resolves per
	// call.
	resolved *jsonschema.Resolved
	// version is Meta.Version parsed; nil outside a registry.
	version *semver.Version
	// inputJSON and outputJSON are the schemas' JSON as jsonschema-go
	// writes it (a typed tool's properties in struct field order, which
	// models follow when they generate arguments), computed once by prepare
	// for the exports; outputJSON is nil without an output schema.
	inputJSON, outputJSON json.RawMessage
	// canon is the canonical JSON of canonOf, the input schema prepare
	// saw; Fingerprint uses it while InputSchema is still that schema.
	canon   []byte
	canonOf *jsonschema.Schema
	// strict records whether the input schema qualifies for OpenAI's
	// strict mode (see [OpenAIFunction.Strict]).
	strict bool
	// open records that the tool was added without an input schema and
	// resolved holds the open schema prepare gave it, {"type": "object"},
	// which every object satisfies (see Validate).
	open bool
}

// openSchema is the schema of a tool added without one.
func openSchema() *jsonschema.Schema { return &jsonschema.Schema{Type: "object"} }

// prepare checks t's function and schemas and returns a private copy with
// its schema resolved: the copy a registry stores.
func (t Tool) prepare() (*Tool, error) {
	if err := CheckName(t.Name); err != nil {
		return nil, err
	}
	m, v, err := t.Meta.check()
	if err != nil {
		return nil, fmt.Errorf("tool %q: %w", t.Name, err)
	}
	t.Meta, t.version = m, v
	if (t.Func == nil) == (t.handler == nil) {
		return nil, fmt.Errorf("%w: tool %q: needs exactly one function (Func, or a typed handler from Register)", ErrInvalidTool, t.Name)
	}
	if t.InputSchema == nil {
		t.InputSchema = openSchema()
		t.open = true
	} else {
		if err := checkSchemaTree(t.InputSchema); err != nil {
			return nil, fmt.Errorf("%w: tool %q: input schema: %w", ErrInvalidTool, t.Name, err)
		}
		t.InputSchema = t.InputSchema.CloneSchemas()
	}
	if !supportedDraft(t.InputSchema.Schema) {
		return nil, fmt.Errorf("%w: tool %q: input schema: unsupported $schema %q (want draft-07 or 2020-12)", ErrInvalidTool, t.Name, t.InputSchema.Schema)
	}
	if t.InputSchema.Type != "object" {
		return nil, fmt.Errorf("%w: tool %q: input schema type is %q, want \"object\"", ErrInvalidTool, t.Name, schemaTypeName(t.InputSchema))
	}
	rs, err := t.InputSchema.Resolve(nil)
	if err != nil {
		return nil, fmt.Errorf("%w: tool %q: input schema: %v", ErrInvalidTool, t.Name, err)
	}
	if err := checkSchemaGraph(t.InputSchema); err != nil {
		return nil, fmt.Errorf("%w: tool %q: input schema: %w", ErrInvalidTool, t.Name, err)
	}
	t.resolved = rs
	if t.OutputSchema != nil {
		if err := checkSchemaTree(t.OutputSchema); err != nil {
			return nil, fmt.Errorf("%w: tool %q: output schema: %w", ErrInvalidTool, t.Name, err)
		}
		t.OutputSchema = t.OutputSchema.CloneSchemas()
		if _, err := t.OutputSchema.Resolve(nil); err != nil {
			return nil, fmt.Errorf("%w: tool %q: output schema: %v", ErrInvalidTool, t.Name, err)
		}
	}
	// The exports and the fingerprint use the schemas' JSON; a schema that
	// cannot be marshalled is refused now rather than dropped later.
	if t.inputJSON, err = json.Marshal(t.InputSchema); err != nil {
		return nil, fmt.Errorf("%w: tool %q: input schema: %v", ErrInvalidTool, t.Name, err)
	}
	if t.OutputSchema != nil {
		if t.outputJSON, err = json.Marshal(t.OutputSchema); err != nil {
			return nil, fmt.Errorf("%w: tool %q: output schema: %v", ErrInvalidTool, t.Name, err)
		}
	}
	t.strict = strictOK(t.InputSchema)
	if t.canon, err = canonicalJSON(t.InputSchema); err != nil {
		return nil, fmt.Errorf("%w: tool %q: input schema: %v", ErrInvalidTool, t.Name, err)
	}
	t.canonOf = t.InputSchema
	return &t, nil
}

// supportedDraft reports whether jsonschema-go validates against the
// $schema URI (empty means 2020-12).
func supportedDraft(uri string) bool {
	switch uri {
	case "", "http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft-07/schema#",
		"https://json-schema.org/draft/2020-12/schema":
		return true
	}
	return false
}

func schemaTypeName(s *jsonschema.Schema) string {
	if s.Type != "" {
		return s.Type
	}
	return strings.Join(s.Types, ",")
}

// Validate checks args against the tool's input schema. args is the
// kernel's JSON-like copy of the arguments: nil, bool, string, any Go
// integer or float (integers usually arrive as int64), []any and
// map[string]any, at most [MaxArgDepth] deep and [MaxArgNodes] values in
// all. A nil map is the empty object.
//
// A tool that no registry prepared (built by hand, never added) has its
// schema resolved and checked on every call; a schema a registry would
// refuse is [ErrInvalidTool] here too.
//
// On failure it returns an [*ArgError] (which wraps [ErrInvalidArgs])
// whose Field is a JSON pointer to the offending value: for a missing
// required property or an unknown property, that property's pointer; for
// a failure the schema reports through anyOf, oneOf, not or if/then/else,
// the pointer of the value those keywords apply to. Whether args are valid
// is decided by jsonschema-go alone; the pointer is found by a second walk
// that runs only on failure.
func (t *Tool) Validate(args map[string]any) error {
	if err := checkArgs(t.Name, args); err != nil {
		return err
	}
	rs := t.resolved
	if t.open && rs != nil && rs.Schema() == t.InputSchema {
		// The open schema {"type": "object"} of a tool added without one,
		// as prepared (a copy whose schema was replaced fails the pointer
		// test): every object satisfies it, and args, checked above, is a
		// JSON-like object. TestOpenSchemaFastPath holds this to the
		// validator.
		return nil
	}
	if rs == nil || rs.Schema() != t.InputSchema {
		// Not prepared, or a copy whose schema was replaced.
		schema := t.InputSchema
		if schema == nil {
			schema = openSchema()
		}
		if err := checkSchemaTree(schema); err != nil {
			return fmt.Errorf("%w: tool %q: input schema: %w", ErrInvalidTool, t.Name, err)
		}
		var err error
		if rs, err = schema.Resolve(nil); err != nil {
			return fmt.Errorf("%w: tool %q: input schema: %v", ErrInvalidTool, t.Name, err)
		}
		if err := checkSchemaGraph(schema); err != nil {
			return fmt.Errorf("%w: tool %q: input schema: %w", ErrInvalidTool, t.Name, err)
		}
	}
	var instance any = args
	if args == nil {
		instance = map[string]any{}
	}
	err := safeValidate(rs, instance)
	if err == nil {
		return nil
	}
	field, reason := locate(rs.Schema(), instance)
	if reason == "" {
		reason = err.Error()
	}
	return &ArgError{Tool: t.Name, Field: field, Reason: reason}
}

// safeValidate runs the validator, turning a panic in it (it asserts its
// own invariants) into a failure rather than a crash.
func safeValidate(rs *jsonschema.Resolved, instance any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("validator failed: %v", r)
		}
	}()
	return rs.Validate(instance)
}

// Call validates args and runs the tool: a typed tool's arguments are
// decoded into its argument struct (unknown fields refused), an untyped
// tool's Func receives args as given. A call never runs with invalid
// arguments.
//
// Errors: an [*ArgError] (wrapping [ErrInvalidArgs]) for invalid
// arguments; a [*PanicError] (wrapping [ErrPanicked]) when the function
// panics; an error wrapping [ErrTimeout] and [context.DeadlineExceeded]
// when the call ran past [Meta.Timeout] (its result, if any, is dropped);
// [ErrNoFunc] for a tool with no function; the context's error (or cause)
// when ctx is already done, in which case the function is not started;
// otherwise the function's own error, unchanged.
//
// The timeout is carried by the context the function receives: a Go
// function cannot be stopped from outside, so a tool that ignores its
// context runs to completion and Call then reports the timeout. Call runs
// the function on the calling goroutine and starts none.
func (t *Tool) Call(ctx context.Context, args map[string]any) (any, error) {
	fn := t.handler
	if fn == nil {
		fn = t.Func
	}
	if fn == nil {
		return nil, fmt.Errorf("tool %q: %w", t.Name, ErrNoFunc)
	}
	if err := t.Validate(args); err != nil {
		return nil, err
	}
	return t.call(ctx, fn, args)
}

// Validated is the proof that arguments passed [Tool.Check]: the tool it
// was checked against, the compiled schema that checked it and the
// arguments. Only Check makes one; the zero Validated proves nothing.
// It is a plain value, safe to copy and to use from any goroutine.
type Validated struct {
	t    *Tool
	rs   *jsonschema.Resolved
	args map[string]any
}

// Check validates args as [Tool.Validate] does and, when they are valid,
// returns the proof [Tool.CallValidated] takes, so that a caller that must
// know the arguments are valid before it decides to run the tool (the
// kernel checks them before policy sees them) does not validate twice.
// The proof covers args as they are now: the caller must not modify them
// (or anything they hold) before the call, as for any map a call reads.
//
// Errors: those of [Tool.Validate].
func (t *Tool) Check(args map[string]any) (Validated, error) {
	if err := t.Validate(args); err != nil {
		return Validated{}, err
	}
	if args == nil {
		args = map[string]any{}
	}
	return Validated{t: t, rs: t.resolved, args: args}, nil
}

// CallValidated runs the tool with the arguments v holds, as [Tool.Call]
// does, without validating them again when v is proof from this tool's
// Check against the schema it has now. Any other v — the zero value, a
// proof from another tool, a tool whose schema was replaced since, a tool
// no registry prepared — is validated in full first, so a call never runs
// with arguments its schema refuses.
//
// Errors: those of [Tool.Call].
func (t *Tool) CallValidated(ctx context.Context, v Validated) (any, error) {
	if v.t != t || v.rs == nil || v.rs != t.resolved || v.rs.Schema() != t.InputSchema {
		return t.Call(ctx, v.args)
	}
	fn := t.handler
	if fn == nil {
		fn = t.Func
	}
	if fn == nil {
		return nil, fmt.Errorf("tool %q: %w", t.Name, ErrNoFunc)
	}
	return t.call(ctx, fn, v.args)
}

// call runs fn with args that were validated: the context check, the
// timeout and the recovery of a panic.
func (t *Tool) call(ctx context.Context, fn func(context.Context, map[string]any) (any, error), args map[string]any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("atr: tool %q not started: %w", t.Name, context.Cause(ctx))
	}
	if args == nil {
		args = map[string]any{}
	}
	if d := t.Meta.Timeout; d > 0 {
		cause := fmt.Errorf("atr: tool %q: %w after %s: %w", t.Name, ErrTimeout, d, context.DeadlineExceeded)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, cause)
		defer cancel()
		out, err := t.run(ctx, fn, args)
		if context.Cause(ctx) == cause {
			return nil, cause
		}
		return out, err
	}
	return t.run(ctx, fn, args)
}

func (t *Tool) run(ctx context.Context, fn func(context.Context, map[string]any) (any, error), args map[string]any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			stack := debug.Stack()
			if len(stack) > maxStack {
				stack = stack[:maxStack]
			}
			out, err = nil, &PanicError{Tool: t.Name, Value: fmt.Sprint(r), Stack: stack}
		}
	}()
	return fn(ctx, args)
}

// decodeStrict decodes args into *in through JSON, refusing properties the
// struct does not have.
func decodeStrict(tool string, args map[string]any, in any) error {
	data, err := json.Marshal(args)
	if err != nil {
		return &ArgError{Tool: tool, Reason: err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		ae := &ArgError{Tool: tool, Reason: err.Error()}
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			ae.Field = dottedToPointer(te.Field)
		} else if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			if s, err := strconv.Unquote(name); err == nil {
				ae.Field = "/" + pointerEscape(s)
			}
		}
		return ae
	}
	return nil
}

func dottedToPointer(f string) string {
	parts := strings.Split(f, ".")
	for i, p := range parts {
		parts[i] = pointerEscape(p)
	}
	return "/" + strings.Join(parts, "/")
}

// Fingerprint identifies what a model sees of the tool: a change to the
// name, the description or the input schema changes it; a new version with
// the same three does not. It is the SHA-256 of
//
//	"atr.fingerprint.v1\n"
//	|| len(name) || name
//	|| len(description) || description
//	|| len(schema) || schema
//
// where each len is 8 bytes big-endian and schema is the input schema's
// canonical JSON: encoding/json's output (HTML-escaped, no spaces) of the
// schema decoded with numbers kept verbatim, so object keys are sorted at
// every level. A nil schema counts as {"type":"object"}. A schema that
// cannot be marshalled, or that a registry would refuse as a pointer cycle
// or too large, hashes as zero bytes (never one a registry holds).
func (t *Tool) Fingerprint() [32]byte {
	js := t.canon
	if t.canonOf == nil || t.canonOf != t.InputSchema {
		schema := t.InputSchema
		if schema == nil {
			schema = openSchema()
		}
		js = nil
		if checkSchemaTree(schema) == nil {
			js, _ = canonicalJSON(schema)
		}
	}
	h := sha256.New()
	h.Write([]byte("atr.fingerprint.v1\n"))
	for _, part := range [][]byte{[]byte(t.Name), []byte(t.Meta.Description), js} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// canonicalJSON marshals v, decodes it with numbers kept as written and
// marshals it again, which sorts every object's keys.
func canonicalJSON(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return json.Marshal(generic)
}
