package godocqa_test

import (
	"fmt"
	"strings"

	"github.com/agent-os/agentos/caas/internal/godocqa"
)

// Each query names the source of the document that answers it.
func ExampleLoad() {
	docs, queries, err := godocqa.Load()
	if err != nil {
		panic(err)
	}
	text := map[string]string{}
	for _, d := range docs {
		text[d.Source] = d.Text
	}
	for _, q := range queries {
		if q.Answer == "sort/SliceStable" || q.Answer == "math/Pow10" {
			fmt.Printf("%s query %q → %s\n", q.Kind, q.Text, q.Answer)
		}
	}
	decl, _, _ := strings.Cut(text["sort/SliceStable"], "\n")
	fmt.Println(decl)
	// Output:
	// description query "sorts the slice x using the provided less function, keeping equal elements in their original order" → sort/SliceStable
	// identifier query "what does math.Pow10 do" → math/Pow10
	// func SliceStable(x any, less func(i, j int) bool)
}
