//go:build linux

package proc_test

import (
	"context"
	"testing"

	"github.com/agent-os/agentos/internal/proc"
)

// BenchmarkRunSandbox is one run of /bin/true, plain and in a Sandbox:
// the sandbox adds a re-execution of this (test) binary as its init,
// three namespaces and the mounts, so its cost depends on the size of the
// binary that links proc.
func BenchmarkRunSandbox(b *testing.B) {
	if !isRoot() {
		b.Skip("the sandbox's namespaces need root")
	}
	s, err := proc.Compile(proc.Command{Path: "/bin/true"})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		sb   *proc.Sandbox
	}{{"plain", nil}, {"sandboxed", &proc.Sandbox{}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Run(context.Background(), nil, &proc.RunOptions{Sandbox: c.sb}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
