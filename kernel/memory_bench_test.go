package kernel_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/philippgille/chromem-go"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/caas"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
)

// hashEmbed is a cheap deterministic embedder for the search benchmarks: a
// unit 100-d vector drawn from a generator seeded by the text's hash, so
// that the benchmarks measure searching, not embedding.
func hashEmbed(_ context.Context, text string) ([]float32, error) {
	h := fnv.New64a()
	h.Write([]byte(text))
	r := rand.New(rand.NewPCG(h.Sum64(), 7))
	v := make([]float32, 100)
	var n float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		n += x * x
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i] /= float32(n)
	}
	return v, nil
}

// searchFixture is a kernel whose agent's /mem/semantic/ holds n
// one-chunk documents, and a chromem-go collection holding the same
// vectors.
type searchFixture struct {
	k       *kernel.Kernel
	a       *kernel.Agent
	coll    *caas.Collection
	chromem *chromem.Collection
	queries []string
	qvecs   [][]float32
}

// loadSearch builds the fixture of n documents; b's cleanup closes it.
func loadSearch(b *testing.B, n int) *searchFixture {
	b.Helper()
	{
		ctx := context.Background()
		r := rand.New(rand.NewPCG(uint64(n), 1))
		word := func() string { return fmt.Sprintf("w%d", r.IntN(5000)) }
		svc, err := caas.New(hashEmbed, caas.WithQuota(caas.Quota{MaxVectors: 2 * n, MaxBytes: 1 << 30}))
		if err != nil {
			b.Fatal(err)
		}
		rec, err := recorder.Open("", &recorder.Options{Durability: recorder.Buffered})
		if err != nil {
			b.Fatal(err)
		}
		k, err := kernel.New(kernel.WithRecorder(rec), kernel.WithMemory(kernel.Memory{Context: svc}))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			_ = k.Close()
			_ = rec.Close()
			_ = svc.Close()
		})
		a, err := k.Spawn(ctx, "bench-1")
		if err != nil {
			b.Fatal(err)
		}
		coll, err := svc.Collection(ctx, kernel.CollectionFor("bench-1"))
		if err != nil {
			b.Fatal(err)
		}
		docs := make([]chromem.Document, n)
		for i := range n {
			words := make([]string, 12)
			for j := range words {
				words[j] = word()
			}
			text := strings.Join(words, " ")
			src := fmt.Sprintf("docs/%06d.txt", i)
			if _, err := coll.Ingest(ctx, caas.Document{Source: src, Kind: caas.KindText, Text: text}); err != nil {
				b.Fatal(err)
			}
			v, _ := hashEmbed(ctx, text)
			docs[i] = chromem.Document{ID: src, Content: text, Embedding: v}
		}
		noEmbed := func(context.Context, string) ([]float32, error) {
			return nil, errors.New("benchmark: no embedding function")
		}
		col, err := chromem.NewDB().CreateCollection("bench", nil, noEmbed)
		if err != nil {
			b.Fatal(err)
		}
		if err := col.AddDocuments(ctx, docs, runtime.NumCPU()); err != nil {
			b.Fatal(err)
		}
		f := &searchFixture{k: k, a: a, coll: coll, chromem: col}
		for range 64 {
			q := word() + " " + word() + " " + word()
			v, _ := hashEmbed(ctx, q)
			f.queries, f.qvecs = append(f.queries, q), append(f.qvecs, v)
		}
		return f
	}
}

// BenchmarkSemanticSearch compares a top-10 search of an agent's
// /mem/semantic/ through the kernel (policy, the recorder's two entries,
// the VFS, caas: the query's embedding, the vector index and BM25, fused)
// with chromem-go's own QueryEmbedding over the same vectors, which does
// nothing but the scan. "caas-vector" is the collection's vector search
// alone, outside the kernel. The query embedder is a hash, so embedding
// costs nothing in either.
func BenchmarkSemanticSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			if n > 10_000 && testing.Short() {
				b.Skip("100k documents take a while to ingest")
			}
			f := loadSearch(b, n)
			ctx := context.Background()
			b.Run("chromem-QueryEmbedding", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					res, err := f.chromem.QueryEmbedding(ctx, f.qvecs[i%len(f.qvecs)], 10, nil, nil)
					if err != nil || len(res) != 10 {
						b.Fatal(err, len(res))
					}
					i++
				}
			})
			b.Run("caas-vector", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					res, err := f.coll.Search(ctx, caas.Query{Text: f.queries[i%len(f.queries)], K: 10, Mode: caas.ModeVector})
					if err != nil || len(res) != 10 {
						b.Fatal(err, len(res))
					}
					i++
				}
			})
			b.Run("kernel-Search", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					res, err := f.a.Search(ctx, "/mem/semantic", f.queries[i%len(f.queries)], 10)
					if err != nil || len(res) != 10 {
						b.Fatal(err, len(res))
					}
					i++
				}
			})
		})
	}
}

var _ agentos.Embedder = hashEmbed
