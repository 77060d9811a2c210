// Package mute decouples reasoning from execution: a reasoning agent
// proposes a [Plan], and an execution agent runs it only once the plan has
// been checked against a knowledge [Graph] and the policy engine, and
// accepted.
//
// A [Session] holds one plan through its states (see [CanTransition] for
// the table): initiated, negotiating (proposed, perhaps revised),
// validated, accepted, executing, and one of rejected, completed or
// failed. Any other transition is refused with a [*TransitionError].
//
// [Session.Validate] refuses a plan before its first step runs when
// [Validate] finds a violation in the graph (an action the graph does not
// know, a requirement the context does not satisfy, a precondition whose
// fact is stale, a conflict, a goal no action produces: [ErrOutOfScope])
// or when [DryRun] finds a step policy would not permit. The dry run
// builds each step's action as kernel.Agent.Exec would (op exec, tool
// name and version, arguments, the agent's identity, the registry's
// description of the tool) and asks the evaluator without executing or
// recording anything. [Session.Execute] then runs the steps through the
// execution agent's kernel.Agent.Exec, so each is governed and recorded as
// any syscall; the first step that fails fails the plan and stops it.
//
// [DecodePlan] reads the reasoning agent's JSON strictly and within
// bounds ([MaxSteps], [MaxPlanBytes]).
//
// # Concurrency
//
// A [Graph] is safe for concurrent reads once built; a [Session] is safe
// for concurrent use; [Validate], [DryRun] and [Execute] start no
// goroutines.
//
// # Caveats
//
// The dry run decides with the facts of the moment: a policy that depends
// on time, trust or rate limits may decide differently when the step runs,
// and the kernel's decision at run time is the one that counts. A step
// that needs approval is refused by the dry run (it cannot ask the
// approver). An evaluator with an Explain method (*policy.Engine) is asked
// through it, so the dry run spends no rate-limit tokens; Explain
// evaluates every candidate rule, which makes the dry run slower than
// Decide.
package mute
