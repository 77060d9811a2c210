// Command agentctl is the operator's tool for agentos: it queries, verifies,
// exports and reports on flight recorders, replays recorded decisions under
// another policy, lints and tests policies, and runs agent programs under a
// kernel configured from flags or a YAML file.
//
// Exit codes: 0 success, 1 a check failed (a chain that does not verify,
// a policy test that fails, a replay that would change decisions when
// --fail-on-change is given), 2 a usage error or input that cannot be read.
// Run "agentctl help" for the commands.
package main

import (
	"os"

	"github.com/agent-os/agentos/cmd/agentctl/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
