package glove_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/glove"
)

func embedder(t testing.TB) *glove.Embedder {
	t.Helper()
	e, err := glove.New()
	require.NoError(t, err)
	return e
}

func embed(t testing.TB, e *glove.Embedder, text string) []float32 {
	t.Helper()
	v, err := e.Embed(context.Background(), text)
	require.NoError(t, err, "%q", text)
	return v
}

func cos(a, b []float32) float64 {
	var d float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
	}
	return d // both unit length
}

func requireUnit(t testing.TB, v []float32, text string) {
	t.Helper()
	var s float64
	for _, x := range v {
		require.False(t, math.IsNaN(float64(x)) || math.IsInf(float64(x), 0), "%q: %v", text, v)
		s += float64(x) * float64(x)
	}
	require.InDelta(t, 1, math.Sqrt(s), 1e-4, "%q", text)
}

func TestTable(t *testing.T) {
	e := embedder(t)
	assert.Equal(t, 100, e.Dims())
	assert.Equal(t, 50000, e.Len())
	for _, w := range []string{"the", "car", "automobile", "banana", "king", "queen", "carrot", "e-mail"} {
		assert.True(t, e.Known(w), w)
	}
	e2, err := glove.New()
	require.NoError(t, err)
	assert.Same(t, e, e2, "the embedded table is decoded once")
}

func TestSimilarity(t *testing.T) {
	e := embedder(t)
	for _, c := range []struct{ a, near, far string }{
		{"car", "automobile", "banana"},
		{"king", "queen", "carrot"},
		{"doctor", "physician", "volcano"},
		{"the car broke down on the highway", "my automobile stopped working on the motorway", "she baked a banana cake for dessert"},
		{"how do I delete a file", "remove a document from the disk", "the football match ended in a draw"},
	} {
		t.Run(c.a, func(t *testing.T) {
			a, near, far := embed(t, e, c.a), embed(t, e, c.near), embed(t, e, c.far)
			sn, sf := cos(a, near), cos(a, far)
			t.Logf("%q: %q %.3f, %q %.3f", c.a, c.near, sn, c.far, sf)
			assert.Greater(t, sn, sf+0.25, "near must clearly beat far")
		})
	}
}

func TestDeterministicUnitAndConcurrent(t *testing.T) {
	e := embedder(t)
	texts := []string{"car", "The quick brown fox", "kubernetes", "x", "42", "!!!", "don't panic", "naïve café", "\xff\xfe", strings.Repeat("word ", 5000)}
	want := make([][]float32, len(texts))
	for i, s := range texts {
		want[i] = embed(t, e, s)
		requireUnit(t, want[i], s)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i, s := range texts {
				v, err := e.Embed(context.Background(), s)
				assert.NoError(t, err)
				assert.Equal(t, want[i], v, "%q", s)
			}
		})
	}
	wg.Wait()
}

func TestTokenization(t *testing.T) {
	e := embedder(t)
	for _, c := range []struct{ a, b string }{
		{"CAR", "car"},
		{"Car!", "car"},
		{"don't", "do not"},
		{"can't", "can not"},
		{"won’t", "will not"},
		{"they're", "they are"},
		{"it's", "it"},
		{"well-known", "well-known"},
		{"e-mail", "e-mail"},
		{"--car--", "car"},
	} {
		assert.Equal(t, embed(t, e, c.b), embed(t, e, c.a), "%q vs %q", c.a, c.b)
	}
	// An unknown hyphenated word is the sum of its parts.
	assert.Equal(t, embed(t, e, "car banana"), embed(t, e, "car-banana"))
}

func TestUnknownWordsFallBack(t *testing.T) {
	e := embedder(t)
	for _, s := range []string{"kubernetes", "zzqxj", "2024", "a", "café", "!!!", "...", "🙂", "\x00", "\xff"} {
		t.Run(s, func(t *testing.T) {
			v := embed(t, e, s)
			requireUnit(t, v, s)
		})
	}
	// The same unknown identifier pulls a query towards the text that has it.
	q := embed(t, e, "kubernetes")
	assert.Greater(t, cos(q, embed(t, e, "deploy on kubernetes today")), cos(q, embed(t, e, "deploy on servers today"))+0.2)
	// A rare unknown word dominates a very frequent one.
	assert.Greater(t, cos(embed(t, e, "the kubernetes"), q), 0.9)
}

func TestEmpty(t *testing.T) {
	e := embedder(t)
	for _, s := range []string{"", " ", "\n\t  \r\n", "\u00a0\u2003"} {
		v, err := e.Embed(context.Background(), s)
		assert.Nil(t, v)
		assert.ErrorIs(t, err, glove.ErrEmpty, "%q", s)
		assert.ErrorIs(t, err, agentos.ErrInvalid, "%q", s)
	}
}

func TestContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := embedder(t).Embed(ctx, "car")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestAgentosEmbedder(t *testing.T) {
	e := embedder(t)
	var f agentos.Embedder = e.Embed
	v, err := f(context.Background(), "car")
	require.NoError(t, err)
	assert.Equal(t, embed(t, e, "car"), v)
}

// validTable is a two-word, three-dimension table with a correct checksum.
func validTable() []byte {
	b := []byte("agosWV\x00\x01")
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 3)
	b = binary.LittleEndian.AppendUint32(b, 2)
	b = binary.LittleEndian.AppendUint32(b, 6)
	b = append(b, 3, 3)
	b = append(b, "carvan"...)
	for range 2 {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(1.0/127))
	}
	b = append(b, 127, 0, 0, 120, 10, 0)
	return reseal(b)
}

// reseal replaces the trailing checksum, or appends one to b.
func reseal(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

func TestLoad(t *testing.T) {
	good := validTable()
	e, err := glove.Load(bytes.NewReader(good), "small.bin")
	require.NoError(t, err)
	assert.Equal(t, 3, e.Dims())
	assert.Greater(t, cos(embed(t, e, "car"), embed(t, e, "van")), 0.9)

	body := good[:len(good)-4]
	patch := func(off int, v ...byte) []byte {
		b := bytes.Clone(body)
		copy(b[off:], v)
		return reseal(b)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"header only", good[:20]},
		{"truncated", good[:len(good)-1]},
		{"truncated and resealed", reseal(body[:len(body)-1])},
		{"trailing data", append(bytes.Clone(good), 0)},
		{"bad magic", patch(0, 'X')},
		{"bad version", patch(8, 2)},
		{"zero dims", patch(10, 0, 0)},
		{"huge count", patch(12, 0xff, 0xff, 0xff, 0xff)},
		{"word bytes lie", patch(16, 7)},
		{"zero word length", patch(20, 0, 6)},
		{"word lengths overrun", patch(20, 5, 3)},
		{"invalid UTF-8 word", patch(22, 0xff)},
		{"NaN scale", patch(28, 0, 0, 0xc0, 0x7f)},
		{"bit flip", func() []byte { b := bytes.Clone(good); b[len(b)-6] ^= 1; return b }()},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := glove.Load(bytes.NewReader(c.data), "tables/"+c.name+".bin")
			require.Error(t, err)
			assert.ErrorIs(t, err, glove.ErrCorrupt)
			assert.Contains(t, err.Error(), "tables/"+c.name+".bin", "the error names the file")
		})
	}
	_, err = glove.Load(iotest.ErrReader(os.ErrDeadlineExceeded), "slow.bin")
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.Contains(t, err.Error(), "slow.bin")
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vectors.bin")
	require.NoError(t, os.WriteFile(path, validTable()[:30], 0o600))
	_, err := glove.LoadFile(path)
	assert.ErrorIs(t, err, glove.ErrCorrupt)
	assert.Contains(t, err.Error(), path)

	_, err = glove.LoadFile(filepath.Join(dir, "missing.bin"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "missing.bin")

	require.NoError(t, os.WriteFile(path, validTable(), 0o600))
	e, err := glove.LoadFile(path)
	require.NoError(t, err)
	assert.Equal(t, 2, e.Len())
}

func FuzzEmbed(f *testing.F) {
	for _, s := range []string{"car", "The car broke down.", "don't", "rock'n'roll", "'''s", "e--mail-", "naïve café", "🙂🙂", "\xff\xfe\x00", "a b", "-'-'-", "ǅemal", "x'y'z's", "İstanbul"} {
		f.Add(s)
	}
	e := embedder(f)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := e.Embed(context.Background(), s)
		if strings.TrimFunc(s, func(r rune) bool {
			return strings.ContainsRune(" \t\n\v\f\r\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000", r)
		}) == "" {
			require.ErrorIs(t, err, glove.ErrEmpty)
			return
		}
		require.NoError(t, err, "%q", s)
		require.Len(t, v, e.Dims())
		requireUnit(t, v, s)
		v2, err := e.Embed(context.Background(), s)
		require.NoError(t, err)
		require.Equal(t, v, v2)
	})
}

func FuzzLoad(f *testing.F) {
	f.Add(validTable())
	f.Add(validTable()[:25])
	f.Add([]byte("agosWV\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := glove.Load(bytes.NewReader(b), "fuzz.bin")
		if err != nil {
			require.ErrorIs(t, err, glove.ErrCorrupt)
			return
		}
		v, err := e.Embed(context.Background(), "car van zebra")
		require.NoError(t, err)
		require.Len(t, v, e.Dims())
	})
}
