package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// FuzzReportText renders pages whose agent, path, rule, message and detail
// are arbitrary text: every page must parse into the same structure, load
// and run nothing, and carry the agent's name as text, whatever markup,
// quotes or invalid UTF-8 the recorder holds.
func FuzzReportText(f *testing.F) {
	for _, seed := range [][4]string{
		{"alice", "/mem/working/a", "no-shell", "no shell for agents"},
		{`<script>alert(1)</script>`, `/mem/"><img src=x onerror=alert(1)>`, `</title><script>`, `]]><!--`},
		{`" onmouseover="alert(1)`, "/mem/\x00\xff\xfe", "rule'\"<>&", "<style>*{display:none}</style>"},
		{"", "", "", ""},
		{"javascript:alert(1)", "data:text/html,<script>", "url(x)", "<svg onload=alert(1)>"},
		{strings.Repeat("é", 300), strings.Repeat("<", 500), strings.Repeat("&", 300), "\u2028\u2029"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, agent, path, rule, message string) {
		rec, err := recorder.Open("", nil)
		require.NoError(t, err)
		defer rec.Close()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, e := range []recorder.Entry{
			{Kind: recorder.KindDecision, Op: agentos.OpRead, Path: path, Rule: rule, Message: message, Effect: agentos.Deny, Status: recorder.StatusDenied},
			{Kind: recorder.KindDecision, Op: agentos.OpExec, Tool: path, Rule: rule, Effect: agentos.Allow, Status: recorder.StatusPermitted},
			{Kind: recorder.KindSignal, Detail: message, Message: rule},
			{Kind: recorder.KindPanic, Detail: message},
		} {
			e.Agent, e.Time, e.Trace = agentos.AgentID(agent), t0.Add(time.Duration(i)*time.Second), "t"
			if _, err := rec.Append(t.Context(), e); err != nil {
				t.Skipf("the recorder refuses the entry: %v", err)
			}
		}
		d, err := reportBuild(t.Context(), rec, path, defaultReportLimits)
		require.NoError(t, err)
		var page bytes.Buffer
		require.NoError(t, reportRender(&page, d))
		doc := reportDOM(t, page.Bytes())
		reportAssertSelfContained(t, doc)
		require.Len(t, reportFind(doc, func(n *html.Node) bool { return n.Data == "style" }), 1)
		require.True(t, reportHasClass(reportByID(t, doc, "chain-status"), "ok"))
		rows := reportFind(doc, func(n *html.Node) bool { return n.Data == "svg" && reportHasClass(n, "agent-timeline") })
		require.Len(t, rows, 1)
		id, _ := reportAttr(rows[0], "data-agent")
		require.Equal(t, reportParsed(reportKey(agent, defaultReportLimits.Label)), id)
		require.Len(t, reportFind(rows[0], func(n *html.Node) bool { return reportHasClass(n, "mark") }), 4)
		rules := reportFind(doc, func(n *html.Node) bool { return n.Data == "tr" && reportHasClass(n, "rule") })
		require.Len(t, rules, 1)
		name, _ := reportAttr(rules[0], "data-rule")
		if rule != "" {
			require.Equal(t, reportParsed(reportKey(rule, defaultReportLimits.Label)), name)
		}
	})
}

// reportParsed is s as an HTML parser reads it back from an attribute:
// the input stream's preprocessing turns CR LF and CR into LF and NUL into
// U+FFFD.
func reportParsed(s string) string {
	return strings.NewReplacer("\r\n", "\n", "\r", "\n", "\x00", "\uFFFD").Replace(s)
}
