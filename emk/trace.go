package emk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/agent-os/agentos"
)

// Trace bounds.
const (
	// MaxTraceDepth bounds the maxDepth of Trace.
	MaxTraceDepth = 64
	// MaxTraceNodes bounds the maxNodes of Trace.
	MaxTraceNodes = 10_000
)

// Direction is the way Trace follows causal links.
type Direction int

const (
	// Causes follows links backwards, to what an episode followed from.
	Causes Direction = iota + 1
	// Effects follows links forwards, to the episodes that followed from it.
	Effects
)

// String returns "causes" or "effects".
func (d Direction) String() string {
	switch d {
	case Causes:
		return "causes"
	case Effects:
		return "effects"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Link is an episode Trace reached: its id, its distance from the start
// and the episode it was reached from (the start for Depth 1).
type Link struct {
	ID    string
	Depth int
	Via   string
}

// Trace walks the causal links from the episode id, breadth first, in the
// direction dir, and returns each episode it reaches (the start excluded)
// once, at its least depth, nearest first (within a depth, in the order of
// the episodes they were reached from, then by id). It goes
// at most maxDepth (1..MaxTraceDepth) links deep and stops after maxNodes
// (1..MaxTraceNodes) episodes. Append cannot build a cycle (causes must
// already exist), but Trace does not rely on it: an episode already
// reached is never visited again. Errors: agentos.ErrInvalid for a bad
// direction, bound or id, agentos.ErrNotFound when id is not stored,
// agentos.ErrClosed after Close.
func (s *Store) Trace(ctx context.Context, id string, dir Direction, maxDepth, maxNodes int) ([]Link, error) {
	var q string
	switch dir {
	case Causes:
		q = "SELECT cause FROM links WHERE effect = ? ORDER BY cause"
	case Effects:
		q = "SELECT effect FROM links WHERE cause = ? ORDER BY effect"
	default:
		return nil, invalid("trace direction %s is unknown", dir)
	}
	if maxDepth < 1 || maxDepth > MaxTraceDepth {
		return nil, invalid("trace depth %d is outside 1..%d", maxDepth, MaxTraceDepth)
	}
	if maxNodes < 1 || maxNodes > MaxTraceNodes {
		return nil, invalid("trace node bound %d is outside 1..%d", maxNodes, MaxTraceNodes)
	}
	if !validID(id) {
		return nil, invalid("%q is not an episode id", id)
	}
	if err := s.enter("trace"); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var one int
	if err := s.r.QueryRowContext(ctx, existsSQL, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("emk: trace from %s: %w", id, agentos.ErrNotFound)
	} else if err != nil {
		return nil, s.wrap(err)
	}
	stmt, err := s.r.PrepareContext(ctx, q)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer stmt.Close()
	seen := map[string]bool{id: true}
	out := []Link{}
	frontier := []string{id}
	for depth := 1; depth <= maxDepth && len(frontier) > 0; depth++ {
		var next []string
		for _, from := range frontier {
			ids, err := s.neighbours(ctx, stmt, from)
			if err != nil {
				return nil, err
			}
			for _, to := range ids {
				if seen[to] {
					continue
				}
				seen[to] = true
				out = append(out, Link{ID: to, Depth: depth, Via: from})
				if len(out) == maxNodes {
					return out, nil
				}
				next = append(next, to)
			}
		}
		frontier = next
	}
	return out, nil
}

// maxFanOut bounds the links read from one episode: an episode has at most
// MaxCauses causes, but any number of effects.
const maxFanOut = MaxTraceNodes

func (s *Store) neighbours(ctx context.Context, stmt *sql.Stmt, id string) ([]string, error) {
	rows, err := stmt.QueryContext(ctx, id)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() && len(ids) < maxFanOut {
		var to string
		if err := rows.Scan(&to); err != nil {
			return nil, s.wrap(err)
		}
		ids = append(ids, to)
	}
	return ids, s.wrap(rows.Err())
}
