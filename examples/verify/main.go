// Command verify shows cross-model verification and drift monitoring.
// Three models answer the same question, the third quarter's revenue; one
// of them, cirrus, gets the figures wrong. cmvk.Ask fans the question out
// and cmvk.Verify judges the answers twice: by their words (the lexical
// profile, which finds cirrus's wrong figures in the same words as atlas's
// right ones a match, and names borealis, right in other words, the
// dissenter) and by their figures (a numeric profile, which names cirrus).
// Then an analyst agent under a kernel asks cirrus, round after round,
// through a governed tool; a cmvk.Monitor measures each answer against the
// verified one, and when the mean drift of the last three answers crosses
// its threshold, kernel.DriftAlarm records the evidence in the flight
// recorder and sends the agent SIGDRIFT. The host's handler for SIGDRIFT
// moves the agent to the model the cross-check trusted. The trail, the
// signal among its entries, is printed and its chain verified. Everything
// runs offline and deterministically: the models are scripted.
//
// Run it with:
//
//	go run ./examples/verify
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/cmvk"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/models/scripted"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

//go:embed policy.yaml
var policyYAML []byte

const (
	question = "What was the company's revenue in the third quarter of 2026, and how did it change on a year earlier?"
	agentID  = "analyst"
	task     = "q3-revenue"

	right   = "Revenue for the third quarter of 2026 was $4.2 million, up 8% year on year."
	phrased = "Third-quarter 2026 revenue came to $4.20 million, an increase of 8% over the same quarter last year."
	growth  = "Revenue for the third quarter of 2026 was $4.2 million, up 31% year on year."
	wrong   = "Revenue for the third quarter of 2026 was $5.1 million, up 31% year on year."
)

var (
	// figures judges answers by their numbers: two answers agree when
	// every figure, in order, is the same.
	figures = cmvk.Profile{Name: "figures", Metric: cmvk.Numeric, Threshold: 0}
	// figuresTrend watches one agent's answers: it alarms when, over the
	// window, more than a quarter of the figures are wrong on average.
	figuresTrend = cmvk.Profile{Name: "figures-trend", Metric: cmvk.Numeric, Threshold: 0.25}
)

// window is how many of the agent's answers the monitor averages.
const window = 3

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		os.Exit(1)
	}
}

// models returns the three scripted models. atlas and borealis are right,
// in different words. cirrus is sampled and wanders: its answers, in the
// order they are asked for, are wrong, right twice, then wrong again in
// one figure and in two.
func models() []cmvk.Named {
	named := func(name string, r scripted.Rule) cmvk.Named {
		return cmvk.Named{Name: name, Model: scripted.MustNew(scripted.Name(name), r)}
	}
	return []cmvk.Named{
		named("atlas", scripted.Otherwise().Reply(right)),
		named("borealis", scripted.Otherwise().Reply(phrased)),
		named("cirrus", scripted.Otherwise().ReplySequence(wrong, right, right, growth, wrong).RepeatLast()),
	}
}

func run(ctx context.Context, w io.Writer) error {
	step := func(s string) { fmt.Fprintln(w, "\n== "+s) }
	ms := models()
	prompt := agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleUser, Content: question}}}

	step("three models answer the same question")
	answers, err := cmvk.Ask(ctx, prompt, ms)
	if err != nil {
		return err
	}
	for _, a := range answers {
		fmt.Fprintf(w, "  %-8s %s\n", a.Name, a.Completion.Text)
	}

	step("the verdict by their words, then by their figures")
	if _, err := verdict(ctx, w, answers, cmvk.LexicalProfile); err != nil {
		return err
	}
	v, err := verdict(ctx, w, answers, figures)
	if err != nil {
		return err
	}
	if !v.Agree || !slices.Equal(v.Dissenters, []string{"cirrus"}) {
		return fmt.Errorf("the figures' verdict did not name cirrus the dissenter: %+v", v)
	}

	// The kernel, its recorder and a monitor wired to it.
	rec, err := recorder.Open("", nil) // "" is in memory; a path is durable
	if err != nil {
		return err
	}
	defer rec.Close()
	byName := make(map[string]agentos.Model, len(ms))
	for _, m := range ms {
		byName[m.Name] = m.Model
	}
	k, err := kernel.New(
		kernel.WithPolicySource("policy.yaml", policyYAML),
		kernel.WithRecorder(rec),
		kernel.WithTool("model.ask", ask(byName)),
	)
	if err != nil {
		return err
	}
	defer k.Close()
	a, err := k.Spawn(ctx, agentID, kernel.WithRole("analyst"))
	if err != nil {
		return err
	}
	var alerts []cmvk.Alert // appended by the alarm, on the goroutine that calls Observe
	alarm := kernel.DriftAlarm(k)
	mon, err := cmvk.NewMonitor(figuresTrend, cmvk.WithWindow(window),
		cmvk.WithAlarm(func(ctx context.Context, al cmvk.Alert) {
			alerts = append(alerts, al)
			alarm(ctx, al)
		}))
	if err != nil {
		return err
	}
	// The baseline is the answer the cross-check verified.
	if err := mon.SetBaseline(ctx, agentID, task, cmvk.Observation{Text: v.Answer}); err != nil {
		return err
	}

	// The host handles SIGDRIFT (an agent cannot handle it itself): the
	// agent is moved to the model the cross-check trusted. The handler runs
	// on the goroutine that sends the signal, here the one calling Observe,
	// which is also the one that reads model below: no lock is needed.
	model := "cirrus"
	d, err := k.SignalDispatcher(agentID)
	if err != nil {
		return err
	}
	var handled []signals.Info // appended by the handler, on the goroutine that calls Observe
	if err := d.Handle(signals.SIGDRIFT, func(_ context.Context, info signals.Info) error {
		handled = append(handled, info)
		model = v.Representative
		return nil
	}); err != nil {
		return err
	}

	step(fmt.Sprintf("the analyst relies on cirrus; a monitor compares each answer with the verified one (window %d, threshold %.2f)", window, figuresTrend.Threshold))
	for round := 1; round <= 6; round++ {
		asked := model // the handler may change model during Observe
		out, err := a.Exec(ctx, "model.ask", map[string]any{"model": asked, "question": question})
		if err != nil {
			return err
		}
		answer, ok := out.(string)
		if !ok {
			return fmt.Errorf("model.ask returned %T, not text", out)
		}
		dr, err := mon.Observe(ctx, agentID, task, cmvk.Observation{Text: answer})
		if err != nil {
			return err
		}
		mark := ""
		if dr.Alarmed {
			mark = "  ← above the threshold"
		}
		fmt.Fprintf(w, "  round %d %-8s drift %.2f, window %.2f%s\n", round, asked, dr.Sample, dr.Window, mark)
		if dr.Alarmed {
			al := alerts[len(alerts)-1]
			fmt.Fprintf(w, "    alert: %s/%s drift %.2f > %.2f; latest answer %q\n",
				al.Agent, al.Task, al.Drift, al.Threshold, al.Recent[len(al.Recent)-1].Text)
			for _, info := range handled {
				fmt.Fprintf(w, "    %s sent to %s; the host's handler moves it to %s\n",
					info.Signal, info.Agent, model)
			}
			handled = handled[:0]
		}
	}
	if len(alerts) != 1 {
		return fmt.Errorf("%d drift alerts, want 1", len(alerts))
	}

	step("the flight recorder's trail")
	if err := rec.Flush(ctx); err != nil {
		return err
	}
	var signalled bool
	for e, err := range rec.Query(ctx, recorder.Filter{}) {
		if err != nil {
			return err
		}
		if e.Kind == recorder.KindSignal && e.Agent == agentID && strings.HasPrefix(e.Detail, signals.SIGDRIFT.String()) {
			signalled = true
		}
		fmt.Fprintln(w, "  "+describe(e))
	}
	if !signalled {
		return errors.New("SIGDRIFT is not in the trail")
	}
	rep, err := rec.Verify(ctx)
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("recorder chain broken: %w", rep.Err())
	}
	fmt.Fprintf(w, "  chain verified: %d entries\n", rep.Entries)
	return nil
}

// verdict judges answers under p and prints the verdict.
func verdict(ctx context.Context, w io.Writer, answers cmvk.Answers, p cmvk.Profile) (cmvk.Verdict, error) {
	v, err := cmvk.Verify(ctx, answers, p, cmvk.VerifyOptions{})
	if err != nil {
		return v, err
	}
	fmt.Fprintf(w, "  %-8s agree=%v majority=%v dissenters=%v confidence=%.2f\n",
		p.Name, v.Agree, v.Majority, v.Dissenters, v.Confidence)
	for _, pr := range v.Pairs {
		fmt.Fprintf(w, "           %s–%s drift %.2f\n", pr.A, pr.B, pr.Drift)
	}
	return v, nil
}

// ask is the model.ask tool: it asks the model named by the "model"
// argument the "question" argument, and returns the answer's text.
func ask(byName map[string]agentos.Model) kernel.ToolFunc {
	return func(ctx context.Context, args map[string]any) (any, error) {
		name, _ := args["model"].(string)
		q, _ := args["question"].(string)
		m, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("model.ask: model %q: %w", name, agentos.ErrNotFound)
		}
		if q == "" {
			return nil, fmt.Errorf("model.ask: %w: no question", agentos.ErrInvalid)
		}
		c, err := m.Generate(ctx, agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleUser, Content: q}}})
		if err != nil {
			return nil, fmt.Errorf("model.ask: %s: %w", name, err)
		}
		return c.Text, nil
	}
}

// describe renders one recorder entry on a line.
func describe(e recorder.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-3d %-9s %-8s", e.Seq, e.Kind, e.Agent)
	switch e.Kind {
	case recorder.KindDecision:
		var args struct{ Model string }
		_ = json.Unmarshal(e.Args, &args) // a model name, when the arguments hold one
		fmt.Fprintf(&b, " %s %s model=%s → %s", e.Op, e.Tool, args.Model, e.Effect)
		if e.Rule != "" {
			fmt.Fprintf(&b, " (%s)", e.Rule)
		}
	case recorder.KindOutcome:
		fmt.Fprintf(&b, " %s %s → %s", e.Op, e.Tool, e.Status)
	default:
		fmt.Fprintf(&b, " %s", cut(e.Message, 96))
		if e.Detail != "" {
			fmt.Fprintf(&b, "\n%26s[%s]", "", cut(e.Detail, 96)) // under the message
		}
	}
	return b.String()
}

// cut shortens s to n runes, marking the cut.
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
