package policy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

func TestRateLimit(t *testing.T) {
	clk := newFakeClock()
	d := doc(t, "p", rules(
		r("search", "allow", `action.tool == "web.search"`, "limit: {rate: 3, per: 1m}"),
		r("no-secret", "deny", `action.tool == "web.search" && action.args.q == "secret"`),
		r("approve-big", "approve", `action.tool == "web.search" && action.args.q == "big"`),
	))
	e := engine(t, []Option{WithClock(clk.Now)}, d)
	search := func(agent, q string) agentos.Decision {
		in := exec("web.search", map[string]any{"q": q})
		in.Agent.ID = agent
		return decide(t, e, in)
	}
	// Denied and approval-needing actions take no token.
	for range 5 {
		assert.Equal(t, agentos.Deny, search("a1", "secret").Effect)
		assert.Equal(t, agentos.Approve, search("a1", "big").Effect)
	}
	for i := range 3 {
		assert.Equal(t, agentos.Allow, search("a1", "go").Effect, i)
	}
	got := search("a1", "go")
	assert.Equal(t, agentos.Decision{Effect: agentos.Deny, Rule: "search", Refuse: true,
		Message: "rate limit exceeded: at most 3 per 1m0s for each agent", PolicyVersion: e.Version()}, got)
	// Explain does not take tokens and reports the limit.
	x, err := e.Explain(context.Background(), Input{Action: agentos.Action{Op: agentos.OpExec, Tool: "web.search",
		Args: map[string]any{"q": "go"}}, Agent: Subject{ID: "a1"}})
	require.NoError(t, err)
	assert.Equal(t, agentos.Deny, x.Decision.Effect)
	require.Len(t, x.Rules, 1)
	assert.True(t, x.Rules[0].RateLimited)

	// Other agents have their own buckets.
	assert.Equal(t, agentos.Allow, search("a2", "go").Effect)
	// The bucket refills continuously: one token per 20s.
	clk.Advance(20 * time.Second)
	assert.Equal(t, agentos.Allow, search("a1", "go").Effect)
	assert.Equal(t, agentos.Deny, search("a1", "go").Effect)
	clk.Advance(time.Hour)
	for range 3 {
		assert.Equal(t, agentos.Allow, search("a1", "go").Effect, "refilled to the rate, not beyond")
	}
	assert.Equal(t, agentos.Deny, search("a1", "go").Effect)
	// A clock that goes back refills nothing.
	clk.Advance(-time.Hour)
	assert.Equal(t, agentos.Deny, search("a1", "go").Effect)
}

func TestRateLimitAgentFromAction(t *testing.T) {
	clk := newFakeClock()
	e := engine(t, []Option{WithClock(clk.Now)}, doc(t, "p", rules(r("s", "allow", "true", "limit: {rate: 1, per: 1s}"))))
	in := Input{Action: agentos.Action{Agent: "x", Op: agentos.OpRead}}
	assert.Equal(t, agentos.Allow, decide(t, e, in).Effect)
	assert.Equal(t, agentos.Deny, decide(t, e, in).Effect)
	in.Action.Agent = "y"
	assert.Equal(t, agentos.Allow, decide(t, e, in).Effect)
}

func TestRateLimitSeveralRules(t *testing.T) {
	clk := newFakeClock()
	d := doc(t, "p", rules(
		r("exec", "allow", `action.op == "exec"`, "limit: {rate: 3, per: 1h}"),
		r("search", "audit", `action.tool == "web.search"`, "limit: {rate: 1, per: 1h}"),
	))
	e := engine(t, []Option{WithClock(clk.Now)}, d)
	got := decide(t, e, exec("web.search", nil))
	assert.Equal(t, agentos.Audit, got.Effect)
	got = decide(t, e, exec("web.search", nil))
	assert.Equal(t, agentos.Deny, got.Effect)
	assert.Equal(t, "search", got.Rule)
	// The refused search took no token from the exec rule: two left.
	assert.Equal(t, agentos.Allow, decide(t, e, exec("other", nil)).Effect)
	assert.Equal(t, agentos.Allow, decide(t, e, exec("other", nil)).Effect)
	got = decide(t, e, exec("other", nil))
	assert.Equal(t, "exec", got.Rule)
	assert.Equal(t, agentos.Deny, got.Effect)
}

func TestRateLimitSurvivesReload(t *testing.T) {
	clk := newFakeClock()
	limited := rules(r("s", "allow", "true", "limit: {rate: 1, per: 1h}"))
	e := engine(t, []Option{WithClock(clk.Now)}, doc(t, "p", limited))
	assert.Equal(t, agentos.Allow, decide(t, e, exec("x", nil)).Effect)
	require.NoError(t, e.Reload([]*Document{doc(t, "p", limited+r("extra", "deny", `action.tool == "z"`))}))
	assert.Equal(t, agentos.Deny, decide(t, e, exec("x", nil)).Effect, "same rule and limit: the bucket carries over")
	require.NoError(t, e.Reload([]*Document{doc(t, "p", rules(r("s", "allow", "true", "limit: {rate: 2, per: 1h}")))}))
	assert.Equal(t, agentos.Allow, decide(t, e, exec("x", nil)).Effect, "a changed limit starts a new bucket")
}

func TestRateLimiterMemoryIsBounded(t *testing.T) {
	clk := newFakeClock()
	e := engine(t, []Option{WithClock(clk.Now), WithMaxRateBuckets(8)},
		doc(t, "p", rules(r("s", "allow", "true", "limit: {rate: 2, per: 1s}"))))
	in := func(i int) Input {
		return Input{Action: agentos.Action{Op: agentos.OpRead}, Agent: Subject{ID: fmt.Sprint("agent-", i)}}
	}
	for i := range 8 {
		assert.Equal(t, agentos.Allow, decide(t, e, in(i)).Effect)
	}
	// Full of buckets in use: a new agent is refused, fail closed.
	got := decide(t, e, in(100))
	assert.Equal(t, agentos.Deny, got.Effect)
	assert.True(t, got.Refuse)
	require.Len(t, got.Errors, 1)
	assert.Contains(t, got.Errors[0], "buckets")
	// Once the buckets have refilled they are idle and evicted.
	clk.Advance(2 * time.Second)
	for i := 1000; i < 1100; i++ {
		assert.Equal(t, agentos.Allow, decide(t, e, in(i)).Effect)
		clk.Advance(time.Second)
	}
	assert.LessOrEqual(t, e.limiter.len(), 8)
}
