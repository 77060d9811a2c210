package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// TestRun runs the example as "go run ./examples/grid" does, so that it
// cannot rot: it fails when the program would exit non-zero, and checks
// that the output shows what the example promises.
func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	require.NoError(t, run(ctx, &out), out.String())
	for _, want := range []string{
		"plant-west    delivered 15 of 40 MW: violation, trust now 5.0 (warn)",
		"REFUSED plant-west  its bid never reached the balancer (rule low-trust)",
		"15 MW uncovered: the balancer sheds interruptible load",
		"plant-west    trust 5.0, running",
		"balancer      send receive grid.bids from plant-west → deny (low-trust): the sender's trust score is below 7",
		"chain verified: 66 entries",
	} {
		require.Contains(t, out.String(), want)
	}
}

// TestNegotiation checks the facts behind the output: who bid, who was
// awarded what, and that the low-trust producer's bid was refused at the
// balancer's gate, by policy on the verified signer's trust, without
// killing it.
func TestNegotiation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := balance(ctx, io.Discard)
	require.NoError(t, err)
	require.Len(t, rep.rounds, 2)

	r1 := rep.rounds[0]
	require.Len(t, r1.bids, 3, "round 1: every producer's bid reached the balancer")
	require.Empty(t, r1.refused)
	require.Equal(t, map[string]float64{"solar-east": 20, "plant-west": 40}, r1.awards, "cheapest first")
	require.Zero(t, r1.shed)

	r2 := rep.rounds[1]
	require.Contains(t, r2.bids, "battery-north")
	require.Contains(t, r2.bids, "solar-east")
	require.NotContains(t, r2.bids, "plant-west", "the balancer's handler never saw the refused bid")
	require.Equal(t, []string{"plant-west"}, r2.refused)
	require.Equal(t, map[string]string{"plant-west": "low-trust"}, r2.rules)
	require.Equal(t, map[string]float64{"solar-east": 20, "battery-north": 25}, r2.awards)
	require.Equal(t, 15.0, r2.shed)

	require.InDelta(t, 5.0, rep.scores["plant-west"], 1e-3)    // reputation decays with the clock
	require.InDelta(t, 9.1, rep.scores["solar-east"], 1e-3)    // reputation decays with the clock
	require.InDelta(t, 9.0, rep.scores["battery-north"], 1e-3) // reputation decays with the clock
	for _, p := range producers {
		require.Equal(t, signals.Running, rep.states[p.name], "refused is not killed: the kernel's threshold is 3")
	}

	// The trail: the only denied decision is the balancer's receipt of
	// plant-west's bid, signed by plant-west's key; every bid the balancer
	// took came from a signer, and the violation was recorded before it.
	var denied []recorder.Entry
	violation := uint64(0)
	for _, e := range rep.trail {
		if strings.HasPrefix(e.Message, "reputation violation") {
			require.Equal(t, agentos.AgentID("plant-west"), e.Agent)
			violation = e.Seq
		}
		if e.Kind == recorder.KindDecision && e.Effect != agentos.Allow {
			denied = append(denied, e)
		}
		if e.Kind == recorder.KindDecision && e.Agent == "balancer" && e.Target == "grid.bids" {
			require.NotEmpty(t, e.Meta[kernel.MetaSigner], "a bid decided without its verified signer")
		}
	}
	require.Len(t, denied, 1)
	require.Equal(t, agentos.AgentID("balancer"), denied[0].Agent)
	require.Equal(t, "low-trust", denied[0].Rule)
	require.Equal(t, "plant-west", denied[0].Meta[kernel.MetaSender])
	require.NotZero(t, violation)
	require.Greater(t, denied[0].Seq, violation)
	require.Equal(t, uint64(len(rep.trail)), rep.checked)
}
