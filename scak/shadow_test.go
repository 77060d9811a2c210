package scak_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/scak"
)

const auditPolicy = `apiVersion: agentos/v1
kind: Policy
metadata: {name: payments, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: pay
      effect: allow
      when: action.tool == "payments.send"
    - name: lookup
      effect: allow
      when: action.tool == "sales.query"
`

// auditProposal caps interns' payments and leaves the rest as it was.
const auditProposal = `apiVersion: agentos/v1
kind: Policy
metadata: {name: payments, version: "2"}
spec:
  defaultEffect: deny
  rules:
    - name: pay
      effect: allow
      when: action.tool == "payments.send"
    - name: interns-small-payments
      effect: deny
      severity: high
      onDeny: refuse
      when: action.tool == "payments.send" && agent.role == "intern" && action.args.amount > 100
      message: interns pay at most 100
    - name: lookup
      effect: allow
      when: action.tool == "sales.query"
`

// auditKernel is a kernel with payments, the trail of a few payments and
// lookups, and the documents it runs.
type auditKernel struct {
	k    *kernel.Kernel
	rec  *recorder.Recorder
	docs []*policy.Document
	paid int
}

func newAuditKernel(t *testing.T, opts ...kernel.Option) *auditKernel {
	t.Helper()
	ctx := context.Background()
	rec, err := recorder.Open("", nil)
	require.NoError(t, err)
	doc, err := policy.Parse("payments.yaml", []byte(auditPolicy))
	require.NoError(t, err)
	eng, err := policy.NewEngine([]*policy.Document{doc})
	require.NoError(t, err)
	ak := &auditKernel{rec: rec, docs: []*policy.Document{doc}}
	var mu sync.Mutex
	clock := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	k, err := kernel.New(append([]kernel.Option{
		kernel.WithPolicy(eng), kernel.WithRecorder(rec),
		kernel.WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); clock = clock.Add(time.Millisecond); return clock }),
		kernel.WithTool("payments.send", func(context.Context, map[string]any) (any, error) { ak.paid++; return "ok", nil }),
		kernel.WithTool("sales.query", func(context.Context, map[string]any) (any, error) { return "", nil }),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, k.Close()); require.NoError(t, rec.Close()) })
	ak.k = k
	intern, err := k.Spawn(ctx, "intern-1", kernel.WithRole("intern"), kernel.WithLabels(map[string]string{"team": "ops"}))
	require.NoError(t, err)
	lead, err := k.Spawn(ctx, "lead-1", kernel.WithRole("lead"))
	require.NoError(t, err)
	for _, c := range []struct {
		a      *kernel.Agent
		tool   string
		amount int
	}{
		{intern, "payments.send", 50},
		{intern, "payments.send", 500},
		{lead, "payments.send", 5000},
		{intern, "sales.query", 0},
		{intern, "payments.send", 250},
	} {
		_, err := c.a.Exec(ctx, c.tool, map[string]any{"amount": c.amount})
		require.NoError(t, err)
	}
	return ak
}

func auditPolicyPatch(t *testing.T, s *scak.Store, content string) scak.Patch {
	t.Helper()
	p, err := s.Propose(scak.Patch{
		Type: scak.PolicyProposal, Scope: scak.Scope{Agent: "intern-1"}, Level: scak.Business, Content: content,
		Provenance: scak.Provenance{Trace: "tr-9", Failure: scak.KindJudged, Auditor: "teacher-large", Cause: "an intern paid 500"},
	})
	require.NoError(t, err)
	return p
}

func TestShadowReadTrail(t *testing.T) {
	ak := newAuditKernel(t)
	tr, err := scak.ReadTrail(context.Background(), ak.rec, recorder.Filter{})
	require.NoError(t, err)
	require.Len(t, tr.Decisions, 5)
	require.Equal(t, "payments.send", tr.Decisions[0].Tool, "oldest first")
	require.Equal(t, policy.Subject{ID: "intern-1", Role: "intern", Labels: map[string]string{"team": "ops"}}, tr.Subjects["intern-1"])
	require.Equal(t, "lead", tr.Subjects["lead-1"].Role)

	last, err := scak.ReadTrail(context.Background(), ak.rec, recorder.Filter{Limit: 2})
	require.NoError(t, err)
	require.Len(t, last.Decisions, 2)
	require.Equal(t, tr.Decisions[3:], last.Decisions, "the most recent decisions")

	_, err = scak.ReadTrail(context.Background(), nil, recorder.Filter{})
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestShadowEvaluateProposal(t *testing.T) {
	ak := newAuditKernel(t)
	ctx := context.Background()
	s := newPatchStore(t)
	p := auditPolicyPatch(t, s, auditProposal)
	tr, err := scak.ReadTrail(ctx, ak.rec, recorder.Filter{})
	require.NoError(t, err)
	rep, err := scak.EvaluateProposal(ctx, ak.docs, p, tr, scak.ReplayConfig{Tools: scak.RegistryTools(ak.k.Registry())})
	require.NoError(t, err)
	require.Equal(t, 5, rep.Replayed)
	require.Zero(t, rep.Drifted, "the current policy replays as recorded")
	require.Equal(t, "payments", rep.Document)
	require.NotEqual(t, rep.ActiveVersion, rep.ShadowVersion)
	require.Len(t, rep.Changes, 2, "the intern's payments of 500 and 250")
	for _, c := range rep.Changes {
		require.Equal(t, agentos.AgentID("intern-1"), c.Agent)
		require.Equal(t, scak.ReplayedDecision{Effect: agentos.Allow, Rule: "pay"}, c.Old)
		require.Equal(t, scak.ReplayedDecision{Effect: agentos.Deny, Rule: "interns-small-payments"}, c.New)
	}
	require.Len(t, rep.ByRule, 1)
	require.Equal(t, "interns-small-payments", rep.ByRule[0].Rule)
	require.Contains(t, rep.Summary(), "would change 2 of 5 past decisions (interns-small-payments: 2)")
	require.Contains(t, rep.Changes[0].String(), "intern-1 exec payments.send: allow by pay -> deny by interns-small-payments")
	require.NotEmpty(t, rep.Approximations)
	for _, a := range rep.Approximations {
		require.NotContains(t, a, "unregistered", "the registry described the tools")
	}

	// Without a registry the tools are known by their recorded name and
	// version: nothing is missing for a policy that does not read tool.*,
	// and the report says what is for one that does.
	rep, err = scak.EvaluateProposal(ctx, ak.docs, p, tr, scak.ReplayConfig{})
	require.NoError(t, err)
	require.Len(t, rep.Changes, 2)
	require.NotContains(t, strings.Join(rep.Approximations, "\n"), "tool")
	readsTool := auditPolicyPatch(t, s, strings.Replace(auditProposal, `agent.role == "intern"`, `agent.role == "intern" && tool.sideEffect == "unclassified"`, 1))
	rep, err = scak.EvaluateProposal(ctx, ak.docs, readsTool, tr, scak.ReplayConfig{})
	require.NoError(t, err)
	require.Empty(t, rep.Changes, "without the registry the side effect is unknown")
	require.Contains(t, strings.Join(rep.Approximations, "\n"), "the tool's registry description beyond name and version is not recorded")
	rep, err = scak.EvaluateProposal(ctx, ak.docs, readsTool, tr, scak.ReplayConfig{Tools: scak.RegistryTools(ak.k.Registry())})
	require.NoError(t, err)
	require.Len(t, rep.Changes, 2, "the tools given with kernel.WithTool are unclassified")
	require.NotContains(t, strings.Join(rep.Approximations, "\n"), "tool")

	// A subject missing from the trail is approximated, and said so.
	bare := scak.Trail{Decisions: tr.Decisions}
	rep, err = scak.EvaluateProposal(ctx, ak.docs, p, bare, scak.ReplayConfig{})
	require.NoError(t, err)
	require.Empty(t, rep.Changes, "without its role the intern is not an intern")
	require.Contains(t, rep.Approximations, "no spawned entry for agent intern-1: its role, trust and labels are unknown")
	require.Contains(t, rep.Approximations, "no spawned entry for agent lead-1: its role, trust and labels are unknown")
}

func TestShadowBadProposals(t *testing.T) {
	ak := newAuditKernel(t)
	ctx := context.Background()
	tr, err := scak.ReadTrail(ctx, ak.rec, recorder.Filter{})
	require.NoError(t, err)
	s := newPatchStore(t)
	for _, tc := range []struct{ name, doc, want string }{
		{"not YAML", "{{{", "does not parse"},
		{"unknown field", strings.Replace(auditProposal, "defaultEffect", "defaultEfect", 1), "does not parse"},
		{"CEL that does not compile", strings.Replace(auditProposal, `agent.role == "intern"`, `agent.rank == "intern"`, 1), "does not compile"},
		{"two documents", auditProposal + "---\n" + auditPolicy, "does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := auditPolicyPatch(t, s, tc.doc)
			_, err := scak.EvaluateProposal(ctx, ak.docs, p, tr, scak.ReplayConfig{})
			require.ErrorIs(t, err, agentos.ErrInvalid)
			require.ErrorContains(t, err, tc.want)
		})
	}
	notPolicy := promptRule("a1", "r", "k", "v")
	_, err = scak.EvaluateProposal(ctx, ak.docs, notPolicy, tr, scak.ReplayConfig{})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	long := scak.Trail{Decisions: make([]recorder.Entry, scak.MaxTrailSize+1)}
	_, err = scak.EvaluateProposal(ctx, ak.docs, auditPolicyPatch(t, s, auditProposal), long, scak.ReplayConfig{})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = scak.EvaluateProposal(cancelled, ak.docs, auditPolicyPatch(t, s, auditProposal), tr, scak.ReplayConfig{})
	require.ErrorIs(t, err, context.Canceled)
}

// auditEvents returns the messages of the scak events in the trail.
func auditEvents(t *testing.T, rec *recorder.Recorder) []string {
	t.Helper()
	var out []string
	for e, err := range rec.Query(context.Background(), recorder.Filter{Kind: recorder.KindLifecycle}) {
		require.NoError(t, err)
		if strings.HasPrefix(e.Message, "scak: ") {
			out = append(out, strings.TrimPrefix(e.Message, "scak: "))
		}
	}
	return out
}

func TestShadowProposeDenied(t *testing.T) {
	ak := newAuditKernel(t)
	ctx := context.Background()
	s := newPatchStore(t)
	p := auditPolicyPatch(t, s, auditProposal)
	tr, err := scak.ReadTrail(ctx, ak.rec, recorder.Filter{})
	require.NoError(t, err)
	var asked []agentos.Action
	var shown []agentos.Decision
	pr, err := scak.NewProposer(scak.ProposerConfig{
		Kernel: ak.k, Documents: ak.docs,
		Approver: func(_ context.Context, act agentos.Action, d agentos.Decision) (bool, error) {
			asked, shown = append(asked, act), append(shown, d)
			return false, nil
		},
	})
	require.NoError(t, err)
	rep, err := pr.Propose(ctx, s, p.ID, tr)
	require.ErrorIs(t, err, scak.ErrNotApproved)
	require.Len(t, rep.Changes, 2, "the report comes back with the refusal")
	require.Len(t, asked, 1)
	require.Equal(t, agentos.OpWrite, asked[0].Op)
	require.Equal(t, "/policy/payments.yaml", asked[0].Path)
	require.Equal(t, p.ID, asked[0].Args["proposal"])
	require.Equal(t, 2, asked[0].Args["changed"])
	require.Equal(t, scak.RuleProposal, shown[0].Rule)
	require.Equal(t, agentos.Approve, shown[0].Effect)

	// Nothing applied: the policy did not change.
	got, err := s.Get(p.ID)
	require.NoError(t, err)
	require.Equal(t, scak.Rejected, got.State)
	require.Empty(t, got.Provenance.ApprovedBy)
	require.Equal(t, ak.docs, pr.Documents())
	intern := ak.k.Agent("intern-1")
	before := ak.paid
	_, err = intern.Exec(ctx, "payments.send", map[string]any{"amount": 900})
	require.NoError(t, err, "the intern still pays under the old policy")
	require.Equal(t, before+1, ak.paid)
	require.Equal(t, []string{"policy proposal " + p.ID + " evaluated", "policy proposal " + p.ID + " not approved"}, auditEvents(t, ak.rec))

	// A rejected proposal is not proposed again.
	_, err = pr.Propose(ctx, s, p.ID, tr)
	require.ErrorIs(t, err, scak.ErrState)
}

func TestShadowProposeApprovalFails(t *testing.T) {
	ak := newAuditKernel(t)
	ctx := context.Background()
	s := newPatchStore(t)
	p := auditPolicyPatch(t, s, auditProposal)
	tr, err := scak.ReadTrail(ctx, ak.rec, recorder.Filter{})
	require.NoError(t, err)
	down := errors.New("approver unreachable")
	for name, approver := range map[string]kernel.Approver{
		"error": func(context.Context, agentos.Action, agentos.Decision) (bool, error) { return true, down },
		"panic": func(context.Context, agentos.Action, agentos.Decision) (bool, error) { panic("approver bug") },
		"timeout": func(ctx context.Context, _ agentos.Action, _ agentos.Decision) (bool, error) {
			<-ctx.Done()
			return true, nil // a yes after the deadline is no answer
		},
	} {
		t.Run(name, func(t *testing.T) {
			pr, err := scak.NewProposer(scak.ProposerConfig{Kernel: ak.k, Documents: ak.docs, Approver: approver, Timeout: 20 * time.Millisecond})
			require.NoError(t, err)
			_, err = pr.Propose(ctx, s, p.ID, tr)
			require.ErrorIs(t, err, scak.ErrNotApproved)
			got, err := s.Get(p.ID)
			require.NoError(t, err)
			require.Equal(t, scak.Proposed, got.State, "an approver that did not answer leaves the proposal open")
			_, err = ak.k.Agent("intern-1").Exec(ctx, "payments.send", map[string]any{"amount": 900})
			require.NoError(t, err)
		})
	}
}

func TestShadowProposeApproved(t *testing.T) {
	ak := newAuditKernel(t)
	ctx := context.Background()
	s := newPatchStore(t)
	p := auditPolicyPatch(t, s, auditProposal)
	tr, err := scak.ReadTrail(ctx, ak.rec, recorder.Filter{})
	require.NoError(t, err)
	pr, err := scak.NewProposer(scak.ProposerConfig{
		Kernel: ak.k, Documents: ak.docs, ApproverName: "ops-lead",
		Approver: func(context.Context, agentos.Action, agentos.Decision) (bool, error) { return true, nil },
	})
	require.NoError(t, err)
	rep, err := pr.Propose(ctx, s, p.ID, tr)
	require.NoError(t, err)
	require.Len(t, rep.Changes, 2)
	got, err := s.Get(p.ID)
	require.NoError(t, err)
	require.Equal(t, scak.Active, got.State)
	require.Equal(t, "ops-lead", got.Provenance.ApprovedBy)
	require.Equal(t, "2", pr.Documents()[0].Version)

	// The kernel now decides by the proposal.
	_, err = ak.k.Agent("intern-1").Exec(ctx, "payments.send", map[string]any{"amount": 900})
	var pv *agentos.PolicyViolation
	require.ErrorAs(t, err, &pv)
	require.Equal(t, "interns-small-payments", pv.Decision.Rule)
	_, err = ak.k.Agent("lead-1").Exec(ctx, "payments.send", map[string]any{"amount": 900})
	require.NoError(t, err)
	require.Equal(t, []string{"policy proposal " + p.ID + " evaluated", "policy proposal " + p.ID + " applied"}, auditEvents(t, ak.rec))
}

func TestShadowProposeRejectsBadDocument(t *testing.T) {
	ak := newAuditKernel(t)
	ctx := context.Background()
	s := newPatchStore(t)
	p := auditPolicyPatch(t, s, strings.Replace(auditProposal, "agent.role", "agent.rank", 1))
	asked := 0
	pr, err := scak.NewProposer(scak.ProposerConfig{
		Kernel: ak.k, Documents: ak.docs,
		Approver: func(context.Context, agentos.Action, agentos.Decision) (bool, error) { asked++; return true, nil },
	})
	require.NoError(t, err)
	_, err = pr.Propose(ctx, s, p.ID, scak.Trail{})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	require.Zero(t, asked, "a proposal that does not compile never reaches the approver")
	got, err := s.Get(p.ID)
	require.NoError(t, err)
	require.Equal(t, scak.Rejected, got.State)
	require.Contains(t, got.Reason, "does not compile")
	require.Equal(t, []string{"policy proposal " + p.ID + " rejected"}, auditEvents(t, ak.rec))

	// Only policy proposals go through a Proposer.
	rule, err := s.Propose(promptRule("a1", "r", "k", "v"))
	require.NoError(t, err)
	_, err = pr.Propose(ctx, s, rule.ID, scak.Trail{})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = pr.Propose(ctx, s, "p-none", scak.Trail{})
	require.ErrorIs(t, err, agentos.ErrNotFound)
	_, err = pr.Propose(ctx, nil, p.ID, scak.Trail{})
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestShadowNewProposerRefuses(t *testing.T) {
	ak := newAuditKernel(t)
	yes := func(context.Context, agentos.Action, agentos.Decision) (bool, error) { return true, nil }
	for name, cfg := range map[string]scak.ProposerConfig{
		"no kernel":        {Documents: ak.docs, Approver: yes},
		"empty documents":  {Kernel: ak.k, Documents: []*policy.Document{}, Approver: yes},
		"negative timeout": {Kernel: ak.k, Documents: ak.docs, Approver: yes, Timeout: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := scak.NewProposer(cfg)
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
}

// TestShadowParseSpawnDetail: scak.ParseSpawnDetail is the kernel's
// reader of its own spawn entries (tested and fuzzed in kernel).
func TestShadowParseSpawnDetail(t *testing.T) {
	s, err := scak.ParseSpawnDetail(`role="analyst" trust=0.75 team="blue"`)
	require.NoError(t, err)
	require.Equal(t, policy.Subject{Role: "analyst", Trust: 0.75, Labels: map[string]string{"team": "blue"}}, s)
	_, err = scak.ParseSpawnDetail(`role="x" trust=NaN`)
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestShadowRollback(t *testing.T) {
	ak := newAuditKernel(t)
	ctx := context.Background()
	s := newPatchStore(t, scak.WithMinRuns(1))
	p := auditPolicyPatch(t, s, auditProposal)
	tr, err := scak.ReadTrail(ctx, ak.rec, recorder.Filter{})
	require.NoError(t, err)
	answer := true
	pr, err := scak.NewProposer(scak.ProposerConfig{
		Kernel: ak.k, Documents: ak.docs,
		Approver: func(_ context.Context, act agentos.Action, d agentos.Decision) (bool, error) { return answer, nil },
	})
	require.NoError(t, err)
	_, err = pr.Propose(ctx, s, p.ID, tr)
	require.NoError(t, err)

	// The proposal did not help: Evaluate says so but leaves policy alone,
	// and the store will not roll it back by itself.
	require.NoError(t, s.RecordRun(scak.Run{Scope: scak.Scope{Agent: "intern-1", Task: "pay"}, Failures: []scak.Kind{scak.KindJudged}}))
	evs, err := s.Evaluate(ctx)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, scak.RollbackDue, evs[0].Verdict)
	_, err = s.Rollback(ctx, p.ID, "did not help")
	require.ErrorIs(t, err, agentos.ErrInvalid)
	got, err := s.Get(p.ID)
	require.NoError(t, err)
	require.Equal(t, scak.Active, got.State)

	// The approver refuses the rollback: the proposal stays in force.
	answer = false
	err = pr.Rollback(ctx, s, p.ID, evs[0].Reason)
	require.ErrorIs(t, err, scak.ErrNotApproved)
	_, err = ak.k.Agent("intern-1").Exec(ctx, "payments.send", map[string]any{"amount": 900})
	require.ErrorIs(t, err, agentos.ErrDenied)

	answer = true
	require.NoError(t, pr.Rollback(ctx, s, p.ID, evs[0].Reason))
	got, err = s.Get(p.ID)
	require.NoError(t, err)
	require.Equal(t, scak.RolledBack, got.State)
	require.Equal(t, ak.docs, pr.Documents(), "the document it replaced is back")
	_, err = ak.k.Agent("intern-1").Exec(ctx, "payments.send", map[string]any{"amount": 900})
	require.NoError(t, err)
	require.Equal(t, []string{
		"policy proposal " + p.ID + " evaluated", "policy proposal " + p.ID + " applied",
		"rollback of policy proposal " + p.ID + " not approved", "policy proposal " + p.ID + " rolled back",
	}, auditEvents(t, ak.rec))

	require.ErrorIs(t, pr.Rollback(ctx, s, p.ID, "again"), agentos.ErrNotFound, "a proposer rolls back what it applied, once")
	require.ErrorIs(t, pr.Rollback(ctx, s, "p-none", "x"), agentos.ErrNotFound)
	require.ErrorIs(t, pr.Rollback(ctx, nil, p.ID, "x"), agentos.ErrInvalid)
}

func TestShadowRollbackOfAddedDocument(t *testing.T) {
	ak := newAuditKernel(t)
	ctx := context.Background()
	s := newPatchStore(t)
	extra := strings.NewReplacer("name: payments", "name: interns", `version: "2"`, `version: "1"`).Replace(auditProposal)
	first := auditPolicyPatch(t, s, extra)
	second := auditPolicyPatch(t, s, strings.Replace(extra, "> 100", "> 10", 1))
	pr, err := scak.NewProposer(scak.ProposerConfig{
		Kernel: ak.k, Documents: ak.docs,
		Approver: func(context.Context, agentos.Action, agentos.Decision) (bool, error) { return true, nil },
	})
	require.NoError(t, err)
	_, err = pr.Propose(ctx, s, first.ID, scak.Trail{})
	require.NoError(t, err)
	require.Len(t, pr.Documents(), 2, "a document of a new name is added")
	_, err = pr.Propose(ctx, s, second.ID, scak.Trail{})
	require.ErrorIs(t, err, scak.ErrConflict, "one applied proposal per document")
	got, err := s.Get(second.ID)
	require.NoError(t, err)
	require.Equal(t, scak.Proposed, got.State)
	require.NoError(t, pr.Rollback(ctx, s, first.ID, "not needed"))
	require.Equal(t, ak.docs, pr.Documents(), "the added document is gone")
	_, err = pr.Propose(ctx, s, second.ID, scak.Trail{})
	require.NoError(t, err)
	require.Len(t, pr.Documents(), 2)
}

func TestShadowPolicyIsBusiness(t *testing.T) {
	_, err := newPatchStore(t).Propose(scak.Patch{Type: scak.PolicyProposal, Level: scak.Syntax, Content: auditProposal,
		Provenance: scak.Provenance{Failure: scak.KindDenied}})
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

// Without an approver or documents of its own, a Proposer asks the
// kernel's approver (WithApprover) and reads the kernel's documents; a
// kernel without an approver approves nothing, and nothing changes.
func TestShadowProposeThroughKernelApprover(t *testing.T) {
	ctx := context.Background()
	t.Run("no approver", func(t *testing.T) {
		ak := newAuditKernel(t)
		s := newPatchStore(t)
		p := auditPolicyPatch(t, s, auditProposal)
		tr, err := scak.ReadTrail(ctx, ak.rec, recorder.Filter{})
		require.NoError(t, err)
		pr, err := scak.NewProposer(scak.ProposerConfig{Kernel: ak.k})
		require.NoError(t, err)
		_, err = pr.Propose(ctx, s, p.ID, tr)
		require.ErrorIs(t, err, scak.ErrNotApproved)
		require.ErrorIs(t, err, kernel.ErrNoApprover)
		require.Equal(t, "1", ak.k.PolicyDocuments()[0].Version, "the policy did not change")
		got, err := s.Get(p.ID)
		require.NoError(t, err)
		require.Equal(t, scak.Proposed, got.State)
	})
	t.Run("kernel approver", func(t *testing.T) {
		var asked []agentos.Action
		ak := newAuditKernel(t, kernel.WithApprover(func(_ context.Context, act agentos.Action, d agentos.Decision) (bool, error) {
			asked = append(asked, act)
			return (d.Rule == scak.RuleProposal || d.Rule == scak.RuleRollback) && d.Effect == agentos.Approve, nil
		}, time.Second))
		s := newPatchStore(t)
		p := auditPolicyPatch(t, s, auditProposal)
		tr, err := scak.ReadTrail(ctx, ak.rec, recorder.Filter{})
		require.NoError(t, err)
		pr, err := scak.NewProposer(scak.ProposerConfig{Kernel: ak.k, ApproverName: "ops-lead"})
		require.NoError(t, err)
		rep, err := pr.Propose(ctx, s, p.ID, tr)
		require.NoError(t, err)
		require.Len(t, rep.Changes, 2)
		require.Len(t, asked, 1)
		require.Equal(t, "/policy/"+rep.Document+".yaml", asked[0].Path)
		require.Equal(t, "2", ak.k.PolicyDocuments()[0].Version, "the kernel reloaded the proposal")
		require.Equal(t, "2", pr.Documents()[0].Version)
		require.NoError(t, pr.Rollback(ctx, s, p.ID, "did not help"))
		require.Len(t, asked, 2, "the rollback was approved through the kernel too")
		require.Equal(t, "1", ak.k.PolicyDocuments()[0].Version, "rolled back with approval")
	})
}
