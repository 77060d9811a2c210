package godocqa_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/caas/internal/godocqa"
)

// The embedded set is what the package doc promises: sizes, kinds,
// answers, and description queries absent from their answers.
func TestLoad(t *testing.T) {
	docs, queries, err := godocqa.Load()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(docs), 1500)
	assert.LessOrEqual(t, len(docs), godocqa.NumDocs)
	require.True(t, slices.IsSortedFunc(docs, func(a, b godocqa.Doc) int { return strings.Compare(a.Source, b.Source) }))

	text := make(map[string]string, len(docs))
	size := 0
	for _, d := range docs {
		text[d.Source] = d.Text
		size += len(d.Source) + len(d.Text)
		decl, comment, ok := strings.Cut(d.Text, "\n")
		require.True(t, ok, d.Source)
		require.True(t, strings.HasPrefix(decl, "func ") || strings.HasPrefix(decl, "type "), d.Source)
		require.NotEmpty(t, comment, d.Source)
		require.LessOrEqual(t, len(comment), godocqa.MaxTextBytes, d.Source)
		require.NotContains(t, comment, "Deprecated:", d.Source)
	}
	assert.Less(t, size, 2<<20, "the set must stay small")

	kinds := map[string]int{}
	for _, q := range queries {
		kinds[q.Kind]++
		answer, ok := text[q.Answer]
		require.True(t, ok, q.Answer)
		switch q.Kind {
		case godocqa.KindDescription:
			assert.NotContains(t, strings.ToLower(answer), strings.ToLower(q.Text), "verbatim in its answer")
			assert.GreaterOrEqual(t, len(strings.Fields(q.Text)), 4, q.Text)
			name := q.Answer[strings.LastIndexByte(q.Answer, '/')+1:]
			name = name[strings.LastIndexByte(name, '.')+1:]
			assert.NotRegexp(t, `\b`+name+`\b`, q.Text, "the query names its answer")
		case godocqa.KindIdentifier:
			name := q.Answer[strings.LastIndexByte(q.Answer, '/')+1:]
			assert.Contains(t, q.Text, name)
		}
	}
	assert.Equal(t, map[string]int{godocqa.KindDescription: godocqa.NumQueries, godocqa.KindIdentifier: godocqa.NumQueries}, kinds)

	// Load hands out copies.
	docs[0].Text = "changed"
	again, _, err := godocqa.Load()
	require.NoError(t, err)
	assert.NotEqual(t, "changed", again[0].Text)
}

// The committed files are what the generator writes, when the toolchain is
// the release that wrote them. Under another release the standard
// library's doc comments may differ, so the comparison is skipped rather
// than tying the build to one Go version: run go generate to refresh.
func TestGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("parses 43 packages of the standard library")
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skipf("no go command to find the sources: %v", err)
	}
	goroot := strings.TrimSpace(string(out))
	version, err := godocqa.Version(goroot)
	if err != nil {
		t.Skipf("no Go sources to regenerate from: %v", err)
	}
	if version != godocqa.GoVersion() {
		t.Skipf("the set was generated from %s, the toolchain is %s; run go generate ./caas/internal/godocqa to refresh it",
			godocqa.GoVersion(), version)
	}
	docs, queries, err := godocqa.Generate(goroot)
	require.NoError(t, err)
	d, q, err := godocqa.Encode(docs, queries)
	require.NoError(t, err)
	wantD, err := os.ReadFile("testdata/docs.jsonl")
	require.NoError(t, err)
	wantQ, err := os.ReadFile("testdata/queries.jsonl")
	require.NoError(t, err)
	require.True(t, bytes.Equal(wantD, d), "docs.jsonl is stale: run go generate ./caas/internal/godocqa")
	require.True(t, bytes.Equal(wantQ, q), "queries.jsonl is stale: run go generate ./caas/internal/godocqa")
}

func TestGenerateErrors(t *testing.T) {
	_, _, err := godocqa.Generate(t.TempDir())
	require.Error(t, err)
	_, err = godocqa.Version(t.TempDir())
	require.Error(t, err)
}

func TestParse(t *testing.T) {
	doc := `{"source":"strings/Cut","text":"func Cut(s, sep string) (before, after string, found bool)\nslices s around the first instance of sep."}` + "\n"
	query := `{"text":"slices around a separator","kind":"description","answer":"strings/Cut"}` + "\n"
	long := `{"source":"a/B","text":"` + strings.Repeat("x", godocqa.MaxLineBytes) + `"}`
	tests := []struct {
		name, docs, queries string
		ok                  bool
	}{
		{"valid", doc, query, true},
		{"no trailing newline", strings.TrimSpace(doc), strings.TrimSpace(query), true},
		{"no docs", "", query, false},
		{"no queries", doc, "", false},
		{"not json", "{", query, false},
		{"two values on a line", strings.TrimSpace(doc) + strings.TrimSpace(doc), query, false},
		{"unknown field", `{"source":"a/B","text":"t","extra":1}`, query, false},
		{"empty text", `{"source":"a/B","text":""}`, query, false},
		{"duplicate source", doc + doc, query, false},
		{"unknown kind", doc, `{"text":"t","kind":"vibes","answer":"strings/Cut"}`, false},
		{"empty query", doc, `{"text":"","kind":"identifier","answer":"strings/Cut"}`, false},
		{"answer not a document", doc, `{"text":"t","kind":"identifier","answer":"strings/Index"}`, false},
		{"line too long", long, query, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, queries, err := godocqa.Parse(strings.NewReader(tc.docs), strings.NewReader(tc.queries))
			if tc.ok {
				require.NoError(t, err)
				require.Len(t, docs, 1)
				require.Len(t, queries, 1)
				return
			}
			require.ErrorIs(t, err, godocqa.ErrCorrupt)
			require.ErrorIs(t, err, agentos.ErrInvalid)
			assert.Nil(t, docs)
			assert.Nil(t, queries)
		})
	}
}

func TestParseBounds(t *testing.T) {
	var b strings.Builder
	for i := 0; i <= godocqa.MaxDocs; i++ {
		fmt.Fprintf(&b, `{"source":"p/S%d","text":"t"}`+"\n", i)
	}
	_, _, err := godocqa.Parse(strings.NewReader(b.String()), strings.NewReader(""))
	require.ErrorIs(t, err, godocqa.ErrCorrupt)
	assert.ErrorContains(t, err, fmt.Sprintf("more than %d lines", godocqa.MaxDocs))
}

// FuzzParse feeds arbitrary files to Parse: an error or a set that keeps
// every promise, never a panic.
func FuzzParse(f *testing.F) {
	f.Add(`{"source":"strings/Cut","text":"func Cut()\nslices s."}`, `{"text":"slices","kind":"description","answer":"strings/Cut"}`)
	f.Add(`{"source":"a/B","text":"x"}`+"\n"+`{"source":"a/B","text":"y"}`, `{"text":"q","kind":"identifier","answer":"a/B"}`)
	f.Add(`{"source":"a/B","text":"x"} 1`, `null`)
	f.Add(`[]`, `{"text":"q","kind":"identifier","answer":"a/C"}`)
	f.Fuzz(func(t *testing.T, docsFile, queriesFile string) {
		docs, queries, err := godocqa.Parse(strings.NewReader(docsFile), strings.NewReader(queriesFile))
		if err != nil {
			require.Nil(t, docs)
			return
		}
		sources := map[string]bool{}
		for _, d := range docs {
			require.NotEmpty(t, d.Source)
			require.NotEmpty(t, d.Text)
			require.False(t, sources[d.Source])
			sources[d.Source] = true
		}
		require.NotEmpty(t, queries)
		for _, q := range queries {
			require.True(t, sources[q.Answer])
			require.Contains(t, []string{godocqa.KindDescription, godocqa.KindIdentifier}, q.Kind)
		}
	})
}
