package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/scak"
)

// TestRun runs the example as "go run ./examples/selfcorrect" does, so that
// it cannot rot: it fails when the program would exit non-zero, and checks
// that the output shows what the example promises.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	require.NoError(t, run(ctx, &out), out.String())
	got := out.String()
	for _, want := range []string{
		"run 1, patches applied 0: I couldn't find any data for Q3.",
		"detector: give_up",
		"audit (teacher-large): the agent gave up when its primary source had no rows",
		"triage: fix-now by high-effort",
		`patch: prompt_rule, business, active: "When the primary source has no rows, search the archive (archive.search) before answering."`,
		"run 4, patches applied 1: Q3 revenue was 4.2M (source: archive).",
		"measure: give_up recurred in 1 of 1 runs before the patch (100%), 0 of 3 after (0%)",
		"evaluate: kept (recurrence dropped from 1/1 to 0/3)",
		"audit: 4 outcomes seen, 1 sent to the teacher, patches proposed 1",
		"trail: 16 entries, chain verified",
	} {
		require.Contains(t, got, want)
	}
	require.Equal(t, 3, strings.Count(got, "tools: sales.query, archive.search"), got)
	require.Equal(t, 3, strings.Count(got, "detector: no failure"), got)

	// The run is deterministic.
	var again strings.Builder
	require.NoError(t, run(ctx, &again))
	require.Equal(t, got, again.String())
}

// TestAgentNeedsTheRule checks the premise: the agent's model gives up on
// an empty primary source unless a rule tells it where else to look.
func TestAgentNeedsTheRule(t *testing.T) {
	ctx := context.Background()
	m := agentModel()
	p := scak.Applied{}.Prepend(promptWith(salesResult))
	c, err := m.Generate(ctx, p)
	require.NoError(t, err)
	require.Equal(t, "I couldn't find any data for Q3.", c.Text)
	ruled := scak.Applied{PromptRules: []string{"When the primary source has no rows, search the archive (archive.search) before answering."}}
	c, err = m.Generate(ctx, ruled.Prepend(promptWith(salesResult)))
	require.NoError(t, err)
	require.Equal(t, "CALL archive.search", c.Text)
}

func promptWith(result string) agentos.Prompt {
	return agentos.Prompt{Messages: []agentos.Message{
		{Role: agentos.RoleUser, Content: request},
		{Role: agentos.RoleTool, Content: result},
	}}
}
