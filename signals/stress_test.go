package signals_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/signals"
	"github.com/stretchr/testify/require"
)

var soak = flag.Bool("signals.soak", false, "run the long variant of the stress test")

// TestStress has goroutines send random signals, mask and unmask, while
// others pass the gate and commit, and checks the invariants:
//   - once a fatal Send (or a terminating SIGTERM) has returned, no Commit
//     runs its fn and every syscall context obtained before is done;
//   - the state never leaves Terminated (seen by the observer, in Seq order);
//   - every gate returns (stopped gates are released by CONT or the final
//     KILL), and no goroutine is left behind (goleak in TestMain).
func TestStress(t *testing.T) {
	rounds, ops := 12, 150
	if *soak {
		rounds, ops = 300, 2000
	}
	for r := range rounds {
		t.Run(fmt.Sprint(r), func(t *testing.T) { stressRound(t, uint64(r), ops) })
	}
}

func stressRound(t *testing.T, seed uint64, ops int) {
	var (
		violations atomic.Int64
		killed     atomic.Bool
		commits    atomic.Int64
		lastSeq    uint64
		terminated bool
		obsMu      sync.Mutex
		vmu        sync.Mutex
		firstErr   error
	)
	violate := func(err error) {
		violations.Add(1)
		vmu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		vmu.Unlock()
	}
	var d *signals.Dispatcher
	d = newDispatcher("stress",
		signals.WithHistory(64),
		signals.WithObserver(func(e signals.Event) {
			obsMu.Lock()
			defer obsMu.Unlock()
			if e.Seq != lastSeq+1+e.Dropped {
				violate(fmt.Errorf("observer: seq %d after %d (dropped %d)", e.Seq, lastSeq, e.Dropped))
			}
			lastSeq = e.Seq
			if terminated && (e.From != signals.Terminated || e.To != signals.Terminated) {
				violate(fmt.Errorf("left Terminated: %+v", e))
			}
			if e.To == signals.Terminated {
				terminated = true
			}
		}),
		signals.WithSnapshot(func(context.Context) (string, error) { return "snap", nil }),
		signals.WithCheckpoint(func(context.Context) (string, error) { panic("checkpoint bug") }),
		signals.WithDefaultAction(signals.SIGDRIFT, signals.DefaultStop),
	)
	// Handlers that call back into the dispatcher.
	require.NoError(t, d.Handle(signals.SIGLOOP, func(ctx context.Context, _ signals.Info) error {
		return d.Send(ctx, signals.SIGCONT, "loop handler")
	}))
	require.NoError(t, d.Handle(signals.SIGBUDGET, func(context.Context, signals.Info) error {
		_ = d.Mask(signals.SIGUSR1)
		return errBoom // default applies: stop
	}))
	require.NoError(t, d.Handle(signals.SIGTERM, func(ctx context.Context, _ signals.Info) error {
		_ = d.Send(ctx, signals.SIGCONT, "term handler")
		return nil
	}))

	markIfDead := func() {
		if d.State() == signals.Terminated {
			killed.Store(true)
		}
	}
	maskable := []signals.Signal{signals.SIGINT, signals.SIGUSR1, signals.SIGUSR2, signals.SIGLOOP, signals.SIGDRIFT, signals.SIGBUDGET}
	ctx := context.Background()
	var senders, workers sync.WaitGroup
	for g := range 4 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for range ops {
				switch x := rng.IntN(100); {
				case x < 1:
					sig := []signals.Signal{signals.SIGKILL, signals.SIGPOLICY, signals.SIGTRUST, signals.SIGTERM}[rng.IntN(4)]
					_ = d.Send(ctx, sig, "random")
					markIfDead()
				case x < 25:
					_ = d.Send(ctx, signals.SIGCONT, "")
				case x < 35:
					_ = d.Send(ctx, signals.SIGSTOP, "")
				case x < 45:
					_ = d.Mask(maskable[rng.IntN(len(maskable))])
				case x < 55:
					_ = d.Unmask(ctx, maskable[rng.IntN(len(maskable))])
				default:
					_ = d.Send(ctx, maskable[rng.IntN(len(maskable))], "")
				}
				_ = d.History()
			}
		}()
	}
	for w := range 4 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			// Alternate between a shared caller context and fresh ones.
			base := context.WithValue(ctx, ctxKey{}, w)
			for i := 0; ; i++ {
				cctx := base
				if i%3 == 0 {
					cctx = context.WithValue(base, ctxKey{}, i)
				}
				sctx, done, err := d.Enter(cctx)
				if err != nil {
					if !errors.Is(err, agentos.ErrKilled) {
						violate(fmt.Errorf("Enter: %w", err))
					}
					return
				}
				err = d.Commit(func() error {
					if killed.Load() {
						violate(errors.New("Commit ran fn after a kill returned"))
					}
					commits.Add(1)
					return nil
				})
				if err != nil && !errors.Is(err, agentos.ErrKilled) {
					violate(fmt.Errorf("Commit: %w", err))
				}
				if killed.Load() && sctx.Err() == nil {
					violate(errors.New("syscall context alive after a kill returned"))
				}
				done()
			}
		}()
	}
	senders.Wait()
	require.NoError(t, d.Send(ctx, signals.SIGKILL, "end of round"))
	killed.Store(true)
	workers.Wait() // every gate returned
	t.Logf("%d commits, %d events", commits.Load(), len(d.History()))
	require.Zero(t, violations.Load(), "first violation: %v", firstErr)
	require.Equal(t, signals.Terminated, d.State())
	require.Equal(t, 0, d.InFlight())
	require.Equal(t, 0, d.Waiting())
	ran := false
	require.ErrorIs(t, d.Commit(func() error { ran = true; return nil }), agentos.ErrKilled)
	require.False(t, ran)
}
