package mute_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/mute"
	"github.com/agent-os/agentos/policy"
)

// benchPolicy is the kernel benchmarks' policy shape: 20 rules, 18 of them
// one tool each.
func benchPolicy() string {
	var b strings.Builder
	b.WriteString(`apiVersion: agentos/v1
kind: Policy
metadata: {name: bench, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: memory
      effect: allow
      when: action.op in ["read", "write"] && path.under(action.path, "/mem")
    - name: secrets
      effect: deny
      onDeny: refuse
      when: path.under(action.path, "/mem/working/secret")
`)
	for i := range 18 {
		fmt.Fprintf(&b, `    - name: tool-%d
      effect: allow
      when: action.op == "exec" && action.tool == "tool.%d" && size(action.args) < 10
`, i, i)
	}
	return b.String()
}

// BenchmarkDryRunVsDecide times the dry run of a 100-step plan against 100
// direct Engine.Decide calls on the same actions, in the same run, and
// reports the ratio (target <= 1.2).
func BenchmarkDryRunVsDecide(b *testing.B) {
	b.Run("explain", func(b *testing.B) { benchDryRun(b, false) })
	b.Run("decide-only", func(b *testing.B) { benchDryRun(b, true) })
}

// decideOnly hides the engine's Explain: the dry run then asks Decide.
type decideOnly struct{ e *policy.Engine }

func (d decideOnly) Decide(ctx context.Context, in policy.Input) (agentos.Decision, error) {
	return d.e.Decide(ctx, in)
}

func benchDryRun(b *testing.B, plain bool) {
	ctx := context.Background()
	doc, err := policy.Parse("bench.yaml", []byte(benchPolicy()))
	if err != nil {
		b.Fatal(err)
	}
	eng, err := policy.NewEngine([]*policy.Document{doc})
	if err != nil {
		b.Fatal(err)
	}
	reg := atr.New()
	for i := range 18 {
		if err := reg.Add(atr.Tool{Name: fmt.Sprint("tool.", i), Meta: atr.Meta{SideEffect: atr.Read},
			Func: func(context.Context, map[string]any) (any, error) { return nil, nil }}); err != nil {
			b.Fatal(err)
		}
	}
	var ev kernel.Evaluator = eng
	if plain {
		ev = decideOnly{eng}
	}
	subject := policy.Subject{ID: "bench", Role: "analyst"}
	plan := &mute.Plan{ID: "bench"}
	for i := range 100 {
		s := mute.Step{ID: fmt.Sprint("s", i), Action: fmt.Sprint("tool.", i%18), Args: map[string]any{"q": "SELECT 1", "n": int64(i)}}
		if i > 0 {
			s.DependsOn = []string{fmt.Sprint("s", i-1)}
		}
		plan.Steps = append(plan.Steps, s)
	}
	// The direct calls get the inputs the dry run builds, ready made.
	ds, err := mute.DryRun(ctx, ev, subject, reg, plan)
	if err != nil {
		b.Fatal(err)
	}
	inputs := make([]policy.Input, len(ds))
	for i, d := range ds {
		if !d.Permitted {
			b.Fatalf("step %s: %s", d.StepID, d.Reason)
		}
		t, _ := reg.Resolve(d.Action.Tool, "")
		inputs[i] = policy.Input{Action: d.Action, Agent: subject, Tool: &policy.Tool{Name: t.Name, Version: t.Meta.Version, SideEffect: string(t.Meta.SideEffect)}}
	}

	b.ReportAllocs()
	var dry, direct time.Duration
	var drys, directs []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := mute.DryRun(ctx, ev, subject, reg, plan); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for i := range inputs {
			if d, err := eng.Decide(ctx, inputs[i]); err != nil || d.Effect != agentos.Allow {
				b.Fatal(d, err)
			}
		}
		t2 := time.Now()
		dry += t1.Sub(t0)
		direct += t2.Sub(t1)
		drys, directs = append(drys, t1.Sub(t0)), append(directs, t2.Sub(t1))
	}
	b.ReportMetric(float64(dry.Nanoseconds())/float64(b.N), "dryrun-ns/plan")
	b.ReportMetric(float64(direct.Nanoseconds())/float64(b.N), "decide-ns/100")
	b.ReportMetric(float64(dry)/float64(direct), "ratio")
	// The ratio of the medians, and of the tenth percentiles: on a shared
	// machine the means carry the other processes' preemptions, which the
	// low percentiles mostly escape.
	b.ReportMetric(float64(percentile(drys, 50))/float64(percentile(directs, 50)), "ratio-p50")
	b.ReportMetric(float64(percentile(drys, 10))/float64(percentile(directs, 10)), "ratio-p10")
}

// percentile returns the p-th percentile of ds (sorting ds).
func percentile(ds []time.Duration, p int) time.Duration {
	slices.Sort(ds)
	return ds[(len(ds)-1)*p/100]
}
