package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/policy"
)

// diagnostic is one finding of policy lint.
type diagnostic struct {
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Severity string `json:"severity"` // error or warning
	Policy   string `json:"policy,omitempty"`
	Rule     string `json:"rule,omitempty"` // `rule "x"` or `variable "v"`
	Message  string `json:"message"`
}

// String renders the diagnostic as a compiler does:
// file:line:col: severity: rule "x": message.
func (d diagnostic) String() string {
	var b strings.Builder
	b.WriteString(position(d.File, d.Line, d.Column))
	b.WriteString(": ")
	b.WriteString(d.Severity)
	b.WriteString(": ")
	if d.Rule != "" {
		b.WriteString(d.Rule)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	return b.String()
}

func newPolicyLintCmd(e *env) *cobra.Command {
	var strict bool
	c := &cobra.Command{
		Use:   "lint PATH...",
		Short: "Parse and compile policies; report errors as file:line:col",
		Long: `Parse and compile every policy file named, or found directly in a directory
named (*.yaml, *.yml, *.json), and check the policy test files
(*_test.yaml) found the same way. Each problem is one line, as a compiler
writes it:

  finance.yaml:14:32: error: rule "no-drop": undeclared reference to 'actoin' (at expression 1:1)

Errors: YAML that does not parse, unknown or missing fields, invalid names
and effects, CEL that does not compile (placed at its position inside the
when: value), a rule over the cost budget, a rule name used twice by
documents of the same policy name (the files of one directory are compiled
together, as a kernel loads them).

Warnings: a deny rule without a message; a rule that can never decide,
because another rule with the same condition comes first or overrides it
(deny over approve over audit over allow); a rule whose condition is the
constant true or false; an op compared with a name that is no op.

Output: --format table (one line per problem, then a summary on stderr),
json or jsonl (objects with file, line, column, severity, policy, rule,
message). Exit codes: 0 no error (warnings allowed, unless --strict), 1
errors found, 2 a usage error or a path that cannot be read.`,
		Example: `  agentctl policy lint policies/
  agentctl policy lint finance.yaml other.yaml --strict
  agentctl policy lint policies/ --format json | jq '.[] | select(.severity == "error")'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			diags, err := lint(cmd.Context(), args)
			if err != nil {
				return err
			}
			nerr, nwarn := 0, 0
			for _, d := range diags {
				if d.Severity == "error" {
					nerr++
				} else {
					nwarn++
				}
			}
			if e.format == "table" {
				for _, d := range diags {
					fmt.Fprintln(e.stdout, d.String())
				}
			} else if err := writeRecords(e, nil, diags, nil); err != nil {
				return err
			}
			switch {
			case nerr > 0 || (strict && nwarn > 0):
				return checkFailed("lint: %s, %s", plural(nerr, "error"), plural(nwarn, "warning"))
			case e.format == "table":
				fmt.Fprintf(e.stderr, "lint: %s, %s\n", plural(nerr, "error"), plural(nwarn, "warning"))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&strict, "strict", false, "fail (exit 1) on warnings too")
	return c
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// lint checks the paths: each file alone, then the files of each directory
// together. Only unreadable paths are errors; problems are diagnostics.
func lint(ctx context.Context, paths []string) ([]diagnostic, error) {
	var diags []diagnostic
	for _, p := range paths {
		policies, tests, err := policyFiles([]string{p})
		if err != nil {
			return nil, err
		}
		if len(policies)+len(tests) == 0 {
			return nil, usageError("%s: no policy or test file in it (*.yaml, *.yml, *.json)", p)
		}
		var unit []*policy.Document
		clean := true
		for _, f := range policies {
			docs, ds := lintFile(ctx, f)
			diags = append(diags, ds...)
			if docs == nil || len(ds) > 0 {
				clean = false
				continue
			}
			unit = append(unit, docs...)
		}
		if clean && len(policies) > 1 {
			// Together, as a kernel loads a directory: rule names used
			// twice by documents of the same name across files.
			if _, err := policy.NewEngineContext(ctx, unit, policy.WithResolver(offlineResolver{})); err != nil {
				diags = append(diags, errorDiagnostics("", err)...)
			}
		}
		// Warnings about the files that load.
		diags = append(diags, lintWarnings(unit)...)
		for _, f := range tests {
			tf, err := readTestFile(f)
			if err != nil {
				diags = append(diags, testFileDiagnostics(f, err)...)
				continue
			}
			for _, p := range tf.Policies {
				if !filepath.IsAbs(p) {
					p = filepath.Join(filepath.Dir(f), p)
				}
				if _, err := os.Stat(p); err != nil {
					diags = append(diags, diagnostic{File: f, Line: tf.policiesLine, Severity: "error",
						Message: fmt.Sprintf("policies: %s: %v", p, unwrapPathError(err))})
				}
			}
		}
	}
	return diags, nil
}

// lintFile parses and compiles one file. It returns nil documents when the
// file does not parse.
func lintFile(ctx context.Context, file string) ([]*policy.Document, []diagnostic) {
	docs, err := policy.ParseFile(file)
	if err != nil {
		ds := errorDiagnostics(file, err)
		for i := range ds {
			if ds[i].Line == 0 && strings.HasPrefix(ds[i].Message, "invalid YAML: ") {
				if src, err := os.ReadFile(file); err == nil {
					ds[i].Line = yamlErrorLine(src, "yaml: "+strings.TrimPrefix(ds[i].Message, "invalid YAML: "))
				}
			}
		}
		return nil, ds
	}
	if _, err := policy.NewEngineContext(ctx, docs, policy.WithResolver(offlineResolver{})); err != nil {
		return docs, errorDiagnostics(file, err)
	}
	return docs, nil
}

// errorDiagnostics turns load errors into diagnostics; an error that is
// not a *policy.Error is placed in file.
func errorDiagnostics(file string, err error) []diagnostic {
	var out []diagnostic
	for _, e := range flattenErrors(err) {
		pe, ok := e.(*policy.Error)
		if !ok {
			out = append(out, diagnostic{File: file, Severity: "error", Message: strings.TrimPrefix(e.Error(), "policy: ")})
			continue
		}
		f := pe.File
		if f == "" {
			f = file
		}
		msg := pe.Msg
		if pe.Line > 0 {
			// The YAML parser's "line N: " is in the position already.
			msg = strings.Replace(msg, fmt.Sprintf("invalid YAML: line %d: ", pe.Line), "invalid YAML: ", 1)
		}
		out = append(out, diagnostic{File: f, Line: pe.Line, Column: pe.Column, Severity: "error",
			Policy: pe.Policy, Rule: pe.Rule, Message: msg})
	}
	return out
}

var (
	spaces = regexp.MustCompile(`\s+`)
	// opEquals finds ops compared by == or in a list: action.op == "x",
	// "x" == action.op, action.op in ["x", "y"].
	opEquals = regexp.MustCompile(`action\.op\s*[!=]=\s*"([^"\\]*)"|"([^"\\]*)"\s*[!=]=\s*action\.op|action\.op\s+in\s*\[([^\]]*)\]`)
	quoted   = regexp.MustCompile(`"([^"\\]*)"`)
)

// lintWarnings finds rules that can never decide and other likely
// mistakes in documents that load.
func lintWarnings(docs []*policy.Document) []diagnostic {
	var out []diagnostic
	warn := func(d *policy.Document, r *policy.Rule, format string, args ...any) {
		out = append(out, diagnostic{File: d.File, Line: r.Line, Column: r.Column, Severity: "warning",
			Policy: d.Name, Rule: "rule " + strconv.Quote(r.Name), Message: fmt.Sprintf(format, args...)})
	}
	type seen struct {
		doc  *policy.Document
		rule *policy.Rule
	}
	// Conditions are compared as text with white space collapsed; one
	// that uses the document's variables is compared only within its
	// document.
	var (
		all     []seen
		keys    []string
		denyAll *seen
	)
	for _, d := range docs {
		for i := range d.Rules {
			r := &d.Rules[i]
			cond := strings.TrimSpace(spaces.ReplaceAllString(r.When, " "))
			if r.Effect == agentos.Deny && r.Message == "" {
				warn(d, r, "deny rule without a message: the agent and the operator see only its name")
			}
			switch cond {
			case "true":
				if r.Effect == agentos.Deny && denyAll == nil {
					denyAll = &seen{d, r}
					warn(d, r, "denies every action: no allow, approve or audit rule can take effect")
				}
			case "false":
				warn(d, r, "condition is the constant false: the rule never matches")
			}
			for _, m := range opEquals.FindAllStringSubmatch(r.When, -1) {
				names := []string{m[1], m[2]}
				if m[3] != "" {
					for _, q := range quoted.FindAllStringSubmatch(m[3], -1) {
						names = append(names, q[1])
					}
				}
				for _, n := range names {
					if n != "" && !agentos.Op(n).Valid() {
						warn(d, r, "action.op compared with %q, which is no op (ops: %s)", n, opList())
					}
				}
			}
			key := cond
			if strings.Contains(cond, "variables.") {
				key = d.Name + "\x00" + d.File + "\x00" + cond
			}
			all = append(all, seen{d, r})
			keys = append(keys, key)
		}
	}
	// A rule never decides when another with the same condition wins over
	// it: one of a stronger effect anywhere, or of the same effect earlier
	// (the first in load order names the decision). A limited rule still
	// counts against its own effect's matches: each limited match needs a
	// token.
	for i, r := range all {
		for j, s := range all {
			if i == j || keys[i] != keys[j] {
				continue
			}
			same := s.rule.Effect == r.rule.Effect
			if r.rule.Effect.Overrides(s.rule.Effect) || (same && (j > i || r.rule.Limit != nil)) {
				continue
			}
			how := "overrides it"
			if same {
				how = "comes first"
			}
			warn(r.doc, r.rule, "never decides: rule %q (%s, %s) has the same condition and %s",
				s.rule.Name, s.rule.Effect, position(s.doc.File, s.rule.Line, s.rule.Column), how)
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return out
}

// yamlErrorLine finds the line of a YAML syntax error whose message names
// none (the parser leaves some without a position): the first line at
// which a prefix of src fails with the same message, by bisection over
// line counts (a few parses; 0 when not found).
func yamlErrorLine(src []byte, msg string) int {
	msg = strings.TrimPrefix(msg, "yaml: ")
	lines := bytes.SplitAfter(src, []byte("\n"))
	fails := func(n int) bool {
		var v any
		err := yaml.Unmarshal(bytes.Join(lines[:n], nil), &v)
		return err != nil && strings.TrimPrefix(err.Error(), "yaml: ") == msg
	}
	if !fails(len(lines)) {
		return 0
	}
	lo, hi := 1, len(lines) // fails(hi) holds
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
