package kernel_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/ipc"
	"github.com/agent-os/agentos/kernel"
)

// Summary is what the researcher hands the writer in the pipe example;
// policy sees it as payload type "kernel_test.Summary".
type Summary struct{ Text string }

const pipePolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: pipes, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: summaries-to-writer
      effect: allow
      when: action.op == "send" && action.target == "writer" && action.payloadType == "kernel_test.Summary"
    - name: nothing-else-crosses
      effect: deny
      onDeny: refuse
      when: action.op == "send" && action.payloadType != "kernel_test.Summary"
`

// A typed pipe between two agents: each crossing is a send syscall of the
// researcher, decided by policy and recorded; a denied value never reaches
// the next stage.
func ExampleAgent_Gate() {
	ctx := context.Background()
	k, err := kernel.New(kernel.WithPolicySource("pipes.yaml", []byte(pipePolicy)))
	if err != nil {
		panic(err)
	}
	defer k.Close()
	researcher, _ := k.Spawn(ctx, "researcher")
	_, _ = k.Spawn(ctx, "writer")

	pipe := ipc.Pipe3(
		ipc.Func[string, Summary](func(_ context.Context, s string) (Summary, error) { return Summary{s}, nil }),
		ipc.PolicyCheck[Summary](researcher.Gate("writer")),
		ipc.Func[Summary, string](func(_ context.Context, s Summary) (string, error) { return "filed: " + s.Text, nil }),
	)
	fmt.Println(pipe.Execute(ctx, "pipes are typed"))

	raw := ipc.Then(ipc.PolicyCheck[string](researcher.Gate("writer")),
		ipc.Func[string, string](func(_ context.Context, s string) (string, error) { return "filed: " + s, nil }))
	_, err = raw.Execute(ctx, "unreviewed notes")
	var v *agentos.PolicyViolation
	if errors.As(err, &v) {
		fmt.Println("denied:", v.Action.PayloadType, "by", v.Decision.Rule)
	}
	// Output:
	// filed: pipes are typed <nil>
	// denied: string by nothing-else-crosses
}

const busPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: bus, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: publish-reports
      effect: allow
      when: action.op == "send" && action.meta.direction == "publish" && action.target.startsWith("reports.")
    - name: receive-reports
      effect: allow
      when: >-
        action.op == "send" && action.meta.direction == "receive" &&
        action.target.startsWith("reports.") && action.meta.sender == "reporter"
`

// Publishing and receiving on a bus are governed sends; the kernel stamps
// the sender, whatever the agent wrote.
func ExampleAgent_Publish() {
	ctx := context.Background()
	bus := amb.NewMemory(nil)
	defer bus.Close()
	k, err := kernel.New(kernel.WithPolicySource("bus.yaml", []byte(busPolicy)), kernel.WithBus(bus))
	if err != nil {
		panic(err)
	}
	defer k.Close()
	reporter, _ := k.Spawn(ctx, "reporter")
	auditor, _ := k.Spawn(ctx, "auditor")

	got := make(chan amb.Delivery, 1)
	_, err = auditor.Subscribe(ctx, "reports.>", func(_ context.Context, d amb.Delivery) error {
		got <- d
		return nil
	})
	if err != nil {
		panic(err)
	}
	err = reporter.Publish(ctx, "reports.daily", amb.Message{
		Payload: []byte("revenue up"),
		Headers: map[string]string{amb.HeaderSender: "ceo"},
	})
	fmt.Println("publish:", err)
	d := <-got
	fmt.Printf("auditor got %q from %s\n", d.Payload, d.Header(amb.HeaderSender))

	err = reporter.Publish(ctx, "payroll.export", amb.Message{Payload: []byte("salaries")})
	fmt.Println("payroll allowed:", !errors.Is(err, agentos.ErrDenied), "reporter:", reporter.State())
	// Output:
	// publish: <nil>
	// auditor got "revenue up" from reporter
	// payroll allowed: false reporter: terminated
}
