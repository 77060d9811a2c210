package scak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/emk"
)

// Defaults and bounds of a Store.
const (
	// DefaultMaxPatches bounds the patches a Store holds. When it is full
	// the oldest final patch (rejected, rolled back, purged) makes room;
	// with none, Propose fails with agentos.ErrQuota.
	DefaultMaxPatches = 1024
	// DefaultMinRuns is the number of runs a patch must have been active
	// for before Evaluate judges it.
	DefaultMinRuns = 5
	// DefaultMaxScopes bounds the run history (one tally per agent and
	// task); past it the scope recorded least recently is forgotten.
	DefaultMaxScopes = 4096
	// MaxKindsPerScope bounds the failure kinds counted per scope.
	MaxKindsPerScope = 32
	// MaxStoreFile bounds the file LoadStore reads.
	MaxStoreFile = 128 << 20
	// storeFileVersion versions the file format of Save.
	storeFileVersion = 1
)

// EvaluationRule is the rule Evaluate applies, as it is shown to people.
const EvaluationRule = "a patch active for at least MinRuns runs is rolled back unless the rate at which its failure " +
	"recurred after activation is below the rate before it (a patch with no run recorded before counts the failure " +
	"it came from: 1 of 1)"

// Tally counts runs and the runs in which a patch's failure recurred.
type Tally struct {
	Runs     int `json:"runs"`
	Recurred int `json:"recurred"`
}

// Rate is Recurred/Runs, 0 with no run.
func (t Tally) Rate() float64 {
	if t.Runs == 0 {
		return 0
	}
	return float64(t.Recurred) / float64(t.Runs)
}

func (t Tally) String() string {
	return strconv.Itoa(t.Recurred) + "/" + strconv.Itoa(t.Runs)
}

// Measurement is how often a patch's failure recurred in the runs it
// covers, before it was active (while proposed, and the scope's history
// when it was proposed) and after.
type Measurement struct {
	Patch   string
	Failure Kind
	Before  Tally
	After   Tally
}

func (m Measurement) String() string {
	return fmt.Sprintf("%s recurred in %d of %d runs before the patch (%.0f%%), %d of %d after (%.0f%%)",
		m.Failure, m.Before.Recurred, m.Before.Runs, 100*m.Before.Rate(), m.After.Recurred, m.After.Runs, 100*m.After.Rate())
}

// Run is the outcome of one run of an agent on a task, for measurement.
type Run struct {
	// Scope is the run's agent and task (both set: a run is one agent on
	// one task).
	Scope Scope
	// Failures are the kinds of failure found in the run (none: it went
	// well).
	Failures []Kind
}

// Verdict is what Evaluate did with a patch.
type Verdict string

const (
	// Pending: the patch has not run often enough to be judged.
	Pending Verdict = "pending"
	// Kept: its failure recurs less often than before.
	Kept Verdict = "kept"
	// RolledBackVerdict: it did not help and was rolled back.
	RolledBackVerdict Verdict = "rolled_back"
	// RollbackDue: an applied policy proposal did not help. Evaluate does
	// not change policy: roll it back with [Proposer.Rollback], which
	// asks the approver.
	RollbackDue Verdict = "rollback_due"
)

// Evaluation is Evaluate's judgement of one active patch.
type Evaluation struct {
	Patch   string
	Verdict Verdict
	Measure Measurement
	Reason  string
}

// Upgrade is what ModelUpgrade did.
type Upgrade struct {
	From, To string
	Purged   []string // ids of the syntax-level patches purged
	Kept     []string // ids of the business-level patches kept
}

// StoreOption configures a Store.
type StoreOption func(*storeConfig) error

type storeConfig struct {
	clock      func() time.Time
	maxPatches int
	minRuns    int
	maxScopes  int
	episodes   *emk.Store
}

// WithStoreClock sets the clock that stamps patches (time.Now by default).
func WithStoreClock(now func() time.Time) StoreOption {
	return func(c *storeConfig) error {
		if now == nil {
			return fmt.Errorf("scak: %w: nil clock", agentos.ErrInvalid)
		}
		c.clock = now
		return nil
	}
}

// WithMaxPatches bounds the patches held (DefaultMaxPatches).
func WithMaxPatches(n int) StoreOption {
	return func(c *storeConfig) error {
		if n <= 0 {
			return fmt.Errorf("scak: %w: max patches must be positive", agentos.ErrInvalid)
		}
		c.maxPatches = n
		return nil
	}
}

// WithMinRuns sets how many runs a patch must be active for before
// Evaluate judges it (DefaultMinRuns).
func WithMinRuns(n int) StoreOption {
	return func(c *storeConfig) error {
		if n <= 0 {
			return fmt.Errorf("scak: %w: min runs must be positive", agentos.ErrInvalid)
		}
		c.minRuns = n
		return nil
	}
}

// WithMaxScopes bounds the run history (DefaultMaxScopes).
func WithMaxScopes(n int) StoreOption {
	return func(c *storeConfig) error {
		if n <= 0 {
			return fmt.Errorf("scak: %w: max scopes must be positive", agentos.ErrInvalid)
		}
		c.maxScopes = n
		return nil
	}
}

// WithEpisodes stores each activated Memory patch as an emk episode
// (outcome fact, meta "scak.patch" naming the patch) so that an agent's
// episodic retrieval finds the lesson — give the kernel the same store
// (kernel.WithMemory) and the agent's kernel.Agent.Recall does — and marks
// it an anti-pattern when the patch is rolled back or purged. The episode
// belongs to the patch's agent; a patch for every agent is stored under
// agent "*", which no agent's Recall reads (Apply still hands it out). The
// Store does not close es.
func WithEpisodes(es *emk.Store) StoreOption {
	return func(c *storeConfig) error {
		if es == nil {
			return fmt.Errorf("scak: %w: nil episode store", agentos.ErrInvalid)
		}
		c.episodes = es
		return nil
	}
}

// history is the tally of one run scope.
type history struct {
	runs  int
	kinds map[Kind]int
	seq   uint64 // when it was last recorded, for eviction
}

// Store holds patches: proposed, active and retired, with their
// provenance and measures. It is bounded and in memory; Save and LoadStore
// keep it in a file. A *Store is safe for concurrent use; its methods are
// serialised by one mutex, which is held across the episode store's I/O
// when WithEpisodes is given.
type Store struct {
	cfg     storeConfig
	mu      sync.Mutex
	patches map[string]*Patch
	order   []string // ids in the order proposed
	hist    map[Scope]*history
	seq     uint64
}

// NewStore returns an empty store.
func NewStore(opts ...StoreOption) (*Store, error) {
	cfg := storeConfig{clock: time.Now, maxPatches: DefaultMaxPatches, minRuns: DefaultMinRuns, maxScopes: DefaultMaxScopes}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("scak: %w: nil store option", agentos.ErrInvalid)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return &Store{cfg: cfg, patches: map[string]*Patch{}, hist: map[Scope]*history{}}, nil
}

func (s *Store) now() time.Time { return s.cfg.clock().UTC() }

// Propose stores p as a proposed patch and returns it with its ID, state
// and creation time set. Its measure starts from the history of the runs
// it covers. Proposing the same patch again (same content and trace)
// returns the stored one, in its state: a rejected lesson stays rejected. Errors: agentos.ErrInvalid for a patch that does
// not validate or comes in a state other than Proposed (or empty),
// agentos.ErrQuota when the store is full of live patches.
func (s *Store) Propose(p Patch) (Patch, error) {
	if p.State != "" && p.State != Proposed {
		return Patch{}, fmt.Errorf("scak: %w: a new patch must be proposed, not %s", agentos.ErrInvalid, p.State)
	}
	p.Tool = cloneTool(p.Tool)
	if err := p.Validate(); err != nil {
		return Patch{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p.ID = p.computeID()
	if old, ok := s.patches[p.ID]; ok {
		return old.clone(), nil
	}
	if len(s.patches) >= s.cfg.maxPatches && !s.evictFinal() {
		return Patch{}, fmt.Errorf("scak: %w: %d live patches", agentos.ErrQuota, len(s.patches))
	}
	now := s.now()
	if p.Provenance.Created.IsZero() {
		p.Provenance.Created = now
	}
	p.State, p.Updated, p.Reason = Proposed, now, ""
	p.Provenance.ApprovedBy, p.Provenance.Approved = "", time.Time{}
	p.Episode = ""
	p.Before, p.After = s.tallyOf(p.Scope, p.Provenance.Failure), Tally{}
	s.patches[p.ID] = &p
	s.order = append(s.order, p.ID)
	return p.clone(), nil
}

// evictFinal drops the oldest final patch and reports whether there was
// one.
func (s *Store) evictFinal() bool {
	for i, id := range s.order {
		if s.patches[id].State.Final() {
			delete(s.patches, id)
			s.order = slices.Delete(s.order, i, i+1)
			return true
		}
	}
	return false
}

func (s *Store) tallyOf(scope Scope, kind Kind) Tally {
	var t Tally
	for run, h := range s.hist {
		if scope.Covers(run) {
			t.Runs += h.runs
			t.Recurred += h.kinds[kind]
		}
	}
	return t
}

func (s *Store) get(id string) (*Patch, error) {
	p, ok := s.patches[id]
	if !ok {
		return nil, fmt.Errorf("scak: patch %q: %w", id, agentos.ErrNotFound)
	}
	return p, nil
}

// Get returns the patch with id. Errors: agentos.ErrNotFound.
func (s *Store) Get(id string) (Patch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(id)
	if err != nil {
		return Patch{}, err
	}
	return p.clone(), nil
}

// List returns every patch held, in the order proposed.
func (s *Store) List() []Patch {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Patch, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.patches[id].clone())
	}
	return out
}

// Activate makes a proposed patch active: later runs it covers get it from
// Apply. approvedBy names who let it apply. A policy proposal is not
// activated here: it applies only through [Proposer.Propose], after its
// shadow evaluation and an approval. Errors: agentos.ErrNotFound,
// agentos.ErrInvalid (a policy proposal, an empty or malformed approver),
// ErrState (not proposed), ErrConflict (an active patch of the same type
// and key, for an overlapping scope, says something else; nothing
// changes), and those of the episode store for a Memory patch.
func (s *Store) Activate(ctx context.Context, id, approvedBy string) (Patch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(id)
	if err != nil {
		return Patch{}, err
	}
	if p.Type == PolicyProposal {
		return Patch{}, fmt.Errorf("scak: %w: patch %s is a policy proposal: it applies only through a Proposer, after its shadow evaluation and an approval", agentos.ErrInvalid, id)
	}
	return s.activate(ctx, p, approvedBy)
}

// activate is Activate for any type; s.mu is held.
func (s *Store) activate(ctx context.Context, p *Patch, approvedBy string) (Patch, error) {
	if err := checkName("approver", approvedBy, true); err != nil {
		return Patch{}, err
	}
	if p.State != Proposed {
		return Patch{}, fmt.Errorf("scak: %w: patch %s is %s, not proposed", ErrState, p.ID, p.State)
	}
	if err := p.Validate(); err != nil {
		return Patch{}, err
	}
	if err := s.conflictWith(p); err != nil {
		return Patch{}, err
	}
	if err := ctx.Err(); err != nil {
		return Patch{}, err
	}
	if p.Type == Memory && s.cfg.episodes != nil {
		ep, err := s.cfg.episodes.Append(ctx, memoryEpisode(p, s.now()))
		if err != nil {
			return Patch{}, fmt.Errorf("scak: storing memory patch %s as an episode: %w", p.ID, err)
		}
		p.Episode = ep.ID
	}
	now := s.now()
	p.State, p.Updated, p.Reason = Active, now, ""
	p.Provenance.ApprovedBy, p.Provenance.Approved = approvedBy, now
	return p.clone(), nil
}

// conflictWith returns ErrConflict naming the first active patch that may
// not be active beside p.
func (s *Store) conflictWith(p *Patch) error {
	for _, id := range s.order {
		o := s.patches[id]
		if o.ID != p.ID && o.State == Active && p.conflicts(o) {
			return fmt.Errorf("%w: patch %s (%s, key %q, scope %s) says otherwise than active patch %s (scope %s)",
				ErrConflict, p.ID, p.Type, p.key(), p.Scope, o.ID, o.Scope)
		}
	}
	return nil
}

func memoryEpisode(p *Patch, now time.Time) emk.Episode {
	agent := string(p.Scope.Agent)
	if agent == "" {
		agent = "*"
	}
	goal := p.Scope.Task
	if goal == "" {
		goal = "any task"
	}
	return emk.Episode{
		Agent:      agent,
		Time:       now,
		Goal:       goal,
		Action:     "lesson learnt from " + string(p.Provenance.Failure),
		Result:     p.Provenance.Cause,
		Reflection: p.Content,
		Outcome:    emk.OutcomeFact,
		Meta: map[string]string{
			"scak.patch": p.ID, "scak.level": string(p.Level), "scak.failure": string(p.Provenance.Failure),
		},
	}
}

// retire moves an active or proposed patch to a final state; s.mu is held.
func (s *Store) retire(ctx context.Context, p *Patch, state PatchState, reason string) error {
	if p.State.Final() {
		return fmt.Errorf("scak: %w: patch %s is already %s", ErrState, p.ID, p.State)
	}
	if state == RolledBack && p.State != Active {
		return fmt.Errorf("scak: %w: patch %s is %s, not active", ErrState, p.ID, p.State)
	}
	if state == Rejected && p.State != Proposed {
		return fmt.Errorf("scak: %w: patch %s is %s, not proposed", ErrState, p.ID, p.State)
	}
	reason = truncate(reason, MaxReasonSize)
	if p.Episode != "" && s.cfg.episodes != nil {
		if _, err := s.cfg.episodes.MarkAntiPattern(ctx, p.Episode, "patch "+string(state)+": "+reason); err != nil {
			return fmt.Errorf("scak: marking the episode of patch %s: %w", p.ID, err)
		}
	}
	p.State, p.Reason, p.Updated = state, reason, s.now()
	return nil
}

// Reject refuses a proposed patch for reason. Errors: agentos.ErrNotFound,
// ErrState (not proposed).
func (s *Store) Reject(id, reason string) (Patch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(id)
	if err != nil {
		return Patch{}, err
	}
	if err := s.retire(context.Background(), p, Rejected, reason); err != nil {
		return Patch{}, err
	}
	return p.clone(), nil
}

// Rollback takes an active patch out of use for reason; later runs no
// longer get it. An applied policy proposal is rolled back by
// [Proposer.Rollback], which reloads the kernel's policy. Errors:
// agentos.ErrNotFound, agentos.ErrInvalid (a policy proposal), ErrState
// (not active), and those of the episode store for a Memory patch.
func (s *Store) Rollback(ctx context.Context, id, reason string) (Patch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(id)
	if err != nil {
		return Patch{}, err
	}
	if p.Type == PolicyProposal && p.State == Active {
		return Patch{}, fmt.Errorf("scak: %w: patch %s is an applied policy proposal: roll it back through its Proposer", agentos.ErrInvalid, id)
	}
	if err := s.retire(ctx, p, RolledBack, reason); err != nil {
		return Patch{}, err
	}
	return p.clone(), nil
}

// Apply returns what the active patches covering scope tell a run of it
// (policy proposals apply in the kernel, not here). It fails with
// ErrConflict, and applies nothing, when two of them contradict each other
// (which Activate prevents; a store loaded from a file is checked too).
func (s *Store) Apply(scope Scope) (Applied, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a Applied
	var used []*Patch
	for _, id := range s.order {
		p := s.patches[id]
		if p.State != Active || p.Type == PolicyProposal || !p.Scope.Covers(scope) {
			continue
		}
		for _, o := range used {
			if p.conflicts(o) {
				return Applied{}, fmt.Errorf("%w: active patches %s and %s contradict each other for %s", ErrConflict, o.ID, p.ID, scope)
			}
		}
		used = append(used, p)
		a.Patches = append(a.Patches, p.ID)
		switch p.Type {
		case PromptRule:
			if !slices.Contains(a.PromptRules, p.Content) {
				a.PromptRules = append(a.PromptRules, p.Content)
			}
		case Memory:
			if !slices.Contains(a.Memories, p.Content) {
				a.Memories = append(a.Memories, p.Content)
			}
		case ToolRule:
			a.ToolRules = append(a.ToolRules, *cloneTool(p.Tool))
		}
	}
	return a, nil
}

// RecordRun counts one run: for the history of its scope, and for every
// proposed or active patch covering it, whether the patch's failure
// recurred. Errors: agentos.ErrInvalid for a run without an agent and a
// task, or with more than MaxKindsPerScope failure kinds.
func (s *Store) RecordRun(r Run) error {
	if r.Scope.Agent == "" || r.Scope.Task == "" {
		return fmt.Errorf("scak: %w: a run needs its agent and task", agentos.ErrInvalid)
	}
	if err := checkName("agent", string(r.Scope.Agent), true); err != nil {
		return err
	}
	if err := checkName("task", r.Scope.Task, true); err != nil {
		return err
	}
	if len(r.Failures) > MaxKindsPerScope {
		return fmt.Errorf("scak: %w: %d failure kinds in one run, over %d", agentos.ErrInvalid, len(r.Failures), MaxKindsPerScope)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	h := s.hist[r.Scope]
	if h == nil {
		if len(s.hist) >= s.cfg.maxScopes {
			s.forgetOldestScope()
		}
		h = &history{kinds: map[Kind]int{}}
		s.hist[r.Scope] = h
	}
	h.runs++
	h.seq = s.seq
	for _, k := range dedupKinds(r.Failures) {
		if _, ok := h.kinds[k]; ok || len(h.kinds) < MaxKindsPerScope {
			h.kinds[k]++
		}
	}
	for _, id := range s.order {
		p := s.patches[id]
		if p.State.Final() || !p.Scope.Covers(r.Scope) {
			continue
		}
		t := &p.Before
		if p.State == Active {
			t = &p.After
		}
		t.Runs++
		if slices.Contains(r.Failures, p.Provenance.Failure) {
			t.Recurred++
		}
	}
	return nil
}

func dedupKinds(ks []Kind) []Kind {
	out := make([]Kind, 0, len(ks))
	for _, k := range ks {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func (s *Store) forgetOldestScope() {
	var oldest Scope
	var seq uint64
	first := true
	for sc, h := range s.hist {
		if first || h.seq < seq {
			oldest, seq, first = sc, h.seq, false
		}
	}
	delete(s.hist, oldest)
}

// Measure returns how often the failure of patch id recurred before and
// after it was active. Errors: agentos.ErrNotFound.
func (s *Store) Measure(id string) (Measurement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(id)
	if err != nil {
		return Measurement{}, err
	}
	return p.measure(), nil
}

func (p *Patch) measure() Measurement {
	return Measurement{Patch: p.ID, Failure: p.Provenance.Failure, Before: p.Before, After: p.After}
}

// Evaluate judges every active patch by [EvaluationRule]: a patch active
// for fewer than the minimum runs is pending; one whose failure recurs
// less often than before is kept; the others are rolled back, with the
// measure as the reason — except applied policy proposals, which are
// reported RollbackDue: only a [Proposer] changes policy, with approval. It returns a judgement per active patch, in the
// order proposed. Errors are those of the episode store (the patches
// judged before the error keep their verdicts).
func (s *Store) Evaluate(ctx context.Context) ([]Evaluation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Evaluation
	for _, id := range s.order {
		p := s.patches[id]
		if p.State != Active {
			continue
		}
		m := p.measure()
		ev := Evaluation{Patch: id, Measure: m}
		before := m.Before
		if before.Runs == 0 {
			before = Tally{Runs: 1, Recurred: 1}
		}
		switch {
		case m.After.Runs < s.cfg.minRuns:
			ev.Verdict = Pending
			ev.Reason = fmt.Sprintf("%d of %d runs needed", m.After.Runs, s.cfg.minRuns)
		case m.After.Rate() < before.Rate():
			ev.Verdict = Kept
			ev.Reason = fmt.Sprintf("recurrence dropped from %s to %s", before, m.After)
		default:
			ev.Verdict = RolledBackVerdict
			ev.Reason = fmt.Sprintf("recurrence did not drop: %s before, %s after %d runs", before, m.After, m.After.Runs)
			if p.Type == PolicyProposal {
				ev.Verdict = RollbackDue
				break
			}
			if err := s.retire(ctx, p, RolledBack, ev.Reason); err != nil {
				return out, err
			}
		}
		out = append(out, ev)
	}
	return out, nil
}

// ModelUpgrade records that the agents moved from model from to model to:
// live syntax-level patches learnt on from (or on no model recorded) are
// purged, since they correct how the old model wrote, and business-level
// patches are kept. Errors: agentos.ErrInvalid for empty or equal model
// names, and those of the episode store.
func (s *Store) ModelUpgrade(ctx context.Context, from, to string) (Upgrade, error) {
	if err := checkName("old model", from, true); err != nil {
		return Upgrade{}, err
	}
	if err := checkName("new model", to, true); err != nil {
		return Upgrade{}, err
	}
	if from == to {
		return Upgrade{}, fmt.Errorf("scak: %w: upgrade from %q to itself", agentos.ErrInvalid, from)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := Upgrade{From: from, To: to}
	reason := fmt.Sprintf("model upgrade from %s to %s: syntax-level lessons of the old model are dropped", from, to)
	for _, id := range s.order {
		p := s.patches[id]
		if p.State.Final() {
			continue
		}
		if p.Level == Business || (p.Provenance.Model != "" && p.Provenance.Model != from) {
			u.Kept = append(u.Kept, id)
			continue
		}
		if err := s.retire(ctx, p, Purged, reason); err != nil {
			return u, err
		}
		u.Purged = append(u.Purged, id)
	}
	return u, nil
}

// markProposalApplied activates an approved policy proposal.
func (s *Store) markProposalApplied(ctx context.Context, id, approvedBy string) (Patch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(id)
	if err != nil {
		return Patch{}, err
	}
	return s.activate(ctx, p, approvedBy)
}

// markProposalRolledBack rolls back an applied policy proposal.
func (s *Store) markProposalRolledBack(ctx context.Context, id, reason string) (Patch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(id)
	if err != nil {
		return Patch{}, err
	}
	if err := s.retire(ctx, p, RolledBack, reason); err != nil {
		return Patch{}, err
	}
	return p.clone(), nil
}

func cloneTool(t *ToolUse) *ToolUse {
	if t == nil {
		return nil
	}
	c := *t
	c.RequireArgs = slices.Clone(t.RequireArgs)
	return &c
}

func (p *Patch) clone() Patch {
	c := *p
	c.Tool = cloneTool(p.Tool)
	return c
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// storeFile is the format of Save.
type storeFile struct {
	Version int     `json:"version"`
	Patches []Patch `json:"patches"`
}

// Save writes the patches (with their states, provenance and measures) to
// path atomically: a temporary file in the same directory, synced, then
// renamed over path. The run history of scopes is not saved: a loaded
// store's new patches start their measure from the runs recorded after
// loading.
func (s *Store) Save(path string) error {
	data, err := json.MarshalIndent(storeFile{Version: storeFileVersion, Patches: s.List()}, "", "  ")
	if err != nil {
		return fmt.Errorf("scak: encoding patches: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("scak: saving patches: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("scak: saving patches: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("scak: saving patches: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("scak: saving patches: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("scak: saving patches: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: the rename is durable once the directory is
		d.Close()
	}
	return nil
}

// LoadStore opens a store holding the patches saved at path (see
// DecodePatches for what is checked). Errors: those of reading the file,
// and of DecodePatches.
func LoadStore(path string, opts ...StoreOption) (*Store, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scak: loading patches: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxStoreFile+1))
	if err != nil {
		return nil, fmt.Errorf("scak: loading patches: %w", err)
	}
	s, err := NewStore(opts...)
	if err != nil {
		return nil, err
	}
	ps, err := DecodePatches(data)
	if err != nil {
		return nil, fmt.Errorf("scak: loading %s: %w", path, err)
	}
	if len(ps) > s.cfg.maxPatches {
		return nil, fmt.Errorf("scak: loading %s: %w: %d patches, over %d", path, agentos.ErrQuota, len(ps), s.cfg.maxPatches)
	}
	for i := range ps {
		p := ps[i]
		s.patches[p.ID] = &p
		s.order = append(s.order, p.ID)
	}
	return s, nil
}

// DecodePatches reads the file format of Save strictly: one JSON object of
// a known version, no unknown field, no trailing data, at most
// MaxStoreFile bytes; every patch valid, in a known state, with the ID its
// content gives, once, with sane tallies; no two active patches in
// conflict. Errors wrap agentos.ErrInvalid (ErrConflict for a conflict).
func DecodePatches(data []byte) ([]Patch, error) {
	if len(data) > MaxStoreFile {
		return nil, fmt.Errorf("scak: %w: patch file is over %d bytes", agentos.ErrInvalid, MaxStoreFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f storeFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("scak: %w: patch file: %v", agentos.ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("scak: %w: patch file: data after the object", agentos.ErrInvalid)
	}
	if f.Version != storeFileVersion {
		return nil, fmt.Errorf("scak: %w: patch file version %d (want %d)", agentos.ErrInvalid, f.Version, storeFileVersion)
	}
	seen := make(map[string]bool, len(f.Patches))
	var active []*Patch
	for i := range f.Patches {
		p := &f.Patches[i]
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("patch %d: %w", i, err)
		}
		if !p.State.Valid() {
			return nil, fmt.Errorf("scak: %w: patch %d: unknown state %q", agentos.ErrInvalid, i, p.State)
		}
		if want := p.computeID(); p.ID != want {
			return nil, fmt.Errorf("scak: %w: patch %d: id %q does not match its content (%s)", agentos.ErrInvalid, i, p.ID, want)
		}
		if seen[p.ID] {
			return nil, fmt.Errorf("scak: %w: patch %s appears twice", agentos.ErrInvalid, p.ID)
		}
		seen[p.ID] = true
		for _, t := range []Tally{p.Before, p.After} {
			if t.Runs < 0 || t.Recurred < 0 || t.Recurred > t.Runs {
				return nil, fmt.Errorf("scak: %w: patch %s: tally %d/%d", agentos.ErrInvalid, p.ID, t.Recurred, t.Runs)
			}
		}
		if p.State == Active {
			for _, o := range active {
				if p.conflicts(o) {
					return nil, fmt.Errorf("%w: patch file: active patches %s and %s contradict each other", ErrConflict, o.ID, p.ID)
				}
			}
			active = append(active, p)
		}
	}
	return f.Patches, nil
}
