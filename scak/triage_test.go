package scak_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/scak"
)

func TestTriageDecide(t *testing.T) {
	tr, err := scak.NewTriage(scak.TriageConfig{})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		c    scak.Case
		want scak.Priority
		rule string
	}{
		{"payment tool error", scak.Case{Failure: scak.Failure{Kind: scak.KindToolError, Tool: "payments.send"}}, scak.FixNow, scak.RuleCriticalTool},
		{"deletion", scak.Case{Failure: scak.Failure{Kind: scak.KindLoop, Tool: "files.delete"}}, scak.FixNow, scak.RuleCriticalTool},
		{"drop_table", scak.Case{Failure: scak.Failure{Kind: scak.KindDenied, Tool: "drop_table"}}, scak.FixNow, scak.RuleCriticalTool},
		{"namespaced execute_sql", scak.Case{Failure: scak.Failure{Kind: scak.KindToolError, Tool: "db.execute_sql"}}, scak.FixNow, scak.RuleCriticalTool},
		{"not a critical tool", scak.Case{Failure: scak.Failure{Kind: scak.KindToolError, Tool: "web.search"}}, scak.FixLater, scak.RuleDefaultFixLater},
		{"reasoned tool error", scak.Case{Failure: scak.Failure{Kind: scak.KindToolError, Tool: "web.search"}, Reasoning: true}, scak.FixNow, scak.RuleReasonedFailure},
		{"reasoned denial", scak.Case{Failure: scak.Failure{Kind: scak.KindDenied, Tool: "web.search"}, Reasoning: true}, scak.FixNow, scak.RuleReasonedFailure},
		{"reasoned give-up is no failed action", scak.Case{Failure: scak.Failure{Kind: scak.KindGiveUp}, Reasoning: true}, scak.FixLater, scak.RuleDefaultFixLater},
		{"critical denial", scak.Case{Failure: scak.Failure{Kind: scak.KindDenied, Op: agentos.OpWrite}, Severity: agentos.SeverityCritical}, scak.FixNow, scak.RuleCriticalDenial},
		{"high denial is later", scak.Case{Failure: scak.Failure{Kind: scak.KindDenied}, Severity: agentos.SeverityHigh}, scak.FixLater, scak.RuleDefaultFixLater},
		{"critical severity on a give-up is no denial", scak.Case{Failure: scak.Failure{Kind: scak.KindGiveUp}, Severity: agentos.SeverityCritical}, scak.FixLater, scak.RuleDefaultFixLater},
		{"vip", scak.Case{Failure: scak.Failure{Kind: scak.KindGiveUp}, User: map[string]string{"tier": "vip"}}, scak.FixNow, scak.RuleVIPUser},
		{"not vip", scak.Case{Failure: scak.Failure{Kind: scak.KindGiveUp}, User: map[string]string{"tier": "free"}}, scak.FixLater, scak.RuleDefaultFixLater},
		{"high effort", scak.Case{Failure: scak.Failure{Kind: scak.KindGiveUp}, Effort: scak.EffortHigh}, scak.FixNow, scak.RuleHighEffort},
		{"medium effort", scak.Case{Failure: scak.Failure{Kind: scak.KindGiveUp}, Effort: scak.EffortMedium}, scak.FixLater, scak.RuleDefaultFixLater},
		{"first rule wins", scak.Case{Failure: scak.Failure{Kind: scak.KindToolError, Tool: "payments.refund"}, Reasoning: true, Effort: scak.EffortHigh}, scak.FixNow, scak.RuleCriticalTool},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tr.Decide(tc.c)
			require.Equal(t, tc.want, d.Priority)
			require.Equal(t, tc.rule, d.Rule)
			require.NotEmpty(t, d.Reason)
		})
	}
}

func TestTriageConfig(t *testing.T) {
	tr, err := scak.NewTriage(scak.TriageConfig{
		CriticalTools: []string{"crm.*"},
		VIPLabel:      "plan", VIPValue: "enterprise",
		MinSeverity: agentos.SeverityHigh,
	})
	require.NoError(t, err)
	require.Equal(t, scak.RuleCriticalTool, tr.Decide(scak.Case{Failure: scak.Failure{Tool: "crm.update"}}).Rule)
	require.Equal(t, scak.RuleDefaultFixLater, tr.Decide(scak.Case{Failure: scak.Failure{Tool: "payments.send"}}).Rule)
	require.Equal(t, scak.RuleVIPUser, tr.Decide(scak.Case{User: map[string]string{"plan": "enterprise"}}).Rule)
	require.Equal(t, scak.RuleDefaultFixLater, tr.Decide(scak.Case{User: map[string]string{"tier": "vip"}}).Rule)
	require.Equal(t, scak.RuleCriticalDenial, tr.Decide(scak.Case{Failure: scak.Failure{Kind: scak.KindDenied}, Severity: agentos.SeverityHigh}).Rule)

	none, err := scak.NewTriage(scak.TriageConfig{CriticalTools: []string{}})
	require.NoError(t, err)
	require.Equal(t, scak.FixLater, none.Decide(scak.Case{Failure: scak.Failure{Tool: "payments.send"}}).Priority)
}

func TestTriageRulesVisible(t *testing.T) {
	tr, err := scak.NewTriage(scak.TriageConfig{})
	require.NoError(t, err)
	rules := tr.Rules()
	var names []string
	for _, r := range rules {
		require.NotEmpty(t, r.Description, r.Name)
		names = append(names, r.Name)
	}
	require.Equal(t, []string{scak.RuleCriticalTool, scak.RuleReasonedFailure, scak.RuleCriticalDenial,
		scak.RuleVIPUser, scak.RuleHighEffort, scak.RuleDefaultFixLater}, names)
	require.Contains(t, rules[0].Description, "payments.*")
	require.Contains(t, rules[0].Description, "execute_sql")
	require.Equal(t, scak.FixLater, rules[len(rules)-1].Priority)
	// The caller's copy cannot change the triage.
	rules[0].Name = "changed"
	require.Equal(t, scak.RuleCriticalTool, tr.Rules()[0].Name)
}

func TestTriageBadConfig(t *testing.T) {
	long := make([]string, scak.MaxCriticalTools+1)
	for i := range long {
		long[i] = "x"
	}
	for name, cfg := range map[string]scak.TriageConfig{
		"bad pattern":   {CriticalTools: []string{"payments.["}},
		"empty pattern": {CriticalTools: []string{""}},
		"too many":      {CriticalTools: long},
		"bad severity":  {MinSeverity: agentos.Severity(9)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := scak.NewTriage(cfg)
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
}

func TestPriorityString(t *testing.T) {
	require.Equal(t, "fix-now", scak.FixNow.String())
	require.Equal(t, "fix-later", scak.FixLater.String())
	require.Equal(t, "priority(7)", scak.Priority(7).String())
}
