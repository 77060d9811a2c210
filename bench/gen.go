package bench

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/agent-os/agentos"
)

// quote renders s as a double-quoted string literal. The rule table holds
// ASCII only, for which CEL, Rego and Cedar share Go's escapes (\\ and \").
func quote(s string) string { return strconv.Quote(s) }

func literal(v any) string {
	switch v := v.(type) {
	case bool:
		return strconv.FormatBool(v)
	case string:
		return quote(v)
	case int:
		return strconv.Itoa(v)
	}
	panic(fmt.Sprintf("bench: unsupported literal %T", v))
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}

// trustLiteral renders a trust threshold with at most four decimals, the
// precision of Cedar's decimal type.
func trustLiteral(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// CEL returns the rule's condition as an agentos CEL expression.
func (r Rule) CEL() string {
	tool := "action.tool == " + quote(r.Tool)
	arg := "action.args." + r.Arg
	has := "has(" + arg + ")"
	switch r.Kind {
	case KindAllowRole:
		return fmt.Sprintf(`action.op == "exec" && %s && agent.role in [%s]`, tool, quoteList(r.Roles))
	case KindDenyEquals:
		return fmt.Sprintf("%s && %s && %s == %s", tool, has, arg, literal(r.Value))
	case KindApproveAbove:
		return fmt.Sprintf("%s && %s && %s > %d", tool, has, arg, r.Threshold)
	case KindAuditAbove:
		return fmt.Sprintf(`action.op == "exec" && %s && agent.role in [%s] && %s && %s > %d`, tool, quoteList(r.Roles), has, arg, r.Threshold)
	case KindDenyPrefix:
		return fmt.Sprintf("%s && %s && %s.startsWith(%s)", tool, has, arg, quote(r.Prefix))
	case KindDenyRegex:
		return fmt.Sprintf("%s && %s && %s.matches(%s)", tool, has, arg, quote(r.Pattern))
	case KindDenyTrustBelow:
		return fmt.Sprintf("%s && agent.trust < %s", tool, trustLiteral(r.Trust))
	}
	panic(fmt.Sprintf("bench: rule %s: unknown kind %d", r.Name, r.Kind))
}

// Rego returns the rule as a Rego v1 partial-set rule named after its
// effect (deny, approve, allow, audit), contributing the rule's name.
func (r Rule) Rego() string {
	arg := "input.action.args." + r.Arg
	var body []string
	switch r.Kind {
	case KindAllowRole:
		body = []string{`input.action.op == "exec"`, "input.action.tool == " + quote(r.Tool),
			"input.agent.role in {" + quoteList(r.Roles) + "}"}
	case KindDenyEquals:
		body = []string{"input.action.tool == " + quote(r.Tool), arg + " == " + literal(r.Value)}
	case KindApproveAbove:
		body = []string{"input.action.tool == " + quote(r.Tool), fmt.Sprintf("%s > %d", arg, r.Threshold)}
	case KindAuditAbove:
		body = []string{`input.action.op == "exec"`, "input.action.tool == " + quote(r.Tool),
			"input.agent.role in {" + quoteList(r.Roles) + "}", fmt.Sprintf("%s > %d", arg, r.Threshold)}
	case KindDenyPrefix:
		body = []string{"input.action.tool == " + quote(r.Tool), fmt.Sprintf("startswith(%s, %s)", arg, quote(r.Prefix))}
	case KindDenyRegex:
		body = []string{"input.action.tool == " + quote(r.Tool), fmt.Sprintf("regex.match(%s, %s)", quote(r.Pattern), arg)}
	case KindDenyTrustBelow:
		body = []string{"input.action.tool == " + quote(r.Tool), "input.agent.trust < " + trustLiteral(r.Trust)}
	default:
		panic(fmt.Sprintf("bench: rule %s: unknown kind %d", r.Name, r.Kind))
	}
	return fmt.Sprintf("%s contains %s if {\n\t%s\n}\n", r.Effect, quote(r.Name), strings.Join(body, "\n\t"))
}

// Cedar returns the rule as a Cedar policy and true, or "" and false for a
// rule Cedar cannot express (a regular expression). The mapping:
//
//   - allow and audit rules are permit policies; deny and approve rules are
//     forbid policies. Cedar is forbid-overrides with default deny, so an
//     action is permitted by Cedar exactly when the agentos decision
//     permits it (Allow or Audit): a deny or an approve stops it either way.
//   - @id names the rule; @effect keeps the agentos effect, from which
//     [Cedar.DecideRequest] recovers deny versus approve and allow versus audit
//     out of Cedar's diagnostic reasons.
//   - action.tool is the resource (Tool::"name"), action.op the action
//     (Action::"exec"), the agent the principal (Agent::"id", with role and
//     trust attributes), the tool arguments context.args.
//   - has(x) becomes "context.args has x", startsWith a "like" pattern with
//     a trailing *, and trust (a float in CEL and Rego) a Cedar decimal.
func (r Rule) Cedar() (string, bool) {
	arg := "context.args." + r.Arg
	has := "context.args has " + r.Arg
	var effect, act, cond string
	switch r.Kind {
	case KindAllowRole:
		effect, act = "permit", `action == Action::"exec"`
		cond = fmt.Sprintf("[%s].contains(principal.role)", quoteList(r.Roles))
	case KindDenyEquals:
		effect, act = "forbid", "action"
		cond = fmt.Sprintf("%s && %s == %s", has, arg, literal(r.Value))
	case KindApproveAbove:
		effect, act = "forbid", "action"
		cond = fmt.Sprintf("%s && %s > %d", has, arg, r.Threshold)
	case KindAuditAbove:
		effect, act = "permit", `action == Action::"exec"`
		cond = fmt.Sprintf("[%s].contains(principal.role) && %s && %s > %d", quoteList(r.Roles), has, arg, r.Threshold)
	case KindDenyPrefix:
		if strings.ContainsAny(r.Prefix, `*\`) {
			panic(fmt.Sprintf("bench: rule %s: prefix %q needs escaping in a Cedar pattern", r.Name, r.Prefix))
		}
		effect, act = "forbid", "action"
		cond = fmt.Sprintf("%s && %s like %s", has, arg, quote(r.Prefix+"*"))
	case KindDenyTrustBelow:
		effect, act = "forbid", "action"
		cond = fmt.Sprintf("principal.trust.lessThan(decimal(%s))", quote(trustLiteral(r.Trust)))
	case KindDenyRegex:
		return "", false
	default:
		panic(fmt.Sprintf("bench: rule %s: unknown kind %d", r.Name, r.Kind))
	}
	return fmt.Sprintf("@id(%s)\n@effect(%s)\n%s (principal, %s, resource == Tool::%s)\nwhen { %s };\n",
		quote(r.Name), quote(r.Effect.String()), effect, act, quote(r.Tool), cond), true
}

// PolicyYAML renders the rules as one agentos policy document.
func PolicyYAML(name string, rules []Rule) []byte {
	type rule struct {
		Name     string `yaml:"name"`
		Effect   string `yaml:"effect"`
		Severity string `yaml:"severity"`
		When     string `yaml:"when"`
		Message  string `yaml:"message"`
	}
	type doc struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name    string `yaml:"name"`
			Version string `yaml:"version"`
		} `yaml:"metadata"`
		Spec struct {
			DefaultEffect string `yaml:"defaultEffect"`
			Rules         []rule `yaml:"rules"`
		} `yaml:"spec"`
	}
	var d doc
	d.APIVersion, d.Kind = "agentos/v1", "Policy"
	d.Metadata.Name, d.Metadata.Version = name, "1"
	d.Spec.DefaultEffect = agentos.Deny.String()
	for _, r := range rules {
		d.Spec.Rules = append(d.Spec.Rules, rule{Name: r.Name, Effect: r.Effect.String(),
			Severity: r.Severity.String(), When: r.CEL(), Message: r.Message})
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&d); err != nil {
		panic(fmt.Sprintf("bench: marshal policy: %v", err))
	}
	if err := enc.Close(); err != nil {
		panic(fmt.Sprintf("bench: marshal policy: %v", err))
	}
	return buf.Bytes()
}

// RegoPackage is the Rego package the generated module declares; its
// "decision" rule is the query.
const RegoPackage = "agentos.bench"

// PolicyRego renders the rules as one Rego v1 module. Each rule adds its name
// to the set of its effect; decision combines the sets deny-overrides, as
// agentos does: any deny, then any approve, then audit (which permits and
// flags), then allow, else the default, deny.
func PolicyRego(rules []Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n\n", RegoPackage)
	has := map[agentos.Effect]bool{}
	for _, r := range rules {
		has[r.Effect] = true
	}
	// Only sets with at least one rule can be referred to: a Rego rule with
	// no definition is an unsafe variable, not an empty set.
	var arms []string
	if has[agentos.Deny] {
		arms = append(arms, "\"deny\" if {\n\tcount(deny) > 0\n}")
	}
	if has[agentos.Approve] {
		arms = append(arms, "\"approve\" if {\n\tcount(approve) > 0\n}")
	}
	if has[agentos.Audit] {
		arms = append(arms, "\"audit\" if {\n\tcount(audit) > 0\n}")
	}
	if has[agentos.Allow] {
		arms = append(arms, "\"allow\" if {\n\tcount(allow) > 0\n}")
	}
	b.WriteString("default decision := \"deny\"\n\n")
	if len(arms) > 0 {
		b.WriteString("decision := " + strings.Join(arms, " else := ") + "\n\n")
	}
	for _, r := range rules {
		b.WriteString(r.Rego())
		b.WriteString("\n")
	}
	return b.String()
}

// PolicyCedar renders the Cedar-expressible rules as a Cedar policy set and
// returns the names of the rules it left out.
func PolicyCedar(rules []Rule) (src string, left []string) {
	var b strings.Builder
	for _, r := range rules {
		p, ok := r.Cedar()
		if !ok {
			left = append(left, r.Name)
			fmt.Fprintf(&b, "// %s: not expressible in Cedar (regular expression %s)\n\n", r.Name, r.Pattern)
			continue
		}
		b.WriteString(p)
		b.WriteString("\n")
	}
	return b.String(), left
}
