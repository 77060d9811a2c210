package iatp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestManifestHandler(t *testing.T) {
	sm := signed(t, detIdentity(t, 1), baseManifest(epoch))
	want, err := sm.Encode()
	require.NoError(t, err)
	h := ManifestHandler(sm)
	for _, tc := range []struct {
		method, path string
		status       int
		body         []byte
	}{
		{http.MethodGet, WellKnownPath, 200, want},
		{http.MethodHead, WellKnownPath, 200, nil},
		{http.MethodPost, WellKnownPath, 405, nil},
		{http.MethodPut, WellKnownPath, 405, nil},
		{http.MethodGet, "/", 404, nil},
		{http.MethodGet, WellKnownPath + "/x", 404, nil},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		require.Equal(t, tc.status, rec.Code, "%s %s", tc.method, tc.path)
		if tc.status == 200 {
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			require.Equal(t, tc.body, rec.Body.Bytes())
		}
		if tc.status == 405 {
			require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
		}
	}
	rec := httptest.NewRecorder()
	ManifestHandler(SignedManifest{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, WellKnownPath, nil))
	require.Equal(t, 500, rec.Code)
}

func TestFetchManifest(t *testing.T) {
	id := detIdentity(t, 1)
	sm := signed(t, id, baseManifest(epoch))
	good, err := sm.Encode()
	require.NoError(t, err)
	tampered := bytes.Replace(good, []byte(`"trusted"`), []byte(`"verified_partner"`), 1)
	require.NotEqual(t, good, tampered)

	serve := func(ct string, body []byte, status int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != WellKnownPath {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	ctx := context.Background()
	now := epoch.Add(time.Minute)
	c := testClient(t)

	srv := httptest.NewServer(ManifestHandler(sm))
	t.Cleanup(srv.Close)
	got, err := FetchManifest(ctx, c, srv.URL, now)
	require.NoError(t, err)
	require.Equal(t, sm, got)
	got, err = FetchManifest(ctx, c, srv.URL+"/", now)
	require.NoError(t, err)
	require.Equal(t, sm, got)

	// Streaming an oversize body without a Content-Length.
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for range MaxManifestSize/1024 + 2 {
			_, _ = w.Write(bytes.Repeat([]byte(" "), 1024))
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(huge.Close)

	cases := []struct {
		name string
		url  string
		now  time.Time
		want error
	}{
		{"tampered", serve("application/json", tampered, 200).URL, now, ErrBadSignature},
		{"expired", srv.URL, epoch.Add(25 * time.Hour), ErrExpired},
		{"oversize with length", serve("application/json", bytes.Repeat([]byte("a"), MaxManifestSize+1), 200).URL, now, ErrTooLarge},
		{"oversize streamed", huge.URL, now, ErrTooLarge},
		{"pretty printed", serve("application/json", append([]byte(" "), good...), 200).URL, now, ErrMalformed},
		{"content type", serve("text/html", good, 200).URL, now, ErrMalformed},
		{"not a url", "://x", now, ErrMalformed},
		{"other scheme", "file:///etc", now, ErrMalformed},
		{"relative", "/agents", now, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FetchManifest(ctx, c, tc.url, tc.now)
			require.ErrorIs(t, err, tc.want)
		})
	}
	_, err = FetchManifest(ctx, c, serve("application/json", good, 404).URL, now)
	require.ErrorContains(t, err, "404")
	_, err = FetchManifest(ctx, c, serve("application/json; charset=utf-8", good, 200).URL, now)
	require.NoError(t, err, "media type parameters are fine")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = FetchManifest(cctx, c, srv.URL, now)
	require.ErrorIs(t, err, context.Canceled)

	// HEAD carries no body, GET the same bytes.
	res, err := c.Head(srv.URL + WellKnownPath)
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Empty(t, b)
	require.True(t, strings.HasPrefix(string(good), `{"manifest":`))
	require.ErrorIs(t, ErrTooLarge, agentos.ErrInvalid)
}
