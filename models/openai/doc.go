// Package openai is an agentos.Model, agentos.Streamer and agentos.Embedder
// for any endpoint that speaks the OpenAI HTTP API: OpenAI, Azure OpenAI,
// Ollama, vLLM, the llama.cpp server, LM Studio. It is built on the official
// SDK, github.com/openai/openai-go/v3, pointed at Config.BaseURL.
//
// # Configuration
//
// Everything comes from [Config]: the package never reads the environment.
// The SDK's own client (openai.NewClient) applies OPENAI_API_KEY,
// OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_CUSTOM_HEADERS and more before any
// option; this package builds the SDK's services from explicit options only,
// and its default HTTP transport ignores the HTTP_PROXY family that
// http.DefaultTransport honours.
//
// Endpoints: Ollama "http://localhost:11434/v1", vLLM and LM Studio
// "http://host:port/v1", the llama.cpp server "http://host:8080/v1", Azure
// OpenAI's v1 API "https://NAME.openai.azure.com/openai/v1" with the key in
// Config.APIKey or as Headers{"api-key": key}.
//
// # Retries
//
// Retries are the SDK's (option.WithMaxRetries), which this package checked
// and tests: 408, 409, 429, 5xx and connection errors are retried, other
// statuses are not; the wait honours Retry-After-Ms, then Retry-After in
// seconds or as an HTTP-date, else exponential backoff from 0.5 s with
// jitter; a wait longer than Config.MaxRetryDelay ends the retries with the
// server's error; the wait ends with ctx. Attempts are bounded by
// Config.MaxRetries. A stream is retried only before its answer begins. An
// attempt cut by Config.Timeout is not retried (the SDK returns
// context.DeadlineExceeded at once).
//
// # Usage
//
// Each Completion carries the tokens of its call; [Client.Usage] sums them
// over the client's life, safely across goroutines.
//
// # Caveats
//
// Only the first choice is read. Tool-call arguments are returned as the
// model wrote them and are not validated here. Streaming asks for usage
// (stream_options.include_usage); a server that ignores it reports zero.
package openai
