package ipc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/ipc"
)

// ResearchResult is what the research agent hands to the summary agent.
type ResearchResult struct {
	Topic    string
	Findings []string
	Sources  int
}

// sendGate stands in for the kernel's gate between the research and summary
// agents: it admits ResearchResult values that cite sources, and refuses
// everything else with a policy violation, as the kernel does.
var sendGate = ipc.GateFunc(func(_ context.Context, c ipc.Crossing) error {
	deny := func(rule, msg string) error {
		return &agentos.PolicyViolation{
			Action:   agentos.Action{Agent: "research", Op: agentos.OpSend, Target: "summary", PayloadType: c.PayloadType},
			Decision: agentos.Decision{Effect: agentos.Deny, Rule: rule, Message: msg},
		}
	}
	if c.PayloadType != "ipc_test.ResearchResult" {
		return deny("typed-pipes", "only ResearchResult may cross")
	}
	if c.Value.(ResearchResult).Sources == 0 {
		return deny("cite-sources", "unsourced research")
	}
	return nil
})

var research = ipc.Func[string, ResearchResult](func(_ context.Context, topic string) (ResearchResult, error) {
	if topic == "rumours" {
		return ResearchResult{Topic: topic, Findings: []string{"someone said so"}}, nil
	}
	return ResearchResult{Topic: topic, Findings: []string{topic + " works", topic + " scales"}, Sources: 2}, nil
})

var summary = ipc.Func[ResearchResult, string](func(_ context.Context, r ResearchResult) (string, error) {
	return fmt.Sprintf("%s: %s (%d sources)", r.Topic, strings.Join(r.Findings, "; "), r.Sources), nil
})

// The seed's pipeline, research | PolicyCheckPipe | summary: the compiler
// checks that each stage's output feeds the next one's input.
func Example() {
	pipe := ipc.Pipe3(research, ipc.PolicyCheck[ResearchResult](sendGate), summary)

	out, err := pipe.Execute(context.Background(), "typed pipes")
	fmt.Println(out, err)

	_, err = pipe.Execute(context.Background(), "rumours")
	fmt.Println(errors.Is(err, agentos.ErrDenied), err)
	// Output:
	// typed pipes: typed pipes works; typed pipes scales (2 sources) <nil>
	// true agentos: research send target="summary" payload=ipc_test.ResearchResult denied: deny by cite-sources: unsourced research
}

// Stream runs many values through the stages at once; a refused value fails
// alone and the others go on, in input order.
func ExamplePipeline_Stream() {
	pipe := ipc.Pipe3(research, ipc.PolicyCheck[ResearchResult](sendGate), summary)

	topics := make(chan string)
	go func() {
		defer close(topics)
		for _, t := range []string{"channels", "rumours", "generics"} {
			topics <- t
		}
	}()
	for r := range pipe.Stream(context.Background(), topics, ipc.WithBuffer(16)) {
		if r.Err != nil {
			var pv *agentos.PolicyViolation
			errors.As(r.Err, &pv)
			fmt.Println(r.Index, "refused by", pv.Decision.Rule)
			continue
		}
		fmt.Println(r.Index, r.Value)
	}
	// Output:
	// 0 channels: channels works; channels scales (2 sources)
	// 1 refused by cite-sources
	// 2 generics: generics works; generics scales (2 sources)
}

// Parallel runs a slow stage in several goroutines; results keep their
// input order.
func ExampleParallel() {
	square := ipc.Func[int, int](func(_ context.Context, x int) (int, error) { return x * x, nil })
	pipe := ipc.Then(ipc.Parallel(square, 4), ipc.Func[int, string](func(_ context.Context, x int) (string, error) {
		return fmt.Sprint(x), nil
	}))
	in := make(chan int, 6)
	for i := range 6 {
		in <- i
	}
	close(in)
	var out []string
	for r := range pipe.Stream(context.Background(), in) {
		out = append(out, r.Value)
	}
	fmt.Println(strings.Join(out, " "))
	// Output: 0 1 4 9 16 25
}

// TypeName shows the payload type a policy sees for a pipe's values.
func ExampleTypeName() {
	fmt.Println(ipc.TypeName[ResearchResult]())
	fmt.Println(ipc.TypeName[*ResearchResult]())
	fmt.Println(ipc.TypeName[[]agentos.Action]())
	fmt.Println(ipc.TypeName[map[string]int]())
	// Output:
	// ipc_test.ResearchResult
	// *ipc_test.ResearchResult
	// []agentos.Action
	// map[string]int
}
