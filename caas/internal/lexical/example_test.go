package lexical_test

import (
	"fmt"

	"github.com/agent-os/agentos/caas/internal/lexical"
)

func ExampleTokenize() {
	fmt.Println(lexical.Tokenize("Call http.NewRequest with max_tokens on the HTTPServer"))
	// Output:
	// [call http.newrequest http newrequest new request with max_tokens max tokens on the httpserver http server]
}

func ExampleIndex_Search() {
	x := lexical.New()
	x.Add("client.go", "func NewRequest builds an HTTP request for the client")
	x.Add("server.go", "HTTPServer answers each request")
	x.Add("limits.md", "max_tokens bounds the length of a completion")

	hits, err := x.Search("newRequest", 5, nil)
	if err != nil {
		panic(err)
	}
	for _, h := range hits {
		fmt.Printf("%s %.3f\n", h.ID, h.Score)
	}
	// Output:
	// client.go 2.368
	// server.go 0.538
}
