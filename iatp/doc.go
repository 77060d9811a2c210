// Package iatp is the inter-agent trust protocol: who an agent is, what it
// promises, whether a message really comes from it, and how far to trust
// it.
//
// # Identity
//
// An agent is an Ed25519 key pair ([Identity]); its id is "did:mesh:"
// followed by the first 32 hex digits of the SHA-256 of its public key
// ([IDOf]), so an id names exactly one key. Keys are stored with
// [SaveIdentity] (mode 0600, written atomically; encrypted with
// XChaCha20-Poly1305 under an scrypt-derived key when a passphrase is
// given) and read back with [LoadIdentity], which refuses files that
// group or others may access. [Identity.Rotate] makes a new key and a
// [Handover] signed by the old one; [Registry.Rotate] moves a peer's
// manifest and reputation to the new id and revokes the old one.
//
// # Manifests and their canonical encoding
//
// A [Manifest] states an agent's trust level, capabilities, reversibility
// and privacy promises, and its validity. [SignManifest] signs it; the
// signature is over the bytes "agentos-iatp-manifest-v1\n" followed by
// the manifest's canonical encoding: JSON (UTF-8) with the keys of every
// object sorted bytewise, no insignificant whitespace, strings escaped
// only where JSON requires (", \ and control characters, as \b \t \n \f
// \r or \u00xx with lowercase hex), booleans, integers only (the undo
// window in whole seconds), times in RFC 3339 UTC with the fewest
// fractional digits that are exact ("2026-01-02T03:04:05Z",
// "…05.5Z"), the key in unpadded base64url, empty lists and maps written
// as [] and {}. A [SignedManifest] is encoded as
// {"manifest":<canonical manifest>,"signature":"<base64url>"}, and
// [DecodeManifest] accepts exactly that encoding (at most 64 KiB), so
// there is one byte string per manifest and no room for parser
// differentials. Agents serve their manifest at
// /.well-known/agent-manifest ([ManifestHandler], [FetchManifest]).
//
// # Trust scores
//
// [ScoreManifest] follows the IATP specification: the base of the trust
// level (verified_partner 10, trusted 7, standard 5, unknown 2, untrusted
// 0), +2 when reversible, +1 for ephemeral retention, -1 for permanent,
// -2 with humans in the loop, -1 with training consent, clamped to 0..10.
// The [Registry] adds a reputation adjustment from the events reported to
// it (success +0.1, failure -0.5, violation -2, each times its weight),
// which decays exponentially with a half-life (a day by default) over an
// injected clock and stays within [MinReputation, MaxReputation]. The
// total, clamped to 0..10, gives the [Verdict]: at least 7 [Allow], at
// least 3 [Warn] (needs an override), else [Refuse]. Scores are computed
// locally; nothing a peer says about its own score is ever used.
//
// # Handshake
//
// [Handshaker.NewChallenge] issues a [Challenge] with a fresh 32-byte
// nonce that expires (30 s by default); the challenged agent answers with
// [Handshaker.Respond], a [Response] signed over
// "agentos-iatp-response-v1\n" and the whole challenge; the challenger's
// [Handshaker.Verify] accepts it once, only for a challenge it issued, and
// only from a registered, unrevoked peer whose key, score and capabilities
// are what it requires. A mutual handshake is one each way. The
// handshake proves possession of a key and liveness; it agrees no session
// key, so confidentiality is the transport's business.
//
// # Envelopes
//
// [Seal] signs a payload for a recipient: an [Envelope] of about 200
// bytes (at most [MaxEnvelopeString] in base64url, so it fits a message
// header) holding the sender, the recipient, the time, a random nonce and
// the payload's SHA-256, signed over "agentos-iatp-envelope-v1\n" and its
// binary encoding. [Opener.Open] checks it against the [Registry] (the
// registered key, never one the message brings), the recipient, a replay
// window and a bounded nonce cache.
//
// # Threat model
//
// The network, the bus and other agents are untrusted: they may drop,
// reorder, replay, alter or forge messages, and serve forged or stale
// manifests. Signatures with domain separation stop alteration, forgery
// and cross-protocol reuse; nonces, times and expiry stop replay; keys
// come only from the local Registry, so a message cannot vouch for
// itself; revocation and rotation take effect for every later message.
// Trusted: the host that decides which manifests to register (the trust
// level in a manifest is taken as the host's assessment because the host
// registered it), the local clock (within the skews allowed), and the
// secrecy of private keys. Not covered: confidentiality of payloads,
// denial of service by flooding (every cache is bounded, and a full
// replay cache refuses old messages rather than forget nonces), and a
// compromised key before its rotation or revocation.
//
// # Concurrency
//
// [Identity], [Registry], [Opener] and [Handshaker] are safe for
// concurrent use. Messages ([Envelope], [Challenge], [Response],
// [Handover], [SignedManifest]) are plain values.
//
// Errors are values: trust refusals ([ErrReplay], [ErrExpired],
// [ErrUnknownPeer], [ErrWrongRecipient], [ErrBadSignature],
// [ErrKeyMismatch], [ErrInsufficientTrust], [ErrMissingCapability],
// [ErrRevoked], …) wrap agentos.ErrUntrusted; malformed input wraps
// agentos.ErrInvalid.
package iatp
