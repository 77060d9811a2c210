package cli

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// reportLimits bound what a report keeps in memory while it reads a
// recorder, and so the size of the page it writes: a recorder of a million
// entries makes a page no bigger than one of a few thousand. Past a bound
// the report aggregates and says so on the page.
type reportLimits struct {
	Agents        int // agents counted one by one; later ones share one "other agents" row
	Rules         int // deny rules counted one by one; later ones share one "other rules" row
	MarksPerAgent int // timeline events drawn one by one per agent; past it the agent is drawn in buckets
	Marks         int // timeline events kept one by one over all agents
	Buckets       int // time buckets of an aggregated timeline
	TimelineRows  int // agents given a timeline (those with most events)
	TableRows     int // rows of the agent and rule tables
	Label         int // bytes kept of a name, rule, path or message
	Versions      int // policy versions listed
}

// defaultReportLimits keep a page under a few MiB whatever the recorder
// holds (see TestReportPageIsBounded).
var defaultReportLimits = reportLimits{
	Agents:        1000,
	Rules:         1000,
	MarksPerAgent: 200,
	Marks:         20000,
	Buckets:       160,
	TimelineRows:  30,
	TableRows:     200,
	Label:         200,
	Versions:      16,
}

// reportCat is what a timeline mark shows.
type reportCat uint8

const (
	reportCatAllow reportCat = iota
	reportCatAudit
	reportCatApprove
	reportCatDeny
	reportCatSignal
	reportCatLifecycle
	reportCatPanic
	reportNumCats
)

// reportCatNames are the CSS classes (m-NAME) and legend names of the
// categories.
var reportCatNames = [reportNumCats]string{"allow", "audit", "approve", "deny", "signal", "lifecycle", "panic"}

func (c reportCat) String() string { return reportCatNames[c] }

// reportMark is one timeline event kept as it is.
type reportMark struct {
	time  int64 // unix nanoseconds, on the axis
	cat   reportCat
	label string // what the mark's tooltip says, already bounded
}

// reportBucket counts the events of one time bucket by category.
type reportBucket [reportNumCats]uint32

// reportAgent is what the report knows of one agent (or of the agents
// folded together past reportLimits.Agents).
type reportAgent struct {
	name        string // bounded (reportKey)
	folded      bool   // the "other agents" row
	first, last int64  // unix nanoseconds of its first and last entry
	entries     uint64 // entries of every kind
	events      uint64 // timeline events: decisions, signals, lifecycle, panics
	cats        [reportNumCats]uint64
	outcomes    map[recorder.Status]uint64 // bounded: the kernel's statuses and "other"
	marks       []reportMark               // nil once aggregated
	buckets     []reportBucket             // set once aggregated
	aggregated  bool
}

// reportRule is one deny rule.
type reportRule struct {
	name     string
	denials  uint64
	message  string // the message of its first denial, bounded
	severity agentos.Severity
}

// reportChain is the verification of the chain.
type reportChain struct {
	OK      bool
	Checked uint64
	Head    recorder.Anchor
	Broken  *recorder.ChainError
	Unknown recorder.Unknown
	Evicted uint64
	// BadKind and BadEntry describe the entry stored at Broken.Seq, when
	// there is one (a deleted entry leaves none): its kind and what it
	// says, as stored (that is, possibly as tampered).
	BadKind  recorder.Kind
	BadEntry string
}

// reportData is everything a page shows, gathered in one streaming pass
// over the recorder with bounded memory.
type reportData struct {
	File    string
	Files   []string // the files of a rolled-over recorder read, in order (nil: File alone)
	Stats   recorder.Stats
	Chain   reportChain
	lim     reportLimits
	t0, t1  int64 // the time axis, unix nanoseconds (t0 <= t1)
	read    uint64
	byKind  map[recorder.Kind]uint64
	agents  map[string]*reportAgent
	other   *reportAgent // agents past lim.Agents; nil until one comes
	rules   map[string]*reportRule
	otherR  *reportRule // rules past lim.Rules
	marks   int         // marks kept over all agents
	denials uint64
	// versions are the policy versions seen (at most lim.Versions);
	// moreVersions says more were seen.
	versions     []string
	moreVersions bool
	// agentsAtLeast says Stats.Agents stopped counting distinct agents at
	// reportMaxDistinct (several files).
	agentsAtLeast bool
}

// reportBuild reads rec: its statistics, the verification of its chain and
// every entry, aggregated as it streams. file is what the page calls the
// recorder. An error means the recorder could not be read (a broken chain
// is not an error: it is in Chain).
func reportBuild(ctx context.Context, rec *recorder.Recorder, file string, lim reportLimits) (*reportData, error) {
	st, err := rec.Stats(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := rec.Verify(ctx)
	if err != nil {
		return nil, err
	}
	d := newReportData(file, st, rep, lim)
	if err := d.describeBroken(ctx, rec); err != nil {
		return nil, err
	}
	if err := d.stream(ctx, rec, st.Oldest.IsZero()); err != nil {
		return nil, err
	}
	return d, nil
}

// reportMaxDistinct bounds the agent ids a report over several files
// keeps to count the distinct agents; past it the page says "at least".
const reportMaxDistinct = 1 << 20

// reportBuildFiles is reportBuild over the files of a rolled-over recorder,
// in chain order, each opened read-only with open in turn: their
// statistics added up, their chain verified as one (recorder.VerifyFiles)
// and their entries streamed one file after the other.
func reportBuildFiles(ctx context.Context, files []string, open func(string) (*recorder.Recorder, error), lim reportLimits) (*reportData, error) {
	with := func(path string, fn func(*recorder.Recorder) error) error {
		rec, err := open(path)
		if err != nil {
			return err
		}
		err = fn(rec)
		if cerr := rec.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%s: %w", path, cerr)
		}
		return err
	}
	if len(files) == 1 {
		var d *reportData
		err := with(files[0], func(rec *recorder.Recorder) (err error) {
			d, err = reportBuild(ctx, rec, files[0], lim)
			return err
		})
		return d, err
	}
	var st recorder.Stats
	for i, f := range files {
		if err := with(f, func(rec *recorder.Recorder) error {
			fs, err := rec.Stats(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if i == 0 {
				st = fs
				st.ByKind, st.ByEffect = map[recorder.Kind]uint64{}, map[agentos.Effect]uint64{}
			} else {
				st.Entries += fs.Entries
				if st.Oldest.IsZero() || !fs.Oldest.IsZero() && fs.Oldest.Before(st.Oldest) {
					st.Oldest = fs.Oldest
				}
				if fs.Newest.After(st.Newest) {
					st.Newest = fs.Newest
				}
			}
			st.Head = fs.Head
			for k, n := range fs.ByKind {
				st.ByKind[k] += n
			}
			for k, n := range fs.ByEffect {
				st.ByEffect[k] += n
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	st.Files = len(files)
	rep, err := recorder.VerifyFiles(ctx, files...)
	if err != nil {
		return nil, err
	}
	d := newReportData(files[0], st, rep, lim)
	d.Files = files
	distinct := map[agentos.AgentID]struct{}{}
	for _, f := range files {
		if err := with(f, func(rec *recorder.Recorder) error {
			if err := d.describeBroken(ctx, rec); err != nil {
				return err
			}
			return d.streamEach(ctx, rec, st.Oldest.IsZero(), func(e *recorder.Entry) {
				if len(distinct) < reportMaxDistinct {
					distinct[e.Agent] = struct{}{}
				} else if _, ok := distinct[e.Agent]; !ok {
					d.agentsAtLeast = true
				}
			})
		}); err != nil {
			return nil, err
		}
	}
	d.Stats.Agents = len(distinct)
	return d, nil
}

// newReportData starts the report of a recorder with statistics st and
// verification rep.
func newReportData(file string, st recorder.Stats, rep recorder.Report, lim reportLimits) *reportData {
	d := &reportData{
		File: file, Stats: st, lim: lim,
		Chain: reportChain{OK: rep.OK, Checked: rep.Entries, Head: rep.Head, Broken: rep.Broken,
			Unknown: rep.Unknown, Evicted: rep.Evicted},
		byKind: map[recorder.Kind]uint64{},
		agents: map[string]*reportAgent{},
		rules:  map[string]*reportRule{},
	}
	if !st.Oldest.IsZero() {
		d.t0, d.t1 = st.Oldest.UnixNano(), st.Newest.UnixNano()
	}
	return d
}

// describeBroken notes the entry rec stores at the first broken sequence,
// if it stores one.
func (d *reportData) describeBroken(ctx context.Context, rec *recorder.Recorder) error {
	b := d.Chain.Broken
	if b == nil || b.Seq == 0 || d.Chain.BadEntry != "" {
		return nil
	}
	for e, err := range rec.Query(ctx, recorder.Filter{After: b.Seq - 1, Before: b.Seq + 1, Limit: 1}) {
		if err != nil {
			return err
		}
		d.Chain.BadKind = reportKindKey(e.Kind)
		d.Chain.BadEntry = reportDescribe(&e, d.lim.Label)
	}
	return nil
}

// stream adds every entry of rec. empty says the statistics saw no entry,
// so the time axis starts from the first entry read.
func (d *reportData) stream(ctx context.Context, rec *recorder.Recorder, empty bool) error {
	return d.streamEach(ctx, rec, empty, nil)
}

// streamEach is stream, calling each (when set) with every entry too.
func (d *reportData) streamEach(ctx context.Context, rec *recorder.Recorder, empty bool, each func(*recorder.Entry)) error {
	for e, err := range rec.Query(ctx, recorder.Filter{}) {
		if err != nil {
			return err
		}
		if d.read == 0 && empty {
			// Entries appeared after Stats read an empty file.
			d.t0, d.t1 = e.Time.UnixNano(), e.Time.UnixNano()
		}
		d.add(&e)
		if each != nil {
			each(&e)
		}
	}
	return nil
}

// add counts one entry.
func (d *reportData) add(e *recorder.Entry) {
	d.read++
	d.byKind[reportKindKey(e.Kind)]++
	at := e.Time.UnixNano()
	// The axis comes from Stats. An entry outside it (appended to a live
	// file after Stats read it) is drawn at the nearest end.
	t := min(max(at, d.t0), d.t1)
	if e.PolicyVersion != "" {
		d.version(e.PolicyVersion)
	}
	a := d.agent(string(e.Agent), at)
	a.entries++
	a.first, a.last = min(a.first, at), max(a.last, at)
	cat, drawn := reportCategory(e)
	switch e.Kind {
	case recorder.KindOutcome:
		st := e.Status
		switch st {
		case recorder.StatusOK, recorder.StatusError, recorder.StatusDenied, recorder.StatusCanceled, recorder.StatusShadow, "killed":
		default:
			st = "other"
		}
		a.outcomes[st]++
	case recorder.KindDecision:
		if cat == reportCatDeny {
			d.deny(e)
		}
	}
	if !drawn {
		return
	}
	a.events++
	a.cats[cat]++
	if !a.aggregated && len(a.marks) < d.lim.MarksPerAgent && d.marks < d.lim.Marks {
		a.marks = append(a.marks, reportMark{time: t, cat: cat, label: reportLabel(e, cat, d.lim.Label)})
		d.marks++
		return
	}
	if !a.aggregated {
		a.aggregated = true
		a.buckets = make([]reportBucket, d.lim.Buckets)
		for _, m := range a.marks {
			d.bucket(a, m.time, m.cat)
		}
		d.marks -= len(a.marks)
		a.marks = nil
	}
	d.bucket(a, t, cat)
}

// bucket counts an event of a in the bucket of time t.
func (d *reportData) bucket(a *reportAgent, t int64, cat reportCat) {
	i := reportBucketOf(t, d.t0, d.t1, len(a.buckets))
	if a.buckets[i][cat] < ^uint32(0) {
		a.buckets[i][cat]++
	}
}

// reportBucketOf returns the bucket (0..n-1) of time t on the axis t0..t1:
// bucket i holds [t0+i·w, t0+(i+1)·w) with w = (t1-t0)/n, the last one
// also t1.
func reportBucketOf(t, t0, t1 int64, n int) int {
	if t1 <= t0 || t <= t0 {
		return 0
	}
	return min(int(float64(t-t0)/float64(t1-t0)*float64(n)), n-1)
}

// agent returns the row of the agent named id, creating it, or the shared
// row of the agents past the limit.
func (d *reportData) agent(id string, t int64) *reportAgent {
	key := reportKey(id, d.lim.Label)
	if a, ok := d.agents[key]; ok {
		return a
	}
	if len(d.agents) >= d.lim.Agents {
		if d.other == nil {
			d.other = &reportAgent{name: "(other agents)", folded: true, first: t, last: t, outcomes: map[recorder.Status]uint64{}}
		}
		return d.other
	}
	a := &reportAgent{name: key, first: t, last: t, outcomes: map[recorder.Status]uint64{}}
	d.agents[key] = a
	return a
}

// deny counts a denial under its rule.
func (d *reportData) deny(e *recorder.Entry) {
	d.denials++
	key := reportKey(e.Rule, d.lim.Label)
	r, ok := d.rules[key]
	if !ok {
		if len(d.rules) >= d.lim.Rules {
			if d.otherR == nil {
				d.otherR = &reportRule{name: "(other rules)"}
			}
			d.otherR.denials++
			return
		}
		r = &reportRule{name: key, message: reportTrunc(e.Message, d.lim.Label), severity: e.Severity}
		d.rules[key] = r
	}
	r.denials++
}

// version notes a policy version.
func (d *reportData) version(v string) {
	v = reportKey(v, d.lim.Label)
	if slices.Contains(d.versions, v) {
		return
	}
	if len(d.versions) >= d.lim.Versions {
		d.moreVersions = true
		return
	}
	d.versions = append(d.versions, v)
}

// agentCount is the number of distinct agents in the file, not counting
// the kernel's own entries (those with no agent).
func (d *reportData) agentCount() int {
	if _, ok := d.agents[""]; ok && d.Stats.Agents > 0 {
		return d.Stats.Agents - 1
	}
	return d.Stats.Agents
}

// reportKindKey bounds the kinds counted: a kind that is not one of the
// recorder's counts as "other".
func reportKindKey(k recorder.Kind) recorder.Kind {
	if k.Valid() {
		return k
	}
	return "other"
}

// reportCategory says how an entry shows on a timeline, and whether it
// does: decisions by what they let happen (a denied one in red, whatever
// the rule's effect), signals, lifecycle events and panics. Outcomes only
// count: their decision is already drawn.
func reportCategory(e *recorder.Entry) (reportCat, bool) {
	switch e.Kind {
	case recorder.KindDecision:
		if e.Status == recorder.StatusDenied {
			return reportCatDeny, true
		}
		switch e.Effect {
		case agentos.Allow:
			return reportCatAllow, true
		case agentos.Audit:
			return reportCatAudit, true
		case agentos.Approve:
			return reportCatApprove, true
		}
		// Deny, or an effect this version does not know: shown as denied.
		return reportCatDeny, true
	case recorder.KindSignal:
		return reportCatSignal, true
	case recorder.KindLifecycle:
		return reportCatLifecycle, true
	case recorder.KindPanic:
		return reportCatPanic, true
	}
	return 0, false
}

// reportLabel is the tooltip of a mark: sequence, time, and what happened.
func reportLabel(e *recorder.Entry, cat reportCat, limit int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s", e.Seq, e.Time.UTC().Format(time.RFC3339Nano), cat)
	part := func(s string) {
		if s != "" {
			b.WriteByte(' ')
			b.WriteString(reportTrunc(s, limit/2))
		}
	}
	switch e.Kind {
	case recorder.KindDecision:
		part(string(e.Op))
		part(e.Tool)
		part(e.Path)
		if e.Target != "" {
			part("→ " + string(e.Target))
		}
		if e.Rule != "" {
			part("(rule " + e.Rule + ")")
		}
	default:
		part(e.Detail)
		part(e.Message)
	}
	return reportTrunc(b.String(), limit)
}

// reportDescribe says what an entry of any kind holds, field by field,
// in at most limit bytes.
func reportDescribe(e *recorder.Entry, limit int) string {
	var parts []string
	field := func(name, v string) {
		if v != "" {
			parts = append(parts, name+" "+strconv.Quote(reportTrunc(v, limit/4)))
		}
	}
	field("agent", string(e.Agent))
	field("op", string(e.Op))
	field("tool", e.Tool)
	field("path", e.Path)
	field("target", string(e.Target))
	field("rule", e.Rule)
	if e.Kind == recorder.KindDecision {
		field("effect", e.Effect.String())
	}
	field("status", string(e.Status))
	field("detail", e.Detail)
	field("message", e.Message)
	return reportTrunc(fmt.Sprintf("time %s, %s", e.Time.UTC().Format(time.RFC3339Nano), strings.Join(parts, ", ")), limit)
}

// reportKey bounds a name used as a key: past limit bytes it keeps a prefix
// and a digest of the whole, so that two long names stay apart.
func reportKey(s string, limit int) string {
	if len(s) <= limit {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	sum := sha256.Sum256([]byte(s))
	return reportTrunc(s, limit) + hex.EncodeToString(sum[:4])
}

// reportTrunc cuts s to at most limit bytes of valid UTF-8, marking a cut
// with "…".
func reportTrunc(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= limit {
		return s
	}
	cut := max(limit-len("…"), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// sortedAgents returns the agent rows, most events first (then most
// entries, then by name). The folded row of the agents past the limit is
// sorted with them, or put last when foldedLast.
func (d *reportData) sortedAgents(foldedLast bool) []*reportAgent {
	as := make([]*reportAgent, 0, len(d.agents)+1)
	for _, a := range d.agents {
		as = append(as, a)
	}
	if d.other != nil && !foldedLast {
		as = append(as, d.other)
	}
	slices.SortFunc(as, func(x, y *reportAgent) int {
		if c := cmp.Compare(y.events, x.events); c != 0 {
			return c
		}
		if c := cmp.Compare(y.entries, x.entries); c != 0 {
			return c
		}
		return strings.Compare(x.name, y.name)
	})
	if d.other != nil && foldedLast {
		as = append(as, d.other)
	}
	return as
}

// sortedRules returns the deny rules, most denials first, the folded row
// last.
func (d *reportData) sortedRules() []*reportRule {
	rs := make([]*reportRule, 0, len(d.rules)+1)
	for _, r := range d.rules {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(x, y *reportRule) int {
		if c := cmp.Compare(y.denials, x.denials); c != 0 {
			return c
		}
		return strings.Compare(x.name, y.name)
	})
	if d.otherR != nil {
		rs = append(rs, d.otherR)
	}
	return rs
}
