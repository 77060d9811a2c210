package openai_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/openai"
)

// bodyTransport answers every request with status 200, contentType and body,
// without a network.
type bodyTransport struct {
	contentType string
	body        []byte
}

func (b bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {b.contentType}},
		Body:    io.NopCloser(bytes.NewReader(b.body)),
		Request: r,
	}, nil
}

func fuzzClient(t *testing.T, contentType string, body []byte) *openai.Client {
	c, err := openai.New(openai.Config{
		BaseURL: "http://model.invalid/v1", Model: "m", EmbeddingModel: "e", Dimensions: 3, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bodyTransport{contentType, body}},
	})
	require.NoError(t, err)
	return c
}

// FuzzStream: whatever bytes the server streams, Stream does not panic, and
// it succeeds only with an answer the model declared finished, whose text is
// exactly the deltas it delivered.
func FuzzStream(f *testing.F) {
	f.Add([]byte("data: " + chunk(`{"content":"Hi"}`, "") + "\n\ndata: " + chunk(`{}`, "stop") + "\n\ndata: [DONE]\n\n"))
	f.Add([]byte("data: " + chunk(`{"content":"Hi"}`, "") + "\n\n"))
	f.Add([]byte("data: " + chunk(`{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]}`, "tool_calls") + "\n\n"))
	f.Add([]byte("data: " + chunk(`{"tool_calls":[{"index":99999999,"function":{"name":"f"}}]}`, "") + "\n\n"))
	f.Add([]byte("data: {\"error\":{\"message\":\"x\"}}\n\n"))
	f.Add([]byte(": comment\nevent: x\ndata: [DONE]\n\n"))
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		c := fuzzClient(t, "text/event-stream", body)
		var seen strings.Builder
		got, err := c.Stream(context.Background(), agentos.Prompt{}, func(d agentos.Delta) error {
			seen.WriteString(d.Text)
			return nil
		})
		if err != nil {
			require.Equal(t, agentos.Completion{}, got)
			return
		}
		require.NotEmpty(t, got.FinishReason, "success without a finish_reason")
		require.Equal(t, seen.String(), got.Text)
		for _, tc := range got.ToolCalls {
			require.NotEmpty(t, tc.Name)
			require.NotEmpty(t, tc.Arguments)
		}
	})
}

// FuzzEmbed: whatever JSON the server answers, EmbedBatch does not panic,
// and it succeeds only with one vector of the configured length per text.
func FuzzEmbed(f *testing.F) {
	f.Add([]byte(embeddingsBody(`[1,2,3]`, `[4,5,6]`)))
	f.Add([]byte(embeddingsBody(`[1,2]`, `[4,5,6]`)))
	f.Add([]byte(`{"data":[{"index":1,"embedding":[1,2,3]},{"index":1,"embedding":[1,2,3]}]}`))
	f.Add([]byte(`{"data":[{"index":-1,"embedding":[1,2,3]},{"index":0,"embedding":"AACAPwAAAEAAAEBA"}]}`))
	f.Add([]byte(`{"data":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c := fuzzClient(t, "application/json", body)
		got, err := c.EmbedBatch(context.Background(), []string{"a", "b"})
		if err != nil {
			require.Nil(t, got)
			return
		}
		require.Len(t, got, 2)
		for _, v := range got {
			require.Len(t, v, 3)
		}
	})
}

// FuzzGenerate: whatever JSON the server answers, Generate does not panic,
// and every tool call it returns has a name and arguments.
func FuzzGenerate(f *testing.F) {
	f.Add([]byte(chatOK))
	f.Add([]byte(chatToolCalls))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"choices":[]}`))
	f.Add([]byte(`{"choices":[{"message":{"tool_calls":[{"id":"x","function":{}}]}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c := fuzzClient(t, "application/json", body)
		got, err := c.Generate(context.Background(), agentos.Prompt{})
		if err != nil {
			require.Equal(t, agentos.Completion{}, got)
			return
		}
		for _, tc := range got.ToolCalls {
			require.NotEmpty(t, tc.Name)
			require.NotEmpty(t, tc.Arguments)
		}
	})
}
