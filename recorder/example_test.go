package recorder_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// A syscall leaves a decision entry before it runs and an outcome entry,
// with the same trace, when it completes.
func Example() {
	ctx := context.Background()
	rec, err := recorder.Open("", nil) // in memory; pass a file path to persist
	if err != nil {
		panic(err)
	}
	defer rec.Close()

	args, _ := recorder.Args(map[string]any{"query": "SELECT 1"})
	rec.Append(ctx, recorder.Entry{
		Kind: recorder.KindDecision, Trace: "call-1", Agent: "agent-001",
		Op: agentos.OpExec, Tool: "sql.query", Args: args,
		Effect: agentos.Allow, Rule: "allow-read-sql", PolicyVersion: "v7",
	})
	rec.Append(ctx, recorder.Entry{
		Kind: recorder.KindOutcome, Trace: "call-1", Agent: "agent-001",
		Op: agentos.OpExec, Tool: "sql.query", Status: recorder.StatusOK,
		Duration: 3 * time.Millisecond,
	})

	for e, err := range rec.Query(ctx, recorder.Filter{Trace: "call-1"}) {
		if err != nil {
			panic(err)
		}
		switch e.Kind {
		case recorder.KindDecision:
			fmt.Println(e.Seq, e.Kind, e.Tool, e.Effect, e.Rule, string(e.Args))
		case recorder.KindOutcome:
			fmt.Println(e.Seq, e.Kind, e.Tool, e.Status, e.Duration)
		}
	}
	rep, _ := rec.Verify(ctx)
	fmt.Println("verified:", rep.OK, rep.Entries)
	// Output:
	// 1 decision sql.query allow allow-read-sql {"query":"SELECT 1"}
	// 2 outcome sql.query ok 3ms
	// verified: true 2
}

// Keep the anchor outside the recorder to detect a truncated tail later.
func ExampleRecorder_VerifyAnchor() {
	ctx := context.Background()
	rec, _ := recorder.Open("", nil)
	defer rec.Close()
	rec.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Agent: "agent-001", Detail: "spawn"})
	anchor := rec.Anchor()

	rep, _ := rec.VerifyAnchor(ctx, anchor)
	fmt.Println(anchor.Seq, rep.OK)
	rep, _ = rec.VerifyAnchor(ctx, recorder.Anchor{Seq: 5, Hash: anchor.Hash})
	fmt.Println(rep.Broken)
	// Output:
	// 1 true
	// recorder: chain broken at seq 2: truncated: entries 2..5 are missing (the chain ends at 1)
}

// In Buffered mode Append returns at once; Flush makes everything durable.
func ExampleRecorder_Flush() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "recorder-example")
	defer os.RemoveAll(dir)
	rec, _ := recorder.Open(filepath.Join(dir, "audit.db"), &recorder.Options{Durability: recorder.Buffered, FlushInterval: time.Hour})
	defer rec.Close()
	seq, _ := rec.Append(ctx, recorder.Entry{Kind: recorder.KindSignal, Agent: "agent-001", Detail: "SIGSTOP"})
	fmt.Println("accepted", seq, "committed", rec.Anchor().Seq)
	rec.Flush(ctx)
	fmt.Println("committed", rec.Anchor().Seq)
	// Output:
	// accepted 1 committed 0
	// committed 1
}

// What an action asked for beyond its op and arguments, the type of the
// value it sends and its labels, is recorded as data: hashed, and
// queryable by payload type.
func ExampleFilter_payloadType() {
	ctx := context.Background()
	rec, _ := recorder.Open("", nil)
	defer rec.Close()
	rec.Append(ctx, recorder.Entry{
		Kind: recorder.KindDecision, Trace: "call-1", Agent: "billing", Op: agentos.OpSend,
		Target: "ledger", PayloadType: "example.com/billing.Invoice",
		Meta:   map[string]string{"direction": "pipe", "sender": "billing"},
		Effect: agentos.Allow, Rule: "invoices-to-ledger",
	})
	rec.Append(ctx, recorder.Entry{
		Kind: recorder.KindDecision, Trace: "call-2", Agent: "billing", Op: agentos.OpSend,
		Target: "mail", PayloadType: "text/plain", Meta: map[string]string{"direction": "publish"},
		Effect: agentos.Deny, Rule: "no-mail",
	})

	for e, err := range rec.Query(ctx, recorder.Filter{PayloadType: "example.com/billing.Invoice"}) {
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Seq, e.Target, e.PayloadType, e.Meta["direction"], e.Effect)
	}
	// Output:
	// 1 ledger example.com/billing.Invoice pipe allow
}
