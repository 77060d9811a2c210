package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// namedDecider is one engine as the benchmarks see it.
type namedDecider struct {
	name string
	d    Decider
}

// deciders builds every engine from rules (Cedar from the part it can
// express).
func deciders(tb testing.TB, rules []Rule) []namedDecider {
	tb.Helper()
	a, err := NewAgentOS(rules)
	require.NoError(tb, err)
	o, err := NewOPA(tb.Context(), rules)
	require.NoError(tb, err)
	c, err := NewCedar(rules)
	require.NoError(tb, err)
	return []namedDecider{{"agentos", a}, {"opa", o}, {"cedar", c}}
}
