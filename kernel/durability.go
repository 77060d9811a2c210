package kernel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// Optional capabilities of a Sink, found by type assertion;
// *recorder.Recorder has them all.
type (
	// durabilityReporter says whether Append returns before the entry is
	// on disk: New refuses a Buffered file recorder without
	// WithLossyRecorder.
	durabilityReporter interface {
		Durability() recorder.Durability
		InMemory() bool
	}
	// lossReporter reports, for good, that entries Append had acknowledged
	// were lost; the kernel then halts (see Kernel.recorderLost).
	lossReporter interface {
		Lost() error
	}
	// entryLimiter bounds the encoded size of one entry; the kernel cuts
	// the arguments it records to fit well within it.
	entryLimiter interface {
		MaxEntryBytes() int
	}
	// laterAppender queues an entry in the chain without waiting for its
	// commit, which the next waiting Append (the next decision), a flush
	// or a short timer makes; a failed commit of it shows in Lost. The
	// kernel appends outcomes with it: the decision was durable before the
	// effect, and the outcome rides on the next commit, one fsync per
	// syscall instead of two.
	laterAppender interface {
		AppendLater(ctx context.Context, e recorder.Entry) (uint64, error)
	}
)

// appendOutcome appends a syscall's outcome entry, with the sink's
// AppendLater when it has one (see laterAppender), else with Append. An
// outcome queued but lost before its commit is reported by the sink's Lost
// (lossReporter), which halts the kernel at the next syscall; a crash
// before its commit leaves a permitted decision without an outcome, which
// recorder.Stats and recorder.Report name as an unknown outcome.
func (k *Kernel) appendOutcome(ctx context.Context, e recorder.Entry) error {
	if e.Time.IsZero() {
		e.Time = k.now()
	}
	if la, ok := k.sink.(laterAppender); ok {
		_, err := la.AppendLater(ctx, e)
		return err
	}
	_, err := k.sink.Append(ctx, e)
	return err
}

// Bounds on the arguments a decision entry records. Arguments whose
// canonical JSON is longer are recorded cut (see [ArgsTruncatedKey]), so
// that every decision is recorded whatever the size of what was asked.
const (
	// MaxArgsRecorded is the most bytes of arguments a decision entry
	// holds; less when the recorder's entry limit is small (a quarter of
	// it, at least 1 KiB).
	MaxArgsRecorded = 64 << 10
	minArgsRecorded = 1 << 10
	// ArgsTruncatedKey is the only key of the arguments recorded for an
	// action whose arguments were too large to record whole. Its value is
	// an object: "bytes", the length of the whole canonical JSON
	// (recorder.CanonicalJSON) of the arguments; "sha256", the hex SHA-256
	// of it; "prefix", its first bytes as a string, cut at a character
	// boundary. The entry's Detail says so too, which arguments an agent
	// sent cannot fake.
	ArgsTruncatedKey = "$truncated"
)

// truncatedArgs is the value recorded under ArgsTruncatedKey.
type truncatedArgs struct {
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
	Prefix string `json:"prefix"`
}

// recordedArgs returns the arguments a decision entry records, at most
// limit bytes, and a note for its Detail when they were cut ("" when not).
// Whole arguments are recorded as they are (the recorder canonicalizes
// them); larger ones as {ArgsTruncatedKey: truncatedArgs} over their
// canonical form, so that the digest can be checked against the
// arguments a tool received.
func recordedArgs(args json.RawMessage, limit int) (json.RawMessage, string) {
	if len(args) <= limit {
		return args, ""
	}
	canon, err := recorder.CanonicalJSON(args)
	if err != nil {
		canon = args // the kernel's own json.Marshal output: valid JSON
	}
	if len(canon) <= limit {
		return canon, ""
	}
	sum := sha256.Sum256(canon)
	t := truncatedArgs{Bytes: len(canon), SHA256: hex.EncodeToString(sum[:])}
	// A JSON string of JSON text is at most twice as long (every quote and
	// backslash escaped); half the limit, less the envelope, always fits.
	n := max(limit/2-256, 0)
	for n > 0 && !utf8.RuneStart(canon[n]) {
		n--
	}
	t.Prefix = string(canon[:n])
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// "<" stays one byte, as in the recorder's canonical form; strings and
	// an integer always encode.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]truncatedArgs{ArgsTruncatedKey: t})
	out := json.RawMessage(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	note := fmt.Sprintf("args truncated: %d of %d bytes recorded; sha256:%s of the whole", n, len(canon), t.SHA256)
	return out, note
}

// maxFieldRecorded bounds the path, tool and target an entry records. A
// path is refused beyond vfs.MaxPathLen and a tool name beyond
// MaxToolNameLen before policy decides, but the refusal is recorded with
// what was asked, and a target (an agent id, a topic) given to Do is the
// caller's.
const maxFieldRecorded = 4096

// cutFields bounds the path, tool and target of e, noting in its Detail
// what was cut and the digest of the whole: an entry the recorder would
// refuse for their size would leave a decision unrecorded.
func cutFields(e *recorder.Entry) {
	var notes []string
	cut := func(what, s string) string {
		if len(s) <= maxFieldRecorded {
			return s
		}
		notes = append(notes, fmt.Sprintf("%s truncated: %d bytes, sha256:%s of the whole", what, len(s), sha256Hex(s)))
		return truncateString(s, maxFieldRecorded)
	}
	e.Path = cut("path", e.Path)
	e.Tool = cut("tool", e.Tool)
	e.Target = agentos.AgentID(cut("target", string(e.Target)))
	if len(notes) == 0 {
		return
	}
	if e.Detail != "" {
		notes = append([]string{e.Detail}, notes...)
	}
	e.Detail = strings.Join(notes, "; ")
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// appendDecision appends the decision entry e. Should the recorder refuse
// it as malformed or over its entry limit — a small Options.MaxEntryBytes
// with the largest meta, a long message — it appends the smallest entry
// that still names the decision: arguments and meta replaced by their
// digests, message, detail and errors cut. A decision is recorded
// whatever was asked, or the syscall fails closed.
func (k *Kernel) appendDecision(ctx context.Context, e recorder.Entry) error {
	_, err := k.appendEntry(ctx, e)
	if err == nil || !errors.Is(err, agentos.ErrInvalid) {
		return err
	}
	_, err2 := k.appendEntry(ctx, minimalDecision(e))
	if err2 != nil {
		return errors.Join(err, err2)
	}
	return nil
}

// minimalFieldRecorded bounds each text field of a minimal decision entry.
const minimalFieldRecorded = 256

// minimalDecision is e cut to what always fits a recorder entry: the
// decision itself (trace, agent, op, effect, rule, status, policy
// version) and digests of everything else.
func minimalDecision(e recorder.Entry) recorder.Entry {
	var notes []string
	if len(e.Args) > 0 {
		args, note := recordedArgs(e.Args, 0)
		e.Args = args
		notes = append(notes, note)
	}
	if len(e.Meta) > 0 {
		m, err := json.Marshal(e.Meta) // sorted keys: a stable digest
		if err == nil {
			notes = append(notes, fmt.Sprintf("meta cut: %d entries, sha256:%s of their JSON", len(e.Meta), sha256Hex(string(m))))
		}
		e.Meta = nil
	}
	cut := func(what, s string) string {
		if len(s) <= minimalFieldRecorded && utf8.ValidString(s) {
			return s
		}
		notes = append(notes, fmt.Sprintf("%s cut: %d bytes, sha256:%s of the whole", what, len(s), sha256Hex(s)))
		return truncateString(strings.ToValidUTF8(s, "?"), minimalFieldRecorded)
	}
	e.Path, e.Tool = cut("path", e.Path), cut("tool", e.Tool)
	e.Target = agentos.AgentID(cut("target", string(e.Target)))
	e.Message, e.Error = cut("message", e.Message), cut("error", e.Error)
	e.PayloadType = cut("payload type", e.PayloadType)
	detail := e.Detail
	if len(detail) > minimalFieldRecorded || !utf8.ValidString(detail) {
		detail = truncateString(strings.ToValidUTF8(detail, "?"), minimalFieldRecorded)
	}
	if detail != "" {
		notes = append([]string{detail}, notes...)
	}
	e.Detail = strings.Join(notes, "; ")
	return e
}

var _ laterAppender = (*anchoredSink)(nil)

// AppendLater queues e (see recorder.Recorder.AppendLater) and tells the
// publisher, as Append does, so that outcomes count towards the anchor
// interval; called on the syscall's goroutine.
func (s *anchoredSink) AppendLater(ctx context.Context, e recorder.Entry) (uint64, error) {
	seq, err := s.Recorder.AppendLater(ctx, e)
	if err == nil {
		s.pub.Appended()
	}
	return seq, err
}
