package cli_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/agent-os/agentos/cmd/agentctl/internal/cli"
)

// Explain which rules of the fixture policy match a payment: the
// decision, then every rule that matched, the deciding one starred.
func Example_policyExplain() {
	action := `{"agent":"a1","op":"exec","tool":"payments.send","args":{"amount":12.5}}`
	cli.Main([]string{"policy", "explain", "--policy", "../../testdata/policies/finance/finance.yaml"},
		strings.NewReader(action), os.Stdout, os.Stderr)
	// Output:
	// decision: audit by small-payments: small payments are audited (policy finance@7+38d9d6c97970)
	// RESULT    POLICY   RULE            EFFECT  SEVERITY  WHERE                                              NOTE
	// matched*  finance  small-payments  audit   info      ../../testdata/policies/finance/finance.yaml:25:7  small payments are audited
	// (3 rules evaluated, 3 skipped by the index; * names the decision)
}

// Lint a policy with CEL errors: each is placed at its line and column in
// the file, and the exit code is 1 (ExitCheck).
func Example_policyLint() {
	code := cli.Main([]string{"policy", "lint", "../../testdata/policies/broken/cel.yaml"}, nil, os.Stdout, os.Stdout)
	fmt.Println("exit", code)
	// Output:
	// ../../testdata/policies/broken/cel.yaml:10:39: error: rule "typo": undeclared reference to 'actoin' (did you mean 'action'?) (at expression 1:27)
	// ../../testdata/policies/broken/cel.yaml:14:13: error: rule "not-bool": when must be a boolean expression, but its type is dyn (compare explicitly, e.g. `... == true`)
	// agentctl: lint: 2 errors, 0 warnings
	// exit 1
}
