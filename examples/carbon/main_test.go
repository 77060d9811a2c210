package main

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/examples/carbon/esg"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
)

// TestRun runs the example as "go run ./examples/carbon" does, so that it
// cannot rot: it fails when the program would exit non-zero, and checks
// that the output shows what the example promises.
func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	require.NoError(t, run(ctx, &out), out.String())
	for _, want := range []string{
		"gdansk    2026-07 meter 1,900 satellite 2,900  drift 0.16 window 0.08\n",
		"gdansk    2026-08 meter 1,850 satellite 2,850  drift 0.16 window 0.16  ← drift: SIGDRIFT to the auditor, gdansk under review",
		"certified: the meters say 12,396 tCO2e; published C1",
		"refused: the meters say 3.0%",
		"held: the meters say 38.0%, but the satellite contradicts gdansk's meters",
		"refused by rule no-self-publishing (high)",
		"/mem/working/findings/C2.txt: Rotterdam cut its Scope 1 emissions by 12% quarter on quarter. refused",
		`drift alert for auditor: drift 0.162 above 0.150 (profile carbon, task "gdansk")`,
		"chain verified: 32 entries",
	} {
		require.Contains(t, out.String(), want)
	}
	require.Equal(t, 1, strings.Count(out.String(), "← drift"), "the alarm is edge-triggered")
}

// TestAudit checks the facts behind the output.
func TestAudit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := audit(ctx, io.Discard)
	require.NoError(t, err)

	// One alert, for Gdańsk's sources, the auditor's key; Rotterdam's
	// sources agree throughout.
	require.Len(t, rep.alerts, 1)
	al := rep.alerts[0]
	require.Equal(t, "auditor", al.Agent)
	require.Equal(t, "gdansk", al.Task)
	require.Equal(t, "carbon", al.Profile)
	require.Greater(t, al.Drift, al.Threshold)
	require.Equal(t, map[string]bool{"gdansk": true}, rep.review)

	require.Equal(t, map[string]string{"C1": "certified", "C2": "refused", "C3": "held"}, rep.verdicts)
	require.Equal(t, []string{"C1"}, rep.published, "register.publish ran for the certified claim only")
	var v *agentos.PolicyViolation
	require.ErrorAs(t, rep.selfPub, &v)
	require.Equal(t, "no-self-publishing", v.Decision.Rule)
	require.Equal(t, agentos.AgentID("reporter"), v.Action.Agent)
	require.Len(t, rep.findings, 2)
	require.Contains(t, rep.findings["C2.txt"], "refused: the meters say 3.0%")
	require.Contains(t, rep.findings["C3.txt"], "held:")

	// The trail: the drift evidence, then SIGDRIFT to the auditor; every
	// claim crossed the pipe as an esg.Claim and was checked against the
	// meters (a read of emissions.series after its crossing); the only
	// allowed publication is C1's.
	var crossings, reads, publishes int
	for i, e := range rep.trail {
		if strings.HasPrefix(e.Message, "drift alert for auditor") {
			require.Contains(t, e.Detail, `"task":"gdansk"`)
			next := rep.trail[i+1]
			require.Equal(t, recorder.KindSignal, next.Kind)
			require.Equal(t, agentos.AgentID("auditor"), next.Agent)
			require.True(t, strings.HasPrefix(next.Detail, "SIGDRIFT"), next.Detail)
		}
		if e.Kind != recorder.KindDecision {
			continue
		}
		switch {
		case e.Op == agentos.OpSend:
			require.Equal(t, "esg.Claim", e.PayloadType)
			require.Equal(t, agentos.Allow, e.Effect)
			crossings++
		case e.Tool == "emissions.series":
			reads++
		case e.Tool == "register.publish" && e.Effect == agentos.Allow:
			var args struct{ Claim string }
			require.NoError(t, json.Unmarshal(e.Args, &args))
			require.Equal(t, "C1", args.Claim)
			publishes++
		}
	}
	require.Equal(t, 3, crossings)
	require.Equal(t, 4+3, reads, "two sources for two plants, then the meters once per claim")
	require.Equal(t, 1, publishes)
	require.Equal(t, uint64(len(rep.trail)), rep.verified)
}

// TestCheck runs the auditor's check on claims of each kind, true and
// false, with and without the facility under review: only a true claim on
// trusted data is published, and every other one leaves a finding.
func TestCheck(t *testing.T) {
	var published []string
	k := kerneltest.New(t, kerneltest.Policy(string(policyYAML)),
		kernel.WithTool("emissions.series", series),
		kernel.WithTool("register.publish", func(_ context.Context, args map[string]any) (any, error) {
			published = append(published, args["claim"].(string))
			return "published", nil
		}))
	auditor := k.MustSpawn("auditor", kernel.WithRole("auditor"))
	fsys, err := k.Inspect("auditor")
	require.NoError(t, err)

	tests := []struct {
		name        string
		claim       esg.Claim
		underReview bool
		verdict     string // the verdict's first word
	}{
		{"true total", esg.Claim{ID: "A", Facility: "gdansk", Kind: esg.Total, Value: 5_570}, false, "certified"},
		{"total within 1%", esg.Claim{ID: "B", Facility: "gdansk", Kind: esg.Total, Value: 5_620}, false, "certified"},
		{"total 2% high", esg.Claim{ID: "C", Facility: "gdansk", Kind: esg.Total, Value: 5_690}, false, "refused"},
		{"true cut", esg.Claim{ID: "D", Facility: "rotterdam", Kind: esg.Cut, Value: 3}, false, "certified"},
		{"cut overstated", esg.Claim{ID: "E", Facility: "rotterdam", Kind: esg.Cut, Value: 5}, false, "refused"},
		{"true cut, data under review", esg.Claim{ID: "F", Facility: "gdansk", Kind: esg.Cut, Value: 38}, true, "held"},
		{"false cut, data under review", esg.Claim{ID: "G", Facility: "gdansk", Kind: esg.Cut, Value: 50}, true, "refused"},
	}
	var want []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := check(t.Context(), auditor, tt.claim, tt.underReview)
			require.NoError(t, err)
			first, _, _ := strings.Cut(v, ":")
			require.Equal(t, tt.verdict, first, v)
			_, statErr := fs.Stat(fsys, "mem/working/findings/"+tt.claim.ID+".txt")
			if tt.verdict == "certified" {
				want = append(want, tt.claim.ID)
				require.ErrorIs(t, statErr, fs.ErrNotExist, "a certified claim leaves no finding")
			} else {
				require.NoError(t, statErr, "a claim not certified leaves a finding")
			}
		})
	}
	require.Equal(t, want, published)

	_, err = check(t.Context(), auditor, esg.Claim{ID: "H", Facility: "lisbon", Kind: esg.Total, Value: 1}, false)
	require.ErrorIs(t, err, agentos.ErrNotFound, "no data is an error, never a verdict")
	_, err = check(t.Context(), auditor, esg.Claim{ID: "I", Facility: "gdansk", Kind: "scope3"}, false)
	require.ErrorIs(t, err, agentos.ErrInvalid)
}
