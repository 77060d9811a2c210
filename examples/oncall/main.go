// Command oncall shows reasoning decoupled from execution (package mute)
// during an incident: the payments service is degraded. A reasoning agent
// proposes plans as JSON; an execution agent under a kernel, with typed
// tools (read_metrics, restart_service, scale_deployment, grant_admin) in
// its atr registry, runs a plan only once it has been checked against the
// on-call knowledge graph and the policy dry run, and accepted. Three
// plans are refused before any step runs: one built on stale state (it
// assumes the service still runs 3 replicas; the facts say 5), one naming
// a node the graph does not know, and one that escalates privilege (policy
// denies grant_admin, and the dry run names the rule). None of their tools
// run and the flight recorder holds no exec decision for them. The fourth
// plan is validated, accepted and executed through the kernel, each step a
// governed, recorded syscall; the trail is printed and its chain verified.
// Everything runs offline and deterministically.
//
// Run it with:
//
//	go run ./examples/oncall
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/mute"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
)

//go:embed policy.yaml
var policyYAML []byte

const executor = "executor"

// The reasoning agent's proposals, as it writes them.
const (
	// stalePlan was reasoned when payments ran 3 replicas: the runbook's
	// scale-out starts from that baseline, but the autoscaler has since
	// moved the service to 5.
	stalePlan = `{"id": "scale-out", "goal": "payments.restored", "steps": [
  {"id": "look", "action": "read_metrics", "args": {"service": "payments"}},
  {"id": "scale", "action": "scale_deployment", "args": {"deployment": "payments", "replicas": 6}, "dependsOn": ["look"]},
  {"id": "restart", "action": "restart_service", "args": {"service": "payments"}, "dependsOn": ["scale"]}]}`

	// ghostPlan drains a node no one has heard of: neither the graph nor
	// the registry knows drain_node.
	ghostPlan = `{"id": "drain", "goal": "payments.restored", "steps": [
  {"id": "look", "action": "read_metrics", "args": {"service": "payments"}},
  {"id": "drain", "action": "drain_node", "args": {"node": "node-7"}, "dependsOn": ["look"]},
  {"id": "restart", "action": "restart_service", "args": {"service": "payments"}, "dependsOn": ["drain"]}]}`

	// escalatePlan gives the reasoner admin "to look around": the graph
	// knows grant_admin, so only policy stands in the way.
	escalatePlan = `{"id": "escalate", "goal": "payments.restored", "steps": [
  {"id": "look", "action": "read_metrics", "args": {"service": "payments"}},
  {"id": "grant", "action": "grant_admin", "args": {"user": "reasoner"}, "dependsOn": ["look"]},
  {"id": "restart", "action": "restart_service", "args": {"service": "payments"}, "dependsOn": ["grant"]}]}`

	// restartPlan is the runbook's answer for the facts as they are.
	restartPlan = `{"id": "restart", "goal": "payments.restored", "steps": [
  {"id": "look", "action": "read_metrics", "args": {"service": "payments"}},
  {"id": "restart", "action": "restart_service", "args": {"service": "payments"}, "dependsOn": ["look"]}]}`
)

// facts is the world as the host knows it now.
var facts = mute.Facts{"incident.open": "INC-4711", "payments.replicas": "5"}

// proposal is one plan the reasoning agent proposes, and whether the
// example expects it to run.
type proposal struct {
	title string
	plan  string
	runs  bool
}

var proposals = []proposal{
	{"a stale-state plan: it assumes 3 replicas", stalePlan, false},
	{"a ghost resource: a node the graph does not know", ghostPlan, false},
	{"a privilege escalation: grant_admin", escalatePlan, false},
	{"the runbook's plan: read the metrics, restart payments", restartPlan, true},
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "oncall:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	_, err := incident(ctx, w)
	return err
}

// report is what the example did, for its test to check.
type report struct {
	// violations holds each refused plan's violations, by plan id.
	violations map[string][]mute.Violation
	// calls counts each tool's calls, by name.
	calls map[string]int
	// results are the executed plan's step results.
	results []mute.StepResult
	// trail is the executor's flight-recorder trail.
	trail []recorder.Entry
	// verified is the number of entries in the verified chain.
	verified uint64
}

// tools is the on-call tool set; it counts each tool's calls.
type tools struct {
	mu    sync.Mutex
	calls map[string]int
}

func (t *tools) called(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls[name]++
}

func (t *tools) snapshot() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := make(map[string]int, len(t.calls))
	for k, v := range t.calls {
		m[k] = v
	}
	return m
}

type serviceIn struct {
	Service string `json:"service" jsonschema:"the service's name"`
}

type metrics struct {
	Service   string  `json:"service"`
	ErrorRate float64 `json:"errorRate"`
	P99Millis int     `json:"p99Millis"`
	Replicas  int     `json:"replicas"`
}

type restarted struct {
	Service  string `json:"service"`
	Replicas int    `json:"replicas"`
	Ready    int    `json:"ready"`
}

type scaleIn struct {
	Deployment string `json:"deployment"`
	Replicas   int    `json:"replicas" jsonschema:"the replica count wanted"`
}

type scaled struct {
	Deployment string `json:"deployment"`
	Replicas   int    `json:"replicas"`
}

type grantIn struct {
	User string `json:"user"`
}

type granted struct {
	User string `json:"user"`
	Role string `json:"role"`
}

// register adds the typed tools to reg.
func (t *tools) register(reg *atr.Registry) error {
	return errors.Join(
		atr.Register(reg, "read_metrics", func(_ context.Context, in serviceIn) (metrics, error) {
			t.called("read_metrics")
			return metrics{Service: in.Service, ErrorRate: 0.18, P99Millis: 2400, Replicas: 5}, nil
		}, atr.Meta{Version: "1.0.0", Description: "Reads a service's error rate, latency and replicas.", SideEffect: atr.Read}),
		atr.Register(reg, "restart_service", func(_ context.Context, in serviceIn) (restarted, error) {
			t.called("restart_service")
			return restarted{Service: in.Service, Replicas: 5, Ready: 5}, nil
		}, atr.Meta{Version: "1.0.0", Description: "Restarts a service's pods, one at a time.", SideEffect: atr.Write}),
		atr.Register(reg, "scale_deployment", func(_ context.Context, in scaleIn) (scaled, error) {
			t.called("scale_deployment")
			return scaled(in), nil
		}, atr.Meta{Version: "1.0.0", Description: "Scales a deployment to a replica count.", SideEffect: atr.Write}),
		atr.Register(reg, "grant_admin", func(_ context.Context, in grantIn) (granted, error) {
			t.called("grant_admin")
			return granted{User: in.User, Role: "admin"}, nil
		}, atr.Meta{Version: "1.0.0", Description: "Grants a user the admin role.", SideEffect: atr.Write,
			Permissions: []string{"iam.admin"}}),
	)
}

// graph is the on-call knowledge graph: what each action needs, what it
// produces, and the baseline the scale-out runbook starts from.
func graph() (*mute.Graph, error) {
	g := mute.NewGraph()
	var errs []error
	for _, n := range []mute.Node{
		{ID: "read_metrics", Kind: mute.NodeAction, Description: "read a service's metrics"},
		{ID: "restart_service", Kind: mute.NodeAction, Description: "restart a service's pods"},
		{ID: "scale_deployment", Kind: mute.NodeAction, Description: "the runbook's scale-out"},
		{ID: "grant_admin", Kind: mute.NodeAction, Description: "grant the admin role"},
		{ID: "incident.open", Kind: mute.NodeContext, Description: "an incident is open"},
		{ID: "metrics.snapshot", Kind: mute.NodeResource, Description: "fresh metrics of the service"},
		{ID: "payments.at-baseline", Kind: mute.NodePrecondition, Fact: "payments.replicas", Want: "3",
			Description: "the scale-out starts from the baseline of 3 replicas"},
		{ID: "payments.restored", Kind: mute.NodePostcondition, Description: "payments serves within its objectives"},
		{ID: "admin.granted", Kind: mute.NodePostcondition, Description: "a user holds admin"},
	} {
		errs = append(errs, g.AddNode(n))
	}
	for _, e := range []mute.Edge{
		{From: "read_metrics", To: "metrics.snapshot", Kind: mute.EdgeProduces},
		{From: "restart_service", To: "incident.open", Kind: mute.EdgeRequires},
		{From: "restart_service", To: "metrics.snapshot", Kind: mute.EdgeRequires},
		{From: "restart_service", To: "read_metrics", Kind: mute.EdgeDependsOn},
		{From: "restart_service", To: "payments.restored", Kind: mute.EdgeProduces},
		{From: "scale_deployment", To: "incident.open", Kind: mute.EdgeRequires},
		{From: "scale_deployment", To: "payments.at-baseline", Kind: mute.EdgeRequires},
		{From: "scale_deployment", To: "payments.restored", Kind: mute.EdgeProduces},
		{From: "grant_admin", To: "admin.granted", Kind: mute.EdgeProduces},
	} {
		errs = append(errs, g.AddEdge(e))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return g, nil
}

func incident(ctx context.Context, w io.Writer) (*report, error) {
	step := func(s string) { fmt.Fprintln(w, "\n== "+s) }

	// The host's policy engine decides both the dry run and the syscalls.
	doc, err := policy.Parse("policy.yaml", policyYAML)
	if err != nil {
		return nil, err
	}
	eng, err := policy.NewEngine([]*policy.Document{doc})
	if err != nil {
		return nil, err
	}
	ts := &tools{calls: map[string]int{}}
	reg := atr.New()
	if err := ts.register(reg); err != nil {
		return nil, err
	}
	g, err := graph()
	if err != nil {
		return nil, err
	}
	rec, err := recorder.Open("", nil) // "" is in memory; a path is durable
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	k, err := kernel.New(kernel.WithPolicy(eng), kernel.WithRegistry(reg), kernel.WithRecorder(rec))
	if err != nil {
		return nil, err
	}
	defer k.Close()
	a, err := k.Spawn(ctx, executor, kernel.WithRole("oncall"))
	if err != nil {
		return nil, err
	}
	checker := mute.Checker{Graph: g, Facts: facts, Evaluator: eng, Subject: mute.Subject(a), Registry: k.Registry()}

	rep := &report{violations: map[string][]mute.Violation{}}
	fmt.Fprintf(w, "incident INC-4711: payments degraded; facts: payments.replicas=%s\n", facts["payments.replicas"])
	for _, p := range proposals {
		step(p.title)
		plan, err := mute.DecodePlan(strings.NewReader(p.plan))
		if err != nil {
			return nil, err
		}
		s := mute.NewSession(plan.ID)
		if err := s.Propose(plan); err != nil {
			return nil, err
		}
		err = s.Validate(ctx, checker)
		var rej *mute.RejectedError
		switch {
		case errors.As(err, &rej):
			if p.runs {
				return nil, fmt.Errorf("plan %s was refused: %w", plan.ID, err)
			}
			rep.violations[plan.ID] = rej.Violations
			fmt.Fprintf(w, "  plan %s %s before any step ran:\n", plan.ID, s.State())
			for _, v := range rej.Violations {
				fmt.Fprintf(w, "    %s\n", v)
			}
			if err := refusedUntouched(ctx, w, s, a, ts, rec); err != nil {
				return nil, err
			}
			continue
		case err != nil:
			return nil, err
		case !p.runs:
			return nil, fmt.Errorf("plan %s was not refused", plan.ID)
		}

		fmt.Fprintf(w, "  plan %s %s by the graph and the policy dry run\n", plan.ID, s.State())
		if err := s.Accept(); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "  plan %s %s; executing through the kernel\n", plan.ID, s.State())
		res, err := s.Execute(ctx, a)
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			fmt.Fprintf(w, "    %-8s %-16s → %+v\n", r.StepID, r.Tool, r.Result)
		}
		fmt.Fprintf(w, "  plan %s %s\n", plan.ID, s.State())
		rep.results = res
	}
	rep.calls = ts.snapshot()

	step("the flight recorder's trail")
	if err := rec.Flush(ctx); err != nil {
		return nil, err
	}
	for e, err := range rec.Query(ctx, recorder.Filter{Agent: executor}) {
		if err != nil {
			return nil, err
		}
		rep.trail = append(rep.trail, e)
		fmt.Fprintln(w, "  "+describe(e))
	}
	v, err := rec.Verify(ctx)
	if err != nil {
		return nil, err
	}
	if !v.OK {
		return nil, fmt.Errorf("recorder chain broken: %w", v.Err())
	}
	rep.verified = v.Entries
	fmt.Fprintf(w, "  chain verified: %d entries\n", v.Entries)
	return rep, nil
}

// refusedUntouched shows what a refused plan left behind: no tool ran, the
// recorder holds no exec decision, and the session will not execute.
func refusedUntouched(ctx context.Context, w io.Writer, s *mute.Session, a *kernel.Agent, ts *tools, rec *recorder.Recorder) error {
	calls := 0
	for _, n := range ts.snapshot() {
		calls += n
	}
	if err := rec.Flush(ctx); err != nil {
		return err
	}
	execs := 0
	for _, err := range rec.Query(ctx, recorder.Filter{Agent: executor, Op: agentos.OpExec, Kind: recorder.KindDecision}) {
		if err != nil {
			return err
		}
		execs++
	}
	if calls != 0 || execs != 0 {
		return fmt.Errorf("a refused plan left %d tool calls and %d exec decisions", calls, execs)
	}
	_, err := s.Execute(ctx, a)
	if !errors.Is(err, mute.ErrIllegalTransition) {
		return fmt.Errorf("a rejected session did not refuse to execute: %v", err)
	}
	fmt.Fprintf(w, "  tools called: %d; exec decisions recorded: %d; execute: %v\n", calls, execs, err)
	return nil
}

// describe renders one recorder entry on a line.
func describe(e recorder.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-3d %-9s", e.Seq, e.Kind)
	if e.Op != "" {
		fmt.Fprintf(&b, " %-5s %-16s", e.Op, e.Tool)
	}
	switch e.Kind {
	case recorder.KindDecision:
		fmt.Fprintf(&b, " → %s", e.Effect)
		if e.Rule != "" {
			fmt.Fprintf(&b, " (%s)", e.Rule)
		}
	case recorder.KindOutcome:
		fmt.Fprintf(&b, " → %s", e.Status)
	default:
		if e.Detail != "" {
			fmt.Fprintf(&b, " %s", e.Detail)
		}
	}
	return strings.TrimRight(b.String(), " ")
}
