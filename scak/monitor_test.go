package scak_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/scak"
	"github.com/agent-os/agentos/signals"
)

const monitorPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: scak-test, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: memory
      effect: allow
      when: action.op in ["read", "write", "stat", "list"] && path.under(action.path, "/mem")
    - name: tools
      effect: allow
      when: action.op == "exec" && action.tool in ["search", "flaky", "answer", "bytes"]
    - name: no-shell
      effect: deny
      onDeny: refuse
      when: action.op == "exec" && action.tool == "shell"
      message: no shell for agents
`

// monitoredKernel builds a kernel observed by m and bound to it, with
// tools that succeed, fail and give up; runs counts the tools' runs.
func monitoredKernel(t *testing.T, m *scak.Monitor) (*kerneltest.Kernel, *atomic.Int64) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // after the kernel's cleanup
	runs := new(atomic.Int64)
	tool := func(fn kernel.ToolFunc) kernel.ToolFunc {
		return func(ctx context.Context, args map[string]any) (any, error) {
			runs.Add(1)
			return fn(ctx, args)
		}
	}
	k := kerneltest.New(t, kerneltest.Policy(monitorPolicy),
		kernel.WithObserver(m.Observer()),
		kernel.WithTool("search", tool(func(_ context.Context, args map[string]any) (any, error) {
			return fmt.Sprintf("3 hits for %v", args["q"]), nil
		})),
		kernel.WithTool("flaky", tool(func(context.Context, map[string]any) (any, error) {
			return nil, errors.New("upstream returned 503")
		})),
		kernel.WithTool("answer", tool(func(context.Context, map[string]any) (any, error) {
			return "Sorry, I couldn't find any data on that.", nil
		})),
		kernel.WithTool("bytes", tool(func(context.Context, map[string]any) (any, error) {
			return []byte("No results."), nil
		})),
		kernel.WithTool("shell", tool(func(context.Context, map[string]any) (any, error) { return "ran", nil })),
	)
	require.NoError(t, m.Bind(k.Kernel))
	require.NoError(t, m.Bind(k.Kernel), "binding the same kernel again is a no-op")
	return k, runs
}

// Each syscall is classified: denials, tool errors, give-up results; a
// normal result or read is no failure.
func TestMonitorClassifies(t *testing.T) {
	ch := make(chan scak.Failure, 16)
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	m, err := scak.NewMonitor(scak.WithFailureChan(ch), scak.WithMonitorClock(func() time.Time { return at }))
	require.NoError(t, err)
	k, _ := monitoredKernel(t, m)
	a := k.MustSpawn("worker")
	ctx := context.Background()

	_, err = a.Exec(ctx, "search", map[string]any{"q": "acme"})
	require.NoError(t, err)
	require.NoError(t, a.Write(ctx, "/mem/working/x", []byte("No data found.")))
	_, err = a.Read(ctx, "/mem/working/x") // a file's content is not an answer
	require.NoError(t, err)
	_, err = a.Exec(ctx, "flaky", nil)
	require.ErrorContains(t, err, "503")
	_, err = a.Exec(ctx, "answer", map[string]any{"q": "acme"})
	require.NoError(t, err)
	_, err = a.Exec(ctx, "bytes", nil)
	require.NoError(t, err)
	_, err = a.Exec(ctx, "shell", map[string]any{"cmd": "ls"})
	kerneltest.DeniedBy(t, err, "no-shell")

	fs := m.Failures()
	require.Len(t, fs, 4)
	for _, f := range fs {
		assert.Empty(t, f.Task, "no task in the context")
	}
	assert.Equal(t, scak.KindToolError, fs[0].Kind)
	assert.Equal(t, "flaky", fs[0].Tool)
	assert.Contains(t, fs[0].Evidence, "upstream returned 503")
	assert.Equal(t, 1.0, fs[0].Confidence)
	assert.Equal(t, scak.KindGiveUp, fs[1].Kind)
	assert.Equal(t, "no-data", fs[1].Rule)
	assert.Equal(t, "could not find any data", fs[1].Evidence)
	assert.Equal(t, scak.KindGiveUp, fs[2].Kind)
	assert.Equal(t, "bytes", fs[2].Tool)
	assert.Equal(t, scak.KindDenied, fs[3].Kind)
	assert.Equal(t, "no-shell", fs[3].Rule)
	assert.Equal(t, "no shell for agents", fs[3].Evidence)
	for _, f := range fs {
		assert.Equal(t, agentos.AgentID("worker"), f.Agent)
		assert.Equal(t, agentos.OpExec, f.Op)
		assert.Equal(t, at, f.At)
		assert.NotEmpty(t, f.Trace)
		// The trace is the kernel's: the recorder has the syscall.
		assert.NotEmpty(t, k.Query(recorder.Filter{Trace: f.Trace}))
	}
	require.Len(t, ch, 4)
	assert.Equal(t, fs[0], <-ch)
	st := m.Stats()
	assert.Equal(t, scak.MonitorStats{Observed: 7, Failures: 4}, st)
}

// A looping agent gets SIGLOOP: its next syscall waits at the gate and
// never runs; the loop is a failure with its evidence, and an event in the
// flight recorder.
func TestMonitorStopsLoop(t *testing.T) {
	m, err := scak.NewMonitor()
	require.NoError(t, err)
	k, runs := monitoredKernel(t, m)
	a := k.MustSpawn("looper")
	ctx := context.Background()

	same := map[string]any{"q": "acme revenue"}
	for i, args := range []map[string]any{same, {"q": "other"}, same, {"q": "acme revenue"}} {
		_, err := a.Exec(ctx, "search", args)
		require.NoError(t, err, "call %d", i)
	}
	require.EqualValues(t, 4, runs.Load())
	d, err := k.SignalDispatcher("looper")
	require.NoError(t, err)
	require.Equal(t, signals.Stopped, d.State())

	stopped, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = a.Exec(stopped, "search", map[string]any{"q": "anything"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.EqualValues(t, 4, runs.Load(), "the call after SIGLOOP never ran")

	fs := m.Failures()
	require.Len(t, fs, 1)
	assert.Equal(t, scak.KindLoop, fs[0].Kind)
	assert.Equal(t, scak.RuleLoop, fs[0].Rule)
	assert.Equal(t, "exec search repeated 3 times in the last 8 syscalls", fs[0].Evidence)
	assert.Equal(t, agentos.AgentID("looper"), fs[0].Agent)
	assert.Equal(t, 1.0, fs[0].Confidence)
	assert.Equal(t, uint64(1), m.Stats().Loops)
	assert.Zero(t, m.Stats().SignalErrors)

	var event, signal bool
	for _, e := range k.Query(recorder.Filter{}) {
		if strings.HasPrefix(e.Message, "scak: loop detected: agent looper") {
			event = true
			assert.Contains(t, e.Detail, "repeated 3 times")
			assert.Contains(t, e.Detail, fs[0].Trace)
		}
		if e.Agent == "looper" && strings.Contains(e.Message+e.Detail, "SIGLOOP") {
			signal = true
		}
	}
	assert.True(t, event, "the loop is recorded")
	assert.True(t, signal, "the signal is recorded")

	require.NoError(t, k.Signal(ctx, "looper", signals.SIGKILL, "test over"))
	m.Forget("looper")
}

// Without Bind, or with WithoutLoopSignal, a loop is reported and the agent
// runs on.
func TestMonitorLoopWithoutSignal(t *testing.T) {
	for name, opts := range map[string][]scak.MonitorOption{
		"unbound":   nil,
		"no signal": {scak.WithoutLoopSignal()},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := scak.NewMonitor(append(opts, scak.WithLoop(scak.LoopConfig{Repeats: 2, Window: 2}))...)
			require.NoError(t, err)
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			k := kerneltest.New(t, kerneltest.Policy(monitorPolicy), kernel.WithObserver(m.Observer()),
				kernel.WithTool("search", func(context.Context, map[string]any) (any, error) { return "ok", nil }))
			if name != "unbound" {
				require.NoError(t, m.Bind(k.Kernel))
			}
			a := k.MustSpawn("a")
			for range 4 {
				_, err := a.Exec(context.Background(), "search", nil)
				require.NoError(t, err)
			}
			assert.Equal(t, uint64(2), m.Stats().Loops)
			d, err := k.SignalDispatcher("a")
			require.NoError(t, err)
			assert.Equal(t, signals.Running, d.State())
		})
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

// The observer can be driven directly: result types, statuses and the
// answer-tool filter.
func TestMonitorObserverDirect(t *testing.T) {
	ctx := context.Background()
	n := 0
	call := func(tool string, res any, err error, st recorder.Status) kernel.Syscall {
		n++ // every call differs: no loop
		return kernel.Syscall{
			Action:    agentos.Action{ID: "tr-" + tool, Agent: "a", Op: agentos.OpExec, Tool: tool, Args: map[string]any{"n": n}, At: t0},
			Decision:  agentos.Decision{Effect: agentos.Allow, Rule: "tools"},
			Permitted: true, Status: st, Result: res, Err: err,
		}
	}
	m, err := scak.NewMonitor(scak.WithAnswerTools("ask", "ask2"))
	require.NoError(t, err)
	obs := m.Observer()
	obs(ctx, call("ask", stringer("I don't know."), nil, recorder.StatusOK))
	obs(ctx, call("other", "I don't know.", nil, recorder.StatusOK))               // not an answer tool
	obs(ctx, call("ask2", map[string]any{"x": "no data"}, nil, recorder.StatusOK)) // not text
	obs(ctx, call("ask", nil, context.Canceled, recorder.StatusCanceled))          // interrupted: no tool error
	obs(ctx, call("ask", nil, errors.New("boom"), recorder.StatusError))
	var nilStringer *strings.Builder
	obs(ctx, call("ask2", nilStringer, nil, recorder.StatusOK))
	fs := m.Failures()
	require.Len(t, fs, 2)
	assert.Equal(t, scak.KindGiveUp, fs[0].Kind)
	assert.Equal(t, "cannot-answer", fs[0].Rule)
	assert.Equal(t, scak.KindToolError, fs[1].Kind)
	assert.Equal(t, uint64(6), m.Stats().Observed)
}

// The sinks are bounded and never block: a full channel drops (counted),
// the ring keeps the newest.
func TestMonitorSinksBounded(t *testing.T) {
	ch := make(chan scak.Failure, 1)
	m, err := scak.NewMonitor(scak.WithFailureChan(ch), scak.WithRingSize(3), scak.WithLoop(scak.LoopConfig{Window: 256, Repeats: 256}))
	require.NoError(t, err)
	obs := m.Observer()
	for i := range 10 {
		obs(context.Background(), kernel.Syscall{
			Action:   agentos.Action{ID: fmt.Sprint(i), Agent: "a", Op: agentos.OpExec, Tool: "x"},
			Decision: agentos.Decision{Effect: agentos.Deny, Rule: fmt.Sprint("r", i)},
			Status:   recorder.StatusDenied, Err: agentos.ErrDenied,
		})
	}
	fs := m.Failures()
	require.Len(t, fs, 3)
	assert.Equal(t, []string{"r7", "r8", "r9"}, []string{fs[0].Rule, fs[1].Rule, fs[2].Rule})
	assert.Equal(t, agentos.ErrDenied.Error(), fs[0].Evidence, "no message: the error is the evidence")
	st := m.Stats()
	assert.Equal(t, uint64(10), st.Failures)
	assert.Equal(t, uint64(9), st.Dropped)
	assert.Equal(t, uint64(7), st.Overwritten)
	assert.Equal(t, "r0", (<-ch).Rule)
}

func TestMonitorInvalid(t *testing.T) {
	for name, opt := range map[string]scak.MonitorOption{
		"nil option":    nil,
		"nil detector":  scak.WithDetector(nil),
		"nil chan":      scak.WithFailureChan(nil),
		"ring 0":        scak.WithRingSize(0),
		"ring too big":  scak.WithRingSize(scak.MaxRingSize + 1),
		"nil clock":     scak.WithMonitorClock(nil),
		"empty tool":    scak.WithAnswerTools(""),
		"loop repeats1": scak.WithLoop(scak.LoopConfig{Repeats: 1}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := scak.NewMonitor(opt)
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	m, err := scak.NewMonitor()
	require.NoError(t, err)
	require.ErrorIs(t, m.Bind(nil), agentos.ErrInvalid)
	k1 := kerneltest.New(t)
	k2 := kerneltest.New(t)
	require.NoError(t, m.Bind(k1.Kernel))
	require.ErrorIs(t, m.Bind(k2.Kernel), agentos.ErrInvalid)
}

// Many agents at once through one monitor (run with -race): each agent's
// loop is its own, and every syscall is counted.
func TestMonitorConcurrent(t *testing.T) {
	m, err := scak.NewMonitor(scak.WithLoop(scak.LoopConfig{MaxAgents: 4}), scak.WithRingSize(8))
	require.NoError(t, err)
	obs := m.Observer()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				obs(context.Background(), kernel.Syscall{
					Action:    agentos.Action{Agent: agentos.AgentID(fmt.Sprint("agent-", g)), Op: agentos.OpExec, Tool: "t", Args: map[string]any{"i": i % 2}, At: t0},
					Permitted: true, Status: recorder.StatusOK, Result: "fine",
				})
			}
		})
	}
	wg.Wait()
	st := m.Stats()
	assert.Equal(t, uint64(8*300), st.Observed)
	assert.Positive(t, st.Loops)
	assert.Len(t, m.Failures(), 8)
}

// The task a syscall's context names (WithTask) is the failure's task,
// bounded; syscalls without one have none.
func TestMonitorTaskFromContext(t *testing.T) {
	m, err := scak.NewMonitor()
	require.NoError(t, err)
	k, _ := monitoredKernel(t, m)
	a := k.MustSpawn("worker")
	ctx := scak.WithTask(context.Background(), "quarterly report: acme")
	_, err = a.Exec(ctx, "flaky", map[string]any{"n": 1})
	require.Error(t, err)
	_, err = a.Exec(scak.WithTask(ctx, strings.Repeat("é", scak.MaxTaskLen)), "flaky", map[string]any{"n": 2})
	require.Error(t, err)
	_, err = a.Exec(context.Background(), "flaky", map[string]any{"n": 3})
	require.Error(t, err)
	fs := m.Failures()
	require.Len(t, fs, 3)
	assert.Equal(t, "quarterly report: acme", fs[0].Task)
	assert.LessOrEqual(t, len(fs[1].Task), scak.MaxTaskLen)
	assert.True(t, utf8.ValidString(fs[1].Task))
	assert.NotEmpty(t, fs[1].Task)
	assert.Empty(t, fs[2].Task)
	assert.Equal(t, "", scak.TaskFrom(context.Background()))
}

// A bound monitor forgets a reaped agent's loop history: an agent spawned
// later under the same id starts afresh instead of inheriting the calls of
// its predecessor.
func TestMonitorForgetsReaped(t *testing.T) {
	m, err := scak.NewMonitor()
	require.NoError(t, err)
	k, _ := monitoredKernel(t, m)
	ctx := context.Background()
	same := map[string]any{"q": "acme revenue"}
	a := k.MustSpawn("worker")
	for range 2 {
		_, err := a.Exec(ctx, "search", same)
		require.NoError(t, err)
	}
	require.NoError(t, k.Signal(ctx, "worker", signals.SIGKILL, "done"))
	require.NoError(t, k.Reap("worker"))

	b := k.MustSpawn("worker")
	// A wrongly inherited loop would stop b at its next call: bound it.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = b.Exec(ctx, "search", same)
	require.NoError(t, err)
	assert.Zero(t, m.Stats().Loops, "the new worker's first call is not its predecessor's third")
	for range 2 {
		_, err := b.Exec(ctx, "search", same)
		require.NoError(t, err)
	}
	assert.Equal(t, uint64(1), m.Stats().Loops, "its own third call is")
}
