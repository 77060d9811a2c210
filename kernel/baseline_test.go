package kernel_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
)

// With no policy option the kernel loads its baseline: own memory mounts
// only; every tool call and message denied by named rules; default deny.
func TestBaselinePolicy(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t)

	a := k.MustSpawn("agent-1")
	kerneltest.Allowed(t, a.Write(ctx, "/mem/working/task.txt", []byte("Analyze data")))
	data, err := a.Read(ctx, "/mem/working/task.txt")
	require.NoError(t, err)
	assert.Equal(t, "Analyze data", string(data))
	require.NoError(t, a.Append(ctx, "/mem/episodic/log", []byte("one\n")))
	require.NoError(t, a.Write(ctx, "/state/plan", []byte("p")))
	_, err = a.List(ctx, "/")
	require.NoError(t, err)
	src, err := a.Read(ctx, "/policy/kernel-baseline.yaml")
	require.NoError(t, err)
	assert.Equal(t, string(kernel.Baseline()), string(src))
	id, err := a.Checkpoint(ctx)
	require.NoError(t, err)
	require.NoError(t, a.Rollback(ctx, id))
	assert.Equal(t, "baseline-checkpoints", k.LastDecision("agent-1").Rule)

	// A message is denied by its named rule and kills the agent.
	_, err = a.Do(ctx, agentos.Action{Op: agentos.OpSend, Target: "agent-2"}, func(context.Context) (any, error) {
		t.Error("the message was delivered")
		return nil, nil
	})
	kerneltest.DeniedBy(t, err, "baseline-no-messages")
	_, err = a.Read(ctx, "/mem/working/task.txt")
	kerneltest.Killed(t, err)

	// A tool call is denied by its named rule, even for a registered tool.
	b := k.MustSpawn("agent-2")
	_, err = b.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
	kerneltest.DeniedBy(t, err, "baseline-no-tools")

	// Anything else falls to the default effect.
	c := k.MustSpawn("agent-3")
	err = c.Write(ctx, "/policy/mine.yaml", []byte("x"))
	kerneltest.DeniedBy(t, err, "")
	d := k.MustSpawn("agent-4")
	_, err = d.Read(ctx, "/etc/passwd")
	kerneltest.DeniedBy(t, err, "")
}

func TestBaselineRulesAreCheckpointAndMemory(t *testing.T) {
	doc, err := policy.Parse(kernel.BaselineName, kernel.Baseline())
	require.NoError(t, err)
	var names []string
	for _, r := range doc.Rules {
		names = append(names, r.Name)
	}
	assert.Contains(t, names, "baseline-no-tools")
	assert.Contains(t, names, "baseline-no-messages")
	assert.Equal(t, agentos.Deny, doc.DefaultEffect)
}

// The baseline's decisions are recorded, named and in order.
func TestBaselineDecisionsRecorded(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t)
	a := k.MustSpawn("agent-1")
	require.NoError(t, a.Write(ctx, "/mem/working/a", []byte("1")))
	_, err := a.Exec(ctx, "anything", nil)
	require.True(t, errors.Is(err, agentos.ErrDenied))

	ds := k.Decisions("agent-1")
	require.Len(t, ds, 2)
	assert.Equal(t, agentos.OpWrite, ds[0].Op)
	assert.Equal(t, agentos.Allow, ds[0].Effect)
	assert.Equal(t, kernel.StatusPermitted, ds[0].Status)
	assert.Equal(t, agentos.OpExec, ds[1].Op)
	assert.Equal(t, "anything", ds[1].Tool)
	assert.Equal(t, agentos.Deny, ds[1].Effect)
	assert.Equal(t, recorder.StatusDenied, ds[1].Status)
	assert.Equal(t, "baseline-no-tools", ds[1].Rule)
	k.Verify()
}
