package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
)

// This file reads back what the kernel writes, so that a recorded decision
// can be decided again under another policy (shadow evaluation): the
// writers are spawnDetail (kernel.go), decisionEntry (syscall.go) and
// recordedArgs (durability.go). A change to one of them is a change here.

// maxSpawnDetail bounds the detail ParseSpawnDetail reads: the recorder's
// default entry limit, well over the longest detail the kernel writes (a
// role of 128 bytes and 64 labels of 256-byte keys and values, quoted).
const maxSpawnDetail = 1 << 20

// ParseSpawnDetail reads the detail of the kernel's "spawned" lifecycle
// entry back into the subject policy saw, without its ID (the entry's
// Agent). The kernel writes role="analyst" trust=0.5 team="blue" …: the
// role quoted, the trust as a number, then each label (sorted by key) as
// its key unquoted, "=" and its value quoted. Role and trust always come
// first, so a label named "role" or "trust" is read as a label. A label key
// is what WithLabels accepts (letters, digits, '.', '_', '-', '/'), so it
// cannot be mistaken for the text around it; a detail with any other key
// (written by a kernel that accepted any key) is refused rather than read
// one way of several. Errors wrap agentos.ErrInvalid.
func ParseSpawnDetail(detail string) (policy.Subject, error) {
	var s policy.Subject
	if detail == "" {
		return s, nil
	}
	if len(detail) > maxSpawnDetail {
		return s, fmt.Errorf("kernel: %w: spawn detail is %d bytes, over %d", agentos.ErrInvalid, len(detail), maxSpawnDetail)
	}
	role, rest, err := spawnField(detail, "role", true)
	if err != nil {
		return policy.Subject{}, err
	}
	s.Role = role
	if rest == "" {
		return s, nil
	}
	trust, rest, err := spawnField(rest, "trust", false)
	if err != nil {
		return policy.Subject{}, err
	}
	v, err := strconv.ParseFloat(trust, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return policy.Subject{}, fmt.Errorf("kernel: %w: spawn detail: trust %q", agentos.ErrInvalid, truncateString(trust, 64))
	}
	s.Trust = v
	for rest != "" {
		eq := strings.Index(rest, `="`)
		if eq < 0 {
			return policy.Subject{}, fmt.Errorf("kernel: %w: spawn detail: %q: expected key=\"value\"", agentos.ErrInvalid, truncateString(rest, 64))
		}
		key := rest[:eq]
		if !validLabelKey(key) {
			return policy.Subject{}, fmt.Errorf("kernel: %w: spawn detail: label key %q", agentos.ErrInvalid, truncateString(key, 64))
		}
		var val string
		if val, rest, err = spawnValue(rest[eq+1:], key, true); err != nil {
			return policy.Subject{}, err
		}
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		if _, dup := s.Labels[key]; dup {
			return policy.Subject{}, fmt.Errorf("kernel: %w: spawn detail: label %q twice", agentos.ErrInvalid, truncateString(key, 64))
		}
		s.Labels[key] = val
	}
	return s, nil
}

// spawnField reads `key=value` at the start of detail, and returns the
// value and what follows its separating space.
func spawnField(detail, key string, quoted bool) (val, rest string, err error) {
	if !strings.HasPrefix(detail, key+"=") {
		return "", "", fmt.Errorf("kernel: %w: spawn detail %q: expected %s= next", agentos.ErrInvalid, truncateString(detail, 64), key)
	}
	return spawnValue(detail[len(key)+1:], key, quoted)
}

// spawnValue reads a value at the start of s (a Go-quoted string when
// quoted, else up to the next space), and returns it and what follows its
// separating space.
func spawnValue(s, key string, quoted bool) (val, rest string, err error) {
	if quoted {
		q, err := strconv.QuotedPrefix(s)
		if err != nil || q[0] != '"' {
			return "", "", fmt.Errorf("kernel: %w: spawn detail: value of %q is not a quoted string", agentos.ErrInvalid, truncateString(key, 64))
		}
		if val, err = strconv.Unquote(q); err != nil {
			return "", "", fmt.Errorf("kernel: %w: spawn detail: value of %q: %v", agentos.ErrInvalid, truncateString(key, 64), err)
		}
		rest = s[len(q):]
	} else {
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			end = len(s)
		}
		val, rest = s[:end], s[end:]
	}
	switch {
	case rest == "":
		return val, "", nil
	case rest[0] != ' ':
		return "", "", fmt.Errorf("kernel: %w: spawn detail: no space after the value of %q", agentos.ErrInvalid, truncateString(key, 64))
	case len(rest) == 1:
		return "", "", fmt.Errorf("kernel: %w: spawn detail ends with a space", agentos.ErrInvalid)
	}
	return val, rest[1:], nil
}

// RegistryTools describes tools as reg does, for [WithReplayTools]: the
// tool at the version a decision recorded (its meta.version), or the
// latest when it recorded none. It returns nil for a tool reg does not
// hold at that version (or for a nil reg).
func RegistryTools(reg *atr.Registry) func(name, version string) *policy.Tool {
	return func(name, version string) *policy.Tool {
		if reg == nil {
			return nil
		}
		constraint := ""
		if version != "" {
			constraint = "=" + version
		}
		t, err := reg.Resolve(name, constraint)
		if err != nil {
			return nil
		}
		desc := PolicyTool(t)
		return &desc
	}
}

// Bounds of a Replayer.
const (
	// MaxReplayAgents bounds the agents a Replayer knows at once (those
	// spawned since the last "kernel started" entry, and those given with
	// WithReplaySubjects); a spawn beyond it is an error.
	MaxReplayAgents = 1 << 16
	// maxReplayArgs bounds the recorded arguments decoded, as the kernel
	// bounds what it records.
	maxReplayArgs = 1 << 20
)

// ReplayOption configures a [Replayer].
type ReplayOption func(*replayConfig) error

type replayConfig struct {
	tools    func(name, version string) *policy.Tool
	opts     []policy.Option
	subjects map[agentos.AgentID]policy.Subject
}

// WithReplayTools describes the tool of a recorded tool call as the
// kernel's tool registry did (see [RegistryTools]): it is called with the
// tool's name and the version the decision recorded. Without it, or when
// it returns nil, a tool the kernel resolved is described by its name and
// version only, and a decision under a policy that reads tool.* is marked
// incomplete.
func WithReplayTools(describe func(name, version string) *policy.Tool) ReplayOption {
	return func(c *replayConfig) error {
		if describe == nil {
			return fmt.Errorf("kernel: %w: nil tool describer", agentos.ErrInvalid)
		}
		c.tools = describe
		return nil
	}
}

// WithReplayPolicyOptions are given to the policy engine (a
// policy.WithResolver for egress hostnames, cost bounds, the options the
// kernel's engine had). A clock option is overridden: every decision is
// decided at its recorded time.
func WithReplayPolicyOptions(opts ...policy.Option) ReplayOption {
	return func(c *replayConfig) error {
		c.opts = append(c.opts, opts...)
		return nil
	}
}

// WithReplaySubjects gives the agents as policy saw them before the first
// entry fed (for a trail that starts after their "spawned" entries). A
// "spawned" entry fed later replaces an agent's subject; a "kernel
// started" entry forgets them all.
func WithReplaySubjects(subjects map[agentos.AgentID]policy.Subject) ReplayOption {
	return func(c *replayConfig) error {
		if len(subjects) > MaxReplayAgents {
			return fmt.Errorf("kernel: %w: %d subjects, over %d", agentos.ErrInvalid, len(subjects), MaxReplayAgents)
		}
		c.subjects = maps.Clone(subjects)
		return nil
	}
}

// Replayed is one recorded decision decided again.
type Replayed struct {
	// Recorded is the decision as the entry recorded it: effect, rule,
	// message, severity, policy version, and its error as one item of
	// Errors.
	Recorded agentos.Decision
	// Skipped is true for a decision the kernel refused before asking
	// policy (a rule kernel.* other than RulePolicyError): no policy
	// changes it, it is not decided again and Input and Decision are zero.
	Skipped bool
	// Input is the policy input rebuilt from the entry.
	Input policy.Input
	// Decision is the replayer's policy's decision on Input, as the kernel
	// would have recorded it: when the engine cannot decide, Deny by
	// RulePolicyError (unless the engine named a rule) with the error in
	// Errors. Approve stays Approve: no approver is asked.
	Decision agentos.Decision
	// Incomplete says what of Input was not recorded and that the policy
	// reads (and so what it was decided without), one reason each.
	Incomplete []string
}

// Changed reports whether the replayed decision differs from the recorded
// one: in effect, or (unless effectOnly) in rule. A skipped decision
// never changes.
func (r *Replayed) Changed(effectOnly bool) bool {
	if r.Skipped {
		return false
	}
	return r.Decision.Effect != r.Recorded.Effect || (!effectOnly && r.Decision.Rule != r.Recorded.Rule)
}

// replaySubject is an agent as the replay knows it.
type replaySubject struct {
	s policy.Subject
	// bad, when not empty, says that its spawn entry did not parse (s has
	// only its ID); ident, that its trust comes from an iatp registry.
	bad, ident string
}

// gaps are the reasons s is incomplete, for a policy that reads r.
func (s *replaySubject) gaps(r replayReads, incomplete []string) []string {
	if s.bad != "" {
		incomplete = append(incomplete, s.bad)
	}
	if s.ident != "" && r.subject {
		incomplete = append(incomplete, s.ident)
	}
	return incomplete
}

// Replayer decides recorded decisions again under other policy documents:
// shadow evaluation, for what a policy would have decided had it been in
// force. Feed it a flight recorder's entries in recorded order (a
// rollover set file after file); it keeps what a kernel keeps between
// entries:
//   - the agents, from each "spawned" entry (role, trust and labels, see
//     [ParseSpawnDetail]); a "reputation …" entry sets an agent's trust to
//     its registry score / 10;
//   - rate-limit state: every decision is decided in recorded order at its
//     recorded time, so that the new policy's limits act on this traffic.
//     A "kernel started" entry starts afresh: full buckets, no agents.
//
// Each decision's input is rebuilt from its entry (the agent, op, path,
// tool, arguments, target, payload type, meta and time as recorded) the
// way the kernel built it: the peer is the agent named by the target,
// except on a bus message (a topic, not an agent), where it is the
// verified signer; the tool is described when the kernel resolved it
// (meta.version recorded).
//
// What a trail does not hold, and how the replay decides without it (a
// decision is marked incomplete, with the reason, where its policy reads
// the part missing: action.args, peer.*, tool.*, or agent.trust and
// agent.labels of an agent with an identity; always for its own agent):
//   - an agent whose "spawned" entry is not among the entries fed (nor
//     given with WithReplaySubjects), or does not parse: decided with its
//     ID only;
//   - a verified signer (meta.signer) as its iatp registry described it:
//     the decision has no peer;
//   - trust from an iatp registry: only the scores of "reputation" entries
//     are recorded (to two decimals), not those before the first one, nor
//     the registry's labels;
//   - a tool's registry description: only its name and version, unless
//     WithReplayTools describes it;
//   - a message's payload (action.args.payload) and arguments over the
//     kernel's recording limit (recorded cut, see [ArgsTruncatedKey]);
//
// and, never marked:
//   - a float argument with an integral value is decided as an integer
//     (JSON does not tell 2.0 from 2);
//   - agents reaped before a decision that names them as target are not
//     recorded as gone: such a target is decided as a present peer;
//   - an approval: Approve is reported as it is, no approver is asked;
//   - what an agent would have done next: the actions are decided as they
//     were asked, even those of an agent the new policy would have killed.
//
// A Replayer is not safe for concurrent use.
type Replayer struct {
	docs     []*policy.Document
	cfg      replayConfig
	reads    replayReads
	eng      *policy.Engine // nil after a kernel start, until the next decision
	version  string
	now      time.Time // the engine's clock: the time of the decision being decided
	subjects map[agentos.AgentID]replaySubject
}

// NewReplayer compiles docs (ctx bounds the resolution of egress
// hostnames, as for policy.NewEngineContext) and returns a Replayer with
// no agents but those given with WithReplaySubjects. Errors: the policy
// engine's load errors (a *policy.Error wrapping agentos.ErrInvalid);
// agentos.ErrInvalid for a bad option.
func NewReplayer(ctx context.Context, docs []*policy.Document, opts ...ReplayOption) (*Replayer, error) {
	r := &Replayer{docs: slices.Clone(docs), reads: readsOf(docs), subjects: map[agentos.AgentID]replaySubject{}}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("kernel: %w: nil replay option", agentos.ErrInvalid)
		}
		if err := o(&r.cfg); err != nil {
			return nil, err
		}
	}
	r.cfg.opts = append(slices.Clip(r.cfg.opts), policy.WithClock(func() time.Time { return r.now }))
	if err := r.compile(ctx); err != nil {
		return nil, err
	}
	r.reset()
	return r, nil
}

func (r *Replayer) compile(ctx context.Context) error {
	eng, err := policy.NewEngineContext(ctx, r.docs, r.cfg.opts...)
	if err != nil {
		return err
	}
	r.eng, r.version = eng, eng.Version()
	return nil
}

// reset forgets the agents but those given with WithReplaySubjects.
func (r *Replayer) reset() {
	clear(r.subjects)
	for id, s := range r.cfg.subjects {
		s.ID = string(id)
		r.subjects[id] = replaySubject{s: s}
	}
}

// Version is the version of the policy the Replayer decides with.
func (r *Replayer) Version() string { return r.version }

// Feed takes the next entry of a trail. For a decision entry it returns
// the decision decided again and true; for any other entry, the zero
// Replayed and false (a lifecycle entry updates what the Replayer knows).
// Entries must come in recorded order: rate limits depend on it. Errors:
// ctx's error; the policy engine's load errors (when a kernel start
// recompiles docs); agentos.ErrInvalid wrapped in an error naming the
// entry, for a spawn beyond MaxReplayAgents.
func (r *Replayer) Feed(ctx context.Context, e *recorder.Entry) (Replayed, bool, error) {
	if err := ctx.Err(); err != nil {
		return Replayed{}, false, err
	}
	switch e.Kind {
	case recorder.KindLifecycle:
		return Replayed{}, false, r.lifecycle(e)
	case recorder.KindDecision:
	default:
		return Replayed{}, false, nil
	}
	rp := Replayed{Recorded: agentos.Decision{
		Effect: e.Effect, Rule: e.Rule, Message: e.Message, Severity: e.Severity, PolicyVersion: e.PolicyVersion,
	}}
	if e.Error != "" {
		rp.Recorded.Errors = []string{e.Error}
	}
	if strings.HasPrefix(e.Rule, "kernel.") && e.Rule != RulePolicyError {
		rp.Skipped = true
		return rp, true, nil
	}
	if r.eng == nil {
		if err := r.compile(ctx); err != nil {
			return Replayed{}, false, err
		}
	}
	rp.Input, rp.Incomplete = r.input(e)
	r.now = e.Time
	d, err := r.eng.Decide(ctx, rp.Input)
	if err != nil {
		if ctx.Err() != nil {
			return Replayed{}, false, ctx.Err()
		}
		// As the kernel decides when its evaluator fails (Agent.decide).
		d.Effect = agentos.Deny
		if d.Rule == "" {
			d.Rule = RulePolicyError
		}
		if d.Message == "" {
			d.Message = "policy could not decide"
		}
		d.Errors = append(d.Errors, err.Error())
	}
	rp.Decision = d
	return rp, true, nil
}

// lifecycle updates the agents from a lifecycle entry.
func (r *Replayer) lifecycle(e *recorder.Entry) error {
	switch {
	case e.Message == "kernel started":
		// A new kernel: fresh rate-limit buckets (a new engine, built at
		// the next decision), no agents.
		r.eng = nil
		clear(r.subjects)
	case e.Message == "spawned":
		if _, known := r.subjects[e.Agent]; !known && len(r.subjects) >= MaxReplayAgents {
			return fmt.Errorf("kernel: replaying entry %d: %w: more than %d agents", e.Seq, agentos.ErrInvalid, MaxReplayAgents)
		}
		s, err := ParseSpawnDetail(e.Detail)
		rs := replaySubject{s: s}
		if err != nil {
			rs.bad = fmt.Sprintf("the spawned entry (seq %d) of agent %s does not parse (%v): its role, trust and labels are unknown", e.Seq, e.Agent, err)
		}
		rs.s.ID = string(e.Agent)
		r.subjects[e.Agent] = rs
	case strings.HasPrefix(e.Message, "reputation "):
		rs, ok := r.subjects[e.Agent]
		if !ok {
			return nil
		}
		if score, ok := reputationScore(e.Detail); ok {
			rs.s.Trust = score / 10
			rs.ident = fmt.Sprintf("agent %s has an iatp identity: its trust is its last recorded reputation score / 10 (to two decimals), its registry labels are not recorded", e.Agent)
		} else {
			rs.ident = fmt.Sprintf("agent %s has an iatp identity: its reputation entry (seq %d) does not parse, its trust and registry labels are unknown", e.Agent, e.Seq)
		}
		r.subjects[e.Agent] = rs
	}
	return nil
}

// reputationScore reads score=S from the detail of a reputation entry
// (identity=ID score=S verdict=V; why).
func reputationScore(detail string) (float64, bool) {
	_, after, ok := strings.Cut(detail, " score=")
	if !ok {
		return 0, false
	}
	if end := strings.IndexAny(after, " ;"); end >= 0 {
		after = after[:end]
	}
	v, err := strconv.ParseFloat(after, 64)
	if err != nil || !(v >= 0 && v <= 10) {
		return 0, false
	}
	return v, true
}

// busDirections are the meta.direction of a bus message: its target is a
// topic, and the kernel gives policy no peer but a verified signer.
var busDirections = map[string]bool{
	DirectionPublish: true, DirectionRequest: true, DirectionReceive: true, DirectionReply: true,
}

// input rebuilds the policy input of a decision entry, and says what of it
// was not recorded that the policy reads.
func (r *Replayer) input(e *recorder.Entry) (policy.Input, []string) {
	var incomplete []string
	act := agentos.Action{
		ID: e.Trace, Agent: e.Agent, Op: e.Op, Path: e.Path, Tool: e.Tool, Target: e.Target,
		PayloadType: e.PayloadType, Meta: maps.Clone(e.Meta), At: e.Time,
	}
	if len(e.Args) > 0 {
		args, err := decodeRecordedArgs(e.Args)
		switch {
		case err != nil:
			incomplete = append(incomplete, "the recorded arguments do not decode: "+err.Error())
		default:
			act.Args = args
			if _, cut := args[ArgsTruncatedKey]; cut && len(args) == 1 && strings.Contains(e.Detail, "args truncated:") && r.reads.args {
				incomplete = append(incomplete, "the arguments were recorded cut (over the kernel's recording limit)")
			}
		}
	}
	if act.Op == agentos.OpSend && e.Meta[MetaPayload] != "" && r.reads.args {
		if _, ok := act.Args["payload"]; !ok {
			incomplete = append(incomplete, "the message payload (action.args.payload) is not recorded")
		}
	}
	in := policy.Input{Action: act, Now: e.Time}
	if s, ok := r.subjects[e.Agent]; ok {
		in.Agent = s.s
		incomplete = s.gaps(r.reads, incomplete)
	} else {
		in.Agent = policy.Subject{ID: string(e.Agent)}
		incomplete = append(incomplete, fmt.Sprintf("no spawned entry for agent %s: its role, trust and labels are unknown", e.Agent))
	}
	switch {
	case e.Meta[MetaSigner] != "":
		if r.reads.peer {
			incomplete = append(incomplete, fmt.Sprintf("the verified signer %s (peer) is not recorded", e.Meta[MetaSigner]))
		}
	case e.Target == "" || e.Op == agentos.OpSend && busDirections[e.Meta[MetaDirection]]:
		// No peer, as in the kernel.
	default:
		s, ok := r.subjects[e.Target]
		switch {
		case ok:
			p := s.s
			in.Peer = &p
			if r.reads.peer {
				incomplete = s.gaps(r.reads, incomplete)
			}
		case r.reads.peer && (e.Op == agentos.OpSignal || e.Op == agentos.OpSend && e.Meta[MetaDirection] == DirectionPipe):
			// The kernel refuses these before policy unless the target
			// is a live agent: it was one, whose spawn is not in the trail.
			incomplete = append(incomplete, fmt.Sprintf("no spawned entry for the peer %s: decided without a peer", e.Target))
		}
	}
	if version, ok := e.Meta[MetaVersion]; ok && e.Op == agentos.OpExec && e.Tool != "" {
		var t *policy.Tool
		if r.cfg.tools != nil {
			t = r.cfg.tools(e.Tool, version)
		}
		switch {
		case t != nil:
			in.Tool = t
		default:
			in.Tool = &policy.Tool{Name: e.Tool, Version: version}
			if !r.reads.tool {
				break
			}
			if r.cfg.tools != nil {
				incomplete = append(incomplete, fmt.Sprintf("the tool registry does not describe %s at version %q: only its name and version are known", e.Tool, version))
			} else {
				incomplete = append(incomplete, "the tool's registry description beyond name and version is not recorded")
			}
		}
	}
	return in, incomplete
}

// decodeRecordedArgs decodes recorded arguments into the values the
// kernel hands policy (copyArgs: integers as int64, other numbers as
// float64, within the kernel's bounds on arguments).
func decodeRecordedArgs(raw json.RawMessage) (map[string]any, error) {
	if len(raw) > maxReplayArgs {
		return nil, fmt.Errorf("%d bytes of arguments, over %d", len(raw), maxReplayArgs)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("arguments are not a JSON object")
	}
	return copyArgs(m)
}

// replayReads says which parts of the input a policy reads, by the names
// its expressions use: the parts a trail cannot always rebuild.
type replayReads struct{ args, peer, tool, subject bool }

var (
	readsArgs    = regexp.MustCompile(`action\s*\.\s*args`)
	readsPeer    = regexp.MustCompile(`(^|[^.\w])peer\s*[.\[]`)
	readsTool    = regexp.MustCompile(`(^|[^.\w])tool\s*[.\[]`)
	readsSubject = regexp.MustCompile(`(^|[^.\w])(agent|peer)\s*\.\s*(trust|labels)`)
)

func readsOf(docs []*policy.Document) replayReads {
	var r replayReads
	check := func(x string) {
		r.args = r.args || readsArgs.MatchString(x)
		r.peer = r.peer || readsPeer.MatchString(x)
		r.tool = r.tool || readsTool.MatchString(x)
		r.subject = r.subject || readsSubject.MatchString(x)
	}
	for _, d := range docs {
		if d == nil {
			continue
		}
		for _, v := range d.Variables {
			check(v.Expression)
		}
		for _, rl := range d.Rules {
			check(rl.When)
		}
	}
	return r
}
