package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// reportMemory returns an in-memory recorder holding the entries that
// fill gives to add, closed when the test ends.
func reportMemory(t testing.TB, fill func(add func(recorder.Entry))) *recorder.Recorder {
	t.Helper()
	rec, err := recorder.Open("", nil)
	require.NoError(t, err)
	t.Cleanup(func() { rec.Close() })
	fill(func(e recorder.Entry) {
		_, err := rec.Append(t.Context(), e)
		require.NoError(t, err)
	})
	return rec
}

// reportPage builds and renders the page of rec under lim.
func reportPage(t testing.TB, rec *recorder.Recorder, lim reportLimits) (*reportData, []byte) {
	t.Helper()
	d, err := reportBuild(t.Context(), rec, "mem", lim)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, reportRender(&b, d))
	return d, b.Bytes()
}

var reportT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestReportPageIsBounded(t *testing.T) {
	t.Run("small limits", func(t *testing.T) {
		lim := reportLimits{Agents: 5, Rules: 3, MarksPerAgent: 4, Marks: 10, Buckets: 8,
			TimelineRows: 3, TableRows: 4, Label: 24, Versions: 2}
		long := strings.Repeat("L", 1000)
		rec := reportMemory(t, func(add func(recorder.Entry)) {
			s := 0
			for i := range 10 {
				agent := agentos.AgentID(fmt.Sprint("agent-", i))
				if i == 0 {
					agent = agentos.AgentID(long)
				}
				for j := range (i + 1) * 3 {
					s++
					e := recorder.Entry{Time: reportT0.Add(time.Duration(s) * time.Second), Trace: fmt.Sprint(s), Agent: agent,
						Kind: recorder.KindDecision, Op: agentos.OpExec, Tool: "t", Effect: agentos.Allow, Status: recorder.StatusPermitted,
						PolicyVersion: fmt.Sprint("v", j%4)}
					if j%2 == 1 {
						e.Effect, e.Status, e.Rule = agentos.Deny, recorder.StatusDenied, fmt.Sprint("rule-", (i+j)%6)
					}
					add(e)
				}
			}
		})
		d, page := reportPage(t, rec, lim)
		require.EqualValues(t, 165, d.read)
		require.LessOrEqual(t, len(d.agents), lim.Agents)
		require.LessOrEqual(t, len(d.rules), lim.Rules)
		require.LessOrEqual(t, d.marks, lim.Marks)
		require.NotNil(t, d.other)
		require.NotNil(t, d.otherR)
		for k := range d.agents {
			require.LessOrEqual(t, len(k), lim.Label+8, "a long name is kept as a bounded key")
		}
		require.Contains(t, d.agents, reportKey(long, lim.Label))

		doc := reportDOM(t, page)
		reportAssertSelfContained(t, doc)
		notes := reportFind(doc, func(n *html.Node) bool { return reportHasClass(n, "timeline-note") })
		var said []string
		for _, n := range notes {
			said = append(said, reportText(n))
		}
		joined := strings.Join(said, "\n")
		require.Contains(t, joined, "showing timelines of 3 of 6 agents")
		require.Regexp(t, `showing 0 of 165 events as individual marks`, joined)
		require.Contains(t, joined, "drawn as 8 time buckets")
		require.Contains(t, joined, "(other agents)")

		rows := reportFind(doc, func(n *html.Node) bool { return n.Data == "svg" && reportHasClass(n, "agent-timeline") })
		require.Len(t, rows, 3)
		for _, r := range rows {
			require.True(t, reportHasClass(r, "aggregated"), "the busiest agents are past 4 events")
			require.LessOrEqual(t, len(reportFind(r, func(n *html.Node) bool { return reportHasClass(n, "bucket") })), lim.Buckets)
		}
		require.True(t, reportHasClass(rows[0], "folded"), "the five folded agents together are the busiest row")

		arows := reportFind(reportByID(t, doc, "agent-counts"), func(n *html.Node) bool { return reportHasClass(n, "agent-row") })
		require.Len(t, arows, lim.TableRows+1, "the table's limit plus the folded row")
		require.True(t, reportHasClass(arows[len(arows)-1], "folded"))
		rules := reportFind(reportByID(t, doc, "denials-by-rule"), func(n *html.Node) bool { return reportHasClass(n, "rule") })
		require.Len(t, rules, lim.Rules+1)
		other, _ := reportAttr(rules[len(rules)-1], "data-rule")
		require.Equal(t, "(other rules)", other)
		var total uint64
		for _, r := range rules {
			v, _ := reportAttr(r, "data-denials")
			var n uint64
			fmt.Sscan(v, &n)
			total += n
		}
		require.Equal(t, d.denials, total, "folding loses no denial")
		require.Contains(t, reportText(reportByID(t, doc, "policy-versions")), "only the first 2 listed")
	})

	t.Run("default limits, worst case", func(t *testing.T) {
		if testing.Short() {
			t.Skip("writes 12 000 entries")
		}
		// The page's largest shape: every timeline row full of marks, every
		// table full, every label at its bound and made of the character
		// that escapes longest.
		lim := defaultReportLimits
		worst := strings.Repeat(`"`, 4*lim.Label)
		rec := reportMemory(t, func(add func(recorder.Entry)) {
			s := 0
			next := func() time.Time { s++; return reportT0.Add(time.Duration(s) * time.Millisecond) }
			for i := range lim.TimelineRows {
				agent := agentos.AgentID(fmt.Sprint(i, worst))
				for range lim.MarksPerAgent {
					add(recorder.Entry{Time: next(), Trace: "t", Agent: agent, Kind: recorder.KindDecision, Op: agentos.OpRead,
						Path: worst, Rule: fmt.Sprint(s, worst), Effect: agentos.Deny, Status: recorder.StatusDenied, Message: worst})
				}
			}
			for i := range 2 * lim.TableRows {
				add(recorder.Entry{Time: next(), Agent: agentos.AgentID(fmt.Sprint("x", i, worst)), Kind: recorder.KindLifecycle,
					Message: worst, Detail: worst, PolicyVersion: fmt.Sprint(i, worst)})
			}
		})
		d, page := reportPage(t, rec, lim)
		require.LessOrEqual(t, d.marks, lim.Marks)
		t.Logf("worst-case page: %d bytes from %d entries", len(page), d.read)
		require.Less(t, len(page), 12<<20, "the page's bound")
		reportAssertSelfContained(t, reportDOM(t, page))
	})
}

// TestReportBucketOf checks the time axis: every time falls in a bucket,
// in order, the ends in the first and last.
func TestReportBucketOf(t *testing.T) {
	for _, tc := range []struct {
		t, t0, t1 int64
		n, want   int
	}{
		{0, 0, 100, 10, 0},
		{9, 0, 100, 10, 0},
		{10, 0, 100, 10, 1},
		{99, 0, 100, 10, 9},
		{100, 0, 100, 10, 9},
		{-5, 0, 100, 10, 0},
		{500, 0, 100, 10, 9},
		{7, 7, 7, 10, 0},
		{1 << 62, 0, 1 << 62, 160, 159},
	} {
		require.Equal(t, tc.want, reportBucketOf(tc.t, tc.t0, tc.t1, tc.n), "%+v", tc)
	}
}

func TestReportTrunc(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijkl", 10, "abcdefg…"},
		{"ééééééé", 8, "éé…"}, // never cuts a rune
		{"a\xffb", 10, "a\uFFFDb"},
		{"abc", 0, "…"},
	} {
		got := reportTrunc(tc.in, tc.limit)
		require.Equal(t, tc.want, got, "%q", tc.in)
		require.LessOrEqual(t, len(got), max(tc.limit, len("…")))
	}
	a, b := strings.Repeat("a", 300)+"1", strings.Repeat("a", 300)+"2"
	require.NotEqual(t, reportKey(a, 200), reportKey(b, 200), "long keys that share a prefix stay apart")
	require.Equal(t, "kept", reportKey("kept", 200))
}

func TestReportEmptyRecorder(t *testing.T) {
	rec := reportMemory(t, func(func(recorder.Entry)) {})
	d, page := reportPage(t, rec, defaultReportLimits)
	require.True(t, d.Chain.OK)
	doc := reportDOM(t, page)
	reportAssertSelfContained(t, doc)
	require.True(t, reportHasClass(reportByID(t, doc, "chain-status"), "ok"))
	require.Contains(t, reportText(reportByID(t, doc, "time-range")), "no entries")
	require.Empty(t, reportFind(doc, func(n *html.Node) bool { return reportHasClass(n, "agent-timeline") }))
}

// TestReportEvicted reports a memory recorder that dropped its oldest
// entries: the status says how many could not be checked.
func TestReportEvicted(t *testing.T) {
	rec, err := recorder.Open("", &recorder.Options{MaxEntries: 5})
	require.NoError(t, err)
	defer rec.Close()
	for i := range 12 {
		_, err := rec.Append(t.Context(), recorder.Entry{Time: reportT0.Add(time.Duration(i) * time.Second), Agent: "a", Kind: recorder.KindSignal, Detail: "SIGSTOP"})
		require.NoError(t, err)
	}
	_, page := reportPage(t, rec, defaultReportLimits)
	doc := reportDOM(t, page)
	require.Equal(t, "chain verified: 5 entries (7 evicted before them, not checked)", reportText(reportByID(t, doc, "chain-status")))
}

func BenchmarkReport(b *testing.B) {
	rec := reportMemory(b, func(add func(recorder.Entry)) {
		for i := range 20000 {
			e := recorder.Entry{Time: reportT0.Add(time.Duration(i) * time.Millisecond), Trace: fmt.Sprint(i),
				Agent: agentos.AgentID(fmt.Sprint("agent-", i%50)), Kind: recorder.KindDecision, Op: agentos.OpRead,
				Path: fmt.Sprint("/mem/working/", i), Effect: agentos.Allow, Status: recorder.StatusPermitted}
			if i%7 == 0 {
				e.Effect, e.Status, e.Rule = agentos.Deny, recorder.StatusDenied, fmt.Sprint("rule-", i%5)
			}
			add(e)
		}
	})
	b.ReportAllocs()
	var size int
	for b.Loop() {
		d, err := reportBuild(b.Context(), rec, "mem", defaultReportLimits)
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := reportRender(&buf, d); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "page-bytes")
}
