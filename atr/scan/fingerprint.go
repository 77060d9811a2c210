package scan

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// FingerprintDomain opens the bytes [Fingerprint] hashes, so that its
// digests cannot be confused with another SHA-256 over the same fields.
const FingerprintDomain = "agentos/atr/scan.Fingerprint/v1"

// Fingerprint returns the SHA-256 of a tool definition's canonical bytes,
// for pinning: two definitions have the same fingerprint exactly when their
// names, descriptions and input schemas are the same JSON. The bytes are
//
//	FingerprintDomain 0x00
//	uint64 big-endian len(name)        name
//	uint64 big-endian len(description) description
//	uint64 big-endian len(schema)      schema
//
// where name and description are taken byte for byte, and schema is the
// input schema decoded and encoded again: objects with their keys sorted by
// their UTF-8 bytes, no white space, numbers exactly as written in the
// input (1.0 and 1 differ), strings as encoding/json writes them with HTML
// escaping off (invalid UTF-8 becomes U+FFFD). An input schema that is
// empty or only white space is encoded as zero bytes.
//
// It returns an error wrapping [ErrInvalid] when the schema is not one JSON
// value, has a key twice in one object, or is over the default bounds
// ([DefaultMaxSchemaBytes], [DefaultMaxSchemaDepth],
// [DefaultMaxSchemaNodes]).
func Fingerprint(name, description string, inputSchema []byte) ([32]byte, error) {
	canon, err := Canonical(inputSchema)
	if err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	h.Write([]byte(FingerprintDomain))
	h.Write([]byte{0})
	var n [8]byte
	for _, part := range [][]byte{[]byte(name), []byte(description), canon} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}

// Canonical returns the canonical encoding of a JSON schema that
// [Fingerprint] hashes, or an error wrapping [ErrInvalid].
func Canonical(schema []byte) ([]byte, error) {
	if len(bytes.TrimSpace(schema)) == 0 {
		return nil, nil
	}
	v, err := parseJSON(schema, DefaultMaxSchemaBytes, DefaultMaxSchemaDepth, DefaultMaxSchemaNodes)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps are written with sorted keys
		return nil, fmt.Errorf("%w: encoding schema: %v", ErrInvalid, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
