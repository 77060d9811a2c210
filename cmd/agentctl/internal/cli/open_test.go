package cli

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSegments(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "a[1].db")
	for _, name := range []string{"a[1].000003.db", "a[1].000002.db", "a[1].000010.db", "a[1].db.bak", "a[1].00002.db", "other.000002.db"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o600))
	}
	require.Equal(t, []string{base,
		filepath.Join(dir, "a[1].000002.db"), filepath.Join(dir, "a[1].000003.db"), filepath.Join(dir, "a[1].000010.db")}, segments(base))
	require.Equal(t, []string{filepath.Join(dir, "none.db")}, segments(filepath.Join(dir, "none.db")))
}

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	require.NoError(t, os.WriteFile(full, []byte("x"), 0o600))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	require.NoError(t, checkFile(full))
	require.ErrorContains(t, checkFile(empty), "empty file")
	require.ErrorContains(t, checkFile(dir), "is a directory")
	require.ErrorContains(t, checkFile(filepath.Join(dir, "missing")), "no such file")
	_, err := os.Stat(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestOpenRecorderCreatesNothing: reading a missing recorder fails and
// leaves no file behind.
func TestOpenRecorderCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	_, err := openRecorder(filepath.Join(dir, "audit.db"))
	require.ErrorContains(t, err, "no such file")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)
}

func TestParsePublicKey(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "key.pub")
	require.NoError(t, os.WriteFile(file, []byte(hex.EncodeToString(pub)+"\n"), 0o600))
	for _, in := range []string{hex.EncodeToString(pub), base64.StdEncoding.EncodeToString(pub), base64.RawURLEncoding.EncodeToString(pub), file} {
		got, err := parsePublicKey(in)
		require.NoError(t, err, in)
		require.Equal(t, pub, got)
	}
	for _, in := range []string{"", "zz", hex.EncodeToString(pub[:31]), filepath.Join(t.TempDir(), "missing")} {
		_, err := parsePublicKey(in)
		require.ErrorContains(t, err, "not an Ed25519 public key", in)
	}
}
