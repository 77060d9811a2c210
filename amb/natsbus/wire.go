package natsbus

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agent-os/agentos/amb"
)

// Wire headers. A message travels as one NATS message: the payload is the
// NATS payload, user headers are NATS headers with the same names, and the
// remaining fields are these headers. Nats-Msg-Id carries the id as well,
// so that JetStream drops a duplicate publish (a retry after a reconnect).
const (
	hdrID          = "Amb-Id"
	hdrContentType = "Amb-Content-Type"
	hdrPriority    = "Amb-Priority"
	hdrTime        = "Amb-Time"    // Unix nanoseconds
	hdrExpires     = "Amb-Expires" // Unix nanoseconds
	hdrError       = "Amb-Error"   // on a reply: the responder failed with this text
)

// Subject namespaces under the prefix: published messages, dead letters,
// and requests (core NATS, not stored).
const (
	nsMsg  = "m"
	nsDead = "d"
	nsReq  = "r"
)

// subject maps a topic or pattern to its NATS subject. Topics in the
// dead-letter namespace ("_dlq.x") go to prefix.d.x, others to prefix.m.x.
func subject(prefix, topic string) string {
	if rest, ok := strings.CutPrefix(topic, "_dlq."); ok {
		return prefix + "." + nsDead + "." + rest
	}
	return prefix + "." + nsMsg + "." + topic
}

func requestSubject(prefix, topic string) string { return prefix + "." + nsReq + "." + topic }

// topicOf maps a stored or request subject back to its topic.
func topicOf(prefix, subj string) (string, bool) {
	rest, ok := strings.CutPrefix(subj, prefix+".")
	if !ok {
		return "", false
	}
	ns, topic, ok := strings.Cut(rest, ".")
	if !ok || topic == "" {
		return "", false
	}
	switch ns {
	case nsMsg, nsReq:
		return topic, true
	case nsDead:
		return amb.DeadLetterTopic(topic), true
	}
	return "", false
}

// encode builds the NATS message for m (Subject left empty).
func encode(m amb.Message) *nats.Msg {
	h := make(nats.Header, len(m.Headers)+6)
	for k, v := range m.Headers {
		h[k] = []string{v}
	}
	if m.ID != "" {
		h[hdrID] = []string{m.ID}
	}
	if m.ContentType != "" {
		h[hdrContentType] = []string{m.ContentType}
	}
	if m.Priority != amb.PriorityNormal {
		h[hdrPriority] = []string{strconv.Itoa(int(m.Priority))}
	}
	if !m.Time.IsZero() {
		h[hdrTime] = []string{strconv.FormatInt(m.Time.UnixNano(), 10)}
	}
	if !m.Expires.IsZero() {
		h[hdrExpires] = []string{strconv.FormatInt(m.Expires.UnixNano(), 10)}
	}
	return &nats.Msg{Header: h, Data: m.Payload}
}

// Decode turns a NATS message body (its headers and payload) received on
// topic back into a Message and validates it with
// [amb.Limits.ValidateDelivered]. Headers in the Nats- namespace (the
// broker's own) are dropped; a header with several values, an unparsable
// priority or time, or anything the limits refuse is an error wrapping
// agentos.ErrInvalid. It never panics on any input.
func Decode(topic string, h nats.Header, data []byte, l amb.Limits) (amb.Message, error) {
	m := amb.Message{Topic: topic}
	if len(data) > 0 {
		m.Payload = append([]byte(nil), data...)
	}
	l = l.WithDefaults()
	if len(h) > l.MaxHeaders+32 {
		return amb.Message{}, fmt.Errorf("%w: %d headers", amb.ErrInvalidHeader, len(h))
	}
	for k, vs := range h {
		if len(vs) != 1 {
			return amb.Message{}, fmt.Errorf("%w: header %q has %d values", amb.ErrInvalidHeader, k, len(vs))
		}
		v := vs[0]
		switch {
		case k == hdrID:
			m.ID = v
		case k == hdrContentType:
			m.ContentType = v
		case k == hdrPriority:
			p, err := strconv.ParseInt(v, 10, 8)
			if err != nil {
				return amb.Message{}, fmt.Errorf("%w: priority %q", amb.ErrInvalidMessage, v)
			}
			m.Priority = amb.Priority(p)
		case k == hdrTime, k == hdrExpires:
			ns, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return amb.Message{}, fmt.Errorf("%w: %s %q", amb.ErrInvalidMessage, k, v)
			}
			if k == hdrTime {
				m.Time = time.Unix(0, ns)
			} else {
				m.Expires = time.Unix(0, ns)
			}
		case k == hdrError:
			// reply status, read by Request
		case len(k) >= 5 && strings.EqualFold(k[:5], "Nats-"):
			// the broker's own
		default:
			if m.Headers == nil {
				m.Headers = make(map[string]string, len(h))
			}
			m.Headers[k] = v
		}
	}
	if err := l.ValidateDelivered(m); err != nil {
		return amb.Message{}, err
	}
	return m, nil
}
