package scak

import (
	"time"

	"github.com/agent-os/agentos"
)

// Kind is the kind of failure a detector found in an outcome.
type Kind string

const (
	// KindGiveUp is an answer that gives up ("no data found", "I cannot
	// answer that") where an answer was expected.
	KindGiveUp Kind = "give_up"
	// KindToolError is a tool call that returned an error.
	KindToolError Kind = "tool_error"
	// KindDenied is a syscall that policy refused.
	KindDenied Kind = "denied"
	// KindLoop is the same syscall repeated past the loop threshold.
	KindLoop Kind = "loop"
	// KindJudged is a failure a model judge found that no pattern did.
	KindJudged Kind = "judged"
)

// Failure is one failure found in an agent's outcome: what kind, where, and
// the evidence that made the detector say so. Detectors produce failures;
// the differential audit, triage and patches consume them.
type Failure struct {
	Kind  Kind
	Agent agentos.AgentID
	// Trace is the kernel trace id of the syscall whose outcome failed
	// ("" for an answer checked outside a syscall).
	Trace string
	// Op and Tool name the syscall (Tool is "" unless Op is exec).
	Op   agentos.Op
	Tool string
	// Task names what the agent was asked to do, when the caller knows it;
	// patches are keyed by agent and task. The Monitor takes it from the
	// syscall's context (WithTask).
	Task string
	// Rule is the policy rule of a denial, or the name of the pattern
	// family or judge that matched.
	Rule string
	// Evidence is the matched text, the error, or the repeated call, cut
	// to a bounded length.
	Evidence string
	// Confidence is in [0, 1]: 1 for tool errors, denials and loops, the
	// family's or judge's confidence for give-ups.
	Confidence float64
	At         time.Time
}
