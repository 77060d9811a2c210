package bench

import (
	"fmt"
	"slices"

	"github.com/agent-os/agentos"
)

// Kind is the shape of one generated rule. Every kind has a CEL, a Rego and
// (except KindDenyRegex) a Cedar rendering that decide the same thing.
type Kind uint8

const (
	// KindAllowRole allows an exec of the tool by an agent whose role is in Roles:
	//	action.op == "exec" && action.tool == T && agent.role in Roles
	KindAllowRole Kind = iota
	// KindDenyEquals denies a call whose argument Arg equals Value (a bool or a string).
	KindDenyEquals
	// KindApproveAbove needs approval when the integer argument Arg is above Threshold.
	KindApproveAbove
	// KindAuditAbove flags an allowed call (same op and roles as the tool's
	// KindAllowRole rule) whose integer argument Arg is above Threshold.
	// An audit rule permits and flags (agentos, and the Rego and Cedar
	// renderings alike); its condition implies the allow rule's, so it never
	// permits a call that the allow rule would not.
	KindAuditAbove
	// KindDenyPrefix denies a call whose string argument Arg starts with Prefix.
	KindDenyPrefix
	// KindDenyRegex denies a call whose string argument Arg matches Pattern
	// (RE2). Cedar has no regular expressions: these rules are left out of
	// the Cedar policy set.
	KindDenyRegex
	// KindDenyTrustBelow denies a call by an agent whose trust is below Trust.
	KindDenyTrustBelow
)

// Rule is one row of the rule table. Fields that do not apply to its Kind
// are empty.
type Rule struct {
	Name      string
	Kind      Kind
	Effect    agentos.Effect
	Severity  agentos.Severity
	Tool      string
	Roles     []string // KindAllowRole, KindAuditAbove
	Arg       string   // the argument the rule tests
	Value     any      // KindDenyEquals: bool or string
	Threshold int      // KindApproveAbove, KindAuditAbove
	Prefix    string   // KindDenyPrefix
	Pattern   string   // KindDenyRegex
	Trust     float64  // KindDenyTrustBelow
	Message   string
}

// CedarExpressible reports whether the rule has a Cedar rendering.
func (r Rule) CedarExpressible() bool { return r.Kind != KindDenyRegex }

// ToolSpec describes one tool and the arguments its rules test. Every tool
// gets five rules: allow by role, deny on an argument value, approve above a
// threshold, audit above a lower threshold, and a fifth rule that is a
// string-prefix deny, a regex deny or a trust-floor deny.
type ToolSpec struct {
	Name     string
	Roles    []string // roles the allow and audit rules admit
	DenyArg  string   // argument of the deny rule
	DenyVal  any      // bool or string value of DenyArg that is denied
	DenyAlts []any    // values of DenyArg that the deny rule lets through
	NumArg   string   // integer argument of the approve and audit rules
	Approve  int      // approve when NumArg > Approve
	Audit    int      // audit when NumArg > Audit (and the allow rule matches)

	Fifth   Kind     // KindDenyPrefix, KindDenyRegex or KindDenyTrustBelow
	StrArg  string   // string argument of a prefix or regex rule
	Prefix  string   // KindDenyPrefix
	Pattern string   // KindDenyRegex
	Trust   float64  // KindDenyTrustBelow
	StrGood []string // values of StrArg that the fifth rule lets through
	StrBad  []string // values of StrArg that the fifth rule denies
}

// Roles every generated agent may have.
var Roles = []string{"admin", "analyst", "finance", "intern", "ops", "support"}

// TrustLevels are the trust values generated agents have. They are exact in
// decimal so that the float comparisons of CEL and Rego and Cedar's decimal
// comparisons agree at the thresholds.
var TrustLevels = []float64{0.1, 0.25, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1}

// Tools is the tool table the 100-rule policy is generated from.
var Tools = []ToolSpec{
	{Name: "sql.query", Roles: []string{"analyst", "admin"}, DenyArg: "database", DenyVal: "prod_primary", DenyAlts: []any{"replica", "warehouse"},
		NumArg: "rows", Approve: 10000, Audit: 1000,
		Fifth: KindDenyRegex, Pattern: `(?i)\b(drop|truncate)\s+table\b`,
		StrArg: "query", StrGood: []string{"SELECT * FROM orders", "select count(*) from droptables"}, StrBad: []string{"DROP TABLE users", "truncate   table logs"}},
	{Name: "payments.send", Roles: []string{"finance", "admin"}, DenyArg: "currency", DenyVal: "XMR", DenyAlts: []any{"EUR", "USD"},
		NumArg: "amount", Approve: 1000, Audit: 100,
		Fifth: KindDenyTrustBelow, Trust: 0.7},
	{Name: "email.send", Roles: []string{"support", "analyst", "admin"}, DenyArg: "bcc_all", DenyVal: true, DenyAlts: []any{false},
		NumArg: "recipients", Approve: 50, Audit: 10,
		Fifth: KindDenyRegex, Pattern: `@(competitor|rival)\.com$`,
		StrArg: "to", StrGood: []string{"ann@example.com", "bob@rival.com.example.org"}, StrBad: []string{"cto@rival.com", "x@competitor.com"}},
	{Name: "web.search", Roles: []string{"analyst", "support", "intern", "admin"}, DenyArg: "safe", DenyVal: false, DenyAlts: []any{true},
		NumArg: "results", Approve: 100, Audit: 50,
		Fifth: KindDenyPrefix, Prefix: "site:internal.",
		StrArg: "query", StrGood: []string{"golang benchmarks", "site:go.dev generics"}, StrBad: []string{"site:internal.corp payroll", "site:internal."}},
	{Name: "files.read", Roles: Roles, DenyArg: "follow_symlinks", DenyVal: true, DenyAlts: []any{false},
		NumArg: "bytes", Approve: 10_000_000, Audit: 1_000_000,
		Fifth: KindDenyPrefix, Prefix: "/etc/",
		StrArg: "path", StrGood: []string{"/home/data/report.csv", "/etcetera/notes"}, StrBad: []string{"/etc/shadow", "/etc/"}},
	{Name: "shell.exec", Roles: []string{"ops", "admin"}, DenyArg: "sudo", DenyVal: true, DenyAlts: []any{false},
		NumArg: "timeout", Approve: 300, Audit: 60,
		Fifth: KindDenyRegex, Pattern: `\brm\s+-(rf|fr)\b`,
		StrArg: "cmd", StrGood: []string{"ls -la", "rm file.txt"}, StrBad: []string{"rm -rf /", "sh -c 'rm  -fr tmp'"}},
	{Name: "http.get", Roles: []string{"analyst", "support", "ops", "admin"}, DenyArg: "insecure", DenyVal: true, DenyAlts: []any{false},
		NumArg: "max_kb", Approve: 50_000, Audit: 5_000,
		Fifth: KindDenyPrefix, Prefix: "http://",
		StrArg: "url", StrGood: []string{"https://example.com/a", "https://http.example/"}, StrBad: []string{"http://example.com", "http://10.0.0.1/admin"}},
	{Name: "slack.post", Roles: []string{"support", "ops", "admin"}, DenyArg: "broadcast", DenyVal: true, DenyAlts: []any{false},
		NumArg: "mentions", Approve: 20, Audit: 5,
		Fifth: KindDenyPrefix, Prefix: "#exec-",
		StrArg: "channel", StrGood: []string{"#support", "#execution"}, StrBad: []string{"#exec-board", "#exec-"}},
	{Name: "github.merge", Roles: []string{"ops", "admin"}, DenyArg: "force", DenyVal: true, DenyAlts: []any{false},
		NumArg: "files", Approve: 200, Audit: 50,
		Fifth: KindDenyPrefix, Prefix: "release/",
		StrArg: "branch", StrGood: []string{"main", "feature/release-notes"}, StrBad: []string{"release/1.4", "release/"}},
	{Name: "calendar.create", Roles: []string{"support", "analyst", "intern", "admin"}, DenyArg: "visibility", DenyVal: "public", DenyAlts: []any{"private", "team"},
		NumArg: "attendees", Approve: 100, Audit: 25,
		Fifth: KindDenyTrustBelow, Trust: 0.3},
	{Name: "crm.update", Roles: []string{"support", "finance", "admin"}, DenyArg: "field", DenyVal: "owner", DenyAlts: []any{"phone", "notes"},
		NumArg: "records", Approve: 500, Audit: 50,
		Fifth: KindDenyPrefix, Prefix: "acct-gov-",
		StrArg: "account", StrGood: []string{"acct-retail-17", "acct-govx"}, StrBad: []string{"acct-gov-2", "acct-gov-"}},
	{Name: "s3.put", Roles: []string{"ops", "analyst", "admin"}, DenyArg: "acl", DenyVal: "public-read", DenyAlts: []any{"private", "bucket-owner-full-control"},
		NumArg: "size_mb", Approve: 5000, Audit: 500,
		Fifth: KindDenyPrefix, Prefix: "prod-",
		StrArg: "bucket", StrGood: []string{"staging-logs", "product-assets"}, StrBad: []string{"prod-ledger", "prod-"}},
	{Name: "k8s.apply", Roles: []string{"ops", "admin"}, DenyArg: "namespace", DenyVal: "kube-system", DenyAlts: []any{"default", "team-a"},
		NumArg: "replicas", Approve: 50, Audit: 10,
		Fifth: KindDenyTrustBelow, Trust: 0.8},
	{Name: "jira.create", Roles: []string{"support", "analyst", "intern", "ops", "admin"}, DenyArg: "project", DenyVal: "SEC", DenyAlts: []any{"OPS", "SECURITY"},
		NumArg: "issues", Approve: 20, Audit: 5,
		Fifth: KindDenyPrefix, Prefix: "[URGENT]",
		StrArg: "summary", StrGood: []string{"Fix login", "urgent: [URGENT] later"}, StrBad: []string{"[URGENT] outage", "[URGENT]"}},
	{Name: "docs.read", Roles: Roles, DenyArg: "classification", DenyVal: "secret", DenyAlts: []any{"public", "internal"},
		NumArg: "pages", Approve: 500, Audit: 100,
		Fifth: KindDenyPrefix, Prefix: "hr/",
		StrArg: "doc", StrGood: []string{"eng/design.md", "shr/x"}, StrBad: []string{"hr/salaries.xlsx", "hr/"}},
	{Name: "vector.search", Roles: []string{"analyst", "support", "intern", "admin"}, DenyArg: "index", DenyVal: "pii", DenyAlts: []any{"docs", "tickets"},
		NumArg: "k", Approve: 1000, Audit: 100,
		Fifth: KindDenyPrefix, Prefix: "tenant-other-",
		StrArg: "namespace", StrGood: []string{"tenant-self", "tenant-others"}, StrBad: []string{"tenant-other-42", "tenant-other-"}},
	{Name: "pdf.render", Roles: []string{"support", "analyst", "finance", "intern", "admin"}, DenyArg: "javascript", DenyVal: true, DenyAlts: []any{false},
		NumArg: "pages", Approve: 1000, Audit: 200,
		Fifth: KindDenyPrefix, Prefix: "legacy/",
		StrArg: "template", StrGood: []string{"invoice/v2", "legacy-free/x"}, StrBad: []string{"legacy/invoice", "legacy/"}},
	{Name: "translate.text", Roles: []string{"support", "analyst", "intern", "admin"}, DenyArg: "store", DenyVal: true, DenyAlts: []any{false},
		NumArg: "chars", Approve: 100_000, Audit: 10_000,
		Fifth: KindDenyRegex, Pattern: `\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b`,
		StrArg: "text", StrGood: []string{"hello world", "order 1234 5678"}, StrBad: []string{"card 4111 1111 1111 1111", "4111-1111-1111-1111"}},
	{Name: "billing.refund", Roles: []string{"finance", "support", "admin"}, DenyArg: "manual_override", DenyVal: true, DenyAlts: []any{false},
		NumArg: "amount", Approve: 500, Audit: 50,
		Fifth: KindDenyTrustBelow, Trust: 0.6},
	{Name: "db.migrate", Roles: []string{"ops", "admin"}, DenyArg: "env", DenyVal: "prod", DenyAlts: []any{"staging", "dev"},
		NumArg: "tables", Approve: 10, Audit: 3,
		Fifth: KindDenyRegex, Pattern: `(?i)\bdrop\s+column\b`,
		StrArg: "script", StrGood: []string{"ALTER TABLE t ADD COLUMN c int", "-- dropcolumn"}, StrBad: []string{"ALTER TABLE t DROP COLUMN c", "alter table t drop\tcolumn c"}},
}

// UnknownTools are tool names no rule mentions: calls to them fall to the
// default effect (deny).
var UnknownTools = []string{"weather.get", "maps.route", "crypto.mine"}

// Table returns the 100-rule table: five rules for each of the 20 tools.
func Table() []Rule {
	rules := make([]Rule, 0, 5*len(Tools))
	for _, t := range Tools {
		rules = append(rules, toolRules(t)...)
	}
	return rules
}

// OneRule returns the 1-rule table used as the baseline of the rule-count
// comparison: the allow rule of web.search alone.
func OneRule() []Rule {
	for _, r := range Table() {
		if r.Tool == "web.search" && r.Kind == KindAllowRole {
			return []Rule{r}
		}
	}
	panic("bench: no allow rule for web.search")
}

// CedarSubset returns the rules of table that Cedar can express (all but
// the regex rules), and the names of the rules it left out.
func CedarSubset(table []Rule) (kept []Rule, left []string) {
	for _, r := range table {
		if r.CedarExpressible() {
			kept = append(kept, r)
		} else {
			left = append(left, r.Name)
		}
	}
	return kept, left
}

func toolRules(t ToolSpec) []Rule {
	roles := slices.Clone(t.Roles)
	slices.Sort(roles)
	rules := []Rule{
		{Name: "allow-" + t.Name, Kind: KindAllowRole, Effect: agentos.Allow, Severity: agentos.SeverityInfo,
			Tool: t.Name, Roles: roles, Message: t.Name + " is allowed for its roles"},
		{Name: "deny-" + t.Name + "-" + t.DenyArg, Kind: KindDenyEquals, Effect: agentos.Deny, Severity: agentos.SeverityHigh,
			Tool: t.Name, Arg: t.DenyArg, Value: t.DenyVal, Message: fmt.Sprintf("%s with %s=%v is forbidden", t.Name, t.DenyArg, t.DenyVal)},
		{Name: "approve-" + t.Name + "-" + t.NumArg, Kind: KindApproveAbove, Effect: agentos.Approve, Severity: agentos.SeverityMedium,
			Tool: t.Name, Arg: t.NumArg, Threshold: t.Approve, Message: fmt.Sprintf("%s with %s above %d needs approval", t.Name, t.NumArg, t.Approve)},
		{Name: "audit-" + t.Name + "-" + t.NumArg, Kind: KindAuditAbove, Effect: agentos.Audit, Severity: agentos.SeverityLow,
			Tool: t.Name, Roles: roles, Arg: t.NumArg, Threshold: t.Audit, Message: fmt.Sprintf("%s with %s above %d is audited", t.Name, t.NumArg, t.Audit)},
	}
	switch t.Fifth {
	case KindDenyPrefix:
		rules = append(rules, Rule{Name: "deny-" + t.Name + "-" + t.StrArg + "-prefix", Kind: KindDenyPrefix, Effect: agentos.Deny, Severity: agentos.SeverityHigh,
			Tool: t.Name, Arg: t.StrArg, Prefix: t.Prefix, Message: fmt.Sprintf("%s on %s %q… is forbidden", t.Name, t.StrArg, t.Prefix)})
	case KindDenyRegex:
		rules = append(rules, Rule{Name: "deny-" + t.Name + "-" + t.StrArg + "-pattern", Kind: KindDenyRegex, Effect: agentos.Deny, Severity: agentos.SeverityCritical,
			Tool: t.Name, Arg: t.StrArg, Pattern: t.Pattern, Message: fmt.Sprintf("%s with a forbidden %s", t.Name, t.StrArg)})
	case KindDenyTrustBelow:
		rules = append(rules, Rule{Name: "deny-" + t.Name + "-low-trust", Kind: KindDenyTrustBelow, Effect: agentos.Deny, Severity: agentos.SeverityHigh,
			Tool: t.Name, Trust: t.Trust, Message: fmt.Sprintf("%s needs trust %.2f or more", t.Name, t.Trust)})
	default:
		panic(fmt.Sprintf("bench: tool %s: unknown fifth rule kind %d", t.Name, t.Fifth))
	}
	return rules
}
