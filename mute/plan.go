package mute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"unicode/utf8"
)

// Bounds on a decoded plan.
const (
	MaxSteps     = 10_000   // steps in one plan
	MaxPlanBytes = 16 << 20 // bytes of plan JSON
	MaxIDLen     = 256      // bytes of a plan, step or action id
	MaxArgsDepth = 32       // nesting of a step's arguments
)

// Plan is a reasoning agent's proposal: the steps that reach Goal. A step
// runs only after every step it depends on.
type Plan struct {
	ID    string `json:"id"`
	Goal  string `json:"goal"`
	Steps []Step `json:"steps"`
}

// Step is one tool call of a plan.
type Step struct {
	ID string `json:"id"`
	// Action is the tool the step calls ("name" or "name@constraint"),
	// which is also its action node in the [Graph].
	Action    string         `json:"action"`
	Args      map[string]any `json:"args,omitempty"`
	DependsOn []string       `json:"dependsOn,omitempty"`
}

// DecodePlan decodes a plan from the reasoning agent's JSON, strictly: one
// JSON object of at most [MaxPlanBytes], no unknown fields, no trailing
// data, 1 to [MaxSteps] steps with unique non-empty ids, every dependency
// naming another step, no dependency cycle, arguments nested at most
// [MaxArgsDepth] deep. Numbers in arguments become int64 when they are
// integers that fit, else float64, as the kernel would pass them.
//
// Errors: every error wraps [ErrInvalidPlan].
func DecodePlan(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxPlanBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading: %w", ErrInvalidPlan, err)
	}
	if len(data) > MaxPlanBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrInvalidPlan, MaxPlanBytes)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrInvalidPlan)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPlan, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the plan", ErrInvalidPlan)
	}
	for i := range p.Steps {
		args, err := normalizeArgs(p.Steps[i].Args)
		if err != nil {
			return nil, fmt.Errorf("%w: step %q: %w", ErrInvalidPlan, p.Steps[i].ID, err)
		}
		p.Steps[i].Args = args
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Check reports whether p is well formed: an id, 1 to [MaxSteps] steps with
// unique non-empty ids and actions, every dependency naming another step,
// and no dependency cycle.
//
// Errors: every error wraps [ErrInvalidPlan].
func (p *Plan) Check() error {
	_, err := p.Order()
	return err
}

// Order returns the indexes of p's steps in execution order: every step
// after the steps it depends on, and otherwise in the order written.
//
// Errors: those of [Plan.Check].
func (p *Plan) Order() ([]int, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil plan", ErrInvalidPlan)
	}
	if err := checkID("plan id", p.ID); err != nil {
		return nil, err
	}
	if len(p.Goal) > MaxIDLen {
		return nil, fmt.Errorf("%w: goal longer than %d bytes", ErrInvalidPlan, MaxIDLen)
	}
	n := len(p.Steps)
	if n == 0 {
		return nil, fmt.Errorf("%w: plan %q has no steps", ErrInvalidPlan, p.ID)
	}
	if n > MaxSteps {
		return nil, fmt.Errorf("%w: %d steps, more than %d", ErrInvalidPlan, n, MaxSteps)
	}
	index := make(map[string]int, n)
	for i := range p.Steps {
		s := &p.Steps[i]
		if err := checkID("step id", s.ID); err != nil {
			return nil, err
		}
		if err := checkStepAction(s); err != nil {
			return nil, err
		}
		// One map operation tests and inserts: the map grows by one
		// unless s.ID was already in it.
		index[s.ID] = i
		if len(index) != i+1 {
			return nil, fmt.Errorf("%w: duplicate step id %q", ErrInvalidPlan, s.ID)
		}
	}
	// Every dependency must name another step. When each names an
	// earlier one (a plan written in order, the common case) the order is
	// the written order: no cycle is possible, and Kahn's algorithm below,
	// taking the lowest ready index first, would return 0..n-1 too (the
	// lowest step not yet taken has all its dependencies taken). The
	// differential test TestOrderFastPath checks this against a plain
	// reference.
	forward := true
	for i := range p.Steps {
		s := &p.Steps[i]
		for _, d := range s.DependsOn {
			// A dependency on the step just before is the usual one; the
			// ids are unique (checked above), so the step whose id equals
			// d is that one, and the map need not be asked.
			if i > 0 && d == p.Steps[i-1].ID {
				continue
			}
			j, ok := index[d]
			if !ok {
				return nil, fmt.Errorf("%w: step %q depends on unknown step %q", ErrInvalidPlan, s.ID, d)
			}
			if j == i {
				return nil, fmt.Errorf("%w: step %q depends on itself", ErrInvalidPlan, s.ID)
			}
			forward = forward && j < i
		}
	}
	if forward {
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		return order, nil
	}
	// Kahn's algorithm, lowest index first, so the order is deterministic.
	indeg := make([]int, n)
	next := make([][]int, n)
	for i, s := range p.Steps {
		var seen map[string]bool // for long dependency lists only
		if len(s.DependsOn) > 16 {
			seen = make(map[string]bool, len(s.DependsOn))
		}
		for k, d := range s.DependsOn {
			j := index[d]
			// A repeated dependency counts once.
			if seen != nil {
				if seen[d] {
					continue
				}
				seen[d] = true
			} else if slices.Contains(s.DependsOn[:k], d) {
				continue
			}
			indeg[i]++
			next[j] = append(next[j], i)
		}
	}
	ready := &minHeap{}
	for i := range n {
		if indeg[i] == 0 {
			ready.push(i)
		}
	}
	order := make([]int, 0, n)
	for ready.len() > 0 {
		i := ready.pop()
		order = append(order, i)
		for _, j := range next[i] {
			if indeg[j]--; indeg[j] == 0 {
				ready.push(j)
			}
		}
	}
	if len(order) != n {
		for i := range n {
			if indeg[i] > 0 {
				return nil, fmt.Errorf("%w through step %q", ErrCycle, p.Steps[i].ID)
			}
		}
	}
	return order, nil
}

// checkStepAction is checkID for a step's action; it builds the name of
// what it checks only when there is an error to report.
func checkStepAction(s *Step) error {
	if s.Action != "" && len(s.Action) <= MaxIDLen && utf8.ValidString(s.Action) {
		return nil
	}
	return checkID("step "+s.ID+" action", s.Action)
}

func checkID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty %s", ErrInvalidPlan, what)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidPlan, what, MaxIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidPlan, what)
	}
	return nil
}

// normalizeArgs turns json.Number into int64 or float64, recursively.
func normalizeArgs(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	v, err := normalize(m, 0)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

func normalize(v any, depth int) (any, error) {
	if depth > MaxArgsDepth {
		return nil, fmt.Errorf("arguments nested deeper than %d", MaxArgsDepth)
	}
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("number %q out of range", x.String())
		}
		return f, nil
	case map[string]any:
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	case []any:
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	}
	return v, nil
}

// minHeap is a binary min-heap of step indexes.
type minHeap struct{ a []int }

func (h *minHeap) len() int { return len(h.a) }

func (h *minHeap) push(x int) {
	h.a = append(h.a, x)
	i := len(h.a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h.a[p] <= h.a[i] {
			break
		}
		h.a[p], h.a[i] = h.a[i], h.a[p]
		i = p
	}
}

func (h *minHeap) pop() int {
	top := h.a[0]
	last := len(h.a) - 1
	h.a[0] = h.a[last]
	h.a = h.a[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.a) && h.a[l] < h.a[m] {
			m = l
		}
		if r < len(h.a) && h.a[r] < h.a[m] {
			m = r
		}
		if m == i {
			return top
		}
		h.a[i], h.a[m] = h.a[m], h.a[i]
		i = m
	}
}
