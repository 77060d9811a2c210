package policy

import (
	"path/filepath"
	"strings"
)

// IsTestFile reports whether the file name (a base name or a path) names a
// policy test file: a *.yaml, *.yml or *.json file whose name ends in
// "_test" before the extension, such as finance_test.yaml. Test files sit
// beside the policies they test (as Go's _test.go files do) and hold
// actions with the decisions expected of them, not policy documents:
// [ParseDir] skips them, and agentctl policy test runs them.
func IsTestFile(name string) bool {
	base := filepath.Base(name)
	ext := strings.ToLower(filepath.Ext(base))
	switch ext {
	case ".yaml", ".yml", ".json":
	default:
		return false
	}
	stem := base[:len(base)-len(ext)]
	return strings.HasSuffix(stem, "_test") && len(stem) > len("_test")
}
