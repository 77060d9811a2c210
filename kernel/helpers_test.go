package kernel_test

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// testPolicy has allow, deny (kill and refuse), approve and rate-limited
// rules.
const testPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: test, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: memory
      effect: allow
      when: >-
        action.op in ["read", "write", "append", "stat", "list", "delete", "checkpoint", "rollback"] &&
        (path.under(action.path, "/mem") || path.under(action.path, "/state"))
    - name: read-policy
      effect: allow
      when: action.op in ["read", "stat", "list"] && path.under(action.path, "/policy")
    - name: sql
      effect: allow
      when: action.op == "exec" && action.tool == "sql.query"
    - name: no-destructive-sql
      effect: deny
      severity: critical
      when: action.op == "exec" && action.tool == "sql.query" && sql.destructive(action.args.query)
      message: destructive SQL is not allowed
    - name: payments-approval
      effect: approve
      when: action.op == "exec" && action.tool == "payments.send"
    - name: secrets
      effect: deny
      onDeny: refuse
      when: path.under(action.path, "/mem/working/secret")
      message: secrets are off limits
    - name: search
      effect: allow
      when: action.op == "exec" && action.tool == "web.search"
      limit: {rate: 2, per: 1m}
`

// counter is an instrumented tool: it counts its runs.
type counter struct {
	runs atomic.Int64
	mu   sync.Mutex
	args []map[string]any
}

func (c *counter) tool(ctx context.Context, args map[string]any) (any, error) {
	c.runs.Add(1)
	c.mu.Lock()
	c.args = append(c.args, args)
	c.mu.Unlock()
	return "rows: 1", nil
}

func newTestKernel(t *testing.T, opts ...kernel.Option) (*kerneltest.Kernel, *counter) {
	t.Helper()
	c := &counter{}
	all := append([]kernel.Option{
		kerneltest.Policy(testPolicy),
		kernel.WithTool("sql.query", c.tool),
		kernel.WithTool("payments.send", c.tool),
		kernel.WithTool("web.search", c.tool),
	}, opts...)
	return kerneltest.New(t, all...), c
}

// exists reports whether the agent's namespace holds a file at p (a
// namespace path without the leading slash, as io/fs wants it).
func exists(t *testing.T, k *kerneltest.Kernel, id agentos.AgentID, p string) bool {
	t.Helper()
	fsys, err := k.Inspect(id)
	require.NoError(t, err)
	_, err = fs.Stat(fsys, p)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	require.NoError(t, err)
	return true
}

// failingSink fails the appends it is told to fail and passes the others to
// a recorder.
type failingSink struct {
	rec  *recorder.Recorder
	fail func(recorder.Entry) bool
}

var errSinkDown = errors.New("sink down")

func (s *failingSink) Append(ctx context.Context, e recorder.Entry) (uint64, error) {
	if s.fail(e) {
		return 0, errSinkDown
	}
	return s.rec.Append(ctx, e)
}

func mathNaN() float64 { var z float64; return z / z }

// signalsOf returns agent id's signal dispatcher, as the host sees it.
func signalsOf(t testing.TB, k *kerneltest.Kernel, id agentos.AgentID) *signals.Dispatcher {
	t.Helper()
	d, err := k.SignalDispatcher(id)
	require.NoError(t, err)
	return d
}
