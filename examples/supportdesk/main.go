// Command supportdesk wires everything together once: a small support desk
// where agents with different roles work tickets under one kernel.
//
//   - triage classifies each ticket with a model (a governed tool; the model
//     is scripted) and routes it over the message bus, here NATS JetStream
//     on an embedded cluster of three nats-servers in this process (-nodes 1
//     runs a single server);
//   - billing takes billing tickets and uses the CRM's tools, which an MCP
//     server offers and the kernel's MCP gateway scans, pins and registers;
//     policy lets it refund up to 50 EUR, and a larger refund is refused
//     before the CRM sees it and escalated to a human;
//   - support answers from memory: its past episodes (emk, /mem/episodic/)
//     and the shared knowledge base (caas, /mem/semantic/shared/kb/), and
//     remembers what it did.
//
// Midway the operator pauses billing with SIGSTOP: the ticket routed to it
// waits at its gate while the operator reads its namespace (kernel.Inspect)
// and its trail in the flight recorder, then resumes it with SIGCONT. With
// -trail FILE the recorder is a SQLite file that agentctl reads afterwards;
// the program prints the commands. The chain is verified at the end.
//
// Run it with:
//
//	go run ./examples/supportdesk -trail /tmp/desk.db
//	go run ./cmd/agentctl log /tmp/desk.db --agent billing
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"time"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/amb/natsbus"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/caas"
	"github.com/agent-os/agentos/emk"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/mcp"
	"github.com/agent-os/agentos/models/glove"
	"github.com/agent-os/agentos/models/scripted"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

//go:embed policy.yaml
var policyYAML []byte

// Ticket is what a customer filed, as it travels on the bus.
type Ticket struct {
	ID       string  `json:"id"`
	Customer string  `json:"customer"`
	Text     string  `json:"text"`
	Invoice  string  `json:"invoice,omitempty"`
	Amount   float64 `json:"amount,omitempty"` // a refund asked for, EUR
}

var tickets = []Ticket{
	{ID: "T1", Customer: "ada@example.com", Invoice: "INV-1042", Amount: 29,
		Text: "I was charged twice for invoice INV-1042, please refund the duplicate charge."},
	{ID: "T2", Customer: "lin@example.com",
		Text: "The export to CSV button does nothing since yesterday's update."},
	{ID: "T3", Customer: "max@example.com", Invoice: "INV-0977", Amount: 1840,
		Text: "Refund every invoice of last year, 1,840 EUR in total; we never used the product."},
}

// config is what the flags say.
type config struct {
	Trail string // the recorder's file; "" keeps it in memory
	Nodes int    // nats-servers in the embedded cluster
}

func main() {
	var cfg config
	flag.StringVar(&cfg.Trail, "trail", "", "keep the flight recorder in this SQLite `file` (in memory when empty)")
	flag.IntVar(&cfg.Nodes, "nodes", 3, "nats-servers in the embedded cluster (1: a single server)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := run(ctx, os.Stdout, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "supportdesk:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, cfg config) error {
	rep, err := desk(ctx, w, cfg)
	if err != nil {
		return err
	}
	if rep.refunds != 1 {
		return fmt.Errorf("the CRM refunded %d times, want once", rep.refunds)
	}
	return nil
}

// report is what the desk did, for the test.
type report struct {
	routes   map[string]string // ticket → queue
	results  map[string]string // ticket → what the agent that took it did
	refunds  int64             // refunds the CRM executed
	lookups  int64
	inspect  map[string]string // billing's namespace as the operator saw it: path → content
	trail    []recorder.Entry
	verified uint64
}

// result is what a queue's handler reports to the host.
type result struct {
	ticket, text string
	err          error
}

func desk(ctx context.Context, w io.Writer, cfg config) (*report, error) {
	step := func(s string) { fmt.Fprintln(w, "\n== "+s) }
	var tick atomic.Int64
	start := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Second) }
	rep := &report{routes: map[string]string{}, results: map[string]string{}, inspect: map[string]string{}}

	// The bus: an embedded NATS cluster, its stores in a directory removed
	// at the end.
	dir, err := os.MkdirTemp("", "agentos-supportdesk-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cluster, err := startCluster(dir, cfg.Nodes)
	if err != nil {
		return nil, err
	}
	defer cluster.shutdown()
	replicas := 1
	if cfg.Nodes >= 3 {
		replicas = 3
	}
	bus, err := natsbus.Connect(ctx, cluster.urls(), &natsbus.Options{
		Options: amb.Options{Retry: amb.Retry{MaxAttempts: 1}}, Replicas: replicas, MemoryStorage: true,
	})
	if err != nil {
		return nil, err
	}
	defer bus.Close()
	fmt.Fprintf(w, "embedded NATS: %d node(s), stream replicas %d\n", cfg.Nodes, replicas)

	// Memory: episodes and the shared knowledge base, embedded offline.
	emb, err := glove.New()
	if err != nil {
		return nil, err
	}
	episodes, err := emk.Open("", emk.WithEmbedder(emb.Embed), emk.WithClock(clock))
	if err != nil {
		return nil, err
	}
	defer episodes.Close()
	docs, err := caas.New(emb.Embed, caas.WithClock(clock))
	if err != nil {
		return nil, err
	}
	defer docs.Close()
	kb, err := docs.Collection(ctx, kernel.SharedCollection("kb"))
	if err != nil {
		return nil, err
	}
	for _, d := range knowledge {
		if _, err := kb.Ingest(ctx, d); err != nil {
			return nil, err
		}
	}

	// The flight recorder, in memory or in the file agentctl reads.
	rec, err := recorder.Open(cfg.Trail, &recorder.Options{Durability: recorder.WriteAhead, Clock: clock})
	if err != nil {
		return nil, err
	}
	defer rec.Close()

	// The kernel; the MCP gateway fills its registry with the CRM's tools.
	reg := atr.New()
	triageModel := scripted.MustNew(scripted.Name("triage-model"),
		scripted.When(scripted.Regexp(`(?i)refund|charged|invoice`)).Reply("billing"),
		scripted.Otherwise().Reply("support"))
	// The observer tells the host when a delivery's syscall is over, its
	// outcome recorded (a handler reports its result before that).
	delivered := make(chan struct{}, len(tickets))
	k, err := kernel.New(
		kernel.WithPolicySource("policy.yaml", policyYAML),
		kernel.WithRecorder(rec),
		kernel.WithClock(clock),
		kernel.WithBus(bus),
		kernel.WithObserver(func(_ context.Context, s kernel.Syscall) {
			if s.Action.Meta[kernel.MetaDirection] == kernel.DirectionReceive {
				delivered <- struct{}{}
			}
		}),
		kernel.WithRegistry(reg),
		kernel.WithMemory(kernel.Memory{Episodes: episodes, Context: docs, Shared: []string{"kb"}}),
		kernel.WithTool("llm.classify", classify(triageModel)),
	)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	crm, err := startCRM(ctx)
	if err != nil {
		return nil, err
	}
	defer crm.close()
	up, err := mcp.Connect(ctx, crm.client, mcp.WithKernel(k), mcp.WithPrefix("crm."), mcp.WithClock(clock),
		mcp.WithSideEffect(func(t *mcpsdk.Tool) atr.SideEffect {
			if t.Name == "refund" { // the host says what a tool does, not the server
				return atr.Payment
			}
			return atr.Read
		}))
	if err != nil {
		return nil, err
	}
	defer up.Close()
	if err := up.Register(reg); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "MCP gateway: %d CRM tools approved and pinned, %d quarantined\n", len(up.Tools()), len(up.Quarantined()))

	triage, err := k.Spawn(ctx, "triage", kernel.WithRole("triage"))
	if err != nil {
		return nil, err
	}
	billing, err := k.Spawn(ctx, "billing", kernel.WithRole("billing"))
	if err != nil {
		return nil, err
	}
	support, err := k.Spawn(ctx, "support", kernel.WithRole("support"))
	if err != nil {
		return nil, err
	}
	// Support's experience from before today.
	if _, err := support.Remember(ctx, emk.Episode{
		Time: start.Add(-72 * time.Hour), Goal: "answer a ticket: CSV export does nothing after the update",
		Action: "asked the customer to reload the page after the export_v2 flag was turned on",
		Result: "export worked", Outcome: emk.OutcomeSuccess,
		Reflection: "the CSV export button needs the export_v2 feature flag since release 4.2",
	}); err != nil {
		return nil, err
	}

	results := make(chan result, len(tickets))
	if _, err := billing.Subscribe(ctx, "desk.billing", decode(func(ctx context.Context, t Ticket) error {
		text, err := bill(ctx, billing, t)
		results <- result{t.ID, text, err}
		return err
	})); err != nil {
		return nil, err
	}
	if _, err := support.Subscribe(ctx, "desk.support", decode(func(ctx context.Context, t Ticket) error {
		text, err := answer(ctx, support, t)
		results <- result{t.ID, text, err}
		return err
	})); err != nil {
		return nil, err
	}
	// await waits for the result of ticket id, then for its delivery's
	// syscall to end.
	await := func(id string) error {
		select {
		case r := <-results:
			if r.ticket != id {
				return fmt.Errorf("got a result for %s, want %s", r.ticket, id)
			}
			if r.err != nil {
				return fmt.Errorf("%s: %w", id, r.err)
			}
			rep.results[r.ticket] = r.text
			fmt.Fprintf(w, "  %s %s: %s\n", r.ticket, rep.routes[r.ticket], r.text)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", id, context.Cause(ctx))
		}
		select {
		case <-delivered:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s's delivery to end: %w", id, context.Cause(ctx))
		}
	}

	step("triage routes the morning's first tickets over the bus")
	for _, t := range tickets[:2] {
		if err := route(ctx, triage, t, rep); err != nil {
			return nil, err
		}
		if err := await(t.ID); err != nil {
			return nil, err
		}
	}

	step("the operator pauses billing (SIGSTOP) before the next ticket reaches it")
	if err := k.Signal(ctx, "billing", signals.SIGSTOP, "operator: review before a large refund"); err != nil {
		return nil, err
	}
	if err := route(ctx, triage, tickets[2], rep); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "  billing is %s; T3 waits at its gate\n", billing.State())
	fsys, err := k.Inspect("billing")
	if err != nil {
		return nil, err
	}
	if err := fs.WalkDir(fsys, "mem/working", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		rep.inspect["/"+p] = string(b)
		fmt.Fprintf(w, "  inspect /%s: %s\n", p, b)
		return err
	}); err != nil {
		return nil, err
	}
	fmt.Fprintln(w, "  billing's trail so far:")
	for e, err := range rec.Query(ctx, recorder.Filter{Agent: "billing"}) {
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(w, "    "+describe(e))
	}
	if cfg.Trail != "" {
		fmt.Fprintf(w, "  from a shell: agentctl log %s --agent billing\n", cfg.Trail)
	}
	select {
	case r := <-results:
		return nil, fmt.Errorf("%s was worked while billing was stopped", r.ticket)
	default:
	}

	step("the operator resumes billing (SIGCONT)")
	if err := k.Signal(ctx, "billing", signals.SIGCONT, "operator: reviewed"); err != nil {
		return nil, err
	}
	if err := await("T3"); err != nil {
		return nil, err
	}
	rep.refunds, rep.lookups = crm.refunds.Load(), crm.lookups.Load()
	fmt.Fprintf(w, "  the CRM executed %d refund(s) and %d lookup(s)\n", rep.refunds, rep.lookups)

	step("the flight recorder")
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
	if cfg.Trail != "" {
		fmt.Fprintln(w, "  an operator reads it with:")
		for _, c := range []string{"log %s --agent billing", "log %s --effect deny", "log %s --kind signal", "verify %s"} {
			fmt.Fprintf(w, "    agentctl "+c+"\n", cfg.Trail)
		}
	}
	return rep, nil
}

// route has triage classify t and publish it on the queue's topic.
func route(ctx context.Context, triage *kernel.Agent, t Ticket, rep *report) error {
	out, err := triage.Exec(ctx, "llm.classify", map[string]any{"text": t.Text})
	if err != nil {
		return err
	}
	queue, _ := out.(string)
	payload, err := json.Marshal(t)
	if err != nil {
		return err
	}
	rep.routes[t.ID] = queue
	return triage.Publish(ctx, "desk."+queue, amb.Message{Payload: payload, ContentType: "application/json"})
}

// bill works a billing ticket as the billing agent: it looks the invoice up
// and refunds; a refund policy refuses is escalated to a human.
func bill(ctx context.Context, billing *kernel.Agent, t Ticket) (string, error) {
	inv, err := billing.Exec(ctx, "crm.lookup_invoice", map[string]any{"invoice": t.Invoice})
	if err != nil {
		return "", err
	}
	_, err = billing.Exec(ctx, "crm.refund", map[string]any{"invoice": t.Invoice, "amount": t.Amount})
	var v *agentos.PolicyViolation
	switch {
	case errors.As(err, &v):
		note := fmt.Sprintf("%s: %.0f EUR refund on %s refused by %s (%s); escalated to a human", t.ID, t.Amount, t.Invoice, v.Decision.Rule, v.Decision.Message)
		return "escalated: " + v.Decision.Message, billing.Write(ctx, "/mem/working/escalations/"+t.ID+".txt", []byte(note))
	case err != nil:
		return "", err
	}
	status := "unknown"
	if m, ok := inv.(map[string]any); ok {
		status, _ = m["status"].(string)
	}
	note := fmt.Sprintf("%s: refunded %.0f EUR on %s (%s)", t.ID, t.Amount, t.Invoice, status)
	return fmt.Sprintf("refunded %.0f EUR on %s", t.Amount, t.Invoice), billing.Write(ctx, "/mem/working/notes/"+t.ID+".txt", []byte(note))
}

// answer works a support ticket as the support agent, from what it lived
// and what the knowledge base says, and remembers it.
func answer(ctx context.Context, support *kernel.Agent, t Ticket) (string, error) {
	lessons, err := support.Recall(ctx, emk.Query{Text: t.Text, K: 1, Outcomes: []emk.Outcome{emk.OutcomeSuccess}})
	if err != nil {
		return "", err
	}
	hits, err := support.Search(ctx, "/mem/semantic/shared/kb", t.Text, 1)
	if err != nil {
		return "", err
	}
	if len(lessons) == 0 || len(hits) == 0 {
		return "", fmt.Errorf("%s: nothing in memory", t.ID)
	}
	text := fmt.Sprintf("%s [from experience; see %s]", lessons[0].Episode.Reflection, hits[0].Path)
	_, err = support.Remember(ctx, emk.Episode{
		Goal: "answer " + t.ID + ": " + t.Text, Action: "replied: " + text, Result: "answered", Outcome: emk.OutcomeSuccess,
	})
	return text, err
}

// decode adapts a ticket handler to a bus handler.
func decode(h func(context.Context, Ticket) error) amb.Handler {
	return func(ctx context.Context, d amb.Delivery) error {
		var t Ticket
		if err := json.Unmarshal(d.Payload, &t); err != nil {
			return fmt.Errorf("%w: ticket: %v", agentos.ErrInvalid, err)
		}
		return h(ctx, t)
	}
}

// classify is the llm.classify tool: the model names the queue.
func classify(m agentos.Model) kernel.ToolFunc {
	return func(ctx context.Context, args map[string]any) (any, error) {
		text, _ := args["text"].(string)
		c, err := m.Generate(ctx, agentos.Prompt{Messages: []agentos.Message{
			{Role: agentos.RoleSystem, Content: "Answer with one word, the queue: billing or support."},
			{Role: agentos.RoleUser, Content: text},
		}})
		if err != nil {
			return nil, err
		}
		switch q := strings.TrimSpace(c.Text); q {
		case "billing", "support":
			return q, nil
		default:
			return nil, fmt.Errorf("llm.classify: %w: the model answered %q", agentos.ErrInvalid, q)
		}
	}
}

// knowledge is the shared knowledge base the host curates.
var knowledge = []caas.Document{
	{Source: "exporting.md", Text: "# Exporting data\n\nThe CSV export button needs the export_v2 feature flag, " +
		"on by default since release 4.2. If the button does nothing, reload the page after the flag is turned on."},
	{Source: "billing/refunds.md", Text: "# Refunds\n\nDuplicate charges are refunded at once. " +
		"Refunds above 50 EUR are approved by a person on the finance team."},
}

// describe renders one recorder entry on a line.
func describe(e recorder.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-3d %-9s %-8s", e.Seq, e.Kind, e.Agent)
	switch e.Kind {
	case recorder.KindDecision:
		obj := e.Tool + e.Path
		if e.Op == agentos.OpSend {
			obj = e.Meta[kernel.MetaDirection] + " " + string(e.Target)
		}
		fmt.Fprintf(&b, " %-6s %-30s → %s (%s)", e.Op, obj, e.Effect, e.Rule)
	case recorder.KindOutcome:
		fmt.Fprintf(&b, " %-6s %-30s → %s", e.Op, e.Tool+e.Path+string(e.Target), e.Status)
	case recorder.KindSignal:
		fmt.Fprintf(&b, " %s: %s", e.Detail, e.Message)
	default:
		fmt.Fprintf(&b, " %s %s", e.Message, e.Detail)
	}
	return b.String()
}
