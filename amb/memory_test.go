package amb_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/amb/ambtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMemoryConformance(t *testing.T) {
	ambtest.Run(t, func(t *testing.T, o amb.Options) amb.Bus {
		return amb.NewMemory(&amb.MemoryOptions{Options: o})
	})
}
