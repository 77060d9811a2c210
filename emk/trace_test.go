//go:build cgo

package emk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/emk"
)

// chain stores root ← a ← b ← c and root ← x, b ← y (arrows point to the
// cause) and returns their ids by name.
func chain(t *testing.T, s *emk.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	id := map[string]string{}
	add := func(name string, causes ...string) {
		var cs []string
		for _, c := range causes {
			cs = append(cs, id[c])
		}
		e, err := s.Append(ctx, emk.Episode{Agent: "a", Goal: name, Time: t0, Causes: cs})
		require.NoError(t, err)
		id[name] = e.ID
	}
	add("root")
	add("a", "root")
	add("x", "root")
	add("b", "a")
	add("y", "b")
	add("c", "b", "root")
	return id
}

func names(id map[string]string, links []emk.Link) []string {
	name := map[string]string{}
	for k, v := range id {
		name[v] = k
	}
	var out []string
	for _, l := range links {
		out = append(out, name[l.ID]+"<"+name[l.Via]+"@"+string(rune('0'+l.Depth)))
	}
	return out
}

func TestTrace(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	id := chain(t, s)

	got, err := s.Trace(ctx, id["c"], emk.Causes, 10, 100)
	require.NoError(t, err)
	// c's causes are b and root (depth 1, in id order), then a (via b).
	want := []string{"b<c@1", "root<c@1", "a<b@2"}
	if id["root"] < id["b"] {
		want = []string{"root<c@1", "b<c@1", "a<b@2"}
	}
	assert.Equal(t, want, names(id, got))

	got, err = s.Trace(ctx, id["root"], emk.Effects, 10, 100)
	require.NoError(t, err)
	assert.Len(t, got, 5)
	depth := map[string]int{}
	for _, l := range got {
		depth[l.ID] = l.Depth
	}
	assert.Equal(t, map[string]int{id["a"]: 1, id["x"]: 1, id["c"]: 1, id["b"]: 2, id["y"]: 3}, depth,
		"each episode once, at its least depth")

	got, err = s.Trace(ctx, id["root"], emk.Effects, 1, 100)
	require.NoError(t, err)
	assert.Len(t, got, 3, "depth bound")
	got, err = s.Trace(ctx, id["root"], emk.Effects, 10, 2)
	require.NoError(t, err)
	assert.Len(t, got, 2, "node bound")
	got, err = s.Trace(ctx, id["root"], emk.Causes, 10, 10)
	require.NoError(t, err)
	assert.Empty(t, got)

	for name, tt := range map[string]struct {
		id           string
		dir          emk.Direction
		depth, nodes int
		want         error
	}{
		"direction":   {id["c"], 0, 1, 1, agentos.ErrInvalid},
		"direction 3": {id["c"], 3, 1, 1, agentos.ErrInvalid},
		"depth 0":     {id["c"], emk.Causes, 0, 1, agentos.ErrInvalid},
		"depth big":   {id["c"], emk.Causes, emk.MaxTraceDepth + 1, 1, agentos.ErrInvalid},
		"nodes 0":     {id["c"], emk.Causes, 1, 0, agentos.ErrInvalid},
		"nodes big":   {id["c"], emk.Causes, 1, emk.MaxTraceNodes + 1, agentos.ErrInvalid},
		"bad id":      {"c", emk.Causes, 1, 1, agentos.ErrInvalid},
		"absent":      {strings.Repeat("d", 64), emk.Effects, 1, 1, agentos.ErrNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Trace(ctx, tt.id, tt.dir, tt.depth, tt.nodes)
			assert.ErrorIs(t, err, tt.want)
		})
	}
	assert.Equal(t, "causes", emk.Causes.String())
	assert.Equal(t, "effects", emk.Effects.String())
	assert.Equal(t, "Direction(7)", emk.Direction(7).String())
}

// Append cannot build a cycle, but a file can hold one: Trace must end.
func TestTraceCycle(t *testing.T) {
	ctx := context.Background()
	s, path := openFile(t)
	id := chain(t, s)
	db := rawDB(t, path)
	// root follows from c, and c from itself: root → c → b → a → root.
	_, err := db.Exec("INSERT INTO links (effect, cause) VALUES (?, ?), (?, ?)", id["root"], id["c"], id["c"], id["c"])
	require.NoError(t, err)

	for _, dir := range []emk.Direction{emk.Causes, emk.Effects} {
		got, err := s.Trace(ctx, id["c"], dir, emk.MaxTraceDepth, emk.MaxTraceNodes)
		require.NoError(t, err)
		seen := map[string]bool{}
		for _, l := range got {
			assert.False(t, seen[l.ID], "%s reached twice", l.ID)
			seen[l.ID] = true
			assert.NotEqual(t, id["c"], l.ID, "the start is not reached again")
		}
		assert.NotEmpty(t, got)
	}
	got, err := s.Trace(ctx, id["c"], emk.Causes, emk.MaxTraceDepth, emk.MaxTraceNodes)
	require.NoError(t, err)
	assert.Len(t, got, 3, "b, root and a; root leads back to c")
	got, err = s.Trace(ctx, id["c"], emk.Effects, emk.MaxTraceDepth, emk.MaxTraceNodes)
	require.NoError(t, err)
	assert.Len(t, got, 5, "root, then a, x and b, then y, through the cycle")
}
