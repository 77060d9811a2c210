package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/policy"
)

// testFile is a policy test file (NAME_test.yaml beside the policies).
type testFile struct {
	// Policies are the policy files or directories under test, relative
	// to the test file; none means the policy files of its directory.
	Policies      []string   `yaml:"policies"`
	Baseline      bool       `yaml:"baseline"`      // add the kernel's baseline and privacy guards
	PrivacyGuards bool       `yaml:"privacyGuards"` // add the kernel's privacy guards
	Tests         []testCase `yaml:"tests"`

	path         string
	lines        []int // line of each test
	policiesLine int   // line of the policies field
}

// testCase is one test: an action and the decision expected of it.
type testCase struct {
	Name   string     `yaml:"name"`
	Action actionSpec `yaml:"action"`
	Expect expectSpec `yaml:"expect"`
}

// expectSpec is the expected decision: its effect and, when given, the
// rule that names it ("" for the default effect).
type expectSpec struct {
	Effect string  `yaml:"effect"`
	Rule   *string `yaml:"rule"`
}

// Bounds on test files.
const (
	maxTestFileBytes = policy.MaxSourceSize
	maxTests         = 10000
)

// testFileError is a problem in a test file, at a line when known.
type testFileError struct {
	file string
	line int
	msg  string
}

func (e *testFileError) Error() string { return position(e.file, e.line, 0) + ": " + e.msg }

// testFileErrors is every problem of one test file.
type testFileErrors []*testFileError

func (l testFileErrors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

var (
	yamlErrLine  = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlNotFound = regexp.MustCompile(`field (\S+) not found in type \S+`)
	yamlType     = regexp.MustCompile(` into (\S+\.)?(\w+)`)
)

// readTestFile reads and checks a test file. Decoding is strict: unknown
// fields, a field given twice, values of the wrong type, tests without a
// name or an expected effect, and actions policy could not see are errors
// (a testFileErrors, each with its line).
func readTestFile(path string) (*testFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError("%s: %v", path, unwrapPathError(err))
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxTestFileBytes+1))
	if err != nil {
		return nil, usageError("%s: %v", path, err)
	}
	if len(src) > maxTestFileBytes {
		return nil, testFileErrors{{file: path, msg: fmt.Sprintf("over %d bytes", maxTestFileBytes)}}
	}
	return parseTestFile(path, src)
}

// parseTestFile decodes a test file's text.
func parseTestFile(path string, src []byte) (*testFile, error) {
	tf := &testFile{path: path}
	bad := func(line int, format string, args ...any) *testFileError {
		return &testFileError{file: path, line: line, msg: fmt.Sprintf(format, args...)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, yamlErrors(path, src, err)
	}
	if len(root.Content) == 0 {
		return nil, testFileErrors{bad(0, "empty test file: want tests: [...]")}
	}
	if hasAliases(&root) {
		return nil, testFileErrors{bad(0, "YAML anchors and aliases are not allowed in test files")}
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	var errs testFileErrors
	if err := dec.Decode(tf); err != nil {
		// Type errors (unknown fields, wrong types) leave the rest
		// decoded: check it too, to report every problem at once.
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, yamlErrors(path, src, err)
		}
		errs = append(errs, yamlErrors(path, src, err)...)
	} else {
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			return nil, testFileErrors{bad(0, "more than one YAML document")}
		}
	}
	// The line of each test, from the node tree.
	if top := root.Content[0]; top.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value == "policies" {
				tf.policiesLine = top.Content[i].Line
			}
			if top.Content[i].Value == "tests" && top.Content[i+1].Kind == yaml.SequenceNode {
				for _, n := range top.Content[i+1].Content {
					tf.lines = append(tf.lines, n.Line)
				}
			}
		}
	}
	if len(tf.Tests) == 0 && len(errs) == 0 {
		errs = append(errs, bad(0, "no tests: want tests: [{name, action, expect}]"))
	}
	if len(tf.Tests) > maxTests {
		errs = append(errs, bad(0, "%d tests, over the limit of %d", len(tf.Tests), maxTests))
		return nil, errs
	}
	seen := map[string]int{}
	for i := range tf.Tests {
		tc := &tf.Tests[i]
		line := tf.line(i)
		label := fmt.Sprintf("test #%d", i+1)
		if tc.Name == "" {
			errs = append(errs, bad(line, "%s has no name", label))
		} else {
			label = "test " + strconv.Quote(tc.Name)
			if l, dup := seen[tc.Name]; dup {
				errs = append(errs, bad(line, "%s: name used twice (first at line %d)", label, l))
			}
			seen[tc.Name] = line
		}
		if tc.Expect.Effect == "" {
			errs = append(errs, bad(line, "%s: expect.effect is missing (allow, deny, approve or audit)", label))
		} else if _, err := agentos.ParseEffect(tc.Expect.Effect); err != nil {
			errs = append(errs, bad(line, "%s: expect.effect %q: want allow, deny, approve or audit", label, tc.Expect.Effect))
		}
		if _, err := tc.Action.input(time.Unix(0, 0)); err != nil {
			errs = append(errs, bad(line, "%s: action: %v", label, err))
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].line < errs[j].line })
		return nil, errs
	}
	return tf, nil
}

func (tf *testFile) line(i int) int {
	if i < len(tf.lines) {
		return tf.lines[i]
	}
	return 0
}

// hasAliases reports whether the tree uses anchors or aliases (which could
// expand a small file into a huge one).
func hasAliases(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return true
	}
	for _, c := range n.Content {
		if hasAliases(c) {
			return true
		}
	}
	return false
}

// yamlErrors turns a YAML decoding error into file:line errors, in the
// words of test files rather than of Go types.
func yamlErrors(path string, src []byte, err error) testFileErrors {
	var lines []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		lines = te.Errors
	} else {
		lines = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var out testFileErrors
	for _, l := range lines {
		e := &testFileError{file: path, msg: l}
		if m := yamlErrLine.FindStringSubmatch(l); m != nil {
			e.line, _ = strconv.Atoi(m[1])
			e.msg = m[2]
		}
		if e.line == 0 {
			e.line = yamlErrorLine(src, l)
		}
		e.msg = yamlNotFound.ReplaceAllString(e.msg, "unknown field $1")
		e.msg = yamlType.ReplaceAllString(e.msg, " into $2")
		out = append(out, e)
	}
	return out
}

// testFileDiagnostics turns the errors of a test file into lint
// diagnostics.
func testFileDiagnostics(path string, err error) []diagnostic {
	var l testFileErrors
	if !errors.As(err, &l) {
		return []diagnostic{{File: path, Severity: "error", Message: err.Error()}}
	}
	out := make([]diagnostic, len(l))
	for i, e := range l {
		out[i] = diagnostic{File: e.file, Line: e.line, Severity: "error", Message: e.msg}
	}
	return out
}

// testResult is the outcome of one test.
type testResult struct {
	Kind       string   `json:"kind"` // "test"
	File       string   `json:"file"`
	Line       int      `json:"line"`
	Name       string   `json:"name"`
	Pass       bool     `json:"pass"`
	Effect     string   `json:"effect"` // what the policy decided
	Rule       string   `json:"rule"`
	WantEffect string   `json:"want_effect"`
	WantRule   *string  `json:"want_rule,omitempty"`
	Errors     []string `json:"errors,omitempty"` // evaluation errors met
}

// uncoveredRule is a rule that no test's action matched.
type uncoveredRule struct {
	Kind   string `json:"kind"` // "uncovered"
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Policy string `json:"policy"`
	Rule   string `json:"rule"`
	Effect string `json:"effect"`
}

// testReport is the output of policy test with --format json.
type testReport struct {
	Tests     []testResult    `json:"tests"`
	Passed    int             `json:"passed"`
	Failed    int             `json:"failed"`
	Rules     int             `json:"rules"`     // rules of the policies under test
	Exercised int             `json:"exercised"` // rules some test's action matched
	Uncovered []uncoveredRule `json:"uncovered"`
}

func newPolicyTestCmd(e *env) *cobra.Command {
	var (
		run           string
		failUncovered bool
	)
	c := &cobra.Command{
		Use:   "test PATH...",
		Short: "Run policy unit tests written in YAML beside the policies",
		Long: `Run policy unit tests, as opa test does for Rego. A test file sits beside the
policies it tests and is named NAME_test.yaml (or .yml, .json); a kernel
loading the directory skips it. Each PATH is a directory (every test file
directly in it), a test file, or a policy file (the test files named after
it: finance.yaml runs finance_test.yaml).

A test file:

  # finance_test.yaml
  policies: [finance.yaml]   # optional, relative to this file: files or
                             # directories; default: the policy files of
                             # this file's directory, as a kernel loads them
  baseline: false            # optional: add the kernel's baseline and
  privacyGuards: false       # privacy guards (see agentctl replay --help)
  tests:
    - name: analysts read with SQL
      action: {agent: a1, role: analyst, op: exec, tool: sql.query,
               args: {query: "select * from t"}}
      expect: {effect: allow, rule: read-only-sql}
    - name: nothing else
      action: {agent: a1, op: exec, tool: shell}
      expect: {effect: deny, rule: ""}   # rule "": the default effect decides

expect.effect is required; expect.rule, when given, must name the deciding
rule. Decoding is strict: an unknown field, a wrong type or a missing name
is an error at its line. Tests decide without taking rate-limit tokens, so
they do not depend on their order.

` + actionFormatHelp + `

After the tests, coverage: every rule of the policies under test that no
test's action matched (an erroring deny rule does not count), with its
position.

Output: --format table (a row per test, then coverage), json (one object:
tests, passed, failed, rules, exercised, uncovered) or jsonl (a line per
test, kind "test", then a line per uncovered rule, kind "uncovered").
Exit codes: 0 every test passed, 1 a test failed (or, with
--fail-uncovered, a rule is never exercised), 2 a usage error, a test file
that does not decode or a policy that does not load.`,
		Example: `  agentctl policy test policies/
  agentctl policy test policies/finance.yaml --run 'analyst'
  agentctl policy test policies/ --fail-uncovered --format jsonl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sel *regexp.Regexp
			if run != "" {
				var err error
				if sel, err = regexp.Compile(run); err != nil {
					return usageError("--run %q: %v", run, err)
				}
			}
			files, err := findTestFiles(args)
			if err != nil {
				return err
			}
			rep, err := runTests(cmd.Context(), files, sel)
			if err != nil {
				return err
			}
			if err := writeTestReport(e, rep); err != nil {
				return err
			}
			switch {
			case rep.Failed > 0:
				return checkFailed("test: %d of %d tests failed", rep.Failed, rep.Failed+rep.Passed)
			case failUncovered && len(rep.Uncovered) > 0:
				return checkFailed("test: %s never exercised", plural(len(rep.Uncovered), "rule"))
			}
			return nil
		},
	}
	c.Flags().StringVar(&run, "run", "", "run only the tests whose name matches this regular expression")
	c.Flags().BoolVar(&failUncovered, "fail-uncovered", false, "fail (exit 1) when a rule is never exercised")
	return c
}

// findTestFiles expands the paths into test files.
func findTestFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		policies, tests, err := policyFiles([]string{p})
		if err != nil {
			return nil, err
		}
		out = append(out, tests...)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && len(policies) == 1 {
			// A policy file: the test files named after it.
			ext := filepath.Ext(p)
			stem := strings.TrimSuffix(p, ext)
			found := false
			for _, x := range []string{".yaml", ".yml", ".json"} {
				if _, err := os.Stat(stem + "_test" + x); err == nil {
					out = append(out, stem+"_test"+x)
					found = true
				}
			}
			if !found {
				return nil, usageError("%s: no test file beside it (want %s_test.yaml)", p, filepath.Base(stem))
			}
		}
	}
	if len(out) == 0 {
		return nil, usageError("no test files (NAME_test.yaml) in %s", strings.Join(paths, ", "))
	}
	return out, nil
}

// ruleKey names a rule of a loaded file for coverage.
type ruleKey struct{ file, policy, rule string }

// runTests runs every test of files (those sel matches, when set).
func runTests(ctx context.Context, files []string, sel *regexp.Regexp) (testReport, error) {
	rep := testReport{Tests: []testResult{}, Uncovered: []uncoveredRule{}}
	rules := map[ruleKey]uncoveredRule{}
	hit := map[ruleKey]bool{}
	now := time.Now().UTC()
	for _, path := range files {
		tf, err := readTestFile(path)
		if err != nil {
			var l testFileErrors
			if errors.As(err, &l) {
				return rep, usageError("%s", firstWithCount(l))
			}
			return rep, err
		}
		docs, err := tf.documents()
		if err != nil {
			return rep, err
		}
		eng, err := newEngine(ctx, docs)
		if err != nil {
			return rep, err
		}
		for _, d := range docs {
			if d.File == "" || isKernelDocument(d) {
				continue
			}
			for _, r := range d.Rules {
				k := ruleKey{filepath.Clean(d.File), d.Name, r.Name}
				rules[k] = uncoveredRule{Kind: "uncovered", File: d.File, Line: r.Line, Column: r.Column,
					Policy: d.Name, Rule: r.Name, Effect: r.Effect.String()}
			}
		}
		// The file of each rule of this engine (a policy's documents may
		// span files; its rule names are unique across them).
		files := map[[2]string]string{}
		for _, d := range docs {
			for _, r := range d.Rules {
				files[[2]string{d.Name, r.Name}] = filepath.Clean(d.File)
			}
		}
		for i, tc := range tf.Tests {
			if sel != nil && !sel.MatchString(tc.Name) {
				continue
			}
			in, err := tc.Action.input(now)
			if err != nil {
				return rep, usageError("%s: test %q: action: %v", position(path, tf.line(i), 0), tc.Name, err)
			}
			x, err := eng.Explain(ctx, in)
			res := testResult{Kind: "test", File: path, Line: tf.line(i), Name: tc.Name,
				Effect: x.Decision.Effect.String(), Rule: x.Decision.Rule,
				WantEffect: tc.Expect.Effect, WantRule: tc.Expect.Rule, Errors: x.Decision.Errors}
			if err != nil {
				res.Errors = append(res.Errors, err.Error())
			}
			res.Pass = err == nil && res.Effect == res.WantEffect && (res.WantRule == nil || *res.WantRule == res.Rule)
			for _, r := range x.Rules {
				if r.Matched && r.Error == "" {
					hit[ruleKey{files[[2]string{r.Policy, r.Rule}], r.Policy, r.Rule}] = true
				}
			}
			if res.Pass {
				rep.Passed++
			} else {
				rep.Failed++
			}
			rep.Tests = append(rep.Tests, res)
		}
	}
	rep.Rules = len(rules)
	for k, u := range rules {
		if hit[k] {
			rep.Exercised++
			continue
		}
		rep.Uncovered = append(rep.Uncovered, u)
	}
	sort.Slice(rep.Uncovered, func(i, j int) bool {
		a, b := rep.Uncovered[i], rep.Uncovered[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	if rep.Passed+rep.Failed == 0 {
		return rep, usageError("no test matches --run")
	}
	return rep, nil
}

// firstWithCount renders the first error of a list and how many follow.
func firstWithCount(l testFileErrors) string {
	if len(l) == 1 {
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more; run agentctl policy lint)", l[0].Error(), len(l)-1)
}

// isKernelDocument reports whether d is the kernel's own baseline or
// privacy document (not covered: it is not the operator's).
func isKernelDocument(d *policy.Document) bool {
	return d.File == kernel.BaselineName || d.File == kernel.PrivacyName
}

// documents loads the policies a test file tests.
func (tf *testFile) documents() ([]*policy.Document, error) {
	src := policySource{baseline: tf.Baseline, privacy: tf.PrivacyGuards}
	dir := filepath.Dir(tf.path)
	if len(tf.Policies) == 0 {
		src.paths = []string{dir}
	}
	for _, p := range tf.Policies {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		src.paths = append(src.paths, p)
	}
	return src.load()
}

func writeTestReport(e *env, rep testReport) error {
	switch e.format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "jsonl":
		if err := writeRecords(e, nil, rep.Tests, nil); err != nil {
			return err
		}
		return writeRecords(e, nil, rep.Uncovered, nil)
	}
	err := writeRecords(e, []string{"RESULT", "TEST", "WHERE", "GOT", "WANT"}, rep.Tests, func(r testResult) []string {
		res := "pass"
		if !r.Pass {
			res = "FAIL"
		}
		want := r.WantEffect
		if r.WantRule != nil {
			want = verdict(r.WantEffect, *r.WantRule)
		}
		got := verdict(r.Effect, r.Rule)
		if len(r.Errors) > 0 {
			got += " (errors: " + strings.Join(r.Errors, "; ") + ")"
		}
		return []string{res, r.Name, position(r.File, r.Line, 0), got, want}
	})
	if err != nil {
		return err
	}
	pct := 100.0
	if rep.Rules > 0 {
		pct = 100 * float64(rep.Exercised) / float64(rep.Rules)
	}
	fmt.Fprintf(e.stdout, "\ncoverage: %d of %d rules exercised (%.0f%%)\n", rep.Exercised, rep.Rules, pct)
	for _, u := range rep.Uncovered {
		fmt.Fprintf(e.stdout, "%s: rule %q (%s) of policy %q: no test matches it\n",
			position(u.File, u.Line, u.Column), u.Rule, u.Effect, u.Policy)
	}
	if rep.Failed == 0 {
		_, err = fmt.Fprintf(e.stdout, "ok: %s passed\n", plural(rep.Passed, "test"))
	}
	return err
}
