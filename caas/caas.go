package caas

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// Bounds of the service. Every input is checked against them; exceeding one
// is an error wrapping [agentos.ErrInvalid] (or [agentos.ErrQuota] for the
// per-collection [Quota]).
const (
	// MaxSourceBytes is the longest Document.Source.
	MaxSourceBytes = 1024
	// MaxDocumentBytes is the largest Document.Text.
	MaxDocumentBytes = 8 << 20
	// MaxChunks is the most chunks one document may split into.
	MaxChunks = 10_000
	// MaxChunkBytes is the largest ChunkOptions.MaxBytes.
	MaxChunkBytes = 1 << 20
	// MinChunkBytes is the smallest ChunkOptions.MaxBytes.
	MinChunkBytes = 64
	// DefaultChunkBytes is ChunkOptions.MaxBytes when it is zero.
	DefaultChunkBytes = 1500
	// MaxK is the largest Query.K and ContextRequest.K.
	MaxK = 100
	// MaxCollections is the most collections a Service holds.
	MaxCollections = 4096
	// MaxCollectionName is the longest collection name.
	MaxCollectionName = 128
	// MaxMeta bounds Document.Meta: entries, key bytes and value bytes.
	MaxMeta, MaxMetaKey, MaxMetaValue = 64, 128, 4096
	// MaxQueryBytes is the longest Query.Text and ContextRequest.Query.
	MaxQueryBytes = 64 << 10
	// MaxFileBytes bounds a collection file loaded by New, decompressed.
	MaxFileBytes = 2 << 30
	// MaxInvalidUTF8Ratio is the share of bytes of a document that may be
	// invalid UTF-8 (a stray Latin-1 byte in a text file) before the
	// document is taken for binary and refused.
	MaxInvalidUTF8Ratio = 0.01
)

// Errors of the package. ErrEmpty, ErrBinary and ErrBudget wrap a root
// sentinel, so errors.Is(err, agentos.ErrInvalid) (or ErrQuota) holds as
// well as errors.Is(err, ErrBinary). ErrEmbedding is returned together
// with the embedder's own error, which errors.Is also finds.
var (
	// ErrEmpty is returned for a document with no text but whitespace.
	ErrEmpty = fmt.Errorf("caas: empty document: %w", agentos.ErrInvalid)
	// ErrBinary is returned for a document that holds a NUL byte or more
	// invalid UTF-8 than MaxInvalidUTF8Ratio.
	ErrBinary = fmt.Errorf("caas: binary document: %w", agentos.ErrInvalid)
	// ErrBudget is returned by Collection.Context when the hot blocks alone
	// exceed MaxTokens.
	ErrBudget = fmt.Errorf("caas: token budget exceeded: %w", agentos.ErrQuota)
	// ErrEmbedding is returned when the embedder fails or returns a vector
	// that cannot be indexed (wrong dimension, NaN, infinite, zero).
	ErrEmbedding = errors.New("caas: embedding failed")
)

// Kind says how a document is split.
type Kind string

// The kinds of document. An empty Kind is detected from the extension of
// the Source (see [DetectKind]).
const (
	KindText     Kind = "text"
	KindMarkdown Kind = "markdown"
	KindGo       Kind = "go"
	KindCode     Kind = "code"
)

// codeExt are the extensions split as KindCode.
var codeExt = map[string]bool{
	".c": true, ".h": true, ".cc": true, ".cpp": true, ".cxx": true, ".hpp": true,
	".java": true, ".kt": true, ".scala": true, ".cs": true, ".swift": true,
	".js": true, ".mjs": true, ".cjs": true, ".ts": true, ".tsx": true, ".jsx": true,
	".py": true, ".rb": true, ".rs": true, ".php": true, ".lua": true, ".pl": true,
	".sh": true, ".bash": true, ".zsh": true, ".sql": true, ".proto": true,
	".yaml": true, ".yml": true, ".toml": true, ".json": true, ".css": true,
	".zig": true, ".dart": true, ".ex": true, ".exs": true, ".erl": true, ".hs": true,
}

// DetectKind returns the kind of a source from its extension: .md,
// .markdown and .mdx are Markdown, .go is Go, common programming and
// configuration languages are code, anything else is text.
func DetectKind(source string) Kind {
	ext := strings.ToLower(path.Ext(source))
	switch {
	case ext == ".md" || ext == ".markdown" || ext == ".mdx":
		return KindMarkdown
	case ext == ".go":
		return KindGo
	case codeExt[ext]:
		return KindCode
	}
	return KindText
}

// Tier ranks a chunk by what it says about its document: contracts
// (titles, headings, signatures) first, bodies, then notes (comments,
// footnotes, asides). Context packing weights them (see
// [ContextRequest].TierWeights) and queries can select them.
type Tier int

// The tiers.
const (
	TierContract Tier = 1
	TierBody     Tier = 2
	TierNote     Tier = 3
)

// String returns "contract", "body" or "note".
func (t Tier) String() string {
	switch t {
	case TierContract:
		return "contract"
	case TierBody:
		return "body"
	case TierNote:
		return "note"
	}
	return fmt.Sprintf("Tier(%d)", int(t))
}

func (t Tier) valid() bool { return t >= TierContract && t <= TierNote }

// Document is a text to ingest.
type Document struct {
	// Source names the document: a slash-separated relative path such as
	// "guides/setup.md", valid UTF-8, at most MaxSourceBytes, with no
	// empty, "." or ".." element and no control character.
	Source string
	// Kind says how to split it; empty means DetectKind(Source).
	Kind Kind
	// Text is the content, at most MaxDocumentBytes.
	Text string
	// Time dates the document (for decay and the cold archive); zero means
	// the service's clock at ingestion.
	Time time.Time
	// Meta is free metadata kept with the document (at most MaxMeta
	// entries).
	Meta map[string]string
}

// Chunk is a piece of a document: the unit that is embedded, indexed,
// searched and packed into a context.
type Chunk struct {
	// ID is Source + "#" + the chunk's index in its document: stable for
	// the same text and options.
	ID string
	// Source is the document's Source.
	Source string
	// Start and End are byte offsets into the document's Text; Text ==
	// Document.Text[Start:End].
	Start, End int
	// Tier is the chunk's tier.
	Tier Tier
	// Heading is the enclosing Markdown heading or Go declaration, if any.
	Heading string
	// Text is the chunk's text.
	Text string
	// Time is the document's time.
	Time time.Time
}

// ValidSource reports why source is not a valid Document.Source, or nil.
// The error wraps [agentos.ErrInvalid].
func ValidSource(source string) error {
	bad := func(why string) error {
		return fmt.Errorf("caas: source %.80q: %s: %w", source, why, agentos.ErrInvalid)
	}
	switch {
	case source == "" || source == ".":
		return bad("empty")
	case len(source) > MaxSourceBytes:
		return bad(fmt.Sprintf("longer than %d bytes", MaxSourceBytes))
	case !utf8.ValidString(source):
		return bad("not valid UTF-8")
	case strings.HasPrefix(source, "/"):
		return bad("absolute")
	case strings.ContainsFunc(source, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("control character")
	case !fs.ValidPath(source):
		return bad(`empty, "." or ".." element, or trailing slash`)
	}
	return nil
}

// normPrefix validates a directory prefix ("" is the root) and returns it
// without a trailing slash.
func normPrefix(prefix string) (string, error) {
	p := strings.TrimSuffix(prefix, "/")
	if p == "" {
		return "", nil
	}
	if err := ValidSource(p); err != nil {
		return "", fmt.Errorf("caas: prefix: %w", err)
	}
	return p, nil
}

// under reports whether source is prefix or lies in the directory prefix.
func under(source, prefix string) bool {
	if prefix == "" || source == prefix {
		return true
	}
	return len(source) > len(prefix) && source[len(prefix)] == '/' && strings.HasPrefix(source, prefix)
}

// checkText refuses empty, oversized and binary text.
func checkText(text string) error {
	if len(text) > MaxDocumentBytes {
		return fmt.Errorf("caas: document of %d bytes, more than %d: %w", len(text), MaxDocumentBytes, agentos.ErrInvalid)
	}
	if strings.IndexByte(text, 0) >= 0 {
		return fmt.Errorf("%w: NUL byte", ErrBinary)
	}
	invalid := 0
	if !utf8.ValidString(text) {
		for i := 0; i < len(text); {
			r, n := utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError && n == 1 {
				invalid++
			}
			i += n
		}
	}
	if float64(invalid) > MaxInvalidUTF8Ratio*float64(len(text)) {
		return fmt.Errorf("%w: %d of %d bytes are invalid UTF-8", ErrBinary, invalid, len(text))
	}
	if strings.TrimSpace(text) == "" {
		return ErrEmpty
	}
	return nil
}

func checkMeta(m map[string]string) error {
	if len(m) > MaxMeta {
		return fmt.Errorf("caas: %d meta entries, more than %d: %w", len(m), MaxMeta, agentos.ErrInvalid)
	}
	for k, v := range m {
		if k == "" || len(k) > MaxMetaKey || len(v) > MaxMetaValue || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("caas: meta key %.40q: empty, too long or not UTF-8: %w", k, agentos.ErrInvalid)
		}
	}
	return nil
}
