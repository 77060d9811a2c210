// Package table reads and writes the binary word-vector table that package
// glove embeds: int8 rows with one float32 scale per row, words in rank
// order, and a CRC-32C of everything before it.
//
// Layout, all integers little-endian:
//
//	offset  size            field
//	0       8               magic "agosWV\x00\x01"
//	8       2               version (1)
//	10      2               dims
//	12      4               count (rows)
//	16      4               wordBytes (sum of the word lengths)
//	20      count           word lengths, one byte each (1..255)
//	…       wordBytes       the words' UTF-8 bytes, concatenated, rank order
//	…       4·count         per-row scales, float32
//	…       count·dims      rows, int8; row i · scale i is word i's vector
//	…       4               CRC-32C (Castagnoli) of all the bytes before it
//
// Row i is the word of rank i+1 (most frequent first).
package table

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"unicode/utf8"
)

// Magic opens every table file.
const Magic = "agosWV\x00\x01"

// Version is the only layout version this package reads and writes.
const Version = 1

// Bounds a reader enforces before it allocates anything.
const (
	MaxDims    = 4096
	MaxCount   = 1 << 22
	headerSize = 20
)

// ErrCorrupt is wrapped by every error Decode returns.
var ErrCorrupt = errors.New("corrupt word-vector table")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Table is a decoded table. Words[i] has the vector Rows[i·Dims:(i+1)·Dims]
// times Scales[i].
type Table struct {
	Dims   int
	Words  []string
	Scales []float32
	Rows   []int8
}

// Encode returns t in the layout above. It fails when t is inconsistent or
// out of bounds, so that everything Encode writes, Decode reads back.
func Encode(t *Table) ([]byte, error) {
	n := len(t.Words)
	switch {
	case t.Dims < 1 || t.Dims > MaxDims:
		return nil, fmt.Errorf("dims %d out of range 1..%d", t.Dims, MaxDims)
	case n < 1 || n > MaxCount:
		return nil, fmt.Errorf("count %d out of range 1..%d", n, MaxCount)
	case len(t.Scales) != n || len(t.Rows) != n*t.Dims:
		return nil, fmt.Errorf("%d words, %d scales, %d row values for %d dims", n, len(t.Scales), len(t.Rows), t.Dims)
	}
	wordBytes := 0
	for _, w := range t.Words {
		if len(w) < 1 || len(w) > 255 || !utf8.ValidString(w) {
			return nil, fmt.Errorf("word %q: want 1..255 bytes of UTF-8", w)
		}
		wordBytes += len(w)
	}
	b := make([]byte, 0, headerSize+n+wordBytes+4*n+n*t.Dims+4)
	b = append(b, Magic...)
	b = binary.LittleEndian.AppendUint16(b, Version)
	b = binary.LittleEndian.AppendUint16(b, uint16(t.Dims))
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint32(b, uint32(wordBytes))
	for _, w := range t.Words {
		b = append(b, byte(len(w)))
	}
	for _, w := range t.Words {
		b = append(b, w...)
	}
	for _, s := range t.Scales {
		if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) || s < 0 {
			return nil, fmt.Errorf("scale %v: want a finite non-negative number", s)
		}
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(s))
	}
	for _, v := range t.Rows {
		b = append(b, byte(v))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// Decode parses b. Every error wraps ErrCorrupt and says what is wrong; no
// input makes it panic or allocate more than a small multiple of len(b).
func Decode(b []byte) (*Table, error) {
	if len(b) < headerSize+4 {
		return nil, corrupt("truncated: %d bytes, shorter than a header", len(b))
	}
	if string(b[:8]) != Magic {
		return nil, corrupt("bad magic %q", b[:8])
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != Version {
		return nil, corrupt("version %d, want %d", v, Version)
	}
	dims := int(binary.LittleEndian.Uint16(b[10:]))
	count := int(binary.LittleEndian.Uint32(b[12:]))
	wordBytes := int(binary.LittleEndian.Uint32(b[16:]))
	if dims < 1 || dims > MaxDims || count < 1 || count > MaxCount || wordBytes > 255*count {
		return nil, corrupt("header out of range: dims %d, count %d, word bytes %d", dims, count, wordBytes)
	}
	want := headerSize + count + wordBytes + 4*count + count*dims + 4
	if len(b) != want {
		return nil, corrupt("size %d bytes, the header implies %d (truncated or trailing data)", len(b), want)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, corrupt("checksum %08x, stored %08x", got, sum)
	}
	lens := b[headerSize : headerSize+count]
	off := headerSize + count
	all := string(b[off : off+wordBytes]) // one allocation for every word
	t := &Table{Dims: dims, Words: make([]string, count), Scales: make([]float32, count), Rows: make([]int8, count*dims)}
	pos := 0
	for i, l := range lens {
		if l == 0 || pos+int(l) > wordBytes {
			return nil, corrupt("word %d: length %d overruns the word block", i, l)
		}
		w := all[pos : pos+int(l)]
		if !utf8.ValidString(w) {
			return nil, corrupt("word %d is not UTF-8", i)
		}
		t.Words[i] = w
		pos += int(l)
	}
	if pos != wordBytes {
		return nil, corrupt("word lengths sum to %d, header says %d", pos, wordBytes)
	}
	off += wordBytes
	for i := range t.Scales {
		s := math.Float32frombits(binary.LittleEndian.Uint32(b[off+4*i:]))
		if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) || s < 0 {
			return nil, corrupt("row %d: scale %v", i, s)
		}
		t.Scales[i] = s
	}
	off += 4 * count
	for i := range t.Rows {
		t.Rows[i] = int8(b[off+i])
	}
	return t, nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}
