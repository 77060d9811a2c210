package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
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
the agent's role, trust and labels from its "spawned" entry; the peer,
as the kernel gave it, from the "spawned" entry of the agent the target
names (a bus message has none: its target is a topic); for a tool call the
kernel resolved, a tool description with its name and version
(meta.version). The rules are the kernel's own (kernel.Replayer), shared
with scak's shadow evaluation of policy proposals.

What cannot be rebuilt, and how replay treats it:
  - rate limits: evaluated statefully, every decision in recorded order at
    its recorded time, buckets starting full at each "kernel started"
    entry: what the new policy's limits would have done to this traffic.
  - trust from an iatp registry (an agent with an identity, a signed
    peer): an agent's trust is the score of its last "reputation" entry
    / 10 (to two decimals), or the trust given at spawn before it; its
    registry labels are not recorded; a verified signer (meta.signer) is
    not either, and replay decides without a peer.
  - a reaped agent is not recorded as gone: a target it names is still
    decided as a present peer.
  - a tool's registry description beyond name and version (side effect,
    cost, tags, permissions, deprecation): left at zero values.
  - a message's payload (action.args.payload) is never recorded, and
    arguments over the kernel's recording limit are recorded cut.
  - what an agent would have done next: replay re-decides the actions as
    they were asked; an agent the new policy would have killed made the
    later calls all the same.
A decision whose rebuilt input lacks something the new policy reads
(args, peer, tool, or the trust and labels of an agent with an identity)
is marked incomplete, with the reason.

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
			files, err := recorderFiles(args[:1])
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			var each func(replayChange) error
			if e.format == "jsonl" {
				enc := json.NewEncoder(e.stdout)
				each = func(c replayChange) error { return enc.Encode(c) }
			}
			r, err := newReplayer(ctx, docs, f, each)
			if err != nil {
				return err
			}
			for _, p := range files {
				if err := replayFile(ctx, r, p); err != nil {
					return err
				}
			}
			sum := r.finish()
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

// replayer re-decides the decisions of one recorder, file after file of a
// rollover set, with a kernel.Replayer (which keeps the spawned agents and
// the rate-limit state between entries), and summarizes the changes among
// the decisions f selects. It is not safe for concurrent use.
type replayer struct {
	rp     *kernel.Replayer
	f      replayFilter
	each   func(replayChange) error // called with every change, when set
	groups map[[4]string]*replayGroup
	sum    replaySummary
}

// newReplayer compiles docs. Errors: a usage error for a policy that does
// not compile.
func newReplayer(ctx context.Context, docs []*policy.Document, f replayFilter, each func(replayChange) error) (*replayer, error) {
	rp, err := kernel.NewReplayer(ctx, docs, kernel.WithReplayPolicyOptions(policy.WithResolver(offlineResolver{})))
	if err != nil {
		return nil, policyLoadError(err)
	}
	return &replayer{rp: rp, f: f, each: each, groups: map[[4]string]*replayGroup{},
		sum: replaySummary{PolicyVersion: rp.Version()}}, nil
}

// replay re-decides every decision of rec under docs and summarizes the
// changes among those f selects (see replayer).
func replay(ctx context.Context, rec *recorder.Recorder, docs []*policy.Document, f replayFilter,
	each func(replayChange) error) (replaySummary, error) {
	r, err := newReplayer(ctx, docs, f, each)
	if err != nil {
		return replaySummary{}, err
	}
	if err := r.feed(ctx, rec); err != nil {
		return r.sum, err
	}
	return r.finish(), nil
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
	got, ok, err := r.rp.Feed(ctx, en)
	switch {
	case err != nil:
		return err
	case !ok || !r.f.match(en):
		// Every decision is re-decided, so that rate-limit state is
		// right; only those selected are reported.
		return nil
	}
	sum := &r.sum
	sum.Decisions++
	if got.Skipped {
		sum.Skipped++
		return nil
	}
	sum.Replayed++
	if len(got.Incomplete) > 0 {
		sum.Incomplete++
	}
	if !got.Changed(r.f.effectOnly) {
		sum.Unchanged++
		return nil
	}
	sum.Changed++
	d := got.Decision
	c := replayChange{Seq: en.Seq, Time: en.Time, Trace: en.Trace, Agent: string(en.Agent), Op: string(en.Op),
		Tool: en.Tool, Path: en.Path, Target: string(en.Target),
		Old:        replayVerdict{Effect: en.Effect.String(), Rule: en.Rule, Message: en.Message, PolicyVersion: en.PolicyVersion},
		New:        replayVerdict{Effect: d.Effect.String(), Rule: d.Rule, Message: d.Message, PolicyVersion: d.PolicyVersion, Errors: d.Errors},
		Incomplete: got.Incomplete}
	k := [4]string{c.Old.Effect, c.Old.Rule, c.New.Effect, c.New.Rule}
	g := r.groups[k]
	if g == nil {
		g = &replayGroup{OldEffect: k[0], OldRule: k[1], NewEffect: k[2], NewRule: k[3], FirstSeq: en.Seq}
		r.groups[k] = g
	}
	g.Changed++
	if len(got.Incomplete) > 0 {
		g.Incomplete++
	}
	if r.each != nil {
		return r.each(c)
	}
	return nil
}

// finish returns the summary, its groups sorted by count (most first).
func (r *replayer) finish() replaySummary {
	sum := r.sum
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
	return sum
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
