package policy

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/agent-os/agentos"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const header = "apiVersion: agentos/v1\nkind: Policy\n"

// doc parses one document or fails the test.
func doc(t testing.TB, name, body string) *Document {
	t.Helper()
	d, err := Parse(name+".yaml", []byte(header+"metadata: {name: "+name+"}\n"+body))
	require.NoError(t, err)
	return d
}

func engine(t testing.TB, opts []Option, docs ...*Document) *Engine {
	t.Helper()
	e, err := NewEngine(docs, opts...)
	require.NoError(t, err)
	return e
}

func decide(t testing.TB, e *Engine, in Input) agentos.Decision {
	t.Helper()
	d, err := e.Decide(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, e.Version(), d.PolicyVersion)
	return d
}

func exec(tool string, args map[string]any) Input {
	return Input{Action: agentos.Action{Agent: "a1", Op: agentos.OpExec, Tool: tool, Args: args},
		Agent: Subject{ID: "a1", Role: "analyst", Trust: 0.5}}
}

// fakeClock is a settable clock for rate-limit tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
