package mute

import (
	"fmt"
	"slices"
)

// NodeKind says what a graph node stands for.
type NodeKind string

// The kinds of node.
const (
	NodeAction        NodeKind = "action"        // a tool a step may call; its id is the tool name
	NodeConstraint    NodeKind = "constraint"    // a rule the plan must keep (satisfied by a fact)
	NodePrecondition  NodeKind = "precondition"  // a fact that must hold with a given value
	NodePostcondition NodeKind = "postcondition" // a fact an action brings about
	NodeContext       NodeKind = "context"       // a fact about the world (present or not)
	NodeResource      NodeKind = "resource"      // a thing actions use, produce and consume
)

// EdgeKind says how two nodes relate.
type EdgeKind string

// The kinds of edge; From is always the action (or the dependent node).
const (
	EdgeRequires      EdgeKind = "requires"       // From needs To present (a precondition: holding)
	EdgeEnables       EdgeKind = "enables"        // From makes To possible (informational)
	EdgeConflictsWith EdgeKind = "conflicts_with" // From and To cannot both be in force
	EdgeDependsOn     EdgeKind = "depends_on"     // action From must run after action To
	EdgeProduces      EdgeKind = "produces"       // From brings To about
	EdgeConsumes      EdgeKind = "consumes"       // From needs To and uses it up
)

// Bounds on a graph.
const (
	MaxNodes       = 100_000
	MaxEdges       = 1_000_000
	MaxSearchNodes = 100_000 // nodes one dependency search visits at most
)

// Node is one node of the knowledge graph.
type Node struct {
	ID   string
	Kind NodeKind
	// Fact and Want, for a precondition: it holds when the context facts
	// map Fact to Want. For other kinds Fact is unused and the node is
	// present when the facts hold its ID.
	Fact, Want string
	// Description is for people reading the graph.
	Description string
}

// Edge is one directed edge.
type Edge struct {
	From, To string
	Kind     EdgeKind
}

// Graph is a knowledge graph of actions, constraints, conditions, context
// and resources. Build it with [Graph.AddNode] and [Graph.AddEdge], then
// read it from any number of goroutines: it is safe for concurrent reads,
// not for reads concurrent with additions.
type Graph struct {
	nodes map[string]*Node
	out   map[string][]Edge
	edges int
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	return &Graph{nodes: map[string]*Node{}, out: map[string][]Edge{}}
}

func validKind(k NodeKind) bool {
	switch k {
	case NodeAction, NodeConstraint, NodePrecondition, NodePostcondition, NodeContext, NodeResource:
		return true
	}
	return false
}

func validEdge(k EdgeKind) bool {
	switch k {
	case EdgeRequires, EdgeEnables, EdgeConflictsWith, EdgeDependsOn, EdgeProduces, EdgeConsumes:
		return true
	}
	return false
}

// AddNode adds n.
//
// Errors: [ErrInvalidGraph] for an empty or over-long id, an unknown kind,
// a precondition without a fact, a duplicate id, or more than [MaxNodes].
func (g *Graph) AddNode(n Node) error {
	switch {
	case n.ID == "" || len(n.ID) > MaxIDLen:
		return fmt.Errorf("%w: node id %q is empty or longer than %d bytes", ErrInvalidGraph, n.ID, MaxIDLen)
	case !validKind(n.Kind):
		return fmt.Errorf("%w: node %q has unknown kind %q", ErrInvalidGraph, n.ID, n.Kind)
	case n.Kind == NodePrecondition && n.Fact == "":
		return fmt.Errorf("%w: precondition %q names no fact", ErrInvalidGraph, n.ID)
	case g.nodes[n.ID] != nil:
		return fmt.Errorf("%w: duplicate node %q", ErrInvalidGraph, n.ID)
	case len(g.nodes) >= MaxNodes:
		return fmt.Errorf("%w: more than %d nodes", ErrInvalidGraph, MaxNodes)
	}
	g.nodes[n.ID] = &n
	return nil
}

// AddEdge adds e. Both ends must already be nodes.
//
// Errors: [ErrInvalidGraph] for an unknown kind or end, a depends_on edge
// between nodes that are not both actions, or more than [MaxEdges].
func (g *Graph) AddEdge(e Edge) error {
	from, to := g.nodes[e.From], g.nodes[e.To]
	switch {
	case !validEdge(e.Kind):
		return fmt.Errorf("%w: edge %s->%s has unknown kind %q", ErrInvalidGraph, e.From, e.To, e.Kind)
	case from == nil || to == nil:
		return fmt.Errorf("%w: edge %s -%s-> %s names an unknown node", ErrInvalidGraph, e.From, e.Kind, e.To)
	case e.Kind == EdgeDependsOn && (from.Kind != NodeAction || to.Kind != NodeAction):
		return fmt.Errorf("%w: depends_on edge %s->%s must join two actions", ErrInvalidGraph, e.From, e.To)
	case g.edges >= MaxEdges:
		return fmt.Errorf("%w: more than %d edges", ErrInvalidGraph, MaxEdges)
	}
	g.out[e.From] = append(g.out[e.From], e)
	g.edges++
	return nil
}

// Node returns the node with id, or nil.
func (g *Graph) Node(id string) *Node {
	n := g.nodes[id]
	if n == nil {
		return nil
	}
	c := *n
	return &c
}

// Edges returns the edges leaving id of the given kind, in the order added.
func (g *Graph) Edges(id string, kind EdgeKind) []Edge {
	var es []Edge
	for _, e := range g.out[id] {
		if e.Kind == kind {
			es = append(es, e)
		}
	}
	return es
}

// ActionsFor returns the actions that produce goal, sorted.
//
// Errors: [ErrOutOfScope] when no action produces it (the graph has no
// answer, and none is guessed).
func (g *Graph) ActionsFor(goal string) ([]string, error) {
	var acts []string
	for id, n := range g.nodes {
		if n.Kind != NodeAction {
			continue
		}
		for _, e := range g.out[id] {
			if e.Kind == EdgeProduces && e.To == goal {
				acts = append(acts, id)
				break
			}
		}
	}
	if len(acts) == 0 {
		return nil, fmt.Errorf("%w: no action produces %q", ErrOutOfScope, goal)
	}
	slices.Sort(acts)
	return acts, nil
}

// Dependencies returns every node reachable from id over edges of the
// given kinds (all of requires and depends_on when kinds is empty),
// breadth first, without id itself. The search is cycle-safe (each node is
// visited once) and bounded: it stops after limit nodes (at most
// [MaxSearchNodes]; limit <= 0 means that), and then reports truncated.
func (g *Graph) Dependencies(id string, limit int, kinds ...EdgeKind) (deps []string, truncated bool) {
	if limit <= 0 || limit > MaxSearchNodes {
		limit = MaxSearchNodes
	}
	if len(kinds) == 0 {
		kinds = []EdgeKind{EdgeRequires, EdgeDependsOn}
	}
	seen := map[string]bool{id: true}
	queue := []string{id}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, e := range g.out[cur] {
			if !slices.Contains(kinds, e.Kind) || seen[e.To] {
				continue
			}
			if len(deps) == limit {
				return deps, true
			}
			seen[e.To] = true
			deps = append(deps, e.To)
			queue = append(queue, e.To)
		}
	}
	return deps, false
}
