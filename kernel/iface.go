package kernel

import (
	"context"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
)

// Evaluator decides actions. *policy.Engine is one. Decide must be safe for
// concurrent use; when it returns an error the kernel denies the action,
// whatever decision came with the error.
type Evaluator interface {
	Decide(ctx context.Context, in policy.Input) (agentos.Decision, error)
}

// Optional capabilities of an Evaluator, found by type assertion.
type (
	// documenter is an Evaluator that can list its documents, for the
	// read-only /policy/ view.
	documenter interface {
		Documents() []*policy.Document
	}
	// reloader is an Evaluator whose documents can be swapped atomically.
	reloader interface {
		Reload(docs []*policy.Document) error
	}
)

// Sink receives the kernel's flight-recorder entries. *recorder.Recorder is
// one. Append must be safe for concurrent use and must return only once the
// entry is as durable as the sink promises (WriteAhead: on disk; Buffered:
// queued in order); an error makes the kernel fail the syscall closed.
type Sink interface {
	Append(ctx context.Context, e recorder.Entry) (uint64, error)
}

// flusher is a Sink that can flush buffered entries; Close calls it.
type flusher interface {
	Flush(ctx context.Context) error
}
