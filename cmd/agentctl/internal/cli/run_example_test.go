package cli

import (
	"fmt"
	"os"
	"strings"
)

// Main runs a script of syscalls under the baseline policy (memory yes,
// tools no) and prints what each gave.
func ExampleMain_run() {
	script := `
agents: [{id: alice}]
steps:
  - {agent: alice, op: write, path: /mem/working/notes, data: "hello", expect: allowed}
  - {agent: alice, op: exec, tool: shell, args: {cmd: ls}, expect: denied}
`
	code := Main([]string{"run", "-"}, strings.NewReader(script), os.Stdout, os.Stdout)
	fmt.Println("exit code:", code)
	// Output:
	// STEP  AGENT  OP     OBJECT              RESULT   RULE               DETAIL
	// 1     alice  write  /mem/working/notes  allowed                     5 bytes
	// 2     alice  exec   shell               denied   baseline-no-tools  the baseline policy allows no tool calls; give the kernel a policy that names the tools this agent may use
	// exit code: 0
}
