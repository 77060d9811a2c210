package vindex_test

import (
	"fmt"
	"strings"

	"github.com/agent-os/agentos/caas/internal/vindex"
)

func ExampleIndex_Search() {
	x, err := vindex.New(3)
	if err != nil {
		panic(err)
	}
	// Vectors need not be unit length: Add normalises a copy.
	_ = x.Add("doc/cats", []float32{4, 1, 0})
	_ = x.Add("doc/dogs", []float32{3, 2, 0})
	_ = x.Add("doc/tax", []float32{0, 0, 9})
	_ = x.Add("notes/cats", []float32{8, 2, 0}) // same direction as doc/cats

	hits, err := x.Search([]float32{1, 0.25, 0}, 3, nil)
	if err != nil {
		panic(err)
	}
	for _, h := range hits {
		fmt.Printf("%s %.3f\n", h.ID, h.Score)
	}
	// Only documents, not notes.
	hits, _ = x.Search([]float32{1, 0.25, 0}, 1, func(id string) bool { return strings.HasPrefix(id, "doc/") })
	fmt.Println(hits[0].ID)
	// Output:
	// doc/cats 1.000
	// notes/cats 1.000
	// doc/dogs 0.942
	// doc/cats
}
