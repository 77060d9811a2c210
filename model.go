package agentos

import "context"

// Role is the author of a message in a Prompt.
type Role string

const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role
	Content string
}

// Prompt is a request to a language model.
type Prompt struct {
	Messages    []Message
	Temperature float64 // 0 asks for the model's most deterministic answer
	MaxTokens   int     // 0 means the model's default
	Stop        []string
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
	FinishReason string // "stop", "length", …
	Usage        Usage
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

// Embedder turns text into a vector. Its signature matches
// chromem-go's EmbeddingFunc so one function serves both.
type Embedder func(ctx context.Context, text string) ([]float32, error)
