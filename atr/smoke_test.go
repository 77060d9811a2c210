package atr_test

import (
	"context"
	"testing"

	"github.com/agent-os/agentos/atr"
	"github.com/stretchr/testify/require"
)

type queryArgs struct {
	Query string `json:"query"`
	Limit int    `json:"limit,omitempty"`
}

func TestSmoke(t *testing.T) {
	r := atr.New()
	require.NoError(t, atr.Register(r, "sql.query", func(_ context.Context, a queryArgs) (string, error) {
		return a.Query, nil
	}, atr.Meta{SideEffect: atr.Read}))
	tool, err := r.Resolve("sql.query", "")
	require.NoError(t, err)
	out, err := tool.Call(context.Background(), map[string]any{"query": "SELECT 1", "limit": int64(3)})
	require.NoError(t, err)
	require.Equal(t, "SELECT 1", out)
	err = tool.Validate(map[string]any{"limit": int64(3)})
	require.ErrorIs(t, err, atr.ErrInvalidArgs)
	t.Log(err)
	err = tool.Validate(map[string]any{"query": "x", "bogus": 1})
	t.Log(err)
	err = tool.Validate(map[string]any{"query": "x", "limit": 1.5})
	t.Log(err)
}
