package signals_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/signals"
)

// The kernel passes every syscall through the gate and commits its effect
// through Commit; after SIGKILL nothing of the agent completes.
func ExampleDispatcher_Enter() {
	d, err := signals.New("agent-1", signals.WithObserver(func(e signals.Event) {
		fmt.Printf("event %d: %s %s (%s -> %s)\n", e.Seq, e.Signal, e.Action, e.From, e.To)
	}))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	syscall := func() error {
		sctx, done, err := d.Enter(ctx)
		if err != nil {
			return err
		}
		defer done()
		if err := sctx.Err(); err != nil {
			return context.Cause(sctx)
		}
		return d.Commit(func() error { return nil }) // e.g. the VFS write
	}

	fmt.Println("first syscall:", syscall())
	_ = d.Send(ctx, signals.SIGPOLICY, "rule no-rm-rf")
	err = syscall()
	fmt.Println("after kill:", errors.Is(err, agentos.ErrKilled))
	fmt.Println(err)
	// Output:
	// first syscall: <nil>
	// event 1: SIGPOLICY escalated (running -> running)
	// event 2: SIGKILL default (running -> terminated)
	// after kill: true
	// signals: agent agent-1: SIGPOLICY (rule no-rm-rf): agentos: agent killed
}

// Masked signals wait and are delivered in order on unmask.
func ExampleDispatcher_Mask() {
	d, err := signals.New("agent-2")
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = d.Handle(signals.SIGLOOP, func(_ context.Context, i signals.Info) error {
		fmt.Println("handling", i.Signal, i.Reason)
		return nil
	})
	_ = d.Mask(signals.SIGLOOP, signals.SIGUSR2)
	_ = d.Send(ctx, signals.SIGUSR2, "checkpoint please")
	_ = d.Send(ctx, signals.SIGLOOP, "same tool 5 times")
	fmt.Println("pending:", d.Pending())
	_ = d.Unmask(ctx, signals.SIGLOOP, signals.SIGUSR2)
	for _, e := range d.History() {
		fmt.Println(e.Seq, e.Signal, e.Action)
	}
	// Output:
	// pending: [SIGUSR2 SIGLOOP]
	// handling SIGLOOP same tool 5 times
	// 1 SIGUSR2 pending
	// 2 SIGLOOP pending
	// 3 SIGUSR2 ignored
	// 4 SIGLOOP handled
}

// SIGKILL cannot be caught or masked.
func ExampleDispatcher_Handle() {
	d, err := signals.New("agent-3")
	if err != nil {
		panic(err)
	}
	err = d.Handle(signals.SIGKILL, func(context.Context, signals.Info) error { return nil })
	fmt.Println(errors.Is(err, agentos.ErrInvalid), err)
	// Output:
	// true signals: agentos: invalid argument: SIGKILL cannot be caught
}

// SIGUSR2 takes a checkpoint through the hook given by option.
func ExampleWithCheckpoint() {
	d, err := signals.New("agent-4", signals.WithCheckpoint(func(context.Context) (string, error) {
		return "ckpt-0001", nil
	}))
	if err != nil {
		panic(err)
	}
	_ = d.Send(context.Background(), signals.SIGUSR2, "before risky step")
	e := d.History()[0]
	fmt.Println(e.Signal, e.Action, e.Result)
	// Output:
	// SIGUSR2 default ckpt-0001
}

// A default action that cannot apply is refused by New.
func ExampleWithDefaultAction() {
	_, err := signals.New("agent-5", signals.WithDefaultAction(signals.SIGKILL, signals.DefaultIgnore))
	fmt.Println(errors.Is(err, agentos.ErrInvalid))
	d, err := signals.New("agent-6", signals.WithDefaultAction(signals.SIGLOOP, signals.DefaultTerminate))
	fmt.Println(err)
	_ = d.Send(context.Background(), signals.SIGLOOP, "same tool 5 times")
	fmt.Println(d.State())
	// Output:
	// true
	// <nil>
	// terminated
}

func ExampleParseSignal() {
	s, err := signals.ParseSignal("kill")
	fmt.Println(s, err)
	// Output:
	// SIGKILL <nil>
}
