// Command defi is the DeFi sentinel case study: trading bots manage a
// vault's funds, and every transaction they submit in a block travels a
// typed pipe,
//
//	bot | PolicyCheck(chain.Tx) | sentinel screen | vault.transfer as the bot
//
// The crossing to the sentinel is the bot's governed send; the sentinel
// screens the stream (how much each bot has moved out of the vault within
// the block); the transfer is the bot's governed tool call, which policy
// decides (a per-transaction limit, a sanctions list). Two drain attempts
// are stopped inside their block. In the first a compromised bot sends
// funds to a sanctioned mixer: policy denies it and kills the bot
// (SIGPOLICY escalates to SIGKILL), so the 480,000 USDC it queued next in
// the same block is refused at the pipe. In the second a bot moves the vault out
// in slices, each under the limit: the sentinel sees the block's outflow
// cross its share of the vault and the host sends SIGKILL before the slice
// executes, and the slices after it never run. The vault.transfer tool
// records what it executed: neither drain is in it. The flight recorder's
// refusals and signals are printed and its chain verified. Everything runs
// in-process and deterministically, on an injected clock.
//
// Run it with:
//
//	go run ./examples/defi
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/examples/defi/chain"
	"github.com/agent-os/agentos/ipc"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

//go:embed policy.yaml
var policyYAML []byte

// Tx and Block are the chain's; named here for brevity.
type (
	Tx    = chain.Tx
	Block = chain.Block
)

// Addresses, shortened for the output by short.
const (
	pool     = "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640" // a DEX liquidity pool
	lending  = "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2" // a lending market
	router   = "0x1111111254eeb25477b68fb85ed929f73a960582" // an aggregator router
	attacker = "0x5f1dc0ffee5f1dc0ffee5f1dc0ffee5f1dc0ffee" // fresh, funded an hour ago
	tornado  = "0x8589427373d6d84e98730d7795d8f6f8731fda16" // on the sanctions list
	bridgeA  = "0xa11ce00000000000000000000000000000000a11"
	bridgeB  = "0xb0b0000000000000000000000000000000000b0b"
)

// blocks is the stream the example replays.
func blocks() []Block {
	return []Block{
		{Number: 19_000_001, Txs: []Tx{
			tx("1-1", "mm-bot", pool, 40_000, "rebalance the ETH/USDC pool"),
			tx("1-2", "yield-bot", lending, 25_000, "deposit idle USDC"),
			tx("1-3", "yield-bot", tornado, 90_000, "migrate to the v3 vault"), // the drain begins
			tx("1-4", "yield-bot", attacker, 480_000, "migrate the remainder"), // queued behind it
			tx("1-5", "arb-bot", router, 30_000, "arbitrage leg"),
		}},
		{Number: 19_000_002, Txs: []Tx{
			tx("2-1", "arb-bot", router, 60_000, "arbitrage leg"),
			tx("2-2", "arb-bot", bridgeA, 95_000, "bridge to L2"), // the slices of a drain
			tx("2-3", "arb-bot", bridgeB, 95_000, "bridge to L2"),
			tx("2-4", "mm-bot", pool, 20_000, "rebalance the ETH/USDC pool"),
		}},
	}
}

// tx makes a transaction.
func tx(id string, from agentos.AgentID, to string, amount int64, memo string) Tx {
	return Tx{ID: id, From: from, To: to, Amount: amount, Memo: memo}
}

// blockShare is the part of the vault, as it stood at the start of a
// block, that one bot may move out within that block.
const blockShare = 0.15

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "defi:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	rep, err := replay(ctx, w, blocks())
	if err != nil {
		return err
	}
	for _, id := range []string{"1-3", "2-2"} {
		if rep.ran(id) {
			return fmt.Errorf("the drain %s executed", id)
		}
	}
	return nil
}

// vault holds the funds and executes transfers: it is the vault.transfer
// tool, which records every transfer it executed. Safe for concurrent use.
type vault struct {
	mu       sync.Mutex
	balance  int64
	executed []string // transaction ids, in order
}

func (v *vault) Balance() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.balance
}

// transfer is the vault.transfer tool.
func (v *vault) transfer(_ context.Context, args map[string]any) (any, error) {
	id, _ := args["tx"].(string)
	amount, ok := args["amount"].(int64)
	if !ok || amount <= 0 || id == "" {
		return nil, fmt.Errorf("vault.transfer: %w: want a tx id and a positive amount", agentos.ErrInvalid)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if amount > v.balance {
		return nil, fmt.Errorf("vault.transfer: %s: insufficient funds", id)
	}
	v.balance -= amount
	v.executed = append(v.executed, id)
	return v.balance, nil
}

// sentinel screens the stream of one block at a time: a bot whose outflow
// within the block would pass blockShare of the vault is draining it. It
// is called by the pipe's goroutine only.
type sentinel struct {
	limit   int64
	outflow map[agentos.AgentID]int64
}

func (s *sentinel) begin(balance int64) {
	s.limit = int64(float64(balance) * blockShare)
	s.outflow = map[agentos.AgentID]int64{}
}

// screen admits tx or says why not.
func (s *sentinel) screen(tx Tx) (string, bool) {
	total := s.outflow[tx.From] + tx.Amount
	if total > s.limit {
		return fmt.Sprintf("%s would move %s USDC out in this block, above %s (%.0f%% of the vault)",
			tx.From, usdc(total), usdc(s.limit), blockShare*100), false
	}
	s.outflow[tx.From] = total
	return "", true
}

// errFlagged is the error of a transaction the sentinel stopped.
var errFlagged = errors.New("flagged by the sentinel")

// report is what the replay did, for the test.
type report struct {
	outcomes map[string]string // by tx id: executed, denied, flagged, refused
	rules    map[string]string // by tx id: the rule that denied it
	errs     map[string]error  // by tx id
	executed []string          // what vault.transfer executed
	states   map[agentos.AgentID]signals.State
	balance  int64
	trail    []recorder.Entry
	verified uint64
}

func (r *report) ran(id string) bool {
	for _, x := range r.executed {
		if x == id {
			return true
		}
	}
	return false
}

func replay(ctx context.Context, w io.Writer, bs []Block) (*report, error) {
	// A clock that ticks one second per reading keeps the output stable.
	var tick atomic.Int64
	start := time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)
	clock := func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Second) }

	rec, err := recorder.Open("", &recorder.Options{Durability: recorder.WriteAhead, Clock: clock})
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	v := &vault{balance: 1_000_000}
	k, err := kernel.New(
		kernel.WithPolicySource("policy.yaml", policyYAML),
		kernel.WithRecorder(rec),
		kernel.WithClock(clock),
		kernel.WithTool("vault.transfer", v.transfer),
	)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	if _, err := k.Spawn(ctx, "sentinel", kernel.WithRole("sentinel")); err != nil {
		return nil, err
	}
	bots := map[agentos.AgentID]*kernel.Agent{}
	for _, id := range []agentos.AgentID{"mm-bot", "yield-bot", "arb-bot"} {
		if bots[id], err = k.Spawn(ctx, id, kernel.WithRole("bot")); err != nil {
			return nil, err
		}
	}

	// The pipe. Each stage runs for one transaction at a time, in block
	// order: a block's transactions execute one after another.
	sen := &sentinel{}
	pipe := ipc.Pipe3(
		// The bot hands the transaction to the sentinel: its governed send.
		ipc.PolicyCheck[Tx](ipc.GateFunc(func(ctx context.Context, c ipc.Crossing) error {
			tx, _ := c.Value.(Tx)
			bot, ok := bots[tx.From]
			if !ok {
				return fmt.Errorf("%w: no bot %q", agentos.ErrNotFound, tx.From)
			}
			return bot.Gate("sentinel").Admit(ctx, c)
		})),
		// The sentinel screens it; the host acts on its verdict.
		ipc.Func[Tx, Tx](func(ctx context.Context, tx Tx) (Tx, error) {
			why, ok := sen.screen(tx)
			if ok {
				return tx, nil
			}
			if err := k.Signal(ctx, tx.From, signals.SIGKILL, "sentinel: "+why); err != nil {
				return tx, err
			}
			return tx, fmt.Errorf("%w: %s", errFlagged, why)
		}),
		// The bot executes the transfer: its governed tool call.
		ipc.Func[Tx, int64](func(ctx context.Context, tx Tx) (int64, error) {
			out, err := bots[tx.From].Exec(ctx, "vault.transfer", map[string]any{"tx": tx.ID, "to": tx.To, "amount": tx.Amount})
			if err != nil {
				return 0, err
			}
			left, _ := out.(int64)
			return left, nil
		}),
	)

	rep := &report{outcomes: map[string]string{}, rules: map[string]string{}, errs: map[string]error{}}
	for _, b := range bs {
		sen.begin(v.Balance())
		fmt.Fprintf(w, "\n== block %d: vault %s USDC; the sentinel allows each bot %s USDC out\n",
			b.Number, usdc(v.Balance()), usdc(sen.limit))
		for _, tx := range b.Txs {
			left, err := pipe.Execute(ctx, tx)
			rep.errs[tx.ID] = err
			line := fmt.Sprintf("  %s %-9s → %s %9s USDC  %-28s", tx.ID, tx.From, short(tx.To), usdc(tx.Amount), tx.Memo)
			var pv *agentos.PolicyViolation
			switch {
			case err == nil:
				rep.outcomes[tx.ID] = "executed"
				fmt.Fprintf(w, "%s executed, vault %s\n", line, usdc(left))
			case errors.As(err, &pv):
				rep.outcomes[tx.ID], rep.rules[tx.ID] = "denied", pv.Decision.Rule
				fmt.Fprintf(w, "%s DENIED by %s: %s; %s is %s\n", line, pv.Decision.Rule, pv.Decision.Message, tx.From, bots[tx.From].State())
			case errors.Is(err, errFlagged):
				rep.outcomes[tx.ID] = "flagged"
				fmt.Fprintf(w, "%s FLAGGED by the sentinel; SIGKILL sent, %s is %s\n", line, tx.From, bots[tx.From].State())
			case errors.Is(err, agentos.ErrKilled):
				rep.outcomes[tx.ID] = "refused"
				fmt.Fprintf(w, "%s refused at the pipe: %s was killed\n", line, tx.From)
			default:
				return nil, fmt.Errorf("tx %s: %w", tx.ID, err)
			}
		}
	}

	fmt.Fprintln(w, "\n== what the vault executed")
	v.mu.Lock()
	rep.executed = append([]string(nil), v.executed...)
	v.mu.Unlock()
	rep.balance = v.Balance()
	fmt.Fprintf(w, "  transfers %s; vault %s USDC\n", strings.Join(rep.executed, " "), usdc(rep.balance))
	rep.states = map[agentos.AgentID]signals.State{}
	for id, b := range bots {
		rep.states[id] = b.State()
	}
	fmt.Fprintf(w, "  mm-bot %s, yield-bot %s, arb-bot %s\n", rep.states["mm-bot"], rep.states["yield-bot"], rep.states["arb-bot"])

	fmt.Fprintln(w, "\n== the flight recorder's refusals and signals")
	if err := rec.Flush(ctx); err != nil {
		return nil, err
	}
	for e, err := range rec.Query(ctx, recorder.Filter{}) {
		if err != nil {
			return nil, err
		}
		rep.trail = append(rep.trail, e)
		if (e.Kind == recorder.KindDecision && e.Effect != agentos.Allow) || e.Kind == recorder.KindSignal {
			fmt.Fprintln(w, "  "+describe(e))
		}
	}
	vr, err := rec.Verify(ctx)
	if err != nil {
		return nil, err
	}
	if !vr.OK {
		return nil, fmt.Errorf("recorder chain broken: %w", vr.Err())
	}
	rep.verified = vr.Entries
	fmt.Fprintf(w, "  chain verified: %d entries\n", vr.Entries)
	return rep, nil
}

// describe renders one recorder entry on a line.
func describe(e recorder.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-3d %-9s %-9s", e.Seq, e.Kind, e.Agent)
	switch e.Kind {
	case recorder.KindDecision:
		fmt.Fprintf(&b, " %s %s %s → %s (%s)", e.Op, e.Tool, e.Args, e.Effect, e.Rule)
	default:
		fmt.Fprintf(&b, " %s", e.Detail)
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
	}
	return b.String()
}

// short shortens an address to its first and last four hex digits.
func short(addr string) string {
	if len(addr) < 12 {
		return addr
	}
	return addr[:6] + "…" + addr[len(addr)-4:]
}

// usdc renders n with thousands separators.
func usdc(n int64) string {
	if n < 0 {
		return "-" + usdc(-n)
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
