package scak_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/models/scripted"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/scak"
)

// A failure goes to the teacher; its diagnosis proposes a prompt rule;
// triage says fix now; the rule applies to the next runs, and the measure
// shows whether the failure recurred.
func ExampleAuditor_Review() {
	ctx := context.Background()
	teacher := scripted.MustNew(scripted.Name("teacher-large"), scripted.Otherwise().Reply(
		`{"verdict": "failure", "cause": "the agent gave up when the primary source was empty",
		  "patches": [{"type": "prompt_rule", "level": "business", "key": "empty-primary",
		               "content": "When the primary source has no rows, search the archive before answering."}]}`))
	auditor, _ := scak.NewAuditor(teacher)
	clock := func() time.Time { return time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) }
	store, _ := scak.NewStore(scak.WithStoreClock(clock), scak.WithMinRuns(3))
	triage, _ := scak.NewTriage(scak.TriageConfig{})
	scope := scak.Scope{Agent: "analyst", Task: "q3-report"}

	// Nine answers were fine, one gave up: only that one reaches the teacher.
	for range 9 {
		_, _, _ = auditor.Review(ctx, nil, scak.AuditInput{})
		_ = store.RecordRun(scak.Run{Scope: scope})
	}
	failure := scak.Failure{Kind: scak.KindGiveUp, Agent: "analyst", Task: "q3-report", Trace: "tr-1",
		Evidence: "I couldn't find any data", Confidence: 0.9}
	_ = store.RecordRun(scak.Run{Scope: scope, Failures: []scak.Kind{scak.KindGiveUp}})
	d, _, err := auditor.Review(ctx, []scak.Failure{failure}, scak.AuditInput{Answer: "I couldn't find any data"})
	if err != nil {
		fmt.Println(err)
		return
	}
	st := auditor.Stats()
	fmt.Printf("seen %d, audited %d: %s\n", st.Seen, st.Audited, d.Cause)

	t := triage.Decide(scak.Case{Failure: failure, Effort: scak.EffortHigh})
	fmt.Println("triage:", t.Priority, "by", t.Rule)
	p, _ := store.Propose(d.Patches[0])
	if t.Priority == scak.FixNow {
		p, _ = store.Activate(ctx, p.ID, "triage:"+t.Rule)
	}
	fmt.Println("patch:", p.Type, p.State, "approved by", p.Provenance.ApprovedBy)

	applied, _ := store.Apply(scope)
	fmt.Print(applied.System())
	for range 3 {
		_ = store.RecordRun(scak.Run{Scope: scope})
	}
	m, _ := store.Measure(p.ID)
	fmt.Println(m)
	evs, _ := store.Evaluate(ctx)
	fmt.Println(evs[0].Verdict, "-", evs[0].Reason)
	// Output:
	// seen 10, audited 1: the agent gave up when the primary source was empty
	// triage: fix-now by high-effort
	// patch: prompt_rule active approved by triage:high-effort
	// Rule: When the primary source has no rows, search the archive before answering.
	// give_up recurred in 1 of 10 runs before the patch (10%), 0 of 3 after (0%)
	// kept - recurrence dropped from 1/10 to 0/3
}

// The triage rules are data: shown, in the order they are tried.
func ExampleTriage_Rules() {
	t, _ := scak.NewTriage(scak.TriageConfig{CriticalTools: []string{"payments.*", "execute_sql"}})
	for _, r := range t.Rules() {
		fmt.Printf("%-22s %-9s %s\n", r.Name, r.Priority, r.Description)
	}
	d := t.Decide(scak.Case{Failure: scak.Failure{Kind: scak.KindDenied, Tool: "payments.send"}, Severity: agentos.SeverityLow})
	fmt.Println(d.Priority, d.Rule)
	// Output:
	// critical-tool          fix-now   the failed call used a critical tool (payments.*, execute_sql)
	// reasoned-failed-action fix-now   the agent reasoned out a plan (chain of thought) and an action of it failed (tool error or denial)
	// critical-denial        fix-now   policy denied the action by a rule of severity critical or above
	// vip-user               fix-now   the user is a VIP (label tier=vip)
	// high-effort            fix-now   the user asked for high effort
	// default                fix-later no other rule matched: the failure waits for the next batch
	// fix-now critical-tool
}

// A policy proposal is replayed over the recent trail as a shadow policy,
// and applies only if the approver says yes.
func ExampleProposer_Propose() {
	ctx := context.Background()
	current := `apiVersion: agentos/v1
kind: Policy
metadata: {name: payments, version: "1"}
spec:
  rules:
    - {name: pay, effect: allow, when: 'action.tool == "payments.send"'}
`
	doc, _ := policy.Parse("payments.yaml", []byte(current))
	eng, _ := policy.NewEngine([]*policy.Document{doc})
	rec, _ := recorder.Open("", nil)
	defer rec.Close()
	k, _ := kernel.New(kernel.WithPolicy(eng), kernel.WithRecorder(rec),
		kernel.WithTool("payments.send", func(context.Context, map[string]any) (any, error) { return "sent", nil }))
	defer k.Close()
	intern, _ := k.Spawn(ctx, "intern-1", kernel.WithRole("intern"))
	for _, amount := range []int{40, 400, 4000} {
		_, _ = intern.Exec(ctx, "payments.send", map[string]any{"amount": amount})
	}

	store, _ := scak.NewStore()
	p, _ := store.Propose(scak.Patch{
		Type: scak.PolicyProposal, Scope: scak.Scope{Agent: "intern-1"}, Level: scak.Business,
		Provenance: scak.Provenance{Trace: "tr-1", Failure: scak.KindJudged, Cause: "an intern paid 4000"},
		Content: strings.Replace(current, `version: "1"`, `version: "2"`, 1) + `    - name: interns-pay-little
      effect: deny
      when: 'action.tool == "payments.send" && agent.role == "intern" && action.args.amount > 100'
`,
	})
	trail, _ := scak.ReadTrail(ctx, rec, recorder.Filter{})
	proposer, _ := scak.NewProposer(scak.ProposerConfig{
		Kernel: k, Documents: []*policy.Document{doc},
		Approver: func(_ context.Context, act agentos.Action, d agentos.Decision) (bool, error) {
			fmt.Println("approver is asked:", d.Message)
			return false, nil
		},
	})
	rep, err := proposer.Propose(ctx, store, p.ID, trail)
	for _, c := range rep.Changes {
		fmt.Printf("  %s amount %s: %s -> %s\n", c.Op, amountOf(trail, c.Trace), c.Old, c.New)
	}
	fmt.Println(errors.Is(err, scak.ErrNotApproved))
	_, err = intern.Exec(ctx, "payments.send", map[string]any{"amount": 500})
	fmt.Println("policy unchanged:", err == nil)
	// Output:
	// approver is asked: proposal p-e74c17074f29325d (payments) would change 2 of 3 past decisions (interns-pay-little: 2)
	//   exec amount 400: allow by pay -> deny by interns-pay-little
	//   exec amount 4000: allow by pay -> deny by interns-pay-little
	// true
	// policy unchanged: true
}

// amountOf returns the amount argument of the decision with trace in t.
func amountOf(t scak.Trail, trace string) string {
	for _, e := range t.Decisions {
		if e.Trace == trace {
			var args struct{ Amount json.Number }
			_ = json.Unmarshal(e.Args, &args)
			return args.Amount.String()
		}
	}
	return "?"
}
