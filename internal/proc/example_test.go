//go:build unix

package proc_test

import (
	"context"
	"fmt"

	"github.com/agent-os/agentos/internal/proc"
)

// A value reaches the program as one argument, whatever it holds: there
// is no shell to interpret it.
func ExampleSpec_Run() {
	spec, err := proc.Compile(proc.Command{
		Path:   "/bin/echo",
		Args:   []string{"search:", "{q}"},
		Params: []proc.Param{{Name: "q", Required: true, MaxLen: 100}},
	})
	if err != nil {
		panic(err)
	}
	res, err := spec.Run(context.Background(), map[string]any{"q": "x; rm -rf / $(id)"}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q exit %d, %d bytes\n", res.Argv[1:], res.ExitCode, res.Stdout.Size)
	fmt.Print(string(res.Stdout.Data))

	_, err = spec.Run(context.Background(), map[string]any{"q": "--help"}, nil)
	fmt.Println(err)
	// Output:
	// ["search:" "x; rm -rf / $(id)"] exit 0, 26 bytes
	// search: x; rm -rf / $(id)
	// proc: argument "q": starts with '-' where it would begin an argument (an option)
}
