// Command bus runs two governed agents exchanging messages over NATS
// JetStream: an embedded nats-server (in this process, on a random loopback
// port, JetStream in a temporary directory that is removed at the end), the
// natsbus adapter, and a kernel whose agents publish, request, receive and
// reply through governed OpSend syscalls. The reporter's report reaches the
// auditor, its request is answered, its payroll export is denied, and the
// flight recorder's trail is printed.
//
//	go run ./examples/bus
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/amb/natsbus"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
)

//go:embed policy.yaml
var policyYAML []byte

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := run(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bus:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	// Deferred calls run in reverse: the kernel closes first (ending its
	// subscriptions), then the bus, the server, and the store is removed.
	dir, err := os.MkdirTemp("", "agentos-bus-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := startServer(dir)
	if err != nil {
		return err
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()

	bus, err := natsbus.Connect(ctx, srv.ClientURL(), &natsbus.Options{
		Options: amb.Options{Retry: amb.Retry{MaxAttempts: 1}},
	})
	if err != nil {
		return err
	}
	defer bus.Close()

	rec, err := recorder.Open("", &recorder.Options{Durability: recorder.WriteAhead})
	if err != nil {
		return err
	}
	defer rec.Close()
	k, err := kernel.New(
		kernel.WithPolicySource("policy.yaml", policyYAML),
		kernel.WithRecorder(rec),
		kernel.WithBus(bus),
	)
	if err != nil {
		return err
	}
	defer k.Close()

	reporter, err := k.Spawn(ctx, "reporter")
	if err != nil {
		return err
	}
	auditor, err := k.Spawn(ctx, "auditor")
	if err != nil {
		return err
	}
	fmt.Println("embedded nats-server with JetStream at", srv.ClientURL())

	step("the auditor subscribes to reports.>")
	filed := make(chan amb.Delivery, 1)
	_, err = auditor.Subscribe(ctx, "reports.>", func(ctx context.Context, d amb.Delivery) error {
		if d.IsRequest() {
			return d.Respond(ctx, amb.Message{Payload: []byte("audited: " + string(d.Payload)), ContentType: "text/plain"})
		}
		filed <- d
		return nil
	})
	if err != nil {
		return err
	}

	step("the reporter publishes a report: allowed, delivered, received under policy")
	err = reporter.Publish(ctx, "reports.daily", amb.Message{
		Payload:     []byte("revenue up 4%"),
		ContentType: "text/plain",
		Headers:     map[string]string{amb.HeaderSender: "ceo"}, // the kernel overwrites it
	})
	if err != nil {
		return err
	}
	select {
	case d := <-filed:
		fmt.Printf("  the auditor received %q on %s from %s\n", d.Payload, d.Topic, d.Header(amb.HeaderSender))
	case <-ctx.Done():
		return fmt.Errorf("the report never arrived: %w", ctx.Err())
	}

	step("the reporter asks the auditor: request and reply, both governed")
	reply, err := reporter.Request(ctx, "reports.check", amb.Message{Payload: []byte("q3 figures"), ContentType: "text/plain"})
	if err != nil {
		return err
	}
	fmt.Printf("  reply %q from %s\n", reply.Payload, reply.Header(amb.HeaderSender))

	step("the reporter publishes a payroll export: denied")
	err = reporter.Publish(ctx, "payroll.export", amb.Message{Payload: []byte("salaries.csv"), ContentType: "text/csv"})
	var v *agentos.PolicyViolation
	if !errors.As(err, &v) {
		return fmt.Errorf("the payroll export was not denied: %v", err)
	}
	fmt.Printf("  denied by rule %s (%s): %s\n", v.Decision.Rule, v.Decision.Severity, v.Decision.Message)
	fmt.Printf("  onDeny: refuse, so the reporter is still %s\n", reporter.State())

	step("the flight recorder's trail")
	if err := rec.Flush(ctx); err != nil {
		return err
	}
	for e, err := range rec.Query(ctx, recorder.Filter{}) {
		if err != nil {
			return err
		}
		fmt.Println("  " + describe(e))
	}
	rep, err := rec.Verify(ctx)
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("recorder chain broken: %w", rep.Err())
	}
	fmt.Printf("  chain verified: %d entries\n", rep.Entries)
	return nil
}

// startServer runs nats-server in this process: loopback only, a random
// port, JetStream stored under dir.
func startServer(dir string) (*server.Server, error) {
	srv, err := server.NewServer(&server.Options{
		ServerName:         "agentos-example",
		Host:               "127.0.0.1",
		Port:               server.RANDOM_PORT,
		JetStream:          true,
		StoreDir:           dir,
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  256 << 20,
		NoLog:              true,
		NoSigs:             true,
	})
	if err != nil {
		return nil, err
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("nats-server did not start")
	}
	return srv, nil
}

func step(s string) { fmt.Println("\n== " + s) }

// describe renders one recorder entry on a line.
func describe(e recorder.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-2d %-9s %-8s", e.Seq, e.Kind, e.Agent)
	switch e.Kind {
	case recorder.KindDecision:
		fmt.Fprintf(&b, " %s → %-15s %-5s rule=%s [payload %s, %s]", e.Op, e.Target, e.Effect, e.Rule, e.PayloadType, meta(e.Meta))
	case recorder.KindOutcome:
		fmt.Fprintf(&b, " %s → %-15s %s", e.Op, e.Target, e.Status)
	default:
		fmt.Fprintf(&b, " %s %s", e.Message, e.Detail)
	}
	return b.String()
}

// meta renders an entry's meta as sorted key=value pairs.
func meta(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}
