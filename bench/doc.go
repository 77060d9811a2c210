// Package bench compares the agentos policy engine with Open Policy Agent
// and cedar-go on one policy.
//
// One rule table ([Table]: 100 rules over the 20 tools of [Tools], five per
// tool — allow by role, deny on an argument value, approve above a
// threshold, audit above a lower threshold, and a string-prefix, regex or
// trust-floor deny) is rendered three ways from the same rows: agentos
// policy YAML with CEL conditions ([PolicyYAML]), a Rego v1 module
// ([PolicyRego]) and a Cedar policy set ([PolicyCedar]). Cedar has no regular
// expressions, so the regex rules are left out of the Cedar set and the
// Cedar comparison runs on [CedarSubset].
//
// The adapters [AgentOS], [OPA] and [Cedar] decide an [Input] and return the
// agentos effect. The tests check that the three agree on generated
// actions; the benchmarks time a decision in each.
//
// This is a separate module so that the agentos module does not depend on
// OPA or cedar-go.
package bench
