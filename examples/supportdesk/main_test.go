package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// TestRun runs the example as "go run ./examples/supportdesk" does, so
// that it cannot rot: it fails when the program would exit non-zero, and
// checks that the output shows what the example promises.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node NATS cluster")
	}
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	require.NoError(t, run(ctx, &out, config{Nodes: 3}), out.String())
	for _, want := range []string{
		"embedded NATS: 3 node(s), stream replicas 3",
		"MCP gateway: 2 CRM tools approved and pinned, 0 quarantined",
		"T1 billing: refunded 29 EUR on INV-1042",
		"T2 support: the CSV export button needs the export_v2 feature flag since release 4.2 [from experience; see /mem/semantic/shared/kb/exporting.md]",
		"billing is stopped; T3 waits at its gate",
		"inspect /mem/working/notes/T1.txt: T1: refunded 29 EUR on INV-1042 (paid twice)",
		"signal    billing  SIGSTOP default running→stopped: operator: review before a large refund",
		"T3 billing: escalated: refunds above 50 EUR need a human",
		"the CRM executed 1 refund(s) and 2 lookup(s)",
		"exec   crm.refund                     → deny (refund-limit)",
		"chain verified: 47 entries",
	} {
		require.Contains(t, out.String(), want)
	}
}

// TestDesk checks the facts behind the output, on a single NATS server
// and a recorder file: each ticket went where triage
// sent it, the large refund never reached the CRM, the ticket held while
// billing was stopped was decided only after SIGCONT, and support used its
// memory.
func TestDesk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	trail := filepath.Join(t.TempDir(), "desk.db")
	var out strings.Builder
	rep, err := desk(ctx, &out, config{Trail: trail, Nodes: 1})
	require.NoError(t, err, out.String())
	require.Contains(t, out.String(), "agentctl log "+trail+" --agent billing")

	require.Equal(t, map[string]string{"T1": "billing", "T2": "support", "T3": "billing"}, rep.routes)
	require.Equal(t, "refunded 29 EUR on INV-1042", rep.results["T1"])
	require.Contains(t, rep.results["T2"], "export_v2")
	require.Equal(t, "escalated: refunds above 50 EUR need a human", rep.results["T3"])
	require.Equal(t, int64(1), rep.refunds, "the refused refund never reached the CRM")
	require.Equal(t, int64(2), rep.lookups)
	require.Equal(t, map[string]string{"/mem/working/notes/T1.txt": "T1: refunded 29 EUR on INV-1042 (paid twice)"}, rep.inspect)

	var stop, cont uint64
	var receives []uint64
	var deniedRefund *recorder.Entry
	ops := map[string]int{}
	for _, e := range rep.trail {
		switch {
		case e.Kind == recorder.KindSignal && e.Agent == "billing" && strings.HasPrefix(e.Detail, "SIGSTOP"):
			stop = e.Seq
		case e.Kind == recorder.KindSignal && e.Agent == "billing" && strings.HasPrefix(e.Detail, "SIGCONT"):
			cont = e.Seq
		case e.Kind == recorder.KindDecision && e.Agent == "billing" && e.Target == "desk.billing":
			receives = append(receives, e.Seq)
		case e.Kind == recorder.KindDecision && e.Tool == "crm.refund" && e.Effect == agentos.Deny:
			deniedRefund = &e
		}
		if e.Kind == recorder.KindDecision && e.Agent == "support" {
			p := e.Path
			if e.Op == agentos.OpAppend {
				p = path.Dir(p) // an episode's content address
			}
			ops[string(e.Op)+" "+p]++
		}
	}
	require.NotZero(t, stop)
	require.Greater(t, cont, stop)
	require.Len(t, receives, 2)
	require.Less(t, receives[0], stop)
	require.Greater(t, receives[1], cont, "the held ticket was decided only after SIGCONT")
	require.NotNil(t, deniedRefund)
	require.Equal(t, "refund-limit", deniedRefund.Rule)
	var args struct{ Amount float64 }
	require.NoError(t, json.Unmarshal(deniedRefund.Args, &args))
	require.Equal(t, 1840.0, args.Amount)
	for _, e := range rep.trail {
		if e.Trace == deniedRefund.Trace {
			require.NotEqual(t, recorder.KindOutcome, e.Kind, "the refused refund has no outcome")
		}
	}
	require.Equal(t, map[string]int{
		"append /mem/episodic":           2, // yesterday's lesson, today's answer
		"search /mem/episodic":           1,
		"search /mem/semantic/shared/kb": 1,
		"send ":                          1, // its one delivery
	}, ops)
	require.Equal(t, uint64(len(rep.trail)), rep.verified)
}

// TestAgentctl runs the commands the example prints, with the agentctl the
// module builds, against the recorder file the desk wrote: the operator's
// tool sees the pause, the resume and the refused refund, and the chain
// verifies. Building agentctl takes a while: -short skips it.
func TestAgentctl(t *testing.T) {
	if testing.Short() {
		t.Skip("builds agentctl and starts a NATS server")
	}
	agentctl := buildAgentctl(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	trail := filepath.Join(t.TempDir(), "desk.db")
	var out strings.Builder
	require.NoError(t, run(ctx, &out, config{Trail: trail, Nodes: 1}), out.String())
	for _, c := range []string{"log %s --agent billing", "log %s --effect deny", "verify %s"} {
		require.Contains(t, out.String(), "agentctl "+fmt.Sprintf(c, trail))
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"log", trail, "--agent", "billing", "--kind", "signal", "--format", "jsonl"},
			[]string{`"detail":"SIGSTOP`, `"detail":"SIGCONT`, "operator: review before a large refund"}},
		{[]string{"log", trail, "--effect", "deny", "--format", "jsonl"},
			[]string{`"rule":"refund-limit"`, `"tool":"crm.refund"`}},
		{[]string{"verify", trail}, []string{"ok"}},
	} {
		out, err := exec.CommandContext(ctx, agentctl, tc.args...).CombinedOutput()
		require.NoError(t, err, "agentctl %s: %s", strings.Join(tc.args, " "), out)
		for _, w := range tc.want {
			require.Contains(t, string(out), w, "agentctl %s", strings.Join(tc.args, " "))
		}
	}
}

// buildAgentctl builds cmd/agentctl into a temporary directory; it skips
// the test when there is no go command.
func buildAgentctl(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build agentctl")
	}
	bin := filepath.Join(t.TempDir(), "agentctl")
	out, err := exec.Command(goCmd, "build", "-o", bin, "github.com/agent-os/agentos/cmd/agentctl").CombinedOutput()
	require.NoError(t, err, "building agentctl: %s", out)
	return bin
}
