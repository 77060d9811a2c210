package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/policy"
)

func init() { register("policy", newPolicyCmd) }

// newPolicyCmd is "agentctl policy": lint, test and explain.
func newPolicyCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "policy",
		Short: "Lint, unit-test and explain policies",
		Long: `Lint, unit-test and explain agentos policies.

  lint     parse and compile policy files; report errors as file:line:col
  test     run the YAML unit tests beside the policies, with rule coverage
  explain  show every rule that matched an action given as JSON

Exit codes: 0 success, 1 lint errors or failing tests, 2 a usage error or
input that cannot be read (a missing file, a policy that does not load for
test and explain, a malformed action).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError("policy: name a subcommand: lint, test or explain")
		},
	}
	c.AddCommand(newPolicyLintCmd(e), newPolicyTestCmd(e), newPolicyExplainCmd(e))
	return c
}

// policySource says which policy documents a command decides with: the
// files and directories given, and optionally the kernel's own documents.
type policySource struct {
	paths    []string
	baseline bool // the kernel's baseline and privacy documents (kernel.New with no policy)
	privacy  bool // the kernel's privacy guards (kernel.WithPrivacyGuards)
}

const policySourceHelp = `Policies: --policy names a policy file or a directory (every *.yaml,
*.yml and *.json file directly in it except *_test.* files, as a kernel
loads it with WithPolicyDir); repeat it to load several, in order.
--baseline adds the kernel's baseline and privacy-guard documents (what
kernel.New loads when given no policy; a kernel given a policy does not
load the baseline), and --privacy-guards adds the privacy guards alone
(kernel.WithPrivacyGuards). Egress hostnames are not resolved: decisions do
not depend on them.`

func (s *policySource) flags(c *cobra.Command) {
	c.Flags().StringArrayVarP(&s.paths, "policy", "p", nil, "policy file or directory (repeatable)")
	c.Flags().BoolVar(&s.baseline, "baseline", false, "add the kernel's baseline and privacy-guard documents")
	c.Flags().BoolVar(&s.privacy, "privacy-guards", false, "add the kernel's privacy-guard document")
}

// load parses the documents. Files that cannot be read and documents that
// do not parse are usage errors (exit 2): a command cannot decide with
// them.
func (s *policySource) load() ([]*policy.Document, error) {
	if len(s.paths) == 0 && !s.baseline {
		return nil, usageError("name the policy to decide with: --policy FILE|DIR (or --baseline)")
	}
	var docs []*policy.Document
	for _, p := range s.paths {
		d, err := loadPolicyPath(p)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	kdocs, err := kernelDocuments(s.baseline, s.privacy)
	if err != nil {
		return nil, err
	}
	if s.baseline {
		// The kernel's order: its documents, then the operator's.
		return append(kdocs, docs...), nil
	}
	return append(docs, kdocs...), nil
}

// kernelDocuments returns the kernel's baseline and privacy documents
// (baseline) or the privacy document alone (privacy).
func kernelDocuments(baseline, privacy bool) ([]*policy.Document, error) {
	var out []*policy.Document
	if baseline {
		d, err := policy.Parse(kernel.BaselineName, kernel.Baseline())
		if err != nil {
			return nil, usageError("the kernel baseline does not load: %v", err)
		}
		out = append(out, d)
	}
	if baseline || privacy {
		d, err := policy.Parse(kernel.PrivacyName, kernel.PrivacyGuards())
		if err != nil {
			return nil, usageError("the kernel privacy guards do not load: %v", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// loadPolicyPath parses a policy file, or the policy files of a directory.
func loadPolicyPath(path string) ([]*policy.Document, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, usageError("policy %s: %v", path, unwrapPathError(err))
	}
	var docs []*policy.Document
	if st.IsDir() {
		docs, err = policy.ParseDir(path)
	} else {
		docs, err = policy.ParseFile(path)
	}
	if err != nil {
		return nil, policyLoadError(err)
	}
	if len(docs) == 0 {
		return nil, usageError("policy %s: no policy file in the directory", path)
	}
	return docs, nil
}

// policyLoadError is a usage error for documents that do not load: the
// first error, and how many more there are.
func policyLoadError(err error) error {
	errs := flattenErrors(err)
	if len(errs) == 0 {
		return usageError("policy does not load: %v", err)
	}
	msg := strings.TrimPrefix(errs[0].Error(), "policy: ")
	if n := len(errs) - 1; n > 0 {
		return usageError("policy does not load: %s (and %d more; run agentctl policy lint)", msg, n)
	}
	return usageError("policy does not load: %s", msg)
}

// flattenErrors returns the leaves of a tree of joined errors. A
// *policy.Error is a leaf (it unwraps to its sentinel and cause, which are
// not separate errors).
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	var pe *policy.Error
	if errors.As(err, &pe) && pe == err {
		return []error{err}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// newEngine compiles docs for deciding (never resolving hostnames), with
// extra options. Documents that do not compile are a usage error.
func newEngine(ctx context.Context, docs []*policy.Document, opts ...policy.Option) (*policy.Engine, error) {
	eng, err := policy.NewEngineContext(ctx, docs, append([]policy.Option{policy.WithResolver(offlineResolver{})}, opts...)...)
	if err != nil {
		return nil, policyLoadError(err)
	}
	return eng, nil
}

// offlineResolver resolves every hostname of an egress rule to an address
// reserved for documentation (192.0.2.1, RFC 5737) without any network:
// agentctl decides actions, and no action's decision depends on egress.
type offlineResolver struct{}

var _ policy.Resolver = offlineResolver{}

func (offlineResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, 1})}, nil
}

// policyFiles expands paths into policy files and test files: a file is
// taken as it is (a test file when policy.IsTestFile says so); a directory
// gives every *.yaml, *.yml and *.json file directly in it, sorted.
func policyFiles(paths []string) (policies, tests []string, err error) {
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, usageError("%s: %v", p, unwrapPathError(err))
		}
		if !st.IsDir() {
			if policy.IsTestFile(p) {
				tests = append(tests, p)
			} else {
				policies = append(policies, p)
			}
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, nil, usageError("%s: %v", p, unwrapPathError(err))
		}
		var names []string
		for _, en := range ents {
			if en.IsDir() {
				continue
			}
			switch strings.ToLower(filepath.Ext(en.Name())) {
			case ".yaml", ".yml", ".json":
				names = append(names, en.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			if policy.IsTestFile(n) {
				tests = append(tests, filepath.Join(p, n))
			} else {
				policies = append(policies, filepath.Join(p, n))
			}
		}
	}
	return policies, tests, nil
}

// ruleWhere returns "file:line:col" of a rule of the engine's documents,
// or "" when it is not found.
func ruleWhere(docs []*policy.Document, pol, rule string) string {
	for _, d := range docs {
		if d.Name != pol {
			continue
		}
		for _, r := range d.Rules {
			if r.Name == rule {
				return position(d.File, r.Line, r.Column)
			}
		}
	}
	return ""
}

// position renders file:line:col, leaving out what is zero.
func position(file string, line, col int) string {
	s := file
	if line > 0 {
		s += fmt.Sprintf(":%d", line)
		if col > 0 {
			s += fmt.Sprintf(":%d", col)
		}
	}
	return s
}
