package iatp

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// WellKnownPath is where an agent serves its signed manifest.
const WellKnownPath = "/.well-known/agent-manifest"

// ManifestHandler serves m's canonical encoding at WellKnownPath to GET
// and HEAD (405 with an Allow header for other methods, 404 for other
// paths), as application/json. The encoding is computed once; a manifest
// that cannot be encoded is served as 500 on every request, so the
// mistake shows instead of a silent empty document.
func ManifestHandler(m SignedManifest) http.Handler {
	body, err := m.Encode()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != WellKnownPath {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if err != nil {
			http.Error(w, "manifest cannot be encoded", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	})
}

// endpoint returns the URL of path under an agent's baseURL, which must be
// an absolute http(s) URL; its query and fragment are dropped. what names
// the endpoint in the error (wrapping ErrMalformed).
func endpoint(baseURL, path, what string) (*url.URL, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %s base URL %q: want an absolute http(s) URL", ErrMalformed, what, baseURL)
	}
	u = u.JoinPath(path)
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// FetchManifest GETs baseURL + WellKnownPath with c (http.DefaultClient
// when nil), decodes the answer strictly and verifies it at now. baseURL
// must be an absolute http or https URL (ErrMalformed). A status other
// than 200 or a content type other than application/json is an error; a
// body over MaxManifestSize gives ErrTooLarge; then the errors of
// DecodeManifest and SignedManifest.Verify. The fetch is bounded by ctx.
//
// A verified manifest proves who signed it, not that its trust level is
// deserved: the caller decides whether to register it.
func FetchManifest(ctx context.Context, c *http.Client, baseURL string, now time.Time) (SignedManifest, error) {
	if c == nil {
		c = http.DefaultClient
	}
	u, err := endpoint(baseURL, WellKnownPath, "manifest")
	if err != nil {
		return SignedManifest{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return SignedManifest{}, fmt.Errorf("iatp: fetch manifest: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return SignedManifest{}, fmt.Errorf("iatp: fetch manifest: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return SignedManifest{}, fmt.Errorf("iatp: fetch manifest %s: status %s", u, res.Status)
	}
	if mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return SignedManifest{}, fmt.Errorf("%w: manifest %s served as %q, want application/json", ErrMalformed, u, res.Header.Get("Content-Type"))
	}
	if res.ContentLength > MaxManifestSize {
		return SignedManifest{}, fmt.Errorf("%w: manifest %s of %d bytes, limit %d", ErrTooLarge, u, res.ContentLength, MaxManifestSize)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxManifestSize+1))
	if err != nil {
		return SignedManifest{}, fmt.Errorf("iatp: fetch manifest %s: %w", u, err)
	}
	if len(body) > MaxManifestSize {
		return SignedManifest{}, fmt.Errorf("%w: manifest %s over %d bytes", ErrTooLarge, u, MaxManifestSize)
	}
	sm, err := DecodeManifest(body)
	if err != nil {
		return SignedManifest{}, fmt.Errorf("iatp: fetch manifest %s: %w", u, err)
	}
	if err := sm.Verify(now); err != nil {
		return SignedManifest{}, fmt.Errorf("iatp: fetch manifest %s: %w", u, err)
	}
	return sm, nil
}
