package recorder_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/recorder/recordertest"
	"github.com/stretchr/testify/require"
)

var crashKills = flag.Int("recorder.crashkills", 20, "number of SIGKILLs in TestCrash (use 200 or more for a soak)")

const crashChildEnv = "RECORDER_CRASH_CHILD"

// crashChild is the child process of TestCrash: it appends in WriteAhead
// mode from several goroutines and prints each acknowledged sequence on
// stdout, until it is killed.
func crashChild() {
	path := os.Getenv(crashChildEnv)
	r, err := recorder.Open(path, &recorder.Options{Durability: recorder.WriteAhead})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; ; i += 4 {
				seq, err := r.Append(context.Background(), recordertest.Sample(i))
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d\n", seq)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrash kills a WriteAhead appender with SIGKILL at random moments and
// checks, after each kill, that the file reopens, the chain verifies and no
// acknowledged entry is missing.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	path := tempPath(t, "crash.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var maxAck uint64
	for kill := range *crashKills {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		acks := make(chan uint64, 1<<16)
		readDone := make(chan struct{})
		ready := make(chan struct{})
		go func() {
			defer close(readDone)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "ready" {
					close(ready)
				}
				if s, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
					if n, err := strconv.ParseUint(s, 10, 64); err == nil {
						acks <- n
					}
				}
			}
		}()
		select {
		case <-ready:
		case <-readDone:
			t.Fatalf("kill %d: child ended before it was ready: %s", kill, stderr.String())
		}
		// Kill at a random moment while appends are in flight.
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		<-readDone
		werr := cmd.Wait()
		require.Error(t, werr, "child must die of the signal")
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && !ws.Signaled() {
			t.Fatalf("kill %d: child exited by itself: %v\n%s", kill, werr, stderr.String())
		}
		close(acks)
		n := 0
		for a := range acks {
			maxAck = max(maxAck, a)
			n++
		}
		r, err := recorder.Open(path, nil)
		require.NoError(t, err, "kill %d: reopen", kill)
		rep, err := r.Verify(context.Background())
		require.NoError(t, err)
		require.True(t, rep.OK, "kill %d: %v", kill, rep.Broken)
		require.GreaterOrEqual(t, rep.Head.Seq, maxAck, "kill %d: acknowledged entry %d missing (head %d)", kill, maxAck, rep.Head.Seq)
		require.Equal(t, rep.Head.Seq, rep.Entries, "kill %d: gap in sequences", kill)
		require.NoError(t, r.Close())
		t.Logf("kill %d: %d acks this run, head %d", kill, n, rep.Head.Seq)
	}
	require.Positive(t, maxAck, "no child ever acknowledged an entry")
}
