package attack

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
)

type transferArgs struct {
	To     string `json:"to"`
	Cents  int64  `json:"cents" jsonschema:"amount in cents"`
	Reason string `json:"reason,omitempty"`
}

// Arguments crafted to slip past a tool's schema, and names crafted to
// reach a tool policy did not allow, never run it.
func TestToolArgumentAndNameSmuggling(t *testing.T) {
	var runs atomic.Int64
	var seen atomic.Value
	reg := atr.New()
	require.NoError(t, atr.Register(reg, "pay.transfer", func(_ context.Context, in transferArgs) (string, error) {
		runs.Add(1)
		seen.Store(in)
		return "ok", nil
	}, atr.Meta{SideEffect: atr.Payment}))
	require.NoError(t, atr.Register(reg, "pay.transfer", func(_ context.Context, in transferArgs) (string, error) {
		runs.Add(1)
		return "beta", nil
	}, atr.Meta{SideEffect: atr.Payment, Version: "2.0.0-beta.1"}))
	k := kerneltest.New(t, kerneltest.Policy(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: tools-attack}
spec:
  defaultEffect: deny
  rules:
    - name: small-transfers
      effect: allow
      when: >-
        action.tool == "pay.transfer" && tool.sideEffect == "payment" &&
        action.meta.version == "1.0.0" && action.args.cents <= 1000
`), kernel.WithRegistry(reg))
	ctx := t.Context()
	n := 0

	for name, c := range map[string]struct {
		tool string
		args map[string]any
	}{
		"amount as a string":          {"pay.transfer", map[string]any{"to": "x", "cents": "5"}},
		"amount as a float":           {"pay.transfer", map[string]any{"to": "x", "cents": 5.5}},
		"amount beyond int64":         {"pay.transfer", map[string]any{"to": "x", "cents": 1e19}},
		"NaN":                         {"pay.transfer", map[string]any{"to": "x", "cents": math.NaN()}},
		"an extra field":              {"pay.transfer", map[string]any{"to": "x", "cents": 5, "cents ": 100000}},
		"a case variant of a field":   {"pay.transfer", map[string]any{"to": "x", "Cents": 100000, "cents": 5}},
		"a nested object for a field": {"pay.transfer", map[string]any{"to": map[string]any{"iban": "x"}, "cents": 5}},
		"missing recipient":           {"pay.transfer", map[string]any{"cents": 5}},
		"the big one":                 {"pay.transfer", map[string]any{"to": "x", "cents": 100000}},
		"a prerelease by constraint":  {"pay.transfer@>=2.0.0-0", map[string]any{"to": "x", "cents": 5}},
		"a zero-width space":          {"pay.transfer\u200b", map[string]any{"to": "x", "cents": 5}},
		"a look-alike letter":         {"pаy.transfer", map[string]any{"to": "x", "cents": 5}},
		"a trailing space":            {"pay.transfer ", map[string]any{"to": "x", "cents": 5}},
		"an export name":              {"pay_transfer", map[string]any{"to": "x", "cents": 5}},
		"an empty constraint":         {"pay.transfer@", map[string]any{"to": "x", "cents": 5}},
	} {
		t.Run(name, func(t *testing.T) {
			n++ // a default denial kills: a fresh agent per attempt
			a := k.MustSpawn(agentos.AgentID(fmt.Sprintf("a%d", n)))
			_, err := a.Exec(ctx, c.tool, c.args)
			if !errors.Is(err, agentos.ErrKilled) {
				kerneltest.Denied(t, err)
			}
			assert.NotEmpty(t, k.LastDecision(a.ID()).Rule+string(k.LastDecision(a.ID()).Effect))
			assert.Equal(t, agentos.Deny, k.LastDecision(a.ID()).Effect)
		})
	}
	assert.Zero(t, runs.Load(), "no smuggled call ran")
	a := k.MustSpawn("a")

	_, err := a.Exec(ctx, "pay.transfer", map[string]any{"to": "x", "cents": 500})
	require.NoError(t, err)
	assert.Equal(t, transferArgs{To: "x", Cents: 500}, seen.Load())
	assert.Equal(t, int64(1), runs.Load())
}
