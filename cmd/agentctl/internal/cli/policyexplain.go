package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/agent-os/agentos/policy"
)

// explainRule is one rule of an explanation.
type explainRule struct {
	Result      string `json:"result"` // matched or failed
	Policy      string `json:"policy"`
	Rule        string `json:"rule"`
	Effect      string `json:"effect"`
	Severity    string `json:"severity"`
	Where       string `json:"where,omitempty"` // file:line:col of the rule
	Message     string `json:"message,omitempty"`
	Error       string `json:"error,omitempty"`
	RateLimited bool   `json:"rate_limited,omitempty"`
	// Decides: this rule names the decision.
	Decides bool `json:"decides,omitempty"`
}

// explainResult is the whole output of policy explain.
type explainResult struct {
	Decision  decisionView  `json:"decision"`
	Rules     []explainRule `json:"rules"`
	Evaluated int           `json:"evaluated"`
	Skipped   int           `json:"skipped"`
}

func newPolicyExplainCmd(e *env) *cobra.Command {
	var src policySource
	var inline string
	c := &cobra.Command{
		Use:   "explain --policy P [ACTION.json | -]",
		Short: "Show every rule that matched an action given as JSON",
		Long: `Decide one action and show the decision with every rule that matched it
(or failed to evaluate), in the order the engine combines them: deny rules,
then approve, then allow and audit. The action is JSON, read from the file
named, from standard input ("-" or no argument), or from --action.

Explaining takes no rate-limit token: a rate-limited rule matches as if its
bucket were full.

` + actionFormatHelp + `

` + policySourceHelp + `

Output: --format table (the decision, then one row per rule), json (one
object: decision, rules, evaluated, skipped) or jsonl (the same object on
one line). Exit codes: 0 explained (whatever the decision), 2 a usage
error, a policy that does not load or an action that is not valid JSON.`,
		Example: `  agentctl policy explain -p policies/ --action '{"agent":"a1","role":"analyst","op":"exec","tool":"sql.query","args":{"query":"drop table t"}}'
  echo '{"op":"read","path":"/mem/notes.txt"}' | agentctl policy explain -p finance.yaml --baseline
  agentctl policy explain -p finance.yaml action.json --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := readAction(e, inline, args)
			if err != nil {
				return err
			}
			spec, err := decodeActionJSON(raw)
			if err != nil {
				return usageError("action: %v", err)
			}
			in, err := spec.input(time.Now().UTC())
			if err != nil {
				return usageError("action: %v", err)
			}
			docs, err := src.load()
			if err != nil {
				return err
			}
			eng, err := newEngine(cmd.Context(), docs)
			if err != nil {
				return err
			}
			x, err := eng.Explain(cmd.Context(), in)
			if err != nil {
				return usageError("explain: %v", err)
			}
			return writeExplanation(e, explain(docs, x))
		},
	}
	src.flags(c)
	c.Flags().StringVar(&inline, "action", "", "the action as JSON (instead of a file or standard input)")
	return c
}

// readAction reads the action's JSON from --action, a file or stdin.
func readAction(e *env, inline string, args []string) ([]byte, error) {
	switch {
	case inline != "" && len(args) > 0:
		return nil, usageError("give the action either with --action or as a file, not both")
	case inline != "":
		return []byte(inline), nil
	}
	var r io.Reader = e.stdin
	name := "standard input"
	if w, ok := e.stdin.(io.Writer); ok && len(args) == 0 && isTerminal(w) {
		// Nothing piped in: say so rather than wait for typing.
		return nil, usageError("no action: give a file, - for standard input, or --action")
	}
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return nil, usageError("action %s: %v", args[0], unwrapPathError(err))
		}
		defer f.Close()
		r, name = f, args[0]
	}
	if r == nil {
		return nil, usageError("no action: give a file, - for standard input, or --action")
	}
	b, err := io.ReadAll(io.LimitReader(r, maxActionBytes+1))
	if err != nil {
		return nil, usageError("action %s: %v", name, err)
	}
	if len(b) > maxActionBytes {
		return nil, usageError("action %s: over %d bytes", name, maxActionBytes)
	}
	return b, nil
}

// explain turns an explanation into its printed form.
func explain(docs []*policy.Document, x policy.Explanation) explainResult {
	out := explainResult{Decision: viewDecision(x.Decision), Rules: []explainRule{}, Evaluated: x.Evaluated, Skipped: x.Skipped}
	decided := false
	for _, r := range x.Rules {
		er := explainRule{Result: "matched", Policy: r.Policy, Rule: r.Rule, Effect: r.Effect.String(),
			Severity: r.Severity.String(), Where: ruleWhere(docs, r.Policy, r.Rule), Message: r.Message,
			Error: r.Error, RateLimited: r.RateLimited}
		if !r.Matched {
			er.Result = "failed"
		}
		// The first matched rule of the decision's name and effect decides
		// (names are unique within a policy, not across policies).
		if !decided && r.Matched && r.Rule == x.Decision.Rule &&
			(r.Effect == x.Decision.Effect || r.RateLimited) {
			er.Decides, decided = true, true
		}
		out.Rules = append(out.Rules, er)
	}
	return out
}

func writeExplanation(e *env, x explainResult) error {
	switch e.format {
	case "json", "jsonl":
		enc := json.NewEncoder(e.stdout)
		if e.format == "json" {
			enc.SetIndent("", "  ")
		}
		return enc.Encode(x)
	}
	d := x.Decision
	fmt.Fprintf(e.stdout, "decision: %s", verdict(d.Effect, d.Rule))
	if d.Message != "" {
		fmt.Fprintf(e.stdout, ": %s", d.Message)
	}
	fmt.Fprintf(e.stdout, " (policy %s)\n", d.PolicyVersion)
	if len(x.Rules) > 0 {
		err := writeRecords(e, []string{"RESULT", "POLICY", "RULE", "EFFECT", "SEVERITY", "WHERE", "NOTE"}, x.Rules,
			func(r explainRule) []string {
				note := r.Message
				switch {
				case r.Error != "":
					note = "error: " + r.Error
				case r.RateLimited:
					note = "rate limit exceeded"
				}
				res := r.Result
				if r.Decides {
					res += "*"
				}
				return []string{res, r.Policy, r.Rule, r.Effect, r.Severity, r.Where, note}
			})
		if err != nil {
			return err
		}
	} else {
		fmt.Fprintln(e.stdout, "no rule matched")
	}
	_, err := fmt.Fprintf(e.stdout, "(%d rules evaluated, %d skipped by the index; * names the decision)\n", x.Evaluated, x.Skipped)
	return err
}
