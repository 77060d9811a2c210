package scak_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/emk"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/scak"
)

// patchClock is a clock that moves one second per reading.
func patchClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func newPatchStore(t *testing.T, opts ...scak.StoreOption) *scak.Store {
	t.Helper()
	s, err := scak.NewStore(append([]scak.StoreOption{scak.WithStoreClock(patchClock())}, opts...)...)
	require.NoError(t, err)
	return s
}

func promptRule(agent agentos.AgentID, task, key, content string) scak.Patch {
	return scak.Patch{
		Type: scak.PromptRule, Scope: scak.Scope{Agent: agent, Task: task}, Level: scak.Business,
		Key: key, Content: content,
		Provenance: scak.Provenance{Trace: "t-1", Failure: scak.KindGiveUp, Model: "small-1", Auditor: "teacher-1"},
	}
}

func TestPatchProposeValidates(t *testing.T) {
	ok := promptRule("a1", "report", "archive", "search the archive when the primary source is empty")
	for _, tc := range []struct {
		name string
		edit func(p *scak.Patch)
	}{
		{"unknown type", func(p *scak.Patch) { p.Type = "hint" }},
		{"unknown level", func(p *scak.Patch) { p.Level = "" }},
		{"empty content", func(p *scak.Patch) { p.Content = "  \n" }},
		{"content over the bound", func(p *scak.Patch) { p.Content = strings.Repeat("x", scak.MaxContentSize+1) }},
		{"content not UTF-8", func(p *scak.Patch) { p.Content = "bad \xff" }},
		{"agent with a newline", func(p *scak.Patch) { p.Scope.Agent = "a\n1" }},
		{"long task", func(p *scak.Patch) { p.Scope.Task = strings.Repeat("t", scak.MaxNameSize+1) }},
		{"no failure kind", func(p *scak.Patch) { p.Provenance.Failure = "" }},
		{"tool on a prompt rule", func(p *scak.Patch) { p.Tool = &scak.ToolUse{Tool: "x", Fallback: "y"} }},
		{"tool rule without tool", func(p *scak.Patch) { p.Type = scak.ToolRule }},
		{"tool rule saying nothing", func(p *scak.Patch) { p.Type, p.Tool = scak.ToolRule, &scak.ToolUse{Tool: "x"} }},
		{"tool its own fallback", func(p *scak.Patch) { p.Type, p.Tool = scak.ToolRule, &scak.ToolUse{Tool: "x", Fallback: "x"} }},
		{"empty required arg", func(p *scak.Patch) {
			p.Type, p.Tool = scak.ToolRule, &scak.ToolUse{Tool: "x", RequireArgs: []string{""}}
		}},
		{"already active", func(p *scak.Patch) { p.State = scak.Active }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			p.Tool = nil
			tc.edit(&p)
			_, err := newPatchStore(t).Propose(p)
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
}

func TestPatchProposeIdempotent(t *testing.T) {
	s := newPatchStore(t)
	p1, err := s.Propose(promptRule("a1", "report", "archive", "search the archive"))
	require.NoError(t, err)
	require.Equal(t, scak.Proposed, p1.State)
	require.True(t, strings.HasPrefix(p1.ID, "p-"), p1.ID)
	require.False(t, p1.Provenance.Created.IsZero())
	p2, err := s.Propose(promptRule("a1", "report", "archive", "search the archive"))
	require.NoError(t, err)
	require.Equal(t, p1, p2)
	require.Len(t, s.List(), 1)
	_, err = s.Get("p-none")
	require.ErrorIs(t, err, agentos.ErrNotFound)
}

func TestPatchActivateAndApply(t *testing.T) {
	ctx := context.Background()
	s := newPatchStore(t)
	rule, err := s.Propose(promptRule("a1", "report", "archive", "search the archive when the primary source is empty"))
	require.NoError(t, err)
	wide, err := s.Propose(promptRule("a1", "", "cite", "cite the source of every figure"))
	require.NoError(t, err)
	tool, err := s.Propose(scak.Patch{
		Type: scak.ToolRule, Scope: scak.Scope{Agent: "a1", Task: "report"}, Level: scak.Syntax,
		Content:    "sql.query needs its limit; fall back to the archive",
		Tool:       &scak.ToolUse{Tool: "sql.query", RequireArgs: []string{"limit"}, Fallback: "archive.search"},
		Provenance: scak.Provenance{Failure: scak.KindToolError, Trace: "t-2"},
	})
	require.NoError(t, err)
	mem, err := s.Propose(scak.Patch{
		Type: scak.Memory, Scope: scak.Scope{Agent: "a1"}, Level: scak.Business,
		Content: "Q3 figures moved to the archive in October", Provenance: scak.Provenance{Failure: scak.KindGiveUp},
	})
	require.NoError(t, err)
	other, err := s.Propose(promptRule("a2", "report", "archive", "never use the archive"))
	require.NoError(t, err)

	a, err := s.Apply(scak.Scope{Agent: "a1", Task: "report"})
	require.NoError(t, err)
	require.True(t, a.Empty(), "proposed patches do not apply")

	for _, p := range []scak.Patch{rule, wide, tool, mem, other} {
		got, err := s.Activate(ctx, p.ID, "reviewer")
		require.NoError(t, err)
		require.Equal(t, scak.Active, got.State)
		require.Equal(t, "reviewer", got.Provenance.ApprovedBy)
		require.False(t, got.Provenance.Approved.IsZero())
	}
	a, err = s.Apply(scak.Scope{Agent: "a1", Task: "report"})
	require.NoError(t, err)
	require.Equal(t, []string{rule.ID, wide.ID, tool.ID, mem.ID}, a.Patches)
	require.Equal(t, []string{"search the archive when the primary source is empty", "cite the source of every figure"}, a.PromptRules)
	require.Equal(t, []string{"Q3 figures moved to the archive in October"}, a.Memories)
	require.Equal(t, "archive.search", a.Fallback("sql.query"))
	require.Empty(t, a.Fallback("web.search"))
	require.Equal(t, "Rule: search the archive when the primary source is empty\n"+
		"Rule: cite the source of every figure\n"+
		"Tool rule: call sql.query with limit.\n"+
		"Tool rule: when sql.query fails or finds nothing, call archive.search.\n"+
		"Lesson: Q3 figures moved to the archive in October\n", a.System())

	p := agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleUser, Content: "Q3 report"}}}
	pp := a.Prepend(p)
	require.Len(t, pp.Messages, 2)
	require.Equal(t, agentos.RoleSystem, pp.Messages[0].Role)
	require.Len(t, p.Messages, 1, "the caller's prompt is not modified")
	require.Equal(t, p, scak.Applied{}.Prepend(p))

	// Another task of a1 gets only the agent-wide patches.
	a, err = s.Apply(scak.Scope{Agent: "a1", Task: "email"})
	require.NoError(t, err)
	require.Equal(t, []string{wide.ID, mem.ID}, a.Patches)
}

func TestPatchConflicts(t *testing.T) {
	ctx := context.Background()
	s := newPatchStore(t)
	first, err := s.Propose(promptRule("a1", "report", "archive", "search the archive"))
	require.NoError(t, err)
	_, err = s.Activate(ctx, first.ID, "reviewer")
	require.NoError(t, err)

	for _, tc := range []struct {
		name     string
		p        scak.Patch
		conflict bool
	}{
		{"same scope, other content", promptRule("a1", "report", "archive", "never search the archive"), true},
		{"agent-wide scope overlaps", promptRule("a1", "", "archive", "ask the user instead"), true},
		{"every agent overlaps", promptRule("", "", "archive", "ask the user instead"), true},
		{"other agent", promptRule("a2", "report", "archive", "never search the archive"), false},
		{"other task", promptRule("a1", "email", "archive", "never search the archive"), false},
		{"other key", promptRule("a1", "report", "format", "answer in a table"), false},
		{"same content agrees", func() scak.Patch {
			p := promptRule("a1", "", "archive", "search the archive")
			p.Provenance.Trace = "t-9"
			return p
		}(), false},
		{"other type, same key", func() scak.Patch {
			p := promptRule("a1", "report", "archive", "the archive holds Q3")
			p.Type = scak.Memory
			return p
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.Propose(tc.p)
			require.NoError(t, err)
			got, err := s.Activate(ctx, p.ID, "reviewer")
			if !tc.conflict {
				require.NoError(t, err)
				_, err = s.Rollback(ctx, got.ID, "test done")
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, scak.ErrConflict)
			require.ErrorContains(t, err, first.ID)
			still, err := s.Get(p.ID)
			require.NoError(t, err)
			require.Equal(t, scak.Proposed, still.State, "nothing applied")
			a, err := s.Apply(scak.Scope{Agent: "a1", Task: "report"})
			require.NoError(t, err)
			require.Equal(t, []string{first.ID}, a.Patches)
		})
	}

	// Tool rules conflict on the tool they are about.
	t1 := scak.Patch{Type: scak.ToolRule, Scope: scak.Scope{Agent: "a1"}, Level: scak.Syntax, Content: "fallback",
		Tool: &scak.ToolUse{Tool: "sql.query", Fallback: "archive.search"}, Provenance: scak.Provenance{Failure: scak.KindToolError}}
	t2 := t1
	t2.Tool = &scak.ToolUse{Tool: "sql.query", Fallback: "web.search"}
	p1, err := s.Propose(t1)
	require.NoError(t, err)
	p2, err := s.Propose(t2)
	require.NoError(t, err)
	_, err = s.Activate(ctx, p1.ID, "reviewer")
	require.NoError(t, err)
	_, err = s.Activate(ctx, p2.ID, "reviewer")
	require.ErrorIs(t, err, scak.ErrConflict)
}

func TestPatchStates(t *testing.T) {
	ctx := context.Background()
	s := newPatchStore(t)
	p, err := s.Propose(promptRule("a1", "report", "archive", "search the archive"))
	require.NoError(t, err)
	_, err = s.Rollback(ctx, p.ID, "no")
	require.ErrorIs(t, err, scak.ErrState, "a proposed patch is rejected, not rolled back")
	_, err = s.Activate(ctx, p.ID, "")
	require.ErrorIs(t, err, agentos.ErrInvalid, "an activation names its approver")
	_, err = s.Activate(ctx, p.ID, "reviewer")
	require.NoError(t, err)
	_, err = s.Activate(ctx, p.ID, "reviewer")
	require.ErrorIs(t, err, scak.ErrState)
	_, err = s.Reject(p.ID, "no")
	require.ErrorIs(t, err, scak.ErrState)
	rb, err := s.Rollback(ctx, p.ID, "did not help")
	require.NoError(t, err)
	require.Equal(t, scak.RolledBack, rb.State)
	require.Equal(t, "did not help", rb.Reason)
	_, err = s.Activate(ctx, p.ID, "reviewer")
	require.ErrorIs(t, err, scak.ErrState)

	q, err := s.Propose(promptRule("a1", "report", "tone", "be brief"))
	require.NoError(t, err)
	rj, err := s.Reject(q.ID, "too vague")
	require.NoError(t, err)
	require.Equal(t, scak.Rejected, rj.State)
	_, err = s.Activate(ctx, q.ID, "reviewer")
	require.ErrorIs(t, err, scak.ErrState)

	_, err = s.Activate(ctx, "p-missing", "reviewer")
	require.ErrorIs(t, err, agentos.ErrNotFound)

	pol, err := s.Propose(scak.Patch{Type: scak.PolicyProposal, Level: scak.Business, Content: "apiVersion: agentos/v1",
		Provenance: scak.Provenance{Failure: scak.KindDenied}})
	require.NoError(t, err)
	_, err = s.Activate(ctx, pol.ID, "reviewer")
	require.ErrorIs(t, err, agentos.ErrInvalid, "a policy proposal never applies through Activate")
	got, err := s.Get(pol.ID)
	require.NoError(t, err)
	require.Equal(t, scak.Proposed, got.State)
}

func TestPatchMeasureAndEvaluate(t *testing.T) {
	ctx := context.Background()
	s := newPatchStore(t, scak.WithMinRuns(3))
	run := func(task string, failed ...scak.Kind) {
		t.Helper()
		require.NoError(t, s.RecordRun(scak.Run{Scope: scak.Scope{Agent: "a1", Task: task}, Failures: failed}))
	}
	// History before any patch: report failed twice in four runs.
	run("report", scak.KindGiveUp)
	run("report")
	run("report", scak.KindGiveUp, scak.KindGiveUp) // one run, counted once
	run("report", scak.KindToolError)

	good, err := s.Propose(promptRule("a1", "report", "archive", "search the archive"))
	require.NoError(t, err)
	require.Equal(t, scak.Tally{Runs: 4, Recurred: 2}, good.Before)
	bad, err := s.Propose(promptRule("a1", "report", "tone", "be brief"))
	require.NoError(t, err)
	wide, err := s.Propose(promptRule("a1", "email", "sign", "sign with the team name"))
	require.NoError(t, err)
	require.Equal(t, scak.Tally{}, wide.Before, "no run of a1/email yet")

	// One more run while proposed counts before.
	run("report", scak.KindGiveUp)
	m, err := s.Measure(good.ID)
	require.NoError(t, err)
	require.Equal(t, scak.Tally{Runs: 5, Recurred: 3}, m.Before)

	for _, id := range []string{good.ID, bad.ID, wide.ID} {
		_, err := s.Activate(ctx, id, "reviewer")
		require.NoError(t, err)
	}
	evs, err := s.Evaluate(ctx)
	require.NoError(t, err)
	for _, ev := range evs {
		require.Equal(t, scak.Pending, ev.Verdict, ev.Patch)
	}

	run("report")
	run("report")
	run("report", scak.KindToolError) // another kind: no recurrence
	run("email", scak.KindGiveUp)
	run("email", scak.KindGiveUp)
	run("email", scak.KindGiveUp)
	m, err = s.Measure(good.ID)
	require.NoError(t, err)
	require.Equal(t, scak.Tally{Runs: 3, Recurred: 0}, m.After)
	require.Equal(t, "give_up recurred in 3 of 5 runs before the patch (60%), 0 of 3 after (0%)", m.String())

	evs, err = s.Evaluate(ctx)
	require.NoError(t, err)
	require.Len(t, evs, 3)
	// good and bad cover the same runs: both are kept (the measure cannot
	// tell two patches of one scope apart).
	require.Equal(t, scak.Kept, evs[0].Verdict)
	require.Equal(t, scak.Kept, evs[1].Verdict)
	// wide had no run before: its own failure counts 1/1, and 3/3 after is
	// no drop.
	require.Equal(t, scak.RolledBackVerdict, evs[2].Verdict)
	require.Contains(t, evs[2].Reason, "did not drop: 1/1 before, 3/3 after")
	got, err := s.Get(wide.ID)
	require.NoError(t, err)
	require.Equal(t, scak.RolledBack, got.State)
	require.Equal(t, evs[2].Reason, got.Reason)
	a, err := s.Apply(scak.Scope{Agent: "a1", Task: "email"})
	require.NoError(t, err)
	require.True(t, a.Empty(), "a rolled-back patch no longer applies")
	require.Contains(t, scak.EvaluationRule, "rolled back unless")

	// A rolled-back patch's measure stops.
	run("email", scak.KindGiveUp)
	m, err = s.Measure(wide.ID)
	require.NoError(t, err)
	require.Equal(t, 3, m.After.Runs)

	require.ErrorIs(t, s.RecordRun(scak.Run{Scope: scak.Scope{Agent: "a1"}}), agentos.ErrInvalid)
	_, err = s.Measure("p-none")
	require.ErrorIs(t, err, agentos.ErrNotFound)
}

func TestPatchModelUpgrade(t *testing.T) {
	ctx := context.Background()
	s := newPatchStore(t)
	syntax := promptRule("a1", "report", "json", "close every JSON object you open")
	syntax.Level = scak.Syntax
	syn, err := s.Propose(syntax)
	require.NoError(t, err)
	_, err = s.Activate(ctx, syn.ID, "reviewer")
	require.NoError(t, err)
	biz, err := s.Propose(promptRule("a1", "report", "archive", "search the archive"))
	require.NoError(t, err)
	_, err = s.Activate(ctx, biz.ID, "reviewer")
	require.NoError(t, err)
	otherModel := promptRule("a1", "report", "quotes", "use straight quotes")
	otherModel.Level, otherModel.Provenance.Model = scak.Syntax, "other-2"
	om, err := s.Propose(otherModel)
	require.NoError(t, err)
	proposedSyntax := promptRule("a1", "report", "dates", "write dates as YYYY-MM-DD")
	proposedSyntax.Level = scak.Syntax
	ps, err := s.Propose(proposedSyntax)
	require.NoError(t, err)

	u, err := s.ModelUpgrade(ctx, "small-1", "small-2")
	require.NoError(t, err)
	require.Equal(t, []string{syn.ID, ps.ID}, u.Purged)
	require.Equal(t, []string{biz.ID, om.ID}, u.Kept)
	got, err := s.Get(syn.ID)
	require.NoError(t, err)
	require.Equal(t, scak.Purged, got.State)
	require.Contains(t, got.Reason, "model upgrade from small-1 to small-2")
	a, err := s.Apply(scak.Scope{Agent: "a1", Task: "report"})
	require.NoError(t, err)
	require.Equal(t, []string{biz.ID}, a.Patches)

	_, err = s.ModelUpgrade(ctx, "small-2", "small-2")
	require.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = s.ModelUpgrade(ctx, "", "x")
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestPatchStoreBounded(t *testing.T) {
	ctx := context.Background()
	s := newPatchStore(t, scak.WithMaxPatches(2))
	p1, err := s.Propose(promptRule("a1", "r", "k1", "one"))
	require.NoError(t, err)
	_, err = s.Propose(promptRule("a1", "r", "k2", "two"))
	require.NoError(t, err)
	_, err = s.Propose(promptRule("a1", "r", "k3", "three"))
	require.ErrorIs(t, err, agentos.ErrQuota)
	_, err = s.Reject(p1.ID, "no")
	require.NoError(t, err)
	p3, err := s.Propose(promptRule("a1", "r", "k3", "three"))
	require.NoError(t, err, "a final patch makes room")
	_, err = s.Get(p1.ID)
	require.ErrorIs(t, err, agentos.ErrNotFound)
	_, err = s.Activate(ctx, p3.ID, "reviewer")
	require.NoError(t, err)

	for _, o := range []scak.StoreOption{scak.WithMaxPatches(0), scak.WithMinRuns(-1), scak.WithMaxScopes(0), scak.WithStoreClock(nil), scak.WithEpisodes(nil), nil} {
		_, err := scak.NewStore(o)
		require.ErrorIs(t, err, agentos.ErrInvalid)
	}

	// The run history forgets the least recent scope past its bound.
	h := newPatchStore(t, scak.WithMaxScopes(2))
	for _, task := range []string{"t1", "t2", "t3"} {
		require.NoError(t, h.RecordRun(scak.Run{Scope: scak.Scope{Agent: "a", Task: task}, Failures: []scak.Kind{scak.KindGiveUp}}))
	}
	p, err := h.Propose(promptRule("a", "", "k", "v"))
	require.NoError(t, err)
	require.Equal(t, scak.Tally{Runs: 2, Recurred: 2}, p.Before)
}

func TestPatchSaveLoad(t *testing.T) {
	ctx := context.Background()
	s := newPatchStore(t)
	a, err := s.Propose(promptRule("a1", "report", "archive", "search the archive"))
	require.NoError(t, err)
	_, err = s.Activate(ctx, a.ID, "reviewer")
	require.NoError(t, err)
	require.NoError(t, s.RecordRun(scak.Run{Scope: scak.Scope{Agent: "a1", Task: "report"}}))
	b, err := s.Propose(scak.Patch{Type: scak.ToolRule, Scope: scak.Scope{Agent: "a1"}, Level: scak.Syntax, Content: "limit",
		Tool: &scak.ToolUse{Tool: "sql.query", RequireArgs: []string{"limit"}}, Provenance: scak.Provenance{Failure: scak.KindToolError}})
	require.NoError(t, err)
	_, err = s.Reject(b.ID, "not now")
	require.NoError(t, err)

	path := filepath.Join(t.TempDir(), "patches.json")
	require.NoError(t, s.Save(path))
	require.NoError(t, s.Save(path), "saving over a file replaces it")
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")

	l, err := scak.LoadStore(path, scak.WithStoreClock(patchClock()))
	require.NoError(t, err)
	require.Equal(t, s.List(), l.List())
	applied, err := l.Apply(scak.Scope{Agent: "a1", Task: "report"})
	require.NoError(t, err)
	require.Equal(t, []string{a.ID}, applied.Patches)

	_, err = scak.LoadStore(filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = scak.LoadStore(path, scak.WithMaxPatches(1))
	require.ErrorIs(t, err, agentos.ErrQuota)
}

func TestPatchDecodeStrict(t *testing.T) {
	s := newPatchStore(t)
	p, err := s.Propose(promptRule("a1", "report", "archive", "search the archive"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "p.json")
	require.NoError(t, s.Save(path))
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	_, err = scak.DecodePatches(good)
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"not an object", "[]"},
		{"unknown field", `{"version":1,"patches":[],"extra":1}`},
		{"trailing data", `{"version":1,"patches":[]} {}`},
		{"wrong version", `{"version":2,"patches":[]}`},
		{"wrong id", strings.Replace(string(good), p.ID, "p-0000000000000000", 1)},
		{"unknown state", strings.Replace(string(good), `"state": "proposed"`, `"state": "maybe"`, 1)},
		{"bad tally", strings.Replace(string(good), `"after": {
        "runs": 0,
        "recurred": 0`, `"after": {
        "runs": 1,
        "recurred": 2`, 1)},
		{"twice", fmt.Sprintf(`{"version":1,"patches":[%[1]s,%[1]s]}`, patchJSON(t, good))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NotEqual(t, string(good), tc.data, "the case edits the file")
			_, err := scak.DecodePatches([]byte(tc.data))
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}

	// Two active patches that contradict each other, each valid alone,
	// are refused together.
	saved := func(content string) []byte {
		c := newPatchStore(t)
		x, err := c.Propose(promptRule("a1", "report", "archive", content))
		require.NoError(t, err)
		_, err = c.Activate(context.Background(), x.ID, "reviewer")
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "c.json")
		require.NoError(t, c.Save(path))
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		return data
	}
	both := fmt.Sprintf(`{"version":1,"patches":[%s,%s]}`, patchJSON(t, saved("search the archive")), patchJSON(t, saved("never search the archive")))
	_, err = scak.DecodePatches([]byte(both))
	require.ErrorIs(t, err, scak.ErrConflict)
}

// patchJSON returns the first patch object of a saved file.
func patchJSON(t *testing.T, file []byte) string {
	t.Helper()
	ps, err := scak.DecodePatches(file)
	require.NoError(t, err)
	require.NotEmpty(t, ps)
	s := string(file)
	start := strings.Index(s, "[")
	end := strings.LastIndex(s, "]")
	return s[start+1 : end]
}

func TestPatchMemoryEpisodes(t *testing.T) {
	es, err := emk.Open("")
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("emk needs cgo")
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, es.Close()) })
	ctx := context.Background()
	s := newPatchStore(t, scak.WithEpisodes(es))
	p, err := s.Propose(scak.Patch{
		Type: scak.Memory, Scope: scak.Scope{Agent: "a1", Task: "report"}, Level: scak.Business,
		Content: "Q3 figures live in the archive since October", Provenance: scak.Provenance{Failure: scak.KindGiveUp, Cause: "primary source empty"},
	})
	require.NoError(t, err)
	act, err := s.Activate(ctx, p.ID, "reviewer")
	require.NoError(t, err)
	require.NotEmpty(t, act.Episode)

	// The agent's episodic retrieval finds the lesson.
	found, err := es.Query(ctx, emk.Query{Agent: "a1", Text: "where are the Q3 figures", K: 3, Meta: map[string]string{"scak.patch": p.ID}})
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, "Q3 figures live in the archive since October", found[0].Episode.Reflection)
	require.Equal(t, emk.OutcomeFact, found[0].Episode.Outcome)

	_, err = s.Rollback(ctx, p.ID, "did not help")
	require.NoError(t, err)
	anti, err := es.Query(ctx, emk.Query{Agent: "a1", Outcomes: []emk.Outcome{emk.OutcomeAntiPattern}, K: 3})
	require.NoError(t, err)
	require.Len(t, anti, 1)
	require.Equal(t, []string{act.Episode}, anti[0].Episode.Causes)
}

func TestPatchStoreConcurrent(t *testing.T) {
	ctx := context.Background()
	s := newPatchStore(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				p, err := s.Propose(promptRule("a1", "report", fmt.Sprintf("k%d-%d", g, i), "rule"))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Activate(ctx, p.ID, "reviewer"); err != nil {
					t.Error(err)
					return
				}
				if err := s.RecordRun(scak.Run{Scope: scak.Scope{Agent: "a1", Task: "report"}}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Apply(scak.Scope{Agent: "a1", Task: "report"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	a, err := s.Apply(scak.Scope{Agent: "a1", Task: "report"})
	require.NoError(t, err)
	require.Len(t, a.Patches, 100)
	require.Len(t, a.PromptRules, 1, "the same rule is told once")
}

func FuzzPatchFile(f *testing.F) {
	s, err := scak.NewStore(scak.WithStoreClock(patchClock()))
	require.NoError(f, err)
	p, err := s.Propose(promptRule("a1", "report", "archive", "search the archive"))
	require.NoError(f, err)
	_, err = s.Activate(context.Background(), p.ID, "reviewer")
	require.NoError(f, err)
	_, err = s.Propose(scak.Patch{Type: scak.ToolRule, Scope: scak.Scope{Agent: "a1"}, Level: scak.Syntax, Content: "limit",
		Tool: &scak.ToolUse{Tool: "sql.query", RequireArgs: []string{"limit"}}, Provenance: scak.Provenance{Failure: scak.KindToolError}})
	require.NoError(f, err)
	path := filepath.Join(f.TempDir(), "p.json")
	require.NoError(f, s.Save(path))
	good, err := os.ReadFile(path)
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte(`{"version":1,"patches":[]}`))
	f.Add([]byte(`{"version":1,"patches":null}`))
	f.Add([]byte(`{"version":1,"patches":[{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := scak.DecodePatches(data)
		if err != nil {
			if !errors.Is(err, agentos.ErrInvalid) && !errors.Is(err, scak.ErrConflict) {
				t.Fatalf("error %v wraps neither ErrInvalid nor ErrConflict", err)
			}
			return
		}
		// What is accepted is valid, and loads into a store that can apply it.
		for i := range ps {
			if err := ps[i].Validate(); err != nil {
				t.Fatalf("accepted an invalid patch: %v", err)
			}
		}
		dir := t.TempDir()
		file := filepath.Join(dir, "p.json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := scak.LoadStore(file)
		if err != nil {
			if errors.Is(err, agentos.ErrQuota) {
				return
			}
			t.Fatalf("decoded but did not load: %v", err)
		}
		for _, p := range ps {
			if _, err := l.Apply(p.Scope); err != nil {
				t.Fatalf("apply: %v", err)
			}
		}
	})
}

func BenchmarkPatchApply(b *testing.B) {
	s, err := scak.NewStore()
	require.NoError(b, err)
	ctx := context.Background()
	for i := range 100 {
		agent := agentos.AgentID(fmt.Sprintf("a%d", i%10))
		p, err := s.Propose(promptRule(agent, "report", fmt.Sprintf("k%d", i), fmt.Sprintf("rule %d", i)))
		require.NoError(b, err)
		_, err = s.Activate(ctx, p.ID, "reviewer")
		require.NoError(b, err)
	}
	scope := scak.Scope{Agent: "a3", Task: "report"}
	b.ReportAllocs()
	for b.Loop() {
		a, err := s.Apply(scope)
		if err != nil || len(a.Patches) != 10 {
			b.Fatal(err, len(a.Patches))
		}
	}
}

// A Memory patch is found by the agent's own governed recall.
func TestPatchMemoryRecalledByAgent(t *testing.T) {
	es, err := emk.Open("")
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("emk needs cgo")
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, es.Close()) })
	ctx := context.Background()
	k, err := kernel.New(kernel.WithMemory(kernel.Memory{Episodes: es}))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, k.Close()) })
	a, err := k.Spawn(ctx, "analyst")
	require.NoError(t, err)

	s := newPatchStore(t, scak.WithEpisodes(es))
	p, err := s.Propose(scak.Patch{
		Type: scak.Memory, Scope: scak.Scope{Agent: "analyst"}, Level: scak.Business,
		Content: "closed quarters are kept in the archive", Provenance: scak.Provenance{Failure: scak.KindGiveUp},
	})
	require.NoError(t, err)
	_, err = s.Activate(ctx, p.ID, "reviewer")
	require.NoError(t, err)
	hits, err := a.Recall(ctx, emk.Query{Text: "where are closed quarters kept", K: 3})
	require.NoError(t, err)
	require.Len(t, hits, 1)
	require.Equal(t, "closed quarters are kept in the archive", hits[0].Episode.Reflection)
	require.Equal(t, p.ID, hits[0].Episode.Meta["scak.patch"])
}
