package scripted_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/scripted"
)

func Example() {
	m := scripted.MustNew(
		scripted.Name("gpt-4o"),
		scripted.When(scripted.Contains("capital of France")).Reply("Paris."),
		scripted.When(scripted.Regexp(`(?i)^summari[sz]e`)).ReplyTemplate("Summary of {{len .Messages}} message(s)."),
		scripted.Otherwise().Reply("I don't know."),
	)
	ask := func(q string) {
		c, err := m.Generate(context.Background(), agentos.Prompt{Messages: []agentos.Message{
			{Role: agentos.RoleUser, Content: q},
		}})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s (%s, %d+%d tokens)\n", c.Text, c.FinishReason, c.Usage.PromptTokens, c.Usage.CompletionTokens)
	}
	ask("What is the capital of France?")
	ask("Summarise this")
	ask("Why?")
	fmt.Println(len(m.Calls()), "calls recorded")
	// Output:
	// Paris. (stop, 14+2 tokens)
	// Summary of 1 message(s). (stop, 11+7 tokens)
	// I don't know. (stop, 9+4 tokens)
	// 3 calls recorded
}

// A prompt that no rule matches is an error, never an empty answer.
func Example_noMatch() {
	m := scripted.MustNew(scripted.When(scripted.Equals("ping")).Reply("pong"))
	_, err := m.Generate(context.Background(), agentos.Prompt{Messages: []agentos.Message{
		{Role: agentos.RoleUser, Content: "hello"},
	}})
	fmt.Println(errors.Is(err, agentos.ErrNotFound))
	// Output: true
}

// A sequence scripts a conversation: one answer per call, then an error.
func ExampleRule_ReplySequence() {
	m := scripted.MustNew(scripted.Otherwise().ReplySequence("first", "second"))
	p := agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleUser, Content: "next"}}}
	for range 3 {
		c, err := m.Generate(context.Background(), p)
		fmt.Printf("%q %v\n", c.Text, errors.Is(err, scripted.ErrExhausted))
	}
	// Output:
	// "first" false
	// "second" false
	// "" true
}

// Fail scripts a failing model, to test how a caller handles it.
func ExampleRule_Fail() {
	errRateLimited := errors.New("rate limited")
	m := scripted.MustNew(scripted.Otherwise().Fail(errRateLimited))
	_, err := m.Generate(context.Background(), agentos.Prompt{})
	fmt.Println(errors.Is(err, errRateLimited))
	// Output: true
}
