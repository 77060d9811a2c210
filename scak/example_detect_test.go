package scak_test

import (
	"context"
	"fmt"
	"time"

	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/models/scripted"
	"github.com/agent-os/agentos/scak"
	"github.com/agent-os/agentos/signals"
)

// The pattern path tells give-ups from answers, and a faithful "no data"
// answer from a give-up by the tool results it was based on.
func ExampleDetector_Match() {
	d, err := scak.NewDetector()
	if err != nil {
		panic(err)
	}
	for _, a := range []scak.Answer{
		{Text: "Q3 revenue was $4.2M, up 6%."},
		{Text: "I’m sorry, I couldn’t find any data for Q3."},
		{Text: "I couldn't find any orders for this customer.", Evidence: []string{`{"orders": []}`}},
		{Text: "I couldn't find any orders for this customer.", Evidence: []string{`{"orders": [{"id": 1182}]}`}},
		{Text: "Please try again later."},
		{Text: "N/A"},
	} {
		m := d.Match(a)
		fmt.Printf("give-up=%-5v family=%-13s faithful=%-5v %q\n", d.GiveUp(m), m.Family, m.Faithful, m.Text)
	}
	// Output:
	// give-up=false family=              faithful=false ""
	// give-up=true  family=no-data       faithful=false "could not find any data"
	// give-up=false family=no-data       faithful=true  "could not find any orders"
	// give-up=true  family=no-data       faithful=false "could not find any orders"
	// give-up=true  family=deferral      faithful=false "please try again"
	// give-up=true  family=placeholder   faithful=false "n/a"
}

// A custom family joins the built-in ones; a phrase that does not compile
// is an error.
func ExampleWithFamilies() {
	d, err := scak.NewDetector(scak.WithFamilies(scak.Family{
		Name:       "escalation",
		Confidence: 0.8,
		Phrases:    []string{"@i have|will escalat* ~3 human|operator"},
	}))
	if err != nil {
		panic(err)
	}
	m := d.Match(scak.Answer{Text: "I have escalated this to a human operator."})
	fmt.Println(m.Family, m.Confidence)

	_, err = scak.NewDetector(scak.WithFamilies(scak.Family{Name: "bad", Confidence: 1, Phrases: []string{"can't find"}}))
	fmt.Println(err != nil)
	// Output:
	// escalation 0.8
	// true
}

// A model judge decides what the patterns do not; its reply must be the
// JSON judgement, and anything else is an error, never a pass.
func ExampleModelJudge() {
	model := scripted.MustNew(
		scripted.When(scripted.Contains("archive is silent")).Reply(`{"give_up": true, "confidence": 0.9, "reason": "no answer given"}`),
		scripted.Otherwise().Reply("Looks fine to me!"),
	)
	j, err := scak.NewModelJudge(model, scak.WithJudgeTimeout(5*time.Second))
	if err != nil {
		panic(err)
	}
	d, err := scak.NewDetector(scak.WithJudge(j, scak.JudgeUnflagged))
	if err != nil {
		panic(err)
	}
	f, ok, err := d.Detect(context.Background(), scak.Answer{Agent: "analyst", Text: "The archive is silent on that question."})
	fmt.Println(ok, f.Kind, f.Rule, f.Evidence, err)
	_, ok, err = d.Detect(context.Background(), scak.Answer{Agent: "analyst", Text: "Revenue rose 6%."})
	fmt.Println(ok, err)
	// Output:
	// true judged judge no answer given <nil>
	// false scak: judge failed: scak: invalid judgement: reply is not a JSON object: "Looks fine to me!"
}

// A Monitor watches every syscall the kernel decides; a looping agent is
// stopped with SIGLOOP before its next call runs.
func ExampleMonitor() {
	m, err := scak.NewMonitor()
	if err != nil {
		panic(err)
	}
	k, err := kernel.New(
		kernel.WithPolicySource("example.yaml", []byte(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: example}
spec:
  rules:
    - name: search
      effect: allow
      when: action.op == "exec" && action.tool == "search"
`)),
		kernel.WithTool("search", func(ctx context.Context, args map[string]any) (any, error) {
			return "No results found.", nil
		}),
		kernel.WithObserver(m.Observer()),
	)
	if err != nil {
		panic(err)
	}
	defer k.Close()
	if err := m.Bind(k); err != nil {
		panic(err)
	}
	ctx := context.Background()
	a, err := k.Spawn(ctx, "researcher")
	if err != nil {
		panic(err)
	}
	for range 3 {
		if _, err := a.Exec(ctx, "search", map[string]any{"q": "acme revenue"}); err != nil {
			panic(err)
		}
	}
	for _, f := range m.Failures() {
		fmt.Printf("%s %s: %s\n", f.Kind, f.Rule, f.Evidence)
	}
	d, _ := k.SignalDispatcher("researcher")
	fmt.Println(d.State() == signals.Stopped)
	_ = k.Signal(ctx, "researcher", signals.SIGKILL, "example over")
	// Output:
	// give_up no-data: no results found
	// give_up no-data: no results found
	// give_up no-data: no results found
	// loop loop: exec search repeated 3 times in the last 8 syscalls
	// true
}
