package attack

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/signals"
)

const killPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: kill}
spec:
  rules:
    - name: memory
      effect: allow
      when: path.under(action.path, "/mem/working")
    - name: send
      effect: allow
      when: action.op == "send"
    - name: tool
      effect: allow
      when: action.tool == "count"
`

// TestNothingCommitsAfterSIGKILLReturns: agent code hammers the kernel
// from many goroutines — effects it supplies itself (run inside the
// kernel's commit section), tool calls and writes — while the host kills
// it at a random moment. Once Signal(SIGKILL) has returned, no effect of
// the agent commits any more, and no syscall issued after that succeeds.
func TestNothingCommitsAfterSIGKILLReturns(t *testing.T) {
	for round := range 40 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			var effects, lateSuccesses atomic.Int64
			var killed atomic.Bool
			count := func(context.Context, map[string]any) (any, error) { return "ok", nil }
			k := kerneltest.New(t, kerneltest.Policy(killPolicy), kernel.WithTool("count", count))
			a := k.MustSpawn("victim")
			k.MustSpawn("peer")

			ctx := context.Background()
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for g := range 6 {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						late := killed.Load()
						var err error
						switch g % 3 {
						case 0:
							_, err = a.Do(ctx, agentos.Action{Op: agentos.OpSend, Target: "peer"}, func(context.Context) (any, error) {
								effects.Add(1)
								return nil, nil
							})
						case 1:
							_, err = a.Exec(ctx, "count", nil)
						case 2:
							err = a.Write(ctx, fmt.Sprintf("/mem/working/f%d", i%8), []byte("x"))
						}
						if late && err == nil {
							lateSuccesses.Add(1)
						}
					}
				})
			}
			time.Sleep(time.Duration(round%10) * time.Millisecond)
			require.NoError(t, k.Signal(ctx, "victim", signals.SIGKILL, "attack"))
			killed.Store(true)
			after := effects.Load()
			time.Sleep(20 * time.Millisecond) // the agent's goroutines keep trying
			close(stop)
			wg.Wait()
			require.Equal(t, after, effects.Load(), "an effect committed after SIGKILL returned")
			require.Zero(t, lateSuccesses.Load(), "a syscall issued after SIGKILL returned succeeded")
			kerneltest.Killed(t, a.Write(ctx, "/mem/working/late", nil))
		})
	}
}
