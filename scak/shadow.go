package scak

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
)

// Bounds of a shadow evaluation.
const (
	// DefaultTrailSize and MaxTrailSize bound the decisions ReadTrail
	// reads (the most recent ones).
	DefaultTrailSize = 1000
	MaxTrailSize     = 10000
	// maxSpawnScan bounds the lifecycle entries read per agent to find
	// its spawn.
	maxSpawnScan = 256
)

// The rules named in the decisions an approver is shown: for a policy
// proposal, and for the rollback of an applied one.
const (
	RuleProposal = "scak.policy-proposal"
	RuleRollback = "scak.policy-rollback"
)

// TrailSource is where recorded decisions come from; *recorder.Recorder
// is one.
type TrailSource interface {
	Query(ctx context.Context, f recorder.Filter) iter.Seq2[recorder.Entry, error]
}

var _ TrailSource = (*recorder.Recorder)(nil)

// Trail is the recent decisions a proposal is replayed over, and the
// agents as policy saw them.
type Trail struct {
	// Decisions are decision entries, oldest first. Lifecycle entries
	// among them are honoured as kernel.Replayer honours them (a spawn
	// updates its agent; a kernel start refills rate-limit buckets and
	// forgets the agents); entries of other kinds are passed over.
	Decisions []recorder.Entry
	// Subjects are the agents as policy sees them, keyed by id. ReadTrail
	// fills them from each agent's spawn entry (its role, initial trust
	// and labels); the caller may correct them (a trust score that has
	// changed since).
	Subjects map[agentos.AgentID]policy.Subject
}

// ReadTrail reads the most recent decisions matching f (its Kind is set to
// decision; its Limit, when 0 or over MaxTrailSize, to DefaultTrailSize or
// MaxTrailSize) and the spawn entry of each agent they name. Errors: those
// of the source, agentos.ErrInvalid for a nil source.
func ReadTrail(ctx context.Context, src TrailSource, f recorder.Filter) (Trail, error) {
	if src == nil {
		return Trail{}, fmt.Errorf("scak: %w: nil trail source", agentos.ErrInvalid)
	}
	f.Kind = recorder.KindDecision
	f.Order = recorder.Descending
	switch {
	case f.Limit <= 0:
		f.Limit = DefaultTrailSize
	case f.Limit > MaxTrailSize:
		f.Limit = MaxTrailSize
	}
	t := Trail{Subjects: map[agentos.AgentID]policy.Subject{}}
	for e, err := range src.Query(ctx, f) {
		if err != nil {
			return Trail{}, fmt.Errorf("scak: reading the trail: %w", err)
		}
		t.Decisions = append(t.Decisions, e)
	}
	slices.Reverse(t.Decisions)
	for _, e := range t.Decisions {
		for _, id := range []agentos.AgentID{e.Agent, e.Target} {
			if id == "" {
				continue
			}
			if _, done := t.Subjects[id]; done {
				continue
			}
			s, ok, err := spawnSubject(ctx, src, id)
			if err != nil {
				return Trail{}, err
			}
			if ok {
				t.Subjects[id] = s
			}
		}
	}
	return t, nil
}

// spawnSubject finds the most recent spawn entry of id.
func spawnSubject(ctx context.Context, src TrailSource, id agentos.AgentID) (policy.Subject, bool, error) {
	f := recorder.Filter{Agent: id, Kind: recorder.KindLifecycle, Order: recorder.Descending, Limit: maxSpawnScan}
	for e, err := range src.Query(ctx, f) {
		if err != nil {
			return policy.Subject{}, false, fmt.Errorf("scak: reading the spawn of %s: %w", id, err)
		}
		if e.Message != "spawned" {
			continue
		}
		s, err := ParseSpawnDetail(e.Detail)
		if err != nil {
			return policy.Subject{}, false, fmt.Errorf("scak: the spawn entry of %s: %w", id, err)
		}
		s.ID = string(id)
		return s, true, nil
	}
	return policy.Subject{}, false, nil
}

// ParseSpawnDetail reads the detail of the kernel's spawn entry
// (role="analyst" trust=0.5 team="blue" …) into a subject without its ID:
// kernel.ParseSpawnDetail, whose caveats apply. Errors wrap
// agentos.ErrInvalid.
func ParseSpawnDetail(detail string) (policy.Subject, error) {
	return kernel.ParseSpawnDetail(detail)
}

// ReplayConfig says how recorded decisions are turned back into policy
// inputs. The zero value is usable.
type ReplayConfig struct {
	// Tools describes the tool of an exec as the tool registry did
	// (kernel.WithReplayTools). Nil: a tool the kernel resolved is
	// described by its recorded name and version only, and, for a policy
	// that reads tool.*, the report says so. RegistryTools makes one from
	// the kernel's registry.
	Tools func(name, version string) *policy.Tool
	// Options are given to both engines (a policy.WithResolver for egress
	// hostnames, cost bounds). A clock option is overridden: the replay
	// decides each entry at its recorded time.
	Options []policy.Option
}

// RegistryTools describes tools as reg does, at the version the entry
// recorded (its "version" meta) or the latest: kernel.RegistryTools.
func RegistryTools(reg *atr.Registry) func(name, version string) *policy.Tool {
	return kernel.RegistryTools(reg)
}

// ReplayedDecision is the effect and rule of one replayed decision.
type ReplayedDecision struct {
	Effect agentos.Effect
	Rule   string
}

func (r ReplayedDecision) String() string {
	if r.Rule == "" {
		return r.Effect.String() + " (default)"
	}
	return r.Effect.String() + " by " + r.Rule
}

// DecisionChange is a past decision the proposal would change.
type DecisionChange struct {
	Trace string
	Agent agentos.AgentID
	Op    agentos.Op
	Tool  string
	Path  string
	At    time.Time
	// Old is the current policy's decision, replayed; New the proposal's.
	Old, New ReplayedDecision
}

func (c DecisionChange) String() string {
	what := string(c.Op)
	switch {
	case c.Tool != "":
		what += " " + c.Tool
	case c.Path != "":
		what += " " + c.Path
	}
	return fmt.Sprintf("%s %s %s: %s -> %s", c.Trace, c.Agent, what, c.Old, c.New)
}

// RuleChanges are the changes a rule of the proposal makes (the rule of
// the new decision; "(default)" when the new decision is the default).
type RuleChanges struct {
	Rule    string
	Changes []DecisionChange
}

// ShadowReport is what a policy proposal would have changed over a trail.
type ShadowReport struct {
	// Proposal is the patch id; Document the proposed document's name.
	Proposal string
	Document string
	// ActiveVersion and ShadowVersion name the policy versions compared.
	ActiveVersion, ShadowVersion string
	// Replayed counts the decisions re-decided; Skipped those the kernel
	// refused before policy (rules kernel.* but kernel.policy-error),
	// which no policy changes.
	Replayed, Skipped int
	// Drifted counts replayed decisions of the current policy that differ
	// from the recorded ones: the policy changed since, or an input was
	// approximated (see Approximations).
	Drifted int
	// Changes are the decisions the proposal would change, oldest first;
	// ByRule groups them by rule, most changes first.
	Changes []DecisionChange
	ByRule  []RuleChanges
	// Approximations say what of the inputs could not be rebuilt exactly:
	// two notes on every replay, then each distinct reason a replayed
	// input was incomplete for the policy that read it (see
	// kernel.Replayed.Incomplete), at most 32 of them.
	Approximations []string
}

// Summary is a one-line account of the report.
func (r *ShadowReport) Summary() string {
	s := fmt.Sprintf("proposal %s (%s) would change %d of %d past decisions", r.Proposal, r.Document, len(r.Changes), r.Replayed)
	if len(r.ByRule) > 0 {
		parts := make([]string, 0, len(r.ByRule))
		for _, g := range r.ByRule {
			parts = append(parts, fmt.Sprintf("%s: %d", g.Rule, len(g.Changes)))
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// EvaluateProposal replays trail (a [kernel.Replayer] each) under the
// current documents and under the candidate, the current documents with
// the proposal's document replacing the one of its name (or added to
// them), and reports which past decisions the proposal would change.
// Nothing is applied. Errors: agentos.ErrInvalid for a patch that is not a
// valid policy proposal, or a document that does not parse or compile (the
// policy package's *Error, naming the rule and position); agentos.ErrInvalid
// for a trail over MaxTrailSize, or naming more than
// kernel.MaxReplayAgents agents; ctx's error.
func EvaluateProposal(ctx context.Context, current []*policy.Document, proposal Patch, trail Trail, cfg ReplayConfig) (ShadowReport, error) {
	r, _, err := evaluateProposal(ctx, current, &proposal, trail, cfg)
	return r, err
}

// parseProposal parses a proposal's document.
func parseProposal(p *Patch) (*policy.Document, error) {
	if p.Type != PolicyProposal {
		return nil, fmt.Errorf("scak: %w: patch %s is a %s, not a policy proposal", agentos.ErrInvalid, p.ID, p.Type)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	doc, err := policy.Parse("proposal "+p.ID, []byte(p.Content))
	if err != nil {
		return nil, fmt.Errorf("scak: policy proposal %s does not parse: %w", p.ID, err)
	}
	return doc, nil
}

// withDocument returns current with doc replacing the document of its
// name, or appended.
func withDocument(current []*policy.Document, doc *policy.Document) []*policy.Document {
	out := make([]*policy.Document, 0, len(current)+1)
	replaced := false
	for _, d := range current {
		if d.Name == doc.Name {
			out = append(out, doc)
			replaced = true
			continue
		}
		out = append(out, d)
	}
	if !replaced {
		out = append(out, doc)
	}
	return out
}

func evaluateProposal(ctx context.Context, current []*policy.Document, p *Patch, trail Trail, cfg ReplayConfig) (ShadowReport, []*policy.Document, error) {
	if len(trail.Decisions) > MaxTrailSize {
		return ShadowReport{}, nil, fmt.Errorf("scak: %w: a trail of %d decisions, over %d", agentos.ErrInvalid, len(trail.Decisions), MaxTrailSize)
	}
	doc, err := parseProposal(p)
	if err != nil {
		return ShadowReport{}, nil, err
	}
	candidate := withDocument(current, doc)
	opts := []kernel.ReplayOption{kernel.WithReplayPolicyOptions(cfg.Options...), kernel.WithReplaySubjects(trail.Subjects)}
	if cfg.Tools != nil {
		opts = append(opts, kernel.WithReplayTools(cfg.Tools))
	}
	shadow, err := kernel.NewReplayer(ctx, candidate, opts...)
	if err != nil {
		return ShadowReport{}, nil, fmt.Errorf("scak: policy proposal %s does not compile: %w", p.ID, err)
	}
	active, err := kernel.NewReplayer(ctx, current, opts...)
	if err != nil {
		return ShadowReport{}, nil, fmt.Errorf("scak: the current policy does not compile: %w", err)
	}
	rep := ShadowReport{
		Proposal: p.ID, Document: doc.Name,
		ActiveVersion: active.Version(), ShadowVersion: shadow.Version(),
	}
	var notes approximations
	groups := map[string]int{}
	for i := range trail.Decisions {
		e := &trail.Decisions[i]
		cur, ok, err := active.Feed(ctx, e)
		if err != nil {
			return ShadowReport{}, nil, fmt.Errorf("scak: replaying %s: %w", e.Trace, err)
		}
		prop, _, err := shadow.Feed(ctx, e)
		if err != nil {
			return ShadowReport{}, nil, fmt.Errorf("scak: replaying %s: %w", e.Trace, err)
		}
		switch {
		case !ok:
			continue
		case cur.Skipped:
			rep.Skipped++
			continue
		}
		rep.Replayed++
		notes.add(cur.Incomplete)
		notes.add(prop.Incomplete)
		if cur.Changed(false) {
			rep.Drifted++
		}
		old := ReplayedDecision{Effect: cur.Decision.Effect, Rule: cur.Decision.Rule}
		nd := ReplayedDecision{Effect: prop.Decision.Effect, Rule: prop.Decision.Rule}
		if nd == old {
			continue
		}
		c := DecisionChange{Trace: e.Trace, Agent: e.Agent, Op: e.Op, Tool: e.Tool, Path: e.Path, At: e.Time, Old: old, New: nd}
		rep.Changes = append(rep.Changes, c)
		key := nd.Rule
		if key == "" {
			key = "(default)"
		}
		g, ok := groups[key]
		if !ok {
			g = len(rep.ByRule)
			groups[key] = g
			rep.ByRule = append(rep.ByRule, RuleChanges{Rule: key})
		}
		rep.ByRule[g].Changes = append(rep.ByRule[g].Changes, c)
	}
	slices.SortStableFunc(rep.ByRule, func(a, b RuleChanges) int {
		return cmp.Or(cmp.Compare(len(b.Changes), len(a.Changes)), cmp.Compare(a.Rule, b.Rule))
	})
	rep.Approximations = notes.list(rep.Replayed > 0)
	return rep, candidate, nil
}

// maxApproximations bounds the distinct reasons a report lists.
const maxApproximations = 32

// approximations collects what the replay could not rebuild exactly: the
// distinct reasons of kernel.Replayed.Incomplete, in the order first seen.
type approximations struct {
	seen    map[string]bool
	reasons []string
	more    int // distinct reasons beyond maxApproximations
}

func (a *approximations) add(reasons []string) {
	for _, r := range reasons {
		if a.seen[r] {
			continue
		}
		if a.seen == nil {
			a.seen = map[string]bool{}
		}
		a.seen[r] = true
		if len(a.reasons) == maxApproximations {
			a.more++
			continue
		}
		a.reasons = append(a.reasons, r)
	}
}

func (a *approximations) list(any bool) []string {
	if !any {
		return nil
	}
	out := []string{
		"agents are decided with the role, trust and labels of their spawn entry (trust changes since, as an iatp registry reports them, are not replayed)",
		"rate limits start with full buckets at the first decision replayed",
	}
	out = append(out, a.reasons...)
	if a.more > 0 {
		out = append(out, fmt.Sprintf("and %d more inputs not fully recorded", a.more))
	}
	return out
}

// ProposerConfig configures a Proposer.
type ProposerConfig struct {
	// Kernel is the kernel whose policy proposals change (required).
	Kernel *kernel.Kernel
	// Documents are the kernel's current policy documents. When nil, the
	// Proposer reads them from the kernel (Kernel.PolicyDocuments) before
	// each evaluation, so a reload made elsewhere is seen; give them only
	// for a kernel whose Evaluator does not list its documents (the
	// Proposer then keeps them up to date with the proposals it applies,
	// and assumes it is the only one reloading the kernel's policy).
	Documents []*policy.Document
	// Approver decides each proposal. When nil, the kernel's own approver
	// decides (Kernel.Approve, within the timeout given to WithApprover),
	// and a kernel without one approves nothing (kernel.ErrNoApprover).
	// The approver is shown an OpWrite of /policy/<document>.yaml by the
	// proposal's agent, with the proposal's id, document and shadow report
	// in its arguments, and an Approve decision by RuleProposal whose
	// message is the report's summary.
	Approver kernel.Approver
	// ApproverName names the approver in the patch's provenance
	// ("approver" when empty).
	ApproverName string
	// Timeout bounds each approval by Approver (kernel.DefaultApprovalTimeout
	// when 0); the kernel's own approver has the kernel's timeout.
	Timeout time.Duration
	// Replay says how the trail is replayed.
	Replay ReplayConfig
	// Clock stamps the approval request (time.Now when nil).
	Clock func() time.Time
}

// Proposer takes policy proposals to a kernel: a proposal is evaluated as
// a shadow policy over the recent trail, shown to the approver with what
// it would change, and applied (kernel.ReloadPolicy) only when the
// approver says yes. Every step is recorded in the kernel's flight
// recorder (kernel.RecordEvent). A *Proposer is safe for concurrent use;
// proposals are taken one at a time.
type Proposer struct {
	cfg     ProposerConfig
	mu      sync.Mutex
	live    bool // docs are read from the kernel before each use
	docs    []*policy.Document
	applied map[string]appliedProposal // by patch id, until rolled back
}

// appliedProposal is what Rollback needs of an applied proposal: the
// document it put in place and the one it replaced (nil when it added one).
type appliedProposal struct {
	doc, prev *policy.Document
}

// NewProposer returns a Proposer. Errors wrap agentos.ErrInvalid (a
// missing kernel, documents or approver, a negative timeout).
func NewProposer(cfg ProposerConfig) (*Proposer, error) {
	switch {
	case cfg.Kernel == nil:
		return nil, fmt.Errorf("scak: %w: a proposer needs its kernel", agentos.ErrInvalid)
	case cfg.Documents != nil && len(cfg.Documents) == 0:
		return nil, fmt.Errorf("scak: %w: no policy documents", agentos.ErrInvalid)
	case cfg.Documents == nil && len(cfg.Kernel.PolicyDocuments()) == 0:
		return nil, fmt.Errorf("scak: %w: the kernel's policy does not list its documents: give them in ProposerConfig.Documents", agentos.ErrInvalid)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("scak: %w: negative approval timeout", agentos.ErrInvalid)
	}
	if err := checkName("approver name", cfg.ApproverName, false); err != nil {
		return nil, err
	}
	if cfg.ApproverName == "" {
		cfg.ApproverName = "approver"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = kernel.DefaultApprovalTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Proposer{cfg: cfg, live: cfg.Documents == nil, docs: slices.Clone(cfg.Documents), applied: map[string]appliedProposal{}}, nil
}

// current returns the documents in force; p.mu is held.
func (p *Proposer) current() []*policy.Document {
	if p.live {
		p.docs = p.cfg.Kernel.PolicyDocuments()
	}
	return p.docs
}

// Documents returns the policy documents in force: the kernel's, or
// those given in ProposerConfig.Documents with the proposals applied since.
func (p *Proposer) Documents() []*policy.Document {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.current())
}

// Evaluate is EvaluateProposal against the Proposer's current documents.
func (p *Proposer) Evaluate(ctx context.Context, proposal Patch, trail Trail) (ShadowReport, error) {
	p.mu.Lock()
	docs := p.current()
	p.mu.Unlock()
	return EvaluateProposal(ctx, docs, proposal, trail, p.cfg.Replay)
}

// Propose takes the proposed policy patch id of store through its shadow
// evaluation over trail, then to the approver, and applies it only when
// the approver says yes: the kernel reloads its policy with the proposal's
// document, and the patch becomes active with the approver in its
// provenance. It returns the shadow report in every case where one was
// made. Errors:
//   - agentos.ErrNotFound: no such patch;
//   - ErrState: the patch is not proposed; agentos.ErrInvalid: it is not a
//     policy proposal;
//   - agentos.ErrInvalid: its document does not parse or compile (the patch
//     is rejected);
//   - ErrConflict: its document is the one an earlier proposal applied by
//     this Proposer put in place (roll that one back first);
//   - ErrNotApproved: the approver said no (the patch is rejected), or
//     failed or timed out (the patch stays proposed; the approver's error
//     is wrapped too);
//   - the kernel's error when the reload fails (the patch stays proposed);
//   - the recorder's error when an event could not be recorded.
//
// Nothing is applied on any error but the recorder's or the store's after
// a successful reload: the policy is then in force, and the error says
// what was not recorded.
func (p *Proposer) Propose(ctx context.Context, store *Store, id string, trail Trail) (ShadowReport, error) {
	if store == nil {
		return ShadowReport{}, fmt.Errorf("scak: %w: nil store", agentos.ErrInvalid)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.cfg.Kernel
	patch, err := store.Get(id)
	if err != nil {
		return ShadowReport{}, err
	}
	if patch.Type != PolicyProposal {
		return ShadowReport{}, fmt.Errorf("scak: %w: patch %s is a %s, not a policy proposal", agentos.ErrInvalid, id, patch.Type)
	}
	if patch.State != Proposed {
		return ShadowReport{}, fmt.Errorf("scak: %w: patch %s is %s, not proposed", ErrState, id, patch.State)
	}
	if doc, err := parseProposal(&patch); err == nil {
		for other, ap := range p.applied {
			if ap.doc.Name == doc.Name {
				return ShadowReport{}, fmt.Errorf("%w: proposal %s replaces policy document %s, which applied proposal %s holds: roll that back first",
					ErrConflict, id, doc.Name, other)
			}
		}
	}
	rep, candidate, err := evaluateProposal(ctx, p.current(), &patch, trail, p.cfg.Replay)
	if err != nil {
		if !errors.Is(err, agentos.ErrInvalid) {
			return ShadowReport{}, err // the context, say: the proposal may be fine
		}
		reason := "does not parse or compile: " + err.Error()
		_, rerr := store.Reject(id, reason)
		return ShadowReport{}, errors.Join(err, rerr,
			k.RecordEvent(ctx, "scak: policy proposal "+id+" rejected", reason, agentos.SeverityMedium))
	}
	if err := k.RecordEvent(ctx, "scak: policy proposal "+id+" evaluated", rep.Summary(), agentos.SeverityInfo); err != nil {
		return rep, err
	}
	ok, aerr := p.ask(ctx, p.proposalAction(&patch, &rep),
		agentos.Decision{Effect: agentos.Approve, Rule: RuleProposal, Message: rep.Summary(), Severity: agentos.SeverityHigh})
	switch {
	case aerr != nil:
		reason := "approval failed: " + aerr.Error()
		return rep, errors.Join(fmt.Errorf("%w: %s: %w", ErrNotApproved, id, aerr),
			k.RecordEvent(ctx, "scak: policy proposal "+id+" not approved", reason, agentos.SeverityMedium))
	case !ok:
		reason := "the approver said no"
		_, rerr := store.Reject(id, reason)
		return rep, errors.Join(fmt.Errorf("%w: %s: %s", ErrNotApproved, id, reason), rerr,
			k.RecordEvent(ctx, "scak: policy proposal "+id+" not approved", reason, agentos.SeverityMedium))
	}
	if err := k.ReloadPolicy(ctx, candidate); err != nil {
		return rep, errors.Join(fmt.Errorf("scak: applying policy proposal %s: %w", id, err),
			k.RecordEvent(ctx, "scak: policy proposal "+id+" failed to apply", err.Error(), agentos.SeverityHigh))
	}
	ap := appliedProposal{doc: documentNamed(candidate, rep.Document), prev: documentNamed(p.docs, rep.Document)}
	p.applied[id] = ap
	p.docs = candidate
	_, serr := store.markProposalApplied(ctx, id, p.cfg.ApproverName)
	return rep, errors.Join(serr, k.RecordEvent(ctx, "scak: policy proposal "+id+" applied",
		"approved by "+p.cfg.ApproverName+"; "+rep.Summary(), agentos.SeverityHigh))
}

// proposalAction is the action an approver is shown for a proposal.
func (p *Proposer) proposalAction(patch *Patch, rep *ShadowReport) agentos.Action {
	changes := make([]any, 0, min(len(rep.Changes), 64))
	for i, c := range rep.Changes {
		if i == 64 {
			break
		}
		changes = append(changes, c.String())
	}
	return agentos.Action{
		ID:    "scak-" + patch.ID,
		Agent: patch.Scope.Agent,
		Op:    agentos.OpWrite,
		Path:  "/policy/" + rep.Document + ".yaml",
		Args: map[string]any{
			"proposal": patch.ID, "document": patch.Content, "replayed": rep.Replayed,
			"changed": len(rep.Changes), "changes": changes, "cause": patch.Provenance.Cause,
		},
		Meta: map[string]string{"scak.patch": patch.ID, "scak.trace": patch.Provenance.Trace},
		At:   p.cfg.Clock().UTC(),
	}
}

// ask asks the approver, within the approval timeout. A panic in the
// approver is a refusal, as in the kernel.
func (p *Proposer) ask(ctx context.Context, act agentos.Action, d agentos.Decision) (ok bool, err error) {
	if p.cfg.Approver == nil {
		return p.cfg.Kernel.Approve(ctx, act, d)
	}
	actx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	func() {
		defer func() {
			if r := recover(); r != nil {
				ok, err = false, fmt.Errorf("scak: approver panicked: %v", r)
			}
		}()
		ok, err = p.cfg.Approver(actx, act, d)
	}()
	if err == nil && actx.Err() != nil {
		err = actx.Err() // an answer after the deadline is no answer
	}
	return ok && err == nil, err
}

// documentNamed returns the document of docs named name, or nil.
func documentNamed(docs []*policy.Document, name string) *policy.Document {
	for _, d := range docs {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// Rollback undoes a policy proposal this Proposer applied, once the
// approver agrees: the document it replaced comes back (or, when it added
// a document, that document goes), the kernel reloads, and the patch is
// rolled back for reason. Errors: agentos.ErrNotFound (no such patch, or
// one this Proposer did not apply: a Proposer remembers only its own),
// ErrState (the patch is not active, or a later proposal replaced its
// document), agentos.ErrInvalid (a nil store; a rollback that would leave
// the kernel with no policy document), ErrNotApproved (the approver did
// not agree; nothing changes), the kernel's and the recorder's errors.
func (p *Proposer) Rollback(ctx context.Context, store *Store, id, reason string) error {
	if store == nil {
		return fmt.Errorf("scak: %w: nil store", agentos.ErrInvalid)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.cfg.Kernel
	patch, err := store.Get(id)
	if err != nil {
		return err
	}
	ap, ok := p.applied[id]
	if !ok {
		return fmt.Errorf("scak: policy proposal %s was not applied by this proposer: %w", id, agentos.ErrNotFound)
	}
	if patch.State != Active {
		return fmt.Errorf("scak: %w: patch %s is %s, not active", ErrState, id, patch.State)
	}
	if documentNamed(p.current(), ap.doc.Name) != ap.doc {
		return fmt.Errorf("scak: %w: policy document %s was replaced after proposal %s", ErrState, ap.doc.Name, id)
	}
	var docs []*policy.Document
	for _, d := range p.docs {
		switch {
		case d != ap.doc:
			docs = append(docs, d)
		case ap.prev != nil:
			docs = append(docs, ap.prev)
		}
	}
	if len(docs) == 0 {
		return fmt.Errorf("scak: %w: rolling back %s would leave the kernel with no policy document", agentos.ErrInvalid, id)
	}
	reason = truncate(strings.ToValidUTF8(reason, "?"), MaxReasonSize)
	act := agentos.Action{
		ID: "scak-rollback-" + id, Agent: patch.Scope.Agent, Op: agentos.OpWrite,
		Path: "/policy/" + ap.doc.Name + ".yaml",
		Args: map[string]any{"rollback": id, "reason": reason, "restores": ap.prev != nil},
		Meta: map[string]string{"scak.patch": id},
		At:   p.cfg.Clock().UTC(),
	}
	d := agentos.Decision{Effect: agentos.Approve, Rule: RuleRollback, Message: "roll back policy proposal " + id + ": " + reason, Severity: agentos.SeverityHigh}
	ok, aerr := p.ask(ctx, act, d)
	if !ok {
		why := "the approver said no"
		if aerr != nil {
			why = "approval failed: " + aerr.Error()
		}
		nerr := fmt.Errorf("%w: rollback of %s: %s", ErrNotApproved, id, why)
		if aerr != nil {
			nerr = fmt.Errorf("%w: rollback of %s: %w", ErrNotApproved, id, aerr)
		}
		return errors.Join(nerr, k.RecordEvent(ctx, "scak: rollback of policy proposal "+id+" not approved", why, agentos.SeverityMedium))
	}
	if err := k.ReloadPolicy(ctx, docs); err != nil {
		return errors.Join(fmt.Errorf("scak: rolling back policy proposal %s: %w", id, err),
			k.RecordEvent(ctx, "scak: rollback of policy proposal "+id+" failed", err.Error(), agentos.SeverityHigh))
	}
	p.docs = docs
	delete(p.applied, id)
	_, serr := store.markProposalRolledBack(ctx, id, reason)
	return errors.Join(serr, k.RecordEvent(ctx, "scak: policy proposal "+id+" rolled back",
		"approved by "+p.cfg.ApproverName+": "+reason, agentos.SeverityHigh))
}
