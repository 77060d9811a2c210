package bench

// A re-implementation, written for this comparison, of one governed call in
// the Go SDK of Microsoft's agent-governance-toolkit
// (github.com/microsoft/agent-governance-toolkit, directory
// agent-governance-golang/packages/agentmesh, commit
// b5705588883fac48b88cbe6fd0bd7d48c798453e): AgentMeshClient's
// ExecuteWithGovernance (client.go) with the pieces it calls —
// PolicyEngine.Evaluate (policy.go: first matching rule wins, default deny,
// conditions with $and/$or/$not and $gt/$gte/$lt/$lte/$ne/$in, per-rule
// rate limits, approvals), the protocol-facet registry walk
// (protocol_facets.go), AuditLogger.Log and Verify (audit.go: a SHA-256 hash
// chain over a versioned, length-prefixed encoding of each entry, kept in
// memory, with optional eviction behind a seam hash) and TrustManager's
// GetTrustScore, RecordSuccess and RecordFailure (trust.go, types.go:
// DefaultTrustConfig, decay, reward and asymmetric penalty, the bound on
// tracked agents, the snapshot taken for persistence on every update).
//
// The toolkit's Go module is not on the module proxy, so it cannot be
// imported here; this file follows its code step by step, with the same
// data structures, locks and copies, so that the benchmark times the same
// work. It was not copied.
//
// Left out: the bodies of the SQL and Kubernetes facet extractors (a
// context holding a "sql" or "k8s" map is not enriched; the benchmark's
// contexts hold neither, as in the toolkit's quickstart); external policy
// backends (OPA, Cedar; with none configured the toolkit denies what no
// rule matched, as here); writing trust scores to disk (PersistPath: the
// snapshot is taken, as the toolkit takes it, and dropped); loading rules
// from YAML; the identity's key pair (generated once in NewClient, never
// used by ExecuteWithGovernance: here the identity is its DID).
//
// What the toolkit's path does not do, and agentos's Agent.Exec does: run
// the tool, check its arguments against a schema, copy them, record the
// arguments, and record a second entry with the outcome.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// ToolkitDecision is a decision of the toolkit's policy engine.
type ToolkitDecision string

// The toolkit's decisions.
const (
	ToolkitAllow            ToolkitDecision = "allow"
	ToolkitDeny             ToolkitDecision = "deny"
	ToolkitReview           ToolkitDecision = "review"
	ToolkitRateLimit        ToolkitDecision = "rate_limit"
	ToolkitRequiresApproval ToolkitDecision = "requires_approval"
)

// ToolkitRule is one rule of the toolkit's policy engine. Action is an
// exact action name, "*", or a prefix pattern "data.*".
type ToolkitRule struct {
	Action       string
	Effect       ToolkitDecision
	Conditions   map[string]any
	MaxCalls     int    // > 0: at most MaxCalls matches per Window
	Window       string // a time.ParseDuration string; a minute when invalid
	MinApprovals int    // > 0: the decision is requires_approval
}

// ToolkitResult is what ExecuteWithGovernance returns.
type ToolkitResult struct {
	Decision   ToolkitDecision
	TrustScore ToolkitTrustScore
	AuditEntry *ToolkitAuditEntry
	Allowed    bool
}

// ToolkitClient is the re-implemented AgentMeshClient. It is safe for
// concurrent use.
type ToolkitClient struct {
	DID    string
	Policy *ToolkitPolicy
	Audit  *ToolkitAudit
	Trust  *ToolkitTrust
}

// NewToolkitClient returns a client for agentID with rules, the default
// trust configuration and an empty, unbounded audit log, as NewClient does.
func NewToolkitClient(agentID string, rules []ToolkitRule) *ToolkitClient {
	return &ToolkitClient{
		DID:    "did:agentmesh:" + agentID,
		Policy: NewToolkitPolicy(rules),
		Audit:  &ToolkitAudit{},
		Trust:  NewToolkitTrust(),
	}
}

// ExecuteWithGovernance decides action with params, appends the decision
// to the audit chain, reads the agent's trust score (as it was before this
// call) and rewards an allow or penalises a deny. It does not run anything.
func (c *ToolkitClient) ExecuteWithGovernance(action string, params map[string]any) (*ToolkitResult, error) {
	if c.Policy == nil || c.Audit == nil || c.Trust == nil {
		return nil, fmt.Errorf("bench: toolkit client not initialised")
	}
	d := c.Policy.Evaluate(action, params)
	entry := c.Audit.Log(c.DID, action, d)
	score := c.Trust.Score(c.DID)
	switch d {
	case ToolkitAllow:
		c.Trust.RecordSuccess(c.DID, 0.05)
	case ToolkitDeny:
		c.Trust.RecordFailure(c.DID, 0.1)
	}
	return &ToolkitResult{Decision: d, TrustScore: score, AuditEntry: entry, Allowed: d == ToolkitAllow}, nil
}

// ToolkitPolicy is the re-implemented PolicyEngine without backends.
type ToolkitPolicy struct {
	mu    sync.RWMutex
	rules []ToolkitRule
	rate  map[string]*toolkitWindow
}

type toolkitWindow struct {
	count int
	start time.Time
}

// NewToolkitPolicy returns an engine over rules, in order.
func NewToolkitPolicy(rules []ToolkitRule) *ToolkitPolicy {
	return &ToolkitPolicy{rules: rules, rate: map[string]*toolkitWindow{}}
}

// toolkitFacetKeys are the context keys the toolkit's default facet
// registry holds extractors for.
var (
	toolkitFacetMu   sync.RWMutex
	toolkitFacetKeys = []string{"sql", "k8s"}
)

// Evaluate returns the decision of the first rule whose action pattern and
// conditions match, else deny. Like the toolkit it works on a copy of
// params, walks a snapshot of the facet registry, and copies the context
// again when no rule matched.
func (p *ToolkitPolicy) Evaluate(action string, params map[string]any) ToolkitDecision {
	ctx := toolkitClone(params)
	toolkitFacetMu.RLock()
	keys := make([]string, len(toolkitFacetKeys))
	copy(keys, toolkitFacetKeys)
	toolkitFacetMu.RUnlock()
	for _, k := range keys {
		_ = ctx[k] // the extractors are left out (see the file comment)
	}

	p.mu.RLock()
	var matched *ToolkitRule
	for i := range p.rules {
		r := &p.rules[i]
		if toolkitMatchAction(r.Action, action) && toolkitMatch(r.Conditions, ctx) {
			matched = r
			break
		}
	}
	p.mu.RUnlock()

	if matched != nil {
		switch {
		case matched.MaxCalls > 0:
			return p.rateLimit(matched, ctx)
		case matched.MinApprovals > 0:
			return ToolkitRequiresApproval
		}
		return matched.Effect
	}
	backend := toolkitClone(ctx)
	if _, ok := backend["action"]; !ok {
		backend["action"] = action
	}
	if _, ok := backend["tool_name"]; !ok {
		backend["tool_name"] = action
	}
	return ToolkitDeny // no backend configured
}

// rateLimit counts a match of r in its window, per (action, agent_id,
// tenant) of the context.
func (p *ToolkitPolicy) rateLimit(r *ToolkitRule, ctx map[string]any) ToolkitDecision {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := r.Action + "\x1f" + toolkitString(ctx["agent_id"]) + "\x1f" + toolkitString(ctx["tenant"])
	now := time.Now()
	window, err := time.ParseDuration(r.Window)
	if err != nil {
		window = time.Minute
	}
	w, ok := p.rate[key]
	switch {
	case !ok:
		p.rate[key] = &toolkitWindow{count: 1, start: now}
		return ToolkitAllow
	case now.Sub(w.start) > window:
		w.count, w.start = 1, now
		return ToolkitAllow
	case w.count >= r.MaxCalls:
		return ToolkitRateLimit
	}
	w.count++
	return ToolkitAllow
}

func toolkitString(v any) string {
	switch s := v.(type) {
	case nil:
		return ""
	case string:
		return s
	}
	return fmt.Sprint(v)
}

func toolkitClone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func toolkitMatchAction(pattern, action string) bool {
	if pattern == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, ".*"); ok {
		return strings.HasPrefix(action, prefix+".")
	}
	return pattern == action
}

// toolkitMatch reports whether every condition holds in ctx.
func toolkitMatch(conds, ctx map[string]any) bool {
	for key, want := range conds {
		switch key {
		case "$and", "$or":
			list, ok := want.([]any)
			if !ok {
				return false
			}
			any1 := false
			for _, item := range list {
				sub, ok := item.(map[string]any)
				if !ok {
					return false
				}
				m := toolkitMatch(sub, ctx)
				if key == "$and" && !m {
					return false
				}
				any1 = any1 || m
			}
			if key == "$or" && !any1 {
				return false
			}
		case "$not":
			sub, ok := want.(map[string]any)
			if !ok || toolkitMatch(sub, ctx) {
				return false
			}
		default:
			got, ok := ctx[key]
			if !ok || !toolkitMatchValue(want, got) {
				return false
			}
		}
	}
	return true
}

func toolkitMatchValue(want, got any) bool {
	ops, ok := want.(map[string]any)
	if !ok {
		return toolkitEqual(want, got)
	}
	g, gNum := toolkitFloat(got)
	for op, w := range ops {
		switch op {
		case "$gt", "$gte", "$lt", "$lte":
			e, ok := toolkitFloat(w)
			if !ok || !gNum {
				return false
			}
			if (op == "$gt" && !(g > e)) || (op == "$gte" && !(g >= e)) ||
				(op == "$lt" && !(g < e)) || (op == "$lte" && !(g <= e)) {
				return false
			}
		case "$ne":
			if toolkitEqual(w, got) {
				return false
			}
		case "$in":
			list, ok := w.([]any)
			if !ok {
				return false
			}
			found := false
			for _, item := range list {
				if toolkitEqual(item, got) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func toolkitFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// toolkitEqual compares strings, float64s and bools; anything else is
// unequal (an int condition never equals anything, as in the toolkit).
func toolkitEqual(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

// ToolkitAuditEntry is one link of the audit chain.
type ToolkitAuditEntry struct {
	Timestamp    time.Time
	AgentID      string
	Action       string
	Decision     ToolkitDecision
	Hash         string
	PreviousHash string
}

// ToolkitAudit is the re-implemented AuditLogger: an in-memory hash chain.
// MaxEntries > 0 keeps the newest entries only, behind a seam hash.
type ToolkitAudit struct {
	mu         sync.RWMutex
	entries    []*ToolkitAuditEntry
	seam       string
	MaxEntries int
}

// Log appends an entry chained to the previous one and returns a copy.
func (l *ToolkitAudit) Log(agentID, action string, d ToolkitDecision) *ToolkitAuditEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.MaxEntries > 0 && len(l.entries) >= l.MaxEntries {
		from := len(l.entries) - l.MaxEntries + 1
		l.seam = l.entries[from-1].Hash
		kept := make([]*ToolkitAuditEntry, len(l.entries)-from)
		copy(kept, l.entries[from:])
		l.entries = kept
	}
	prev := l.seam
	if n := len(l.entries); n > 0 {
		prev = l.entries[n-1].Hash
	}
	e := &ToolkitAuditEntry{Timestamp: time.Now().UTC(), AgentID: agentID, Action: action, Decision: d, PreviousHash: prev}
	e.Hash = toolkitHash(e)
	l.entries = append(l.entries, e)
	c := *e
	return &c
}

// Len returns the number of entries kept.
func (l *ToolkitAudit) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.entries)
}

// Verify recomputes every hash and every link.
func (l *ToolkitAudit) Verify() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for i, e := range l.entries {
		if subtle.ConstantTimeCompare([]byte(e.Hash), []byte(toolkitHash(e))) != 1 {
			return false
		}
		prev := l.seam
		if i > 0 {
			prev = l.entries[i-1].Hash
		}
		if e.PreviousHash != prev {
			return false
		}
	}
	return true
}

// tamper lets the tests change a kept entry.
func (l *ToolkitAudit) tamper(i int, f func(*ToolkitAuditEntry)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l.entries[i])
}

// toolkitHash is the hex SHA-256 of version byte 1 and the timestamp
// (RFC 3339, nanoseconds), agent, action, decision and previous hash, each
// prefixed by its 4-byte big-endian length.
func toolkitHash(e *ToolkitAuditEntry) string {
	ts := e.Timestamp.Format(time.RFC3339Nano)
	buf := make([]byte, 0, 1+5*4+len(ts)+len(e.AgentID)+len(e.Action)+len(e.Decision)+len(e.PreviousHash))
	buf = append(buf, 1)
	for _, s := range [...]string{ts, e.AgentID, e.Action, string(e.Decision), e.PreviousHash} {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
		buf = append(buf, s...)
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

// ToolkitTrustScore is an agent's trust as the toolkit reports it.
type ToolkitTrustScore struct {
	Overall    float64
	Dimensions map[string]float64
	Tier       string
}

// ToolkitTrust is the re-implemented TrustManager with the toolkit's
// default configuration: initial score 0.5, decay 0.01 per update, reward
// factor 1, penalty factor 1.5, tiers high >= 0.8, medium >= 0.5.
type ToolkitTrust struct {
	mu     sync.RWMutex
	scores map[string]*toolkitScore
}

type toolkitScore struct {
	score        float64
	interactions int
}

const (
	toolkitInitial     = 0.5
	toolkitDecay       = 0.01
	toolkitReward      = 1.0
	toolkitPenalty     = 1.5
	toolkitHigh        = 0.8
	toolkitMedium      = 0.5
	toolkitMaxTracked  = 10_000
	toolkitDimensionID = "reliability"
)

// NewToolkitTrust returns a trust manager with no scores.
func NewToolkitTrust() *ToolkitTrust {
	return &ToolkitTrust{scores: map[string]*toolkitScore{}}
}

// Score returns id's current score.
func (t *ToolkitTrust) Score(id string) ToolkitTrustScore {
	t.mu.RLock()
	defer t.mu.RUnlock()
	v := toolkitInitial
	if s, ok := t.scores[id]; ok {
		v = s.score
	}
	return ToolkitTrustScore{Overall: v, Dimensions: map[string]float64{toolkitDimensionID: v}, Tier: toolkitTier(v)}
}

func toolkitTier(v float64) string {
	switch {
	case v >= toolkitHigh:
		return "high"
	case v >= toolkitMedium:
		return "medium"
	}
	return "low"
}

// RecordSuccess decays id's score and adds reward.
func (t *ToolkitTrust) RecordSuccess(id string, reward float64) {
	t.update(id, func(s float64) float64 { return math.Min(1, s*(1-toolkitDecay)+reward*toolkitReward) })
}

// RecordFailure decays id's score and subtracts 1.5 × penalty.
func (t *ToolkitTrust) RecordFailure(id string, penalty float64) {
	t.update(id, func(s float64) float64 { return math.Max(0, s*(1-toolkitDecay)-penalty*toolkitPenalty) })
}

// update applies f to id's score and, as the toolkit does on every update,
// takes a copy of all scores for persistence (dropped here: see the file
// comment).
func (t *ToolkitTrust) update(id string, f func(float64) float64) {
	snapshot := func() map[string]*toolkitScore {
		t.mu.Lock()
		defer t.mu.Unlock()
		s, ok := t.scores[id]
		if !ok {
			if len(t.scores) >= toolkitMaxTracked {
				t.evict()
			}
			s = &toolkitScore{score: toolkitInitial}
			t.scores[id] = s
		}
		s.interactions++
		s.score = f(s.score)
		snap := make(map[string]*toolkitScore, len(t.scores))
		for k, v := range t.scores {
			snap[k] = &toolkitScore{score: v.score, interactions: v.interactions}
		}
		return snap
	}()
	_ = snapshot
}

// evict drops the agent with the fewest interactions.
func (t *ToolkitTrust) evict() {
	var victim string
	least := math.MaxInt
	for k, v := range t.scores {
		if v.interactions < least {
			least, victim = v.interactions, k
		}
	}
	if victim != "" {
		delete(t.scores, victim)
	}
}
