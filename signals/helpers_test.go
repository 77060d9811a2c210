package signals_test

import (
	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/signals"
)

// newDispatcher is signals.New for options that cannot fail.
func newDispatcher(agent agentos.AgentID, opts ...signals.Option) *signals.Dispatcher {
	d, err := signals.New(agent, opts...)
	if err != nil {
		panic(err)
	}
	return d
}
