// Command quickstart runs the agentos quickstart end to end: a kernel with
// a policy and a flight recorder, an agent that writes and reads its working
// memory, an allowed tool call, a destructive one that is denied (and kills
// the agent), SIGSTOP/SIGCONT around a blocked syscall, and the recorder's
// trail, printed and verified.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

//go:embed policy.yaml
var policyYAML []byte

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	// A fixed clock that ticks one second per reading keeps the output
	// identical from run to run.
	var tick atomic.Int64
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Second) }

	// The flight recorder: in memory here; give Open a file path to keep it.
	rec, err := recorder.Open("", &recorder.Options{Durability: recorder.WriteAhead, Clock: clock})
	if err != nil {
		return err
	}
	defer rec.Close() // the recorder is ours: the kernel leaves it open

	k, err := kernel.New(
		kernel.WithPolicySource("policy.yaml", policyYAML),
		kernel.WithRecorder(rec),
		kernel.WithClock(clock),
		kernel.WithTool("sql.query", fakeSQL),
	)
	if err != nil {
		return err
	}
	defer k.Close()

	step("spawn agent-001")
	a, err := k.Spawn(ctx, "agent-001", kernel.WithRole("analyst"))
	if err != nil {
		return err
	}

	step("write and read working memory")
	if err := a.Write(ctx, "/mem/working/task.txt", []byte("Analyze data")); err != nil {
		return err
	}
	data, err := a.Read(ctx, "/mem/working/task.txt")
	if err != nil {
		return err
	}
	fmt.Printf("  read /mem/working/task.txt: %q\n", data)

	step("an allowed tool call")
	out, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT count(*) FROM orders"})
	if err != nil {
		return err
	}
	fmt.Printf("  sql.query SELECT → %v\n", out)

	step("the host's SIGSTOP holds a syscall at the gate, its SIGCONT releases it")
	sigs, err := k.SignalDispatcher("agent-001")
	if err != nil {
		return err
	}
	if err := k.Signal(ctx, "agent-001", signals.SIGSTOP, "operator pause"); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- a.Append(ctx, "/mem/episodic/log", []byte("counted orders\n")) }()
	for sigs.Waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("  state %s, %d syscall waiting at the gate\n", a.State(), sigs.Waiting())
	if err := k.Signal(ctx, "agent-001", signals.SIGCONT, "operator resume"); err != nil {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	fmt.Printf("  state %s, the append completed\n", a.State())

	step("a destructive tool call is denied and the agent killed")
	_, err = a.Exec(ctx, "sql.query", map[string]any{"query": "DROP TABLE orders"})
	var v *agentos.PolicyViolation
	if !errors.As(err, &v) {
		return fmt.Errorf("DROP TABLE was not denied: %v", err)
	}
	fmt.Printf("  denied by rule %s (%s): %s\n", v.Decision.Rule, v.Decision.Severity, v.Decision.Message)
	fmt.Printf("  state %s\n", a.State())
	_, err = a.Read(ctx, "/mem/working/task.txt")
	fmt.Printf("  a later read fails with ErrKilled: %v\n", errors.Is(err, agentos.ErrKilled))

	step("the flight recorder's trail")
	if err := rec.Flush(ctx); err != nil {
		return err
	}
	for e, err := range rec.Query(ctx, recorder.Filter{Agent: "agent-001"}) {
		if err != nil {
			return err
		}
		fmt.Println("  " + describe(e))
	}
	rep, err := rec.Verify(ctx)
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("recorder chain broken: %w", rep.Err())
	}
	fmt.Printf("  chain verified: %d entries, head #%d\n", rep.Entries, rep.Head.Seq)
	return nil
}

func step(s string) { fmt.Println("\n== " + s) }

// fakeSQL stands in for a database.
func fakeSQL(ctx context.Context, args map[string]any) (any, error) {
	q, _ := args["query"].(string)
	if strings.HasPrefix(strings.ToUpper(q), "SELECT") {
		return "42 rows", nil
	}
	return "ok", nil
}

// describe renders one recorder entry on a line.
func describe(e recorder.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-2d %-9s", e.Seq, e.Kind)
	switch e.Kind {
	case recorder.KindDecision:
		fmt.Fprintf(&b, " %-6s %-24s %-7s rule=%s", e.Op, target(e), e.Effect, e.Rule)
	case recorder.KindOutcome:
		fmt.Fprintf(&b, " %-6s %-24s %s", e.Op, target(e), e.Status)
		if e.ResultDigest != "" {
			fmt.Fprintf(&b, " %s…", e.ResultDigest[:19])
		}
	case recorder.KindSignal:
		fmt.Fprintf(&b, " %s (%s)", e.Detail, e.Message)
	default:
		fmt.Fprintf(&b, " %s", e.Message)
	}
	return b.String()
}

func target(e recorder.Entry) string {
	if e.Tool != "" {
		return e.Tool
	}
	return e.Path
}
