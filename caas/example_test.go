package caas_test

import (
	"context"
	"fmt"
	"time"

	"github.com/agent-os/agentos/caas"
	"github.com/agent-os/agentos/models/glove"
)

const guide = `# Setup

Install the tool with your package manager.

## Limits

Set max_tokens in the config file to bound each answer.
`

const client = `// Package api calls the service.
package api

import "net/http"

// Fetch builds the request for a path.
func Fetch(base, path string) (*http.Request, error) {
	return http.NewRequest("GET", base+path, nil)
}
`

// Ingest a Markdown guide and a Go file, search them, and pack a context
// window within a token budget.
func Example() {
	emb, err := glove.New()
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	svc, err := caas.New(emb.Embed, caas.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}
	defer svc.Close()
	ctx := context.Background()
	mem, err := svc.Collection(ctx, "agent-7")
	if err != nil {
		panic(err)
	}
	for _, d := range []caas.Document{
		{Source: "docs/setup.md", Text: guide},
		{Source: "api/fetch.go", Text: client},
	} {
		rep, err := mem.Ingest(ctx, d)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: %d chunks\n", d.Source, rep.Chunks)
	}

	hits, err := mem.Search(ctx, caas.Query{Text: "http.NewRequest", K: 1})
	if err != nil {
		panic(err)
	}
	fmt.Printf("best: %s %s (%s)\n", hits[0].Chunk.ID, hits[0].Chunk.Heading, hits[0].Chunk.Tier)

	window, err := mem.Context(ctx, caas.ContextRequest{
		Query:     "where do I set max_tokens",
		MaxTokens: 40,
		Hot:       []string{"User: answers are cut off."},
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d tokens, within 40: %v\n", window.Tokens, window.Tokens <= 40)
	fmt.Println(window.Text)
	// Output:
	// docs/setup.md: 4 chunks
	// api/fetch.go: 4 chunks
	// best: api/fetch.go#3 Fetch (body)
	// 28 tokens, within 40: true
	// User: answers are cut off.
	//
	// [docs/setup.md:65-120]
	// Set max_tokens in the config file to bound each answer.
}
