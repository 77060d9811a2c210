package tokens_test

import (
	"fmt"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/tokens"
)

func ExampleCount() {
	n, err := tokens.Count("gpt-4o", "hello world")
	if err != nil {
		panic(err)
	}
	fmt.Println(n)
	// Output: 2
}

func ExampleEncodingFor() {
	for _, m := range []string{"gpt-4o-mini", "gpt-4", "llama3"} {
		enc, known := tokens.EncodingFor(m)
		fmt.Println(m, enc, known)
	}
	// Output:
	// gpt-4o-mini o200k_base true
	// gpt-4 cl100k_base true
	// llama3 o200k_base false
}

func ExampleCountMessages() {
	n, err := tokens.CountMessages("gpt-4o", []agentos.Message{
		{Role: agentos.RoleSystem, Content: "You answer briefly."},
		{Role: agentos.RoleUser, Content: "hello world"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(n)
	// Output: 17
}

func ExampleCounter_Truncate() {
	c, err := tokens.ForEncoding(tokens.Cl100kBase)
	if err != nil {
		panic(err)
	}
	s, err := c.Truncate("tiktoken is great!", 4)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", s)
	// Output: "tiktoken is"
}
