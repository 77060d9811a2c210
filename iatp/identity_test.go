package iatp

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIDOf(t *testing.T) {
	id := detIdentity(t, 1)
	sum := sha256.Sum256(id.PublicKey())
	require.Equal(t, "did:mesh:"+hex.EncodeToString(sum[:])[:32], id.ID())
	require.Equal(t, id.ID(), IDOf(id.PublicKey()))
	require.True(t, ValidID(id.ID()))
	require.Equal(t, id.ID(), detIdentity(t, 1).ID(), "deterministic from the same randomness")
	require.NotEqual(t, id.ID(), detIdentity(t, 2).ID())

	for _, bad := range []string{"", "did:mesh:", "did:mesh:" + hex.EncodeToString(sum[:16])[:31],
		"did:mesh:" + hex.EncodeToString(sum[:17]), "did:web:" + hex.EncodeToString(sum[:16]) + "0",
		"DID:MESH:" + hex.EncodeToString(sum[:16]), "did:mesh:" + "ABCDEF" + hex.EncodeToString(sum[:13])} {
		assert.False(t, ValidID(bad), bad)
	}
}

func TestIdentitySign(t *testing.T) {
	id := detIdentity(t, 1)
	msg := []byte("hello")
	sig := id.Sign(msg)
	require.True(t, ed25519.Verify(id.PublicKey(), msg, sig))
	k := id.PublicKey()
	k[0] ^= 1
	require.True(t, ed25519.Verify(id.PublicKey(), msg, sig), "PublicKey returns a copy")
	fresh, err := NewIdentity(nil)
	require.NoError(t, err)
	require.True(t, ValidID(fresh.ID()))
	_, err = NewIdentity(errReader{})
	require.Error(t, err)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestHandover(t *testing.T) {
	old := detIdentity(t, 1)
	next, h, err := old.rotate(nil, epoch)
	require.NoError(t, err)
	require.Equal(t, old.ID(), h.OldID)
	require.Equal(t, next.ID(), h.NewID)
	require.NoError(t, VerifyHandover(h))

	b, err := h.Encode()
	require.NoError(t, err)
	back, err := DecodeHandover(b)
	require.NoError(t, err)
	require.Equal(t, h, back)

	// Every bit of the encoding matters: a flip either fails to decode or
	// fails to verify.
	for i := range len(b) * 8 {
		c := append([]byte(nil), b...)
		c[i/8] ^= 1 << (i % 8)
		hh, err := DecodeHandover(c)
		if err == nil {
			err = VerifyHandover(hh)
		}
		require.Error(t, err, "bit %d", i)
		require.True(t, errors.Is(err, agentos.ErrInvalid) || errors.Is(err, agentos.ErrUntrusted), "bit %d: %v", i, err)
	}

	// A handover signed by a key other than the old one.
	other := detIdentity(t, 9)
	forged := h
	body, err := forged.body()
	require.NoError(t, err)
	forged.Sig = other.Sign(append([]byte(domainHandover), body...))
	require.ErrorIs(t, VerifyHandover(forged), ErrBadSignature)

	// The signature of another protocol message is not a handover signature.
	raw := h
	raw.Sig = old.Sign(body)
	require.ErrorIs(t, VerifyHandover(raw), ErrBadSignature)

	self := h
	self.NewID, self.NewKey = h.OldID, h.OldKey
	require.ErrorIs(t, VerifyHandover(self), ErrMalformed)

	mism := h
	mism.NewKey = other.PublicKey()
	require.ErrorIs(t, VerifyHandover(mism), ErrKeyMismatch)

	for name, bad := range map[string][]byte{
		"empty": nil, "truncated": b[:len(b)-1], "trailing": append(append([]byte(nil), b...), 0),
		"version": append([]byte{2}, b[1:]...), "kind": append([]byte{1, 'E'}, b[2:]...),
	} {
		_, err := DecodeHandover(bad)
		require.ErrorIs(t, err, ErrMalformed, name)
	}
	_, err = (Handover{}).Encode()
	require.ErrorIs(t, err, ErrMalformed)
}

func TestRotatePublic(t *testing.T) {
	old := detIdentity(t, 1)
	next, h, err := old.Rotate(nil)
	require.NoError(t, err)
	require.NotEqual(t, old.ID(), next.ID())
	require.NoError(t, VerifyHandover(h))
}
