package iatp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// HandshakePath is where HandshakeHandler answers challenges.
const HandshakePath = "/.well-known/agent-handshake"

// Media types of the handshake messages over HTTP: their binary encodings.
const (
	MediaTypeChallenge = "application/vnd.agentos.iatp-challenge"
	MediaTypeResponse  = "application/vnd.agentos.iatp-response"
)

// HandshakeHandler answers handshake challenges over HTTP for h's
// identity: a POST to HandshakePath whose body is an encoded Challenge
// (MediaTypeChallenge, at most the size of one) gets the encoded Response
// (MediaTypeResponse). A challenge that does not decode, or that
// Handshaker.Respond refuses (addressed to another id, expired, from a
// revoked peer), is answered 400 with the reason; other methods 405, other
// paths 404.
func HandshakeHandler(h *Handshaker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != HandshakePath {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != MediaTypeChallenge {
			http.Error(w, "want "+MediaTypeChallenge, http.StatusUnsupportedMediaType)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, int64(challengeSize)+1))
		if err != nil {
			http.Error(w, "reading the challenge", http.StatusBadRequest)
			return
		}
		ch, err := DecodeChallenge(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := h.Respond(ch)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		enc, err := resp.Encode()
		if err != nil {
			http.Error(w, "encoding the response", http.StatusInternalServerError)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", MediaTypeResponse)
		hd.Set("Content-Length", strconv.Itoa(len(enc)))
		hd.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(enc)
	})
}

// HandshakeHTTP challenges peer (an id h's Registry holds) at baseURL +
// HandshakePath with c (http.DefaultClient when nil) and verifies its
// answer with h.Verify: the peer as the Registry knows it, or why not. The
// exchange is bounded by ctx; a status other than 200, another media type
// or an oversized body is an error, and so is every refusal of Verify.
func (h *Handshaker) HandshakeHTTP(ctx context.Context, c *http.Client, baseURL, peer string) (Peer, error) {
	if c == nil {
		c = http.DefaultClient
	}
	u, err := endpoint(baseURL, HandshakePath, "handshake")
	if err != nil {
		return Peer{}, err
	}
	ch, err := h.NewChallenge(peer)
	if err != nil {
		return Peer{}, err
	}
	enc, err := ch.Encode()
	if err != nil {
		return Peer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(enc))
	if err != nil {
		return Peer{}, fmt.Errorf("iatp: handshake: %w", err)
	}
	req.Header.Set("Content-Type", MediaTypeChallenge)
	req.Header.Set("Accept", MediaTypeResponse)
	res, err := c.Do(req)
	if err != nil {
		return Peer{}, fmt.Errorf("iatp: handshake: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, int64(responseSize)+1))
	if err != nil {
		return Peer{}, fmt.Errorf("iatp: handshake %s: %w", u, err)
	}
	if res.StatusCode != http.StatusOK {
		return Peer{}, fmt.Errorf("iatp: handshake %s: status %s: %s", u, res.Status, bytes.TrimSpace(body[:min(len(body), 256)]))
	}
	if mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type")); err != nil || mt != MediaTypeResponse {
		return Peer{}, fmt.Errorf("%w: handshake answer served as %q, want %s", ErrMalformed, res.Header.Get("Content-Type"), MediaTypeResponse)
	}
	if len(body) > responseSize {
		return Peer{}, fmt.Errorf("%w: handshake answer over %d bytes", ErrTooLarge, responseSize)
	}
	resp, err := DecodeResponse(body)
	if err != nil {
		return Peer{}, fmt.Errorf("iatp: handshake %s: %w", u, err)
	}
	return h.Verify(resp)
}
