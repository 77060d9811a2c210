package scak_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/scak"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestLoopDetector(t *testing.T) {
	l, err := scak.NewLoopDetector(scak.LoopConfig{})
	require.NoError(t, err)
	assert.Equal(t, scak.LoopConfig{Repeats: 3, Window: 8, MaxAgents: 4096}, l.Config())
	same := scak.CallDigest(agentos.OpExec, "search", "", map[string]any{"q": "x"})
	other := scak.CallDigest(agentos.OpExec, "search", "", map[string]any{"q": "y"})

	n, loop := l.Observe("a", same, t0)
	assert.Equal(t, 1, n)
	assert.False(t, loop)
	n, loop = l.Observe("a", other, t0)
	assert.Equal(t, 1, n)
	assert.False(t, loop)
	// Another agent's calls are its own.
	_, loop = l.Observe("b", same, t0)
	assert.False(t, loop)
	_, loop = l.Observe("b", same, t0)
	assert.False(t, loop)
	n, loop = l.Observe("a", same, t0)
	assert.Equal(t, 2, n)
	assert.False(t, loop)
	n, loop = l.Observe("a", same, t0)
	assert.Equal(t, 3, n)
	assert.True(t, loop)
	// Reported once: the window starts again.
	n, loop = l.Observe("a", same, t0)
	assert.Equal(t, 1, n)
	assert.False(t, loop)
	assert.Equal(t, 2, l.Len())
	l.Forget("a")
	l.Forget("nobody")
	assert.Equal(t, 1, l.Len())
}

// Repeats spread wider than the window are not a loop.
func TestLoopWindowSlides(t *testing.T) {
	l, err := scak.NewLoopDetector(scak.LoopConfig{Repeats: 2, Window: 4})
	require.NoError(t, err)
	for i := range 20 {
		_, loop := l.Observe("a", uint64(i%5), t0) // each call comes back every 5th
		require.False(t, loop, "call %d", i)
	}
	_, loop := l.Observe("a", 19%5, t0) // the last call again, at once
	require.True(t, loop)
}

func TestLoopWithin(t *testing.T) {
	l, err := scak.NewLoopDetector(scak.LoopConfig{Within: time.Minute})
	require.NoError(t, err)
	_, loop := l.Observe("a", 1, t0)
	require.False(t, loop)
	_, loop = l.Observe("a", 1, t0.Add(2*time.Minute))
	require.False(t, loop)
	n, loop := l.Observe("a", 1, t0.Add(4*time.Minute))
	require.False(t, loop, "each repeat came more than a minute after the last")
	require.Equal(t, 1, n)
	_, loop = l.Observe("a", 1, t0.Add(4*time.Minute+time.Second))
	require.False(t, loop)
	_, loop = l.Observe("a", 1, t0.Add(4*time.Minute+2*time.Second))
	require.True(t, loop)
}

// Memory is bounded across agents: the least recently seen goes first.
func TestLoopMaxAgents(t *testing.T) {
	l, err := scak.NewLoopDetector(scak.LoopConfig{MaxAgents: 2})
	require.NoError(t, err)
	l.Observe("a", 1, t0)
	l.Observe("a", 1, t0)
	l.Observe("b", 1, t0)
	l.Observe("c", 1, t0) // forgets a, the least recent
	require.Equal(t, 2, l.Len())
	_, loop := l.Observe("a", 1, t0)
	require.False(t, loop, "a was forgotten")
	for i := range 10_000 {
		l.Observe(agentos.AgentID(fmt.Sprint("agent-", i)), 1, t0)
	}
	require.Equal(t, 2, l.Len())
}

func TestLoopConfigInvalid(t *testing.T) {
	for name, cfg := range map[string]scak.LoopConfig{
		"repeats 1":        {Repeats: 1},
		"repeats > window": {Repeats: 9, Window: 8},
		"window 1":         {Window: 1},
		"window too big":   {Window: scak.MaxLoopWindow + 1},
		"negative within":  {Within: -time.Second},
		"negative agents":  {MaxAgents: -1},
		"too many agents":  {MaxAgents: scak.MaxLoopAgents + 1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := scak.NewLoopDetector(cfg)
			require.ErrorIs(t, err, agentos.ErrInvalid)
			_, err = scak.NewMonitor(scak.WithLoop(cfg))
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	l, err := scak.NewLoopDetector(scak.LoopConfig{Window: 2})
	require.NoError(t, err)
	assert.Equal(t, 2, l.Config().Repeats, "the default repeats fit a small window")
}

// The digest is canonical: map order, integer widths and integral floats
// do not change it; any difference in op, tool, path or a value does.
func TestCallDigest(t *testing.T) {
	d := func(args map[string]any) uint64 { return scak.CallDigest(agentos.OpExec, "t", "", args) }
	base := map[string]any{"a": int64(1), "b": []any{"x", true, nil}, "c": map[string]any{"d": 2.5, "e": "f"}}
	same := []map[string]any{
		{"c": map[string]any{"e": "f", "d": 2.5}, "b": []any{"x", true, nil}, "a": int64(1)},
		{"a": 1, "b": []any{"x", true, nil}, "c": map[string]any{"d": 2.5, "e": "f"}},
		{"a": uint8(1), "b": []any{"x", true, nil}, "c": map[string]any{"d": 2.5, "e": "f"}},
		{"a": 1.0, "b": []any{"x", true, nil}, "c": map[string]any{"d": float32(2.5), "e": "f"}},
		{"a": int64(1), "b": []string{"x"}, "c": map[string]string{"d": "2.5", "e": "f"}},
	}
	assert.Equal(t, d(base), d(same[0]))
	assert.Equal(t, d(base), d(same[1]))
	assert.Equal(t, d(base), d(same[2]))
	assert.Equal(t, d(base), d(same[3]))
	assert.NotEqual(t, d(base), d(same[4]))
	for name, args := range map[string]map[string]any{
		"value":        {"a": int64(2), "b": []any{"x", true, nil}, "c": map[string]any{"d": 2.5, "e": "f"}},
		"string int":   {"a": "1", "b": []any{"x", true, nil}, "c": map[string]any{"d": 2.5, "e": "f"}},
		"list order":   {"a": int64(1), "b": []any{true, "x", nil}, "c": map[string]any{"d": 2.5, "e": "f"}},
		"nested value": {"a": int64(1), "b": []any{"x", true, nil}, "c": map[string]any{"d": 2.5, "e": "g"}},
		"extra key":    {"a": int64(1), "b": []any{"x", true, nil}, "c": map[string]any{"d": 2.5, "e": "f"}, "z": nil},
		"key moved":    {"a": int64(1), "b": []any{"x", true, nil}, "c": map[string]any{"d": 2.5}, "e": "f"},
		"nil vs empty": {"a": int64(1), "b": []any{}, "c": map[string]any{"d": 2.5, "e": "f"}},
		"json number":  {"a": json.Number("1"), "b": []any{"x", true, nil}, "c": map[string]any{"d": 2.5, "e": "f"}},
	} {
		assert.NotEqual(t, d(base), d(args), name)
	}
	assert.NotEqual(t, scak.CallDigest(agentos.OpExec, "t", "", nil), scak.CallDigest(agentos.OpExec, "u", "", nil))
	assert.NotEqual(t, scak.CallDigest(agentos.OpRead, "", "/mem/a", nil), scak.CallDigest(agentos.OpRead, "", "/mem/b", nil))
	assert.NotEqual(t, scak.CallDigest(agentos.OpRead, "", "/mem/a", nil), scak.CallDigest(agentos.OpWrite, "", "/mem/a", nil))
	assert.NotEqual(t, scak.CallDigest(agentos.OpExec, "ab", "c", nil), scak.CallDigest(agentos.OpExec, "a", "bc", nil))

	// Deep and wide arguments are digested up to the bounds, without a
	// panic; other types by their %v.
	deep := map[string]any{}
	cur := deep
	for range 100 {
		next := map[string]any{}
		cur["k"] = next
		cur = next
	}
	_ = d(deep)
	wide := map[string]any{}
	for i := range 20_000 {
		wide[fmt.Sprint(i)] = i
	}
	_ = d(wide)
	type custom struct{ X int }
	assert.NotEqual(t, d(map[string]any{"x": custom{1}}), d(map[string]any{"x": custom{2}}))
	assert.Equal(t, d(map[string]any{"x": uint64(1 << 63)}), d(map[string]any{"x": uint64(1 << 63)}))
}

func BenchmarkCallDigest(b *testing.B) {
	args := map[string]any{"query": "SELECT name FROM users WHERE id = 42", "limit": int64(10), "tags": []any{"a", "b"}}
	b.ReportAllocs()
	for b.Loop() {
		scak.CallDigest(agentos.OpExec, "sql.query", "", args)
	}
}
