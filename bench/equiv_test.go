package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

// equivalenceInputs is how many generated actions every engine decides.
// Arguments always have the type their rules expect: on ill-typed input the
// engines differ by design (a CEL type error makes a deny rule match, Rego
// orders values of different types without error, Cedar skips a policy that
// errors), which is a difference of error handling, not of the policy.
const equivalenceInputs = 1000

// engineUnderTest is one engine and the rule table it was built from.
type engineUnderTest struct {
	name  string
	table string // engines of the same table must agree with each other
	rules []Rule
	d     Decider
}

// allEngines builds agentos and OPA from the full table and agentos, OPA
// and Cedar from the Cedar-expressible subset.
func allEngines(t *testing.T) []engineUnderTest {
	t.Helper()
	full := Table()
	subset, _ := CedarSubset(full)
	aosFull, err := NewAgentOS(full)
	require.NoError(t, err)
	aosSubset, err := NewAgentOS(subset)
	require.NoError(t, err)
	opaFull, err := NewOPA(t.Context(), full)
	require.NoError(t, err)
	opaSubset, err := NewOPA(t.Context(), subset)
	require.NoError(t, err)
	ced, err := NewCedar(full)
	require.NoError(t, err)
	return []engineUnderTest{
		{"agentos", "full", full, aosFull},
		{"opa", "full", full, opaFull},
		{"agentos/cedar-subset", "cedar-subset", subset, aosSubset},
		{"opa/cedar-subset", "cedar-subset", subset, opaSubset},
		{"cedar", "cedar-subset", subset, ced},
	}
}

// checkEquivalence decides every input in every engine and requires each
// to agree exactly (all four effects) with the Go reference evaluation of
// the table it was built from, and engines built from the same table to
// agree with each other.
func checkEquivalence(t *testing.T, engines []engineUnderTest, inputs []Input) {
	t.Helper()
	ctx := context.Background()
	refs := map[string]*reference{}
	for _, e := range engines {
		if refs[e.table] == nil {
			refs[e.table] = newReference(e.rules)
		}
	}
	for _, in := range inputs {
		byTable := map[string]agentos.Effect{}
		for _, e := range engines {
			want, matched := refs[e.table].decide(in)
			got, err := e.d.Decide(ctx, in)
			require.NoError(t, err, "%s: %s args=%v", e.name, in.Action, in.Action.Args)
			require.Equal(t, want.String(), got.String(), "%s: %s role=%s trust=%v args=%v: matching rules %v",
				e.name, in.Action, in.Agent.Role, in.Agent.Trust, in.Action.Args, matched)
			if prev, ok := byTable[e.table]; ok {
				require.Equal(t, prev.String(), got.String(), "%s disagrees with an engine of the same rule table on %s", e.name, in.Action)
			}
			byTable[e.table] = got
		}
	}
}

func TestReferenceCoversEveryRule(t *testing.T) {
	inputs := generateInputs(1, equivalenceInputs)
	ref := newReference(Table())
	fired := map[string]int{}
	effects := map[agentos.Effect]int{}
	for _, in := range inputs {
		eff, matched := ref.decide(in)
		effects[eff]++
		for _, m := range matched {
			fired[m]++
		}
	}
	for _, r := range Table() {
		assert.Positive(t, fired[r.Name], "rule %s never matches a generated input", r.Name)
	}
	for _, e := range []agentos.Effect{agentos.Allow, agentos.Deny, agentos.Approve, agentos.Audit} {
		assert.GreaterOrEqual(t, effects[e], equivalenceInputs/20, "effect %s decides too few generated inputs", e)
	}
	t.Logf("effects over %d inputs: %v", len(inputs), effects)
}

func TestEquivalence(t *testing.T) {
	checkEquivalence(t, allEngines(t), generateInputs(1, equivalenceInputs))
}

// TestCedarPermitsLikeTheFullPolicy compares Cedar's allow/deny with the
// full 100-rule policy's Permits: they differ only where a regex rule, which
// Cedar cannot express, denied.
func TestCedarPermitsLikeTheFullPolicy(t *testing.T) {
	ced, err := NewCedar(Table())
	require.NoError(t, err)
	ref := newReference(Table())
	regex := map[string]bool{}
	for _, r := range Table() {
		if !r.CedarExpressible() {
			regex[r.Name] = true
		}
	}
	differ := 0
	for _, in := range generateInputs(1, equivalenceInputs) {
		want, matched := ref.decide(in)
		got, err := ced.Decide(t.Context(), in)
		require.NoError(t, err)
		if got.Permits() == want.Permits() {
			continue
		}
		differ++
		hasRegex := false
		for _, m := range matched {
			hasRegex = hasRegex || regex[m]
		}
		require.True(t, hasRegex && got.Permits(), "%s: cedar %s, full policy %s, matching %v", in.Action, got, want, matched)
	}
	t.Logf("cedar's answer differs from the full policy's on %d of %d inputs, each denied by a regex rule", differ, equivalenceInputs)
}

func TestBenchmarkInputs(t *testing.T) {
	engines := allEngines(t)
	for _, tc := range []struct {
		name string
		in   Input
		want agentos.Effect
	}{
		{"allowed", inputAllowed, agentos.Allow},
		{"denied", inputDenied, agentos.Deny},
		{"no-rule", inputNoRule, agentos.Deny},
	} {
		for _, e := range engines {
			t.Run(tc.name+"/"+e.name, func(t *testing.T) {
				got, err := e.d.Decide(t.Context(), tc.in)
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
			})
		}
	}
}
