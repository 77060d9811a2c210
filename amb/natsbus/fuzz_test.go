package natsbus

import (
	"bytes"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/amb"
)

// FuzzDecode feeds arbitrary NATS header blocks, payloads and subjects
// through the frame parser and Decode: no panics, and whatever decodes
// re-encodes to a frame that decodes to the same message.
func FuzzDecode(f *testing.F) {
	good := encode(amb.Message{
		ID: "id-1", ContentType: "application/json", Priority: amb.PriorityHigh,
		Time: time.Unix(1700000000, 5), Expires: time.Unix(1700003600, 0),
		Headers: map[string]string{"Trace-Id": "t-1", "Sender": "agent-a"},
	})
	hdr, err := headerBytes(good.Header)
	require.NoError(f, err)
	f.Add(hdr, []byte(`{"x":1}`), "amb.m.orders.new")
	f.Add([]byte("NATS/1.0\r\nAmb-Priority: 300\r\n\r\n"), []byte{}, "amb.m.a")
	f.Add([]byte("NATS/1.0\r\nAmb-Time: x\r\n\r\n"), []byte("p"), "amb.d.a.b")
	f.Add([]byte("NATS/1.0\r\nX: a\r\nX: b\r\n\r\n"), []byte("p"), "amb.r.a")
	f.Add([]byte("NATS/1.0 503\r\n\r\n"), []byte(nil), "amb.m.a")
	f.Add([]byte("NATS/1.0\r\nAmb-Dead-Cause: panic\r\nNats-Msg-Id: 1\r\n\r\n"), []byte("p"), "amb.d.x")
	f.Add([]byte("garbage"), []byte("p"), "amb.x.y")
	f.Add([]byte("NATS/1.0\r\nA: \xff\r\n\r\n"), []byte("p"), "amb.m._dlq")
	var l amb.Limits
	f.Fuzz(func(t *testing.T, hdr, data []byte, subj string) {
		topic, ok := topicOf("amb", subj)
		if !ok {
			return
		}
		h, err := nats.DecodeHeadersMsg(hdr)
		if err != nil {
			return
		}
		m, err := Decode(topic, h, data, l)
		if err != nil {
			return
		}
		// Round trip.
		out := encode(m)
		hb, err := headerBytes(out.Header)
		if err != nil {
			t.Fatalf("re-encode headers: %v", err)
		}
		h2, err := nats.DecodeHeadersMsg(hb)
		if err != nil {
			t.Fatalf("re-decode frame %q: %v", hb, err)
		}
		m2, err := Decode(topic, h2, out.Data, l)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		require.Equal(t, m.ID, m2.ID)
		require.Equal(t, m.ContentType, m2.ContentType)
		require.Equal(t, m.Priority, m2.Priority)
		require.True(t, m.Time.Equal(m2.Time) && m.Expires.Equal(m2.Expires))
		require.Equal(t, m.Headers, m2.Headers)
		require.True(t, bytes.Equal(m.Payload, m2.Payload))
		if back, ok := topicOf("amb", subject("amb", topic)); !ok || back != topic {
			t.Fatalf("subject mapping of %q does not round-trip: %q", topic, back)
		}
	})
}

// headerBytes renders a header block the way the client does on the wire.
func headerBytes(h nats.Header) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("NATS/1.0\r\n")
	for k, vs := range h {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}
