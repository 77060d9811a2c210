// Package policy decides, before anything runs, whether an agent's action
// is allowed. Policies are YAML (or JSON) documents of rules whose
// conditions are CEL expressions (cel.dev/cel-go); they are parsed and
// type-checked once, compiled to immutable programs, and evaluated for
// every syscall of every agent. Every path that cannot decide denies:
// there is no default-allow anywhere.
//
// # Usage
//
// A policy document:
//
//	apiVersion: agentos/v1
//	kind: Policy
//	metadata: {name: finance, version: "7"}
//	spec:
//	  defaultEffect: deny          # deny when absent
//	  variables:
//	    - name: isSQL
//	      expression: action.tool == "sql.query"
//	  rules:
//	    - name: no-destructive-sql
//	      effect: deny             # allow | deny | approve | audit
//	      severity: critical       # info (default) | low | medium | high | critical
//	      onDeny: kill             # kill (default) | refuse: fail the call, keep the agent
//	      when: variables.isSQL && sql.destructive(action.args.query)
//	      message: destructive SQL is not allowed
//	    - name: big-payments-need-approval
//	      effect: approve
//	      when: action.tool == "payments.send" && action.args.amount > 1000
//	    - name: search-rate
//	      effect: allow
//	      when: action.tool == "web.search"
//	      limit: {rate: 100, per: 1m}   # per agent; allow and audit rules only
//
// Load and decide:
//
//	docs, err := policy.ParseFile("finance.yaml") // or ParseDir, or Parse(name, src)
//	eng, err := policy.NewEngine(docs)
//	d, err := eng.Decide(ctx, policy.Input{Action: act, Agent: policy.Subject{ID: "a1", Role: "analyst"}})
//	if err != nil || !d.Permits() { /* refuse: d says why */ }
//
// [Engine.Explain] lists every rule that matched or failed; [Engine.Reload]
// swaps in a new set atomically; [WithShadow] evaluates a candidate set
// beside the active one and reports its verdict in Decision.Shadow without
// enforcing it; [Engine.Documents] returns the loaded documents (the kernel
// shows them read-only under /policy/).
//
// In a when expression (and in variables) these names are declared:
//
//	action.id, .agent, .op, .path, .tool, .target, .payloadType   string
//	action.args   map(string, dyn)   tool arguments, as given (JSON-like values)
//	action.meta   map(string, string)
//	action.at     timestamp
//	agent.id, .role string; agent.trust double; agent.labels map(string, string); agent.present bool
//	peer          the same shape as agent: the other party of a send or a
//	              signal. Without one, peer is empty (trust 0) and
//	              peer.present is false; test it before trusting peer.trust.
//	              Behind a kernel with an iatp registry, a peer that signed
//	              its message is filled in from the registry, never from
//	              what it claims: peer.trust is its trust score / 10 and
//	              peer.labels carry "iatp.retention" and the other
//	              manifest fields (see the kernel's WithIATP).
//	tool          map(string, dyn): the registered description of an exec's
//	              tool (Input.Tool): .registered, .name, .version,
//	              .sideEffect, .cost, .tags, .permissions, .deprecated,
//	              every key always present (zero values when there is none);
//	              its values are dyn, so compare a flag explicitly:
//	              tool.deprecated == true
//	now           timestamp of the decision (Input.Now, or the engine clock)
//	variables.X   the document's variable X (inlined into each rule)
//
// has(action.path), has(agent.role) and the like are true when the field
// is not empty (not zero). A missing key in action.args is an evaluation
// error, so guard optional arguments: has(action.args.limit) &&
// action.args.limit > 10. Beyond CEL's standard library (matches,
// startsWith, size, timestamps, all/exists/map/filter…) and the cel-go
// string, list, set and bind extensions, these functions are declared:
//
//	sql.readonly(q)        the allow-list: every statement of q is a plain read (SELECT,
//	                       WITH … SELECT, VALUES, EXPLAIN of a read, SHOW, a reporting
//	                       PRAGMA) under every dialect's reading, and names nothing
//	                       that writes, locks or runs other SQL; false when empty or
//	                       unreadable: sql.readonly("select 1; drop table t") is false
//	sql.destructive(q)     the deny-list: DROP, TRUNCATE, ALTER or RENAME, a DELETE/UPDATE
//	                       without a WHERE that names a column, an upsert or replace fed by
//	                       a query, SQL run from text (EXEC, PREPARE, DO, CALL), or text it
//	                       cannot read, in any statement and any dialect's reading of q,
//	                       in any case: sql.destructive("select 1; drop table t") is true
//	path.under(p, prefix)  p is prefix or below it, on element boundaries:
//	                       path.under("/policy/a", "/policy") is true, path.under("/policyX", "/policy") false
//	pii.card(s)            s holds a Luhn-valid card number (13–19 digits, spaces or dashes allowed)
//	pii.ssn(s)             s holds a US SSN written ddd-dd-dddd (or with spaces)
//
// Combination is deny-overrides and does not depend on the order of rules
// or documents: any matching deny rule denies; else any matching approve
// rule gives Approve; else any matching allow or audit rule permits (Audit
// when an audit rule matched); else the default applies. With several
// documents the most restrictive default wins (deny, then approve, audit,
// allow), and a document without defaultEffect counts as deny — so one
// allow-by-default document cannot open what another leaves closed. With
// no document at all everything is denied. When several rules of one kind
// match, the first in load order names the decision.
//
// # Egress
//
// A document may also say where agents' tool processes may connect, in
// spec.egress (see [EgressRule]): rules that select agents by role ("*"
// for all) and labels, and allow CIDRs and hostnames, ports and
// protocols (tcp by default, udp):
//
//	spec:
//	  egress:
//	    - name: analysts-db
//	      role: analyst
//	      cidrs: [10.20.0.0/16, 127.0.0.1]
//	      hosts: [db.internal]
//	      ports: [5432, 8000-8100]
//
// Hostnames are resolved once, when an [Engine] loads the documents,
// through the [Resolver] given with [WithResolver] (there is no implicit
// resolver: without one, a host is a load error); [Engine.Resolutions]
// lists what each resolved to. [Engine.Egress] returns the allow-list of
// one agent: the union of the egress rules that select it, empty (no
// egress at all) when none does. Reload carries the new egress rules with
// the new rule set. The same document thus decides the library-level
// OpExec and the kernel-level egress of the tool it runs.
//
// A rule that fails to evaluate (a missing key, a type error, a cost or
// time limit) counts as matching if it is a deny rule and as not matching
// otherwise: an error never opens a door. The error is listed, with the
// rule, in Decision.Errors. An error returned by Decide means there was no
// decision at all (the context ended, for one); the decision returned with
// it always denies.
//
// A rate-limited rule permits at most rate actions per per and per agent
// (a token bucket refilled continuously). Tokens are taken only when the
// action is actually permitted: a matching deny or approve rule takes none.
// When several matching rules are limited, each must have a token, and
// each gives one. Over the limit the decision is Deny by that rule, with
// Refuse set: the call fails, the agent lives.
//
// Bounds: at load each rule's cost is estimated, with strings and maps of
// the input assumed as large as [SizeHints] says, and a rule over the
// budget ([WithCostBudget]) is refused with [ErrBudget]. At run time rules
// that loop (comprehensions) run under a cost limit ([WithCostLimit]) and a
// deadline ([WithEvalTimeout] and the caller's context), checked every
// [DefaultInterruptEvery] iterations; lists.range builds at most
// [MaxListRange] elements, refusing larger ranges before allocating them.
// Rules are planned with cel-go's optimizations (constant lists and sets
// and regular expressions built once), except a rule that tests
// membership in an empty list, which the optimization would fold to false
// without evaluating the tested value and its error.
//
// Rules are indexed by what their top-level conjunction requires of
// action.op and action.tool (action.tool == "x", action.op in ["read",
// "list"], or a disjunction of such tests): a decision evaluates only the
// rules that can apply, so a large policy costs about what the rules for
// one tool cost. The empty tool and op are values like any other: a rule
// that requires action.tool == "" applies to the tool "" only, never to a
// tool no rule names. Such a rule is evaluated without the op and tool tests
// the index has proved, and a condition built only of tests of action
// fields, arguments, meta, labels and the agent against constants (==,
// !=, <, <=, >, >=, in a constant list, startsWith, endsWith, contains,
// matches, has, &&, ||, !) is evaluated by Go code compiled from it,
// without the CEL interpreter and without allocating; on any value it
// cannot decide exactly as CEL would (a missing key, a NaN, another type)
// it hands the rule to its CEL program. Neither the index nor these
// shortcuts ever change a decision; the tests compare them with every
// rule's whole condition evaluated by plain cel-go.
//
// # Concurrency
//
// An [Engine] is safe for concurrent use by any number of goroutines.
// Decide and Explain read the active rule set through an atomic pointer;
// Reload compiles a new set completely and then swaps it in, so a decision
// in flight finishes on the set it started with and a failed Reload
// changes nothing. The rate limiter is shared by every rule set of an
// engine and guarded by a mutex; its buckets survive a Reload for rules
// whose policy name, rule name and limit are unchanged. The engine starts
// no goroutine. [Document] values are immutable once parsed and may be
// shared.
//
// # Caveats
//
//   - A rule that tests a missing argument fails: write
//     has(action.args.x) && … in allow rules, or the rule never matches;
//     in deny rules a failure denies, which is the safe side.
//   - action.args holds user data of any shape; comparing it to a number
//     works across int and double (action.args.amount > 1000 is true for
//     1500 and for 1500.0), but a string "1500" is not a number.
//   - when must be of type bool; an expression of type dyn (such as
//     action.args.flag) is refused: write action.args.flag == true.
//   - Straight-line rules (no comprehension) run without a cost tracker:
//     each operation runs once, and its cost is bounded by the size of the
//     input. Bound argument sizes before they reach policy.
//   - For a SQL tool, allow what sql.readonly accepts and let the default
//     deny the rest: it is an allow-list, and the safe default.
//     sql.destructive is a deny-list, lexical, not a parser. Both read q
//     under the rules of SQLite, PostgreSQL, MySQL/MariaDB and SQL Server
//     for literals, quoted identifiers and comments (dollar quotes,
//     [brackets], backslash escapes, executable /*! */ comments, …), and
//     text that any reading cannot read (an unterminated literal or
//     comment, a NUL, invalid UTF-8) is destructive and not read-only: the
//     check fails closed. It errs towards destruction (a column named drop
//     counts; a quote escaped by a backslash is unreadable outside MySQL
//     and PostgreSQL's E strings: double it instead), yet no
//     deny-list knows that WHERE id = id matches every row. Neither helper
//     sees inside a user-defined function or procedure: give a read-only
//     tool a read-only connection as well. pii.card and pii.ssn are
//     heuristics.
//   - Size hints only shape the load-time estimate; they do not reject
//     larger inputs.
package policy
