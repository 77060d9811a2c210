package kernel_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/cmvk"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// A cmvk monitor wired to the kernel: an agent whose answers drift from
// its baseline is sent SIGDRIFT, and the evidence is in the trail.
func TestDriftAlarmSendsSIGDRIFT(t *testing.T) {
	k := kerneltest.New(t)
	a := k.MustSpawn("analyst")
	m, err := cmvk.NewMonitor(cmvk.LexicalProfile, cmvk.WithWindow(2), cmvk.WithAlarm(kernel.DriftAlarm(k.Kernel)))
	require.NoError(t, err)
	ctx := context.Background()
	obs := func(s string) {
		_, err := m.Observe(ctx, "analyst", "q3-revenue", cmvk.Observation{Text: s})
		require.NoError(t, err)
	}
	obs("Revenue in Q3 was 4.2 million dollars, up 8 percent.")
	obs("Revenue in Q3 was 4.2 million dollars, up 8 percent.")
	obs("Revenue in Q3 was 4.2 million dollars, up 8 percent.")
	obs("I cannot answer that; the weather in Lisbon is sunny.")
	obs("Bananas are yellow and the tide is high tonight.")

	var signalled, recorded bool
	for _, e := range k.Query(recorder.Filter{}) {
		if e.Kind == recorder.KindSignal && e.Agent == "analyst" && strings.HasPrefix(e.Detail, signals.SIGDRIFT.String()) {
			signalled = true
			assert.Contains(t, e.Message, "q3-revenue")
		}
		if e.Kind == recorder.KindLifecycle && strings.HasPrefix(e.Message, "drift alert for analyst") {
			recorded = true
			assert.Contains(t, e.Detail, "Lisbon")
		}
	}
	assert.True(t, recorded, "the evidence is in the trail")
	assert.True(t, signalled, "SIGDRIFT was sent and recorded")
	require.NoError(t, a.Err(), "SIGDRIFT's default action does not kill")

	// An alert for an unknown agent is recorded, not signalled.
	kernel.DriftAlarm(k.Kernel)(ctx, cmvk.Alert{Agent: "ghost", Task: "t", Profile: "lexical", Drift: 0.9, Threshold: 0.3})
}
