package mute_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/mute"
	"github.com/agent-os/agentos/policy"
)

// oncallPolicy lets the on-call agent inspect, fail over and restart, and
// grant read access; granting admin is a privilege escalation.
const oncallPolicy = `apiVersion: agentos/v1
kind: Policy
metadata: {name: oncall, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: oncall-tools
      effect: allow
      when: action.op == "exec" && action.tool in ["svc.status", "db.failover", "svc.restart", "cache.flush", "iam.grant"]
    - name: no-admin-grant
      effect: deny
      onDeny: refuse
      message: granting admin is a privilege escalation
      when: action.op == "exec" && action.tool == "iam.grant" && "role" in action.args && action.args["role"] == "admin"
`

var oncallTools = []string{"svc.status", "db.failover", "svc.restart", "cache.flush", "iam.grant", "k8s.scale"}

// oncallGraph is the knowledge graph of the on-call scenario.
func oncallGraph(t testing.TB) *mute.Graph {
	t.Helper()
	g := mute.NewGraph()
	for _, n := range []mute.Node{
		{ID: "svc.status", Kind: mute.NodeAction},
		{ID: "db.failover", Kind: mute.NodeAction},
		{ID: "svc.restart", Kind: mute.NodeAction},
		{ID: "cache.flush", Kind: mute.NodeAction},
		{ID: "iam.grant", Kind: mute.NodeAction},
		{ID: "incident.open", Kind: mute.NodeContext},
		{ID: "replica.healthy", Kind: mute.NodePrecondition, Fact: "replica.state", Want: "healthy"},
		{ID: "db.primary", Kind: mute.NodeResource},
		{ID: "status.report", Kind: mute.NodeResource},
		{ID: "service.restored", Kind: mute.NodePostcondition},
		{ID: "access.granted", Kind: mute.NodePostcondition},
	} {
		require.NoError(t, g.AddNode(n))
	}
	for _, e := range []mute.Edge{
		{From: "svc.status", To: "status.report", Kind: mute.EdgeProduces},
		{From: "svc.status", To: "svc.restart", Kind: mute.EdgeEnables},
		{From: "db.failover", To: "incident.open", Kind: mute.EdgeRequires},
		{From: "db.failover", To: "replica.healthy", Kind: mute.EdgeRequires},
		{From: "db.failover", To: "db.primary", Kind: mute.EdgeProduces},
		{From: "svc.restart", To: "db.primary", Kind: mute.EdgeRequires},
		{From: "svc.restart", To: "svc.status", Kind: mute.EdgeDependsOn},
		{From: "svc.restart", To: "service.restored", Kind: mute.EdgeProduces},
		{From: "cache.flush", To: "db.failover", Kind: mute.EdgeConflictsWith},
		{From: "iam.grant", To: "incident.open", Kind: mute.EdgeRequires},
		{From: "iam.grant", To: "access.granted", Kind: mute.EdgeProduces},
	} {
		require.NoError(t, g.AddEdge(e))
	}
	return g
}

// rig is a kernel with the on-call tools, counting their calls, and the
// policy engine it decides with.
type rig struct {
	k      *kerneltest.Kernel
	engine *policy.Engine
	mu     sync.Mutex
	calls  map[string]int
}

func newRig(t testing.TB) *rig {
	t.Helper()
	doc, err := policy.Parse("oncall.yaml", []byte(oncallPolicy))
	require.NoError(t, err)
	eng, err := policy.NewEngine([]*policy.Document{doc})
	require.NoError(t, err)
	r := &rig{engine: eng, calls: map[string]int{}}
	opts := []kernel.Option{kernel.WithPolicy(eng)}
	for _, name := range oncallTools {
		opts = append(opts, kernel.WithTool(name, func(ctx context.Context, args map[string]any) (any, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.calls[name]++
			return name + " ok", nil
		}))
	}
	r.k = kerneltest.New(t, opts...)
	return r
}

func (r *rig) called() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += c
	}
	return n
}

func (r *rig) checker(a *kernel.Agent, g *mute.Graph, facts mute.Facts) mute.Checker {
	return mute.Checker{Graph: g, Facts: facts, Evaluator: r.engine, Subject: mute.Subject(a), Registry: r.k.Registry()}
}

// restorePlan is the on-call plan: look, fail over, restart.
const restorePlan = `{
  "id": "restore-1",
  "goal": "service.restored",
  "steps": [
    {"id": "look", "action": "svc.status", "args": {"service": "api"}},
    {"id": "failover", "action": "db.failover", "args": {"cluster": "main", "timeoutSeconds": 30}, "dependsOn": ["look"]},
    {"id": "restart", "action": "svc.restart", "args": {"service": "api"}, "dependsOn": ["failover"]}
  ]
}`

func kernelRole(role string) kernel.AgentOption { return kernel.WithRole(role) }

func errorsIsCycle(err error) bool { return errors.Is(err, mute.ErrCycle) }

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
