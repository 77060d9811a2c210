package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// TestRun runs the example as "go run ./examples/defi" does, so that it
// cannot rot: it fails when the program would exit non-zero, and checks
// that the output shows what the example promises.
func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	require.NoError(t, run(ctx, &out), out.String())
	for _, want := range []string{
		"1-3 yield-bot → 0x8589…da16    90,000 USDC  migrate to the v3 vault      DENIED by sanctioned-address",
		"1-4 yield-bot → 0x5f1d…ffee   480,000 USDC  migrate the remainder        refused at the pipe: yield-bot was killed",
		"2-2 arb-bot   → 0xa11c…0a11    95,000 USDC  bridge to L2                 FLAGGED by the sentinel; SIGKILL sent, arb-bot is terminated",
		"transfers 1-1 1-2 1-5 2-1 2-4; vault 825,000 USDC",
		"yield-bot SIGKILL default running→terminated: SIGPOLICY: denied by sanctioned-address",
		"arb-bot   SIGKILL default running→terminated: sentinel: arb-bot would move 155,000 USDC out in this block, above 135,750",
		"chain verified: 33 entries",
	} {
		require.Contains(t, out.String(), want)
	}
}

// TestDrainsStopped checks the facts behind the output: each drain is
// stopped before its transfer runs, the offending bot is dead before its
// next transaction in the same block, that transaction never reaches
// policy, and the other bots' transactions after it execute.
func TestDrainsStopped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := replay(ctx, io.Discard, blocks())
	require.NoError(t, err)

	require.Equal(t, []string{"1-1", "1-2", "1-5", "2-1", "2-4"}, rep.executed, "the vault.transfer tool ran exactly these")
	require.Equal(t, int64(1_000_000-40_000-25_000-30_000-60_000-20_000), rep.balance)
	require.Equal(t, map[string]string{
		"1-1": "executed", "1-2": "executed", "1-3": "denied", "1-4": "refused", "1-5": "executed",
		"2-1": "executed", "2-2": "flagged", "2-3": "refused", "2-4": "executed",
	}, rep.outcomes)
	require.Equal(t, map[string]string{"1-3": "sanctioned-address"}, rep.rules)
	require.ErrorIs(t, rep.errs["1-3"], agentos.ErrDenied)
	for _, id := range []string{"1-4", "2-3"} {
		require.ErrorIs(t, rep.errs[id], agentos.ErrKilled, id)
	}
	require.Equal(t, map[agentos.AgentID]signals.State{
		"mm-bot": signals.Running, "yield-bot": signals.Terminated, "arb-bot": signals.Terminated,
	}, rep.states)

	// In the trail: the kill lands right after the denied transfer, before
	// anything else of the block; the queued transactions of a killed bot
	// have no entry at all; no outcome of vault.transfer for a drain.
	txOf := func(e recorder.Entry) string {
		var a struct{ Tx string }
		_ = json.Unmarshal(e.Args, &a)
		return a.Tx
	}
	var kills []string
	for i, e := range rep.trail {
		if e.Kind == recorder.KindSignal && strings.HasPrefix(e.Detail, "SIGKILL") {
			kills = append(kills, string(e.Agent))
		}
		if e.Tool == "vault.transfer" {
			require.NotContains(t, []string{"1-4", "2-2", "2-3"}, txOf(e), "entry #%d", e.Seq)
			if e.Kind == recorder.KindOutcome {
				require.NotEqual(t, "1-3", txOf(rep.trail[i-1]), "the denied transfer has no outcome")
			}
		}
		if e.Kind == recorder.KindDecision && e.Rule == "sanctioned-address" {
			require.Equal(t, agentos.Deny, e.Effect)
			require.Equal(t, "SIGPOLICY", strings.Fields(rep.trail[i+1].Detail)[0])
			require.Equal(t, "SIGKILL", strings.Fields(rep.trail[i+2].Detail)[0])
		}
	}
	require.Equal(t, []string{"yield-bot", "arb-bot"}, kills)
	require.Equal(t, uint64(len(rep.trail)), rep.verified)
}

// TestTransferLimit: a single transfer over the per-transaction limit,
// below the sentinel's share, is denied by policy and kills the bot.
func TestTransferLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := replay(ctx, io.Discard, []Block{{Number: 1, Txs: []Tx{
		tx("1-1", "mm-bot", pool, 120_000, "rebalance"),
		tx("1-2", "mm-bot", pool, 10_000, "rebalance"),
	}}})
	require.NoError(t, err)
	require.Empty(t, rep.executed)
	require.Equal(t, map[string]string{"1-1": "transfer-limit"}, rep.rules)
	require.Equal(t, "refused", rep.outcomes["1-2"])
	require.Equal(t, signals.Terminated, rep.states["mm-bot"])
}

// TestSentinel: the sentinel counts each bot's outflow within a block,
// against the share of the vault at the block's start, and starts again at
// the next block; a flagged transaction does not count.
func TestSentinel(t *testing.T) {
	s := &sentinel{}
	s.begin(1_000_000) // 150,000 per bot
	for _, step := range []struct {
		tx Tx
		ok bool
	}{
		{tx("1", "a", pool, 100_000, ""), true},
		{tx("2", "b", pool, 150_000, ""), true}, // exactly the share
		{tx("3", "a", pool, 60_000, ""), false}, // 160,000 in all
		{tx("4", "a", pool, 50_000, ""), true},  // 150,000: the flagged one did not count
		{tx("5", "b", pool, 1, ""), false},
	} {
		why, ok := s.screen(step.tx)
		require.Equal(t, step.ok, ok, "tx %s: %s", step.tx.ID, why)
		if !ok {
			require.Contains(t, why, string(step.tx.From)+" would move")
		}
	}
	s.begin(100_000) // a new block: 15,000 per bot
	_, ok := s.screen(tx("6", "a", pool, 15_000, ""))
	require.True(t, ok)
	_, ok = s.screen(tx("7", "a", pool, 1, ""))
	require.False(t, ok)
}
