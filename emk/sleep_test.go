//go:build cgo

package emk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/emk"
	"github.com/agent-os/agentos/models/scripted"
)

const day = 24 * time.Hour

// memories stores, for agent a, five old "deploy" episodes (two spellings
// of the goal), one old lone "lunch", two recent "deploy" ones; and three
// old "deploy" episodes of agent b.
func memories(t *testing.T, s *emk.Store) []emk.Episode {
	t.Helper()
	ctx := context.Background()
	var es []emk.Episode
	for i, e := range []emk.Episode{
		{Agent: "a", Goal: "Deploy  API", Action: "kubectl apply", Outcome: emk.OutcomeFailure, Reflection: "pin the tag"},
		{Agent: "a", Goal: "deploy api", Action: "kubectl apply", Outcome: emk.OutcomeFailure, Reflection: "pin the tag"},
		{Agent: "a", Goal: "deploy api", Action: "helm upgrade", Outcome: emk.OutcomeSuccess, Reflection: "helm works"},
		{Agent: "a", Goal: "deploy api", Action: "kubectl apply", Outcome: emk.OutcomeAntiPattern},
		{Agent: "a", Goal: "deploy api", Action: "helm upgrade", Outcome: emk.OutcomeSuccess, Reflection: "pin the tag"},
		{Agent: "a", Goal: "lunch", Action: "eat", Outcome: emk.OutcomeSuccess},
		{Agent: "b", Action: "rsync docs", Outcome: emk.OutcomeSuccess},
		{Agent: "b", Action: "rsync docs", Outcome: emk.OutcomeFailure},
		{Agent: "b", Action: "RSYNC docs", Outcome: emk.OutcomeSuccess},
	} {
		e.Time = t0.Add(-60*day + time.Duration(i)*time.Hour)
		es = append(es, e)
	}
	for i := range 2 {
		es = append(es, emk.Episode{Agent: "a", Goal: "deploy api", Action: "helm upgrade", Outcome: emk.OutcomeSuccess,
			Time: t0.Add(-time.Duration(i+1) * day)})
	}
	out, err := s.AppendBatch(ctx, es)
	require.NoError(t, err)
	return out
}

func TestSleep(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, emk.WithClock(newClock().now))
	originals := memories(t, s)
	before, err := s.List(ctx, "", "", emk.MaxListLimit)
	require.NoError(t, err)

	dry, err := s.Sleep(ctx, emk.SleepOptions{DryRun: true})
	require.NoError(t, err)
	assert.True(t, dry.DryRun)
	assert.Equal(t, 2, dry.Groups, "a's five deploys and b's three rsyncs; the lone lunch and the recent ones stay")
	assert.Equal(t, 8, dry.Compressed)
	require.Len(t, dry.Facts, 2)
	n, err := s.Count(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, len(originals), n, "a dry run stores nothing")

	real, err := s.Sleep(ctx, emk.SleepOptions{})
	require.NoError(t, err)
	assert.False(t, real.DryRun)
	assert.Equal(t, dry.Facts, real.Facts, "the dry run computed the facts the real run stored")

	fact := real.Facts[0]
	assert.Equal(t, emk.OutcomeFact, fact.Outcome)
	assert.Equal(t, "a", fact.Agent)
	assert.Equal(t, "Deploy  API", fact.Goal)
	assert.Equal(t, originals[4].Time, fact.Time, "the time of the newest episode distilled")
	assert.Len(t, fact.Causes, 5)
	assert.Equal(t, `5 episodes of "Deploy  API" from 2026-09-02 to 2026-09-02: 2 success, 2 failure, 1 anti-pattern.
Actions: "kubectl apply" ×3; "helm upgrade" ×2.
Reflections: "pin the tag" ×3; "helm works" ×1.`, fact.Result)
	assert.Equal(t, "b", real.Facts[1].Agent)
	assert.Equal(t, "rsync docs", real.Facts[1].Action, "b's group is keyed by action")
	stored, err := s.Get(ctx, fact.ID)
	require.NoError(t, err)
	assert.Equal(t, fact, stored)

	links, err := s.Trace(ctx, fact.ID, emk.Causes, 1, 100)
	require.NoError(t, err)
	assert.Len(t, links, 5)

	after, err := s.List(ctx, "", "", emk.MaxListLimit)
	require.NoError(t, err)
	for _, e := range before {
		assert.Contains(t, after, e, "originals are kept unchanged")
	}
	assert.Len(t, after, len(before)+2)

	again, err := s.Sleep(ctx, emk.SleepOptions{})
	require.NoError(t, err)
	assert.Zero(t, again.Groups)
	assert.Empty(t, again.Facts)
	n, err = s.Count(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, len(before)+2, n, "a second cycle adds nothing")

	later, err := s.Sleep(ctx, emk.SleepOptions{Now: t0.Add(60 * day)})
	require.NoError(t, err)
	assert.Equal(t, 1, later.Groups, "the recent deploys have aged; the facts are never distilled again")
	assert.Equal(t, 2, later.Compressed)
}

func TestSleepScope(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, emk.WithClock(newClock().now))
	memories(t, s)

	rep, err := s.Sleep(ctx, emk.SleepOptions{Agent: "b", DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Groups)
	assert.Equal(t, "b", rep.Facts[0].Agent)

	rep, err = s.Sleep(ctx, emk.SleepOptions{OlderThan: 90 * day, DryRun: true})
	require.NoError(t, err)
	assert.Zero(t, rep.Groups)

	rep, err = s.Sleep(ctx, emk.SleepOptions{MaxGroup: 2, DryRun: true})
	require.NoError(t, err)
	// a: 5 episodes in three parts (2, 2, 1); b: 3 in two (2, 1).
	var sizes []int
	for _, f := range rep.Facts {
		sizes = append(sizes, len(f.Causes))
		assert.LessOrEqual(t, len(f.Causes), 2)
	}
	assert.Equal(t, 8, rep.Compressed)
	assert.Equal(t, []int{2, 2, 1, 2, 1}, sizes)
}

func TestSleepSplitsLargeGroups(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, emk.WithClock(newClock().now))
	var es []emk.Episode
	for i := range emk.MaxCauses*2 + 1 {
		es = append(es, emk.Episode{Agent: "a", Goal: "poll", Result: fmt.Sprint("try ", i), Time: t0.Add(-40*day + time.Duration(i)*time.Second)})
	}
	_, err := s.AppendBatch(ctx, es)
	require.NoError(t, err)
	rep, err := s.Sleep(ctx, emk.SleepOptions{})
	require.NoError(t, err)
	require.Equal(t, 3, rep.Groups)
	assert.Equal(t, []int{43, 43, 43}, []int{len(rep.Facts[0].Causes), len(rep.Facts[1].Causes), len(rep.Facts[2].Causes)})
	assert.Equal(t, emk.MaxCauses*2+1, rep.Compressed)
}

func TestSleepWithModel(t *testing.T) {
	ctx := context.Background()
	m := scripted.MustNew(scripted.Otherwise().Reply("  Helm upgrades deploy the API; kubectl apply with floating tags failed.  "))
	s := openMem(t, emk.WithClock(newClock().now))
	memories(t, s)
	rep, err := s.Sleep(ctx, emk.SleepOptions{Agent: "a", Summarizer: emk.ModelSummarizer(m)})
	require.NoError(t, err)
	require.Len(t, rep.Facts, 1)
	assert.Equal(t, "Helm upgrades deploy the API; kubectl apply with floating tags failed.", rep.Facts[0].Result)
	calls := m.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, emk.SummaryPrompt, calls[0].Messages[0].Content)
	assert.Equal(t, 256, calls[0].MaxTokens)
	assert.Contains(t, calls[0].Messages[1].Content, "- [anti-pattern] goal: deploy api | action: kubectl apply | result:  | reflection: \n")
	assert.Equal(t, 5, strings.Count(calls[0].Messages[1].Content, "\n"))

	// A model that ignores MaxTokens.
	long := agentos.ModelFunc(func(context.Context, agentos.Prompt) (agentos.Completion, error) {
		return agentos.Completion{Text: strings.Repeat("é", emk.MaxSummarySize)}, nil
	})
	text, err := emk.ModelSummarizer(long).Summarize(ctx, rep.Facts)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(text), emk.MaxSummarySize)
	assert.Equal(t, strings.Repeat("é", emk.MaxSummarySize/2), text, "cut at a rune boundary")
}

func TestSleepErrors(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, emk.WithClock(newClock().now))
	memories(t, s)
	for name, o := range map[string]emk.SleepOptions{
		"negative age":  {OlderThan: -time.Hour},
		"group of one":  {MaxGroup: 1},
		"group too big": {MaxGroup: emk.MaxCauses + 1},
		"cutoff":        {Now: time.Date(1680, 1, 1, 0, 0, 0, 0, time.UTC), OlderThan: 365 * 10 * day},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Sleep(ctx, o)
			assert.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	summarizers := map[string]struct {
		sum  emk.Summarizer
		want error
	}{
		"empty answer": {emk.ModelSummarizer(scripted.MustNew(scripted.Otherwise().Reply(" \n"))), agentos.ErrInvalid},
		"model error":  {emk.ModelSummarizer(scripted.MustNew(scripted.Otherwise().Fail(agentos.ErrQuota))), agentos.ErrQuota},
		"no model":     {emk.ModelSummarizer(nil), agentos.ErrInvalid},
		"blank":        {summarizerFunc(func([]emk.Episode) (string, error) { return "\t", nil }), agentos.ErrInvalid},
		"too long": {summarizerFunc(func([]emk.Episode) (string, error) {
			return strings.Repeat("x", emk.MaxFieldSize+1), nil
		}), agentos.ErrInvalid},
	}
	for name, tt := range summarizers {
		t.Run(name, func(t *testing.T) {
			_, err := s.Sleep(ctx, emk.SleepOptions{Summarizer: tt.sum})
			assert.ErrorIs(t, err, tt.want)
		})
	}
	n, err := s.Count(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, 11, n, "a failed cycle stores nothing")

	_, err = emk.DeterministicSummarizer{}.Summarize(ctx, nil)
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = emk.ModelSummarizer(scripted.MustNew(scripted.Otherwise().Reply("x"))).Summarize(ctx, nil)
	assert.ErrorIs(t, err, agentos.ErrInvalid)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Sleep(cctx, emk.SleepOptions{})
	assert.True(t, errors.Is(err, context.Canceled), err)
}

type summarizerFunc func([]emk.Episode) (string, error)

func (f summarizerFunc) Summarize(_ context.Context, g []emk.Episode) (string, error) { return f(g) }
