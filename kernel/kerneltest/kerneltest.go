// Package kerneltest helps unit-test agent code against an in-memory
// kernel: [New] builds a kernel with an in-memory flight recorder, a fake
// clock and a policy given as a string, and closes it when the test ends;
// [Denied], [DeniedBy] and [Allowed] assert what policy did with a syscall;
// [Kernel.Trail] reads an agent's recorder entries.
//
//	func TestMyAgent(t *testing.T) {
//		k := kerneltest.New(t, kerneltest.Policy(`
//	apiVersion: agentos/v1
//	kind: Policy
//	metadata: {name: test}
//	spec:
//	  rules:
//	    - name: memory
//	      effect: allow
//	      when: path.under(action.path, "/mem")
//	`))
//		a := k.MustSpawn("agent-1")
//		kerneltest.Allowed(t, a.Write(t.Context(), "/mem/working/x", []byte("1")))
//		_, err := a.Exec(t.Context(), "shell", nil)
//		kerneltest.DeniedBy(t, err, "") // the default effect
//	}
//
// The helpers are safe for concurrent use.
package kerneltest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/caas"
	"github.com/agent-os/agentos/emk"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/models/glove"
	"github.com/agent-os/agentos/recorder"
)

// Epoch is the time the fake clock of [New] starts at.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a fake clock. It moves only when told to. Safe for concurrent
// use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Ticking returns a reading of the clock that moves it on by step after
// each reading: the first reading is the clock's time, the next one step
// later, and so on. Given to kernel.WithClock (or a recorder's Options.Clock)
// it gives every entry its own deterministic time. Safe for concurrent use.
func (c *Clock) Ticking(step time.Duration) func() time.Time {
	return func() time.Time {
		c.mu.Lock()
		defer c.mu.Unlock()
		t := c.now
		c.now = c.now.Add(step)
		return t
	}
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Policy returns the kernel option that loads one policy document from its
// YAML text. Without it the kernel loads its baseline policy.
func Policy(yaml string) kernel.Option {
	return kernel.WithPolicySource("kerneltest.yaml", []byte(yaml))
}

// Kernel is a kernel under test with its recorder and clock.
type Kernel struct {
	*kernel.Kernel
	// Recorder is the in-memory recorder the kernel records into (nil when
	// the options replaced it with kernel.WithRecorder).
	Recorder *recorder.Recorder
	// Clock is the kernel's fake clock, starting at Epoch (nil when the
	// options replaced it with kernel.WithClock).
	Clock *Clock
	// Memory is the kernel's long-term memory when it was built by
	// [NewWithMemory]; zero otherwise.
	Memory kernel.Memory

	t testing.TB
}

// New builds a kernel for t: an in-memory recorder (Buffered: Trail flushes
// it), a fake clock starting at [Epoch], and opts, which come after these
// and may replace them. The kernel and the recorder are closed, and the
// recorder's chain verified, when the test ends. New fails the test if the
// kernel cannot be built.
func New(t testing.TB, opts ...kernel.Option) *Kernel {
	t.Helper()
	return newKernel(t, NewClock(Epoch), opts)
}

func newKernel(t testing.TB, clock *Clock, opts []kernel.Option) *Kernel {
	t.Helper()
	rec, err := recorder.Open("", &recorder.Options{Durability: recorder.Buffered, Clock: clock.Now})
	if err != nil {
		t.Fatalf("kerneltest: opening recorder: %v", err)
	}
	tk := &Kernel{Recorder: rec, Clock: clock, t: t}
	all := append([]kernel.Option{kernel.WithRecorder(rec), kernel.WithClock(clock.Now)}, opts...)
	k, err := kernel.New(all...)
	if err != nil {
		_ = rec.Close()
		t.Fatalf("kerneltest: %v", err)
	}
	tk.Kernel = k
	if _, ok := k.Recorder().(*recorder.Recorder); !ok || k.Recorder() != kernel.Sink(rec) {
		tk.Recorder = nil
	}
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Errorf("kerneltest: closing kernel: %v", err)
		}
		if tk.Recorder != nil {
			rep, err := rec.Verify(context.Background())
			if err != nil {
				t.Errorf("kerneltest: verifying recorder: %v", err)
			} else if !rep.OK {
				t.Errorf("kerneltest: recorder chain broken: %v", rep.Err())
			}
		}
		if err := rec.Close(); err != nil {
			t.Errorf("kerneltest: closing recorder: %v", err)
		}
	})
	return tk
}

// MustSpawn spawns an agent, failing the test if it cannot.
func (k *Kernel) MustSpawn(id agentos.AgentID, opts ...kernel.AgentOption) *kernel.Agent {
	k.t.Helper()
	a, err := k.Spawn(context.Background(), id, opts...)
	if err != nil {
		k.t.Fatalf("kerneltest: spawning %s: %v", id, err)
	}
	return a
}

// Trail returns every recorder entry of agent id, oldest first, after
// flushing the recorder. It fails the test when the kernel's recorder cannot
// be queried.
func (k *Kernel) Trail(id agentos.AgentID) []recorder.Entry {
	k.t.Helper()
	return k.Query(recorder.Filter{Agent: id})
}

// Decisions returns the decision entries of agent id, oldest first.
func (k *Kernel) Decisions(id agentos.AgentID) []recorder.Entry {
	k.t.Helper()
	return k.Query(recorder.Filter{Agent: id, Kind: recorder.KindDecision})
}

// LastDecision returns the newest decision entry of agent id, failing the
// test when there is none.
func (k *Kernel) LastDecision(id agentos.AgentID) recorder.Entry {
	k.t.Helper()
	es := k.Query(recorder.Filter{Agent: id, Kind: recorder.KindDecision, Order: recorder.Descending, Limit: 1})
	if len(es) == 0 {
		k.t.Fatalf("kerneltest: no decision recorded for agent %s", id)
	}
	return es[0]
}

// Query flushes the recorder and returns the entries matching f.
func (k *Kernel) Query(f recorder.Filter) []recorder.Entry {
	k.t.Helper()
	rec, ok := k.Kernel.Recorder().(*recorder.Recorder)
	if !ok {
		k.t.Fatalf("kerneltest: the kernel's recorder is a %T, not a *recorder.Recorder", k.Kernel.Recorder())
	}
	ctx := context.Background()
	if err := rec.Flush(ctx); err != nil {
		k.t.Fatalf("kerneltest: flushing recorder: %v", err)
	}
	var out []recorder.Entry
	for e, err := range rec.Query(ctx, f) {
		if err != nil {
			k.t.Fatalf("kerneltest: querying recorder: %v", err)
		}
		out = append(out, e)
	}
	return out
}

// Verify flushes the recorder and fails the test unless its chain verifies.
func (k *Kernel) Verify() recorder.Report {
	k.t.Helper()
	rec, ok := k.Kernel.Recorder().(*recorder.Recorder)
	if !ok {
		k.t.Fatalf("kerneltest: the kernel's recorder is a %T, not a *recorder.Recorder", k.Kernel.Recorder())
	}
	ctx := context.Background()
	if err := rec.Flush(ctx); err != nil {
		k.t.Fatalf("kerneltest: flushing recorder: %v", err)
	}
	rep, err := rec.Verify(ctx)
	if err != nil {
		k.t.Fatalf("kerneltest: verifying recorder: %v", err)
	}
	if !rep.OK {
		k.t.Fatalf("kerneltest: recorder chain broken: %v", rep.Err())
	}
	return rep
}

// Denied fails the test unless err is a policy denial (an
// *agentos.PolicyViolation), and returns it.
func Denied(t testing.TB, err error) *agentos.PolicyViolation {
	t.Helper()
	var v *agentos.PolicyViolation
	if !errors.As(err, &v) {
		t.Fatalf("kerneltest: want a policy denial, got %v", err)
	}
	return v
}

// DeniedBy fails the test unless err is a policy denial decided by rule
// ("" for the default effect, or a kernel rule such as
// kernel.RulePath), and returns it.
func DeniedBy(t testing.TB, err error, rule string) *agentos.PolicyViolation {
	t.Helper()
	v := Denied(t, err)
	if v.Decision.Rule != rule {
		t.Fatalf("kerneltest: want a denial by rule %q, got one by %q: %v", rule, v.Decision.Rule, err)
	}
	return v
}

// Allowed fails the test if err is a policy denial or the agent was killed.
// Other errors (a missing file, a tool's own error) pass: policy let the
// syscall through.
func Allowed(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, agentos.ErrDenied) || errors.Is(err, agentos.ErrKilled) {
		t.Fatalf("kerneltest: want the syscall allowed, got %v", err)
	}
}

// Killed fails the test unless err says the agent was killed.
func Killed(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, agentos.ErrKilled) {
		t.Fatalf("kerneltest: want agentos.ErrKilled, got %v", err)
	}
}

// NewWithMemory is [New] with long-term memory. The stores mem leaves nil
// are filled in: an in-memory episodic store (emk) for /mem/episodic/ and
// an in-memory context service (caas) for /mem/semantic/, both embedding
// with the offline embedder (models/glove) and stamping time with the
// kernel's fake clock; they are closed when the test ends. mem.Shared names
// the shared collections to mount. [Kernel.Memory] holds the stores for
// assertions and for the host's own ingestion.
func NewWithMemory(t testing.TB, mem kernel.Memory, opts ...kernel.Option) *Kernel {
	t.Helper()
	clock := NewClock(Epoch)
	if mem.Episodes == nil || mem.Context == nil {
		g, err := glove.New()
		if err != nil {
			t.Fatalf("kerneltest: embedder: %v", err)
		}
		if mem.Episodes == nil {
			eps, err := emk.Open("", emk.WithEmbedder(g.Embed), emk.WithClock(clock.Now))
			if err != nil {
				t.Fatalf("kerneltest: episodic memory: %v", err)
			}
			t.Cleanup(func() { // after the kernel's cleanup: registered first
				if err := eps.Close(); err != nil {
					t.Errorf("kerneltest: closing episodic memory: %v", err)
				}
			})
			mem.Episodes = eps
		}
		if mem.Context == nil {
			svc, err := caas.New(g.Embed, caas.WithClock(clock.Now))
			if err != nil {
				t.Fatalf("kerneltest: context service: %v", err)
			}
			t.Cleanup(func() {
				if err := svc.Close(); err != nil {
					t.Errorf("kerneltest: closing context service: %v", err)
				}
			})
			mem.Context = svc
		}
	}
	tk := newKernel(t, clock, append([]kernel.Option{kernel.WithMemory(mem)}, opts...))
	tk.Memory = mem
	return tk
}
