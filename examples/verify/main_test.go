package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRun runs the example as "go run ./examples/verify" does, so that it
// cannot rot: it fails when the program would exit non-zero, and checks
// that the output shows what the example promises.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	require.NoError(t, run(ctx, &out), out.String())
	for _, want := range []string{
		// Words are fooled; figures name the model that got them wrong.
		"lexical  agree=true majority=[atlas cirrus] dissenters=[borealis]",
		"figures  agree=true majority=[atlas borealis] dissenters=[cirrus]",
		// The monitor crosses its threshold at the fourth round, not before.
		"round 3 cirrus   drift 0.33, window 0.11\n",
		"round 4 cirrus   drift 0.67, window 0.33  ← above the threshold",
		"alert: analyst/q3-revenue drift 0.33 > 0.25",
		"SIGDRIFT sent to analyst; the host's handler moves it to atlas",
		"round 5 atlas ",
		// The evidence and the signal are in the trail, and it verifies.
		"lifecycle          drift alert for analyst: drift 0.333 above 0.250",
		"[SIGDRIFT handled running→running]",
		"chain verified: 16 entries",
	} {
		require.Contains(t, out.String(), want)
	}
	require.Equal(t, 1, strings.Count(out.String(), "above the threshold"), "the alarm is edge-triggered")
}
