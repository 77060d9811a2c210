package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/policy"
)

// policyFixtures is the directory of fixture policies and tests.
const policyFixtures = "../../testdata/policies"

// policyWrite writes files (name -> text) into a new directory.
func policyWrite(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	return dir
}

const policyHeader = "apiVersion: agentos/v1\nkind: Policy\n"

func TestPolicyLintPositions(t *testing.T) {
	broken := filepath.Join(policyFixtures, "broken")
	code, out, errOut := policyRun("", "policy", "lint", broken)
	require.Equal(t, ExitCheck, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		broken + `/bad_test.yaml:3: error: unknown field colour`,
		broken + `/bad_test.yaml:5: error: test #2 has no name`,
		broken + `/bad_test.yaml:5: error: test #2: expect.effect "maybe": want allow, deny, approve or audit`,
		broken + `/bad_test.yaml:5: error: test #2: action: unknown op "fly"`,
		broken + `/cel.yaml:10:39: error: rule "typo": undeclared reference to 'actoin'`,
		broken + `/cel.yaml:14:13: error: rule "not-bool": when must be a boolean expression`,
		broken + `/fields.yaml:10:7: error: rule "extra": unknown field "colour" in a rule`,
		broken + `/notyaml.yaml:1: error: invalid YAML: mapping values are not allowed in this context`,
		broken + `/warn.yaml:8:7: warning: rule "no-shell": deny rule without a message`,
		broken + `/warn.yaml:11:7: warning: rule "shell-ok": never decides: rule "no-shell" (deny, ` + broken + `/warn.yaml:8:7) has the same condition and overrides it`,
		broken + `/warn.yaml:15:7: warning: rule "typo-op": action.op compared with "exce", which is no op`,
	}
	got := map[string]bool{}
	for _, l := range lines {
		got[l] = true
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, w) {
				found = true
			}
		}
		assert.True(t, found, "missing %q in\n%s", w, out)
	}
	assert.Len(t, lines, len(want), out)
	assert.Equal(t, "agentctl: lint: 8 errors, 3 warnings\n", errOut)
}

func TestPolicyLintClean(t *testing.T) {
	code, out, errOut := policyRun("", "policy", "lint", filepath.Join(policyFixtures, "finance"))
	require.Equal(t, ExitOK, code, errOut)
	assert.Empty(t, out)
	assert.Equal(t, "lint: 0 errors, 0 warnings\n", errOut)

	// Warnings pass, unless --strict.
	warn := filepath.Join(policyFixtures, "broken", "warn.yaml")
	code, _, _ = policyRun("", "policy", "lint", warn)
	assert.Equal(t, ExitOK, code)
	code, _, errOut = policyRun("", "policy", "lint", "--strict", warn)
	assert.Equal(t, ExitCheck, code)
	assert.Equal(t, "agentctl: lint: 0 errors, 3 warnings\n", errOut)
}

func TestPolicyLintJSON(t *testing.T) {
	code, out, _ := policyRun("", "policy", "lint", "--format", "json", filepath.Join(policyFixtures, "broken", "cel.yaml"))
	require.Equal(t, ExitCheck, code)
	var diags []diagnostic
	require.NoError(t, json.Unmarshal([]byte(out), &diags))
	require.Len(t, diags, 2)
	assert.Equal(t, 10, diags[0].Line)
	assert.Equal(t, 39, diags[0].Column)
	assert.Equal(t, "error", diags[0].Severity)
	assert.Equal(t, "broken", diags[0].Policy)
	assert.Equal(t, `rule "typo"`, diags[0].Rule)

	code, out, _ = policyRun("", "policy", "lint", "--format", "jsonl", filepath.Join(policyFixtures, "finance"))
	require.Equal(t, ExitOK, code)
	assert.Empty(t, out)
}

func TestPolicyLintAcrossFiles(t *testing.T) {
	// Each file loads alone; together (as a kernel loads the directory)
	// the policy "p" names rule r twice.
	dir := policyWrite(t, map[string]string{
		"a.yaml": policyHeader + "metadata: {name: p}\nspec:\n  rules:\n    - {name: r, effect: allow, when: 'true', message: m}\n",
		"b.yaml": policyHeader + "metadata: {name: p}\nspec:\n  rules:\n    - {name: r, effect: allow, when: 'false', message: m}\n",
	})
	code, out, _ := policyRun("", "policy", "lint", dir)
	require.Equal(t, ExitCheck, code)
	assert.Contains(t, out, filepath.Join(dir, "b.yaml")+`:6:7: error: rule "r": duplicate rule name (also defined in `+filepath.Join(dir, "a.yaml")+":6)")
}

func TestPolicyLintWarnings(t *testing.T) {
	doc, err := policy.Parse("w.yaml", []byte(policyHeader+`metadata: {name: w}
spec:
  rules:
    - {name: all, effect: deny, when: 'true', message: closed}
    - {name: a1, effect: allow, when: 'action.tool == "x"'}
    - {name: a2, effect: allow, when: 'action.tool  == "x"'}
    - {name: lim, effect: allow, when: 'action.tool == "x"', limit: {rate: 1, per: 1s}}
    - {name: au, effect: audit, when: 'action.tool == "x"'}
    - {name: never, effect: allow, when: 'false'}
    - {name: ops, effect: allow, when: 'action.op in ["read", "raed"] || "wirte" == action.op'}
`))
	require.NoError(t, err)
	var msgs []string
	for _, d := range lintWarnings([]*policy.Document{doc}) {
		msgs = append(msgs, d.Rule+": "+d.Message)
	}
	assert.Equal(t, []string{
		`rule "all": denies every action: no allow, approve or audit rule can take effect`,
		`rule "a1": never decides: rule "au" (audit, w.yaml:10:7) has the same condition and overrides it`,
		`rule "a2": never decides: rule "a1" (allow, w.yaml:7:7) has the same condition and comes first`,
		`rule "lim": never decides: rule "au" (audit, w.yaml:10:7) has the same condition and overrides it`,
		`rule "never": condition is the constant false: the rule never matches`,
		`rule "ops": action.op compared with "raed", which is no op (ops: read, write, append, stat, list, delete, exec, send, search, checkpoint, rollback, spawn, signal)`,
		`rule "ops": action.op compared with "wirte", which is no op (ops: read, write, append, stat, list, delete, exec, send, search, checkpoint, rollback, spawn, signal)`,
	}, msgs)
}

func TestPolicyLintBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no path", []string{"policy", "lint"}, ExitUsage, "requires at least 1 arg"},
		{"missing", []string{"policy", "lint", filepath.Join(dir, "nope.yaml")}, ExitUsage, "no such file or directory"},
		{"no subcommand", []string{"policy"}, ExitUsage, "name a subcommand"},
		{"empty directory", []string{"policy", "lint", dir}, ExitUsage, "no policy or test file in it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := policyRun("", tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
		})
	}
}

func TestPolicyTestFixture(t *testing.T) {
	finance := filepath.Join(policyFixtures, "finance")
	code, out, errOut := policyRun("", "policy", "test", finance)
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, "pass    analysts read with SQL")
	assert.Contains(t, out, "coverage: 4 of 6 rules exercised (67%)")
	assert.Contains(t, out, filepath.Join(finance, "finance.yaml")+`:29:7: rule "own-memory" (allow) of policy "finance": no test matches it`)
	assert.Contains(t, out, "ok: 5 tests passed")

	// Named by its policy file, and selected with --run.
	code, out, _ = policyRun("", "policy", "test", filepath.Join(finance, "finance.yaml"), "--run", "payments", "--format", "json")
	require.Equal(t, ExitOK, code)
	var rep testReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, 2, rep.Passed)
	assert.Equal(t, 6, rep.Rules)
	assert.Equal(t, 2, rep.Exercised)
	assert.Len(t, rep.Uncovered, 4)

	code, _, errOut = policyRun("", "policy", "test", finance, "--fail-uncovered")
	assert.Equal(t, ExitCheck, code)
	assert.Equal(t, "agentctl: test: 2 rules never exercised\n", errOut)
}

func TestPolicyTestFailures(t *testing.T) {
	dir := policyWrite(t, map[string]string{
		"p.yaml": policyHeader + `metadata: {name: p}
spec:
  rules:
    - {name: shell, effect: deny, when: 'action.tool == "shell"', message: no}
    - {name: big, effect: approve, when: 'action.args.amount > 10', message: ask}
    - {name: mem, effect: allow, when: 'path.under(action.path, "/mem")'}
`,
		"p_test.yaml": `tests:
  - name: shell is denied
    action: {op: exec, tool: shell}
    expect: {effect: deny, rule: shell}
  - name: wrong effect
    action: {op: read, path: /mem/a}
    expect: {effect: deny}
  - name: wrong rule
    action: {op: exec, tool: shell}
    expect: {effect: deny, rule: ""}
  - name: an erroring rule
    action: {op: exec, tool: pay}
    expect: {effect: deny, rule: ""}
`,
	})
	code, out, errOut := policyRun("", "policy", "test", dir, "--format", "jsonl")
	require.Equal(t, ExitCheck, code)
	assert.Equal(t, "agentctl: test: 2 of 4 tests failed\n", errOut)
	var results []testResult
	var uncovered []uncoveredRule
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, `"kind":"uncovered"`) {
			var u uncoveredRule
			require.NoError(t, json.Unmarshal([]byte(l), &u))
			uncovered = append(uncovered, u)
			continue
		}
		var r testResult
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		results = append(results, r)
	}
	require.Len(t, results, 4)
	assert.True(t, results[0].Pass)
	assert.False(t, results[1].Pass)
	assert.Equal(t, "allow", results[1].Effect)
	assert.Equal(t, 5, results[1].Line)
	assert.False(t, results[2].Pass)
	assert.Equal(t, "shell", results[2].Rule)
	assert.True(t, results[3].Pass, "an approve rule that fails to evaluate does not match")
	assert.NotEmpty(t, results[3].Errors)
	// big failed to evaluate in the only test that reached it: not
	// exercised.
	require.Len(t, uncovered, 1)
	assert.Equal(t, "big", uncovered[0].Rule)
	assert.Equal(t, 7, uncovered[0].Line)

	code, out, _ = policyRun("", "policy", "test", dir)
	require.Equal(t, ExitCheck, code)
	assert.Contains(t, out, "FAIL    wrong effect")
	assert.NotContains(t, out, "ok:")
}

func TestPolicyTestKernelDocuments(t *testing.T) {
	// A test of the operator's policy together with the kernel's privacy
	// guards; the kernel's rules are not counted in coverage.
	dir := policyWrite(t, map[string]string{
		"p.yaml": policyHeader + "metadata: {name: p}\nspec:\n  rules:\n    - {name: send, effect: allow, when: 'action.op == \"send\"'}\n",
		"p_test.yaml": `privacyGuards: true
tests:
  - name: an SSN to a topic is refused
    action: {op: send, target: news, meta: {direction: publish}, args: {payload: "my ssn is 123-45-6789"}}
    expect: {effect: deny, rule: privacy-ssn}
  - name: other messages go
    action: {op: send, target: news, meta: {direction: publish}, args: {payload: "hello"}}
    expect: {effect: allow, rule: send}
`,
	})
	code, out, errOut := policyRun("", "policy", "test", dir, "--format", "json")
	require.Equal(t, ExitOK, code, errOut)
	var rep testReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, 2, rep.Passed)
	assert.Equal(t, 1, rep.Rules)
	assert.Equal(t, 1, rep.Exercised)
}

func TestPolicyTestBadInput(t *testing.T) {
	good := policyHeader + "metadata: {name: p}\nspec:\n  rules:\n    - {name: r, effect: allow, when: 'true'}\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		arg   string
		want  string
	}{
		{"no test files", map[string]string{"p.yaml": good}, "", "no test files"},
		{"policy without tests", map[string]string{"p.yaml": good}, "p.yaml", "no test file beside it"},
		{"missing", nil, "nope", "nope: no such file or directory"},
		{"unknown field", map[string]string{"p.yaml": good, "p_test.yaml": "tests:\n  - name: a\n    action: {op: read, path: /a}\n    expect: {effect: allow, ruel: r}\n"}, "", "p_test.yaml:4: unknown field ruel"},
		{"wrong type", map[string]string{"p.yaml": good, "p_test.yaml": "tests:\n  - name: a\n    action: {op: read, path: /a, trust: high}\n    expect: {effect: allow}\n"}, "", "p_test.yaml:3: cannot unmarshal !!str `high` into float64"},
		{"not YAML", map[string]string{"p.yaml": good, "p_test.yaml": "tests: [\n"}, "", "p_test.yaml:"},
		{"empty", map[string]string{"p.yaml": good, "p_test.yaml": "# nothing\n"}, "", "empty test file"},
		{"aliases", map[string]string{"p.yaml": good, "p_test.yaml": "a: &x {op: read}\ntests:\n  - {name: a, action: *x, expect: {effect: allow}}\n"}, "", "anchors and aliases"},
		{"duplicate name", map[string]string{"p.yaml": good, "p_test.yaml": "tests:\n  - {name: a, action: {op: stat, path: /}, expect: {effect: allow}}\n  - {name: a, action: {op: stat, path: /}, expect: {effect: allow}}\n"}, "", "p_test.yaml:3: test \"a\": name used twice (first at line 2)"},
		{"bad path", map[string]string{"p.yaml": good, "p_test.yaml": "tests:\n  - {name: a, action: {op: read, path: ../x}, expect: {effect: allow}}\n"}, "", "the kernel refuses it before policy"},
		{"policy with errors", map[string]string{"p.yaml": policyHeader + "metadata: {name: p}\nspec:\n  rules:\n    - {name: r, effect: allow, when: 'nope'}\n", "p_test.yaml": "tests:\n  - {name: a, action: {op: stat, path: /}, expect: {effect: allow}}\n"}, "", "p.yaml:6:39: policy \"p\": rule \"r\": undeclared reference to 'nope'"},
		{"policies missing", map[string]string{"p_test.yaml": "policies: [gone.yaml]\ntests:\n  - {name: a, action: {op: stat, path: /}, expect: {effect: allow}}\n"}, "", "gone.yaml: no such file"},
		{"bad --run", map[string]string{"p.yaml": good, "p_test.yaml": "tests:\n  - {name: a, action: {op: stat, path: /}, expect: {effect: allow}}\n"}, "--run=(", "--run"},
		{"--run matches nothing", map[string]string{"p.yaml": good, "p_test.yaml": "tests:\n  - {name: a, action: {op: stat, path: /}, expect: {effect: allow}}\n"}, "--run=zzz", "no test matches --run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := policyWrite(t, tc.files)
			args := []string{"policy", "test", dir}
			switch {
			case strings.HasPrefix(tc.arg, "--"):
				args = append(args, tc.arg)
			case tc.arg != "":
				args[2] = filepath.Join(dir, tc.arg)
			}
			code, out, errOut := policyRun("", args...)
			assert.Equal(t, ExitUsage, code, errOut)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
		})
	}
}

func TestPolicyExplain(t *testing.T) {
	finance := filepath.Join(policyFixtures, "finance", "finance.yaml")
	act := `{"agent":"a1","role":"analyst","op":"exec","tool":"sql.query","args":{"query":"drop table t"}}`
	code, out, errOut := policyRun("", "policy", "explain", "-p", finance, "--action", act)
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, "decision: deny by no-destructive-sql: destructive SQL is not allowed (policy finance@7+")
	assert.Contains(t, out, "matched*  finance  no-destructive-sql")
	assert.Contains(t, out, finance+":16:7")

	// From standard input, as JSON: every matching rule, the decider
	// marked.
	act = `{"agent":"a1","role":"analyst","op":"exec","tool":"payments.send","args":{"amount":5000}}`
	code, out, errOut = policyRun(act, "policy", "explain", "-p", finance, "--format", "json")
	require.Equal(t, ExitOK, code, errOut)
	var x explainResult
	require.NoError(t, json.Unmarshal([]byte(out), &x))
	assert.Equal(t, "approve", x.Decision.Effect)
	assert.Equal(t, "big-payments-need-approval", x.Decision.Rule)
	require.Len(t, x.Rules, 1)
	assert.True(t, x.Rules[0].Decides)
	assert.Positive(t, x.Evaluated)

	// Several rules matched; an erroring rule shown as failed.
	dir := policyWrite(t, map[string]string{"p.yaml": policyHeader + `metadata: {name: p}
spec:
  rules:
    - {name: a, effect: allow, when: 'action.op == "read"'}
    - {name: b, effect: audit, when: 'action.op == "read"', message: watched}
    - {name: c, effect: deny, when: 'action.args.x > 1'}
`})
	code, out, _ = policyRun(`{"op":"read","path":"/mem/a"}`, "policy", "explain", "-p", dir, "-", "--format", "jsonl")
	require.Equal(t, ExitOK, code)
	x = explainResult{}
	require.NoError(t, json.Unmarshal([]byte(out), &x))
	assert.Equal(t, "deny", x.Decision.Effect, "an erroring deny rule denies")
	require.Len(t, x.Rules, 3)
	assert.Equal(t, "c", x.Rules[0].Rule)
	assert.NotEmpty(t, x.Rules[0].Error)
	assert.True(t, x.Rules[0].Decides)
	assert.Equal(t, "a", x.Rules[1].Rule)
	assert.Equal(t, "b", x.Rules[2].Rule)

	// An action file, and the kernel baseline.
	actFile := filepath.Join(t.TempDir(), "act.json")
	require.NoError(t, os.WriteFile(actFile, []byte(`{"op":"exec","tool":"x"}`), 0o600))
	code, out, _ = policyRun("", "policy", "explain", "--baseline", actFile)
	require.Equal(t, ExitOK, code)
	assert.Contains(t, out, "decision: deny by baseline-no-tools")

	// Nothing matched.
	code, out, _ = policyRun(`{"op":"exec","tool":"x"}`, "policy", "explain", "-p", finance)
	require.Equal(t, ExitOK, code)
	assert.Contains(t, out, "decision: deny by default")
	assert.Contains(t, out, "no rule matched")
}

func TestPolicyExplainBadInput(t *testing.T) {
	finance := filepath.Join(policyFixtures, "finance", "finance.yaml")
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"malformed JSON", `{"op": "read",`, nil, "action: 1:15: unexpected EOF"},
		{"syntax error", "{\n  \"op\": read\n}", nil, "action: 2:9: invalid character 'r'"},
		{"unknown field", `{"op":"read","colour":"red"}`, nil, `unknown field "colour"`},
		{"wrong type", `{"op":"read","trust":"high"}`, nil, "cannot unmarshal string into Go struct field"},
		{"two values", `{"op":"read"} {}`, nil, "more than one JSON value"},
		{"empty", ``, nil, "no action"},
		{"no op", `{"agent":"a"}`, nil, "op is missing"},
		{"bad op", `{"op":"fly"}`, nil, `unknown op "fly"`},
		{"bad path", `{"op":"read","path":"/a/../b"}`, nil, "the kernel refuses it before policy"},
		{"bad time", `{"op":"read","path":"/a","at":"noon"}`, nil, "RFC 3339"},
		{"deep args", `{"op":"exec","args":{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`, nil, "nested deeper"},
		{"missing file", "", []string{"/nonexistent/act.json"}, "no such file"},
		{"both", "", []string{"--action", `{"op":"read"}`, "a.json"}, "not both"},
		{"no policy", `{"op":"exec"}`, []string{"--policy="}, "no such file"},
		{"missing policy", `{"op":"exec"}`, []string{"-p", "/nonexistent/p.yaml"}, "no such file"},
		{"policy with errors", `{"op":"exec"}`, []string{"-p", filepath.Join(policyFixtures, "broken", "cel.yaml")}, "cel.yaml:10:39: policy \"broken\": rule \"typo\""},
		{"non-YAML policy", `{"op":"exec"}`, []string{"-p", filepath.Join(policyFixtures, "broken", "notyaml.yaml")}, "invalid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"policy", "explain"}
			hasPolicy := false
			for _, a := range tc.args {
				if strings.HasPrefix(a, "-p") || strings.HasPrefix(a, "--policy") {
					hasPolicy = true
				}
			}
			if !hasPolicy {
				args = append(args, "-p", finance)
			}
			args = append(args, tc.args...)
			code, out, errOut := policyRun(tc.stdin, args...)
			assert.Equal(t, ExitUsage, code, errOut)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
		})
	}
}

func TestActionInput(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	a, err := decodeActionJSON([]byte(`{"id":"t1","agent":"a1","role":"r","trust":0.5,"labels":{"k":"v"},
		"op":"exec","tool":"sql","args":{"n":3,"f":2.5,"big":1e30,"l":[1,{"x":null}]},"target":"b","payloadType":"text/plain",
		"meta":{"m":"v"},"peer":{"id":"p","role":"pr","trust":0.9,"labels":{"iatp.retention":"ephemeral"}},
		"toolInfo":{"version":"1.0.0","sideEffect":"read","cost":2,"tags":["t"],"permissions":["p"],"deprecated":true},
		"at":"2026-01-02T03:04:05Z"}`))
	require.NoError(t, err)
	in, err := a.input(now)
	require.NoError(t, err)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	assert.Equal(t, policy.Input{
		Action: agentos.Action{ID: "t1", Agent: "a1", Op: agentos.OpExec, Tool: "sql", Target: "b",
			PayloadType: "text/plain", Meta: map[string]string{"m": "v"}, At: at,
			Args: map[string]any{"n": int64(3), "f": 2.5, "big": 1e30, "l": []any{int64(1), map[string]any{"x": nil}}}},
		Agent: policy.Subject{ID: "a1", Role: "r", Trust: 0.5, Labels: map[string]string{"k": "v"}},
		Peer:  &policy.Subject{ID: "p", Role: "pr", Trust: 0.9, Labels: map[string]string{"iatp.retention": "ephemeral"}},
		Tool: &policy.Tool{Name: "sql", Version: "1.0.0", SideEffect: "read", Cost: 2, Tags: []string{"t"},
			Permissions: []string{"p"}, Deprecated: true},
		Now: at,
	}, in)

	// An exec's args are never nil; a file op's path is cleaned; the
	// time defaults to now.
	a, err = decodeActionJSON([]byte(`{"op":"exec","tool":"t"}`))
	require.NoError(t, err)
	in, err = a.input(now)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{}, in.Action.Args)
	assert.Equal(t, now, in.Now)
	a, err = decodeActionJSON([]byte(`{"op":"read","path":"/mem//a/./b"}`))
	require.NoError(t, err)
	in, err = a.input(now)
	require.NoError(t, err)
	assert.Equal(t, "/mem/a/b", in.Action.Path)
	a, err = decodeActionJSON([]byte(`{"op":"list"}`))
	require.NoError(t, err)
	_, err = a.input(now)
	require.ErrorContains(t, err, "empty path", "file ops need a path, as in the kernel")
}

func TestParseTestFileYAMLValues(t *testing.T) {
	tf, err := parseTestFile("t_test.yaml", []byte(`tests:
  - name: values
    action:
      op: exec
      tool: t
      at: 2026-01-02T03:04:05Z
      trust: 1
      args: {n: 5, f: 1.5, when: 2026-01-01T00:00:00Z, big: 18446744073709551615, list: [a, 2]}
    expect: {effect: allow}
`))
	require.Error(t, err, "an integer over int64 is refused")
	assert.Contains(t, err.Error(), "t_test.yaml:2: test \"values\": action: args: integer 18446744073709551615 overflows int64")
	assert.Nil(t, tf)

	tf, err = parseTestFile("t_test.yaml", []byte(`tests:
  - name: values
    action:
      op: exec
      tool: t
      at: 2026-01-02T03:04:05Z
      trust: 1
      args: {n: 5, f: 1.5, when: 2026-01-01T00:00:00Z, list: [a, 2]}
    expect: {effect: allow}
`))
	require.NoError(t, err)
	in, err := tf.Tests[0].Action.input(time.Now())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"n": int64(5), "f": 1.5, "when": "2026-01-01T00:00:00Z", "list": []any{"a", int64(2)}}, in.Action.Args)
	assert.Equal(t, 1.0, in.Agent.Trust)
	assert.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), in.Now)
}

func FuzzDecodeActionJSON(f *testing.F) {
	f.Add([]byte(`{"agent":"a1","role":"analyst","op":"exec","tool":"sql.query","args":{"query":"select 1"}}`))
	f.Add([]byte(`{"op":"read","path":"/mem/../x"}`))
	f.Add([]byte(`{"op":"send","peer":{"trust":1},"toolInfo":{"tags":["a"]},"at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"op":`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, src []byte) {
		a, err := decodeActionJSON(src)
		if err != nil {
			if a != nil {
				t.Fatal("an action with an error")
			}
			return
		}
		in, err := a.input(time.Unix(0, 0))
		if err == nil && !in.Action.Op.Valid() {
			t.Fatalf("invalid op %q accepted", in.Action.Op)
		}
	})
}

func FuzzParseTestFile(f *testing.F) {
	f.Add([]byte("tests:\n  - name: a\n    action: {op: read, path: /mem/a}\n    expect: {effect: allow, rule: r}\n"))
	f.Add([]byte("policies: [p.yaml]\nbaseline: true\ntests: []\n"))
	f.Add([]byte("tests:\n  - {name: a, action: {op: fly, colour: red}, expect: {effect: maybe}}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("tests: [\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		tf, err := parseTestFile("f_test.yaml", src)
		if err != nil {
			if tf != nil {
				t.Fatal("a test file with an error")
			}
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		if len(tf.Tests) == 0 {
			t.Fatal("a test file without tests accepted")
		}
		for _, tc := range tf.Tests {
			if _, err := tc.Action.input(time.Unix(0, 0)); err != nil {
				t.Fatalf("accepted an action that does not build: %v", err)
			}
		}
	})
}

func FuzzYAMLErrorLine(f *testing.F) {
	f.Add([]byte("a: b: c\n"), "mapping values are not allowed in this context")
	f.Add([]byte("x\n\ty\n"), "found character that cannot start any token")
	f.Fuzz(func(t *testing.T, src []byte, msg string) {
		if len(src) > 4096 {
			return
		}
		n := yamlErrorLine(src, msg)
		if n < 0 || n > strings.Count(string(src), "\n")+1 {
			t.Fatalf("line %d out of range", n)
		}
	})
}

func TestPolicyLintTestFilePolicies(t *testing.T) {
	dir := policyWrite(t, map[string]string{
		"p.yaml":      policyHeader + "metadata: {name: p}\nspec: {}\n",
		"p_test.yaml": "# tests\npolicies: [p.yaml, gone.yaml]\ntests:\n  - {name: a, action: {op: stat, path: /}, expect: {effect: deny}}\n",
	})
	code, out, _ := policyRun("", "policy", "lint", dir)
	require.Equal(t, ExitCheck, code)
	assert.Equal(t, filepath.Join(dir, "p_test.yaml")+":2: error: policies: "+filepath.Join(dir, "gone.yaml")+": no such file or directory\n", out)
}

func TestPolicyTestCoverageAcrossFiles(t *testing.T) {
	// One policy in two files: a rule of each is exercised.
	dir := policyWrite(t, map[string]string{
		"a.yaml": policyHeader + "metadata: {name: p}\nspec:\n  rules:\n    - {name: ra, effect: allow, when: 'action.tool == \"a\"'}\n",
		"b.yaml": policyHeader + "metadata: {name: p}\nspec:\n  rules:\n    - {name: rb, effect: allow, when: 'action.tool == \"b\"'}\n    - {name: rc, effect: allow, when: 'action.tool == \"c\"'}\n",
		"p_test.yaml": `tests:
  - {name: a, action: {op: exec, tool: a}, expect: {effect: allow, rule: ra}}
  - {name: b, action: {op: exec, tool: b}, expect: {effect: allow, rule: rb}}
`,
	})
	code, out, errOut := policyRun("", "policy", "test", dir, "--format", "json")
	require.Equal(t, ExitOK, code, errOut)
	var rep testReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, 3, rep.Rules)
	assert.Equal(t, 2, rep.Exercised)
	require.Len(t, rep.Uncovered, 1)
	assert.Equal(t, "rc", rep.Uncovered[0].Rule)
	assert.Equal(t, filepath.Join(dir, "b.yaml"), rep.Uncovered[0].File)
}
