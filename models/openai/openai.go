package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"
)

// DefaultBaseURL is the endpoint used when Config.BaseURL is empty.
const DefaultBaseURL = "https://api.openai.com/v1/"

// DefaultMaxRetries is the number of retries after the first attempt when
// Config.MaxRetries is zero.
const DefaultMaxRetries = 2

// DefaultMaxBatch is the most texts sent in one embeddings request when
// Config.MaxBatch is zero (OpenAI's own limit is 2048 inputs).
const DefaultMaxBatch = 512

// DefaultMaxRetryDelay bounds one wait between attempts when
// Config.MaxRetryDelay is zero.
const DefaultMaxRetryDelay = 30 * time.Second

var (
	// ErrNoModel is returned by New when Config.Model and
	// Config.EmbeddingModel are both empty, and by Generate, Stream or Embed
	// when the model they need is not configured.
	ErrNoModel = errors.New("openai: no model configured")
	// ErrBadURL is returned by New when Config.BaseURL is not an absolute
	// http or https URL.
	ErrBadURL = errors.New("openai: bad base URL")
	// ErrTruncated is returned by Stream when the stream ended before the
	// model finished its answer (connection cut, server crash): the partial
	// text is never returned as a success.
	ErrTruncated = errors.New("openai: stream ended before the answer was finished")
	// ErrDimension is returned by Embed and EmbedBatch when a vector's length
	// differs from Config.Dimensions.
	ErrDimension = errors.New("openai: embedding has the wrong dimension")
	// ErrBadResponse is returned when the server's answer is well-formed
	// JSON but not a usable answer (no choices, missing embeddings).
	ErrBadResponse = errors.New("openai: unusable response")
)

// Config configures a Client. Nothing is read from the environment: every
// value the client uses is here. Zero values mean the documented defaults.
type Config struct {
	// BaseURL of an OpenAI-compatible API, including its version path, e.g.
	// "http://localhost:11434/v1" for Ollama. Empty means DefaultBaseURL.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>". Empty sends no key
	// (local servers).
	APIKey string
	// Model answers Generate and Stream ("gpt-4o-mini", "llama3.1", …).
	Model string
	// EmbeddingModel answers Embed and EmbedBatch.
	EmbeddingModel string
	// Dimensions, when positive, is the length every embedding must have; a
	// vector of another length is an ErrDimension error. It is also sent as
	// the request's "dimensions" when SendDimensions is set.
	Dimensions     int
	SendDimensions bool
	// MaxBatch is the most texts EmbedBatch sends in one request; longer
	// lists are split. Zero means DefaultMaxBatch.
	MaxBatch int
	// Timeout bounds one HTTP attempt, its response body included (not the
	// whole call with its retries; use ctx for that). The SDK does not retry
	// an attempt that timed out: the call ends with
	// context.DeadlineExceeded. Zero means no limit beyond ctx.
	Timeout time.Duration
	// MaxRetries is the number of retries after a failed first attempt
	// (429, 408, 409, 5xx, connection errors). Zero means DefaultMaxRetries;
	// negative means no retry.
	MaxRetries int
	// MaxRetryDelay bounds each wait between attempts. A server asking (by
	// Retry-After) for a longer wait ends the retries with its error.
	// Zero means DefaultMaxRetryDelay.
	MaxRetryDelay time.Duration
	// HTTPClient sends the requests. Nil means a client with its own
	// transport that, unlike http.DefaultTransport, ignores HTTP_PROXY and
	// the other proxy variables of the environment.
	HTTPClient *http.Client
	// Headers are added to every request (e.g. "api-key" for Azure OpenAI,
	// "OpenAI-Organization").
	Headers map[string]string
}

// Client is an agentos.Model, agentos.Streamer and (through Embed) an
// agentos.Embedder for one OpenAI-compatible endpoint. It is safe for
// concurrent use.
type Client struct {
	cfg   Config
	chat  sdk.ChatCompletionService
	embed sdk.EmbeddingService

	promptTokens     atomic.Int64
	completionTokens atomic.Int64
	calls            atomic.Int64
}

var (
	_ agentos.Model    = (*Client)(nil)
	_ agentos.Streamer = (*Client)(nil)
	_ agentos.Embedder = (*Client)(nil).Embed
)

// New returns a client for cfg. It returns ErrNoModel when cfg names no
// model at all and ErrBadURL when cfg.BaseURL is not an absolute http(s)
// URL. New makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.Model == "" && cfg.EmbeddingModel == "" {
		return nil, ErrNoModel
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadURL, cfg.BaseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q: want an absolute http or https URL", ErrBadURL, cfg.BaseURL)
	}
	if cfg.Dimensions < 0 {
		return nil, fmt.Errorf("openai: negative Dimensions %d", cfg.Dimensions)
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.MaxRetryDelay <= 0 {
		cfg.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if cfg.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil // no proxy from the environment: configuration is explicit
		t.ResponseHeaderTimeout = 10 * time.Minute
		cfg.HTTPClient = &http.Client{Transport: t}
	}
	// The services are built from these options alone. sdk.NewClient would
	// first apply sdk.DefaultClientOptions, which read OPENAI_API_KEY,
	// OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_CUSTOM_HEADERS and others.
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithHTTPClient(cfg.HTTPClient),
		option.WithMaxRetries(cfg.MaxRetries),
		option.WithMaxRetryDelay(cfg.MaxRetryDelay),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	if cfg.Timeout > 0 {
		opts = append(opts, option.WithRequestTimeout(cfg.Timeout))
	}
	for k, v := range cfg.Headers {
		opts = append(opts, option.WithHeader(k, v))
	}
	return &Client{
		cfg:   cfg,
		chat:  sdk.NewChatCompletionService(opts...),
		embed: sdk.NewEmbeddingService(opts...),
	}, nil
}

// Usage returns the tokens counted over every successful call of c so far,
// chat and embeddings together (embeddings count as prompt tokens).
func (c *Client) Usage() agentos.Usage {
	return agentos.Usage{
		PromptTokens:     int(c.promptTokens.Load()),
		CompletionTokens: int(c.completionTokens.Load()),
	}
}

// Calls returns the number of successful calls of c so far.
func (c *Client) Calls() int64 { return c.calls.Load() }

func (c *Client) count(u agentos.Usage) {
	c.promptTokens.Add(int64(u.PromptTokens))
	c.completionTokens.Add(int64(u.CompletionTokens))
	c.calls.Add(1)
}

// APIError is an error answer of the server, after the retries. It wraps
// the SDK's *openai.Error.
type APIError struct {
	StatusCode int
	Type       string // "invalid_request_error", "requests", … as the server sent it
	Code       string
	Message    string // the server's message, cut to maxMessage bytes
	err        error
}

const maxMessage = 512

func (e *APIError) Error() string {
	s := fmt.Sprintf("openai: HTTP %d", e.StatusCode)
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *APIError) Unwrap() error { return e.err }

// wrap names the operation and turns the SDK's API error into an *APIError.
func wrap(op string, err error) error {
	var sdkErr *sdk.Error
	if errors.As(err, &sdkErr) {
		msg := sdkErr.Message
		if len(msg) > maxMessage {
			msg = strings.ToValidUTF8(msg[:maxMessage], "") + "…"
		}
		err = &APIError{StatusCode: sdkErr.StatusCode, Type: sdkErr.Type, Code: sdkErr.Code, Message: msg, err: err}
	}
	return fmt.Errorf("openai: %s: %w", op, err)
}

// StatusCode returns the HTTP status of the API error inside err, or 0 when
// err carries none (connection error, context cancelled).
func StatusCode(err error) int {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	return 0
}

// Generate asks the chat completions endpoint for an answer to p. Errors:
// ErrNoModel; ErrBadResponse; an API error (see StatusCode) once retries are
// spent or at once for a status that is not retried (400, 401, 403, 404,
// 422); ctx's error when it ends, also during a wait between retries.
func (c *Client) Generate(ctx context.Context, p agentos.Prompt) (agentos.Completion, error) {
	params, err := c.params(p)
	if err != nil {
		return agentos.Completion{}, err
	}
	res, err := c.chat.New(ctx, params)
	if err != nil {
		return agentos.Completion{}, wrap("chat", err)
	}
	if res == nil { // the SDK decodes a body of "null" to no answer and no error
		return agentos.Completion{}, fmt.Errorf("%w: empty body", ErrBadResponse)
	}
	if len(res.Choices) == 0 {
		return agentos.Completion{}, fmt.Errorf("%w: no choices", ErrBadResponse)
	}
	ch := res.Choices[0]
	out := agentos.Completion{
		Text:         ch.Message.Content,
		Model:        res.Model,
		FinishReason: ch.FinishReason,
		Usage: agentos.Usage{
			PromptTokens:     int(res.Usage.PromptTokens),
			CompletionTokens: int(res.Usage.CompletionTokens),
		},
	}
	for i, tc := range ch.Message.ToolCalls {
		if tc.Function.Name == "" {
			return agentos.Completion{}, fmt.Errorf("%w: tool call %d has no name", ErrBadResponse, i)
		}
		out.ToolCalls = append(out.ToolCalls, agentos.ToolCall{
			ID: tc.ID, Name: tc.Function.Name, Arguments: args(tc.Function.Arguments),
		})
	}
	c.count(out.Usage)
	return out, nil
}

// Stream is Generate delivered piece by piece: fn gets each text fragment
// as it arrives, and the whole Completion is returned at the end. A stream
// that ends before the model reported why it finished (a finish_reason) is
// ErrTruncated, never a shorter answer. Retries happen only before the first
// byte of the answer; a stream cut mid-way is not replayed, since fn has
// already seen part of it.
func (c *Client) Stream(ctx context.Context, p agentos.Prompt, fn func(agentos.Delta) error) (agentos.Completion, error) {
	params, err := c.params(p)
	if err != nil {
		return agentos.Completion{}, err
	}
	params.StreamOptions.IncludeUsage = param.NewOpt(true)
	s := c.chat.NewStreaming(ctx, params)
	defer s.Close()
	var (
		out   agentos.Completion
		text  strings.Builder
		calls []agentos.ToolCall
		argb  []strings.Builder
		size  int
	)
	for s.Next() {
		chunk := s.Current()
		if chunk.Model != "" {
			out.Model = chunk.Model
		}
		if chunk.Usage.PromptTokens != 0 || chunk.Usage.CompletionTokens != 0 {
			out.Usage = agentos.Usage{
				PromptTokens:     int(chunk.Usage.PromptTokens),
				CompletionTokens: int(chunk.Usage.CompletionTokens),
			}
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				continue // only the first choice is asked for
			}
			d := ch.Delta
			size += len(d.Content)
			for _, tc := range d.ToolCalls {
				size += len(tc.Function.Arguments)
			}
			if size > MaxAnswerBytes {
				return agentos.Completion{}, fmt.Errorf("%w: answer longer than %d bytes", ErrBadResponse, MaxAnswerBytes)
			}
			for _, tc := range d.ToolCalls {
				i := int(tc.Index)
				if i < 0 || i >= maxToolCalls {
					return agentos.Completion{}, fmt.Errorf("%w: tool call index %d", ErrBadResponse, tc.Index)
				}
				for len(calls) <= i {
					calls = append(calls, agentos.ToolCall{})
					argb = append(argb, strings.Builder{})
				}
				// The id and name come whole in the call's first delta;
				// servers that repeat them later do not change them.
				if calls[i].ID == "" {
					calls[i].ID = tc.ID
				}
				if calls[i].Name == "" {
					calls[i].Name = tc.Function.Name
				}
				argb[i].WriteString(tc.Function.Arguments)
			}
			if d.Content != "" {
				text.WriteString(d.Content)
				if err := fn(agentos.Delta{Text: d.Content}); err != nil {
					return agentos.Completion{}, err
				}
			}
			if ch.FinishReason != "" {
				out.FinishReason = ch.FinishReason
			}
		}
	}
	if err := s.Err(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return agentos.Completion{}, fmt.Errorf("openai: stream: %w", ctxErr)
		}
		var streamErr *ssestream.StreamError
		if StatusCode(err) == 0 && !errors.As(err, &streamErr) && out.Model != "" {
			// The answer had begun: a read error now is a cut stream.
			return agentos.Completion{}, fmt.Errorf("%w: %w", ErrTruncated, err)
		}
		return agentos.Completion{}, wrap("stream", err)
	}
	if out.FinishReason == "" {
		return agentos.Completion{}, ErrTruncated
	}
	out.Text = text.String()
	for i := range calls {
		if calls[i].Name == "" {
			return agentos.Completion{}, fmt.Errorf("%w: tool call %d has no name", ErrBadResponse, i)
		}
		calls[i].Arguments = args(argb[i].String())
	}
	if len(calls) > 0 {
		out.ToolCalls = calls
	}
	c.count(out.Usage)
	return out, nil
}

// MaxAnswerBytes bounds the text and tool-call arguments one streamed
// answer may accumulate; a server that sends more ends Stream with
// ErrBadResponse instead of growing memory without limit.
const MaxAnswerBytes = 8 << 20

// maxToolCalls bounds the tool calls one streamed answer may open, so a
// hostile server cannot make Stream allocate by sending a huge index.
const maxToolCalls = 128

// args returns a tool call's arguments as JSON text; an empty string (some
// servers send it for tools without parameters) becomes {}.
func args(s string) json.RawMessage {
	if strings.TrimSpace(s) == "" {
		return json.RawMessage("{}")
	}
	return json.RawMessage(s)
}

func (c *Client) params(p agentos.Prompt) (sdk.ChatCompletionNewParams, error) {
	var params sdk.ChatCompletionNewParams
	if c.cfg.Model == "" {
		return params, fmt.Errorf("%w: Config.Model is empty", ErrNoModel)
	}
	params.Model = shared.ChatModel(c.cfg.Model)
	params.Temperature = param.NewOpt(p.Temperature)
	if p.MaxTokens > 0 {
		params.MaxTokens = param.NewOpt(int64(p.MaxTokens))
	}
	if len(p.Stop) > 0 {
		params.Stop.OfStringArray = p.Stop
	}
	for _, m := range p.Messages {
		switch m.Role {
		case agentos.RoleSystem:
			params.Messages = append(params.Messages, sdk.SystemMessage(m.Content))
		case agentos.RoleUser:
			params.Messages = append(params.Messages, sdk.UserMessage(m.Content))
		case agentos.RoleTool:
			if m.ToolCallID == "" {
				return params, fmt.Errorf("openai: tool message without ToolCallID")
			}
			params.Messages = append(params.Messages, sdk.ToolMessage(m.Content, m.ToolCallID))
		case agentos.RoleAssistant:
			var a sdk.ChatCompletionAssistantMessageParam
			if m.Content != "" {
				a.Content.OfString = param.NewOpt(m.Content)
			}
			for _, tc := range m.ToolCalls {
				a.ToolCalls = append(a.ToolCalls, sdk.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &sdk.ChatCompletionMessageFunctionToolCallParam{
						ID: tc.ID,
						Function: sdk.ChatCompletionMessageFunctionToolCallFunctionParam{
							Name: tc.Name, Arguments: string(args(string(tc.Arguments))),
						},
					},
				})
			}
			params.Messages = append(params.Messages, sdk.ChatCompletionMessageParamUnion{OfAssistant: &a})
		default:
			return params, fmt.Errorf("openai: unknown role %q", m.Role)
		}
	}
	for _, t := range p.Tools {
		fd := shared.FunctionDefinitionParam{Name: t.Name}
		if t.Description != "" {
			fd.Description = param.NewOpt(t.Description)
		}
		if len(t.Parameters) > 0 {
			var schema shared.FunctionParameters
			if err := json.Unmarshal(t.Parameters, &schema); err != nil {
				return params, fmt.Errorf("openai: tool %q: parameters are not a JSON object: %w", t.Name, err)
			}
			fd.Parameters = schema
		}
		params.Tools = append(params.Tools, sdk.ChatCompletionFunctionTool(fd))
	}
	return params, nil
}

// Embed returns the embedding of text. Its signature is agentos.Embedder's:
// pass c.Embed where an Embedder is wanted. Errors are EmbedBatch's.
func (c *Client) Embed(ctx context.Context, text string) ([]float32, error) {
	vs, err := c.EmbedBatch(ctx, []string{text})
	if err != nil {
		return nil, err
	}
	return vs[0], nil
}

// EmbedBatch returns the embeddings of texts, in the order of texts, in
// requests of at most Config.MaxBatch texts. Errors: ErrNoModel;
// ErrDimension when Config.Dimensions is set and a vector has another
// length; ErrBadResponse when the server returns the wrong number of
// vectors, an index out of range, or an empty or all-zero vector (which has
// no direction to compare); API and context errors as for Generate. On
// error no vector is returned.
func (c *Client) EmbedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	if c.cfg.EmbeddingModel == "" {
		return nil, fmt.Errorf("%w: Config.EmbeddingModel is empty", ErrNoModel)
	}
	if len(texts) == 0 {
		return nil, nil
	}
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += c.cfg.MaxBatch {
		vs, err := c.embedOnce(ctx, texts[start:min(start+c.cfg.MaxBatch, len(texts))])
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

func (c *Client) embedOnce(ctx context.Context, texts []string) ([][]float32, error) {
	params := sdk.EmbeddingNewParams{
		Model:          sdk.EmbeddingModel(c.cfg.EmbeddingModel),
		Input:          sdk.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
		EncodingFormat: sdk.EmbeddingNewParamsEncodingFormatFloat,
	}
	if c.cfg.SendDimensions && c.cfg.Dimensions > 0 {
		params.Dimensions = param.NewOpt(int64(c.cfg.Dimensions))
	}
	res, err := c.embed.New(ctx, params)
	if err != nil {
		return nil, wrap("embeddings", err)
	}
	if res == nil { // the SDK decodes a body of "null" to no answer and no error
		return nil, fmt.Errorf("%w: empty body", ErrBadResponse)
	}
	if len(res.Data) != len(texts) {
		return nil, fmt.Errorf("%w: %d embeddings for %d texts", ErrBadResponse, len(res.Data), len(texts))
	}
	out := make([][]float32, len(texts))
	for _, e := range res.Data {
		i := int(e.Index)
		if i < 0 || i >= len(out) || out[i] != nil {
			return nil, fmt.Errorf("%w: embedding index %d", ErrBadResponse, e.Index)
		}
		if len(e.Embedding) == 0 {
			return nil, fmt.Errorf("%w: empty embedding at index %d", ErrBadResponse, i)
		}
		if c.cfg.Dimensions > 0 && len(e.Embedding) != c.cfg.Dimensions {
			return nil, fmt.Errorf("%w: got %d, want %d", ErrDimension, len(e.Embedding), c.cfg.Dimensions)
		}
		v := make([]float32, len(e.Embedding))
		zero := true
		for j, x := range e.Embedding {
			v[j] = float32(x)
			zero = zero && v[j] == 0
		}
		if zero {
			return nil, fmt.Errorf("%w: all-zero embedding at index %d", ErrBadResponse, i)
		}
		out[i] = v
	}
	c.count(agentos.Usage{PromptTokens: int(res.Usage.PromptTokens)})
	return out, nil
}
