package godocqa

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/agent-os/agentos"
)

// The kinds of [Query].
const (
	KindDescription = "description"
	KindIdentifier  = "identifier"
)

// Bounds of [Parse]. The embedded set is well inside them; they keep a
// damaged or hostile file from exhausting memory.
const (
	MaxDocs      = 10_000
	MaxQueries   = 10_000
	MaxLineBytes = 64 << 10
)

// ErrCorrupt is wrapped by the errors of [Parse] and [Load] for data that is
// not a well-formed set. It wraps [agentos.ErrInvalid].
var ErrCorrupt = fmt.Errorf("%w: godocqa: corrupt data", agentos.ErrInvalid)

// Doc is one symbol's document.
type Doc struct {
	Source string `json:"source"` // "pkg/Symbol": "strings/HasPrefix", "bufio/Reader.ReadString"
	Text   string `json:"text"`   // its declaration, a newline, its doc comment (less the first sentence when a description query asks for it)
}

// Query is a question whose answer is known.
type Query struct {
	Text   string `json:"text"`
	Kind   string `json:"kind"`   // KindDescription or KindIdentifier
	Answer string `json:"answer"` // the Source of the Doc that answers it
}

var (
	//go:embed testdata/docs.jsonl
	docsJSONL []byte
	//go:embed testdata/queries.jsonl
	queriesJSONL []byte
	//go:embed testdata/version.txt
	version string
)

var loaded = sync.OnceValues(func() (set, error) {
	d, q, err := Parse(bytes.NewReader(docsJSONL), bytes.NewReader(queriesJSONL))
	return set{d, q}, err
})

type set struct {
	docs    []Doc
	queries []Query
}

// Load returns the embedded set: the documents in Source order and the
// queries, description queries first. It is decoded once; each call returns
// fresh slices the caller may change.
func Load() (docs []Doc, queries []Query, err error) {
	s, err := loaded()
	if err != nil {
		return nil, nil, err
	}
	return append([]Doc(nil), s.docs...), append([]Query(nil), s.queries...), nil
}

// GoVersion returns the Go release (runtime.Version) whose sources the
// embedded set was generated from.
func GoVersion() string { return string(bytes.TrimSpace([]byte(version))) }

// Parse decodes a set from its two JSON Lines files and checks it: every
// field non-empty, sources unique, every kind known, every answer a source
// of docs, and the bounds MaxDocs, MaxQueries and MaxLineBytes. Errors wrap
// [ErrCorrupt].
func Parse(docs, queries io.Reader) ([]Doc, []Query, error) {
	ds, err := readLines[Doc](docs, MaxDocs, "docs")
	if err != nil {
		return nil, nil, err
	}
	sources := make(map[string]bool, len(ds))
	for i, d := range ds {
		if d.Source == "" || d.Text == "" {
			return nil, nil, fmt.Errorf("%w: docs line %d: empty source or text", ErrCorrupt, i+1)
		}
		if sources[d.Source] {
			return nil, nil, fmt.Errorf("%w: docs line %d: duplicate source %q", ErrCorrupt, i+1, d.Source)
		}
		sources[d.Source] = true
	}
	qs, err := readLines[Query](queries, MaxQueries, "queries")
	if err != nil {
		return nil, nil, err
	}
	for i, q := range qs {
		switch {
		case q.Text == "":
			return nil, nil, fmt.Errorf("%w: queries line %d: empty text", ErrCorrupt, i+1)
		case q.Kind != KindDescription && q.Kind != KindIdentifier:
			return nil, nil, fmt.Errorf("%w: queries line %d: unknown kind %q", ErrCorrupt, i+1, q.Kind)
		case !sources[q.Answer]:
			return nil, nil, fmt.Errorf("%w: queries line %d: answer %q is not a document", ErrCorrupt, i+1, q.Answer)
		}
	}
	return ds, qs, nil
}

func readLines[T any](r io.Reader, maxItems int, name string) ([]T, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineBytes)
	var out []T
	for line := 1; sc.Scan(); line++ {
		if len(out) == maxItems {
			return nil, fmt.Errorf("%w: %s: more than %d lines", ErrCorrupt, name, maxItems)
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var v T
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %v", ErrCorrupt, name, line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%w: %s line %d: more than one value", ErrCorrupt, name, line)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: %s: a line is longer than %d bytes", ErrCorrupt, name, MaxLineBytes)
		}
		return nil, fmt.Errorf("godocqa: read %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s: no lines", ErrCorrupt, name)
	}
	return out, nil
}

// Encode returns the two JSON Lines files of a set, as [Generate]'s caller
// writes them: one object per line, HTML characters not escaped.
func Encode(docs []Doc, queries []Query) (docsJSONL, queriesJSONL []byte, err error) {
	if docsJSONL, err = writeLines(docs); err != nil {
		return nil, nil, err
	}
	if queriesJSONL, err = writeLines(queries); err != nil {
		return nil, nil, err
	}
	return docsJSONL, queriesJSONL, nil
}

func writeLines[T any](items []T) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return nil, fmt.Errorf("godocqa: encode: %w", err)
		}
	}
	return buf.Bytes(), nil
}
