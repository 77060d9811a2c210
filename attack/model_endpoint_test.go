package attack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/openai"
)

// headerLog records the Authorization headers a server saw.
type headerLog struct {
	mu   sync.Mutex
	seen []string
}

func (h *headerLog) add(r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, r.Header.Get("Authorization")+"|"+r.Header.Get("api-key"))
}

func (h *headerLog) all() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.seen, "\n")
}

func ask(m agentos.Model) (agentos.Completion, error) {
	return m.Generate(context.Background(), agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleUser, Content: "hi"}}})
}

// Threat: a model endpoint (or whoever controls its DNS or a proxy in front
// of it) redirects the request to a host of its choosing to harvest the API
// key. The key never reaches another origin.
func TestModelEndpointRedirectDoesNotLeakKey(t *testing.T) {
	var thief headerLog
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		thief.add(r)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","created":1,"model":"m",
			"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],
			"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	defer evil.Close()
	for _, tc := range []struct {
		code   int
		client *http.Client // nil: the adapter's own
	}{
		{http.StatusMovedPermanently, nil}, {http.StatusFound, nil},
		{http.StatusTemporaryRedirect, nil}, {http.StatusPermanentRedirect, nil},
		{http.StatusTemporaryRedirect, &http.Client{}}, {http.StatusFound, &http.Client{}},
	} {
		code := tc.code
		t.Run(fmt.Sprint(code, tc.client != nil), func(t *testing.T) {
			endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, evil.URL+r.URL.Path, code)
			}))
			defer endpoint.Close()
			m, err := openai.New(openai.Config{
				BaseURL: endpoint.URL + "/v1", Model: "m", APIKey: "sk-secret-key", MaxRetries: -1,
				Headers: map[string]string{"api-key": "azure-secret-key"}, HTTPClient: tc.client,
			})
			require.NoError(t, err)
			_, _ = ask(m) // refused or not, the key must stay home
			assert.NotContains(t, thief.all(), "secret-key")
		})
	}
}

// Threat: an endpoint that dies (or is made to die) mid-answer, so that a
// half answer — "delete nothing" cut to "delete" — is acted on as if whole.
// A cut stream is an error, never a Completion.
func TestModelEndpointCutStreamIsNeverAnAnswer(t *testing.T) {
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"delete"},"finish_reason":null}]}`+"\n\n")
		w.(http.Flusher).Flush()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = conn.Close()
		}
	}))
	defer endpoint.Close()
	m, err := openai.New(openai.Config{BaseURL: endpoint.URL + "/v1", Model: "m"})
	require.NoError(t, err)
	var s agentos.Streamer = m
	c, err := s.Stream(context.Background(), agentos.Prompt{}, func(agentos.Delta) error { return nil })
	require.Error(t, err)
	assert.Empty(t, c.Text)
}

// Threat: an endpoint that never stops talking, to exhaust the agent's
// memory. The answer is bounded.
func TestModelEndpointEndlessStreamIsBounded(t *testing.T) {
	piece := strings.Repeat("A", 60<<10)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for r.Context().Err() == nil {
			_, err := fmt.Fprintf(w, `data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}]}`+"\n\n", piece)
			if err != nil {
				return
			}
		}
	}))
	defer endpoint.Close()
	m, err := openai.New(openai.Config{BaseURL: endpoint.URL + "/v1", Model: "m"})
	require.NoError(t, err)
	got := 0
	_, err = m.Stream(context.Background(), agentos.Prompt{}, func(d agentos.Delta) error { got += len(d.Text); return nil })
	require.Error(t, err)
	assert.LessOrEqual(t, got, openai.MaxAnswerBytes+len(piece))
}

// Threat: a credential in the process environment (OPENAI_API_KEY, set for
// some other tool) is sent to an endpoint the operator configured without
// one — a local or third-party server that should never see it.
func TestModelEndpointNeverSeesEnvironmentKey(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-env-secret-key")
	t.Setenv("OPENAI_CUSTOM_HEADERS", "api-key: env-secret-key")
	var seen headerLog
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.add(r)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object":"list","model":"e","data":[{"object":"embedding","index":0,"embedding":[1]}],"usage":{"prompt_tokens":1,"total_tokens":1}}`)
	}))
	defer endpoint.Close()
	m, err := openai.New(openai.Config{BaseURL: endpoint.URL + "/v1", EmbeddingModel: "e"})
	require.NoError(t, err)
	_, err = m.Embed(context.Background(), "x")
	require.NoError(t, err)
	assert.NotEmpty(t, seen.all())
	assert.NotContains(t, seen.all(), "secret-key")
}
