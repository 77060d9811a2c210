package atr_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agent-os/agentos/atr"
	"github.com/stretchr/testify/require"
)

func TestCallTyped(t *testing.T) {
	r := atr.New()
	require.NoError(t, atr.Register(r, "sql.query", runQuery, atr.Meta{SideEffect: atr.Read}))
	tool, err := r.Resolve("sql.query", "^1")
	require.NoError(t, err)

	out, err := tool.Call(t.Context(), map[string]any{"query": "SELECT 1", "limit": int64(5)})
	require.NoError(t, err)
	require.Equal(t, queryResult{Rows: []string{"SELECT 1"}}, out)

	for name, args := range map[string]map[string]any{
		"unknown field":   {"query": "q", "extra": true},
		"case variant":    {"query": "q", "QUERY": "other"},
		"missing":         {"limit": int64(1)},
		"float for int":   {"query": "q", "limit": 1.5},
		"string for int":  {"query": "q", "limit": "1"},
		"null for string": {"query": nil},
	} {
		t.Run(name, func(t *testing.T) {
			called := false
			_, err := tool.Call(t.Context(), args)
			require.ErrorIs(t, err, atr.ErrInvalidArgs)
			require.False(t, called)
		})
	}
}

func TestCallTypedDecodeIsStrictOnItsOwn(t *testing.T) {
	// A typed tool re-added with an open schema: validation lets unknown
	// fields through, and the strict decode still refuses them.
	r := atr.New()
	require.NoError(t, atr.Register(r, "q", runQuery, atr.Meta{SideEffect: atr.Read}))
	typed, err := r.Resolve("q", "")
	require.NoError(t, err)
	loose := *typed
	loose.InputSchema = nil
	loose.Meta.Version = "2.0.0"
	require.NoError(t, r.Add(loose))
	tool, err := r.Resolve("q", "2.0.0")
	require.NoError(t, err)
	_, err = tool.Call(t.Context(), map[string]any{"query": "x", "extra": int64(1)})
	require.ErrorIs(t, err, atr.ErrInvalidArgs)
	ae, ok := errors.AsType[*atr.ArgError](err)
	require.True(t, ok)
	require.Equal(t, "/extra", ae.Field)
	_, err = tool.Call(t.Context(), map[string]any{"query": int64(1)})
	ae, ok = errors.AsType[*atr.ArgError](err)
	require.True(t, ok)
	require.Equal(t, "/query", ae.Field)
}

func TestCallUntyped(t *testing.T) {
	r := atr.New()
	boom := errors.New("boom")
	calls := 0
	require.NoError(t, r.Add(atr.Tool{
		Name: "fail", Meta: atr.Meta{SideEffect: atr.Write},
		Func: func(context.Context, map[string]any) (any, error) { calls++; return nil, boom },
	}))
	require.NoError(t, r.Add(untyped("echo", "", atr.None)))
	tool, _ := r.Resolve("fail", "")
	_, err := tool.Call(t.Context(), map[string]any{"a": int64(1)})
	require.Same(t, boom, err, "the function's error comes back unchanged")
	require.Equal(t, 1, calls)

	tool, _ = r.Resolve("echo", "")
	out, err := tool.Call(t.Context(), nil)
	require.NoError(t, err)
	require.Equal(t, map[string]any{}, out, "nil arguments arrive as the empty object")
}

func TestCallNeverRunsInvalid(t *testing.T) {
	tool := searchTool(t)
	ran := false
	tl := *tool
	tl.Func = func(context.Context, map[string]any) (any, error) { ran = true; return nil, nil }
	_, err := tl.Call(t.Context(), map[string]any{"table": "nope"})
	require.ErrorIs(t, err, atr.ErrInvalidArgs)
	require.False(t, ran)
}

func TestCallRecoversPanic(t *testing.T) {
	r := atr.New()
	require.NoError(t, atr.Register(r, "p", func(context.Context, queryArgs) (int, error) {
		var m map[string]int
		m["x"] = 1 // nil map write
		return 0, nil
	}, atr.Meta{SideEffect: atr.None}))
	require.NoError(t, r.Add(atr.Tool{Name: "u", Meta: atr.Meta{SideEffect: atr.None},
		Func: func(context.Context, map[string]any) (any, error) { panic("untyped") }}))
	for _, name := range []string{"p", "u"} {
		tool, err := r.Resolve(name, "")
		require.NoError(t, err)
		out, err := tool.Call(t.Context(), map[string]any{"query": "x"})
		require.Nil(t, out)
		require.ErrorIs(t, err, atr.ErrPanicked)
		pe, ok := errors.AsType[*atr.PanicError](err)
		require.True(t, ok)
		require.Equal(t, name, pe.Tool)
		require.NotEmpty(t, pe.Value)
		require.NotEmpty(t, pe.Stack)
	}
}

func TestCallTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := atr.New()
		require.NoError(t, r.Add(atr.Tool{Name: "slow", Meta: atr.Meta{SideEffect: atr.Network, Timeout: 5 * time.Second},
			Func: func(ctx context.Context, _ map[string]any) (any, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}}))
		require.NoError(t, r.Add(atr.Tool{Name: "deaf", Meta: atr.Meta{SideEffect: atr.Network, Timeout: time.Second},
			Func: func(context.Context, map[string]any) (any, error) {
				time.Sleep(2 * time.Second) // ignores its context
				return "late", nil
			}}))
		require.NoError(t, r.Add(atr.Tool{Name: "quick", Meta: atr.Meta{SideEffect: atr.Network, Timeout: time.Second},
			Func: func(ctx context.Context, _ map[string]any) (any, error) {
				_, ok := ctx.Deadline()
				return ok, nil
			}}))

		start := time.Now()
		slow, _ := r.Resolve("slow", "")
		_, err := slow.Call(t.Context(), nil)
		require.ErrorIs(t, err, atr.ErrTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 5*time.Second, time.Since(start))

		deaf, _ := r.Resolve("deaf", "")
		out, err := deaf.Call(t.Context(), nil)
		require.ErrorIs(t, err, atr.ErrTimeout)
		require.Nil(t, out, "a late result is dropped")

		quick, _ := r.Resolve("quick", "")
		out, err = quick.Call(t.Context(), nil)
		require.NoError(t, err)
		require.Equal(t, true, out, "the function sees the deadline")

		// The caller's own cancellation is not a tool timeout.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = slow.Call(ctx, nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.NotErrorIs(t, err, atr.ErrTimeout)
	})
}

func TestConcurrentRegistry(t *testing.T) {
	r := atr.New()
	require.NoError(t, atr.Register(r, "sql.query", runQuery, atr.Meta{SideEffect: atr.Read}))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if w%2 == 0 {
					if i < 10 {
						if err := atr.Register(r, "sql.query", runQuery, atr.Meta{SideEffect: atr.Read, Version: "1.1." + itoa(w*100+i)}); err != nil {
							t.Error(err) // not require: this is not the test's goroutine
						}
					}
					_ = r.Add(untyped("t"+itoa(w), "1.0."+itoa(i), atr.None))
					continue
				}
				tool, err := r.Resolve("sql.query", "^1")
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := tool.Call(context.Background(), map[string]any{"query": "q"}); err != nil {
					t.Error(err)
					return
				}
				_ = r.Tools()
				_ = r.OpenAI()
				_ = r.MCP()
				_ = r.Versions("sql.query")
			}
		})
	}
	wg.Wait()
	require.Len(t, r.Versions("sql.query"), 1+4*10)
	require.Len(t, r.Versions("t2"), 50)
}

func TestCallDeadContext(t *testing.T) {
	ran := false
	tool, err := atr.Prepare(atr.Tool{Name: "t", Meta: atr.Meta{SideEffect: atr.Write},
		Func: func(context.Context, map[string]any) (any, error) { ran = true; return nil, nil }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = tool.Call(ctx, nil)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, ran, "a tool never starts with a dead context")
}
