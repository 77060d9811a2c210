// Command pipeline runs the seed's typed pipe between two governed agents,
//
//	research | PolicyCheck(research.Result) | summary
//
// where every value crossing from the researcher to the summarizer is an
// OpSend syscall of the researcher, decided by policy and recorded. Finished
// research.Result values cross; raw research.Notes are refused and never
// reach the summary stage. It prints what got through, what was denied and
// the flight recorder's trail.
//
//	go run ./examples/pipeline
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/examples/pipeline/research"
	"github.com/agent-os/agentos/ipc"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
)

//go:embed policy.yaml
var policyYAML []byte

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	// A clock that ticks one second per reading keeps the output stable.
	var tick atomic.Int64
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Second) }

	rec, err := recorder.Open("", &recorder.Options{Durability: recorder.WriteAhead, Clock: clock})
	if err != nil {
		return err
	}
	defer rec.Close()
	k, err := kernel.New(
		kernel.WithPolicySource("policy.yaml", policyYAML),
		kernel.WithRecorder(rec),
		kernel.WithClock(clock),
	)
	if err != nil {
		return err
	}
	defer k.Close()

	researcher, err := k.Spawn(ctx, "researcher", kernel.WithRole("research"))
	if err != nil {
		return err
	}
	summarizer, err := k.Spawn(ctx, "summarizer", kernel.WithRole("writer"))
	if err != nil {
		return err
	}

	// The summary stage runs as the summarizer: it files each summary in
	// its own working memory, a syscall of its own.
	summary := ipc.Func[research.Result, string](func(ctx context.Context, r research.Result) (string, error) {
		s := fmt.Sprintf("%s: %s (%d sources)", r.Topic, strings.Join(r.Findings, "; "), r.Sources)
		return s, summarizer.Write(ctx, "/mem/working/"+strings.ReplaceAll(r.Topic, " ", "-")+".txt", []byte(s))
	})

	step("research | PolicyCheck(" + ipc.TypeName[research.Result]() + ") | summary")
	pipe := ipc.Pipe3(
		ipc.Func[string, research.Result](investigate),
		ipc.PolicyCheck[research.Result](researcher.Gate("summarizer")),
		summary,
	)
	topics := make(chan string)
	go func() {
		defer close(topics)
		for _, t := range []string{"typed pipes", "message buses", "flight recorders"} {
			topics <- t
		}
	}()
	for r := range pipe.Stream(ctx, topics) {
		if r.Err != nil {
			return r.Err
		}
		fmt.Println("  got through:", r.Value)
	}

	step("raw notes on the same route are denied")
	notes := ipc.Pipe3(
		ipc.Func[string, research.Notes](jot),
		ipc.PolicyCheck[research.Notes](researcher.Gate("summarizer")),
		ipc.Func[research.Notes, string](func(context.Context, research.Notes) (string, error) {
			return "", errors.New("the summary stage received raw notes")
		}),
	)
	_, err = notes.Execute(ctx, "rumours")
	var v *agentos.PolicyViolation
	if !errors.As(err, &v) {
		return fmt.Errorf("raw notes were not denied: %v", err)
	}
	fmt.Printf("  denied: %s → %s carrying %s, by rule %s (%s): %s\n",
		v.Action.Agent, v.Action.Target, v.Action.PayloadType, v.Decision.Rule, v.Decision.Severity, v.Decision.Message)
	fmt.Printf("  the rule says onDeny: refuse, so the researcher is still %s\n", researcher.State())

	step("the flight recorder's trail")
	for e, err := range rec.Query(ctx, recorder.Filter{}) {
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
	fmt.Printf("  chain verified: %d entries\n", rep.Entries)
	return nil
}

// investigate is the research stage: it turns a topic into findings.
func investigate(_ context.Context, topic string) (research.Result, error) {
	return research.Result{Topic: topic, Findings: []string{topic + " compose", topic + " are checked"}, Sources: 2}, nil
}

// jot produces raw notes instead of a finished result.
func jot(_ context.Context, topic string) (research.Notes, error) {
	return research.Notes{Topic: topic, Raw: "someone said so"}, nil
}

func step(s string) { fmt.Println("\n== " + s) }

// describe renders one recorder entry on a line.
func describe(e recorder.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-2d %-9s %-10s", e.Seq, e.Kind, e.Agent)
	switch e.Kind {
	case recorder.KindDecision:
		fmt.Fprintf(&b, " %-5s %-28s %-5s rule=%s", e.Op, target(e), e.Effect, e.Rule)
		if e.PayloadType != "" {
			fmt.Fprintf(&b, " [payload %s, %s]", e.PayloadType, meta(e.Meta))
		}
	case recorder.KindOutcome:
		fmt.Fprintf(&b, " %-5s %-28s %s", e.Op, target(e), e.Status)
	default:
		fmt.Fprintf(&b, " %s", e.Message)
	}
	return b.String()
}

func target(e recorder.Entry) string {
	if e.Target != "" {
		return "→ " + string(e.Target)
	}
	return e.Path
}

// meta renders an entry's meta as sorted key=value pairs.
func meta(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}
