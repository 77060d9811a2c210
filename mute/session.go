package mute

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/policy"
)

// State is where a plan stands in its negotiation.
type State string

// The states of a [Session].
const (
	StateInitiated   State = "initiated"   // the session exists; no plan yet
	StateNegotiating State = "negotiating" // a plan is proposed (and may be revised)
	StateValidated   State = "validated"   // the graph and the policy dry run found nothing wrong
	StateAccepted    State = "accepted"    // the plan may run
	StateRejected    State = "rejected"    // terminal: the plan will not run
	StateExecuting   State = "executing"   // the execution agent is running its steps
	StateCompleted   State = "completed"   // terminal: every step ran
	StateFailed      State = "failed"      // terminal: a step failed; the rest did not run
)

// States lists every state in a stable order.
var States = []State{StateInitiated, StateNegotiating, StateValidated, StateAccepted,
	StateRejected, StateExecuting, StateCompleted, StateFailed}

// transitions is the table of legal transitions:
//
//	initiated   -> negotiating, rejected
//	negotiating -> negotiating (a revised plan), validated, rejected
//	validated   -> negotiating (a revised plan), accepted, rejected
//	accepted    -> executing
//	executing   -> completed, failed
//	rejected, completed, failed: none (terminal)
var transitions = map[State][]State{
	StateInitiated:   {StateNegotiating, StateRejected},
	StateNegotiating: {StateNegotiating, StateValidated, StateRejected},
	StateValidated:   {StateNegotiating, StateAccepted, StateRejected},
	StateAccepted:    {StateExecuting},
	StateExecuting:   {StateCompleted, StateFailed},
}

// CanTransition reports whether the table allows from -> to.
func CanTransition(from, to State) bool { return slices.Contains(transitions[from], to) }

// Terminal reports whether no transition leaves s.
func (s State) Terminal() bool { return len(transitions[s]) == 0 }

// Checker is what a session validates a plan against.
type Checker struct {
	Graph *Graph
	Facts Facts
	// Evaluator, Subject and Registry are the dry run's (see [DryRun]).
	Evaluator kernel.Evaluator
	Subject   policy.Subject
	Registry  *atr.Registry
}

// StepResult is what one executed step returned.
type StepResult struct {
	StepID string
	Tool   string
	Result any
	Err    error
}

// Session holds one plan through its states: a reasoning agent proposes
// it, [Session.Validate] checks it against the graph and runs the policy
// dry run, [Session.Accept] lets it run, and [Session.Execute] runs it
// through the execution agent. Only the transitions of the table in
// [CanTransition] happen. A Session is safe for concurrent use; Execute
// holds the session in StateExecuting, so a second Execute is refused.
type Session struct {
	mu      sync.Mutex
	id      string
	state   State
	plan    *Plan
	subject policy.Subject // the dry run's subject, once validated
	vs      []Violation
	reason  string
}

// NewSession returns a session in StateInitiated.
func NewSession(id string) *Session { return &Session{id: id, state: StateInitiated} }

// ID returns the session's id.
func (s *Session) ID() string { return s.id }

// State returns the session's state.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Violations returns the violations that rejected the plan, if any.
func (s *Session) Violations() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.vs)
}

// Plan returns the session's plan (nil before one is proposed). The caller
// must not modify it.
func (s *Session) Plan() *Plan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.plan
}

// transition moves to `to`; s.mu is held.
func (s *Session) transition(to State) error {
	if !CanTransition(s.state, to) {
		return &TransitionError{From: s.state, To: to}
	}
	s.state = to
	return nil
}

// Propose sets the plan under negotiation (a first proposal or a
// revision).
//
// Errors: a [*TransitionError] outside initiated, negotiating and
// validated; [ErrInvalidPlan] for a plan that is not well formed (the
// state does not change).
func (s *Session) Propose(p *Plan) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !CanTransition(s.state, StateNegotiating) {
		return &TransitionError{From: s.state, To: StateNegotiating}
	}
	if err := p.Check(); err != nil {
		return err
	}
	s.plan, s.vs = p, nil
	return s.transition(StateNegotiating)
}

// Validate checks the plan with [Validate] against c.Graph and c.Facts and
// with [DryRun] against c.Evaluator, as c.Subject, before any step runs.
// With no violation the session is validated; otherwise it is rejected and
// the violations are returned in a [*RejectedError].
//
// Errors: a [*TransitionError] outside negotiating; a [*RejectedError]
// (matching [ErrRejected], and [ErrOutOfScope] when the graph has no
// action for the goal); the dry run's errors, and then the session stays
// negotiating.
func (s *Session) Validate(ctx context.Context, c Checker) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != StateNegotiating {
		return &TransitionError{From: s.state, To: StateValidated}
	}
	vs := Validate(ctx, s.plan, c.Graph, c.Facts)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mute: validating: %w", context.Cause(ctx))
	}
	ds, err := DryRun(ctx, c.Evaluator, c.Subject, c.Registry, s.plan)
	if err != nil {
		return err
	}
	vs = append(vs, PolicyViolations(ds)...)
	if len(vs) > 0 {
		s.vs = vs
		s.reason = "validation"
		_ = s.transition(StateRejected)
		return &RejectedError{Violations: slices.Clone(vs)}
	}
	s.subject = c.Subject
	s.subject.Labels = maps.Clone(c.Subject.Labels)
	return s.transition(StateValidated)
}

// Accept lets a validated plan run.
//
// Errors: a [*TransitionError] outside validated.
func (s *Session) Accept() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transition(StateAccepted)
}

// Reject ends the negotiation; the plan will not run.
//
// Errors: a [*TransitionError] from accepted, executing or a terminal
// state.
func (s *Session) Reject(reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.transition(StateRejected); err != nil {
		return err
	}
	s.reason = reason
	return nil
}

// Execute runs an accepted plan through a, which must be the agent it was
// validated for (same id, role and labels). See [Execute] for how steps
// run. The session ends completed, or failed when a step fails.
//
// Errors: a [*TransitionError] outside accepted; [ErrSubject] (the session
// stays accepted); a [*StepError] matching [ErrStepFailed].
func (s *Session) Execute(ctx context.Context, a *kernel.Agent) ([]StepResult, error) {
	s.mu.Lock()
	if s.state != StateAccepted {
		defer s.mu.Unlock()
		return nil, &TransitionError{From: s.state, To: StateExecuting}
	}
	if err := sameSubject(s.subject, a); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	_ = s.transition(StateExecuting)
	plan := s.plan
	s.mu.Unlock()

	res, err := Execute(ctx, a, plan)

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		_ = s.transition(StateFailed)
		return res, err
	}
	_ = s.transition(StateCompleted)
	return res, nil
}

// Subject is a's identity as policy sees it, for [DryRun] and
// [Checker.Subject].
func Subject(a *kernel.Agent) policy.Subject {
	return policy.Subject{ID: string(a.ID()), Role: a.Role(), Trust: a.Trust(), Labels: a.Labels()}
}

func sameSubject(want policy.Subject, a *kernel.Agent) error {
	if a == nil {
		return fmt.Errorf("%w: nil agent", ErrSubject)
	}
	if string(a.ID()) != want.ID || a.Role() != want.Role || !maps.Equal(a.Labels(), want.Labels) {
		return fmt.Errorf("%w: validated for %q (role %q), executing as %q (role %q)", ErrSubject, want.ID, want.Role, a.ID(), a.Role())
	}
	return nil
}

// Execute runs plan's steps in execution order ([Plan.Order]), each one
// through a.Exec, so that each is governed by policy and recorded as
// usual. It stops at the first step that fails, and returns the results of
// the steps that ran, the failed one last. Execute does not validate:
// call it on a plan a [Session] accepted, or use [Session.Execute].
//
// Errors: [ErrInvalidPlan] for a plan that is not well formed; a
// [*StepError] (matching [ErrStepFailed] and the step's error, e.g. an
// *agentos.PolicyViolation) for a failed step; a step is not started once
// ctx has ended.
func Execute(ctx context.Context, a *kernel.Agent, plan *Plan) ([]StepResult, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: nil agent", ErrSubject)
	}
	order, err := plan.Order()
	if err != nil {
		return nil, err
	}
	results := make([]StepResult, 0, len(order))
	for _, i := range order {
		st := &plan.Steps[i]
		if err := ctx.Err(); err != nil {
			return results, &StepError{StepID: st.ID, Tool: st.Action, Err: context.Cause(ctx)}
		}
		res, err := a.Exec(ctx, st.Action, st.Args)
		results = append(results, StepResult{StepID: st.ID, Tool: st.Action, Result: res, Err: err})
		if err != nil {
			return results, &StepError{StepID: st.ID, Tool: st.Action, Err: err}
		}
	}
	return results, nil
}

// Reason says why the session was rejected ("validation" when its
// violations rejected it), or "".
func (s *Session) Reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}
