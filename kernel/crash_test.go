package kernel_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
	"github.com/stretchr/testify/require"
)

var kernelCrashKills = flag.Int("kernel.crashkills", 200, "number of SIGKILLs in TestKernelCrash")

const (
	kernelCrashChildEnv = "AGENTOS_KERNEL_CRASH_CHILD"
	crashAgents         = 2
)

const crashPolicy = `apiVersion: agentos/v1
kind: Policy
metadata: {name: crash, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: effect
      effect: allow
      when: action.op == "exec" && action.tool == "effect"
`

// kernelCrashChild is the child process of TestKernelCrash: a kernel with a
// WriteAhead file recorder whose tool "effect" appends its trace id to an
// effects file (O_APPEND, fsync) — an effect outside the recorder that
// survives the kill. Agents call it in a loop until the process is killed;
// it never returns.
func kernelCrashChild(dir string) {
	fail := func(what string, err error) {
		fmt.Fprintln(os.Stderr, what+":", err)
		os.Exit(2)
	}
	effects, err := os.OpenFile(filepath.Join(dir, "effects"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fail("effects", err)
	}
	rec, err := recorder.Open(filepath.Join(dir, "kernel.db"), &recorder.Options{Durability: recorder.WriteAhead})
	if err != nil {
		fail("recorder", err)
	}
	effect := func(ctx context.Context, _ map[string]any) (any, error) {
		act, ok := kernel.ActionFromContext(ctx)
		if !ok {
			return nil, fmt.Errorf("no action in the tool's context")
		}
		if _, err := effects.WriteString(act.ID + "\n"); err != nil {
			return nil, err
		}
		return "done", effects.Sync()
	}
	k, err := kernel.New(kernel.WithPolicySource("crash.yaml", []byte(crashPolicy)),
		kernel.WithRecorder(rec), kernel.WithTool("effect", effect))
	if err != nil {
		fail("kernel", err)
	}
	ctx := context.Background()
	errs := make(chan error, crashAgents)
	for i := range crashAgents {
		a, err := k.Spawn(ctx, agentos.AgentID(fmt.Sprintf("agent-%d", i)))
		if err != nil {
			fail("spawn", err)
		}
		go func() {
			for {
				if _, err := a.Exec(ctx, "effect", nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	fmt.Println("ready")
	fail("exec", <-errs)
}

// TestKernelCrash kills a process running a kernel (WriteAhead file
// recorder, outcomes committed with the next decision) with SIGKILL at
// random moments, -kernel.crashkills times, and checks after each kill what
// the kernel promises: no effect without a durable permitted decision;
// every permitted decision has a durable outcome or is reported as an
// unknown outcome by Stats and Verify; the chain verifies. The same files
// carry on from one run to the next, as after a real crash and restart.
func TestKernelCrash(t *testing.T) {
	if dir := os.Getenv(kernelCrashChildEnv); dir != "" {
		kernelCrashChild(dir) // never returns: goleak never sees it
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	ctx := t.Context()
	effectsSeen, unknown := 0, 0
	for kill := range *kernelCrashKills {
		cmd := osexec.Command(exe, "-test.run=^TestKernelCrash$")
		cmd.Env = append(os.Environ(), kernelCrashChildEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			ok := sc.Scan() && sc.Text() == "ready"
			ready <- ok
			for sc.Scan() {
			}
		}()
		if !<-ready {
			_ = cmd.Wait()
			t.Fatalf("kill %d: child ended before it was ready: %s", kill, stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(25)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		werr := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("kill %d: child exited by itself: %v\n%s", kill, werr, stderr.String())
		}
		effectsSeen, unknown = checkAfterCrash(ctx, t, dir, kill)
	}
	require.Positive(t, effectsSeen, "no child ever ran its tool")
	t.Logf("%d kills, %d effects, %d unknown outcomes", *kernelCrashKills, effectsSeen, unknown)
}

// checkAfterCrash reopens the recorder of a killed child and checks the
// kernel's promises; it returns the number of effects and of unknown
// outcomes so far.
func checkAfterCrash(ctx context.Context, t *testing.T, dir string, kill int) (effects, unknowns int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "effects"))
	require.NoError(t, err)
	// A write of a few bytes with O_APPEND is one system call: the file
	// holds whole lines, the last one included.
	require.True(t, len(data) == 0 || bytes.HasSuffix(data, []byte("\n")), "kill %d: torn effect line", kill)
	lines := strings.Fields(string(data))

	rec, err := recorder.Open(filepath.Join(dir, "kernel.db"), nil)
	require.NoError(t, err, "kill %d: reopen", kill)
	defer func() { require.NoError(t, rec.Close()) }()
	decisions := map[string]recorder.Entry{}
	outcomes := map[string]bool{}
	for e, err := range rec.Query(ctx, recorder.Filter{Op: agentos.OpExec}) {
		require.NoError(t, err)
		switch e.Kind {
		case recorder.KindDecision:
			decisions[e.Trace] = e
		case recorder.KindOutcome:
			outcomes[e.Trace] = true
		}
	}
	// (1) No effect without a durable permitted decision.
	for _, trace := range lines {
		d, ok := decisions[trace]
		require.True(t, ok, "kill %d: effect of %s has no durable decision", kill, trace)
		require.Equal(t, kernel.StatusPermitted, d.Status, "kill %d: effect of %s", kill, trace)
	}
	// (2) Every permitted decision has its outcome, or is reported unknown.
	var unknown []uint64
	for trace, d := range decisions {
		if d.Status == kernel.StatusPermitted && !outcomes[trace] {
			unknown = append(unknown, d.Seq)
		}
	}
	slices.Sort(unknown)
	require.LessOrEqual(t, len(unknown), recorder.MaxUnknownListed, "kill %d: raise the bound or lower the kills", kill)
	st, err := rec.Stats(ctx)
	require.NoError(t, err)
	require.EqualValues(t, len(unknown), st.Unknown.Count, "kill %d: Stats", kill)
	require.Equal(t, unknown, nilIfEmpty(st.Unknown.Seqs), "kill %d: Stats", kill)
	// (3) The chain verifies, and Verify names the same unknown outcomes.
	rep, err := rec.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "kill %d: %v", kill, rep.Broken)
	require.Equal(t, unknown, nilIfEmpty(rep.Unknown.Seqs), "kill %d: Verify", kill)
	return len(lines), len(unknown)
}

func nilIfEmpty(s []uint64) []uint64 {
	if len(s) == 0 {
		return nil
	}
	return s
}

// The recorder's idea of a permitted decision is the kernel's.
func TestStatusPermittedAgrees(t *testing.T) {
	require.Equal(t, recorder.StatusPermitted, kernel.StatusPermitted)
}
