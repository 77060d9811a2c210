package cmvk

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/glove"
)

// sleeper answers after a fixed latency on a real timer, honouring ctx: a
// stand-in for a remote model.
func sleeper(d time.Duration) agentos.Model {
	return agentos.ModelFunc(func(ctx context.Context, _ agentos.Prompt) (agentos.Completion, error) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return agentos.Completion{Text: "The answer is 42."}, nil
		case <-ctx.Done():
			return agentos.Completion{}, ctx.Err()
		}
	})
}

// BenchmarkAsk compares fanning a prompt out to N models of 2 ms latency
// with asking them one after another. fanout/N should cost about one
// latency plus the overhead it reports; sequential/N about N latencies.
func BenchmarkAsk(b *testing.B) {
	const latency = 2 * time.Millisecond
	p := agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleUser, Content: "q"}}}
	for _, n := range []int{4, 8} {
		models := make([]Named, n)
		for i := range models {
			models[i] = Named{Name: fmt.Sprint("m", i), Model: sleeper(latency)}
		}
		b.Run(fmt.Sprintf("fanout/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if _, err := Ask(context.Background(), p, models, WithLimit(n)); err != nil {
					b.Fatal(err)
				}
			}
			per := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64((per - latency).Microseconds()), "µs-over-slowest/op")
		})
		b.Run(fmt.Sprintf("sequential/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, m := range models {
					if _, err := m.Model.Generate(context.Background(), p); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// text1K is about 1 KiB of English-like words from a fixed seed.
func text1K(seed uint64) string {
	words := strings.Fields("the model said that revenue grew by five percent in the third quarter while costs fell and the outlook for next year remains stable according to the report")
	r := rand.New(rand.NewPCG(seed, 1))
	var sb strings.Builder
	for sb.Len() < 1024 {
		sb.WriteString(words[r.IntN(len(words))])
		if r.IntN(12) == 0 {
			sb.WriteString(".\n")
		} else {
			sb.WriteByte(' ')
		}
	}
	return sb.String()
}

func BenchmarkMetrics1KiB(b *testing.B) {
	a, c := text1K(1), text1K(2)
	var ja, jc strings.Builder
	ja.WriteString(`{"items":[`)
	jc.WriteString(`{"items":[`)
	for i := 0; ja.Len() < 1000; i++ {
		fmt.Fprintf(&ja, `{"id":%d,"name":"n%d","tags":["x"]},`, i, i)
		fmt.Fprintf(&jc, `{"id":"%d","name":"n%d","tags":[]},`, i, i)
	}
	ja.WriteString(`{}]}`)
	jc.WriteString(`{}]}`)
	for _, bc := range []struct {
		name string
		f    func() (Score, error)
	}{
		{"lexical", func() (Score, error) { return LexicalDrift(a, c) }},
		{"sequence", func() (Score, error) { return SequenceDrift(a, c) }},
		{"code", func() (Score, error) { return CodeShapeDrift(a, c) }},
		{"json", func() (Score, error) { return JSONShapeDrift(ja.String(), jc.String()) }},
		{"numeric", func() (Score, error) { return NumericDrift(a+" 1 2.5 3e4", c+" 1 2.5 3e4", DefaultTolerance) }},
		{"jsonvalue", func() (Score, error) { return JSONValueDrift(ja.String(), jc.String(), DefaultTolerance) }},
		{"codetoken", func() (Score, error) { return CodeTokenDrift(a, c) }},
		{"figures", func() (Score, error) { return QuantityDrift(a+" 1 2.5 3e4", c+" 1 2.5 3e4", DefaultTolerance) }},
		{"polarity", func() (Score, error) { return PolarityDrift(a, c) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(a)))
			for b.Loop() {
				if _, err := bc.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	va, vc := make([]float32, 100), make([]float32, 100)
	pa, pc := make([]float64, 100), make([]float64, 100)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range va {
		va[i], vc[i] = r.Float32()-0.5, r.Float32()-0.5
		pa[i], pc[i] = r.Float64(), r.Float64()
	}
	for _, m := range []Metric{Cosine, Euclidean, Manhattan, Chebyshev} {
		b.Run(string(m)+"/100d", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CompareVectors(m, va, vc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("jensen-shannon/100", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := JSDrift(pa, pc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyGeneral compares five short answers under the general
// profile as it was (cosine over the GloVe embedding alone) and as it is
// (the factual composite: the same cosine plus the contradiction and
// figure checks on each pair).
func BenchmarkVerifyGeneral(b *testing.B) {
	g, err := glove.New()
	if err != nil {
		b.Fatal(err)
	}
	texts := []string{
		"Q3 revenue was $4.2 million, up 12% year on year, and the outlook is stable.",
		"Revenue in Q3 reached $4.2 million, a 12% increase over last year; the outlook is stable.",
		"Q3 revenue was $4.7 million, up 12% year on year, and the outlook is not stable.",
		"In the third quarter revenue grew twelve percent to 4,200,000 dollars.",
		"The company does not report quarterly revenue.",
	}
	var as Answers
	for i, t := range texts {
		as = append(as, Answer{Name: fmt.Sprint("m", i), Completion: agentos.Completion{Text: t}})
	}
	for _, p := range []Profile{{Name: "cosine", Metric: Cosine, Threshold: 0.3}, General} {
		b.Run(string(p.Metric), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Verify(context.Background(), as, p, VerifyOptions{Embedder: g.Embed}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify5x1KiB(b *testing.B) {
	var as Answers
	for i := range 5 {
		as = append(as, Answer{Name: fmt.Sprint("m", i), Completion: agentos.Completion{Text: text1K(uint64(i % 3))}})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(context.Background(), as, LexicalProfile, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
