package glove_test

import (
	"context"
	"fmt"

	"github.com/agent-os/agentos/models/glove"
)

func Example() {
	e, err := glove.New()
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	query, _ := e.Embed(ctx, "my car will not start")
	docs := []string{
		"troubleshooting an automobile engine that fails to start",
		"a recipe for banana bread",
	}
	best, bestScore := "", -1.0
	for _, d := range docs {
		v, _ := e.Embed(ctx, d)
		var score float64
		for i := range v {
			score += float64(query[i]) * float64(v[i]) // unit vectors: the dot product is the cosine
		}
		if score > bestScore {
			best, bestScore = d, score
		}
	}
	fmt.Println(len(query), best)
	// Output: 100 troubleshooting an automobile engine that fails to start
}
