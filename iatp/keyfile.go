package iatp

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"
)

// Key files are JSON documents (at most maxKeyFile bytes):
//
//	{"format":"agentos-iatp-key","version":1,"id":"did:mesh:…","seed":"<base64url>"}
//
// unencrypted, or, with a passphrase,
//
//	{"format":"agentos-iatp-key","version":1,"id":"did:mesh:…",
//	 "kdf":{"name":"scrypt","n":32768,"r":8,"p":1,"salt":"<base64url>"},
//	 "aead":"xchacha20poly1305","nonce":"<base64url>","ciphertext":"<base64url>"}
//
// where the ciphertext seals the 32-byte Ed25519 seed under a key that
// scrypt derives from the passphrase, with the canonical encoding of the
// other fields as additional data, so changing the id or the parameters
// makes decryption fail.
const (
	keyFileFormat  = "agentos-iatp-key"
	keyFileVersion = 1
	maxKeyFile     = 64 << 10
)

// scryptParams are the key-derivation costs. The defaults are the
// interactive-login figures of the scrypt paper's successors (N=2^15, r=8,
// p=1: 32 MiB, tens of milliseconds); loading refuses costs above the
// bounds below so that a crafted file cannot exhaust memory.
type scryptParams struct {
	N int `json:"n"`
	R int `json:"r"`
	P int `json:"p"`
}

var defaultScrypt = scryptParams{N: 1 << 15, R: 8, P: 1}

const (
	maxScryptN   = 1 << 20
	maxScryptMem = 256 << 20 // 128*N*r bytes
)

func (p scryptParams) check() error {
	if p.N < 2 || p.N&(p.N-1) != 0 || p.N > maxScryptN {
		return fmt.Errorf("scrypt N %d: want a power of two in 2..%d", p.N, maxScryptN)
	}
	if p.R < 1 || p.R > 32 || p.P < 1 || p.P > 16 {
		return fmt.Errorf("scrypt r=%d p=%d out of range (r 1..32, p 1..16)", p.R, p.P)
	}
	if 128*p.N*p.R > maxScryptMem {
		return fmt.Errorf("scrypt N=%d r=%d needs more than %d bytes", p.N, p.R, maxScryptMem)
	}
	return nil
}

type keyKDF struct {
	Name string `json:"name"`
	scryptParams
	Salt string `json:"salt"`
}

type keyFile struct {
	Format     string  `json:"format"`
	Version    int     `json:"version"`
	ID         string  `json:"id"`
	Seed       string  `json:"seed,omitempty"`
	KDF        *keyKDF `json:"kdf,omitempty"`
	AEAD       string  `json:"aead,omitempty"`
	Nonce      string  `json:"nonce,omitempty"`
	Ciphertext string  `json:"ciphertext,omitempty"`
}

var b64 = base64.RawURLEncoding.Strict()

// additionalData is what the AEAD authenticates beside the seed: the file
// without its nonce and ciphertext.
func (f keyFile) additionalData() []byte {
	f.Nonce, f.Ciphertext, f.Seed = "", "", ""
	b, _ := json.Marshal(f) // a struct of strings and ints cannot fail
	return b
}

// SaveIdentity writes id to path with mode 0600, atomically (a temporary
// file in the same directory, synced, then renamed over path). With a nil
// passphrase the seed is stored in the clear; otherwise it is encrypted
// with XChaCha20-Poly1305 under a key derived by scrypt. An empty non-nil
// passphrase is refused (agentos.ErrInvalid), as is a nil id.
func SaveIdentity(path string, id *Identity, passphrase []byte) error {
	return saveIdentity(path, id, passphrase, defaultScrypt)
}

func saveIdentity(path string, id *Identity, passphrase []byte, params scryptParams) error {
	if id == nil {
		return fmt.Errorf("%w: nil identity", ErrMalformed)
	}
	if passphrase != nil && len(passphrase) == 0 {
		return fmt.Errorf("%w: empty passphrase (pass nil for an unencrypted file)", ErrMalformed)
	}
	f := keyFile{Format: keyFileFormat, Version: keyFileVersion, ID: id.ID()}
	seed := id.priv.Seed()
	if passphrase == nil {
		f.Seed = b64.EncodeToString(seed)
	} else {
		salt := make([]byte, 16)
		nonce := make([]byte, chacha20poly1305.NonceSizeX)
		if _, err := io.ReadFull(rand.Reader, salt); err != nil {
			return fmt.Errorf("iatp: save %s: %w", path, err)
		}
		if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
			return fmt.Errorf("iatp: save %s: %w", path, err)
		}
		f.KDF = &keyKDF{Name: "scrypt", scryptParams: params, Salt: b64.EncodeToString(salt)}
		f.AEAD = "xchacha20poly1305"
		f.Nonce = b64.EncodeToString(nonce)
		aead, err := keyAEAD(passphrase, salt, params)
		if err != nil {
			return fmt.Errorf("iatp: save %s: %w", path, err)
		}
		f.Ciphertext = b64.EncodeToString(aead.Seal(nil, nonce, seed, f.additionalData()))
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("iatp: save %s: %w", path, err)
	}
	return writeFileAtomic(path, append(data, '\n'))
}

func keyAEAD(passphrase, salt []byte, p scryptParams) (interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}, error) {
	key, err := scrypt.Key(passphrase, salt, p.N, p.R, p.P, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.NewX(key)
}

func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("iatp: save %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("iatp: save %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("iatp: save %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("iatp: save %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("iatp: save %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("iatp: save %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// LoadIdentity reads a key file written by SaveIdentity.
//
// On Unix it refuses a file that group or others may read or write
// (ErrInsecureKeyFile), as ssh does, whether or not it is encrypted. A
// file over 64 KiB gives ErrTooLarge; one that does not parse, names
// another format or version, or whose key does not give its id gives
// ErrMalformed; each error names the file. An encrypted file needs its
// passphrase: a wrong or missing one (or a tampered file) gives
// ErrBadPassphrase. A passphrase given for an unencrypted file is an
// error too (ErrBadPassphrase), so a file believed to be encrypted but
// stored in the clear is noticed.
func LoadIdentity(path string, passphrase []byte) (*Identity, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("iatp: load %s: %w", path, err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("iatp: load %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("iatp: load %s: %w: not a regular file", path, ErrMalformed)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("iatp: load %s: %w: mode %v, want 0600 or stricter", path, ErrInsecureKeyFile, st.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("iatp: load %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("iatp: load %s: %w: over %d bytes", path, ErrTooLarge, maxKeyFile)
	}
	id, err := parseKeyFile(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("iatp: load %s: %w", path, err)
	}
	return id, nil
}

func parseKeyFile(data, passphrase []byte) (*Identity, error) {
	var f keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the key document", ErrMalformed)
	}
	if f.Format != keyFileFormat || f.Version != keyFileVersion {
		return nil, fmt.Errorf("%w: format %q version %d, want %q version %d", ErrMalformed, f.Format, f.Version, keyFileFormat, keyFileVersion)
	}
	var seed []byte
	switch {
	case f.KDF == nil:
		if f.AEAD != "" || f.Nonce != "" || f.Ciphertext != "" {
			return nil, fmt.Errorf("%w: encryption fields without a kdf", ErrMalformed)
		}
		if passphrase != nil {
			return nil, fmt.Errorf("%w: the file is not encrypted", ErrBadPassphrase)
		}
		s, err := b64.DecodeString(f.Seed)
		if err != nil {
			return nil, fmt.Errorf("%w: seed: %v", ErrMalformed, err)
		}
		seed = s
	default:
		if f.Seed != "" {
			return nil, fmt.Errorf("%w: a clear seed beside a ciphertext", ErrMalformed)
		}
		if f.KDF.Name != "scrypt" || f.AEAD != "xchacha20poly1305" {
			return nil, fmt.Errorf("%w: kdf %q aead %q, want scrypt and xchacha20poly1305", ErrMalformed, f.KDF.Name, f.AEAD)
		}
		if err := f.KDF.scryptParams.check(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		salt, err1 := b64.DecodeString(f.KDF.Salt)
		nonce, err2 := b64.DecodeString(f.Nonce)
		ct, err3 := b64.DecodeString(f.Ciphertext)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if len(salt) < 16 || len(nonce) != chacha20poly1305.NonceSizeX {
			return nil, fmt.Errorf("%w: salt of %d bytes or nonce of %d bytes", ErrMalformed, len(salt), len(nonce))
		}
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("%w: the file is encrypted and no passphrase was given", ErrBadPassphrase)
		}
		aead, err := keyAEAD(passphrase, salt, f.KDF.scryptParams)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		seed, err = aead.Open(nil, nonce, ct, f.additionalData())
		if err != nil {
			return nil, ErrBadPassphrase
		}
	}
	id, err := identityFromSeed(seed)
	if err != nil {
		return nil, err
	}
	if id.ID() != f.ID {
		return nil, fmt.Errorf("%w: key is %s's, the file says %q", ErrMalformed, id.ID(), f.ID)
	}
	return id, nil
}
