package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
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

// replayStepClock starts at 2026-01-01 and advances a second per reading.
func replayStepClock() func() time.Time {
	var mu sync.Mutex
	next := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := next
		next = next.Add(time.Second)
		return t
	}
}

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
	clock := replayStepClock()
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

func TestReplayInput(t *testing.T) {
	agents := map[agentos.AgentID]policy.Subject{
		"alice": {ID: "alice", Role: "analyst", Trust: 0.4},
		"bob":   {ID: "bob", Role: "ops"},
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	all := reads{args: true, peer: true, tool: true}
	for _, tc := range []struct {
		name       string
		entry      recorder.Entry
		rd         reads
		check      func(t *testing.T, in policy.Input)
		incomplete []string
	}{
		{
			name:  "exec with args and a registered tool",
			entry: recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "sql", Args: json.RawMessage(`{"n":3,"f":1.5,"l":[1,"a"],"m":{"k":true}}`), Meta: map[string]string{"version": "1.2.0"}, Time: at, Trace: "t1"},
			rd:    reads{args: true},
			check: func(t *testing.T, in policy.Input) {
				assert.Equal(t, int64(3), in.Action.Args["n"])
				assert.Equal(t, 1.5, in.Action.Args["f"])
				assert.Equal(t, []any{int64(1), "a"}, in.Action.Args["l"])
				assert.Equal(t, map[string]any{"k": true}, in.Action.Args["m"])
				assert.Equal(t, "analyst", in.Agent.Role)
				assert.Equal(t, &policy.Tool{Name: "sql", Version: "1.2.0"}, in.Tool)
				assert.Equal(t, at, in.Now)
				assert.Equal(t, at, in.Action.At)
				assert.Equal(t, "t1", in.Action.ID)
				assert.Nil(t, in.Peer)
			},
		},
		{
			name:       "the tool description is partial when the policy reads it",
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "sql", Args: json.RawMessage(`{}`), Meta: map[string]string{"version": "1.2.0"}},
			rd:         all,
			incomplete: []string{"the tool's registry description beyond name and version is not recorded"},
		},
		{
			name:  "a pipe send sees the target as peer",
			entry: recorder.Entry{Agent: "alice", Op: agentos.OpSend, Target: "bob", Meta: map[string]string{"direction": "pipe"}},
			rd:    all,
			check: func(t *testing.T, in policy.Input) {
				require.NotNil(t, in.Peer)
				assert.Equal(t, "ops", in.Peer.Role)
			},
		},
		{
			name:  "a publish on a topic has no peer",
			entry: recorder.Entry{Agent: "alice", Op: agentos.OpSend, Target: "bob", Meta: map[string]string{"direction": "publish", "payload": "text"}},
			rd:    reads{},
			check: func(t *testing.T, in policy.Input) { assert.Nil(t, in.Peer) },
		},
		{
			name:       "a message payload is not recorded",
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpSend, Target: "news", Meta: map[string]string{"direction": "publish", "payload": "text"}},
			rd:         all,
			incomplete: []string{"the message payload (action.args.payload) is not recorded"},
		},
		{
			name:       "a signed delivery's peer is not recorded",
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpSend, Target: "news", Meta: map[string]string{"direction": "receive", "signer": "did:x"}},
			rd:         reads{peer: true},
			incomplete: []string{"the verified signer (peer) is not recorded"},
		},
		{
			name:       "cut arguments",
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "t", Args: json.RawMessage(`{"$truncated":{"bytes":9999}}`)},
			rd:         reads{args: true},
			incomplete: []string{"the arguments were recorded cut (over the kernel's recording limit)"},
		},
		{
			name:       "an agent never spawned",
			entry:      recorder.Entry{Agent: "carol", Op: agentos.OpRead, Path: "/mem/x"},
			incomplete: []string{"no spawned entry for the agent: its role, trust and labels are unknown"},
			check:      func(t *testing.T, in policy.Input) { assert.Equal(t, "carol", in.Agent.ID) },
		},
		{
			name:       "arguments that are not an object",
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "t", Args: json.RawMessage(`[1]`)},
			incomplete: []string{"the recorded arguments do not decode: arguments are a JSON []interface {}, not an object"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, inc := replayInput(&tc.entry, agents, tc.rd)
			assert.Equal(t, tc.incomplete, inc)
			if tc.check != nil {
				tc.check(t, in)
			}
		})
	}
}

func TestSpawnSubject(t *testing.T) {
	for _, tc := range []struct {
		detail string
		want   policy.Subject
	}{
		{`role="analyst" trust=0.5 team="risk" x="a \"q\" b"`, policy.Subject{ID: "a", Role: "analyst", Trust: 0.5, Labels: map[string]string{"team": "risk", "x": `a "q" b`}}},
		{`role="" trust=0`, policy.Subject{ID: "a"}},
		{``, policy.Subject{ID: "a"}},
		{`role="unterminated`, policy.Subject{ID: "a"}},
		{`garbage`, policy.Subject{ID: "a"}},
		{`role="r" trust=notanumber`, policy.Subject{ID: "a", Role: "r"}},
	} {
		assert.Equal(t, tc.want, spawnSubject("a", tc.detail), tc.detail)
	}
}

func TestReadsOf(t *testing.T) {
	doc, err := policy.Parse("p.yaml", []byte(`apiVersion: agentos/v1
kind: Policy
metadata: {name: p}
spec:
  variables:
    - {name: v, expression: 'peer.trust > 0.5'}
  rules:
    - {name: a, effect: allow, when: 'action.tool == "x" && tool.sideEffect == "none"'}
`))
	require.NoError(t, err)
	assert.Equal(t, reads{peer: true, tool: true}, readsOf([]*policy.Document{doc}))
	doc2, err := policy.Parse("q.yaml", []byte(`apiVersion: agentos/v1
kind: Policy
metadata: {name: q}
spec:
  rules:
    - {name: a, effect: allow, when: 'action.tool == "x" && action.args.n > 1'}
`))
	require.NoError(t, err)
	assert.Equal(t, reads{args: true}, readsOf([]*policy.Document{doc2}))
}

func FuzzSpawnSubject(f *testing.F) {
	f.Add(`role="analyst" trust=0.5 team="risk"`)
	f.Add(`role="\x00" trust=1e400 =x`)
	f.Add(`a=`)
	f.Fuzz(func(t *testing.T, detail string) {
		s := spawnSubject("id", detail)
		if s.ID != "id" {
			t.Fatalf("id %q", s.ID)
		}
	})
}

func FuzzDecodeArgs(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":[1.5,"x",null,true],"c":{"d":{}}}`))
	f.Add([]byte(`{"n":99999999999999999999999}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := decodeArgs(raw)
		if err == nil && m == nil {
			t.Fatal("nil map without an error")
		}
	})
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
	agents := map[agentos.AgentID]policy.Subject{
		"alice": spawnSubject("alice", `role="analyst" trust=0.4 team="risk"`),
		"bob":   spawnSubject("bob", `role="analyst" trust=0.4 team="risk"`),
	}
	inputs := make([]policy.Input, len(entries))
	for i := range entries {
		inputs[i], _ = replayInput(&entries[i], agents, reads{})
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
