package bench

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

var update = flag.Bool("update", false, "rewrite the golden policy files in testdata/")

func TestTable(t *testing.T) {
	rules := Table()
	require.Len(t, rules, 100)
	require.Len(t, Tools, 20)
	names := map[string]bool{}
	perTool := map[string]int{}
	effects := map[agentos.Effect]int{}
	kinds := map[Kind]int{}
	for _, r := range rules {
		assert.False(t, names[r.Name], "duplicate rule name %s", r.Name)
		names[r.Name] = true
		perTool[r.Tool]++
		effects[r.Effect]++
		kinds[r.Kind]++
	}
	for _, tool := range Tools {
		assert.Equal(t, 5, perTool[tool.Name], tool.Name)
	}
	for _, u := range UnknownTools {
		assert.Zero(t, perTool[u], "unknown tool %s has rules", u)
	}
	assert.Equal(t, map[agentos.Effect]int{agentos.Allow: 20, agentos.Deny: 40, agentos.Approve: 20, agentos.Audit: 20}, effects)
	assert.Equal(t, map[Kind]int{KindAllowRole: 20, KindDenyEquals: 20, KindApproveAbove: 20, KindAuditAbove: 20,
		KindDenyPrefix: 11, KindDenyRegex: 5, KindDenyTrustBelow: 4}, kinds)

	kept, left := CedarSubset(rules)
	assert.Len(t, kept, 95)
	assert.Len(t, left, 5)
	c, err := NewCedar(rules)
	require.NoError(t, err)
	assert.Equal(t, 95, c.Len())
	assert.Equal(t, left, c.LeftOut())

	one := OneRule()
	require.Len(t, one, 1)
	assert.Equal(t, "allow-web.search", one[0].Name)
}

// TestGolden keeps the three renderings of the table in testdata/ so that
// they can be read and diffed; go test -run TestGolden -update rewrites them.
func TestGolden(t *testing.T) {
	cedarSrc, _ := PolicyCedar(Table())
	for _, g := range []struct {
		file string
		got  []byte
	}{
		{"policy.yaml", PolicyYAML("bench", Table())},
		{"policy.rego", []byte(PolicyRego(Table()))},
		{"policy.cedar", []byte(cedarSrc)},
	} {
		t.Run(g.file, func(t *testing.T) {
			path := filepath.Join("testdata", g.file)
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, g.got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -run TestGolden -update")
			assert.Equal(t, string(want), string(g.got))
		})
	}
}

func TestRegoOfOneRule(t *testing.T) {
	// A table without deny, approve or audit rules must still compile: the
	// decision refers only to the sets that have rules.
	o, err := NewOPA(t.Context(), OneRule())
	require.NoError(t, err)
	got, err := o.Decide(t.Context(), inputAllowed)
	require.NoError(t, err)
	assert.Equal(t, agentos.Allow, got)
	got, err = o.Decide(t.Context(), inputNoRule)
	require.NoError(t, err)
	assert.Equal(t, agentos.Deny, got)
}
