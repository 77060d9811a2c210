package iatp

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"
)

// Binary wire format shared by envelopes, challenges, responses and
// handovers. Every encoding starts with a format version byte and a kind
// byte; strings are one length byte then the bytes (so at most 255);
// times are int64 big-endian Unix nanoseconds (strictly positive);
// keys, nonces, digests and signatures have fixed sizes. Decoders refuse
// trailing bytes, so one value has exactly one encoding, which is what
// signatures are computed over (after a domain-separation prefix).
const (
	wireVersion = 1

	kindEnvelope  = 'E'
	kindChallenge = 'C'
	kindResponse  = 'R'
	kindHandover  = 'H'

	maxWireString = 255
)

// Domain-separation prefixes: a signature made for one kind of message can
// never be replayed as another kind.
const (
	domainManifest = "agentos-iatp-manifest-v1\n"
	domainEnvelope = "agentos-iatp-envelope-v1\n"
	domainResponse = "agentos-iatp-response-v1\n"
	domainHandover = "agentos-iatp-handover-v1\n"
)

func appendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixNano()))
}

// reader decodes the wire format; the first error sticks and later reads
// return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (r *reader) fixed(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("%s: truncated", what)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte(what string) byte {
	b := r.fixed(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) string(what string) string {
	n := int(r.byte(what))
	b := r.fixed(n, what)
	if r.err != nil {
		return ""
	}
	s := string(b)
	if err := checkText(s, maxWireString); err != nil {
		r.fail("%s: %v", what, err)
	}
	return s
}

func (r *reader) time(what string) time.Time {
	b := r.fixed(8, what)
	if r.err != nil {
		return time.Time{}
	}
	n := int64(binary.BigEndian.Uint64(b))
	if n <= 0 {
		r.fail("%s: time is not after 1970", what)
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (r *reader) header(kind byte, what string) {
	v := r.byte(what + " version")
	k := r.byte(what + " kind")
	if r.err != nil {
		return
	}
	if v != wireVersion {
		r.fail("%s: unsupported version %d", what, v)
	}
	if k != kind {
		r.fail("%s: kind %q, want %q", what, k, kind)
	}
}

func (r *reader) end(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%s: %d trailing bytes", what, len(r.b))
	}
	return r.err
}

// checkText accepts valid UTF-8 of at most max bytes without control
// characters.
func checkText(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%d bytes, limit %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("invalid UTF-8")
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return fmt.Errorf("control character %U", c)
		}
	}
	return nil
}

// minTime and maxTime bound the instants the formats carry: Unix
// nanoseconds in an int64 cover 1970 to 2262.
var (
	minTime = time.Unix(0, 1).UTC()
	maxTime = time.Unix(0, 1<<63-1).UTC()
)

func checkTime(t time.Time, what string) error {
	if t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("%w: %s %v outside 1970..2262", ErrMalformed, what, t)
	}
	return nil
}
