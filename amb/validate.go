package amb

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits bound what a bus accepts. A zero field takes its default.
type Limits struct {
	MaxMessageBytes int // payload + topic + id + content type + headers; default 512 KiB
	MaxTopicBytes   int // default 256
	MaxTopicTokens  int // dot-separated tokens; default 16
	MaxHeaders      int // default 32
	MaxHeaderName   int // default 64
	MaxHeaderValue  int // default 1024
}

// Default limits.
const (
	DefaultMaxMessageBytes = 512 << 10
	DefaultMaxTopicBytes   = 256
	DefaultMaxTopicTokens  = 16
	DefaultMaxHeaders      = 32
	DefaultMaxHeaderName   = 64
	DefaultMaxHeaderValue  = 1024
	maxIDBytes             = 128
	maxContentTypeBytes    = 128
	reservedSlack          = 16
	maxReasonBytes         = 256
)

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxMessageBytes, DefaultMaxMessageBytes)
	def(&l.MaxTopicBytes, DefaultMaxTopicBytes)
	def(&l.MaxTopicTokens, DefaultMaxTopicTokens)
	def(&l.MaxHeaders, DefaultMaxHeaders)
	def(&l.MaxHeaderName, DefaultMaxHeaderName)
	def(&l.MaxHeaderValue, DefaultMaxHeaderValue)
	return l
}

// The reserved namespace: topics whose first token starts with "_" belong to
// the bus. Only the dead-letter namespace is defined.
const deadLetterToken = "_dlq"

// DeadLetterTopic returns the topic on which dead letters of topic are
// published: "_dlq." + topic. Subscribe to "_dlq.>" for every dead letter.
// Dead letters are retained like other messages, so a subscription with
// [DeliverAll] reads the dead-letter queue from its start.
func DeadLetterTopic(topic string) string { return deadLetterToken + "." + topic }

// IsDeadLetterTopic reports whether topic is in the dead-letter namespace.
func IsDeadLetterTopic(topic string) bool {
	return strings.HasPrefix(topic, deadLetterToken+".")
}

// ValidateTopic checks a topic that a message is published or requested on:
// 1 to MaxTopicBytes bytes, 1 to MaxTopicTokens non-empty dot-separated
// tokens of printable ASCII other than '*', '>' and '$', no whitespace, and
// not in the reserved "_" namespace. Errors wrap [ErrInvalidTopic].
func (l Limits) ValidateTopic(topic string) error {
	return l.checkTopic(topic, false, false)
}

// ValidatePattern checks a subscription pattern: a topic whose tokens may
// also be "*" (exactly one token) or, as the last token, ">" (one or more
// tokens). A pattern may name the dead-letter namespace ("_dlq.>").
// Errors wrap [ErrInvalidTopic].
func (l Limits) ValidatePattern(pattern string) error {
	return l.checkTopic(pattern, true, true)
}

func (l Limits) checkTopic(s string, wildcards, allowDLQ bool) error {
	l = l.WithDefaults()
	kind := "topic"
	if wildcards {
		kind = "pattern"
	}
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalidTopic, kind)
	}
	if len(s) > l.MaxTopicBytes {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalidTopic, kind, len(s), l.MaxTopicBytes)
	}
	tokens := strings.Split(s, ".")
	if len(tokens) > l.MaxTopicTokens {
		return fmt.Errorf("%w: %s %q has %d tokens, limit %d", ErrInvalidTopic, kind, s, len(tokens), l.MaxTopicTokens)
	}
	for i, tok := range tokens {
		if tok == "" {
			return fmt.Errorf("%w: %s %q has an empty token", ErrInvalidTopic, kind, s)
		}
		if tok == "*" || tok == ">" {
			if !wildcards {
				return fmt.Errorf("%w: topic %q has wildcard %q", ErrInvalidTopic, s, tok)
			}
			if tok == ">" && i != len(tokens)-1 {
				return fmt.Errorf("%w: pattern %q: '>' must be the last token", ErrInvalidTopic, s)
			}
			continue
		}
		for j := 0; j < len(tok); j++ {
			c := tok[j]
			if c <= ' ' || c >= 0x7f || c == '*' || c == '>' || c == '$' {
				return fmt.Errorf("%w: %s %q has invalid byte %q", ErrInvalidTopic, kind, s, c)
			}
		}
		if i == 0 && tok[0] == '_' {
			if tok != deadLetterToken || !allowDLQ {
				return fmt.Errorf("%w: %s %q is in the reserved '_' namespace", ErrInvalidTopic, kind, s)
			}
			if len(tokens) == 1 {
				return fmt.Errorf("%w: pattern %q needs a topic after %q", ErrInvalidTopic, s, deadLetterToken)
			}
		}
	}
	return nil
}

// Match reports whether topic matches pattern (NATS semantics: "*" matches
// exactly one token, a final ">" one or more). A wildcard in the first
// position never matches a topic in the reserved "_" namespace, so ">" does
// not receive dead letters. Neither argument is validated.
func Match(pattern, topic string) bool {
	first := true
	for {
		pt, prest, pmore := strings.Cut(pattern, ".")
		tt, trest, tmore := strings.Cut(topic, ".")
		if first && (pt == "*" || pt == ">") && strings.HasPrefix(tt, "_") {
			return false
		}
		first = false
		switch {
		case pt == ">" && !pmore:
			return tt != ""
		case pt == "*":
			if tt == "" {
				return false
			}
		case pt != tt:
			return false
		}
		if !pmore || !tmore {
			return pmore == tmore
		}
		pattern, topic = prest, trest
	}
}

// ValidateHeaders checks header names (1 to MaxHeaderName bytes of ASCII
// letters, digits, '-', '_' and '.', not starting with a reserved prefix) and
// values (at most MaxHeaderValue bytes of valid UTF-8 without control
// characters or leading/trailing spaces, which no wire format keeps) and
// their count. Errors wrap [ErrInvalidHeader].
func (l Limits) ValidateHeaders(h map[string]string) error {
	return l.checkHeaders(h, false)
}

func (l Limits) checkHeaders(h map[string]string, allowReserved bool) error {
	l = l.WithDefaults()
	if allowReserved {
		l.MaxHeaders += reservedSlack // room for the headers a bus adds (dead letters)
	}
	if len(h) > l.MaxHeaders {
		return fmt.Errorf("%w: %d headers, limit %d", ErrInvalidHeader, len(h), l.MaxHeaders)
	}
	for k, v := range h {
		if err := checkHeaderName(k, l.MaxHeaderName); err != nil {
			return err
		}
		if !allowReserved && IsReservedHeader(k) {
			return fmt.Errorf("%w: name %q uses a reserved prefix", ErrInvalidHeader, k)
		}
		limit := l.MaxHeaderValue
		if allowReserved && IsReservedHeader(k) {
			limit = max(limit, DefaultMaxHeaderValue)
		}
		if err := checkHeaderValue(k, v, limit); err != nil {
			return err
		}
	}
	return nil
}

// IsReservedHeader reports whether name starts with one of
// [ReservedHeaderPrefixes], ignoring case.
func IsReservedHeader(name string) bool {
	for _, p := range ReservedHeaderPrefixes {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return true
		}
	}
	return false
}

func checkHeaderName(k string, limit int) error {
	if k == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidHeader)
	}
	if len(k) > limit {
		return fmt.Errorf("%w: name %.32q… is %d bytes, limit %d", ErrInvalidHeader, k, len(k), limit)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("%w: name %q has invalid byte %q", ErrInvalidHeader, k, c)
		}
	}
	return nil
}

func checkHeaderValue(k, v string, limit int) error {
	if len(v) > limit {
		return fmt.Errorf("%w: value of %q is %d bytes, limit %d", ErrInvalidHeader, k, len(v), limit)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: value of %q is not valid UTF-8", ErrInvalidHeader, k)
	}
	for _, r := range v {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%w: value of %q has control character %U", ErrInvalidHeader, k, r)
		}
	}
	if v != strings.TrimSpace(v) {
		return fmt.Errorf("%w: value of %q has leading or trailing space", ErrInvalidHeader, k)
	}
	return nil
}

// ValidateMessage checks m as published on topic: the topic, the headers,
// the id and content type (printable ASCII, bounded), and the total size.
// Errors wrap [ErrInvalidTopic], [ErrInvalidHeader], [ErrInvalidMessage] or
// [ErrTooLarge], all of which wrap agentos.ErrInvalid.
func (l Limits) ValidateMessage(topic string, m Message) error {
	if err := l.ValidateTopic(topic); err != nil {
		return err
	}
	return l.checkBody(m, false)
}

// ValidateReply checks a reply: like ValidateMessage without the topic.
func (l Limits) ValidateReply(m Message) error { return l.checkBody(m, false) }

// ValidateDelivered checks a message decoded from storage or the wire: like
// ValidateMessage, but reserved headers and the dead-letter namespace are
// allowed. Implementations use it on every frame they decode.
func (l Limits) ValidateDelivered(m Message) error {
	if err := l.checkTopic(m.Topic, false, true); err != nil {
		return err
	}
	if strings.HasPrefix(m.Topic, "_") && !IsDeadLetterTopic(m.Topic) {
		return fmt.Errorf("%w: topic %q is in the reserved namespace", ErrInvalidTopic, m.Topic)
	}
	return l.checkBody(m, true)
}

func (l Limits) checkBody(m Message, allowReserved bool) error {
	l = l.WithDefaults()
	if err := checkToken("id", m.ID, maxIDBytes); err != nil {
		return err
	}
	if err := checkToken("content type", m.ContentType, maxContentTypeBytes); err != nil {
		return err
	}
	if err := l.checkHeaders(m.Headers, allowReserved); err != nil {
		return err
	}
	if !m.Expires.IsZero() && !m.Time.IsZero() && m.Expires.Before(m.Time) {
		return fmt.Errorf("%w: expires %s before its time %s", ErrInvalidMessage, m.Expires.Format(time.RFC3339Nano), m.Time.Format(time.RFC3339Nano))
	}
	if allowReserved {
		l.MaxMessageBytes += 4 << 10 // room for the headers a bus adds
	}
	if n := m.size(); n > l.MaxMessageBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, l.MaxMessageBytes)
	}
	return nil
}

// checkToken checks an optional printable-ASCII field without spaces.
func checkToken(what, s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalidMessage, what, len(s), limit)
	}
	if s != strings.TrimSpace(s) {
		return fmt.Errorf("%w: %s %q has leading or trailing space", ErrInvalidMessage, what, s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			if what == "content type" && c == ' ' {
				continue // "text/plain; charset=utf-8"
			}
			return fmt.Errorf("%w: %s %q has invalid byte %q", ErrInvalidMessage, what, s, c)
		}
	}
	return nil
}
