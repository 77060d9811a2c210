package kernel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/policy"
)

func TestKernelApprove(t *testing.T) {
	ctx := context.Background()
	act := agentos.Action{Agent: "ops", Op: agentos.OpWrite, Path: "/policy/next.yaml"}
	d := agentos.Decision{Effect: agentos.Approve, Rule: "policy-change"}

	k := kerneltest.New(t)
	ok, err := k.Approve(ctx, act, d)
	require.False(t, ok)
	require.ErrorIs(t, err, kernel.ErrNoApprover)

	tests := []struct {
		name    string
		fn      kernel.Approver
		ok      bool
		wantErr bool
	}{
		{"yes", func(context.Context, agentos.Action, agentos.Decision) (bool, error) { return true, nil }, true, false},
		{"no", func(context.Context, agentos.Action, agentos.Decision) (bool, error) { return false, nil }, false, false},
		{"error", func(context.Context, agentos.Action, agentos.Decision) (bool, error) {
			return true, errors.New("pager down")
		}, false, true},
		{"panic", func(context.Context, agentos.Action, agentos.Decision) (bool, error) { panic("boom") }, false, true},
		{"timeout", func(ctx context.Context, _ agentos.Action, _ agentos.Decision) (bool, error) {
			<-ctx.Done()
			return true, nil
		}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen agentos.Action
			fn := func(ctx context.Context, a agentos.Action, d agentos.Decision) (bool, error) {
				seen = a
				return tt.fn(ctx, a, d)
			}
			k := kerneltest.New(t, kernel.WithApprover(fn, 50*time.Millisecond))
			ok, err := k.Approve(ctx, act, d)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.wantErr, err != nil, "%v", err)
			require.Equal(t, act.Path, seen.Path)
		})
	}
}

func TestKernelPolicyDocuments(t *testing.T) {
	k := kerneltest.New(t, kerneltest.Policy(testPolicy))
	docs := k.PolicyDocuments()
	require.Len(t, docs, 1)
	require.Equal(t, "test", docs[0].Name)

	next, err := policy.Parse("next.yaml", []byte(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: next, version: "2"}
spec:
  defaultEffect: deny
  rules:
    - {name: read, effect: allow, when: 'action.op == "read"'}
`))
	require.NoError(t, err)
	require.NoError(t, k.ReloadPolicy(context.Background(), []*policy.Document{next}))
	docs = k.PolicyDocuments()
	require.Len(t, docs, 1)
	require.Equal(t, "next", docs[0].Name)
}
