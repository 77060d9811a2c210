package caas

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkChunks asserts the invariants Split promises, whatever the input.
func checkChunks(t testing.TB, d Document, o ChunkOptions, cs []Chunk) {
	t.Helper()
	max := o.MaxBytes
	if max == 0 {
		max = DefaultChunkBytes
	}
	covered := make([]bool, len(d.Text))
	prev := -1
	for i, c := range cs {
		if c.Start < 0 || c.End > len(d.Text) || c.Start >= c.End {
			t.Fatalf("chunk %d: bad range [%d,%d) of %d", i, c.Start, c.End, len(d.Text))
		}
		if c.Text != d.Text[c.Start:c.End] {
			t.Fatalf("chunk %d: Text is not d.Text[%d:%d]", i, c.Start, c.End)
		}
		if c.End-c.Start > max {
			t.Fatalf("chunk %d: %d bytes, more than %d", i, c.End-c.Start, max)
		}
		if c.Start <= prev {
			t.Fatalf("chunk %d: starts at %d, not after %d", i, c.Start, prev)
		}
		prev = c.Start
		if !c.Tier.valid() {
			t.Fatalf("chunk %d: tier %d", i, c.Tier)
		}
		if want := d.Source + "#" + itoa(i); c.ID != want {
			t.Fatalf("chunk %d: ID %q, want %q", i, c.ID, want)
		}
		if utf8.ValidString(d.Text) {
			if !utf8.ValidString(c.Text) {
				t.Fatalf("chunk %d: cut inside a rune", i)
			}
			r, _ := utf8.DecodeRuneInString(c.Text)
			l, _ := utf8.DecodeLastRuneInString(c.Text)
			if unicode.IsSpace(r) || unicode.IsSpace(l) {
				t.Fatalf("chunk %d: %q starts or ends with space", i, c.Text)
			}
		}
		for j := c.Start; j < c.End; j++ {
			covered[j] = true
		}
	}
	// Every non-space rune is in some chunk.
	for i := 0; i < len(d.Text); {
		r, n := utf8.DecodeRuneInString(d.Text[i:])
		if !unicode.IsSpace(r) && !covered[i] {
			t.Fatalf("byte %d (%q) is in no chunk", i, r)
		}
		i += n
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

const mdDoc = `# Setup guide

Install the tool with the package manager. It needs Go 1.26.

## Configure

Set max_tokens in the config file.

> Note: the file is read once at start.

Another paragraph of the body.[^1]

[^1]: Footnote text here.

<!-- editor's aside
spanning lines -->

` + "```go\n# not a heading\nfmt.Println(1)\n```\n"

const goDoc = `// Package demo shows the splitter.
package demo

import "net/http"

// Client calls the API.
type Client struct {
	URL string // the base URL
}

// Get fetches a path.
func (c *Client) Get(p string) (*http.Request, error) {
	// build the request
	return http.NewRequest("GET", c.URL+p, nil)
}

// a free comment
`

func TestSplitStructure(t *testing.T) {
	t.Run("markdown", func(t *testing.T) {
		d := Document{Source: "guides/setup.md", Text: mdDoc}
		cs, err := Split(d, ChunkOptions{})
		require.NoError(t, err)
		checkChunks(t, d, ChunkOptions{}, cs)
		byText := map[string]Chunk{}
		for _, c := range cs {
			byText[c.Text] = c
		}
		assert.Equal(t, TierContract, byText["# Setup guide"].Tier)
		assert.Equal(t, TierContract, byText["## Configure"].Tier)
		assert.Equal(t, "Configure", byText["## Configure"].Heading)
		assert.Equal(t, TierNote, byText["> Note: the file is read once at start."].Tier)
		assert.Equal(t, TierNote, byText["[^1]: Footnote text here."].Tier)
		assert.Equal(t, TierNote, byText["<!-- editor's aside\nspanning lines -->"].Tier)
		body := byText["Set max_tokens in the config file."]
		assert.Equal(t, TierBody, body.Tier)
		assert.Equal(t, "Configure", body.Heading)
		fence := byText["```go\n# not a heading\nfmt.Println(1)\n```"]
		assert.Equal(t, TierBody, fence.Tier, "a # inside a fence is not a heading: %v", cs)
	})
	t.Run("go", func(t *testing.T) {
		d := Document{Source: "demo/client.go", Text: goDoc}
		cs, err := Split(d, ChunkOptions{})
		require.NoError(t, err)
		checkChunks(t, d, ChunkOptions{}, cs)
		byText := map[string]Chunk{}
		for _, c := range cs {
			byText[c.Text] = c
		}
		assert.Equal(t, TierContract, byText["// Package demo shows the splitter.\npackage demo"].Tier)
		typ := byText["// Client calls the API.\ntype Client struct {\n\tURL string // the base URL\n}"]
		assert.Equal(t, TierContract, typ.Tier)
		assert.Equal(t, "type Client", typ.Heading)
		sig := byText["// Get fetches a path.\nfunc (c *Client) Get(p string) (*http.Request, error)"]
		assert.Equal(t, TierContract, sig.Tier)
		assert.Equal(t, "(*Client).Get", sig.Heading)
		assert.Equal(t, TierNote, byText["// build the request"].Tier)
		assert.Equal(t, TierBody, byText[`return http.NewRequest("GET", c.URL+p, nil)
}`].Tier)
		assert.Equal(t, TierNote, byText["// a free comment"].Tier)
	})
	t.Run("go that does not parse falls back to code", func(t *testing.T) {
		d := Document{Source: "x.go", Text: "func broken( {\n  x := 1\n}\n\n// trailing note\nvar y = 2\n"}
		cs, err := Split(d, ChunkOptions{})
		require.NoError(t, err)
		checkChunks(t, d, ChunkOptions{}, cs)
		require.Len(t, cs, 3)
		assert.Equal(t, TierBody, cs[0].Tier)
		assert.Equal(t, "func broken( {", cs[0].Heading)
		assert.Equal(t, TierNote, cs[1].Tier)
		assert.Equal(t, TierBody, cs[2].Tier)
	})
	t.Run("code", func(t *testing.T) {
		d := Document{Source: "lib/app.py", Text: "# helpers\ndef f(x):\n    return x\n\n\ndef g():\n    pass\n"}
		cs, err := Split(d, ChunkOptions{})
		require.NoError(t, err)
		checkChunks(t, d, ChunkOptions{}, cs)
		require.Len(t, cs, 3)
		assert.Equal(t, []Tier{TierNote, TierBody, TierBody}, []Tier{cs[0].Tier, cs[1].Tier, cs[2].Tier})
		assert.Equal(t, "def g():", cs[2].Heading)
	})
	t.Run("text by paragraphs then sentences", func(t *testing.T) {
		para := strings.Repeat("This is a sentence of some length. ", 6) // 210 bytes
		text := para + "\n\n" + para + "\n\n" + para
		d := Document{Source: "notes.txt", Text: text}
		o := ChunkOptions{MaxBytes: 450}
		cs, err := Split(d, o)
		require.NoError(t, err)
		checkChunks(t, d, o, cs)
		require.Len(t, cs, 2)
		assert.Equal(t, strings.TrimSpace(para+"\n\n"+para), cs[0].Text, "two paragraphs fit")
		o = ChunkOptions{MaxBytes: 100}
		cs, err = Split(d, o)
		require.NoError(t, err)
		checkChunks(t, d, o, cs)
		for _, c := range cs {
			assert.True(t, strings.HasSuffix(c.Text, "."), "cut at a sentence end: %q", c.Text)
		}
	})
	t.Run("overlap", func(t *testing.T) {
		text := strings.Repeat("word ", 200)
		d := Document{Source: "a.txt", Text: text}
		o := ChunkOptions{MaxBytes: 100, Overlap: 30}
		cs, err := Split(d, o)
		require.NoError(t, err)
		checkChunks(t, d, o, cs)
		for i := 1; i < len(cs); i++ {
			assert.Less(t, cs[i].Start, cs[i-1].End, "chunk %d overlaps the one before", i)
		}
	})
	t.Run("no spaces, multibyte", func(t *testing.T) {
		d := Document{Source: "a.txt", Text: strings.Repeat("日本語", 100)}
		o := ChunkOptions{MaxBytes: 64}
		cs, err := Split(d, o)
		require.NoError(t, err)
		checkChunks(t, d, o, cs)
	})
}

func TestSplitErrors(t *testing.T) {
	ok := "hello"
	for _, tc := range []struct {
		name string
		d    Document
		o    ChunkOptions
		want error
	}{
		{"empty", Document{Source: "a", Text: ""}, ChunkOptions{}, ErrEmpty},
		{"whitespace", Document{Source: "a", Text: " \n\t\u00a0 "}, ChunkOptions{}, ErrEmpty},
		{"NUL", Document{Source: "a", Text: "ab\x00cd"}, ChunkOptions{}, ErrBinary},
		{"invalid UTF-8", Document{Source: "a", Text: "\xff\xfe" + strings.Repeat("a", 50)}, ChunkOptions{}, ErrBinary},
		{"huge", Document{Source: "a", Text: strings.Repeat("a", MaxDocumentBytes+1)}, ChunkOptions{}, agentos.ErrInvalid},
		{"too many chunks", Document{Source: "a", Text: strings.Repeat("abcdefgh ", MaxChunks*8)}, ChunkOptions{MaxBytes: 64}, agentos.ErrInvalid},
		{"no source", Document{Text: ok}, ChunkOptions{}, agentos.ErrInvalid},
		{"absolute", Document{Source: "/etc/passwd", Text: ok}, ChunkOptions{}, agentos.ErrInvalid},
		{"dotdot", Document{Source: "a/../b", Text: ok}, ChunkOptions{}, agentos.ErrInvalid},
		{"dot", Document{Source: "./b", Text: ok}, ChunkOptions{}, agentos.ErrInvalid},
		{"double slash", Document{Source: "a//b", Text: ok}, ChunkOptions{}, agentos.ErrInvalid},
		{"trailing slash", Document{Source: "a/", Text: ok}, ChunkOptions{}, agentos.ErrInvalid},
		{"long source", Document{Source: strings.Repeat("a", MaxSourceBytes+1), Text: ok}, ChunkOptions{}, agentos.ErrInvalid},
		{"source not UTF-8", Document{Source: "a\xff", Text: ok}, ChunkOptions{}, agentos.ErrInvalid},
		{"source control", Document{Source: "a\nb", Text: ok}, ChunkOptions{}, agentos.ErrInvalid},
		{"unknown kind", Document{Source: "a", Kind: "pdf", Text: ok}, ChunkOptions{}, agentos.ErrInvalid},
		{"small MaxBytes", Document{Source: "a", Text: ok}, ChunkOptions{MaxBytes: 10}, agentos.ErrInvalid},
		{"huge MaxBytes", Document{Source: "a", Text: ok}, ChunkOptions{MaxBytes: MaxChunkBytes + 1}, agentos.ErrInvalid},
		{"negative overlap", Document{Source: "a", Text: ok}, ChunkOptions{Overlap: -1}, agentos.ErrInvalid},
		{"overlap over half", Document{Source: "a", Text: ok}, ChunkOptions{MaxBytes: 100, Overlap: 51}, agentos.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Split(tc.d, tc.o)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			assert.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	t.Run("a little invalid UTF-8 is text", func(t *testing.T) {
		d := Document{Source: "latin1.txt", Text: "caf\xe9 " + strings.Repeat("x", 200)}
		cs, err := Split(d, ChunkOptions{})
		require.NoError(t, err)
		checkChunks(t, d, ChunkOptions{}, cs)
	})
	t.Run("exact source limit", func(t *testing.T) {
		_, err := Split(Document{Source: strings.Repeat("a", MaxSourceBytes), Text: ok}, ChunkOptions{})
		require.NoError(t, err)
	})
}

func TestDetectKind(t *testing.T) {
	for src, want := range map[string]Kind{
		"a.md": KindMarkdown, "b/c.MARKDOWN": KindMarkdown, "x.go": KindGo, "y.py": KindCode,
		"z.ts": KindCode, "notes.txt": KindText, "README": KindText, "data.csv": KindText,
	} {
		assert.Equal(t, want, DetectKind(src), src)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("a.md", mdDoc, 0, 0)
	f.Add("a.go", goDoc, 80, 20)
	f.Add("a.py", "# c\ndef f():\n  {\n\n}\n", 64, 0)
	f.Add("a.txt", "One. Two! Three? Four;\n\nFive", 64, 32)
	f.Add("a.txt", "caf\xe9 au lait "+strings.Repeat("z", 120), 64, 10)
	f.Add("a.md", "```\n# x\n<!-- y", 0, 0)
	f.Fuzz(func(t *testing.T, source, text string, max, overlap int) {
		d := Document{Source: source, Text: text}
		o := ChunkOptions{MaxBytes: max, Overlap: overlap}
		cs, err := Split(d, o)
		if err != nil {
			if !errors.Is(err, agentos.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		checkChunks(t, d, o, cs)
	})
}
