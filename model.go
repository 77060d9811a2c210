package agentos

import (
	"context"
	"encoding/json"
)

// Role is the author of a message in a Prompt.
type Role string

const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Message is one turn of a conversation. An assistant message that asked
// for tools carries them in ToolCalls; the answer to one call is a message
// with RoleTool whose ToolCallID names the call it answers.
type Message struct {
	Role       Role
	Content    string
	ToolCalls  []ToolCall // RoleAssistant only: the calls the model asked for
	ToolCallID string     // RoleTool only: the ToolCall.ID this message answers
}

// ToolSpec describes a tool the model may ask to call.
type ToolSpec struct {
	Name        string
	Description string
	Parameters  json.RawMessage // a JSON Schema object; nil means no parameters
}

// ToolCall is a model's request to call a tool. Arguments is the JSON text
// the model produced, verbatim: it is the model's claim, to be validated
// (and decided by policy) before anything runs.
type ToolCall struct {
	ID        string
	Name      string
	Arguments json.RawMessage
}

// Prompt is a request to a language model.
type Prompt struct {
	Messages    []Message
	Temperature float64 // 0 asks for the model's most deterministic answer
	MaxTokens   int     // 0 means the model's default
	Stop        []string
	Tools       []ToolSpec // nil offers no tools
}

// Usage counts tokens spent by one call.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
}

// Completion is a model's answer.
type Completion struct {
	Text         string
	Model        string // the model that answered
	FinishReason string // "stop", "length", "tool_calls", …
	Usage        Usage
	ToolCalls    []ToolCall // nil when the model called no tool
}

// Model is a language model. Implementations must be safe for concurrent
// use and must honour ctx. Adapters for real services live in subpackages;
// tests use deterministic local implementations.
type Model interface {
	Generate(ctx context.Context, p Prompt) (Completion, error)
}

// ModelFunc adapts a function to Model.
type ModelFunc func(ctx context.Context, p Prompt) (Completion, error)

// Generate calls f.
func (f ModelFunc) Generate(ctx context.Context, p Prompt) (Completion, error) { return f(ctx, p) }

// Delta is one fragment of a streamed answer.
type Delta struct {
	Text string // the next piece of Completion.Text; may be empty
}

// Streamer is a Model that can deliver its answer as it is produced. It is
// an optional capability, found by type assertion on a Model. fn is called on
// the caller's goroutine, in order; an error from fn stops the stream and is
// returned. The Completion returned is the whole answer (the concatenated
// deltas, tool calls, usage); a stream that ends before the model finished
// is an error, never a shorter Completion.
type Streamer interface {
	Stream(ctx context.Context, p Prompt, fn func(Delta) error) (Completion, error)
}

// Embedder turns text into a vector. Its signature matches
// chromem-go's EmbeddingFunc so one function serves both.
type Embedder func(ctx context.Context, text string) ([]float32, error)
