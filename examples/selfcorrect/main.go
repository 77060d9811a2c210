// Command selfcorrect shows an agent corrected by package scak. An analyst
// agent, on a small model, is asked for the Q3 revenue report; its primary
// source (sales.query) has no rows for a closed quarter, and the agent
// gives up: "I couldn't find any data for Q3." The scak detector flags the
// give-up; the differential audit sends that one outcome (and no other) to
// a stronger teacher model, whose diagnosis proposes a prompt rule:
// search the archive when the primary source has no rows. Triage says fix
// now (the board asked for the report: high effort), so the rule is
// activated with its provenance, and the next runs get it in their system
// prompt: the agent calls archive.search through the kernel and answers.
// The measure shows the failure recurring in 1 of 1 runs before the patch
// and 0 of 3 after, and the evaluation keeps the patch. Every tool call is
// a governed syscall in the flight recorder, whose chain is verified at
// the end. Everything runs offline and deterministically.
//
// Run it with:
//
//	go run ./examples/selfcorrect
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/models/scripted"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/scak"
)

const (
	analyst = "analyst"
	task    = "q3-report"
	request = "Write the Q3 revenue report for the board."

	policyYAML = `apiVersion: agentos/v1
kind: Policy
metadata: {name: selfcorrect, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: analysts-read-sales
      effect: allow
      when: agent.role == "analyst" && action.tool in ["sales.query", "archive.search"]
`

	// The primary source keeps open quarters only.
	salesResult   = `{"quarter": "Q3", "rows": [], "note": "closed quarters are kept in the archive"}`
	archiveResult = `{"quarter": "Q3", "revenue": "4.2M", "source": "archive"}`

	// The teacher's diagnosis of the give-up.
	diagnosis = `{"verdict": "failure",
 "cause": "the agent gave up when its primary source had no rows, without trying the archive",
 "patches": [{"type": "prompt_rule", "level": "business", "key": "empty-primary-source",
              "content": "When the primary source has no rows, search the archive (archive.search) before answering."}]}`
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "selfcorrect:", err)
		os.Exit(1)
	}
}

// agentModel is the analyst's small model: it follows a rule in its system
// prompt when it has one, and otherwise gives up on an empty result.
func agentModel() *scripted.Model {
	holds := func(sub string) func(agentos.Prompt) bool {
		return func(p agentos.Prompt) bool {
			for _, m := range p.Messages {
				if strings.Contains(m.Content, sub) {
					return true
				}
			}
			return false
		}
	}
	return scripted.MustNew(scripted.Name("small-1"),
		scripted.When(scripted.Func("has the archive's figures", holds(`"revenue": "4.2M"`))).
			Reply("Q3 revenue was 4.2M (source: archive)."),
		scripted.When(scripted.Func("told to search the archive", holds("search the archive"))).
			Reply("CALL archive.search"),
		scripted.Otherwise().Reply("I couldn't find any data for Q3."),
	)
}

// outcome is one run of the agent.
type outcome struct {
	answer string
	calls  []scak.ToolResult
	trace  string // the trace of the last tool call
}

// maxSteps bounds the tool calls the agent's model may ask for in a run.
const maxSteps = 3

// answer runs the agent once: the primary source first, then whatever tool
// its model asks for, each call a syscall of the kernel.
func answer(ctx context.Context, a *kernel.Agent, rec *recorder.Recorder, model agentos.Model, applied scak.Applied) (outcome, error) {
	var o outcome
	p := applied.Prepend(agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleUser, Content: request}}})
	call := func(tool string) error {
		res, err := a.Exec(ctx, tool, map[string]any{"quarter": "Q3"})
		if err != nil {
			return fmt.Errorf("%s: %w", tool, err)
		}
		text := fmt.Sprint(res)
		o.calls = append(o.calls, scak.ToolResult{Tool: tool, Args: `{"quarter":"Q3"}`, Result: text})
		p.Messages = append(p.Messages, agentos.Message{Role: agentos.RoleTool, Content: text})
		for e, err := range rec.Query(ctx, recorder.Filter{Agent: analyst, Kind: recorder.KindDecision, Order: recorder.Descending, Limit: 1}) {
			if err != nil {
				return err
			}
			o.trace = e.Trace
		}
		return nil
	}
	if err := call("sales.query"); err != nil {
		return o, err
	}
	for range maxSteps {
		c, err := model.Generate(ctx, p)
		if err != nil {
			return o, err
		}
		tool, ok := strings.CutPrefix(c.Text, "CALL ")
		if !ok {
			o.answer = c.Text
			return o, nil
		}
		p.Messages = append(p.Messages, agentos.Message{Role: agentos.RoleAssistant, Content: c.Text})
		if err := call(tool); err != nil {
			return o, err
		}
	}
	return o, fmt.Errorf("no answer after %d tool calls", maxSteps)
}

func run(ctx context.Context, w io.Writer) error {
	rec, err := recorder.Open("", nil)
	if err != nil {
		return err
	}
	defer rec.Close()
	k, err := kernel.New(
		kernel.WithPolicySource("selfcorrect.yaml", []byte(policyYAML)),
		kernel.WithRecorder(rec),
		kernel.WithTool("sales.query", func(context.Context, map[string]any) (any, error) { return salesResult, nil }),
		kernel.WithTool("archive.search", func(context.Context, map[string]any) (any, error) { return archiveResult, nil }),
	)
	if err != nil {
		return err
	}
	defer k.Close()
	a, err := k.Spawn(ctx, analyst, kernel.WithRole("analyst"))
	if err != nil {
		return err
	}

	detector, err := scak.NewDetector()
	if err != nil {
		return err
	}
	teacher := scripted.MustNew(scripted.Name("teacher-large"), scripted.Otherwise().Reply(diagnosis))
	auditor, err := scak.NewAuditor(teacher)
	if err != nil {
		return err
	}
	triage, err := scak.NewTriage(scak.TriageConfig{})
	if err != nil {
		return err
	}
	store, err := scak.NewStore(scak.WithMinRuns(3))
	if err != nil {
		return err
	}
	model := agentModel()
	scope := scak.Scope{Agent: analyst, Task: task}

	for i := 1; i <= 4; i++ {
		applied, err := store.Apply(scope)
		if err != nil {
			return err
		}
		o, err := answer(ctx, a, rec, model, applied)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		fmt.Fprintf(w, "run %d, patches applied %d: %s\n", i, len(applied.Patches), o.answer)
		tools := make([]string, len(o.calls))
		evidence := make([]string, len(o.calls))
		for j, c := range o.calls {
			tools[j], evidence[j] = c.Tool, c.Result
		}
		fmt.Fprintf(w, "  tools: %s\n", strings.Join(tools, ", "))

		f, failed, err := detector.Detect(ctx, scak.Answer{Agent: analyst, Task: task, Text: o.answer, Evidence: evidence})
		if err != nil {
			return err
		}
		var failures []scak.Failure
		run := scak.Run{Scope: scope}
		if failed {
			f.Trace, f.Op, f.Tool = o.trace, agentos.OpExec, o.calls[len(o.calls)-1].Tool
			failures = append(failures, f)
			run.Failures = []scak.Kind{f.Kind}
			fmt.Fprintf(w, "  detector: %s (%s)\n", f.Kind, f.Rule)
		} else {
			fmt.Fprintln(w, "  detector: no failure")
		}
		if err := store.RecordRun(run); err != nil {
			return err
		}

		// The differential audit: only a failed outcome reaches the teacher.
		d, audited, err := auditor.Review(ctx, failures, scak.AuditInput{
			Prompt: request, Answer: o.answer, Calls: o.calls, Tools: k.Tools(), Model: "small-1",
		})
		if err != nil {
			return err
		}
		if !audited {
			continue
		}
		fmt.Fprintf(w, "  audit (%s): %s\n", d.Teacher, d.Cause)
		verdict := triage.Decide(scak.Case{Failure: f, Effort: scak.EffortHigh})
		fmt.Fprintf(w, "  triage: %s by %s (%s)\n", verdict.Priority, verdict.Rule, verdict.Reason)
		for _, proposed := range d.Patches {
			p, err := store.Propose(proposed)
			if err != nil {
				return err
			}
			if verdict.Priority == scak.FixNow {
				if p, err = store.Activate(ctx, p.ID, "triage:"+verdict.Rule); err != nil {
					return err
				}
			}
			fmt.Fprintf(w, "  patch: %s, %s, %s: %q\n", p.Type, p.Level, p.State, p.Content)
		}
	}

	for _, p := range store.List() {
		m, err := store.Measure(p.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "measure: %s\n", m)
	}
	evs, err := store.Evaluate(ctx)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		fmt.Fprintf(w, "evaluate: %s (%s)\n", ev.Verdict, ev.Reason)
	}
	st := auditor.Stats()
	fmt.Fprintf(w, "audit: %d outcomes seen, %d sent to the teacher, patches proposed %d\n", st.Seen, st.Audited, st.Proposed)

	v, err := rec.Verify(ctx)
	if err != nil {
		return err
	}
	if !v.OK {
		return fmt.Errorf("flight recorder chain broken: %+v", v.Broken)
	}
	fmt.Fprintf(w, "trail: %d entries, chain verified\n", v.Entries)
	return nil
}
