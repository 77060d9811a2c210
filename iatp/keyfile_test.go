package iatp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fastScrypt keeps the encrypted-file tests quick; the default cost is
// exercised once in TestSaveIdentityDefaultCost.
var fastScrypt = scryptParams{N: 1 << 10, R: 8, P: 1}

func TestSaveIdentityDefaultCost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.key")
	id := detIdentity(t, 1)
	require.NoError(t, SaveIdentity(path, id, []byte("correct horse")))
	back, err := LoadIdentity(path, []byte("correct horse"))
	require.NoError(t, err)
	require.Equal(t, id.ID(), back.ID())
	require.Equal(t, id.Sign([]byte("m")), back.Sign([]byte("m")))
}

func TestKeyFileRoundTrip(t *testing.T) {
	id := detIdentity(t, 1)
	for _, tc := range []struct {
		name string
		pass []byte
	}{{"clear", nil}, {"encrypted", []byte("s3cret passphrase")}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.key")
			require.NoError(t, saveIdentity(path, id, tc.pass, fastScrypt))
			if runtime.GOOS != "windows" {
				st, err := os.Stat(path)
				require.NoError(t, err)
				require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
			}
			back, err := LoadIdentity(path, tc.pass)
			require.NoError(t, err)
			require.Equal(t, id.ID(), back.ID())
			require.Equal(t, id.PublicKey(), back.PublicKey())

			data, err := os.ReadFile(path)
			require.NoError(t, err)
			if tc.pass != nil {
				require.NotContains(t, string(data), b64.EncodeToString(id.priv.Seed()), "seed must not be stored in the clear")
			}
			// Overwriting is atomic and leaves no temporary file behind.
			require.NoError(t, saveIdentity(path, id, tc.pass, fastScrypt))
			entries, err := os.ReadDir(filepath.Dir(path))
			require.NoError(t, err)
			require.Len(t, entries, 1)
		})
	}
}

func TestKeyFileErrors(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("permission bits")
	}
	id := detIdentity(t, 1)
	dir := t.TempDir()
	pass := []byte("right")
	enc := filepath.Join(dir, "enc.key")
	require.NoError(t, saveIdentity(enc, id, pass, fastScrypt))
	clear := filepath.Join(dir, "clear.key")
	require.NoError(t, saveIdentity(clear, id, nil, fastScrypt))
	encData, err := os.ReadFile(enc)
	require.NoError(t, err)

	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	edit := func(f func(*keyFile)) []byte {
		var kf keyFile
		require.NoError(t, json.Unmarshal(encData, &kf))
		f(&kf)
		b, err := json.Marshal(kf)
		require.NoError(t, err)
		return b
	}
	other := detIdentity(t, 2)

	cases := []struct {
		name string
		path string
		pass []byte
		want error
	}{
		{"wrong passphrase", enc, []byte("wrong"), ErrBadPassphrase},
		{"missing passphrase", enc, nil, ErrBadPassphrase},
		{"passphrase for a clear file", clear, pass, ErrBadPassphrase},
		{"group readable", write("open.key", encData, 0o640), pass, ErrInsecureKeyFile},
		{"world writable", write("open2.key", encData, 0o602), pass, ErrInsecureKeyFile},
		{"not json", write("garbage.key", []byte("{not json"), 0o600), pass, ErrMalformed},
		{"empty", write("empty.key", nil, 0o600), pass, ErrMalformed},
		{"truncated", write("trunc.key", encData[:len(encData)/2], 0o600), pass, ErrMalformed},
		{"unknown field", write("unknown.key", edit(func(k *keyFile) {}), 0o600), pass, nil}, // control: re-marshalled file still loads
		{"other format", write("fmt.key", edit(func(k *keyFile) { k.Format = "pem" }), 0o600), pass, ErrMalformed},
		{"other version", write("ver.key", edit(func(k *keyFile) { k.Version = 2 }), 0o600), pass, ErrMalformed},
		{"id changed", write("id.key", edit(func(k *keyFile) { k.ID = other.ID() }), 0o600), pass, ErrBadPassphrase},
		{"cost changed", write("cost.key", edit(func(k *keyFile) { k.KDF.N = 1 << 11 }), 0o600), pass, ErrBadPassphrase},
		{"cost too high", write("dos.key", edit(func(k *keyFile) { k.KDF.N = 1 << 30 }), 0o600), pass, ErrMalformed},
		{"ciphertext flipped", write("ct.key", edit(func(k *keyFile) {
			c := []byte(k.Ciphertext)
			if c[0] == 'A' {
				c[0] = 'B'
			} else {
				c[0] = 'A'
			}
			k.Ciphertext = string(c)
		}), 0o600), pass, ErrBadPassphrase},
		{"bad base64", write("b64.key", edit(func(k *keyFile) { k.Nonce = "!!" }), 0o600), pass, ErrMalformed},
		{"too large", write("big.key", []byte(strings.Repeat(" ", maxKeyFile+1)), 0o600), pass, ErrTooLarge},
		{"missing", filepath.Join(dir, "nope.key"), pass, os.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadIdentity(tc.path, tc.pass)
			if tc.want == nil {
				require.NoError(t, err)
				require.Equal(t, id.ID(), got.ID())
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, got)
			require.Contains(t, err.Error(), tc.path, "the error names the file")
		})
	}

	withExtra := strings.Replace(string(encData), `"format"`, `"extra":1,"format"`, 1)
	_, err = LoadIdentity(write("extra.key", []byte(withExtra), 0o600), pass)
	require.ErrorIs(t, err, ErrMalformed)

	require.ErrorIs(t, SaveIdentity(filepath.Join(dir, "x.key"), id, []byte{}), ErrMalformed)
	require.ErrorIs(t, SaveIdentity(filepath.Join(dir, "x.key"), nil, nil), ErrMalformed)
	require.Error(t, SaveIdentity(filepath.Join(dir, "no", "such", "dir.key"), id, nil))
}
