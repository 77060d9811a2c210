package atr_test

import (
	"context"
	"testing"

	"github.com/agent-os/agentos/atr"
)

func benchTool(b *testing.B) *atr.Tool {
	b.Helper()
	r := atr.New()
	if err := atr.Register(r, "sql.query", runQuery, atr.Meta{SideEffect: atr.Read}); err != nil {
		b.Fatal(err)
	}
	tool, err := r.Resolve("sql.query", "")
	if err != nil {
		b.Fatal(err)
	}
	return tool
}

var benchArgs = map[string]any{"query": "SELECT * FROM users WHERE id = ?", "limit": int64(10)}

// BenchmarkValidate: valid arguments against the typed tool's schema, and
// against the larger search schema (nested array of $ref objects).
func BenchmarkValidate(b *testing.B) {
	b.Run("typed", func(b *testing.B) {
		tool := benchTool(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := tool.Validate(benchArgs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("search", func(b *testing.B) {
		tool := searchTool(b)
		args := map[string]any{"table": "users", "limit": int64(10), "name": "abc", "tags": []any{"a", "b"},
			"filters": []any{map[string]any{"field": "age", "op": ">", "value": int64(30)}, map[string]any{"field": "name", "op": "=", "value": "x"}}}
		b.ReportAllocs()
		for b.Loop() {
			if err := tool.Validate(args); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("invalid", func(b *testing.B) {
		tool := searchTool(b)
		args := map[string]any{"table": "users", "filters": []any{map[string]any{"field": "age", "op": "LIKE"}}}
		b.ReportAllocs()
		for b.Loop() {
			if err := tool.Validate(args); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}

// BenchmarkCall compares a typed tool's Call (validate, decode, recover,
// call) with calling the Go function directly.
func BenchmarkCall(b *testing.B) {
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := runQuery(ctx, queryArgs{Query: benchArgs["query"].(string), Limit: 10}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("typed", func(b *testing.B) {
		tool := benchTool(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tool.Call(ctx, benchArgs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("untyped", func(b *testing.B) {
		r := atr.New()
		if err := r.Add(atr.Tool{Name: "echo", Meta: atr.Meta{SideEffect: atr.None}, Func: echo}); err != nil {
			b.Fatal(err)
		}
		tool, _ := r.Resolve("echo", "")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tool.Call(ctx, benchArgs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkResolve(b *testing.B) {
	r := atr.New()
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0"} {
		if err := r.Add(atr.Tool{Name: "t", Meta: atr.Meta{Version: v, SideEffect: atr.None}, Func: echo}); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []string{"", "^1.1"} {
		b.Run("constraint="+c, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Resolve("t", c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
