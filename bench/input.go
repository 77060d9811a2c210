package bench

import (
	"context"
	"time"

	"github.com/agent-os/agentos"
)

// Subject is the agent making a call, as the three engines see it. It
// mirrors policy.Subject so that the OPA and Cedar adapters do not depend on
// the agentos policy package.
type Subject struct {
	ID     string
	Role   string
	Trust  float64
	Labels map[string]string
}

// Input is one decision request: the action, the agent and the time.
type Input struct {
	Action agentos.Action
	Agent  Subject
	Now    time.Time
}

// Decider is what the three engine adapters have in common.
type Decider interface {
	// Decide returns the effect of the combined policy on in. An error
	// means the engine could not decide; the effect is then Deny.
	Decide(ctx context.Context, in Input) (agentos.Effect, error)
}
