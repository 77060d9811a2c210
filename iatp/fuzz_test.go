package iatp

import (
	"crypto/ed25519"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the committed fuzz seed corpus under testdata/fuzz")

// seedValues returns valid encodings of every message kind, made from
// fixed keys so the corpus is reproducible (nonces are random, which only
// changes the bytes, not what they exercise).
func seedValues(t testing.TB) (manifest, envelope, challenge, response, handover []byte) {
	t.Helper()
	a, b := detIdentity(t, 1), detIdentity(t, 2)
	var err error
	manifest, err = signed(t, a, baseManifest(epoch)).Encode()
	require.NoError(t, err)
	env, err := Seal(a, b.ID(), []byte("payload"), epoch)
	require.NoError(t, err)
	envelope = env.Encode()
	c := Challenge{From: a.ID(), To: b.ID(), Nonce: [32]byte{1, 2, 3}, At: epoch, Expires: epoch.Add(30 * time.Second)}
	challenge, err = c.Encode()
	require.NoError(t, err)
	r := Response{Challenge: c, From: b.ID(), Key: b.PublicKey()}
	body, err := r.body()
	require.NoError(t, err)
	r.Signature = b.Sign(body)
	response, err = r.Encode()
	require.NoError(t, err)
	_, h, err := a.rotate(nil, epoch)
	require.NoError(t, err)
	handover, err = h.Encode()
	require.NoError(t, err)
	return
}

// TestFuzzSeedCorpus keeps testdata/fuzz in step with the formats: run
// with -update-seeds after a format change.
func TestFuzzSeedCorpus(t *testing.T) {
	m, e, c, r, h := seedValues(t)
	files := map[string][]byte{
		"FuzzDecodeManifest/valid":  m,
		"FuzzDecodeEnvelope/valid":  e,
		"FuzzDecodeHandshake/chal":  c,
		"FuzzDecodeHandshake/resp":  r,
		"FuzzDecodeHandshake/hand":  h,
		"FuzzParseKeyFile/clear":    []byte(`{"format":"agentos-iatp-key","version":1,"id":"did:mesh:00000000000000000000000000000000","seed":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`),
		"FuzzDecodeEnvelope/short":  e[:10],
		"FuzzDecodeManifest/prefix": m[:40],
	}
	for name, data := range files {
		path := filepath.Join("testdata", "fuzz", name)
		want := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
		if *updateSeeds {
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, want, 0o644))
			continue
		}
		_, err := os.Stat(path)
		require.NoError(t, err, "missing seed %s: run go test -run TestFuzzSeedCorpus -update-seeds", path)
	}
}

func FuzzDecodeManifest(f *testing.F) {
	m, _, _, _, _ := seedValues(f)
	f.Add(m)
	f.Add([]byte(`{"manifest":{},"signature":""}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sm, err := DecodeManifest(data)
		if err != nil {
			return
		}
		// Strict decoding accepts only the canonical form.
		enc, err := sm.Encode()
		require.NoError(t, err)
		require.Equal(t, data, enc)
		_ = sm.Verify(epoch)
		// The lenient path agrees on what it accepts strictly.
		var back SignedManifest
		require.NoError(t, back.UnmarshalJSON(data))
		require.Equal(t, sm, back)
	})
}

func FuzzDecodeEnvelope(f *testing.F) {
	_, e, _, _, _ := seedValues(f)
	f.Add(e)
	f.Add([]byte{1, 'E'})
	reg := NewRegistry(WithClock(func() time.Time { return epoch }))
	a := detIdentity(f, 1)
	if err := reg.Register(signed(f, a, baseManifest(epoch))); err != nil {
		f.Fatal(err)
	}
	op := NewOpener(reg)
	f.Fuzz(func(t *testing.T, data []byte) {
		if env, err := DecodeEnvelopeString(string(data)); err == nil {
			require.Equal(t, string(data), env.EncodeString())
		}
		env, err := DecodeEnvelope(data)
		if err != nil {
			return
		}
		require.Equal(t, data, env.Encode())
		back, err := DecodeEnvelopeString(env.EncodeString())
		require.NoError(t, err)
		require.Equal(t, env, back)
		if p, err := op.Open(env, env.Recipient, []byte("payload")); err == nil {
			// Only an envelope a's key really sealed over this payload opens.
			require.Equal(t, a.ID(), p.ID)
			require.Equal(t, sha256.Sum256([]byte("payload")), env.Digest)
			require.True(t, ed25519.Verify(a.PublicKey(), append([]byte(domainEnvelope), data[:len(data)-64]...), env.Signature))
		}
	})
}

func FuzzDecodeHandshake(f *testing.F) {
	_, _, c, r, h := seedValues(f)
	f.Add(c)
	f.Add(r)
	f.Add(h)
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := DecodeChallenge(data); err == nil {
			enc, err := c.Encode()
			require.NoError(t, err)
			require.Equal(t, data, enc)
		}
		if r, err := DecodeResponse(data); err == nil {
			enc, err := r.Encode()
			require.NoError(t, err)
			require.Equal(t, data, enc)
		}
		if h, err := DecodeHandover(data); err == nil {
			enc, err := h.Encode()
			require.NoError(t, err)
			require.Equal(t, data, enc)
			_ = VerifyHandover(h)
		}
	})
}

func FuzzParseKeyFile(f *testing.F) {
	f.Add([]byte(`{"format":"agentos-iatp-key","version":1,"id":"x","kdf":{"name":"scrypt","n":2,"r":1,"p":1,"salt":""},"aead":"xchacha20poly1305"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// No passphrase: an encrypted file stops before scrypt, so the
		// fuzzer explores the parser, not the KDF.
		id, err := parseKeyFile(data, nil)
		if err == nil {
			require.True(t, ValidID(id.ID()))
		}
	})
}
