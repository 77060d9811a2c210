// Command grid is the grid balancer case study: a balancer agent and three
// producers negotiate load over a message bus, and trust decides who takes
// part. Every agent has an Ed25519 identity and a signed capability
// manifest in an iatp registry; every message it publishes is signed by the
// kernel, and every delivery is decided by policy with the verified signer
// as the peer. The balancer calls for bids on grid.need.<producer>, the producers bid
// on grid.bids, and the balancer awards the cheapest bids until the deficit
// is covered. After the first round the grid operator meters what each
// producer delivered: one fell far short of its award, and the violation
// it reports to the kernel lowers that producer's trust from 9 to 5. In the
// second round its signed bid is refused by policy (peer.trust below 0.7)
// before the balancer's handler sees it, and the balancer covers what it
// can without it and sheds the rest of the deficit. The producer is
// refused, not killed: the kernel's own threshold (SIGTRUST) is 3. The
// flight recorder's refusals and reputation events are printed and its
// chain verified. Everything runs in-process on the memory bus, on an
// injected clock.
//
// Run it with:
//
//	go run ./examples/grid
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha512"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/iatp"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

//go:embed policy.yaml
var policyYAML []byte

// Bid is a producer's offer, as it travels on grid.bids.
type Bid struct {
	Round int     `json:"round"`
	MW    float64 `json:"mw"`
	Price float64 `json:"price"` // €/MWh
}

// Need is the balancer's call for bids, as it travels on grid.need.
type Need struct {
	Round int     `json:"round"`
	MW    float64 `json:"mw"`
}

// signed is a bid as the balancer received it, with its verified signer.
type signed struct {
	by  string
	bid Bid
}

// producer is one bidder: what it offers, and the share of an award it
// actually delivers.
type producer struct {
	name      agentos.AgentID
	rev       iatp.ReversibilityLevel
	offer     Bid
	delivered float64
}

var producers = []producer{
	{"battery-north", iatp.ReversibleFull, Bid{MW: 25, Price: 92}, 1},
	{"solar-east", iatp.ReversiblePartial, Bid{MW: 20, Price: 40}, 1},
	{"plant-west", iatp.ReversiblePartial, Bid{MW: 40, Price: 75}, 15.0 / 40}, // over-promises
}

// deficits are the rounds' shortfalls the balancer must cover, in MW.
var deficits = []float64{60, 60}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "grid:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	rep, err := balance(ctx, w)
	if err != nil {
		return err
	}
	if last := rep.rounds[len(rep.rounds)-1]; !slices.Equal(last.refused, []string{"plant-west"}) {
		return fmt.Errorf("the last round refused %v, want plant-west", last.refused)
	}
	return nil
}

// round is what one negotiation round did, for the test.
type round struct {
	bids    map[string]Bid     // the bids the balancer's handler received, by verified signer
	refused []string           // the bidders whose bid was refused, sorted
	rules   map[string]string  // the rule that refused each
	awards  map[string]float64 // MW awarded, by producer
	shed    float64            // MW of the deficit left uncovered
}

type report struct {
	rounds  []round
	scores  map[string]float64 // trust totals after the metering
	states  map[agentos.AgentID]signals.State
	trail   []recorder.Entry
	checked uint64
}

func balance(ctx context.Context, w io.Writer) (*report, error) {
	var tick atomic.Int64
	start := time.Date(2026, 1, 20, 18, 0, 0, 0, time.UTC)
	clock := func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Millisecond) }

	// Identities and manifests: the host registers what it has vetted.
	reg := iatp.NewRegistry(iatp.WithClock(clock))
	ids := map[agentos.AgentID]*iatp.Identity{}
	register := func(name agentos.AgentID, rev iatp.ReversibilityLevel, ret iatp.Retention) error {
		// Keys derived from the name keep the output the same from run
		// to run; a real deployment passes nil, for crypto/rand.
		seed := sha512.Sum512([]byte("grid example " + name))
		id, err := iatp.NewIdentity(bytes.NewReader(seed[:]))
		if err != nil {
			return err
		}
		sm, err := iatp.SignManifest(id, iatp.Manifest{
			Name: string(name), TrustLevel: iatp.Trusted, Capabilities: []string{"grid:bid"},
			Reversibility: iatp.Reversibility{Level: rev, UndoWindow: 15 * time.Minute},
			Privacy:       iatp.Privacy{Retention: ret},
			IssuedAt:      start.Add(-time.Hour), Expires: start.Add(24 * time.Hour),
		})
		if err != nil {
			return err
		}
		ids[name] = id
		return reg.Register(sm)
	}
	if err := register("balancer", iatp.ReversibleFull, iatp.RetentionEphemeral); err != nil {
		return nil, err
	}
	for _, p := range producers {
		if err := register(p.name, p.rev, iatp.RetentionSession); err != nil {
			return nil, err
		}
	}

	rec, err := recorder.Open("", &recorder.Options{Durability: recorder.WriteAhead, Clock: clock})
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	bus := amb.NewMemory(&amb.MemoryOptions{Options: amb.Options{Retry: amb.Retry{MaxAttempts: 1}}})
	defer bus.Close()
	// The observer tells the host of each delivery decided at an agent's
	// gate — a call for bids at a producer's, a bid at the balancer's —
	// permitted or refused, once its handler (if any) has returned and its
	// outcome is recorded: the host waits on it instead of sleeping.
	decided := make(chan kernel.Syscall, 64)
	k, err := kernel.New(
		kernel.WithPolicySource("policy.yaml", policyYAML),
		kernel.WithRecorder(rec),
		kernel.WithClock(clock),
		kernel.WithBus(bus),
		kernel.WithIATP(kernel.Trust{Registry: reg, RequireSigned: true, Threshold: iatp.WarnAt}),
		kernel.WithObserver(func(_ context.Context, s kernel.Syscall) {
			if s.Action.Meta[kernel.MetaDirection] == kernel.DirectionReceive {
				decided <- s
			}
		}),
	)
	if err != nil {
		return nil, err
	}
	defer k.Close()

	balancer, err := k.Spawn(ctx, "balancer", kernel.WithRole("balancer"), kernel.WithIdentity(ids["balancer"]))
	if err != nil {
		return nil, err
	}
	bids := make(chan signed, 16)
	if _, err := balancer.Subscribe(ctx, "grid.bids", func(ctx context.Context, d amb.Delivery) error {
		var b Bid
		if err := json.Unmarshal(d.Payload, &b); err != nil {
			return err
		}
		p, _ := kernel.Signer(ctx) // the verified signer, not what the payload says
		bids <- signed{p.Name, b}
		return nil
	}); err != nil {
		return nil, err
	}
	agents := map[agentos.AgentID]*kernel.Agent{"balancer": balancer}
	for _, p := range producers {
		a, err := k.Spawn(ctx, p.name, kernel.WithRole("producer"), kernel.WithIdentity(ids[p.name]))
		if err != nil {
			return nil, err
		}
		agents[p.name] = a
		offer := p.offer
		if _, err := a.Subscribe(ctx, "grid.need."+string(p.name), func(ctx context.Context, d amb.Delivery) error {
			var n Need
			if err := json.Unmarshal(d.Payload, &n); err != nil {
				return err
			}
			b := offer
			b.Round = n.Round
			payload, err := json.Marshal(b)
			if err != nil {
				return err
			}
			return a.Publish(ctx, "grid.bids", amb.Message{Payload: payload, ContentType: "application/json"})
		}); err != nil {
			return nil, err
		}
	}

	rep := &report{scores: map[string]float64{}}
	for i, deficit := range deficits {
		fmt.Fprintf(w, "\n== round %d: the balancer calls for %.0f MW\n", i+1, deficit)
		r, err := negotiate(ctx, w, balancer, Need{Round: i + 1, MW: deficit}, decided, bids)
		if err != nil {
			return nil, err
		}
		rep.rounds = append(rep.rounds, r)
		if i > 0 {
			continue
		}
		fmt.Fprintln(w, "\n== the operator meters round 1 and reports to the kernel")
		for _, p := range producers {
			award := r.awards[string(p.name)]
			if award == 0 {
				continue
			}
			got := award * p.delivered
			ev := iatp.Event{Kind: iatp.Success}
			if got < 0.9*award {
				ev = iatp.Event{Kind: iatp.Violation, Weight: 2} // a broken commitment on the grid
			}
			sc, err := k.Report(ctx, p.name, ev)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(w, "  %-13s delivered %2.0f of %2.0f MW: %s, trust now %.1f (%s)\n", p.name, got, award, ev.Kind, sc.Total, sc.Verdict)
		}
	}

	fmt.Fprintln(w, "\n== after the rounds")
	rep.states = map[agentos.AgentID]signals.State{}
	for _, p := range producers {
		sc, err := reg.Score(ids[p.name].ID())
		if err != nil {
			return nil, err
		}
		rep.scores[string(p.name)] = sc.Total
		rep.states[p.name] = agents[p.name].State()
		fmt.Fprintf(w, "  %-13s trust %.1f, %s\n", p.name, sc.Total, rep.states[p.name])
	}

	fmt.Fprintln(w, "\n== the flight recorder's refusals and reputation events")
	if err := rec.Flush(ctx); err != nil {
		return nil, err
	}
	for e, err := range rec.Query(ctx, recorder.Filter{}) {
		if err != nil {
			return nil, err
		}
		rep.trail = append(rep.trail, e)
		if (e.Kind == recorder.KindDecision && e.Effect != agentos.Allow) || strings.HasPrefix(e.Message, "reputation") {
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
	rep.checked = vr.Entries
	fmt.Fprintf(w, "  chain verified: %d entries\n", vr.Entries)
	return rep, nil
}

// negotiate runs one round: the call for bids, the bids decided at the
// balancer's gate, and the awards, cheapest first.
func negotiate(ctx context.Context, w io.Writer, balancer *kernel.Agent, need Need,
	decided <-chan kernel.Syscall, bids <-chan signed) (round, error) {
	r := round{bids: map[string]Bid{}, rules: map[string]string{}, awards: map[string]float64{}}
	payload, err := json.Marshal(need)
	if err != nil {
		return r, err
	}
	// One call per producer: a signed message is opened once per kernel
	// (a second delivery of the same envelope is a replay), so the
	// balancer addresses each producer on its own topic.
	for _, p := range producers {
		if err := balancer.Publish(ctx, "grid.need."+string(p.name), amb.Message{Payload: payload, ContentType: "application/json"}); err != nil {
			return r, err
		}
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Each producer hears the call and bids: two deliveries per producer,
	// one when the call itself is refused.
	for pending := 2 * len(producers); pending > 0; pending-- {
		select {
		case s := <-decided:
			switch {
			case s.Permitted:
			case s.Action.Target == "grid.bids":
				who := s.Action.Meta[kernel.MetaSender]
				r.refused = append(r.refused, who)
				r.rules[who] = s.Decision.Rule
			default: // a producer refused the call: it will not bid
				pending--
			}
		case <-wait.Done():
			return r, fmt.Errorf("round %d: waiting for bids: %w", need.Round, context.Cause(wait))
		}
	}
	// Every permitted bid's handler has returned: its bid is queued.
	for len(bids) > 0 {
		b := <-bids
		if b.bid.Round != need.Round {
			return r, fmt.Errorf("round %d: a bid for round %d", need.Round, b.bid.Round)
		}
		r.bids[b.by] = b.bid
	}
	slices.Sort(r.refused)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range r.bids {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		fmt.Fprintf(w, "  bid   %-13s %2.0f MW at %3.0f €/MWh\n", n, r.bids[n].MW, r.bids[n].Price)
	}
	for _, n := range r.refused {
		fmt.Fprintf(w, "  REFUSED %-11s its bid never reached the balancer (rule %s)\n", n, r.rules[n])
	}

	// Cheapest first until the deficit is covered.
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(r.bids[a].Price, r.bids[b].Price), strings.Compare(a, b))
	})
	left := need.MW
	for _, n := range names {
		mw := min(left, r.bids[n].MW)
		if mw <= 0 {
			break
		}
		left -= mw
		r.awards[n] = mw
		award, err := json.Marshal(Bid{Round: need.Round, MW: mw, Price: r.bids[n].Price})
		if err != nil {
			return r, err
		}
		if err := balancer.Publish(ctx, "grid.award."+n, amb.Message{Payload: award, ContentType: "application/json"}); err != nil {
			return r, err
		}
		fmt.Fprintf(w, "  award %-13s %2.0f MW\n", n, mw)
	}
	r.shed = left
	if left > 0 {
		fmt.Fprintf(w, "  %.0f MW uncovered: the balancer sheds interruptible load\n", left)
	}
	return r, nil
}

// describe renders one recorder entry on a line.
func describe(e recorder.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-3d %-9s %-13s", e.Seq, e.Kind, e.Agent)
	switch e.Kind {
	case recorder.KindDecision:
		fmt.Fprintf(&b, " %s %s %s from %s → %s (%s): %s", e.Op, e.Meta[kernel.MetaDirection], e.Target,
			e.Meta[kernel.MetaSender], e.Effect, e.Rule, e.Message)
	default:
		fmt.Fprintf(&b, " %s %s", e.Message, e.Detail)
	}
	return b.String()
}
