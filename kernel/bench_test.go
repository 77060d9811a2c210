package kernel_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
	"github.com/agent-os/agentos/vfs"
)

// benchPolicy returns a policy of 20 rules: memory, policy view, and 18
// tool and path rules that a write to /mem/working does not match.
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
      when: action.op in ["read", "write", "append", "stat", "list"] && path.under(action.path, "/mem")
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

// countSink is a Sink that keeps nothing.
type countSink struct{ n atomic.Uint64 }

func (s *countSink) Append(context.Context, recorder.Entry) (uint64, error) { return s.n.Add(1), nil }

func benchKernel(b *testing.B, rec kernel.Sink) *kernel.Kernel {
	b.Helper()
	k, err := kernel.New(kernel.WithPolicySource("bench.yaml", []byte(benchPolicy())), kernel.WithRecorder(rec),
		kernel.WithMaxAgents(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = k.Close() })
	return k
}

func openBuffered(b *testing.B) *recorder.Recorder {
	b.Helper()
	rec, err := recorder.Open("", &recorder.Options{Durability: recorder.Buffered})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rec.Close() })
	return rec
}

// BenchmarkWrite compares a governed Write to /mem/working (20-rule policy,
// Buffered in-memory recorder) with the same write straight into the
// namespace, and with the policy decision alone.
func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	data := []byte("Analyze data")
	b.Run("direct", func(b *testing.B) {
		ns, err := vfs.NewAgentFS(nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := ns.Write(ctx, "/mem/working/task.txt", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decision", func(b *testing.B) {
		doc, err := policy.Parse("bench.yaml", []byte(benchPolicy()))
		if err != nil {
			b.Fatal(err)
		}
		e, err := policy.NewEngine([]*policy.Document{doc})
		if err != nil {
			b.Fatal(err)
		}
		in := policy.Input{
			Action: agentos.Action{ID: "t-1", Agent: "a", Op: agentos.OpWrite, Path: "/mem/working/task.txt", At: time.Now()},
			Agent:  policy.Subject{ID: "a"},
			Now:    time.Now(),
		}
		b.ReportAllocs()
		for b.Loop() {
			if d, err := e.Decide(ctx, in); err != nil || !d.Permits() {
				b.Fatal(d, err)
			}
		}
	})
	b.Run("recorder-2-appends", func(b *testing.B) {
		// The Buffered recorder alone, appending what a governed write
		// records: its sustained rate bounds the kernel's below.
		rec := openBuffered(b)
		e := recorder.Entry{Kind: recorder.KindDecision, Trace: "t-1", Agent: "a", Op: agentos.OpWrite,
			Path: "/mem/working/task.txt", Rule: "memory", Effect: agentos.Allow}
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
	b.Run("kernel-nullsink", func(b *testing.B) {
		// The kernel's own cost: gate, clean, decide, two entries built and
		// handed to a sink that only counts them, commit, write.
		k := benchKernel(b, &countSink{})
		a, err := k.Spawn(ctx, "a")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := a.Write(ctx, "/mem/working/task.txt", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kernel", func(b *testing.B) {
		k := benchKernel(b, openBuffered(b))
		a, err := k.Spawn(ctx, "a")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := a.Write(ctx, "/mem/working/task.txt", data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkConcurrent64 runs 64 agents writing concurrently through one
// kernel that records into a WriteAhead file recorder, and, as the
// baseline, 64 goroutines appending the same two entries per operation (a
// decision and an outcome) straight to such a recorder. ops/s is syscalls
// (kernel) or entry pairs (recorder) per second.
func BenchmarkConcurrent64(b *testing.B) {
	const agents = 64
	ctx := context.Background()
	openWA := func(b *testing.B) *recorder.Recorder {
		rec, err := recorder.Open(filepath.Join(b.TempDir(), "flight.db"), &recorder.Options{Durability: recorder.WriteAhead})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = rec.Close() })
		return rec
	}
	run := func(b *testing.B, op func(g, i int) error) {
		b.ReportAllocs()
		start := time.Now()
		n := b.N
		var wg sync.WaitGroup
		for g := range agents {
			wg.Go(func() {
				for i := g; i < n; i += agents {
					if err := op(g, i); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "ops/s")
	}
	b.Run("recorder", func(b *testing.B) {
		rec := openWA(b)
		run(b, func(g, i int) error {
			trace := fmt.Sprintf("t-%d", i)
			e := recorder.Entry{Kind: recorder.KindDecision, Trace: trace, Agent: agentos.AgentID(fmt.Sprintf("a%d", g)),
				Op: agentos.OpWrite, Path: "/mem/working/task.txt", Rule: "memory", Effect: agentos.Allow}
			if _, err := rec.Append(ctx, e); err != nil {
				return err
			}
			e.Kind, e.Status = recorder.KindOutcome, recorder.StatusOK
			_, err := rec.Append(ctx, e)
			return err
		})
	})
	b.Run("kernel", func(b *testing.B) {
		k := benchKernel(b, openWA(b))
		as := make([]*kernel.Agent, agents)
		for g := range as {
			a, err := k.Spawn(ctx, agentos.AgentID(fmt.Sprintf("a%d", g)))
			if err != nil {
				b.Fatal(err)
			}
			as[g] = a
		}
		data := []byte("Analyze data")
		run(b, func(g, i int) error { return as[g].Write(ctx, "/mem/working/task.txt", data) })
	})
}

// BenchmarkSignalStop measures SIGSTOP delivery: from Send to the gate
// being closed (Send returns once it took effect), then SIGCONT, each
// recorded in a Buffered recorder. ns/op covers both signals.
func BenchmarkSignalStop(b *testing.B) {
	ctx := context.Background()
	k := benchKernel(b, openBuffered(b))
	a, err := k.Spawn(ctx, "a")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := k.Signal(context.Background(), a.ID(), signals.SIGSTOP, ""); err != nil {
			b.Fatal(err)
		}
		if a.State() != signals.Stopped {
			b.Fatal("not stopped")
		}
		if err := k.Signal(context.Background(), a.ID(), signals.SIGCONT, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKill measures kill latency: from SIGKILL to the last of 8
// in-flight tool calls (blocked on their context) returning.
func BenchmarkKill(b *testing.B) {
	const inflight = 8
	ctx := context.Background()
	var started sync.WaitGroup
	block := func(ctx context.Context, _ map[string]any) (any, error) {
		started.Done()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	k, err := kernel.New(kernel.WithPolicySource("bench.yaml", []byte(benchPolicy())), kernel.WithRecorder(openBuffered(b)),
		kernel.WithTool("tool.0", block), kernel.WithMaxAgents(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = k.Close() })
	b.ReportAllocs()
	var total time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		a, err := k.Spawn(ctx, agentos.AgentID(fmt.Sprintf("a%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		var done sync.WaitGroup
		started.Add(inflight)
		for range inflight {
			done.Go(func() { _, _ = a.Exec(ctx, "tool.0", nil) })
		}
		started.Wait()
		b.StartTimer()
		t0 := time.Now()
		if err := k.Signal(context.Background(), a.ID(), signals.SIGKILL, ""); err != nil {
			b.Fatal(err)
		}
		done.Wait()
		total += time.Since(t0)
		b.StopTimer()
		_ = k.Reap(a.ID())
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(i), "ns/kill")
}
