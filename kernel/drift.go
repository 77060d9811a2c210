package kernel

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/cmvk"
	"github.com/agent-os/agentos/signals"
)

// maxDriftEvidence bounds the evidence a drift alert records, in bytes.
const maxDriftEvidence = 16 << 10

// DriftAlarm returns the alarm of a cmvk.Monitor (cmvk.WithAlarm) that
// takes a drift alert to the kernel: the evidence — the key, the profile,
// the drift against its threshold, the baseline and the recent
// observations, cut to 16 KiB — is recorded in the flight recorder, and
// then agent alert.Agent is sent SIGDRIFT (its default action is set by
// the signals package: ignore unless the agent's dispatcher says
// otherwise), which the recorder records with the reason. An alert for an
// agent the kernel does not know is recorded and logged, not signalled.
func DriftAlarm(k *Kernel) func(context.Context, cmvk.Alert) {
	return func(ctx context.Context, a cmvk.Alert) {
		evidence, err := json.Marshal(struct {
			Task      string             `json:"task"`
			Profile   string             `json:"profile"`
			Drift     float64            `json:"drift"`
			Threshold float64            `json:"threshold"`
			Baseline  cmvk.Observation   `json:"baseline"`
			Recent    []cmvk.Observation `json:"recent"`
		}{a.Task, a.Profile, a.Drift, a.Threshold, a.Baseline, a.Recent})
		if err != nil {
			evidence = []byte(err.Error())
		}
		reason := fmt.Sprintf("drift %.3f above %.3f (profile %s, task %q)", a.Drift, a.Threshold, a.Profile, a.Task)
		if err := k.RecordEvent(ctx, "drift alert for "+a.Agent+": "+reason,
			truncateString(string(evidence), maxDriftEvidence), agentos.SeverityMedium); err != nil {
			k.log.Error("kernel: recording a drift alert", "agent", a.Agent, "err", err)
		}
		if err := k.Signal(context.WithoutCancel(ctx), agentos.AgentID(a.Agent), signals.SIGDRIFT, reason); err != nil {
			k.log.Warn("kernel: drift alert not signalled", "agent", a.Agent, "err", err)
		}
	}
}
