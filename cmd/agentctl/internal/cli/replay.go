package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
)

func init() { register("replay", newReplayCmd) }

// replayVerdict is one side of a changed decision.
type replayVerdict struct {
	Effect        string   `json:"effect"`
	Rule          string   `json:"rule"`
	Message       string   `json:"message,omitempty"`
	PolicyVersion string   `json:"policy_version,omitempty"`
	Errors        []string `json:"errors,omitempty"`
}

// replayChange is a recorded decision the policy would decide otherwise.
type replayChange struct {
	Seq    uint64        `json:"seq"`
	Time   time.Time     `json:"time"`
	Trace  string        `json:"trace"`
	Agent  string        `json:"agent,omitempty"`
	Op     string        `json:"op"`
	Tool   string        `json:"tool,omitempty"`
	Path   string        `json:"path,omitempty"`
	Target string        `json:"target,omitempty"`
	Old    replayVerdict `json:"old"`
	New    replayVerdict `json:"new"`
	// Incomplete says what of the decision's input was not recorded (and
	// so what the replay decided without).
	Incomplete []string `json:"incomplete,omitempty"`
}

// replayGroup counts the changed decisions of one old verdict that become
// one new verdict.
type replayGroup struct {
	OldEffect  string `json:"old_effect"`
	OldRule    string `json:"old_rule"`
	NewEffect  string `json:"new_effect"`
	NewRule    string `json:"new_rule"`
	Changed    int    `json:"changed"`
	Incomplete int    `json:"incomplete"` // of them, with input not fully recorded
	FirstSeq   uint64 `json:"first_seq"`  // the first such decision
}

// replaySummary is the output of replay (--format json, or the table).
type replaySummary struct {
	File          string        `json:"file"`
	Files         []string      `json:"files"` // FILE and the rest of its rollover set
	PolicyVersion string        `json:"policy_version"`
	Decisions     int           `json:"decisions"` // decision entries selected
	Replayed      int           `json:"replayed"`
	Skipped       int           `json:"skipped"` // refused by the kernel before policy
	Changed       int           `json:"changed"`
	Unchanged     int           `json:"unchanged"`
	Incomplete    int           `json:"incomplete"` // replayed with input not fully recorded
	Groups        []replayGroup `json:"groups"`
}

// replayFilter selects the decisions replay reports.
type replayFilter struct {
	agent, op, tool string
	since, until    time.Time
	effectOnly      bool
}

func (f *replayFilter) match(e *recorder.Entry) bool {
	return (f.agent == "" || string(e.Agent) == f.agent) &&
		(f.op == "" || string(e.Op) == f.op) &&
		(f.tool == "" || e.Tool == f.tool) &&
		(f.since.IsZero() || !e.Time.Before(f.since)) &&
		(f.until.IsZero() || e.Time.Before(f.until))
}

func newReplayCmd(e *env) *cobra.Command {
	var (
		src          policySource
		f            replayFilter
		since, until string
		failOnChange bool
	)
	c := &cobra.Command{
		Use:   "replay FILE --policy P",
		Short: "Re-decide recorded decisions under another policy and report what would change",
		Long: `Shadow evaluation: re-decide every decision recorded in the flight recorder
FILE with another policy, and report the decisions it would decide
otherwise, grouped by old and new verdict (effect and rule). Run it before
deploying a policy. A rollover set (FILE, then NAME.000002.EXT, … beside
it) is replayed whole, in order.

Each decision's policy input is rebuilt from its entry: the agent, op,
path, tool, arguments, target, payload type, meta and time as recorded;
the agent's role, trust and labels from its "spawned" entry; for a pipe
send or a signal, the peer from the target agent's "spawned" entry; for a
tool call the kernel resolved, a tool description with its name and
version (meta.version).

What cannot be rebuilt, and how replay treats it:
  - rate limits: evaluated statefully, every decision in recorded order at
    its recorded time, buckets starting full at each "kernel started"
    entry: what the new policy's limits would have done to this traffic.
  - trust from an iatp registry (an agent with an identity, a signed
    peer): only the trust given at spawn is recorded; a verified signer
    (meta.signer) is not, and replay decides without a peer.
  - a tool's registry description beyond name and version (side effect,
    cost, tags, permissions, deprecation): left at zero values.
  - a message's payload (action.args.payload) is never recorded, and
    arguments over the kernel's recording limit are recorded cut.
  - what an agent would have done next: replay re-decides the actions as
    they were asked; an agent the new policy would have killed made the
    later calls all the same.
A changed decision whose rebuilt input lacks something the new policy
reads (args, peer or tool) is marked incomplete, with the reason.

Decisions the kernel refused before asking policy (rules kernel.*, such as
kernel.path or kernel.args; not kernel.policy-error) are skipped: no policy
changes them.

` + policySourceHelp + ` A kernel given a policy decides with it alone
(plus the privacy guards with WithPrivacyGuards), so replay does not add
the baseline unless asked with --baseline; --baseline without --policy
replays under what kernel.New loads by default.

--agent, --op, --tool, --since and --until select the decisions reported;
every decision is still re-decided, so that rate-limit state is right.

Output: --format table (a row per group, then a summary line), json (the
summary with its groups) or jsonl (every changed decision, one per line;
the summary on stderr). Exit codes: 0 replayed (changes or not), 1 with
--fail-on-change when a decision would change, 2 a usage error, a policy
that does not load, or a FILE that is not a readable flight recorder.`,
		Example: `  agentctl replay audit.db --policy policies/
  agentctl replay audit.db -p new.yaml --fail-on-change --effect-only
  agentctl replay audit.db -p new.yaml --format jsonl | jq 'select(.new.effect == "deny")'
  agentctl replay audit.db -p new.yaml --agent alice --since 2026-01-01T00:00:00Z`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if f.since, err = parseTimeFlag("--since", since); err != nil {
				return err
			}
			if f.until, err = parseTimeFlag("--until", until); err != nil {
				return err
			}
			if f.op != "" && !agentos.Op(f.op).Valid() {
				return usageError("--op %q: want one of %s", f.op, opList())
			}
			docs, err := src.load()
			if err != nil {
				return err
			}
			// A policy that does not compile is refused before the
			// recorder is opened.
			if _, err := newEngine(cmd.Context(), docs); err != nil {
				return err
			}
			files := segments(args[0])
			for _, p := range files {
				if err := checkFile(p); err != nil {
					return err
				}
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			var each func(replayChange) error
			if e.format == "jsonl" {
				enc := json.NewEncoder(e.stdout)
				each = func(c replayChange) error { return enc.Encode(c) }
			}
			r := newReplayer(docs, f, each)
			for _, p := range files {
				if err := replayFile(ctx, r, p); err != nil {
					return err
				}
			}
			sum, err := r.finish(ctx)
			if err != nil {
				return err
			}
			sum.Files = files
			sum.File = args[0]
			if err := writeReplay(e, sum); err != nil {
				return err
			}
			if failOnChange && sum.Changed > 0 {
				return checkFailed("replay: %d of %d decisions would change", sum.Changed, sum.Replayed)
			}
			return nil
		},
	}
	src.flags(c)
	c.Flags().StringVar(&f.agent, "agent", "", "report only this agent's decisions")
	c.Flags().StringVar(&f.op, "op", "", "report only decisions of this op")
	c.Flags().StringVar(&f.tool, "tool", "", "report only decisions of this tool")
	c.Flags().StringVar(&since, "since", "", "report only decisions at or after this RFC 3339 time")
	c.Flags().StringVar(&until, "until", "", "report only decisions before this RFC 3339 time")
	c.Flags().BoolVar(&f.effectOnly, "effect-only", false, "count a decision as changed only when its effect changes (not its rule)")
	c.Flags().BoolVar(&failOnChange, "fail-on-change", false, "exit 1 when any decision would change")
	return c
}

// replayFile feeds the recorder at path to r.
func replayFile(ctx context.Context, r *replayer, path string) error {
	rec, err := openRecorder(path)
	if err != nil {
		return err
	}
	defer rec.Close()
	err = r.feed(ctx, rec)
	var xe *exitError
	if errors.As(err, &xe) {
		return err
	}
	return readError(path, err)
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, usageError("%s %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", name, v)
	}
	return t, nil
}

// reads says which parts of the input a policy reads, by the names its
// expressions use: parts replay cannot always rebuild.
type reads struct{ args, peer, tool bool }

var (
	readsArgs = regexp.MustCompile(`action\s*\.\s*args`)
	readsPeer = regexp.MustCompile(`(^|[^.\w])peer\s*[.\[]`)
	readsTool = regexp.MustCompile(`(^|[^.\w])tool\s*[.\[]`)
)

func readsOf(docs []*policy.Document) reads {
	var r reads
	check := func(x string) {
		r.args = r.args || readsArgs.MatchString(x)
		r.peer = r.peer || readsPeer.MatchString(x)
		r.tool = r.tool || readsTool.MatchString(x)
	}
	for _, d := range docs {
		for _, v := range d.Variables {
			check(v.Expression)
		}
		for _, rl := range d.Rules {
			check(rl.When)
		}
	}
	return r
}

// replayer re-decides the decisions of one recorder, file after file of a
// rollover set, keeping what a kernel keeps between entries: the spawned
// agents and the rate-limit state. It is not safe for concurrent use.
type replayer struct {
	docs   []*policy.Document
	f      replayFilter
	each   func(replayChange) error // called with every change, when set
	rd     reads
	eng    *policy.Engine // nil until the first decision after a kernel start
	now    time.Time      // the engine's clock: the time of the decision
	agents map[agentos.AgentID]policy.Subject
	groups map[[4]string]*replayGroup
	sum    replaySummary
}

func newReplayer(docs []*policy.Document, f replayFilter, each func(replayChange) error) *replayer {
	return &replayer{docs: docs, f: f, each: each, rd: readsOf(docs),
		agents: map[agentos.AgentID]policy.Subject{}, groups: map[[4]string]*replayGroup{}}
}

// replay re-decides every decision of rec under docs and summarizes the
// changes among those f selects (see replayer).
func replay(ctx context.Context, rec *recorder.Recorder, docs []*policy.Document, f replayFilter,
	each func(replayChange) error) (replaySummary, error) {
	r := newReplayer(docs, f, each)
	if err := r.feed(ctx, rec); err != nil {
		return r.sum, err
	}
	return r.finish(ctx)
}

// feed re-decides the decisions of rec, in recorded order. Errors are the
// recorder's (or ctx's), each's, or a usage error for a policy that does
// not compile.
func (r *replayer) feed(ctx context.Context, rec *recorder.Recorder) error {
	for en, err := range rec.Query(ctx, recorder.Filter{}) {
		if err != nil {
			return err
		}
		if err := r.entry(ctx, &en); err != nil {
			return err
		}
	}
	return nil
}

func (r *replayer) entry(ctx context.Context, en *recorder.Entry) error {
	switch en.Kind {
	case recorder.KindLifecycle:
		switch en.Message {
		case "kernel started":
			// A new kernel: fresh rate-limit buckets, no agents.
			r.eng = nil
			clear(r.agents)
		case "spawned":
			r.agents[en.Agent] = spawnSubject(en.Agent, en.Detail)
		}
		return nil
	case recorder.KindDecision:
	default:
		return nil
	}
	sum := &r.sum
	selected := r.f.match(en)
	if selected {
		sum.Decisions++
	}
	if strings.HasPrefix(en.Rule, "kernel.") && en.Rule != kernel.RulePolicyError {
		if selected {
			sum.Skipped++
		}
		return nil
	}
	if r.eng == nil {
		eng, err := newEngine(ctx, r.docs, policy.WithClock(func() time.Time { return r.now }))
		if err != nil {
			return err
		}
		r.eng = eng
		sum.PolicyVersion = eng.Version()
	}
	in, incomplete := replayInput(en, r.agents, r.rd)
	r.now = en.Time
	d, err := r.eng.Decide(ctx, in)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.Errors = append(d.Errors, err.Error())
	}
	if !selected {
		return nil
	}
	sum.Replayed++
	if len(incomplete) > 0 {
		sum.Incomplete++
	}
	if d.Effect == en.Effect && (r.f.effectOnly || d.Rule == en.Rule) {
		sum.Unchanged++
		return nil
	}
	sum.Changed++
	c := replayChange{Seq: en.Seq, Time: en.Time, Trace: en.Trace, Agent: string(en.Agent), Op: string(en.Op),
		Tool: en.Tool, Path: en.Path, Target: string(en.Target),
		Old:        replayVerdict{Effect: en.Effect.String(), Rule: en.Rule, Message: en.Message, PolicyVersion: en.PolicyVersion},
		New:        replayVerdict{Effect: d.Effect.String(), Rule: d.Rule, Message: d.Message, PolicyVersion: d.PolicyVersion, Errors: d.Errors},
		Incomplete: incomplete}
	k := [4]string{c.Old.Effect, c.Old.Rule, c.New.Effect, c.New.Rule}
	g := r.groups[k]
	if g == nil {
		g = &replayGroup{OldEffect: k[0], OldRule: k[1], NewEffect: k[2], NewRule: k[3], FirstSeq: en.Seq}
		r.groups[k] = g
	}
	g.Changed++
	if len(incomplete) > 0 {
		g.Incomplete++
	}
	if r.each != nil {
		return r.each(c)
	}
	return nil
}

// finish returns the summary, its groups sorted by count (most first).
func (r *replayer) finish(ctx context.Context) (replaySummary, error) {
	sum := r.sum
	if sum.PolicyVersion == "" {
		eng, err := newEngine(ctx, r.docs)
		if err != nil {
			return sum, err
		}
		sum.PolicyVersion = eng.Version()
	}
	sum.Groups = make([]replayGroup, 0, len(r.groups))
	for _, g := range r.groups {
		sum.Groups = append(sum.Groups, *g)
	}
	sort.Slice(sum.Groups, func(i, j int) bool {
		a, b := sum.Groups[i], sum.Groups[j]
		if a.Changed != b.Changed {
			return a.Changed > b.Changed
		}
		return a.FirstSeq < b.FirstSeq
	})
	return sum, nil
}

// replayInput rebuilds the policy input of a decision entry, and says
// what of it could not be rebuilt that the policy reads.
func replayInput(en *recorder.Entry, agents map[agentos.AgentID]policy.Subject, rd reads) (policy.Input, []string) {
	var incomplete []string
	act := agentos.Action{
		ID: en.Trace, Agent: en.Agent, Op: en.Op, Path: en.Path, Tool: en.Tool, Target: en.Target,
		PayloadType: en.PayloadType, Meta: en.Meta, At: en.Time,
	}
	if len(en.Args) > 0 {
		args, err := decodeArgs(en.Args)
		switch {
		case err != nil:
			incomplete = append(incomplete, "the recorded arguments do not decode: "+err.Error())
		default:
			act.Args = args
			if _, cut := args[kernel.ArgsTruncatedKey]; cut && rd.args {
				incomplete = append(incomplete, "the arguments were recorded cut (over the kernel's recording limit)")
			}
		}
	}
	if act.Op == agentos.OpSend && en.Meta[kernel.MetaPayload] != "" && rd.args {
		if _, ok := act.Args["payload"]; !ok {
			incomplete = append(incomplete, "the message payload (action.args.payload) is not recorded")
		}
	}
	in := policy.Input{Action: act, Now: en.Time}
	if s, ok := agents[en.Agent]; ok {
		in.Agent = s
	} else {
		in.Agent = policy.Subject{ID: string(en.Agent)}
		incomplete = append(incomplete, "no spawned entry for the agent: its role, trust and labels are unknown")
	}
	switch {
	case en.Meta[kernel.MetaSigner] != "":
		if rd.peer {
			incomplete = append(incomplete, "the verified signer (peer) is not recorded")
		}
	case en.Op == agentos.OpSignal || (en.Op == agentos.OpSend && en.Meta[kernel.MetaDirection] == kernel.DirectionPipe):
		if s, ok := agents[en.Target]; ok {
			in.Peer = &s
		}
	}
	if v, ok := en.Meta[kernel.MetaVersion]; ok && en.Op == agentos.OpExec {
		in.Tool = &policy.Tool{Name: en.Tool, Version: v}
		if rd.tool {
			incomplete = append(incomplete, "the tool's registry description beyond name and version is not recorded")
		}
	}
	return in, incomplete
}

// decodeArgs decodes recorded arguments into the values the kernel hands
// policy (integers as int64, other numbers as float64).
func decodeArgs(raw json.RawMessage) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value")
	}
	n := maxArgsValues
	c, err := normalizeArg(v, 0, &n)
	if err != nil {
		return nil, err
	}
	m, ok := c.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("arguments are a JSON %T, not an object", c)
	}
	return m, nil
}

// spawnSubject parses the detail of a "spawned" entry, as the kernel
// writes it: role="analyst" trust=0.5 key="value" … (labels sorted).
// What does not parse is left out.
func spawnSubject(id agentos.AgentID, detail string) policy.Subject {
	s := policy.Subject{ID: string(id)}
	rest := detail
	for {
		rest = strings.TrimLeft(rest, " ")
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return s
		}
		key := rest[:eq]
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return s
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			end := strings.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		switch key {
		case "role":
			s.Role = val
		case "trust":
			if t, err := strconv.ParseFloat(val, 64); err == nil {
				s.Trust = t
			}
		default:
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			s.Labels[key] = val
		}
	}
}

func writeReplay(e *env, sum replaySummary) error {
	of := sum.File
	if len(sum.Files) > 1 {
		of += fmt.Sprintf(" (%d files)", len(sum.Files))
	}
	line := fmt.Sprintf("replayed %d decisions of %s under %s: %d would change, %d unchanged; %d skipped (refused by the kernel before policy); %d replayed with input not fully recorded",
		sum.Replayed, of, sum.PolicyVersion, sum.Changed, sum.Unchanged, sum.Skipped, sum.Incomplete)
	switch e.format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	case "jsonl":
		_, err := fmt.Fprintln(e.stderr, line)
		return err
	}
	if len(sum.Groups) > 0 {
		err := writeRecords(e, []string{"OLD", "NEW", "CHANGED", "INCOMPLETE", "FIRST SEQ"}, sum.Groups, func(g replayGroup) []string {
			return []string{verdict(g.OldEffect, g.OldRule), verdict(g.NewEffect, g.NewRule),
				strconv.Itoa(g.Changed), strconv.Itoa(g.Incomplete), strconv.FormatUint(g.FirstSeq, 10)}
		})
		if err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(e.stdout, line)
	return err
}
