package kernel

import (
	"context"
	"fmt"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// Syscall is what an [Observer] is told of one syscall that reached a policy
// decision, once its entries are recorded.
type Syscall struct {
	// Action is the action as policy saw it: its trace id, agent, time,
	// cleaned path and arguments.
	Action agentos.Action
	// Decision is the policy decision (after the approver, if one was
	// asked).
	Decision agentos.Decision
	// Permitted reports whether the syscall was allowed to run.
	Permitted bool
	// Status is the outcome entry's status (ok, error, canceled, killed,
	// shadow), or recorder.StatusDenied when the syscall was refused.
	Status recorder.Status
	// Result is what the syscall returned to the agent: a tool's result, the
	// bytes of a read, a search's hits; nil when it was refused or failed.
	// The kernel shares it with the agent: an observer must not modify it.
	Result any
	// Err is the error the syscall returned to the agent, if any.
	Err error
	// Duration runs from the call to the outcome.
	Duration time.Duration
}

// Observer is told of every syscall that reached a policy decision —
// permitted or refused — after its entries are recorded and the agent has
// left the signal gate, on the agent's own goroutine, before the syscall
// returns to the agent. It sees what the recorder does not keep (the result
// itself), which is what outcome-level checks such as failure and loop
// detection need. An observer must be fast and safe for concurrent use (the
// kernel's agents run concurrently); it may signal the agent it observes
// (a SIGLOOP, say), which takes effect at the agent's next syscall. A panic
// in an observer is recovered and logged; it does not change the syscall's
// result.
type Observer func(ctx context.Context, s Syscall)

// WithObserver adds an observer of every decided syscall; observers run in
// the order given.
func WithObserver(fn Observer) Option {
	return func(c *config) error {
		if fn == nil {
			return fmt.Errorf("kernel: %w: nil observer", agentos.ErrInvalid)
		}
		c.observers = append(c.observers, fn)
		return nil
	}
}

// observe tells the kernel's observers of one syscall.
func (k *Kernel) observe(ctx context.Context, s *Syscall) {
	for _, fn := range k.observers {
		k.callObserver(ctx, fn, s)
	}
}

func (k *Kernel) callObserver(ctx context.Context, fn Observer, s *Syscall) {
	defer func() {
		if r := recover(); r != nil {
			k.log.Error("kernel: observer panicked", "agent", s.Action.Agent, "trace", s.Action.ID, "panic", fmt.Sprint(r))
		}
	}()
	fn(ctx, *s)
}

// MaxReapFuncs bounds the functions OnReap holds at once.
const MaxReapFuncs = 16

// OnReap registers fn to be told of every agent Reap removes from now on,
// after its "reaped" entry is recorded, on Reap's goroutine: whatever keeps
// state per agent id (a monitor's loop history, say) forgets it there, so
// that an agent spawned later under the same id starts afresh. The
// returned function removes fn and may be called more than once. A panic
// in fn is recovered and logged. At most [MaxReapFuncs] are registered at
// once; past that, and for a nil fn, OnReap fails with an error wrapping
// agentos.ErrInvalid. Safe for concurrent use.
func (k *Kernel) OnReap(fn func(agentos.AgentID)) (remove func(), err error) {
	if fn == nil {
		return nil, fmt.Errorf("kernel: %w: nil reap function", agentos.ErrInvalid)
	}
	remove, full := k.reaps.Add(fn, MaxReapFuncs)
	if full {
		return nil, fmt.Errorf("kernel: %w: %d reap functions registered already", agentos.ErrInvalid, MaxReapFuncs)
	}
	return remove, nil
}

// reaped tells the OnReap functions of agent id.
func (k *Kernel) reaped(id agentos.AgentID) {
	k.reaps.Each(func(fn func(agentos.AgentID)) {
		defer func() {
			if r := recover(); r != nil {
				k.log.Error("kernel: reap function panicked", "agent", id, "panic", fmt.Sprint(r))
			}
		}()
		fn(id)
	})
}
