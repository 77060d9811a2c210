package iatp

import "github.com/agent-os/agentos"

// sentinel is an exported error value of this package that also matches a
// shared agentos sentinel under errors.Is, so a caller that only knows
// agentos.ErrUntrusted (the kernel, policy) still recognises a trust refusal.
type sentinel struct {
	msg  string
	base error
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.base }

func untrusted(msg string) error { return &sentinel{msg: msg, base: agentos.ErrUntrusted} }

// Trust refusals. Each wraps agentos.ErrUntrusted; the methods that return
// them say which, and add detail with %w.
var (
	// ErrReplay: a nonce was seen before (an envelope or a challenge answered twice),
	// or an envelope is older than what the replay cache can still remember.
	ErrReplay = untrusted("iatp: replayed message")
	// ErrExpired: a message, challenge or manifest is outside its validity window.
	ErrExpired = untrusted("iatp: expired or not yet valid")
	// ErrUnknownPeer: the sender is not in the Registry.
	ErrUnknownPeer = untrusted("iatp: unknown peer")
	// ErrWrongRecipient: the message or challenge is addressed to someone else.
	ErrWrongRecipient = untrusted("iatp: wrong recipient")
	// ErrBadSignature: a signature (or the payload digest it covers) does not verify.
	ErrBadSignature = untrusted("iatp: bad signature")
	// ErrKeyMismatch: a public key does not match the agent id it claims, or
	// differs from the key the Registry holds for that id.
	ErrKeyMismatch = untrusted("iatp: key does not match identity")
	// ErrInsufficientTrust: the peer's score is below what the caller requires.
	ErrInsufficientTrust = untrusted("iatp: insufficient trust")
	// ErrMissingCapability: the peer's manifest lacks a capability the caller requires.
	ErrMissingCapability = untrusted("iatp: missing capability")
	// ErrRevoked: the peer was revoked, or its key was rotated away.
	ErrRevoked = untrusted("iatp: peer revoked")
	// ErrUnknownChallenge: a response answers a challenge this side did not issue,
	// or one it no longer remembers (evicted), or it alters the challenge it echoes.
	ErrUnknownChallenge = untrusted("iatp: unknown challenge")
	// ErrStale: a manifest older than the one registered was offered (a downgrade).
	ErrStale = untrusted("iatp: stale manifest")
)

// Errors about input and resources.
var (
	// ErrMalformed: bytes that do not decode under the strict format rules.
	// Wraps agentos.ErrInvalid.
	ErrMalformed = &sentinel{msg: "iatp: malformed", base: agentos.ErrInvalid}
	// ErrTooLarge: input over a documented bound. Wraps agentos.ErrInvalid.
	ErrTooLarge = &sentinel{msg: "iatp: too large", base: agentos.ErrInvalid}
	// ErrBadPassphrase: a key file could not be decrypted with the passphrase
	// given (wrong passphrase, a missing one, or a tampered ciphertext: AEAD
	// cannot tell them apart).
	ErrBadPassphrase = &sentinel{msg: "iatp: bad passphrase", base: agentos.ErrInvalid}
	// ErrInsecureKeyFile: a key file is readable or writable by group or others.
	// Wraps agentos.ErrUntrusted.
	ErrInsecureKeyFile = untrusted("iatp: key file permissions are too open")
	// ErrRegistryFull: the Registry holds its maximum number of entries.
	// Wraps agentos.ErrQuota.
	ErrRegistryFull = &sentinel{msg: "iatp: registry full", base: agentos.ErrQuota}
)
