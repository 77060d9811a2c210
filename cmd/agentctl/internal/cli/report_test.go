package cli

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver, to tamper with a file as an attacker would
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// reportTestPolicy allows memory and the "search" tool, refuses "shell"
// by rule no-shell and denies everything else by default.
const reportTestPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: report-test, version: "3"}
spec:
  defaultEffect: deny
  rules:
    - name: own-memory
      effect: allow
      when: path.under(action.path, "/mem")
    - name: search
      effect: allow
      when: action.op == "exec" && action.tool == "search"
    - name: no-shell
      effect: deny
      onDeny: refuse
      severity: high
      when: action.op == "exec" && action.tool == "shell"
      message: no shell for agents
`

// reportKernelFile runs a kernel over a new recorder file in dir: alice
// writes and reads memory, bob searches and is refused the shell (n/5
// times), bob gets a SIGUSR1. It returns the file's path.
func reportKernelFile(t *testing.T, dir string, n int) string {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(dir, "audit.db")
	clock := kerneltest.NewClock(kerneltest.Epoch).Ticking(time.Second)
	rec, err := recorder.Open(path, &recorder.Options{Sync: recorder.SyncNormal, Clock: clock})
	require.NoError(t, err)
	k, err := kernel.New(
		kernel.WithPolicySource("report-test.yaml", []byte(reportTestPolicy)),
		kernel.WithRecorder(rec),
		kernel.WithClock(clock),
		kernel.WithTool("search", func(context.Context, map[string]any) (any, error) { return "3 results", nil }),
		kernel.WithTool("shell", func(context.Context, map[string]any) (any, error) { return nil, errors.New("never runs") }),
	)
	require.NoError(t, err)
	alice, err := k.Spawn(ctx, "alice")
	require.NoError(t, err)
	bob, err := k.Spawn(ctx, "bob")
	require.NoError(t, err)
	for i := range n {
		var err error
		switch i % 5 {
		case 0:
			err = alice.Write(ctx, fmt.Sprintf("/mem/working/%d.txt", i), []byte("note"))
		case 1:
			_, err = alice.Read(ctx, fmt.Sprintf("/mem/working/%d.txt", i-1))
		case 2:
			_, err = bob.Exec(ctx, "search", map[string]any{"q": "x"})
		case 3:
			_, err = bob.Exec(ctx, "shell", map[string]any{"cmd": "rm -rf /"})
			var v *agentos.PolicyViolation
			require.ErrorAs(t, err, &v)
			err = nil
		case 4:
			_, err = alice.Exec(ctx, "search", map[string]any{"q": "more"})
		}
		require.NoError(t, err)
		if i == n/2 {
			require.NoError(t, k.Signal(ctx, "bob", signals.SIGUSR1, "operator snapshot"))
		}
	}
	require.NoError(t, k.Close())
	require.NoError(t, rec.Close())
	side, err := filepath.Glob(path + "-*")
	require.NoError(t, err)
	require.Empty(t, side, "SQLite side files after Close")
	return path
}

// reportTamper edits the tool of entry seq in the file as an attacker with
// write access would: drop the append-only triggers, update, checkpoint.
func reportTamper(t *testing.T, path string, seq uint64) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	require.NoError(t, err)
	defer db.Close()
	for _, q := range []string{"DROP TRIGGER entries_no_update", "DROP TRIGGER entries_no_delete"} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	res, err := db.Exec("UPDATE entries SET tool = 'tampered' WHERE seq = ?", int64(seq))
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	_, err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	require.NoError(t, err)
}

// reportRun runs agentctl with args and returns its exit code and streams.
func reportRun(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

// reportDOM parses a page.
func reportDOM(t *testing.T, page []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	require.NoError(t, err)
	return doc
}

func reportAttr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// reportFind returns the element nodes for which match is true, in
// document order.
func reportFind(root *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for n := range root.Descendants() {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
	}
	return out
}

func reportByID(t *testing.T, root *html.Node, id string) *html.Node {
	t.Helper()
	ns := reportFind(root, func(n *html.Node) bool { v, _ := reportAttr(n, "id"); return v == id })
	require.Len(t, ns, 1, "elements with id %q", id)
	return ns[0]
}

func reportHasClass(n *html.Node, class string) bool {
	v, _ := reportAttr(n, "class")
	return strings.Contains(" "+v+" ", " "+class+" ")
}

func reportText(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// reportAssertSelfContained checks what makes the page unable to load or
// run anything: the CSP meta tag, no script element, no event handler
// attribute, no attribute that names a resource.
func reportAssertSelfContained(t *testing.T, doc *html.Node) {
	t.Helper()
	csp := reportFind(doc, func(n *html.Node) bool {
		v, _ := reportAttr(n, "http-equiv")
		return n.Data == "meta" && strings.EqualFold(v, "Content-Security-Policy")
	})
	require.Len(t, csp, 1)
	content, _ := reportAttr(csp[0], "content")
	require.Contains(t, content, "default-src 'none'")
	require.Contains(t, content, "style-src 'unsafe-inline'")
	require.Contains(t, content, "img-src data:")
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		require.NotEqual(t, "script", n.Data, "a script element")
		require.NotContains(t, []string{"iframe", "object", "embed", "img", "link", "base", "form", "foreignObject"}, n.Data)
		for _, a := range n.Attr {
			require.False(t, strings.HasPrefix(strings.ToLower(a.Key), "on"), "event handler %s on <%s>", a.Key, n.Data)
			require.NotContains(t, []string{"src", "href", "xlink:href", "action", "srcset", "poster", "background"}, strings.ToLower(a.Key), "<%s> names a resource", n.Data)
		}
	}
}

func TestReportGoodChain(t *testing.T) {
	dir := t.TempDir()
	path := reportKernelFile(t, dir, 20)
	out := filepath.Join(dir, "report.html")
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	code, stdout, stderr := reportRun("report", path, "-o", out)
	require.Equal(t, ExitOK, code, stderr)
	require.Empty(t, stderr)
	require.Regexp(t, `^wrote .*report\.html: \d+ entries, 2 agents, 4 denials, chain verified\n$`, stdout)

	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "report writes nothing to the recorder")
	// (SQLite itself may leave an empty -wal and -shm beside a WAL file it
	// read: the recorder's read-only mode, not the report.)
	left, err := filepath.Glob(filepath.Join(dir, ".*"))
	require.NoError(t, err)
	require.Empty(t, left, "temporary files left behind")

	page, err := os.ReadFile(out)
	require.NoError(t, err)
	doc := reportDOM(t, page)
	reportAssertSelfContained(t, doc)

	status := reportByID(t, doc, "chain-status")
	require.True(t, reportHasClass(status, "ok"))
	v, _ := reportAttr(status, "data-status")
	require.Equal(t, "ok", v)
	require.Contains(t, reportText(status), "chain verified")

	entries := reportByID(t, doc, "entries")
	n, _ := reportAttr(entries, "data-entries")
	require.NotEqual(t, "0", n)
	require.Regexp(t, `^2026-01-01T00:00:0\dZ – 2026-01-01T00:0\d:\d\dZ \(\d+s\)$`, reportText(reportByID(t, doc, "time-range")))
	require.Contains(t, reportText(reportByID(t, doc, "policy-versions")), "3")

	// A timeline per agent, with bob's denials in red and his signal as a
	// diamond.
	rows := reportFind(doc, func(n *html.Node) bool { return n.Data == "svg" && reportHasClass(n, "agent-timeline") })
	agents := map[string]*html.Node{}
	for _, r := range rows {
		a, _ := reportAttr(r, "data-agent")
		agents[a] = r
	}
	require.Contains(t, agents, "alice")
	require.Contains(t, agents, "bob")
	marks := func(agent, class string) []*html.Node {
		return reportFind(agents[agent], func(n *html.Node) bool { return reportHasClass(n, class) })
	}
	require.Len(t, marks("bob", "m-deny"), 4)
	require.Empty(t, marks("alice", "m-deny"))
	require.NotEmpty(t, marks("alice", "m-allow"))
	sig := marks("bob", "m-signal")
	var sigs []string
	for _, s := range sig {
		require.Equal(t, "polygon", s.Data)
		sigs = append(sigs, reportText(s))
	}
	require.True(t, slices.ContainsFunc(sigs, func(s string) bool { return strings.Contains(s, "SIGUSR1") && strings.Contains(s, "operator snapshot") }), "%q", sigs)
	require.Contains(t, reportText(marks("bob", "m-deny")[0]), "shell (rule no-shell)")

	// Denials by rule.
	table := reportByID(t, doc, "denials-by-rule")
	rules := reportFind(table, func(n *html.Node) bool { return n.Data == "tr" && reportHasClass(n, "rule") })
	require.Len(t, rules, 1)
	name, _ := reportAttr(rules[0], "data-rule")
	count, _ := reportAttr(rules[0], "data-denials")
	require.Equal(t, "no-shell", name)
	require.Equal(t, "4", count)
	require.Contains(t, reportText(rules[0]), "no shell for agents")
	require.Contains(t, reportText(rules[0]), "100.0%")

	// Per-agent counts: the kernel's own entries, alice, bob.
	counts := reportByID(t, doc, "agent-counts")
	arows := reportFind(counts, func(n *html.Node) bool { return n.Data == "tr" && reportHasClass(n, "agent-row") })
	byAgent := map[string]string{}
	for _, r := range arows {
		a, _ := reportAttr(r, "data-agent")
		byAgent[a] = reportText(r)
	}
	require.Contains(t, byAgent, "alice")
	require.Contains(t, byAgent, "bob")
	require.Contains(t, byAgent, "", "the kernel's own entries")
	require.True(t, strings.HasPrefix(byAgent[""], "(kernel)"))
}

func TestReportTamperedChain(t *testing.T) {
	dir := t.TempDir()
	path := reportKernelFile(t, dir, 10)
	reportTamper(t, path, 6)
	out := filepath.Join(dir, "report.html")

	code, stdout, stderr := reportRun("report", path, "-o", out)
	require.Equal(t, ExitCheck, code)
	require.Contains(t, stdout, "chain BROKEN")
	require.Equal(t, fmt.Sprintf("agentctl: report: %s: chain broken at seq 6: edited (the report shows it)\n", path), stderr)

	page, err := os.ReadFile(out)
	require.NoError(t, err)
	doc := reportDOM(t, page)
	reportAssertSelfContained(t, doc)
	status := reportByID(t, doc, "chain-status")
	require.True(t, reportHasClass(status, "broken"))
	for k, want := range map[string]string{"data-status": "broken", "data-seq": "6", "data-reason": "edited"} {
		v, _ := reportAttr(status, k)
		require.Equal(t, want, v, k)
	}
	require.Equal(t, "chain broken at seq 6: edited", reportText(status))
	detail := reportText(reportByID(t, doc, "chain-detail"))
	require.Contains(t, detail, "seq 6")
	kind, _ := reportAttr(status, "data-kind")
	require.Equal(t, "decision", kind)
	require.Regexp(t, `The decision entry stored at seq 6 reads: time \S+, agent "alice", op "read", tool "tampered", path "/mem/working/0\.txt", rule "own-memory", effect "allow", status "permitted"\.`, detail)
}

func TestReportEscapesRecordedText(t *testing.T) {
	hostile := []string{
		`<script>alert("agent")</script>`,
		`"><img src=x onerror=alert(1)>`,
		`</title><script>alert(2)</script>`,
		`]]></svg><script>alert(3)</script>`,
		`javascript:alert(4)`,
	}
	path := reportHostileFile(t, t.TempDir(), hostile)

	code, stdout, stderr := reportRun("report", path, "-o", "-")
	require.Equal(t, ExitOK, code, stderr)
	doc := reportDOM(t, []byte(stdout))
	reportAssertSelfContained(t, doc)
	for _, s := range []string{"<script", "<img"} {
		require.False(t, strings.Contains(stdout, s), "the page contains %q", s)
	}
	// Each hostile string is there as text: as an agent's name, a rule's
	// name, in a tooltip, in an attribute value.
	var names, rules []string
	for _, n := range reportFind(doc, func(n *html.Node) bool { return n.Data == "tr" && reportHasClass(n, "agent-row") }) {
		v, _ := reportAttr(n, "data-agent")
		names = append(names, v)
	}
	for _, n := range reportFind(doc, func(n *html.Node) bool { return n.Data == "tr" && reportHasClass(n, "rule") }) {
		v, _ := reportAttr(n, "data-rule")
		rules = append(rules, v)
	}
	require.ElementsMatch(t, hostile, names)
	require.ElementsMatch(t, hostile, rules)
	tips := reportFind(doc, func(n *html.Node) bool {
		return n.Data == "title" && n.Parent != nil && reportHasClass(n.Parent, "m-deny")
	})
	require.Len(t, tips, len(hostile))
	var said []string
	for _, tip := range tips {
		said = append(said, reportText(tip))
	}
	for _, h := range hostile {
		require.True(t, slices.ContainsFunc(said, func(s string) bool { return strings.Contains(s, "/mem/"+h) }), "no tooltip names %q", h)
	}
}

// reportHostileFile writes a recorder in dir with one agent per hostile
// string, named by it, with a denied decision (its rule, path and message
// the string too) and a signal (its detail and message).
func reportHostileFile(t *testing.T, dir string, hostile []string) string {
	t.Helper()
	path := filepath.Join(dir, "hostile.db")
	rec, err := recorder.Open(path, nil)
	require.NoError(t, err)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, h := range hostile {
		id := agentos.AgentID(h)
		tm := t0.Add(time.Duration(i) * time.Second)
		_, err := rec.Append(ctx, recorder.Entry{Time: tm, Trace: fmt.Sprint("t", i), Agent: id, Kind: recorder.KindDecision,
			Op: agentos.OpRead, Path: "/mem/" + h, Rule: h, Effect: agentos.Deny, Message: h, Status: recorder.StatusDenied})
		require.NoError(t, err)
		_, err = rec.Append(ctx, recorder.Entry{Time: tm, Agent: id, Kind: recorder.KindSignal, Detail: h, Message: h})
		require.NoError(t, err)
	}
	require.NoError(t, rec.Close())
	return path
}

func TestReportBadInput(t *testing.T) {
	dir := t.TempDir()
	good := reportKernelFile(t, dir, 10)
	st, err := os.Stat(good)
	require.NoError(t, err)
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	truncated := write("truncated.db", data[:st.Size()/2])
	text := write("notes.txt", []byte("this is not a database\n"))
	empty := write("empty.db", nil)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.db"), "no such file or directory"},
		{"a directory", dir, "not a regular file"},
		{"not SQLite", text, "not a recorder database"},
		{"empty", empty, ""},
		{"truncated", truncated, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "report.html")
			code, stdout, stderr := reportRun("report", tc.path, "-o", out)
			require.Equal(t, ExitUsage, code, stderr)
			require.Empty(t, stdout)
			require.True(t, strings.HasPrefix(stderr, "agentctl: report: "+tc.path+": "), stderr)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			require.Contains(t, stderr, tc.want)
			require.NoFileExists(t, out)
		})
	}
}

func TestReportOutput(t *testing.T) {
	dir := t.TempDir()
	path := reportKernelFile(t, dir, 5)
	out := filepath.Join(dir, "report.html")

	t.Run("no -o", func(t *testing.T) {
		code, _, stderr := reportRun("report", path)
		require.Equal(t, ExitUsage, code)
		require.Equal(t, "agentctl: report: -o FILE is required (\"-o -\" for standard output)\n", stderr)
	})
	t.Run("bad --timeline-agents", func(t *testing.T) {
		code, _, stderr := reportRun("report", path, "-o", out, "--timeline-agents", "0")
		require.Equal(t, ExitUsage, code)
		require.Contains(t, stderr, "--timeline-agents 0")
	})
	t.Run("no FILE", func(t *testing.T) {
		code, _, _ := reportRun("report", "-o", out)
		require.Equal(t, ExitUsage, code)
	})
	t.Run("refuses to overwrite", func(t *testing.T) {
		require.NoError(t, os.WriteFile(out, []byte("keep me"), 0o600))
		code, stdout, stderr := reportRun("report", path, "-o", out)
		require.Equal(t, ExitUsage, code)
		require.Empty(t, stdout)
		require.Equal(t, "agentctl: report: "+out+" exists (--force replaces it)\n", stderr)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, "keep me", string(b))
	})
	t.Run("--force replaces", func(t *testing.T) {
		code, _, stderr := reportRun("report", path, "-o", out, "--force")
		require.Equal(t, ExitOK, code, stderr)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(b, []byte("<!DOCTYPE html>")))
		fi, err := os.Stat(out)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
	})
	t.Run("stdout", func(t *testing.T) {
		code, stdout, stderr := reportRun("report", path, "-o", "-")
		require.Equal(t, ExitOK, code, stderr)
		require.True(t, strings.HasPrefix(stdout, "<!DOCTYPE html>"))
		require.True(t, strings.HasSuffix(stdout, "</html>\n"))
	})
	t.Run("same page twice", func(t *testing.T) {
		_, a, _ := reportRun("report", path, "-o", "-")
		_, b, _ := reportRun("report", path, "-o", "-")
		require.Equal(t, a, b, "a page depends on the recorder only")
	})
	t.Run("never the recorder itself", func(t *testing.T) {
		before, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, o := range []string{path, path + "-wal", filepath.Join(dir, ".", "audit.db")} {
			code, _, stderr := reportRun("report", path, "-o", o, "--force")
			require.Equal(t, ExitUsage, code)
			require.Contains(t, stderr, "would replace the recorder")
		}
		after, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, before, after)
	})
	t.Run("missing directory", func(t *testing.T) {
		bad := filepath.Join(dir, "no", "such", "report.html")
		code, _, stderr := reportRun("report", path, "-o", bad)
		require.Equal(t, ExitUsage, code)
		require.Equal(t, 1, strings.Count(stderr, "\n"))
	})
	left, err := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	require.NoError(t, err)
	require.Empty(t, left, "temporary files left behind")
}

func TestReportPublish(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "r.html")
	err := reportPublish(out, false, func(w io.Writer) error {
		// Someone else creates the file while the page is being written.
		require.NoError(t, os.WriteFile(out, []byte("theirs"), 0o644))
		_, err := io.WriteString(w, "ours")
		return err
	})
	var xe *exitError
	require.ErrorAs(t, err, &xe)
	require.Equal(t, ExitUsage, xe.code)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "theirs", string(b), "never replaced without force")

	failed := filepath.Join(dir, "failed.html")
	err = reportPublish(failed, true, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half a page")
		return errors.New("disk on fire")
	})
	require.ErrorContains(t, err, "disk on fire")
	require.NoFileExists(t, failed)

	require.NoError(t, reportPublish(out, true, func(w io.Writer) error {
		_, err := io.WriteString(w, "ours")
		return err
	}))
	b, err = os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "ours", string(b))

	left, err := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	require.NoError(t, err)
	require.Empty(t, left, "temporary files left behind")
}

// A report over a rolled-over recorder reads every file in chain order: the
// entries of all files, their statistics added up, agents counted once
// across files, the chain verified as one.
func TestReportBuildFiles(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "roll.db")
	rec, err := recorder.Open(path, &recorder.Options{Durability: recorder.WriteAhead, Rollover: &recorder.Rollover{MaxEntries: 7}})
	require.NoError(t, err)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	const n = 30
	for i := range n {
		_, err := rec.Append(ctx, recorder.Entry{Time: at.Add(time.Duration(i) * time.Second), Kind: recorder.KindDecision, Trace: fmt.Sprint("t", i),
			Agent: agentos.AgentID(fmt.Sprint("agent-", i%3)), Op: agentos.OpWrite, Path: "/mem/working/x",
			Effect: agentos.Allow, Status: kernel.StatusPermitted, PolicyVersion: "v1", Rule: "own-memory"})
		require.NoError(t, err)
	}
	require.NoError(t, rec.Close())
	files := segments(path)
	require.Greater(t, len(files), 3)
	open := func(p string) (*recorder.Recorder, error) {
		return recorder.Open(p, &recorder.Options{ReadOnly: true})
	}
	d, err := reportBuildFiles(ctx, files, open, defaultReportLimits)
	require.NoError(t, err)
	require.True(t, d.Chain.OK)
	require.Equal(t, uint64(n), d.read)
	require.Equal(t, uint64(n), d.Stats.Entries)
	require.Equal(t, uint64(n), d.Stats.Head.Seq)
	require.Equal(t, 3, d.agentCount())
	require.Equal(t, at, d.Stats.Oldest.UTC())
	require.Equal(t, at.Add((n-1)*time.Second), d.Stats.Newest.UTC())
	require.Equal(t, files, d.Files)
	var page bytes.Buffer
	require.NoError(t, reportRender(&page, d))
	require.Contains(t, page.String(), fmt.Sprintf(`<dd id="files" class="mono">%d files of a rolled-over recorder`, len(files)))
	require.Contains(t, page.String(), `<dd id="agent-count">3</dd>`)

	// A file the set lacks breaks the chain; the page still builds.
	d, err = reportBuildFiles(ctx, append([]string{files[0]}, files[2:]...), open, defaultReportLimits)
	require.NoError(t, err)
	require.False(t, d.Chain.OK)
	require.NotNil(t, d.Chain.Broken)
}
