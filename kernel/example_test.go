package kernel_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/signals"
)

const examplePolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: example, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: own-memory
      effect: allow
      when: path.under(action.path, "/mem")
    - name: sql
      effect: allow
      when: action.op == "exec" && action.tool == "sql.query"
    - name: no-destructive-sql
      effect: deny
      severity: critical
      when: action.tool == "sql.query" && sql.destructive(action.args.query)
      message: destructive SQL is not allowed
`

func Example() {
	ctx := context.Background()
	k, err := kernel.New(
		kernel.WithPolicySource("example.yaml", []byte(examplePolicy)),
		kernel.WithTool("sql.query", func(ctx context.Context, args map[string]any) (any, error) {
			return "1 row", nil
		}),
	)
	if err != nil {
		panic(err)
	}
	defer k.Close()

	a, err := k.Spawn(ctx, "agent-001")
	if err != nil {
		panic(err)
	}
	_ = a.Write(ctx, "/mem/working/task.txt", []byte("Analyze data"))
	data, _ := a.Read(ctx, "/mem/working/task.txt")
	fmt.Printf("read: %s\n", data)

	out, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT count(*) FROM t"})
	fmt.Println("select:", out, err)

	_, err = a.Exec(ctx, "sql.query", map[string]any{"query": "DROP TABLE t"})
	var v *agentos.PolicyViolation
	if errors.As(err, &v) {
		fmt.Println("drop: denied by", v.Decision.Rule)
	}
	fmt.Println("state:", a.State())
	_, err = a.Read(ctx, "/mem/working/task.txt")
	fmt.Println("after the kill:", errors.Is(err, agentos.ErrKilled))
	// Output:
	// read: Analyze data
	// select: 1 row <nil>
	// drop: denied by no-destructive-sql
	// state: terminated
	// after the kill: true
}

// Run recovers a panic in agent code, records it and kills only that agent.
func ExampleKernel_Run() {
	ctx := context.Background()
	k, _ := kernel.New()
	defer k.Close()

	err := k.Run(ctx, "agent-002", func(ctx context.Context, a *kernel.Agent) error {
		var m map[string]int
		m["x"] = 1 // panics
		return nil
	})
	var p *kernel.AgentPanic
	fmt.Println(errors.As(err, &p), errors.Is(err, agentos.ErrKilled))
	fmt.Println(k.Agent("agent-002").State())
	// Output:
	// true true
	// terminated
}

// With no policy option the kernel runs the baseline policy: memory yes,
// tools no.
func ExampleNew_baseline() {
	ctx := context.Background()
	k, _ := kernel.New()
	defer k.Close()
	a, _ := k.Spawn(ctx, "agent-003")

	fmt.Println(a.Write(ctx, "/mem/working/notes", []byte("ok")))
	_, err := a.Exec(ctx, "shell", map[string]any{"cmd": "rm -rf /"})
	var v *agentos.PolicyViolation
	errors.As(err, &v)
	fmt.Println(v.Decision.Rule)
	// Output:
	// <nil>
	// baseline-no-tools
}

// The host's SIGSTOP holds the agent's syscalls at the gate until its
// SIGCONT.
func ExampleKernel_Signal() {
	ctx := context.Background()
	k, _ := kernel.New()
	defer k.Close()
	a, _ := k.Spawn(ctx, "agent-004")
	sigs, _ := k.SignalDispatcher("agent-004")

	_ = k.Signal(ctx, "agent-004", signals.SIGSTOP, "operator pause")
	done := make(chan error)
	go func() { done <- a.Write(ctx, "/mem/working/x", []byte("1")) }()
	for sigs.Waiting() == 0 {
		time.Sleep(time.Millisecond) // until the write is blocked at the gate
	}
	fmt.Println(a.State())
	_ = k.Signal(ctx, "agent-004", signals.SIGCONT, "operator resume")
	fmt.Println(<-done, a.State())
	// Output:
	// stopped
	// <nil> running
}

// An agent signals itself only as policy allows: here SIGUSR1, which runs
// the handler it installed.
func ExampleAgent_Signal() {
	ctx := context.Background()
	k, _ := kernel.New(kernel.WithPolicySource("self.yaml", []byte(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: self, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: self-usr1
      effect: allow
      when: action.op == "signal" && action.meta.signal == "SIGUSR1"
`)))
	defer k.Close()

	_ = k.Run(ctx, "agent-005", func(ctx context.Context, a *kernel.Agent) error {
		_ = a.Handle(signals.SIGUSR1, func(_ context.Context, info signals.Info) error {
			fmt.Println("handled", info.Signal, "from", info.Agent)
			return nil
		})
		fmt.Println(a.Signal(ctx, signals.SIGUSR1, "progress report"))
		return nil
	})
	// Output:
	// handled SIGUSR1 from agent-005
	// <nil>
}
