package iatp

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

func TestHandshakeHTTP(t *testing.T) {
	w := newWorld(t, 3)
	ha := handshaker(t, w, 0, WithHandshakeClock(w.clk.Now))
	hb := handshaker(t, w, 1, WithHandshakeClock(w.clk.Now))
	srv := httptest.NewServer(HandshakeHandler(hb))
	t.Cleanup(srv.Close)

	p, err := ha.HandshakeHTTP(t.Context(), srv.Client(), srv.URL, hb.ID())
	require.NoError(t, err)
	assert.Equal(t, hb.ID(), p.ID)
	got, ok := ha.Verified(hb.ID())
	require.True(t, ok)
	assert.Equal(t, p.ID, got.ID)

	// The server answers only for its own identity.
	_, err = ha.HandshakeHTTP(t.Context(), srv.Client(), srv.URL, w.ids[2].ID())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "400")

	// A server that answers with another key's response is refused.
	hc := handshaker(t, w, 2, WithHandshakeClock(w.clk.Now))
	liar := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		ch, err := DecodeChallenge(buf.Bytes())
		require.NoError(t, err)
		ch.To = hc.ID() // answer someone else's challenge as hc
		resp, err := hc.Respond(ch)
		require.NoError(t, err)
		enc, _ := resp.Encode()
		rw.Header().Set("Content-Type", MediaTypeResponse)
		_, _ = rw.Write(enc)
	}))
	t.Cleanup(liar.Close)
	_, err = ha.HandshakeHTTP(t.Context(), liar.Client(), liar.URL, hb.ID())
	require.ErrorIs(t, err, agentos.ErrUntrusted)

	// Bad URLs and requests.
	_, err = ha.HandshakeHTTP(t.Context(), nil, "ftp://x", hb.ID())
	require.ErrorIs(t, err, ErrMalformed)
	for name, req := range map[string]*http.Request{
		"get":        httptest.NewRequest(http.MethodGet, HandshakePath, nil),
		"wrong path": httptest.NewRequest(http.MethodPost, "/x", nil),
		"wrong type": withType(httptest.NewRequest(http.MethodPost, HandshakePath, strings.NewReader("x")), "text/plain"),
		"garbage":    withType(httptest.NewRequest(http.MethodPost, HandshakePath, strings.NewReader("xyz")), MediaTypeChallenge),
		"oversize":   withType(httptest.NewRequest(http.MethodPost, HandshakePath, bytes.NewReader(make([]byte, 1<<20))), MediaTypeChallenge),
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			HandshakeHandler(hb).ServeHTTP(rec, req)
			assert.GreaterOrEqual(t, rec.Code, 400)
		})
	}
}

func withType(r *http.Request, ct string) *http.Request {
	r.Header.Set("Content-Type", ct)
	return r
}
