package mute_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/mute"
)

func TestGraphBuildErrors(t *testing.T) {
	g := mute.NewGraph()
	require.NoError(t, g.AddNode(mute.Node{ID: "a", Kind: mute.NodeAction}))
	require.NoError(t, g.AddNode(mute.Node{ID: "r", Kind: mute.NodeResource}))
	tests := []struct {
		name string
		err  error
	}{
		{"empty id", g.AddNode(mute.Node{Kind: mute.NodeAction})},
		{"unknown kind", g.AddNode(mute.Node{ID: "x", Kind: "thing"})},
		{"precondition without fact", g.AddNode(mute.Node{ID: "p", Kind: mute.NodePrecondition})},
		{"duplicate", g.AddNode(mute.Node{ID: "a", Kind: mute.NodeAction})},
		{"unknown edge kind", g.AddEdge(mute.Edge{From: "a", To: "r", Kind: "likes"})},
		{"unknown end", g.AddEdge(mute.Edge{From: "a", To: "ghost", Kind: mute.EdgeRequires})},
		{"depends_on a resource", g.AddEdge(mute.Edge{From: "a", To: "r", Kind: mute.EdgeDependsOn})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.err, mute.ErrInvalidGraph)
		})
	}
	require.Nil(t, g.Node("x"))
	require.Equal(t, mute.NodeAction, g.Node("a").Kind)
}

func TestActionsFor(t *testing.T) {
	g := oncallGraph(t)
	acts, err := g.ActionsFor("service.restored")
	require.NoError(t, err)
	require.Equal(t, []string{"svc.restart"}, acts)
	_, err = g.ActionsFor("world.peace")
	require.ErrorIs(t, err, mute.ErrOutOfScope)
}

// TestDependenciesCycleSafe: a dependency search over a cycle ends, visits
// each node once, and stops at its bound.
func TestDependenciesCycleSafe(t *testing.T) {
	g := mute.NewGraph()
	const n = 50
	for i := range n {
		require.NoError(t, g.AddNode(mute.Node{ID: fmt.Sprint("a", i), Kind: mute.NodeAction}))
	}
	for i := range n {
		require.NoError(t, g.AddEdge(mute.Edge{From: fmt.Sprint("a", i), To: fmt.Sprint("a", (i+1)%n), Kind: mute.EdgeDependsOn}))
		require.NoError(t, g.AddEdge(mute.Edge{From: fmt.Sprint("a", i), To: fmt.Sprint("a", (i+7)%n), Kind: mute.EdgeRequires}))
	}
	deps, truncated := g.Dependencies("a0", 0)
	require.False(t, truncated)
	require.Len(t, deps, n-1, "every other node, once")
	require.NotContains(t, deps, "a0")

	deps, truncated = g.Dependencies("a0", 10)
	require.True(t, truncated)
	require.Len(t, deps, 10)

	deps, truncated = g.Dependencies("a0", 0, mute.EdgeProduces)
	require.False(t, truncated)
	require.Empty(t, deps)
}

func TestValidateGraphRules(t *testing.T) {
	ctx := context.Background()
	g := mute.NewGraph()
	for _, n := range []mute.Node{
		{ID: "take", Kind: mute.NodeAction},
		{ID: "make", Kind: mute.NodeAction},
		{ID: "after", Kind: mute.NodeAction},
		{ID: "quiet", Kind: mute.NodeAction},
		{ID: "token", Kind: mute.NodeResource},
		{ID: "maintenance", Kind: mute.NodeContext},
	} {
		require.NoError(t, g.AddNode(n))
	}
	for _, e := range []mute.Edge{
		{From: "make", To: "token", Kind: mute.EdgeProduces},
		{From: "take", To: "token", Kind: mute.EdgeConsumes},
		{From: "after", To: "make", Kind: mute.EdgeDependsOn},
		{From: "quiet", To: "maintenance", Kind: mute.EdgeConflictsWith},
	} {
		require.NoError(t, g.AddEdge(e))
	}
	tests := []struct {
		name  string
		plan  string
		facts mute.Facts
		want  []mute.Violation
	}{
		{name: "produce then consume", plan: `{"id": "p", "steps": [{"id": "1", "action": "make"}, {"id": "2", "action": "take", "dependsOn": ["1"]}]}`},
		{name: "consume twice", plan: `{"id": "p", "steps": [{"id": "1", "action": "make"}, {"id": "2", "action": "take", "dependsOn": ["1"]}, {"id": "3", "action": "take", "dependsOn": ["2"]}]}`,
			want: []mute.Violation{{Kind: mute.ViolationMissingRequirement, Step: "3", Node: "token"}}},
		{name: "consume from the context", plan: `{"id": "p", "steps": [{"id": "1", "action": "take"}]}`, facts: mute.Facts{"token": "t1"}},
		{name: "depends_on satisfied", plan: `{"id": "p", "steps": [{"id": "1", "action": "make"}, {"id": "2", "action": "after", "dependsOn": ["1"]}]}`},
		{name: "depends_on missing", plan: `{"id": "p", "steps": [{"id": "2", "action": "after"}]}`,
			want: []mute.Violation{{Kind: mute.ViolationMissingRequirement, Step: "2", Node: "make"}}},
		{name: "conflict with the context", plan: `{"id": "p", "steps": [{"id": "1", "action": "quiet"}]}`, facts: mute.Facts{"maintenance": "on"},
			want: []mute.Violation{{Kind: mute.ViolationConflict, Step: "1", Node: "maintenance"}}},
		{name: "goal not produced by a step", plan: `{"id": "p", "goal": "token", "steps": [{"id": "1", "action": "quiet"}]}`,
			want: []mute.Violation{{Kind: mute.ViolationMissingRequirement, Node: "token"}}},
		{name: "cycle", plan: `{"id": "p", "steps": [{"id": "1", "action": "make", "dependsOn": ["2"]}, {"id": "2", "action": "make", "dependsOn": ["1"]}]}`,
			want: []mute.Violation{{Kind: mute.ViolationCycle}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p mute.Plan
			require.NoError(t, jsonUnmarshal(tt.plan, &p))
			got := mute.Validate(ctx, &p, g, tt.facts)
			require.Len(t, got, len(tt.want), "%v", got)
			for i := range tt.want {
				require.Equal(t, tt.want[i].Kind, got[i].Kind)
				require.Equal(t, tt.want[i].Step, got[i].Step)
				require.Equal(t, tt.want[i].Node, got[i].Node)
				require.NotEmpty(t, got[i].Message)
				require.NotEmpty(t, got[i].String())
			}
		})
	}
}

func TestValidateBoundsViolations(t *testing.T) {
	var p mute.Plan
	p.ID = "many"
	for i := range 3 * mute.MaxViolations {
		p.Steps = append(p.Steps, mute.Step{ID: fmt.Sprint(i), Action: "ghost"})
	}
	vs := mute.Validate(context.Background(), &p, mute.NewGraph(), nil)
	require.Len(t, vs, mute.MaxViolations)
	require.Equal(t, mute.ViolationTruncated, vs[len(vs)-1].Kind)
}
