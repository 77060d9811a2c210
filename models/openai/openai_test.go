package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/openai"
)

// server is an OpenAI-compatible endpoint for tests: it records each request
// and answers with handle.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	at     time.Time
	path   string
	header http.Header
	body   map[string]any
}

func newServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		s.mu.Lock()
		s.requests = append(s.requests, recorded{at: time.Now(), path: r.URL.Path, header: r.Header.Clone(), body: body})
		n := len(s.requests)
		s.mu.Unlock()
		handle(w, r, n)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) reqs() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.requests...)
}

func (s *server) client(t *testing.T, mod func(*openai.Config)) *openai.Client {
	t.Helper()
	cfg := openai.Config{
		BaseURL:        s.URL + "/v1",
		APIKey:         "sk-test",
		Model:          "gpt-test",
		EmbeddingModel: "embed-test",
		MaxRetryDelay:  20 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := openai.New(cfg)
	require.NoError(t, err)
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

const chatOK = `{
  "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-test-0613",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris.", "refusal": null},
               "logprobs": null, "finish_reason": "stop"}],
  "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
}`

const chatToolCalls = `{
  "id": "chatcmpl-2", "object": "chat.completion", "created": 1700000000, "model": "gpt-test",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
     "tool_calls": [
       {"id": "call_a", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"/etc/hosts\"}"}},
       {"id": "call_b", "type": "function", "function": {"name": "now", "arguments": ""}}
     ]}, "finish_reason": "tool_calls"}],
  "usage": {"prompt_tokens": 40, "completion_tokens": 20, "total_tokens": 60}
}`

const errBody = `{"error": {"message": "%s", "type": "%s", "param": null, "code": null}}`

func prompt(q string) agentos.Prompt {
	return agentos.Prompt{Messages: []agentos.Message{
		{Role: agentos.RoleSystem, Content: "Answer briefly."},
		{Role: agentos.RoleUser, Content: q},
	}}
}

func TestGenerate(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, chatOK) })
	c := s.client(t, func(c *openai.Config) { c.Headers = map[string]string{"api-key": "azure-key"} })

	p := prompt("Capital of France?")
	p.MaxTokens = 50
	p.Stop = []string{"\n\n"}
	got, err := c.Generate(context.Background(), p)
	require.NoError(t, err)
	assert.Equal(t, agentos.Completion{
		Text: "Paris.", Model: "gpt-test-0613", FinishReason: "stop",
		Usage: agentos.Usage{PromptTokens: 12, CompletionTokens: 3},
	}, got)

	reqs := s.reqs()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, "/v1/chat/completions", r.path)
	assert.Equal(t, "Bearer sk-test", r.header.Get("Authorization"))
	assert.Equal(t, "azure-key", r.header.Get("api-key"))
	assert.Equal(t, "gpt-test", r.body["model"])
	assert.Equal(t, float64(0), r.body["temperature"], "temperature 0 is sent, not left to the server's default")
	assert.Equal(t, float64(50), r.body["max_tokens"])
	assert.Equal(t, []any{"\n\n"}, r.body["stop"])
	assert.Equal(t, []any{
		map[string]any{"role": "system", "content": "Answer briefly."},
		map[string]any{"role": "user", "content": "Capital of France?"},
	}, r.body["messages"])
	assert.Equal(t, agentos.Usage{PromptTokens: 12, CompletionTokens: 3}, c.Usage())
}

func TestGenerateToolCalls(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, chatToolCalls) })
	c := s.client(t, nil)
	p := agentos.Prompt{
		Messages: []agentos.Message{
			{Role: agentos.RoleUser, Content: "What is in /etc/hosts?"},
			{Role: agentos.RoleAssistant, ToolCalls: []agentos.ToolCall{{ID: "call_0", Name: "ls", Arguments: json.RawMessage(`{"dir":"/etc"}`)}}},
			{Role: agentos.RoleTool, ToolCallID: "call_0", Content: "hosts\npasswd"},
		},
		Tools: []agentos.ToolSpec{{
			Name: "read_file", Description: "Read a file",
			Parameters: json.RawMessage(`{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}`),
		}},
	}
	got, err := c.Generate(context.Background(), p)
	require.NoError(t, err)
	assert.Equal(t, "tool_calls", got.FinishReason)
	assert.Equal(t, []agentos.ToolCall{
		{ID: "call_a", Name: "read_file", Arguments: json.RawMessage(`{"path":"/etc/hosts"}`)},
		{ID: "call_b", Name: "now", Arguments: json.RawMessage(`{}`)},
	}, got.ToolCalls)

	body := s.reqs()[0].body
	assert.Equal(t, []any{map[string]any{"type": "function", "function": map[string]any{
		"name": "read_file", "description": "Read a file",
		"parameters": map[string]any{"type": "object", "properties": map[string]any{"path": map[string]any{"type": "string"}}, "required": []any{"path"}},
	}}}, body["tools"])
	msgs := body["messages"].([]any)
	require.Len(t, msgs, 3)
	assert.Equal(t, map[string]any{"role": "assistant", "tool_calls": []any{map[string]any{
		"id": "call_0", "type": "function", "function": map[string]any{"name": "ls", "arguments": `{"dir":"/etc"}`},
	}}}, msgs[1])
	assert.Equal(t, map[string]any{"role": "tool", "tool_call_id": "call_0", "content": "hosts\npasswd"}, msgs[2])
}

func TestPromptErrors(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, chatOK) })
	c := s.client(t, nil)
	for name, p := range map[string]agentos.Prompt{
		"tool message without id": {Messages: []agentos.Message{{Role: agentos.RoleTool, Content: "x"}}},
		"unknown role":            {Messages: []agentos.Message{{Role: "root", Content: "x"}}},
		"parameters not object":   {Tools: []agentos.ToolSpec{{Name: "t", Parameters: json.RawMessage(`[1]`)}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Generate(context.Background(), p)
			require.Error(t, err)
		})
	}
	assert.Empty(t, s.reqs(), "a bad prompt is refused before any request")
}

func sse(w http.ResponseWriter, chunks ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	for _, c := range chunks {
		_, _ = fmt.Fprintf(w, "data: %s\n\n", c)
		w.(http.Flusher).Flush()
	}
}

func chunk(delta, finish string) string {
	f := "null"
	if finish != "" {
		f = `"` + finish + `"`
	}
	return `{"id":"chatcmpl-3","object":"chat.completion.chunk","created":1700000000,"model":"gpt-test",` +
		`"choices":[{"index":0,"delta":` + delta + `,"logprobs":null,"finish_reason":` + f + `}]}`
}

const usageChunk = `{"id":"chatcmpl-3","object":"chat.completion.chunk","created":1700000000,"model":"gpt-test","choices":[],` +
	`"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}`

func TestStream(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		sse(w,
			chunk(`{"role":"assistant","content":""}`, ""),
			chunk(`{"content":"Hel"}`, ""),
			chunk(`{"content":"lo, "}`, ""),
			chunk(`{"content":"world."}`, ""),
			chunk(`{}`, "stop"),
			usageChunk,
			"[DONE]")
	})
	c := s.client(t, nil)
	var deltas []string
	got, err := c.Stream(context.Background(), prompt("hi"), func(d agentos.Delta) error {
		deltas = append(deltas, d.Text)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"Hel", "lo, ", "world."}, deltas)
	assert.Equal(t, agentos.Completion{
		Text: "Hello, world.", Model: "gpt-test", FinishReason: "stop",
		Usage: agentos.Usage{PromptTokens: 9, CompletionTokens: 4},
	}, got)
	body := s.reqs()[0].body
	assert.Equal(t, true, body["stream"])
	assert.Equal(t, map[string]any{"include_usage": true}, body["stream_options"])
	assert.Equal(t, agentos.Usage{PromptTokens: 9, CompletionTokens: 4}, c.Usage())
}

func TestStreamToolCalls(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		sse(w,
			chunk(`{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"read_file","arguments":""}}]}`, ""),
			chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"{\"pa"}}]}`, ""),
			chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"th\":\"/tmp\"}"}}]}`, ""),
			chunk(`{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"now","arguments":"{}"}}]}`, ""),
			chunk(`{}`, "tool_calls"),
			"[DONE]")
	})
	c := s.client(t, nil)
	got, err := c.Stream(context.Background(), prompt("read"), func(agentos.Delta) error { return nil })
	require.NoError(t, err)
	assert.Equal(t, "tool_calls", got.FinishReason)
	assert.Equal(t, []agentos.ToolCall{
		{ID: "call_a", Name: "read_file", Arguments: json.RawMessage(`{"path":"/tmp"}`)},
		{ID: "call_b", Name: "now", Arguments: json.RawMessage(`{}`)},
	}, got.ToolCalls)
}

// TestStreamCut: a stream that ends before the model finished is an error,
// never a shorter answer presented as complete.
func TestStreamCut(t *testing.T) {
	for name, handle := range map[string]func(w http.ResponseWriter){
		"connection closed mid-way": func(w http.ResponseWriter) {
			sse(w, chunk(`{"content":"The answer is"}`, ""), chunk(`{"content":" not"}`, ""))
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = buf.Flush()
				_ = conn.Close() // no terminating chunk: the client reads an unexpected EOF
			}
		},
		"clean end without finish_reason or [DONE]": func(w http.ResponseWriter) {
			sse(w, chunk(`{"content":"The answer is"}`, ""))
		},
		"[DONE] without finish_reason": func(w http.ResponseWriter) {
			sse(w, chunk(`{"content":"The answer is"}`, ""), "[DONE]")
		},
		"half an event": func(w http.ResponseWriter) {
			sse(w, chunk(`{"content":"The answer is"}`, ""))
			_, _ = io.WriteString(w, `data: {"id":"chatcmpl-3","object":"chat.compl`)
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { handle(w) })
			c := s.client(t, nil)
			var seen strings.Builder
			got, err := c.Stream(context.Background(), prompt("q"), func(d agentos.Delta) error {
				seen.WriteString(d.Text)
				return nil
			})
			require.Error(t, err)
			assert.Equal(t, agentos.Completion{}, got)
			assert.Contains(t, seen.String(), "The answer is", "the deltas before the cut were delivered")
			assert.Len(t, s.reqs(), 1, "a stream that has begun is not replayed")
			assert.Zero(t, c.Calls())
			if name != "half an event" {
				assert.ErrorIs(t, err, openai.ErrTruncated)
			}
		})
	}
}

func TestStreamCallbackErrorStops(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		sse(w, chunk(`{"content":"a"}`, ""), chunk(`{"content":"b"}`, ""), chunk(`{}`, "stop"), "[DONE]")
	})
	c := s.client(t, nil)
	stop := errors.New("enough")
	n := 0
	_, err := c.Stream(context.Background(), prompt("q"), func(agentos.Delta) error { n++; return stop })
	require.ErrorIs(t, err, stop)
	assert.Equal(t, 1, n)
}

func TestStreamErrorEvent(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		sse(w, chunk(`{"content":"a"}`, ""), `{"error":{"message":"overloaded","type":"server_error"}}`)
	})
	c := s.client(t, nil)
	_, err := c.Stream(context.Background(), prompt("q"), func(agentos.Delta) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "overloaded")
}

// TestRetryAfter: a 429 with Retry-After, in seconds or as an HTTP-date, is
// waited out and then retried; the second attempt is not sent earlier.
func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header func() (string, time.Time) // the header value and the earliest retry
	}{
		{"seconds", func() (string, time.Time) { return "1", time.Now().Add(time.Second) }},
		{"HTTP-date", func() (string, time.Time) {
			at := time.Now().Add(1500 * time.Millisecond).UTC().Truncate(time.Second)
			return at.Format(http.TimeFormat), at
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var earliest time.Time
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					var v string
					v, earliest = tc.header()
					w.Header().Set("Retry-After", v)
					writeJSON(w, 429, fmt.Sprintf(errBody, "Rate limit reached", "requests"))
					return
				}
				writeJSON(w, 200, chatOK)
			})
			c := s.client(t, func(c *openai.Config) { c.MaxRetryDelay = 5 * time.Second })
			got, err := c.Generate(context.Background(), prompt("q"))
			require.NoError(t, err)
			assert.Equal(t, "Paris.", got.Text)
			reqs := s.reqs()
			require.Len(t, reqs, 2)
			assert.False(t, reqs[1].at.Before(earliest), "retried at %v, before %v", reqs[1].at, earliest)
		})
	}
}

func TestRetryAfterLongerThanMaxDelayStops(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, 429, fmt.Sprintf(errBody, "Rate limit reached", "requests"))
	})
	c := s.client(t, func(c *openai.Config) { c.MaxRetryDelay = time.Second })
	_, err := c.Generate(context.Background(), prompt("q"))
	require.Error(t, err)
	assert.Equal(t, 429, openai.StatusCode(err))
	assert.Len(t, s.reqs(), 1)
}

func TestRetryBounded(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		maxRetries int
		attempts   int
	}{
		{"500 exhausts the default retries", 500, 0, 1 + openai.DefaultMaxRetries},
		{"503 exhausts 4 retries", 503, 4, 5},
		{"429 without Retry-After backs off", 429, 1, 2},
		{"negative MaxRetries: one attempt", 500, -1, 1},
		{"400 is not retried", 400, 3, 1},
		{"401 is not retried", 401, 3, 1},
		{"404 is not retried", 404, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				writeJSON(w, tc.status, fmt.Sprintf(errBody, "nope", "invalid_request_error"))
			})
			c := s.client(t, func(c *openai.Config) { c.MaxRetries = tc.maxRetries })
			_, err := c.Generate(context.Background(), prompt("q"))
			require.Error(t, err)
			assert.Equal(t, tc.status, openai.StatusCode(err))
			assert.Contains(t, err.Error(), "nope", "the server's message is in the error")
			var apiErr *openai.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, "invalid_request_error", apiErr.Type)
			assert.Len(t, s.reqs(), tc.attempts)
			assert.Equal(t, agentos.Usage{}, c.Usage())
		})
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Retry-After", "60")
		writeJSON(w, 429, fmt.Sprintf(errBody, "slow down", "requests"))
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	})
	c := s.client(t, func(c *openai.Config) { c.MaxRetryDelay = 2 * time.Minute })
	start := time.Now()
	_, err := c.Generate(ctx, prompt("q"))
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 30*time.Second, "the 60 s wait ended with ctx")
	assert.Len(t, s.reqs(), 1)
}

func TestPerAttemptTimeout(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	c := s.client(t, func(c *openai.Config) { c.Timeout = 100 * time.Millisecond })
	start := time.Now()
	_, err := c.Generate(context.Background(), prompt("q"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 4*time.Second)
	assert.Len(t, s.reqs(), 1, "the SDK does not retry an attempt that timed out")
}

func embeddingsBody(vecs ...string) string {
	var data []string
	for i := len(vecs) - 1; i >= 0; i-- { // out of order on purpose: the index field decides
		data = append(data, fmt.Sprintf(`{"object":"embedding","index":%d,"embedding":%s}`, i, vecs[i]))
	}
	return `{"object":"list","model":"embed-test","data":[` + strings.Join(data, ",") +
		`],"usage":{"prompt_tokens":7,"total_tokens":7}}`
}

func TestEmbed(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, 200, embeddingsBody(`[0.5,-0.25,1]`, `[0,1,0]`))
	})
	c := s.client(t, func(c *openai.Config) { c.Dimensions = 3; c.SendDimensions = true })
	got, err := c.EmbedBatch(context.Background(), []string{"car", "banana"})
	require.NoError(t, err)
	assert.Equal(t, [][]float32{{0.5, -0.25, 1}, {0, 1, 0}}, got)

	r := s.reqs()[0]
	assert.Equal(t, "/v1/embeddings", r.path)
	assert.Equal(t, "embed-test", r.body["model"])
	assert.Equal(t, []any{"car", "banana"}, r.body["input"])
	assert.Equal(t, "float", r.body["encoding_format"])
	assert.Equal(t, float64(3), r.body["dimensions"])
	assert.Equal(t, agentos.Usage{PromptTokens: 7}, c.Usage())
}

func TestEmbedAsEmbedder(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, embeddingsBody(`[1,2]`)) })
	var e agentos.Embedder = s.client(t, nil).Embed
	v, err := e(context.Background(), "x")
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 2}, v)
}

func TestEmbedBadResponses(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want error
	}{
		{"wrong dimension", embeddingsBody(`[1,2]`, `[1,2,3]`), openai.ErrDimension},
		{"fewer vectors than texts", embeddingsBody(`[1,2,3]`), openai.ErrBadResponse},
		{"duplicate index", `{"object":"list","model":"m","data":[{"index":0,"embedding":[1,2,3]},{"index":0,"embedding":[1,2,3]}],"usage":{"prompt_tokens":1,"total_tokens":1}}`, openai.ErrBadResponse},
		{"index out of range", `{"object":"list","model":"m","data":[{"index":0,"embedding":[1,2,3]},{"index":7,"embedding":[1,2,3]}],"usage":{"prompt_tokens":1,"total_tokens":1}}`, openai.ErrBadResponse},
		{"empty vector", embeddingsBody(`[]`, `[1,2,3]`), openai.ErrBadResponse},
		{"zero vector", embeddingsBody(`[1,2,3]`, `[0,0,0]`), openai.ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, tc.body) })
			c := s.client(t, func(c *openai.Config) { c.Dimensions = 3 })
			got, err := c.EmbedBatch(context.Background(), []string{"a", "b"})
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, got)
		})
	}
}

func TestNoModel(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, chatOK) })
	chatOnly := s.client(t, func(c *openai.Config) { c.EmbeddingModel = "" })
	_, err := chatOnly.Embed(context.Background(), "x")
	require.ErrorIs(t, err, openai.ErrNoModel)
	embedOnly := s.client(t, func(c *openai.Config) { c.Model = "" })
	_, err = embedOnly.Generate(context.Background(), prompt("q"))
	require.ErrorIs(t, err, openai.ErrNoModel)
	_, err = embedOnly.Stream(context.Background(), prompt("q"), func(agentos.Delta) error { return nil })
	require.ErrorIs(t, err, openai.ErrNoModel)
	assert.Empty(t, s.reqs())
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  openai.Config
		want error
	}{
		{"no model", openai.Config{BaseURL: "http://localhost:1/v1"}, openai.ErrNoModel},
		{"relative URL", openai.Config{BaseURL: "localhost:8080/v1", Model: "m"}, openai.ErrBadURL},
		{"no host", openai.Config{BaseURL: "http:///v1", Model: "m"}, openai.ErrBadURL},
		{"other scheme", openai.Config{BaseURL: "ftp://example.com/v1", Model: "m"}, openai.ErrBadURL},
		{"unparsable", openai.Config{BaseURL: "http://[::1/v1", Model: "m"}, openai.ErrBadURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := openai.New(tc.cfg)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, c)
		})
	}
	_, err := openai.New(openai.Config{Model: "m", Dimensions: -1})
	require.Error(t, err)
}

// TestNoEnvironment: the SDK's own client reads OPENAI_* variables; this
// adapter must not. A key, base URL, organisation or header set in the
// environment never reaches a request.
func TestNoEnvironment(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	t.Setenv("OPENAI_ORG_ID", "org-from-env")
	t.Setenv("OPENAI_PROJECT_ID", "proj-from-env")
	t.Setenv("OPENAI_CUSTOM_HEADERS", "X-Leak: from-env")
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, chatOK) })
	c := s.client(t, func(c *openai.Config) { c.APIKey = "" })
	_, err := c.Generate(context.Background(), prompt("q"))
	require.NoError(t, err, "the request went to Config.BaseURL, not OPENAI_BASE_URL")
	h := s.reqs()[0].header
	assert.Empty(t, h.Get("Authorization"))
	assert.Empty(t, h.Get("OpenAI-Organization"))
	assert.Empty(t, h.Get("OpenAI-Project"))
	assert.Empty(t, h.Get("X-Leak"))
	for k, vs := range h {
		for _, v := range vs {
			assert.NotContains(t, v, "from-env", "header %s", k)
		}
	}
}

func TestUsageConcurrent(t *testing.T) {
	var served atomic.Int64
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		served.Add(1)
		writeJSON(w, 200, chatOK)
	})
	c := s.client(t, nil)
	var wg sync.WaitGroup
	const n = 16
	for range n {
		wg.Go(func() {
			_, err := c.Generate(context.Background(), prompt("q"))
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, agentos.Usage{PromptTokens: 12 * n, CompletionTokens: 3 * n}, c.Usage())
	assert.Equal(t, int64(n), c.Calls())
}

func TestNoChoices(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, 200, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":0,"total_tokens":1}}`)
	})
	_, err := s.client(t, nil).Generate(context.Background(), prompt("q"))
	require.ErrorIs(t, err, openai.ErrBadResponse)
}

func TestEmbedBatchSplits(t *testing.T) {
	var s *server
	s = newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		var vecs []string
		for _, in := range s.reqs()[n-1].body["input"].([]any) { // the vector says which text it embeds
			vecs = append(vecs, fmt.Sprintf("[%d,1]", len(in.(string))))
		}
		writeJSON(w, 200, embeddingsBody(vecs...))
	})
	c := s.client(t, func(c *openai.Config) { c.MaxBatch = 2 })
	got, err := c.EmbedBatch(context.Background(), []string{"a", "bb", "ccc", "dddd", "eeeee"})
	require.NoError(t, err)
	assert.Equal(t, [][]float32{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}}, got)
	reqs := s.reqs()
	require.Len(t, reqs, 3)
	for i, want := range [][]any{{"a", "bb"}, {"ccc", "dddd"}, {"eeeee"}} {
		assert.Equal(t, want, reqs[i].body["input"])
	}
	assert.Equal(t, agentos.Usage{PromptTokens: 21}, c.Usage())
}

func TestStreamContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		sse(w, chunk(`{"content":"a"}`, ""))
		<-r.Context().Done()
	})
	c := s.client(t, nil)
	_, err := c.Stream(ctx, prompt("q"), func(agentos.Delta) error { cancel(); return nil })
	require.ErrorIs(t, err, context.Canceled)
}
