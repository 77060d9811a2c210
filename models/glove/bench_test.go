package glove_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/agent-os/agentos/models/glove"
)

var shortTexts = []string{
	"the car broke down on the highway",
	"how do I delete a file",
	"remove a document from the disk",
	"deploy the service to kubernetes",
	"refund the customer's last order",
	"what went wrong last time",
	"summarise the meeting notes",
	"policy denied the network call",
}

// BenchmarkEmbedShort is the throughput of short texts (5–7 words); run with
// -cpu 1 and read texts/s. The baseline beside it only lowercases and splits
// the same texts (strings.ToLower, strings.Fields): the ratio is what the
// lookups, weights and sums cost on top of reading the text.
func BenchmarkEmbedShort(b *testing.B) {
	e, err := glove.New()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("baseline=lower+fields", func(b *testing.B) {
		b.ReportAllocs()
		n, words := 0, 0
		for b.Loop() {
			words += len(strings.Fields(strings.ToLower(shortTexts[n%len(shortTexts)])))
			n++
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "texts/s")
	})
	b.Run("embed", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if _, err := e.Embed(ctx, shortTexts[n%len(shortTexts)]); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "texts/s")
	})
}

// BenchmarkEmbedShortParallel is the same across GOMAXPROCS goroutines.
func BenchmarkEmbedShortParallel(b *testing.B) {
	e, err := glove.New()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			if _, err := e.Embed(ctx, shortTexts[n%len(shortTexts)]); err != nil {
				b.Error(err)
				return
			}
			n++
		}
	})
}

// BenchmarkLoad is the time to decode the 5.6 MB table and build its index
// (what New pays once per process).
func BenchmarkLoad(b *testing.B) {
	data, err := os.ReadFile("vectors.bin")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := glove.Load(bytes.NewReader(data), "vectors.bin"); err != nil {
			b.Fatal(err)
		}
	}
}
