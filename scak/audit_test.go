package scak_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/scripted"
	"github.com/agent-os/agentos/scak"
)

const auditArchiveReply = `{"verdict": "failure",
 "cause": "the agent gave up when the primary source was empty instead of trying the archive",
 "patches": [
  {"type": "prompt_rule", "level": "business", "key": "empty-primary",
   "content": "When the primary source returns nothing, search the archive before answering."},
  {"type": "tool_rule", "level": "syntax", "scope": "agent", "key": "sales-fallback",
   "content": "fall back to the archive", "tool": {"tool": "sales.query", "fallback": "archive.search"}}
 ]}`

var auditGiveUp = scak.Failure{
	Kind: scak.KindGiveUp, Agent: "analyst", Trace: "tr-1", Task: "q3-report", Op: agentos.OpExec, Tool: "sales.query",
	Rule: "no-data", Evidence: "I couldn't find any data", Confidence: 0.9,
}

func auditTeacher(t *testing.T, rules ...scripted.Option) *scripted.Model {
	t.Helper()
	m, err := scripted.New(append([]scripted.Option{scripted.Name("teacher-large")}, rules...)...)
	require.NoError(t, err)
	return m
}

func TestAuditProposesPatches(t *testing.T) {
	teacher := auditTeacher(t, scripted.Otherwise().Reply("```json\n"+auditArchiveReply+"\n```"))
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	a, err := scak.NewAuditor(teacher, scak.WithAuditClock(func() time.Time { return now }))
	require.NoError(t, err)
	d, err := a.Audit(context.Background(), auditGiveUp, scak.AuditInput{
		Prompt: "Write the Q3 sales report", Answer: "I couldn't find any data",
		Calls: []scak.ToolResult{{Tool: "sales.query", Args: `{"quarter":"Q3"}`}},
		Tools: []string{"sales.query", "archive.search"}, Model: "small-1",
	})
	require.NoError(t, err)
	require.True(t, d.Confirmed)
	require.Equal(t, "teacher-large", d.Teacher)
	require.Contains(t, d.Cause, "archive")
	require.Len(t, d.Patches, 2)
	p := d.Patches[0]
	require.Equal(t, scak.PromptRule, p.Type)
	require.Equal(t, scak.Scope{Agent: "analyst", Task: "q3-report"}, p.Scope)
	require.Equal(t, scak.Provenance{Trace: "tr-1", Failure: scak.KindGiveUp, Model: "small-1", Auditor: "teacher-large",
		Cause: d.Cause, Created: now}, p.Provenance)
	tr := d.Patches[1]
	require.Equal(t, scak.Scope{Agent: "analyst"}, tr.Scope, "scope agent widens the patch to every task")
	require.Equal(t, &scak.ToolUse{Tool: "sales.query", Fallback: "archive.search"}, tr.Tool)

	// The prompt shows the failure and the run, and is bounded.
	calls := teacher.Calls()
	require.Len(t, calls, 1)
	user := calls[0].Messages[1].Content
	for _, want := range []string{"Failure: give_up", "Evidence: I couldn't find any data", "Call 1: sales.query({\"quarter\":\"Q3\"}) returned nothing", "Tools available: sales.query, archive.search"} {
		require.Contains(t, user, want)
	}
	require.Equal(t, agentos.RoleSystem, calls[0].Messages[0].Role)

	st := a.Stats()
	require.Equal(t, scak.AuditStats{Seen: 1, Audited: 1, Proposed: 2}, st)
}

func TestAuditReviewIsDifferential(t *testing.T) {
	teacher := auditTeacher(t, scripted.Otherwise().Reply(auditArchiveReply))
	a, err := scak.NewAuditor(teacher)
	require.NoError(t, err)
	ctx := context.Background()
	for range 9 {
		d, audited, err := a.Review(ctx, nil, scak.AuditInput{Answer: "Q3 revenue was 4.2M"})
		require.NoError(t, err)
		require.False(t, audited)
		require.Empty(t, d.Patches)
	}
	low := auditGiveUp
	low.Confidence, low.Trace = 0.4, "tr-low"
	d, audited, err := a.Review(ctx, []scak.Failure{low, auditGiveUp}, scak.AuditInput{Answer: "I couldn't find any data"})
	require.NoError(t, err)
	require.True(t, audited)
	require.Equal(t, "tr-1", d.Failure.Trace, "the most confident failure is audited")
	require.Equal(t, scak.AuditStats{Seen: 10, Audited: 1, Proposed: 2}, a.Stats())
	require.Equal(t, 1, teacher.CallCount(), "only the failure reached the teacher")
}

func TestAuditFalsePositive(t *testing.T) {
	teacher := auditTeacher(t, scripted.Otherwise().Reply(`{"verdict":"false_positive","cause":"the user asked for no data","patches":[]}`))
	a, err := scak.NewAuditor(teacher)
	require.NoError(t, err)
	d, err := a.Audit(context.Background(), auditGiveUp, scak.AuditInput{})
	require.NoError(t, err)
	require.False(t, d.Confirmed)
	require.Empty(t, d.Patches)
	require.Equal(t, int64(1), a.Stats().FalsePositives)
}

func TestAuditRejectsBadReplies(t *testing.T) {
	for _, tc := range []struct {
		name, reply string
	}{
		{"prose", "The agent should have tried harder."},
		{"empty", "   "},
		{"ok without a verdict", `{"cause":"fine"}`},
		{"null", `null`},
		{"unknown verdict", `{"verdict":"ok","cause":"fine"}`},
		{"no cause", `{"verdict":"failure","cause":" "}`},
		{"unknown field", `{"verdict":"failure","cause":"x","severity":"high"}`},
		{"trailing text", `{"verdict":"failure","cause":"x"} and more`},
		{"two objects", `{"verdict":"failure","cause":"x"}{"verdict":"failure","cause":"y"}`},
		{"unknown patch type", `{"verdict":"failure","cause":"x","patches":[{"type":"hint","level":"business","content":"c"}]}`},
		{"unknown level", `{"verdict":"failure","cause":"x","patches":[{"type":"memory","level":"deep","content":"c"}]}`},
		{"unknown scope", `{"verdict":"failure","cause":"x","patches":[{"type":"memory","level":"business","scope":"world","content":"c"}]}`},
		{"empty content", `{"verdict":"failure","cause":"x","patches":[{"type":"memory","level":"business","content":""}]}`},
		{"tool rule without tool", `{"verdict":"failure","cause":"x","patches":[{"type":"tool_rule","level":"syntax","content":"c"}]}`},
		{"tool on a memory", `{"verdict":"failure","cause":"x","patches":[{"type":"memory","level":"syntax","content":"c","tool":{"tool":"t","fallback":"u"}}]}`},
		{"false positive with patches", `{"verdict":"false_positive","cause":"x","patches":[{"type":"memory","level":"business","content":"c"}]}`},
		{"too many patches", `{"verdict":"failure","cause":"x","patches":[` + strings.Repeat(`{"type":"memory","level":"business","content":"c"},`, scak.MaxPatchesPerDiagnosis) + `{"type":"memory","level":"business","content":"c"}]}`},
		{"too long", `{"verdict":"failure","cause":"` + strings.Repeat("x", scak.MaxReplySize) + `"}`},
		{"fence of another language", "```yaml\nverdict: failure\n```"},
		// Valid JSON that validation of the patch refuses.
		{"tool rule saying nothing", `{"verdict":"failure","cause":"x","patches":[{"type":"tool_rule","level":"syntax","content":"c","tool":{"tool":"t"}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			teacher := auditTeacher(t, scripted.Otherwise().Reply(tc.reply))
			a, err := scak.NewAuditor(teacher)
			require.NoError(t, err)
			d, err := a.Audit(context.Background(), auditGiveUp, scak.AuditInput{})
			require.ErrorIs(t, err, scak.ErrDiagnosis)
			require.ErrorIs(t, err, agentos.ErrInvalid)
			require.Equal(t, scak.Diagnosis{}, d, "an unreadable reply is never a diagnosis")
			require.Equal(t, int64(1), a.Stats().Rejected)
		})
	}
}

func TestAuditTeacherFailsAndIsBounded(t *testing.T) {
	boom := errors.New("rate limited")
	a, err := scak.NewAuditor(auditTeacher(t, scripted.Otherwise().Fail(boom)))
	require.NoError(t, err)
	_, err = a.Audit(context.Background(), auditGiveUp, scak.AuditInput{})
	require.ErrorIs(t, err, boom)
	require.Equal(t, int64(1), a.Stats().Errors)

	// A teacher slower than the audit timeout is cut off.
	slow := agentos.ModelFunc(func(ctx context.Context, _ agentos.Prompt) (agentos.Completion, error) {
		<-ctx.Done()
		return agentos.Completion{}, ctx.Err()
	})
	a, err = scak.NewAuditor(slow, scak.WithAuditTimeout(10*time.Millisecond))
	require.NoError(t, err)
	_, err = a.Audit(context.Background(), auditGiveUp, scak.AuditInput{})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// The prompt stays under its bound whatever the run holds.
	var seen agentos.Prompt
	capture := agentos.ModelFunc(func(_ context.Context, p agentos.Prompt) (agentos.Completion, error) {
		seen = p
		return agentos.Completion{Text: `{"verdict":"false_positive","cause":"x"}`}, nil
	})
	a, err = scak.NewAuditor(capture, scak.WithMaxPromptBytes(4096), scak.WithTeacherName("big"))
	require.NoError(t, err)
	huge := strings.Repeat("data ", 10000)
	calls := make([]scak.ToolResult, 100)
	for i := range calls {
		calls[i] = scak.ToolResult{Tool: "t", Result: huge}
	}
	d, err := a.Audit(context.Background(), auditGiveUp, scak.AuditInput{Prompt: huge, Answer: huge, Calls: calls})
	require.NoError(t, err)
	require.Equal(t, "big", d.Teacher)
	total := 0
	for _, m := range seen.Messages {
		total += len(m.Content)
	}
	require.LessOrEqual(t, total, 4096)

	// A teacher's odd name is made safe for provenance.
	odd := agentos.ModelFunc(func(context.Context, agentos.Prompt) (agentos.Completion, error) {
		return agentos.Completion{Model: "big\n\xffmodel", Text: `{"verdict":"failure","cause":"x","patches":[{"type":"memory","level":"business","content":"c"}]}`}, nil
	})
	oa, err := scak.NewAuditor(odd)
	require.NoError(t, err)
	d, err = oa.Audit(context.Background(), auditGiveUp, scak.AuditInput{})
	require.NoError(t, err)
	require.Equal(t, "big??model", d.Teacher)
	require.Equal(t, "big??model", d.Patches[0].Provenance.Auditor)

	_, err = a.Audit(context.Background(), scak.Failure{}, scak.AuditInput{})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = scak.NewAuditor(nil)
	require.ErrorIs(t, err, agentos.ErrInvalid)
	for _, o := range []scak.AuditOption{scak.WithMaxPromptBytes(10), scak.WithAuditTimeout(0), scak.WithAuditClock(nil), scak.WithTeacherName(""), nil} {
		_, err = scak.NewAuditor(capture, o)
		require.ErrorIs(t, err, agentos.ErrInvalid)
	}
}

func FuzzAuditReply(f *testing.F) {
	f.Add(auditArchiveReply)
	f.Add("```json\n" + auditArchiveReply + "\n```")
	f.Add(`{"verdict":"false_positive","cause":"x"}`)
	f.Add(`{"verdict":"failure","cause":"x","patches":[{"type":"tool_rule","level":"syntax","content":"c","tool":{"tool":"t","require_args":["a"]}}]}`)
	f.Add(`null`)
	f.Add("```\n{}\n```")
	f.Fuzz(func(t *testing.T, reply string) {
		r, err := scak.ParseDiagnosis(reply)
		if err != nil {
			if !errors.Is(err, scak.ErrDiagnosis) || !errors.Is(err, agentos.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrDiagnosis and ErrInvalid", err)
			}
			return
		}
		if r.Verdict != "failure" && r.Verdict != "false_positive" {
			t.Fatalf("accepted verdict %q", r.Verdict)
		}
		if strings.TrimSpace(r.Cause) == "" || len(r.Patches) > scak.MaxPatchesPerDiagnosis {
			t.Fatalf("accepted %+v", r)
		}
		for _, p := range r.Patches {
			if !p.Type.Valid() || !p.Level.Valid() || strings.TrimSpace(p.Content) == "" || (p.Type == scak.ToolRule) != (p.Tool != nil) {
				t.Fatalf("accepted patch %+v", p)
			}
		}
		// Whatever is accepted becomes a diagnosis or a clear error.
		a, err := scak.NewAuditor(agentos.ModelFunc(func(context.Context, agentos.Prompt) (agentos.Completion, error) {
			return agentos.Completion{Text: reply}, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		d, err := a.Audit(context.Background(), auditGiveUp, scak.AuditInput{})
		if err != nil {
			if !errors.Is(err, scak.ErrDiagnosis) {
				t.Fatalf("audit error %v", err)
			}
			return
		}
		for _, p := range d.Patches {
			if err := p.Validate(); err != nil {
				t.Fatalf("proposed an invalid patch: %v", err)
			}
		}
	})
}

func BenchmarkAuditParseDiagnosis(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := scak.ParseDiagnosis(auditArchiveReply); err != nil {
			b.Fatal(err)
		}
	}
}
