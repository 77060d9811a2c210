package openai_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/openai"
)

// A local OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio) is
// addressed by its base URL; here an httptest server stands in for it.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"1","object":"chat.completion","created":1,"model":"llama3.1",
			"choices":[{"index":0,"message":{"role":"assistant","content":"4"},"finish_reason":"stop"}],
			"usage":{"prompt_tokens":14,"completion_tokens":1,"total_tokens":15}}`)
	}))
	defer srv.Close()

	m, err := openai.New(openai.Config{BaseURL: srv.URL + "/v1", Model: "llama3.1"})
	if err != nil {
		panic(err)
	}
	var model agentos.Model = m
	c, err := model.Generate(context.Background(), agentos.Prompt{Messages: []agentos.Message{
		{Role: agentos.RoleUser, Content: "2+2? Answer with the number only."},
	}})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s (%s, finish %s, %d+%d tokens)\n", c.Text, c.Model, c.FinishReason,
		c.Usage.PromptTokens, c.Usage.CompletionTokens)
	// Output: 4 (llama3.1, finish stop, 14+1 tokens)
}

// Streaming is an optional capability of a Model, found by type assertion.
func ExampleClient_Stream() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, d := range []string{
			`{"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"model":"m"}`,
			`{"choices":[{"index":0,"delta":{"content":", world"},"finish_reason":null}],"model":"m"}`,
			`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"model":"m"}`,
			`[DONE]`,
		} {
			_, _ = fmt.Fprintf(w, "data: %s\n\n", d)
		}
	}))
	defer srv.Close()

	m, _ := openai.New(openai.Config{BaseURL: srv.URL + "/v1", Model: "m"})
	var model agentos.Model = m
	if s, ok := model.(agentos.Streamer); ok {
		c, err := s.Stream(context.Background(), agentos.Prompt{}, func(d agentos.Delta) error {
			fmt.Printf("[%s]", d.Text)
			return nil
		})
		fmt.Println()
		fmt.Println(c.Text, err)
	}
	// Output:
	// [Hello][, world]
	// Hello, world <nil>
}

// Client.Embed has the signature of agentos.Embedder.
func ExampleClient_Embed() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object":"list","model":"nomic-embed-text",
			"data":[{"object":"embedding","index":0,"embedding":[0.6,0.8,0]}],
			"usage":{"prompt_tokens":2,"total_tokens":2}}`)
	}))
	defer srv.Close()

	m, _ := openai.New(openai.Config{BaseURL: srv.URL + "/v1", EmbeddingModel: "nomic-embed-text", Dimensions: 3})
	var embed agentos.Embedder = m.Embed
	v, err := embed(context.Background(), "a car")
	fmt.Println(v, err, m.Usage().PromptTokens)
	// Output: [0.6 0.8 0] <nil> 2
}
