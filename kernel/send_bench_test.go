package kernel_test

import (
	"context"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/ipc"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
)

// sendBenchPolicy is benchPolicy (20 rules) plus the rules a pipe crossing
// and a bus publish match.
func sendBenchPolicy() string {
	return benchPolicy() + `    - name: results-to-summary
      effect: allow
      when: >-
        action.op == "send" && action.meta.direction == "pipe" && action.target == "summary" &&
        action.payloadType == "kernel_test.Result"
    - name: publish-reports
      effect: allow
      when: action.op == "send" && action.meta.direction == "publish" && action.target.startsWith("reports.")
`
}

func sendBenchKernel(b *testing.B, rec kernel.Sink, opts ...kernel.Option) *kernel.Kernel {
	b.Helper()
	k, err := kernel.New(append([]kernel.Option{
		kernel.WithPolicySource("bench.yaml", []byte(sendBenchPolicy())), kernel.WithRecorder(rec),
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = k.Close() })
	for _, id := range []agentos.AgentID{"researcher", "summary"} {
		if _, err := k.Spawn(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
	return k
}

// BenchmarkGovernedHop measures one value crossing an ipc.PolicyCheck stage:
// ungoverned (a gate that admits everything), the policy decision of the
// crossing alone, and governed by the kernel (Agent.Gate) with a sink that
// keeps nothing and with a Buffered in-memory recorder; and, for reference,
// the two recorder appends a governed crossing makes.
func BenchmarkGovernedHop(b *testing.B) {
	ctx := context.Background()
	v := Result{Text: "findings"}
	b.Run("ungoverned", func(b *testing.B) {
		check := ipc.PolicyCheck[Result](ipc.GateFunc(func(context.Context, ipc.Crossing) error { return nil }))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := check.Process(ctx, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decision", func(b *testing.B) {
		doc, err := policy.Parse("bench.yaml", []byte(sendBenchPolicy()))
		if err != nil {
			b.Fatal(err)
		}
		e, err := policy.NewEngine([]*policy.Document{doc})
		if err != nil {
			b.Fatal(err)
		}
		in := policy.Input{
			Action: agentos.Action{ID: "t-1", Agent: "researcher", Op: agentos.OpSend, Target: "summary",
				PayloadType: ipc.TypeName[Result](), Meta: map[string]string{kernel.MetaDirection: kernel.DirectionPipe}, At: time.Now()},
			Agent: policy.Subject{ID: "researcher"},
			Peer:  &policy.Subject{ID: "summary"},
			Now:   time.Now(),
		}
		b.ReportAllocs()
		for b.Loop() {
			if d, err := e.Decide(ctx, in); err != nil || !d.Permits() {
				b.Fatal(d, err)
			}
		}
	})
	b.Run("recorder-2-appends", func(b *testing.B) {
		rec := openBuffered(b)
		e := recorder.Entry{Kind: recorder.KindDecision, Trace: "t-1", Agent: "researcher", Op: agentos.OpSend,
			Target: "summary", Rule: "results-to-summary", Effect: agentos.Allow,
			PayloadType: "kernel_test.Result", Meta: map[string]string{"direction": "pipe"}}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rec.Append(ctx, e); err != nil {
				b.Fatal(err)
			}
			if _, err := rec.Append(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, sink := range []struct {
		name string
		open func(b *testing.B) kernel.Sink
	}{
		{"governed-nullsink", func(*testing.B) kernel.Sink { return &countSink{} }},
		{"governed-buffered", func(b *testing.B) kernel.Sink { return openBuffered(b) }},
	} {
		b.Run(sink.name, func(b *testing.B) {
			k := sendBenchKernel(b, sink.open(b))
			check := ipc.PolicyCheck[Result](k.Agent("researcher").Gate("summary"))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := check.Process(ctx, v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPublish compares a governed Agent.Publish on a memory bus with
// no subscriber to the bus's own Publish.
func BenchmarkPublish(b *testing.B) {
	ctx := context.Background()
	m := amb.Message{Payload: []byte("numbers"), ContentType: "text/plain"}
	b.Run("bus", func(b *testing.B) {
		bus := amb.NewMemory(nil)
		b.Cleanup(func() { _ = bus.Close() })
		b.ReportAllocs()
		for b.Loop() {
			if err := bus.Publish(ctx, "reports.daily", m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("governed-nullsink", func(b *testing.B) {
		bus := amb.NewMemory(nil)
		b.Cleanup(func() { _ = bus.Close() })
		k := sendBenchKernel(b, &countSink{}, kernel.WithBus(bus))
		a := k.Agent("researcher")
		b.ReportAllocs()
		for b.Loop() {
			if err := a.Publish(ctx, "reports.daily", m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
