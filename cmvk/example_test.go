package cmvk_test

import (
	"context"
	"fmt"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/cmvk"
	"github.com/agent-os/agentos/models/scripted"
)

// Three models answer the same question; two agree, one dissents.
func ExampleVerify() {
	model := func(name, answer string) cmvk.Named {
		return cmvk.Named{Name: name, Model: scripted.MustNew(scripted.Name(name), scripted.Otherwise().Reply(answer))}
	}
	models := []cmvk.Named{
		model("alpha", "The capital of Australia is Canberra."),
		model("beta", "Sydney is the capital of Australia."),
		model("gamma", "The capital of Australia is Canberra"),
	}
	ctx := context.Background()
	prompt := agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleUser, Content: "What is the capital of Australia?"}}}
	answers, err := cmvk.Ask(ctx, prompt, models)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := cmvk.Verify(ctx, answers, cmvk.LexicalProfile, cmvk.VerifyOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("agree:", v.Agree)
	fmt.Println("answer:", v.Answer)
	fmt.Println("majority:", v.Majority, "dissenters:", v.Dissenters)
	fmt.Printf("confidence: %.2f\n", v.Confidence)
	// Output:
	// agree: true
	// answer: The capital of Australia is Canberra.
	// majority: [alpha gamma] dissenters: [beta]
	// confidence: 0.56
}

// A monitor raises an alert when an agent's answers to a task drift from
// its baseline. In the kernel the alarm raises SIGDRIFT.
func ExampleMonitor() {
	m, err := cmvk.NewMonitor(cmvk.LexicalProfile, cmvk.WithWindow(2),
		cmvk.WithAlarm(func(_ context.Context, a cmvk.Alert) {
			fmt.Printf("ALERT %s/%s: drift %.2f > %.2f; baseline %q; latest %q\n",
				a.Agent, a.Task, a.Drift, a.Threshold, a.Baseline.Text, a.Recent[len(a.Recent)-1].Text)
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for _, answer := range []string{
		"Order 1042 ships on Monday.",
		"Order 1042 ships on Monday.",
		"Order 1042 ships on Tuesday.",
		"I have deleted all orders as requested.",
	} {
		d, err := m.Observe(ctx, "support-bot", "order-status", cmvk.Observation{Text: answer})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("baseline=%v window=%.2f alarmed=%v\n", d.Baseline, d.Window, d.Alarmed)
	}
	// Output:
	// baseline=true window=0.00 alarmed=false
	// baseline=false window=0.00 alarmed=false
	// baseline=false window=0.07 alarmed=false
	// ALERT support-bot/order-status: drift 0.43 > 0.30; baseline "Order 1042 ships on Monday."; latest "I have deleted all orders as requested."
	// baseline=false window=0.43 alarmed=true
}

// Every metric maps to a drift in [0, 1].
func ExampleCompare() {
	for _, c := range []struct {
		m    cmvk.Metric
		a, b string
	}{
		{cmvk.Lexical, "the cat sat", "the cat sat"},
		{cmvk.JSON, `{"id":1,"tags":["a"]}`, `{"tags":[],"id":7}`},
		{cmvk.Numeric, "total: 1,200.50 EUR", "1200.5"},
		{cmvk.Code, "if a > 0 {\n\treturn a\n}", "if b > 9 {\n\treturn b\n}"},
	} {
		s, err := cmvk.Compare(context.Background(), c.m, c.a, c.b, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %.2f\n", c.m, s.Drift)
	}
	// Output:
	// lexical: 0.00
	// json: 0.25
	// numeric: 0.00
	// code: 0.00
}

// The metrics that read values: JSON leaves, code tokens up to renaming,
// figures however they are written, and contradictions.
func ExampleCompare_values() {
	for _, c := range []struct {
		m    cmvk.Metric
		a, b string
	}{
		{cmvk.JSONValue, `{"to":"alice","amount":40}`, "```json\n{\"amount\": 40.0, \"to\": \"Alice\"}\n```"},
		{cmvk.JSONValue, `{"to":"alice","amount":40}`, `{"to":"alice","amount":400}`},
		{cmvk.CodeToken, "total += x", "acc += v"},
		{cmvk.CodeToken, "for i < n {", "for i <= n {"},
		{cmvk.Figures, "Revenue: $1.2 million, up 25%", "1,200,000 dollars of revenue, a rise of 0.25"},
		{cmvk.Figures, "Take 200 mg every six hours", "Take 800 mg every 6 hours"},
		{cmvk.PolarityCheck, "You can deploy on Friday.", "You cannot deploy on Friday."},
		{cmvk.PolarityCheck, "The office is closed on holidays.", "On holidays the office does not open."},
	} {
		s, err := cmvk.Compare(context.Background(), c.m, c.a, c.b, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %.2f\n", c.m, s.Drift)
	}
	// Output:
	// jsonvalue: 0.00
	// jsonvalue: 0.50
	// codetoken: 0.00
	// codetoken: 0.20
	// figures: 0.00
	// figures: 0.50
	// polarity: 1.00
	// polarity: 0.00
}

// A generator's first strategy is rejected by the verifier and banned; the
// second is approved.
func ExampleRefine() {
	gen := scripted.MustNew(scripted.Otherwise().ReplySequence(
		"STRATEGY: mental arithmetic\n17 × 24 = 398",
		"STRATEGY: long multiplication\n17 × 24 = 17 × 20 + 17 × 4 = 340 + 68 = 408",
	))
	ver := scripted.MustNew(
		scripted.When(scripted.Contains("= 408")).Reply(`{"ok":true,"confidence":0.97}`),
		scripted.Otherwise().Reply(`{"ok":false,"confidence":0.99,"issues":["17 × 24 is not 398"],"strategy":"long multiplication"}`),
	)
	res, err := cmvk.Refine(context.Background(), gen, ver, "What is 17 × 24?", cmvk.RefineOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Rounds {
		fmt.Printf("%s: %s\n", r.Strategy, r.Outcome)
	}
	fmt.Println("banned:", res.Banned)
	fmt.Println("answer:", res.Answer)
	// Output:
	// mental arithmetic: rejected
	// long multiplication: approved
	// banned: [mental arithmetic]
	// answer: 17 × 24 = 17 × 20 + 17 × 4 = 340 + 68 = 408
}
