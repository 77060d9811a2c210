package cli

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agent-os/agentos/recorder"
)

// The page's template and style sheet, embedded so that the page needs
// nothing beside itself.
//
//go:embed reportassets/report.html.tmpl reportassets/report.css
var reportAssets embed.FS

// reportTemplate is parsed once; html/template escapes every value by its
// context (text, attribute, SVG), so that agent names, rules, paths and
// messages, which whoever wrote the recorder chose, render as text.
var reportTemplate = template.Must(template.New("report.html.tmpl").ParseFS(reportAssets, "reportassets/report.html.tmpl"))

// reportCSS is the page's style sheet, inlined into a <style> element (the
// page's Content-Security-Policy allows inline style and nothing else).
var reportCSS = func() template.CSS {
	b, err := reportAssets.ReadFile("reportassets/report.css")
	if err != nil {
		panic(err) // embedded: cannot happen
	}
	return template.CSS(b) // our own constant, not user data
}()

// Geometry of a timeline row (SVG user units, one per CSS pixel).
const (
	reportTrackW = 960
	reportTrackH = 28
	reportPad    = 6
	// reportBarTop is the highest a bucket's bar reaches in an aggregated
	// timeline; signal diamonds sit above it.
	reportBarTop = 9.0
)

// Colours the tests look for in a screenshot; report.css uses the same.
const (
	reportColourOK     = "#1a7f37" // chain-status badge, chain verifies
	reportColourBroken = "#a40e26" // chain-status badge, chain broken
	reportColourDeny   = "#e5534b" // a denied syscall on a timeline, the denial bars
)

type reportView struct {
	CSS   template.CSS
	File  string
	Files string // the files of a rolled-over recorder, when several
	// AgentsAtLeast: Agents stopped counting (reportMaxDistinct).
	AgentsAtLeast bool
	Entries       uint64
	Read          uint64
	Agents        int
	From, To      string
	Span          string
	Kinds         []reportKV
	Versions      string
	Head          string
	Unknown       string
	Chain         reportChainView
	Legend        []reportLegendItem
	Timeline      reportTimelineView
	Denials       reportDenialsView
	AgentTable    reportAgentTableView
}

type reportKV struct {
	Key   string
	Value uint64
}

type reportChainView struct {
	OK       bool
	Status   string // ok or broken
	Headline string
	Detail   string
	Seq      uint64
	Reason   string
	Kind     string // kind of the entry stored at Seq, "" if none
}

type reportLegendItem struct {
	Cat, Name string
	Mark      reportMarkView
}

type reportTimelineView struct {
	Width, Height int
	Ticks         []reportTick
	Rows          []reportRowView
	Notes         []string
}

type reportTick struct {
	X      string
	Label  string
	Anchor string // text-anchor
}

type reportRowView struct {
	ID         string // the agent id as recorded (bounded); "" for the kernel and the folded row
	Name       string // what the page calls it
	Folded     bool
	Aggregated bool
	Events     uint64
	Marks      []reportMarkView
	Buckets    []reportBucketView
}

// reportMarkView is one shape: a rect, or a polygon when Points is set.
type reportMarkView struct {
	Cat        string
	X, Y, W, H string
	Points     string
	Title      string
}

type reportBucketView struct {
	Title string
	Marks []reportMarkView
}

type reportDenialsView struct {
	Total uint64
	Rows  []reportRuleView
	Note  string
}

type reportRuleView struct {
	Name     string
	Count    uint64
	Bar      string
	Pct      string
	Severity string
	Message  string
}

type reportAgentTableView struct {
	Rows []reportAgentRowView
	Note string
}

type reportAgentRowView struct {
	ID, Name                   string
	Folded                     bool
	Entries, Syscalls          uint64
	Allowed, Audited, Approved uint64
	Denied, Errors             uint64
	Signals, Lifecycle, Panics uint64
	First, Last                string
}

// reportRender writes the page of d to w.
func reportRender(w io.Writer, d *reportData) error {
	return reportTemplate.Execute(w, reportViewOf(d))
}

func reportViewOf(d *reportData) *reportView {
	v := &reportView{
		CSS:     reportCSS,
		File:    d.File,
		Entries: d.Stats.Entries,
		Read:    d.read,
		Agents:  d.agentCount(),
		Head:    fmt.Sprintf("seq %d, hash %s", d.Stats.Head.Seq, d.Stats.Head.Hash),
	}
	v.AgentsAtLeast = d.agentsAtLeast
	if n := len(d.Files); n > 1 {
		const shown = 10
		names := d.Files[:min(n, shown)]
		v.Files = fmt.Sprintf("%d files of a rolled-over recorder, read in chain order: %s", n, strings.Join(names, ", "))
		if n > shown {
			v.Files += fmt.Sprintf(", … (%d more)", n-shown)
		}
	}
	if d.Stats.Oldest.IsZero() {
		v.From, v.To, v.Span = "—", "—", "no entries"
	} else {
		v.From = d.Stats.Oldest.UTC().Format(time.RFC3339Nano)
		v.To = d.Stats.Newest.UTC().Format(time.RFC3339Nano)
		v.Span = d.Stats.Newest.Sub(d.Stats.Oldest).String()
	}
	for _, k := range append(recorder.Kinds(), "other") {
		if n := d.byKind[k]; n > 0 {
			v.Kinds = append(v.Kinds, reportKV{string(k), n})
		}
	}
	v.Versions = strings.Join(d.versions, ", ")
	if d.moreVersions {
		v.Versions += fmt.Sprintf(", … (only the first %d listed)", d.lim.Versions)
	}
	if v.Versions == "" {
		v.Versions = "—"
	}
	v.Unknown = "none"
	if n := d.Chain.Unknown.Count; n > 0 {
		v.Unknown = fmt.Sprintf("%d permitted syscalls have no outcome recorded (the effect may or may not have happened)", n)
	}
	v.Chain = reportChainViewOf(d)
	for c := range reportNumCats {
		v.Legend = append(v.Legend, reportLegendItem{Cat: c.String(), Name: reportLegendName(c), Mark: reportShape(c, 10, 14, "")})
	}
	v.Timeline = reportTimelineOf(d)
	v.Denials = reportDenialsOf(d)
	v.AgentTable = reportAgentTableOf(d)
	return v
}

func reportLegendName(c reportCat) string {
	switch c {
	case reportCatAllow:
		return "allowed"
	case reportCatAudit:
		return "allowed, audited"
	case reportCatApprove:
		return "approved"
	case reportCatDeny:
		return "denied"
	}
	return c.String()
}

func reportChainViewOf(d *reportData) reportChainView {
	c := d.Chain
	if c.OK {
		h := fmt.Sprintf("chain verified: %d entries", c.Checked)
		if c.Evicted > 0 {
			h += fmt.Sprintf(" (%d evicted before them, not checked)", c.Evicted)
		}
		return reportChainView{OK: true, Status: "ok", Headline: h,
			Detail: fmt.Sprintf("Every entry links to the one before and hashes to its stored hash, up to seq %d (hash %s). A chain alone cannot show a cut tail or a chain rewritten with every hash recomputed: verify against a kept anchor for that.", c.Head.Seq, c.Head.Hash)}
	}
	v := reportChainView{Status: "broken", Headline: "chain broken"}
	if b := c.Broken; b != nil {
		v.Seq, v.Reason, v.Kind = b.Seq, string(b.Reason), string(c.BadKind)
		v.Headline = fmt.Sprintf("chain broken at seq %d: %s", b.Seq, b.Reason)
		v.Detail = b.Error()
		if c.BadEntry != "" {
			v.Detail += fmt.Sprintf(". The %s entry stored at seq %d reads: %s", c.BadKind, b.Seq, c.BadEntry)
		} else {
			v.Detail += fmt.Sprintf(". No entry is stored at seq %d", b.Seq)
		}
		v.Detail += ". Entries before it verify; nothing from it on can be trusted."
	}
	return v
}

// reportX places time t on a track.
func reportX(t, t0, t1 int64) float64 {
	inner := float64(reportTrackW - 2*reportPad)
	if t1 <= t0 {
		return reportTrackW / 2
	}
	f := float64(t-t0) / float64(t1-t0)
	return reportPad + math.Min(math.Max(f, 0), 1)*inner
}

func reportNum(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// reportShape is the mark of category c at x, centred on y: a diamond for
// a signal, a tall bar for a denial or a panic, a thin one for a lifecycle
// event, a bar for a permitted syscall.
func reportShape(c reportCat, x, y float64, title string) reportMarkView {
	m := reportMarkView{Cat: c.String(), Title: title}
	var w, h float64
	switch c {
	case reportCatSignal:
		m.Points = reportDiamond(x, y, 6, 7)
		return m
	case reportCatDeny:
		w, h = 4, 22
	case reportCatPanic:
		w, h = 4, 26
	case reportCatLifecycle:
		w, h = 1.5, 10
	default:
		w, h = 3, 14
	}
	m.X, m.Y, m.W, m.H = reportNum(x-w/2), reportNum(y-h/2), reportNum(w), reportNum(h)
	return m
}

// reportDiamond returns the points of a diamond centred on x, y.
func reportDiamond(x, y, rx, ry float64) string {
	return fmt.Sprintf("%s,%s %s,%s %s,%s %s,%s",
		reportNum(x), reportNum(y-ry), reportNum(x+rx), reportNum(y),
		reportNum(x), reportNum(y+ry), reportNum(x-rx), reportNum(y))
}

// reportDrawOrder draws denials, signals and panics over the permitted
// syscalls around them.
var reportDrawOrder = [reportNumCats]int{reportCatLifecycle: 0, reportCatAllow: 1, reportCatAudit: 2, reportCatApprove: 3, reportCatDeny: 4, reportCatPanic: 5, reportCatSignal: 6}

func reportTimelineOf(d *reportData) reportTimelineView {
	tv := reportTimelineView{Width: reportTrackW, Height: reportTrackH}
	if d.t1 > d.t0 {
		for i := range 5 {
			t := d.t0 + int64(float64(d.t1-d.t0)*float64(i)/4)
			anchor := "middle"
			switch i {
			case 0:
				anchor = "start"
			case 4:
				anchor = "end"
			}
			tv.Ticks = append(tv.Ticks, reportTick{X: reportNum(reportX(t, d.t0, d.t1)), Label: reportTickLabel(t, d.t1-d.t0), Anchor: anchor})
		}
	} else if d.read > 0 {
		tv.Ticks = []reportTick{{X: reportNum(reportTrackW / 2), Label: reportTickLabel(d.t0, 0), Anchor: "middle"}}
	}
	agents := d.sortedAgents(false)
	var events, drawn uint64
	var aggregated int
	for i, a := range agents {
		events += a.events
		if a.events == 0 || i >= d.lim.TimelineRows {
			continue
		}
		row := reportRowView{ID: reportAgentID(a), Name: reportAgentName(a), Folded: a.folded, Aggregated: a.aggregated, Events: a.events}
		if a.aggregated {
			aggregated++
			row.Buckets = reportBucketsOf(a, d)
		} else {
			drawn += uint64(len(a.marks))
			ms := append([]reportMark(nil), a.marks...)
			// Stable: marks of one category keep their time order.
			slices.SortStableFunc(ms, func(x, y reportMark) int { return reportDrawOrder[x.cat] - reportDrawOrder[y.cat] })
			for _, m := range ms {
				row.Marks = append(row.Marks, reportShape(m.cat, reportX(m.time, d.t0, d.t1), reportTrackH/2, m.label))
			}
		}
		tv.Rows = append(tv.Rows, row)
	}
	withEvents := 0
	for _, a := range agents {
		if a.events > 0 {
			withEvents++
		}
	}
	if len(tv.Rows) < withEvents {
		tv.Notes = append(tv.Notes, fmt.Sprintf("showing timelines of %d of %d agents: the %d with the most events", len(tv.Rows), withEvents, len(tv.Rows)))
	}
	if drawn < events {
		tv.Notes = append(tv.Notes, fmt.Sprintf("showing %d of %d events as individual marks", drawn, events))
	}
	if aggregated > 0 {
		tv.Notes = append(tv.Notes, fmt.Sprintf("%d agents with more than %d events (or past the page's %d marks) are drawn as %d time buckets: bar height is the bucket's events relative to the agent's busiest bucket; hover a bucket for its counts",
			aggregated, d.lim.MarksPerAgent, d.lim.Marks, d.lim.Buckets))
	}
	if d.other != nil {
		tv.Notes = append(tv.Notes, fmt.Sprintf("agents past the first %d seen are counted together as “(other agents)”", d.lim.Agents))
	}
	if d.read > 0 && events == 0 {
		tv.Notes = append(tv.Notes, "no syscalls, signals, lifecycle events or panics to show")
	}
	return tv
}

// reportBucketsOf draws an aggregated agent: per bucket a stacked bar of
// its events by category, scaled to the agent's busiest bucket, with a
// diamond above when signals fell in it.
func reportBucketsOf(a *reportAgent, d *reportData) []reportBucketView {
	var busiest uint64
	for _, b := range a.buckets {
		var n uint64
		for c, v := range b {
			if reportCat(c) != reportCatSignal {
				n += uint64(v)
			}
		}
		busiest = max(busiest, n)
	}
	n := len(a.buckets)
	inner := float64(reportTrackW - 2*reportPad)
	bw := inner / float64(n)
	span := d.t1 - d.t0
	var out []reportBucketView
	for i, b := range a.buckets {
		var total uint64
		for _, v := range b {
			total += uint64(v)
		}
		if total == 0 {
			continue
		}
		from := d.t0 + int64(float64(span)*float64(i)/float64(n))
		to := d.t0 + int64(float64(span)*float64(i+1)/float64(n))
		var parts []string
		for c := range reportNumCats {
			if b[c] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", b[c], c))
			}
		}
		bv := reportBucketView{Title: fmt.Sprintf("%s – %s: %s",
			time.Unix(0, from).UTC().Format(time.RFC3339), time.Unix(0, to).UTC().Format(time.RFC3339), strings.Join(parts, ", "))}
		// Bars stand on the track's floor and reach at most reportBarTop;
		// signals are small diamonds above them, in the top band.
		x := reportPad + float64(i)*bw
		y := float64(reportTrackH - 2)
		for _, c := range []reportCat{reportCatAllow, reportCatAudit, reportCatApprove, reportCatLifecycle, reportCatPanic, reportCatDeny} {
			if b[c] == 0 || busiest == 0 {
				continue
			}
			h := math.Max((float64(reportTrackH-2)-reportBarTop)*float64(b[c])/float64(busiest), 1.5)
			y -= h
			bv.Marks = append(bv.Marks, reportMarkView{Cat: c.String(), X: reportNum(x + 0.5), Y: reportNum(y), W: reportNum(math.Max(bw-1, 1)), H: reportNum(h)})
		}
		if b[reportCatSignal] > 0 {
			bv.Marks = append(bv.Marks, reportMarkView{Cat: reportCatSignal.String(), Points: reportDiamond(x+bw/2, reportBarTop/2, math.Max(math.Min(bw/2, 4), 1.5), reportBarTop/2-0.5)})
		}
		out = append(out, bv)
	}
	return out
}

// reportTickLabel formats a time of the axis, as precisely as its span
// needs.
func reportTickLabel(t, span int64) string {
	tm := time.Unix(0, t).UTC()
	switch {
	case span < int64(time.Minute):
		return tm.Format("15:04:05.000")
	case span < int64(24*time.Hour):
		return tm.Format("15:04:05")
	}
	return tm.Format("2006-01-02 15:04")
}

func reportAgentID(a *reportAgent) string {
	if a.folded {
		return ""
	}
	return a.name
}

func reportAgentName(a *reportAgent) string {
	if !a.folded && a.name == "" {
		return "(kernel)"
	}
	return a.name
}

func reportDenialsOf(d *reportData) reportDenialsView {
	v := reportDenialsView{Total: d.denials}
	rules := d.sortedRules()
	var top uint64
	if len(rules) > 0 {
		top = rules[0].denials
		if d.otherR != nil {
			top = max(top, d.otherR.denials)
		}
	}
	for i, r := range rules {
		if i >= d.lim.TableRows && r != d.otherR {
			continue
		}
		name := r.name
		if name == "" && r != d.otherR {
			name = "(default effect)"
		}
		rv := reportRuleView{Name: name, Count: r.denials, Message: r.message}
		if r != d.otherR {
			rv.Severity = r.severity.String()
		}
		if top > 0 {
			rv.Bar = reportNum(240 * float64(r.denials) / float64(top))
		}
		if d.denials > 0 {
			rv.Pct = fmt.Sprintf("%.1f%%", 100*float64(r.denials)/float64(d.denials))
		}
		v.Rows = append(v.Rows, rv)
	}
	listed := len(d.rules)
	if d.otherR != nil {
		v.Note = fmt.Sprintf("rules past the first %d seen are counted together as “(other rules)”", d.lim.Rules)
	}
	if listed > d.lim.TableRows {
		v.Note = strings.TrimPrefix(v.Note+"; ", "; ") + fmt.Sprintf("showing %d of %d rules, those with the most denials", d.lim.TableRows, listed)
	}
	return v
}

func reportAgentTableOf(d *reportData) reportAgentTableView {
	var v reportAgentTableView
	agents := d.sortedAgents(true)
	for i, a := range agents {
		if i >= d.lim.TableRows && !a.folded {
			continue
		}
		v.Rows = append(v.Rows, reportAgentRowView{
			ID: reportAgentID(a), Name: reportAgentName(a), Folded: a.folded,
			Entries:   a.entries,
			Syscalls:  a.cats[reportCatAllow] + a.cats[reportCatAudit] + a.cats[reportCatApprove] + a.cats[reportCatDeny],
			Allowed:   a.cats[reportCatAllow],
			Audited:   a.cats[reportCatAudit],
			Approved:  a.cats[reportCatApprove],
			Denied:    a.cats[reportCatDeny],
			Errors:    a.outcomes[recorder.StatusError],
			Signals:   a.cats[reportCatSignal],
			Lifecycle: a.cats[reportCatLifecycle],
			Panics:    a.cats[reportCatPanic],
			First:     time.Unix(0, a.first).UTC().Format(time.RFC3339),
			Last:      time.Unix(0, a.last).UTC().Format(time.RFC3339),
		})
	}
	if n := len(d.agents); n > d.lim.TableRows {
		v.Note = fmt.Sprintf("showing %d of %d agents, those with the most events", d.lim.TableRows, n)
	}
	if d.other != nil {
		v.Note = strings.TrimPrefix(v.Note+"; ", "; ") + fmt.Sprintf("agents past the first %d seen are counted together as “(other agents)”", d.lim.Agents)
	}
	return v
}
