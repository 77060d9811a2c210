package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
)

// policyRun runs agentctl in-process.
func policyRun(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// replayOldPolicy is the policy the fixture recorder was written under.
const replayOldPolicy = `apiVersion: agentos/v1
kind: Policy
metadata: {name: fixture, version: "7"}
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
    - name: analysts-report
      effect: allow
      when: action.op == "exec" && action.tool == "report" && agent.role == "analyst" && agent.labels.team == "risk"
`

// replayNewPolicy changes the fixture's decisions: shell is audited,
// search is limited to 2 a minute, reports need trust.
const replayNewPolicy = `apiVersion: agentos/v1
kind: Policy
metadata: {name: fixture, version: "8"}
spec:
  defaultEffect: deny
  rules:
    - name: own-memory
      effect: allow
      when: path.under(action.path, "/mem")
    - name: search
      effect: allow
      when: action.op == "exec" && action.tool == "search"
      limit: {rate: 2, per: 1m}
    - name: shell-audited
      effect: audit
      when: action.op == "exec" && action.tool == "shell"
      message: shell allowed, audited
    - name: analysts-report
      effect: allow
      when: action.op == "exec" && action.tool == "report" && agent.role == "analyst" && agent.labels.team == "risk" && agent.trust >= 0.5
`

// replayFixture writes a flight recorder by running a kernel under
// replayOldPolicy: alice (analyst, team risk, trust 0.4) writes memory,
// searches 4 times, runs shell (denied) and report (allowed); bob (no
// role) runs report (denied by default); alice asks for a path the kernel
// refuses before policy. It returns the file and the policy files.
func replayFixture(t *testing.T) (db, oldPolicy, newPolicy string) {
	t.Helper()
	dir := t.TempDir()
	db = filepath.Join(dir, "audit.db")
	oldPolicy = filepath.Join(dir, "old.yaml")
	newPolicy = filepath.Join(dir, "new.yaml")
	require.NoError(t, os.WriteFile(oldPolicy, []byte(replayOldPolicy), 0o600))
	require.NoError(t, os.WriteFile(newPolicy, []byte(replayNewPolicy), 0o600))
	ctx := context.Background()
	clock := kerneltest.NewClock(kerneltest.Epoch).Ticking(time.Second)
	rec, err := recorder.Open(db, &recorder.Options{Clock: clock})
	require.NoError(t, err)
	k, err := kernel.New(kernel.WithPolicyFile(oldPolicy), kernel.WithRecorder(rec), kernel.WithClock(clock),
		kernel.WithTool("search", func(context.Context, map[string]any) (any, error) { return "ok", nil }),
		kernel.WithTool("shell", func(context.Context, map[string]any) (any, error) { return "", errors.New("never") }),
		kernel.WithTool("report", func(context.Context, map[string]any) (any, error) { return "done", nil }))
	require.NoError(t, err)
	alice, err := k.Spawn(ctx, "alice", kernel.WithRole("analyst"), kernel.WithTrust(0.4),
		kernel.WithLabels(map[string]string{"team": "risk"}))
	require.NoError(t, err)
	bob, err := k.Spawn(ctx, "bob")
	require.NoError(t, err)
	var v *agentos.PolicyViolation
	require.NoError(t, alice.Write(ctx, "/mem/working/a.txt", []byte("n")))
	for i := range 4 {
		_, err := alice.Exec(ctx, "search", map[string]any{"q": "x", "n": i, "f": 1.5})
		require.NoError(t, err)
	}
	_, err = alice.Exec(ctx, "shell", map[string]any{"cmd": "ls"})
	require.ErrorAs(t, err, &v)
	_, err = alice.Exec(ctx, "report", nil)
	require.NoError(t, err)
	_, err = bob.Exec(ctx, "report", nil)
	require.ErrorAs(t, err, &v)
	_, err = alice.Read(ctx, "/mem/../../etc/passwd")
	require.Error(t, err)
	require.NoError(t, k.Close())
	require.NoError(t, rec.Close())
	return db, oldPolicy, newPolicy
}

func TestReplayUnchangedUnderTheRecordedPolicy(t *testing.T) {
	db, oldPolicy, _ := replayFixture(t)
	code, out, errOut := policyRun("", "replay", db, "--policy", oldPolicy, "--fail-on-change")
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, "replayed 8 decisions")
	assert.Contains(t, out, ": 0 would change, 8 unchanged; 1 skipped")
}

func TestReplayReportsChangesByRule(t *testing.T) {
	db, _, newPolicy := replayFixture(t)

	code, out, errOut := policyRun("", "replay", db, "--policy", newPolicy, "--format", "json")
	require.Equal(t, ExitOK, code, errOut)
	var sum replaySummary
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.Equal(t, 9, sum.Decisions)
	assert.Equal(t, 8, sum.Replayed)
	assert.Equal(t, 1, sum.Skipped, "the path the kernel refused before policy")
	// Every decision is under version 8 now (rule names the same), but
	// the verdicts that change are: 2 searches over the limit, the
	// shell, alice's report (trust 0.4 < 0.5).
	assert.Equal(t, 4, sum.Changed)
	assert.Equal(t, 0, sum.Incomplete)
	byKey := map[string]replayGroup{}
	for _, g := range sum.Groups {
		byKey[verdict(g.OldEffect, g.OldRule)+" -> "+verdict(g.NewEffect, g.NewRule)] = g
	}
	require.Len(t, byKey, 3, "%+v", sum.Groups)
	assert.Equal(t, 2, byKey["allow by search -> deny by search"].Changed, "the rate limit, applied in recorded order")
	assert.Equal(t, 1, byKey["deny by no-shell -> audit by shell-audited"].Changed)
	assert.Equal(t, 1, byKey["allow by analysts-report -> deny by default"].Changed, "role, labels and trust come from the spawn entry")
	assert.Equal(t, sum.Groups[0].Changed, 2, "groups are sorted by count")

	// jsonl: every changed decision.
	code, out, errOut = policyRun("", "replay", db, "-p", newPolicy, "--format", "jsonl")
	require.Equal(t, ExitOK, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	var c replayChange
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &c))
	assert.Equal(t, "alice", c.Agent)
	assert.Equal(t, "search", c.Tool)
	assert.Equal(t, "allow", c.Old.Effect)
	assert.Equal(t, "deny", c.New.Effect)
	assert.Contains(t, c.New.Message, "rate limit")
	assert.Contains(t, errOut, "4 would change")

	// table, and --fail-on-change.
	code, out, errOut = policyRun("", "replay", db, "-p", newPolicy, "--fail-on-change")
	require.Equal(t, ExitCheck, code)
	assert.Contains(t, out, "allow by search")
	assert.Contains(t, out, "deny by no-shell")
	assert.Contains(t, errOut, "agentctl: replay: 4 of 8 decisions would change")

	// --effect-only and the report filters.
	code, out, _ = policyRun("", "replay", db, "-p", newPolicy, "--agent", "bob", "--format", "json")
	require.Equal(t, ExitOK, code)
	sum = replaySummary{}
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.Equal(t, 1, sum.Replayed)
	assert.Equal(t, 0, sum.Changed)
	code, out, _ = policyRun("", "replay", db, "-p", newPolicy, "--tool", "search", "--since", "2026-01-01T00:00:00Z", "--format", "json")
	require.Equal(t, ExitOK, code)
	sum = replaySummary{}
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.Equal(t, 4, sum.Replayed)
	assert.Equal(t, 2, sum.Changed)
}

func TestReplayBaseline(t *testing.T) {
	db, _, _ := replayFixture(t)
	// Under what a kernel loads with no policy: every tool call is denied
	// by baseline-no-tools.
	code, out, errOut := policyRun("", "replay", db, "--baseline", "--format", "json")
	require.Equal(t, ExitOK, code, errOut)
	var sum replaySummary
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.True(t, strings.HasPrefix(sum.PolicyVersion, "kernel-baseline@1,kernel-privacy@1+"), sum.PolicyVersion)
	found := false
	for _, g := range sum.Groups {
		if g.NewRule == "baseline-no-tools" && g.OldRule == "search" {
			found = true
			assert.Equal(t, 4, g.Changed)
		}
	}
	assert.True(t, found, "%+v", sum.Groups)
}

func TestReplayBadInput(t *testing.T) {
	db, oldPolicy, _ := replayFixture(t)
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.db")
	require.NoError(t, os.WriteFile(text, []byte("this is not a database, just text that is long enough to have a header......................................................................"), 0o600))
	badPolicy := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badPolicy, []byte("apiVersion: agentos/v1\nkind: Policy\nmetadata: {name: b}\nspec:\n  rules:\n    - {name: x, effect: allow, when: 'actoin.op == \"x\"'}\n"), 0o600))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no policy", []string{"replay", db}, "--policy"},
		{"missing file", []string{"replay", filepath.Join(dir, "nope.db"), "-p", oldPolicy}, "no such file"},
		{"not a recorder", []string{"replay", text, "-p", oldPolicy}, "not a flight recorder"},
		{"missing policy", []string{"replay", db, "-p", filepath.Join(dir, "nope.yaml")}, "no such file"},
		{"policy with errors", []string{"replay", db, "-p", badPolicy}, "bad.yaml:6:"},
		{"bad since", []string{"replay", db, "-p", oldPolicy, "--since", "yesterday"}, "RFC 3339"},
		{"bad op", []string{"replay", db, "-p", oldPolicy, "--op", "fly"}, "--op"},
		{"two files", []string{"replay", db, db, "-p", oldPolicy}, "accepts 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := policyRun("", tc.args...)
			assert.Equal(t, ExitUsage, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			assert.NotContains(t, errOut, "goroutine")
		})
	}
}

// TestReplayIncomplete: what a decision's entry lacks that the new policy
// reads is counted and said, per changed decision.
func TestReplayIncomplete(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "audit.db")
	newPolicy := filepath.Join(dir, "new.yaml")
	require.NoError(t, os.WriteFile(newPolicy, []byte(replayNewPolicy), 0o600))
	rec, err := recorder.Open(db, nil)
	require.NoError(t, err)
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []recorder.Entry{
		{Kind: recorder.KindLifecycle, Message: "kernel started", Time: at},
		// carol's spawn is not in the trail.
		{Kind: recorder.KindDecision, Trace: "t1", Agent: "carol", Op: agentos.OpExec, Tool: "report", Effect: agentos.Allow, Rule: "analysts-report", Time: at},
		{Kind: recorder.KindDecision, Trace: "t2", Agent: "carol", Op: agentos.OpWrite, Path: "/mem/x", Effect: agentos.Allow, Rule: "own-memory", Time: at},
	} {
		_, err := rec.Append(ctx, e)
		require.NoError(t, err)
	}
	require.NoError(t, rec.Close())

	code, out, errOut := policyRun("", "replay", db, "-p", newPolicy, "--format", "jsonl")
	require.Equal(t, ExitOK, code, errOut)
	var c replayChange
	require.NoError(t, json.Unmarshal([]byte(out), &c))
	assert.Equal(t, "deny", c.New.Effect)
	assert.Equal(t, []string{"no spawned entry for agent carol: its role, trust and labels are unknown"}, c.Incomplete)
	assert.Contains(t, errOut, "1 would change, 1 unchanged; 0 skipped (refused by the kernel before policy); 2 replayed with input not fully recorded")
}

// replayBenchDecisions is the number of decisions the benchmarks replay.
const replayBenchDecisions = 2000

// replayBenchRecorder writes a recorder of replayBenchDecisions decisions
// of two agents (exec with arguments, reads, shell) and returns it opened
// read-only, with the decisions' entries.
func replayBenchRecorder(b *testing.B) (*recorder.Recorder, []recorder.Entry) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.db")
	w, err := recorder.Open(path, &recorder.Options{Durability: recorder.Buffered, Sync: recorder.SyncNormal})
	require.NoError(b, err)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = w.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Message: "kernel started", Time: t0})
	require.NoError(b, err)
	for _, a := range []agentos.AgentID{"alice", "bob"} {
		_, err = w.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Agent: a, Message: "spawned",
			Detail: `role="analyst" trust=0.4 team="risk"`, Time: t0})
		require.NoError(b, err)
	}
	for i := range replayBenchDecisions {
		e := recorder.Entry{Kind: recorder.KindDecision, Trace: "t" + strings.Repeat("x", i%3), Time: t0.Add(time.Duration(i) * time.Second),
			Agent: []agentos.AgentID{"alice", "bob"}[i%2], Effect: agentos.Allow}
		switch i % 4 {
		case 0:
			e.Op, e.Path, e.Rule = agentos.OpRead, "/mem/working/a.txt", "own-memory"
		case 1, 2:
			e.Op, e.Tool, e.Rule = agentos.OpExec, "search", "search"
			e.Args = json.RawMessage(`{"f":1.5,"n":3,"q":"query text"}`)
		case 3:
			e.Op, e.Tool, e.Rule, e.Effect = agentos.OpExec, "shell", "no-shell", agentos.Deny
			e.Args = json.RawMessage(`{"cmd":"ls"}`)
		}
		_, err = w.Append(ctx, e)
		require.NoError(b, err)
	}
	require.NoError(b, w.Close())
	r, err := recorder.Open(path, &recorder.Options{ReadOnly: true})
	require.NoError(b, err)
	b.Cleanup(func() { r.Close() })
	var decisions []recorder.Entry
	for e, err := range r.Query(ctx, recorder.Filter{Kind: recorder.KindDecision}) {
		require.NoError(b, err)
		decisions = append(decisions, e)
	}
	require.Len(b, decisions, replayBenchDecisions)
	return r, decisions
}

func replayBenchDocs(b *testing.B) []*policy.Document {
	doc, err := policy.Parse("new.yaml", []byte(replayNewPolicy))
	require.NoError(b, err)
	return []*policy.Document{doc}
}

// BenchmarkReplay replays a recorder of replayBenchDecisions decisions:
// read them from SQLite, rebuild each input, decide it (rate limits
// included) and count the changes.
func BenchmarkReplay(b *testing.B) {
	rec, _ := replayBenchRecorder(b)
	docs := replayBenchDocs(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		sum, err := replay(ctx, rec, docs, replayFilter{}, nil)
		if err != nil || sum.Replayed != replayBenchDecisions {
			b.Fatal(err, sum.Replayed)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*replayBenchDecisions), "ns/decision")
}

// BenchmarkReplayDecideOnly is the floor replay is measured against: the
// same decisions as engine.Decide calls on inputs built beforehand.
func BenchmarkReplayDecideOnly(b *testing.B) {
	_, entries := replayBenchRecorder(b)
	docs := replayBenchDocs(b)
	ctx := context.Background()
	rp, err := kernel.NewReplayer(ctx, docs, kernel.WithReplaySubjects(map[agentos.AgentID]policy.Subject{
		"alice": {Role: "analyst", Trust: 0.4, Labels: map[string]string{"team": "risk"}},
		"bob":   {Role: "analyst", Trust: 0.4, Labels: map[string]string{"team": "risk"}},
	}))
	require.NoError(b, err)
	inputs := make([]policy.Input, len(entries))
	for i := range entries {
		got, _, err := rp.Feed(ctx, &entries[i])
		require.NoError(b, err)
		inputs[i] = got.Input
	}
	var now time.Time
	eng, err := newEngine(ctx, docs, policy.WithClock(func() time.Time { return now }))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		for i := range inputs {
			now = inputs[i].Now
			if _, err := eng.Decide(ctx, inputs[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*replayBenchDecisions), "ns/decision")
}
