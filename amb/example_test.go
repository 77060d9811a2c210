package amb_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/agent-os/agentos/amb"
)

func Example() {
	ctx := context.Background()
	bus := amb.NewMemory(nil)
	defer bus.Close()

	done := make(chan struct{})
	sub, _ := bus.Subscribe(ctx, "agents.*.inbox", func(ctx context.Context, d amb.Delivery) error {
		fmt.Printf("%s from %s: %s\n", d.Topic, d.Header(amb.HeaderSender), d.Payload)
		close(done)
		return nil
	})
	defer sub.Unsubscribe()

	_ = bus.Publish(ctx, "agents.summarizer.inbox", amb.Message{
		Payload: []byte("summarize report.pdf"),
		Headers: map[string]string{amb.HeaderSender: "researcher"},
	})
	<-done
	// Output: agents.summarizer.inbox from researcher: summarize report.pdf
}

func ExampleMemory_Request() {
	ctx := context.Background()
	bus := amb.NewMemory(nil)
	defer bus.Close()

	_, _ = bus.Subscribe(ctx, "svc.upper", func(ctx context.Context, d amb.Delivery) error {
		return d.Respond(ctx, amb.Message{Payload: []byte(fmt.Sprintf("%q handled", d.Payload))})
	})
	reply, err := bus.Request(ctx, "svc.upper", amb.Message{Payload: []byte("ping")})
	fmt.Println(string(reply.Payload), err)

	_, err = bus.Request(ctx, "svc.nobody", amb.Message{})
	fmt.Println(errors.Is(err, amb.ErrNoResponders))
	// Output:
	// "ping" handled <nil>
	// true
}

func ExampleDeadLetterTopic() {
	ctx := context.Background()
	bus := amb.NewMemory(&amb.MemoryOptions{Options: amb.Options{Retry: amb.Retry{MaxAttempts: 2, Backoff: amb.ExponentialBackoff(0, 0)}}})
	defer bus.Close()

	dead := make(chan amb.Delivery, 1)
	_, _ = bus.Subscribe(ctx, "_dlq.>", func(_ context.Context, d amb.Delivery) error {
		dead <- d
		return nil
	})
	_, _ = bus.Subscribe(ctx, "jobs.resize", func(_ context.Context, d amb.Delivery) error {
		return errors.New("image too large")
	})
	_ = bus.Publish(ctx, "jobs.resize", amb.Message{Payload: []byte("img-7")})

	d := <-dead
	fmt.Println(d.Topic, string(d.Payload))
	fmt.Println(d.Header(amb.HeaderDeadCause), d.Header(amb.HeaderDeadAttempts), d.Header(amb.HeaderDeadReason))
	// Output:
	// _dlq.jobs.resize img-7
	// handler-error 2 image too large
}

func ExampleStartAtSeq() {
	ctx := context.Background()
	bus := amb.NewMemory(nil)
	defer bus.Close()
	for _, s := range []string{"a", "b", "c"} {
		_ = bus.Publish(ctx, "log", amb.Message{Payload: []byte(s)})
	}
	got := make(chan string, 3)
	_, _ = bus.Subscribe(ctx, "log", func(_ context.Context, d amb.Delivery) error {
		got <- fmt.Sprintf("%d:%s", d.Seq, d.Payload)
		return nil
	}, amb.StartAtSeq(2))
	fmt.Println(<-got, <-got)
	// Output: 2:b 3:c
}
