package kernel_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
)

// A command tool runs a program once policy permits its exec. Argument
// values are checked against the declared parameters and reach the
// program only as arguments (here, the shell script's "$1"), never as
// script text.
func ExampleWithCommand() {
	ctx := context.Background()
	k, err := kernel.New(
		kernel.WithPolicySource("greet.yaml", []byte(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: greet}
spec:
  rules:
    - name: greet
      effect: allow
      when: action.op == "exec" && action.tool == "greet"
`)),
		kernel.WithCommand("greet", kernel.Command{
			Script: `echo "hello, $1"`,
			Args:   []string{"{name}"},
			Params: []kernel.CommandParam{{Name: "name", Required: true, Pattern: `[A-Za-z ;$()]+`}},
		}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer k.Close()
	a, _ := k.Spawn(ctx, "agent-001")

	res, err := a.Exec(ctx, "greet", map[string]any{"name": "world; $(reboot)"})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := res.(*kernel.CommandResult)
	fmt.Printf("exit %d: %s", r.ExitCode, r.Stdout.Data)

	_, err = a.Exec(ctx, "greet", map[string]any{"name": "x", "path": "/etc"})
	fmt.Println(errors.Is(err, agentos.ErrInvalid))
	// Output:
	// exit 0: hello, world; $(reboot)
	// true
}
