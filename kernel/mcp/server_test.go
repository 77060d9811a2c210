package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/kernel/mcp"
	"github.com/agent-os/agentos/recorder"
)

const servePolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: serve-test}
spec:
  defaultEffect: deny
  rules:
    - name: repo-tools
      effect: allow
      when: action.op == "exec" && action.tool.startsWith("repo.")
    - name: no-delete
      effect: deny
      onDeny: refuse
      when: action.op == "exec" && action.tool == "repo.delete"
      message: deleting repositories is not allowed
`

type served struct {
	k       *kerneltest.Kernel
	a       *kernel.Agent
	srv     *mcpsdk.Server
	deletes *atomic.Int64
}

type statsIn struct {
	Repo string `json:"repo"`
}

type statsOut struct {
	Stars int `json:"stars"`
}

// newServed builds a registry of three tools, a kernel that knows them and
// an MCP server for one agent.
func newServed(t *testing.T) *served {
	t.Helper()
	s := &served{deletes: new(atomic.Int64)}
	reg := atr.New()
	require.NoError(t, reg.Add(atr.Tool{
		Name: "repo.search", Meta: atr.Meta{Description: "Search a repository.", SideEffect: atr.Read},
		Func: func(_ context.Context, args map[string]any) (any, error) { return "found " + args["q"].(string), nil },
	}))
	require.NoError(t, reg.Add(atr.Tool{
		Name: "repo.delete", Meta: atr.Meta{Description: "Delete a repository.", SideEffect: atr.Delete},
		Func: func(context.Context, map[string]any) (any, error) { s.deletes.Add(1); return "deleted", nil },
	}))
	require.NoError(t, atr.Register(reg, "repo.stats", func(_ context.Context, in statsIn) (statsOut, error) {
		return statsOut{Stars: 42}, nil
	}, atr.Meta{Description: "Count a repository's stars.", SideEffect: atr.Read}))
	opts := []kernel.Option{kerneltest.Policy(servePolicy)}
	for _, tool := range reg.Tools() {
		opts = append(opts, kernel.WithTool(tool.Name, tool.Call))
	}
	s.k = kerneltest.New(t, opts...)
	s.a = s.k.MustSpawn("agent-1")
	srv, err := mcp.NewServer(s.a, reg, mcp.WithImplementation("agentos-test", "1"))
	require.NoError(t, err)
	s.srv = srv
	return s
}

func clientFor(t *testing.T, tr mcpsdk.Transport) *mcpsdk.ClientSession {
	t.Helper()
	c := mcpsdk.NewClient(&mcpsdk.Implementation{Name: "test-client", Version: "1"}, nil)
	cs, err := c.Connect(t.Context(), tr, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func text(t *testing.T, res *mcpsdk.CallToolResult) string {
	t.Helper()
	require.Len(t, res.Content, 1)
	tc, ok := res.Content[0].(*mcpsdk.TextContent)
	require.True(t, ok, "%T", res.Content[0])
	return tc.Text
}

func exerciseServer(t *testing.T, s *served, cs *mcpsdk.ClientSession) {
	ctx := t.Context()
	list, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
	}
	require.Equal(t, []string{"repo.delete", "repo.search", "repo.stats"}, names)

	res, err := cs.CallTool(ctx, &mcpsdk.CallToolParams{Name: "repo.search", Arguments: map[string]any{"q": "mutex"}})
	require.NoError(t, err)
	require.False(t, res.IsError)
	require.Equal(t, "found mutex", text(t, res))

	res, err = cs.CallTool(ctx, &mcpsdk.CallToolParams{Name: "repo.stats", Arguments: map[string]any{"repo": "x"}})
	require.NoError(t, err)
	require.False(t, res.IsError, "%v", res.Content)
	require.JSONEq(t, `{"stars":42}`, text(t, res))
	sc, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	require.JSONEq(t, `{"stars":42}`, string(sc))

	res, err = cs.CallTool(ctx, &mcpsdk.CallToolParams{Name: "repo.delete", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.True(t, res.IsError)
	require.Equal(t, "denied by policy rule no-delete: deleting repositories is not allowed", text(t, res))
	require.Zero(t, s.deletes.Load())

	res, err = cs.CallTool(ctx, &mcpsdk.CallToolParams{Name: "repo.stats", Arguments: map[string]any{"repo": 5}})
	require.NoError(t, err)
	require.True(t, res.IsError)
	require.Contains(t, text(t, res), "repo")

	res, err = cs.CallTool(ctx, &mcpsdk.CallToolParams{Name: "repo.search", Arguments: []int{1}})
	require.NoError(t, err)
	require.True(t, res.IsError)
	require.Contains(t, text(t, res), "JSON object")

	// Every call the agent made is in its trail, the denial included.
	var decided []string
	for _, e := range s.k.Decisions("agent-1") {
		decided = append(decided, e.Tool+":"+string(e.Status))
	}
	require.Equal(t, []string{
		"repo.search:" + string(kernel.StatusPermitted),
		"repo.stats:" + string(kernel.StatusPermitted),
		"repo.delete:" + string(recorder.StatusDenied),
		"repo.stats:" + string(kernel.StatusPermitted),
	}, decided)
	s.k.Verify()
}

func TestServerInMemory(t *testing.T) {
	s := newServed(t)
	ct, st := mcpsdk.NewInMemoryTransports()
	ss, err := s.srv.Connect(t.Context(), st, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ss.Close() })
	exerciseServer(t, s, clientFor(t, ct))
}

func TestServerHTTP(t *testing.T) {
	s := newServed(t)
	hs := httptest.NewServer(mcp.HTTPHandler(s.srv, nil))
	t.Cleanup(hs.Close)
	exerciseServer(t, s, clientFor(t, &mcpsdk.StreamableClientTransport{Endpoint: hs.URL, MaxRetries: -1}))
}

func TestServerErrors(t *testing.T) {
	_, err := mcp.NewServer(nil, atr.New())
	require.Error(t, err)
	s := newServed(t)
	require.Error(t, mcp.Run(t.Context(), s.srv, nil))

	// Run serves until the context ends.
	ctx, cancel := context.WithCancel(t.Context())
	ct, st := mcpsdk.NewInMemoryTransports()
	done := make(chan error, 1)
	go func() { done <- mcp.Run(ctx, s.srv, st) }()
	cs := clientFor(t, ct)
	res, err := cs.CallTool(t.Context(), &mcpsdk.CallToolParams{Name: "repo.search", Arguments: map[string]any{"q": "x"}})
	require.NoError(t, err)
	require.Equal(t, "found x", text(t, res))
	cancel()
	err = <-done
	require.True(t, err == nil || errors.Is(err, context.Canceled), "%v", err)
}
