package policy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/policy"
)

func TestIsTestFile(t *testing.T) {
	for name, want := range map[string]bool{
		"finance_test.yaml":         true,
		"finance_test.yml":          true,
		"finance_test.json":         true,
		"dir/finance_test.YAML":     true,
		"finance.yaml":              false,
		"_test.yaml":                false,
		"finance_test.txt":          false,
		"finance_tests.yaml":        false,
		"finance_test.yaml.bak":     false,
		"test.yaml":                 false,
		"finance_test_extra.yaml":   false,
		"/abs/path/x_test.json":     true,
		"":                          false,
		"finance_test":              false,
		"finance.test.yaml":         false,
		"finance_test.yaml/inner.x": false,
	} {
		require.Equal(t, want, policy.IsTestFile(name), name)
	}
}

func TestParseDirSkipsTestFiles(t *testing.T) {
	dir := t.TempDir()
	doc := "apiVersion: agentos/v1\nkind: Policy\nmetadata: {name: p}\nspec: {}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(doc), 0o600))
	// A test file is not a policy document: loading the directory as a
	// kernel does must not choke on it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p_test.yaml"), []byte("tests: []\n"), 0o600))
	docs, err := policy.ParseDir(dir)
	require.NoError(t, err)
	require.Len(t, docs, 1)
	require.Equal(t, "p", docs[0].Name)
}
