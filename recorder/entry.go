package recorder

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// Kind says what an entry records.
type Kind string

// The kinds of entry. A syscall leaves a KindDecision entry before it runs
// and a KindOutcome entry with the same Trace after it completes.
const (
	KindDecision  Kind = "decision"  // what policy decided, written before the action runs
	KindOutcome   Kind = "outcome"   // what happened, written when the action completes
	KindSignal    Kind = "signal"    // a signal raised or delivered (Detail names it)
	KindLifecycle Kind = "lifecycle" // spawn, exit, policy reload and similar events
	KindPanic     Kind = "panic"     // a recovered panic or a kernel panic
)

// Kinds lists every kind in a stable order.
func Kinds() []Kind {
	return []Kind{KindDecision, KindOutcome, KindSignal, KindLifecycle, KindPanic}
}

// Valid reports whether k is one of the known kinds (exact match).
func (k Kind) Valid() bool {
	switch k {
	case KindDecision, KindOutcome, KindSignal, KindLifecycle, KindPanic:
		return true
	}
	return false
}

// Status is the result class of an outcome entry. It is free text so that
// callers may add their own classes; the constants are the ones the kernel
// uses.
type Status string

// Outcome statuses used by the kernel.
const (
	StatusOK       Status = "ok"       // the action completed
	StatusError    Status = "error"    // the action ran and failed
	StatusDenied   Status = "denied"   // policy did not permit it; it did not run
	StatusCanceled Status = "canceled" // interrupted (signal, context) before completion
	StatusShadow   Status = "shadow"   // shadow mode: recorded, not executed
)

// HashSize is the length of an entry hash (SHA-256).
const HashSize = 32

// Hash is the SHA-256 chain hash of an entry. It renders as lower-case hex.
type Hash [HashSize]byte

// String returns the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zero bytes (the genesis of a first file).
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText implements encoding.TextMarshaler (lower-case hex).
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, hex.EncodedLen(HashSize))
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler. It accepts exactly 64
// hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != hex.EncodedLen(HashSize) {
		return fmt.Errorf("%w: hash must be %d hex digits, got %d bytes", agentos.ErrInvalid, hex.EncodedLen(HashSize), len(b))
	}
	var v Hash
	if _, err := hex.Decode(v[:], b); err != nil {
		return fmt.Errorf("%w: hash: %v", agentos.ErrInvalid, err)
	}
	*h = v
	return nil
}

// Anchor names a stretch of the chain by both its ends: Seq and Hash are
// its head (the sequence of the last entry it covers and that entry's
// hash), GenesisSeq and GenesisHash the point the chain starts from. A
// chain starts at the zero genesis (seq 0, zero hash), so an anchor whose
// genesis fields are zero covers everything from the first entry ever
// appended; a non-zero genesis is the head of an earlier file (a rollover
// continuation) that the holder of the anchor vouches for. An anchor kept
// somewhere the recorder's owner cannot rewrite lets VerifyAnchor detect a
// truncated tail, a deleted prefix and a recomputed chain (see SignAnchor).
//
// Report and Stats use Anchor for single points of the chain (a file's
// genesis, the last entry checked); their genesis fields are zero.
type Anchor struct {
	Seq         uint64 `json:"seq"`
	Hash        Hash   `json:"hash"`
	GenesisSeq  uint64 `json:"genesis_seq,omitzero"`
	GenesisHash Hash   `json:"genesis_hash,omitzero"`
}

// Entry is one record of the flight recorder. The recorder assigns Seq,
// PrevHash and Hash (values set by the caller are ignored) and Time when it
// is zero. Fields that do not apply to the kind are left empty. Every field
// is covered by Hash.
type Entry struct {
	Seq   uint64          `json:"seq"`   // position in the chain, from 1, gap-free
	Time  time.Time       `json:"time"`  // when the event happened (UTC, nanoseconds)
	Trace string          `json:"trace"` // one id per syscall: links its decision and outcome
	Agent agentos.AgentID `json:"agent,omitempty"`
	Kind  Kind            `json:"kind"`

	// The action.
	Op     agentos.Op      `json:"op,omitempty"`
	Tool   string          `json:"tool,omitempty"`
	Path   string          `json:"path,omitempty"`
	Target agentos.AgentID `json:"target,omitempty"`
	// Args is the action's arguments as JSON. Append stores it in canonical
	// form (object keys sorted, no insignificant space, numbers as written).
	Args json.RawMessage `json:"args,omitempty"`
	// PayloadType is the package-qualified Go type of a value sent through
	// a pipe, or the content type of a message (agentos.Action.PayloadType):
	// at most MaxPayloadType bytes of UTF-8.
	PayloadType string `json:"payload_type,omitempty"`
	// Meta is the action's labels (agentos.Action.Meta), e.g. direction,
	// sender, pattern: at most MaxMetaEntries entries, keys of at most
	// MaxMetaKey and values of at most MaxMetaValue bytes of UTF-8. Append
	// stores a copy; an empty map is stored, and read back, as nil.
	Meta map[string]string `json:"meta,omitempty"`

	// The verdict.
	PolicyVersion string           `json:"policy_version,omitempty"`
	Rule          string           `json:"rule,omitempty"`
	Effect        agentos.Effect   `json:"effect"`
	Message       string           `json:"message,omitempty"`
	Severity      agentos.Severity `json:"severity"`

	// The outcome.
	Status       Status        `json:"status,omitempty"`
	Error        string        `json:"error,omitempty"`
	Duration     time.Duration `json:"duration_ns,omitempty"`
	ResultDigest string        `json:"result_digest,omitempty"` // e.g. "sha256:…" of the result

	// Detail is free text for signal, lifecycle and panic entries (the
	// signal name, the lifecycle event, the panic value and stack).
	Detail string `json:"detail,omitempty"`

	PrevHash Hash `json:"prev_hash"`
	Hash     Hash `json:"hash"`
}

// Bounds of the fields that carry what an action asked for, checked by
// Append and Import (agentos.ErrInvalid beyond them).
const (
	MaxPayloadType = 256  // bytes of Entry.PayloadType
	MaxMetaEntries = 32   // entries of Entry.Meta
	MaxMetaKey     = 64   // bytes of one Entry.Meta key
	MaxMetaValue   = 1024 // bytes of one Entry.Meta value
)

// encodingVersion is the first byte of the canonical encoding. A change of
// the encoding gets a new version; old entries keep verifying with theirs.
const encodingVersion = 1

// Offsets into the hashing buffer: prev hash, version byte, seq.
const (
	offPrev    = 0
	offVersion = HashSize
	offSeq     = offVersion + 1
	offBody    = offSeq + 8
)

// fields is the stored form of an entry, generic over string and []byte so
// that Verify can hash rows without converting every column to a string.
type fields[S string | []byte] struct {
	time                                             int64
	trace, agent, kind, op, tool, path, target, args S
	payloadType, meta                                S
	policyVersion, rule                              S
	effect, severity                                 int64
	message, status, errText                         S
	duration                                         int64
	resultDigest, detail                             S
}

func appendBytes[S string | []byte](b []byte, s S) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendInt(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

// encode appends the hashing buffer of f to dst: 32 bytes for the previous
// hash and 8 for the sequence (both filled in by seal), then the versioned
// canonical encoding of every field in a fixed order, each string length
// prefixed.
func encode[S string | []byte](dst []byte, f *fields[S]) []byte {
	dst = encodeHead(dst, f)
	dst = appendBytes(dst, f.meta)
	return encodeTail(dst, f)
}

// encodeHead appends encode's output up to the meta field: the header
// and the fields before meta.
func encodeHead[S string | []byte](dst []byte, f *fields[S]) []byte {
	dst = append(dst, make([]byte, offBody)...)
	dst[offVersion] = encodingVersion
	dst = appendInt(dst, f.time)
	dst = appendBytes(dst, f.trace)
	dst = appendBytes(dst, f.agent)
	dst = appendBytes(dst, f.kind)
	dst = appendBytes(dst, f.op)
	dst = appendBytes(dst, f.tool)
	dst = appendBytes(dst, f.path)
	dst = appendBytes(dst, f.target)
	dst = appendBytes(dst, f.args)
	return appendBytes(dst, f.payloadType)
}

// encodeTail appends encode's output after the meta field.
func encodeTail[S string | []byte](dst []byte, f *fields[S]) []byte {
	dst = appendBytes(dst, f.policyVersion)
	dst = appendBytes(dst, f.rule)
	dst = appendInt(dst, f.effect)
	dst = appendInt(dst, f.severity)
	dst = appendBytes(dst, f.message)
	dst = appendBytes(dst, f.status)
	dst = appendBytes(dst, f.errText)
	dst = appendInt(dst, f.duration)
	dst = appendBytes(dst, f.resultDigest)
	dst = appendBytes(dst, f.detail)
	return dst
}

// seal fills the previous hash and the sequence into a buffer made by
// encode and returns the entry's hash.
func seal(buf []byte, prev Hash, seq uint64) Hash {
	copy(buf[offPrev:], prev[:])
	binary.BigEndian.PutUint64(buf[offSeq:], seq)
	return sumHash(buf)
}

func fieldsOf(e *Entry) fields[string] {
	f := fieldsNoMeta(e)
	f.meta = metaJSON(e.Meta)
	return f
}

// fieldsNoMeta is fieldsOf without the meta field, which it leaves empty.
func fieldsNoMeta(e *Entry) fields[string] {
	return fields[string]{
		time: e.Time.UnixNano(), trace: e.Trace, agent: string(e.Agent), kind: string(e.Kind),
		op: string(e.Op), tool: e.Tool, path: e.Path, target: string(e.Target), args: string(e.Args),
		payloadType:   e.PayloadType,
		policyVersion: e.PolicyVersion, rule: e.Rule, effect: int64(e.Effect), severity: int64(e.Severity),
		message: e.Message, status: string(e.Status), errText: e.Error, duration: int64(e.Duration),
		resultDigest: e.ResultDigest, detail: e.Detail,
	}
}

// ComputeHash returns the chain hash of e given the hash of its
// predecessor: SHA-256 over prev and the canonical encoding (version 1) of
// e's sequence and every other field except PrevHash and Hash. Strings are
// length prefixed (uvarint), integers 8 bytes big-endian; Args is hashed
// as given (it does not canonicalize e.Args; stored entries already hold
// canonical args) and Meta as its canonical JSON object (keys sorted, the
// form of CanonicalJSON; empty for a nil or empty map).
func ComputeHash(prev Hash, e Entry) Hash {
	f := fieldsOf(&e)
	return seal(encode(nil, &f), prev, e.Seq)
}

// Time bounds: UnixNano is defined only between these.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// normalize checks e and puts it in stored form: UTC time at nanosecond
// precision and canonical args. It does not touch Seq or the hashes.
func normalize(e *Entry) error {
	if err := normalizeFields(e); err != nil {
		return err
	}
	return checkMeta(e)
}

// normalizeFields is normalize without its last step, checkMeta: the
// in-memory store checks the meta while it encodes it (appendMetaChecked),
// with the same checks and errors.
func normalizeFields(e *Entry) error {
	if !e.Kind.Valid() {
		return fmt.Errorf("%w: recorder: unknown entry kind %q", agentos.ErrInvalid, e.Kind)
	}
	if (e.Kind == KindDecision || e.Kind == KindOutcome) && e.Trace == "" {
		return fmt.Errorf("%w: recorder: a %s entry needs a trace id", agentos.ErrInvalid, e.Kind)
	}
	if !validEffect[e.Effect] {
		if _, err := e.Effect.MarshalText(); err != nil {
			return fmt.Errorf("recorder: %w", err)
		}
	}
	if !validSeverity[e.Severity] {
		if _, err := e.Severity.MarshalText(); err != nil {
			return fmt.Errorf("recorder: %w", err)
		}
	}
	if e.Time.Before(minTime) || e.Time.After(maxTime) {
		return fmt.Errorf("%w: recorder: time %v out of range", agentos.ErrInvalid, e.Time)
	}
	e.Time = time.Unix(0, e.Time.UnixNano()).UTC()
	if e.Duration < 0 {
		return fmt.Errorf("%w: recorder: negative duration %v", agentos.ErrInvalid, e.Duration)
	}
	args, err := CanonicalJSON(e.Args)
	if err != nil {
		return err
	}
	e.Args = args
	return checkText("payload type", e.PayloadType, MaxPayloadType)
}

// checkMeta checks e.Meta against its bounds and makes an empty map nil.
func checkMeta(e *Entry) error {
	if len(e.Meta) > MaxMetaEntries {
		return fmt.Errorf("%w: recorder: %d meta entries, at most %d", agentos.ErrInvalid, len(e.Meta), MaxMetaEntries)
	}
	for k, v := range e.Meta {
		if err := checkText("meta key", k, MaxMetaKey); err != nil {
			return err
		}
		if err := checkMetaValue(k, v); err != nil {
			return err
		}
	}
	if len(e.Meta) == 0 {
		e.Meta = nil
	}
	// e.Meta stays the caller's map: the stores keep its stored form
	// (metaJSON), made before Append returns, never the map itself.
	return nil
}

// checkMetaValue checks the meta value v of key k.
func checkMetaValue(k, v string) error {
	if len(v) > MaxMetaValue || !utf8.ValidString(v) { // the label is made only for the error
		return checkText("meta value of "+strconv.Quote(k), v, MaxMetaValue)
	}
	return nil
}

// checkText checks that s is valid UTF-8 of at most limit bytes.
func checkText(what, s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%w: recorder: %s of %d bytes, at most %d", agentos.ErrInvalid, what, len(s), limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: recorder: %s is not valid UTF-8", agentos.ErrInvalid, what)
	}
	return nil
}

// metaJSON returns the canonical JSON object of m (keys sorted, no
// insignificant space, no HTML escaping: what CanonicalJSON makes of any
// JSON encoding of m), or "" when m is empty. It is the stored and the
// hashed form of Entry.Meta.
func metaJSON(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	if s, ok := fastMetaJSON(m); ok {
		return s
	}
	return slowMetaJSON(m)
}

// slowMetaJSON is metaJSON by encoding/json, the reference of fastMetaJSON.
func slowMetaJSON(m map[string]string) string {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.Encode(m) // a map of strings always encodes (encoding/json sorts its keys)
	return string(bytes.TrimSuffix(out.Bytes(), []byte("\n")))
}

// parseMeta decodes a stored meta column; "" gives nil.
func parseMeta[S string | []byte](b S) (map[string]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(b), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// CanonicalJSON returns the canonical form of a JSON value: object keys
// sorted, no insignificant white space, numbers exactly as written, no HTML
// escaping. Empty input gives nil. Invalid JSON, or more than one value, is
// an error wrapping agentos.ErrInvalid.
func CanonicalJSON(raw []byte) (json.RawMessage, error) {
	if isCanonical(raw) {
		return bytes.Clone(raw), nil
	}
	return canonicalJSON(raw)
}

// canonicalJSON is CanonicalJSON's general path: decode, and encode again.
func canonicalJSON(raw []byte) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: recorder: args are not valid JSON: %v", agentos.ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: recorder: args hold more than one JSON value", agentos.ErrInvalid)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%w: recorder: args: %v", agentos.ErrInvalid, err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// Args marshals v (typically an agentos.Action's Args map) to canonical
// JSON for Entry.Args.
func Args(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: recorder: args: %v", agentos.ErrInvalid, err)
	}
	return CanonicalJSON(b)
}
