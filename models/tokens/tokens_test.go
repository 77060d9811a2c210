package tokens_test

import (
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tiktoken-go/tokenizer"
)

// Known counts: the figures of OpenAI's cookbook "How to count tokens with
// tiktoken" (compare_encodings), which the Python tiktoken reproduces.
func TestCountKnown(t *testing.T) {
	cases := []struct {
		text          string
		cl100k, o200k int
	}{
		{"", 0, 0},
		{"hello world", 2, 2},
		{"tiktoken is great!", 6, 6},
		{"antidisestablishmentarianism", 6, 6},
		{"2 + 2 = 4", 7, 7},
		{"お誕生日おめでとう", 9, 8},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			n, err := tokens.Count("gpt-4", tc.text)
			require.NoError(t, err)
			assert.Equal(t, tc.cl100k, n, "cl100k_base")
			n, err = tokens.Count("gpt-4o", tc.text)
			require.NoError(t, err)
			assert.Equal(t, tc.o200k, n, "o200k_base")
		})
	}
}

func TestEncodingFor(t *testing.T) {
	cases := []struct {
		model string
		enc   tokens.Encoding
		known bool
	}{
		{"gpt-4o", tokens.O200kBase, true},
		{"gpt-4o-mini-2024-07-18", tokens.O200kBase, true},
		{"GPT-4.1-nano", tokens.O200kBase, true},
		{"gpt-5", tokens.O200kBase, true},
		{"o1-preview", tokens.O200kBase, true},
		{"o3-mini", tokens.O200kBase, true},
		{"o4-mini", tokens.O200kBase, true},
		{"chatgpt-4o-latest", tokens.O200kBase, true},
		{"openai/gpt-4o", tokens.O200kBase, true},
		{"ft:gpt-4o-mini-2024-07-18:acme::abc123", tokens.O200kBase, true},
		{"gpt-4", tokens.Cl100kBase, true},
		{"gpt-4-turbo", tokens.Cl100kBase, true},
		{"gpt-4-0613", tokens.Cl100kBase, true},
		{"gpt-3.5-turbo", tokens.Cl100kBase, true},
		{"gpt-35-turbo", tokens.Cl100kBase, true}, // Azure's spelling
		{"text-embedding-3-small", tokens.Cl100kBase, true},
		{"text-embedding-ada-002", tokens.Cl100kBase, true},
		{"ft:gpt-3.5-turbo:acme::x", tokens.Cl100kBase, true},
		{"cl100k_base", tokens.Cl100kBase, true},
		{"o200k_base", tokens.O200kBase, true},
		{"llama3.1:8b", tokens.O200kBase, false},
		{"mistral", tokens.O200kBase, false},
		{"", tokens.O200kBase, false},
	}
	for _, tc := range cases {
		t.Run(tc.model, func(t *testing.T) {
			enc, known := tokens.EncodingFor(tc.model)
			assert.Equal(t, tc.enc, enc)
			assert.Equal(t, tc.known, known)
			c, err := tokens.For(tc.model)
			require.NoError(t, err)
			assert.Equal(t, tc.enc, c.Encoding())
		})
	}
}

func TestForEncodingUnknown(t *testing.T) {
	_, err := tokens.ForEncoding("p50k_base")
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestForEncodingShared(t *testing.T) {
	a, err := tokens.ForEncoding(tokens.O200kBase)
	require.NoError(t, err)
	b, err := tokens.For("gpt-4o")
	require.NoError(t, err)
	assert.Same(t, a, b, "an encoding is loaded once and shared")
}

func TestCountMessages(t *testing.T) {
	cases := []struct {
		name string
		msgs []agentos.Message
		want int
	}{
		// No messages: the reply priming alone.
		{"empty", nil, 3},
		// 3 per message + "user" (1) + "hello world" (2) + 3 reply priming.
		{"one", []agentos.Message{{Role: agentos.RoleUser, Content: "hello world"}}, 9},
		// + 3 + "system" (1) + "tiktoken is great!" (6).
		{"two", []agentos.Message{
			{Role: agentos.RoleSystem, Content: "tiktoken is great!"},
			{Role: agentos.RoleUser, Content: "hello world"},
		}, 19},
		{"empty content", []agentos.Message{{Role: agentos.RoleAssistant}}, 3 + 1 + 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, model := range []string{"gpt-4", "gpt-4o"} {
				n, err := tokens.CountMessages(model, tc.msgs)
				require.NoError(t, err)
				assert.Equal(t, tc.want, n, model)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	cases := []struct {
		name string
		text string
		max  int
		want string
	}{
		{"fits", "hello world", 2, "hello world"},
		{"fits with room", "hello world", 10, "hello world"},
		{"one token", "hello world", 1, "hello"},
		{"zero", "hello world", 0, ""},
		{"empty", "", 0, ""},
		{"sentence", "tiktoken is great!", 4, "tiktoken is"},
		// cl100k splits these characters across tokens: the cut never
		// leaves half a character.
		{"multibyte", "お誕生日おめでとう", 3, "お誕"},
	}
	c, err := tokens.ForEncoding(tokens.Cl100kBase)
	require.NoError(t, err)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Truncate(tc.text, tc.max)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.True(t, strings.HasPrefix(tc.text, got))
			assert.True(t, utf8.ValidString(got))
			n, err := c.Count(got)
			require.NoError(t, err)
			assert.LessOrEqual(t, n, tc.max)
		})
	}
	_, err = c.Truncate("x", -1)
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

// Counting from many goroutines at once gives the same answers as counting
// alone (run with -race).
func TestConcurrent(t *testing.T) {
	texts := []string{"hello world", "tiktoken is great!", "お誕生日おめでとう", strings.Repeat("lorem ipsum ", 50)}
	want := make([]int, len(texts))
	for i, s := range texts {
		n, err := tokens.Count("gpt-4o", s)
		require.NoError(t, err)
		want[i] = n
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(texts)
				n, err := tokens.Count("gpt-4o", texts[k])
				assert.NoError(t, err)
				assert.Equal(t, want[k], n)
				_, err = tokens.Truncate("gpt-4", texts[k], 3)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
}

func FuzzTruncate(f *testing.F) {
	for _, s := range []string{"hello world", "お誕生日おめでとう", "  \n\n  x", "\xff\xfe abc", "a\u0301b", "<|endoftext|>", "1234567890123"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max = max % 64
		if max < 0 {
			max = -max
		}
		for _, enc := range []tokens.Encoding{tokens.Cl100kBase, tokens.O200kBase} {
			c, err := tokens.ForEncoding(enc)
			require.NoError(t, err)
			total, err := c.Count(s)
			require.NoError(t, err)
			got, err := c.Truncate(s, max)
			require.NoError(t, err)
			if !strings.HasPrefix(s, got) {
				t.Fatalf("%s: Truncate(%q, %d) = %q, not a prefix", enc, s, max, got)
			}
			n, err := c.Count(got)
			require.NoError(t, err)
			if n > max {
				t.Fatalf("%s: Count(Truncate(%q, %d)) = %d", enc, s, max, n)
			}
			if total <= max && got != s {
				t.Fatalf("%s: %q fits in %d tokens but was cut to %q", enc, s, max, got)
			}
			if utf8.ValidString(s) && !utf8.ValidString(got) {
				t.Fatalf("%s: Truncate(%q, %d) = %q split a character", enc, s, max, got)
			}
		}
	})
}

// BenchmarkCount reports tokens/s for prose in both encodings, beside the
// baseline of the library's own Encode on the same text: the ratio is what
// this package's layer costs.
func BenchmarkCount(b *testing.B) {
	text := strings.Repeat("The kernel decides every action an agent takes by policy, records it, and can stop it. ", 40)
	for _, enc := range []tokens.Encoding{tokens.Cl100kBase, tokens.O200kBase} {
		b.Run(string(enc), func(b *testing.B) {
			c, err := tokens.ForEncoding(enc)
			require.NoError(b, err)
			n, err := c.Count(text)
			require.NoError(b, err)
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Count(text); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
		b.Run(string(enc)+"/baseline-encode", func(b *testing.B) {
			codec, err := tokenizer.Get(tokenizer.Encoding(enc))
			require.NoError(b, err)
			ids, _, err := codec.Encode(text)
			require.NoError(b, err)
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := codec.Encode(text); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(ids))*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

func BenchmarkTruncate(b *testing.B) {
	text := strings.Repeat("The kernel decides every action an agent takes by policy. ", 40)
	c, err := tokens.ForEncoding(tokens.O200kBase)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Truncate(text, 100); err != nil {
			b.Fatal(err)
		}
	}
}
