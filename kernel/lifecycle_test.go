package kernel_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

func TestRunRecoversPanic(t *testing.T) {
	ctx := context.Background()
	k, _ := newTestKernel(t)
	other := k.MustSpawn("other")

	err := k.Run(ctx, "crasher", func(ctx context.Context, a *kernel.Agent) error {
		require.NoError(t, a.Write(ctx, "/mem/working/before", []byte("1")))
		var m map[string]int
		m["boom"] = 1 // panics: assignment to entry in nil map
		return nil
	}, kernel.WithRole("worker"))
	var p *kernel.AgentPanic
	require.ErrorAs(t, err, &p)
	assert.Equal(t, agentos.AgentID("crasher"), p.Agent)
	assert.ErrorIs(t, err, agentos.ErrKilled)
	assert.Contains(t, err.Error(), "panicked")
	assert.NotEmpty(t, p.Stack)

	crasher := k.Agent("crasher")
	require.NotNil(t, crasher)
	assert.Equal(t, signals.Terminated, crasher.State())
	kerneltest.Killed(t, crasher.Write(ctx, "/mem/working/after", nil))

	// Only that agent was killed.
	assert.Equal(t, signals.Running, other.State())
	require.NoError(t, other.Write(ctx, "/mem/working/x", []byte("1")))

	panics := k.Query(recorder.Filter{Agent: "crasher", Kind: recorder.KindPanic})
	require.Len(t, panics, 1)
	assert.Contains(t, panics[0].Message, "nil map")
	assert.Contains(t, panics[0].Detail, "lifecycle_test.go")
	assert.Equal(t, agentos.SeverityCritical, panics[0].Severity)
}

func TestRunContextEndsWithKill(t *testing.T) {
	ctx := context.Background()
	k, _ := newTestKernel(t)
	a := k.MustSpawn("a")
	err := k.Run(ctx, "a", func(ctx context.Context, a *kernel.Agent) error {
		go func() { _ = k.Signal(context.Background(), a.ID(), signals.SIGKILL, "") }()
		<-ctx.Done()
		require.ErrorIs(t, context.Cause(ctx), agentos.ErrKilled)
		return ctx.Err()
	})
	require.ErrorIs(t, err, agentos.ErrKilled)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, signals.Terminated, a.State())

	// Run on a killed agent fails at once.
	err = k.Run(ctx, "a", func(context.Context, *kernel.Agent) error { t.Error("ran"); return nil })
	kerneltest.Killed(t, err)
	// Options are for a new agent only.
	k.MustSpawn("b")
	err = k.Run(ctx, "b", func(context.Context, *kernel.Agent) error { return nil }, kernel.WithRole("x"))
	require.ErrorIs(t, err, agentos.ErrInvalid)
	// A normal return passes fn's error through and leaves the agent alive.
	errMine := errors.New("mine")
	require.ErrorIs(t, k.Run(ctx, "b", func(context.Context, *kernel.Agent) error { return errMine }), errMine)
	assert.Equal(t, signals.Running, k.Agent("b").State())
}

func TestKernelPanic(t *testing.T) {
	ctx := context.Background()
	k, _ := newTestKernel(t)
	a, b := k.MustSpawn("a"), k.MustSpawn("b")
	require.NoError(t, a.Write(ctx, "/mem/working/x", []byte("1")))

	k.Panic("invariant broken")
	k.Panic("again") // no effect
	for _, ag := range []*kernel.Agent{a, b} {
		assert.Equal(t, signals.Terminated, ag.State())
		for _, call := range syscalls(ag) {
			assert.ErrorIs(t, call(ctx), agentos.ErrPanicked)
		}
	}
	_, err := k.Spawn(ctx, "c")
	require.ErrorIs(t, err, agentos.ErrPanicked)
	require.ErrorIs(t, k.Run(ctx, "d", func(context.Context, *kernel.Agent) error { return nil }), agentos.ErrPanicked)

	panics := k.Query(recorder.Filter{Kind: recorder.KindPanic})
	require.Len(t, panics, 1)
	assert.Equal(t, "kernel panic: invariant broken", panics[0].Message)
	kills := k.Query(recorder.Filter{Agent: "b", Kind: recorder.KindSignal})
	require.NotEmpty(t, kills)
	assert.Contains(t, kills[0].Message, "invariant broken")
}

func TestShadowMode(t *testing.T) {
	ctx := context.Background()
	k, c := newTestKernel(t, kernel.WithShadow())
	a := k.MustSpawn("a")

	require.NoError(t, a.Write(ctx, "/mem/working/x", []byte("1")))
	assert.False(t, exists(t, k, "a", "mem/working/x"), "shadow mode executed a write")
	out, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
	require.NoError(t, err)
	assert.Nil(t, out)
	assert.Zero(t, c.runs.Load(), "shadow mode ran a tool")
	_, err = a.Checkpoint(ctx)
	require.NoError(t, err)

	// Reads run.
	_, err = a.Read(ctx, "/mem/working/x")
	require.ErrorIs(t, err, agentos.ErrNotFound)
	list, err := a.List(ctx, "/mem")
	require.NoError(t, err)
	assert.NotEmpty(t, list)

	outs := k.Query(recorder.Filter{Agent: "a", Kind: recorder.KindOutcome})
	require.Len(t, outs, 5)
	for _, o := range outs[:3] {
		assert.Equal(t, recorder.StatusShadow, o.Status, o.Op)
	}
	assert.Equal(t, recorder.StatusError, outs[3].Status)
	assert.Equal(t, recorder.StatusOK, outs[4].Status)

	// Denials are still enforced.
	_, err = a.Exec(ctx, "sql.query", map[string]any{"query": "DROP TABLE t"})
	kerneltest.DeniedBy(t, err, "no-destructive-sql")
	assert.Equal(t, signals.Terminated, a.State())
}

func TestApprover(t *testing.T) {
	ctx := context.Background()
	t.Run("granted", func(t *testing.T) {
		var seen agentos.Action
		k, c := newTestKernel(t, kernel.WithApprover(func(_ context.Context, act agentos.Action, d agentos.Decision) (bool, error) {
			seen = act
			return d.Rule == "payments-approval", nil
		}, time.Second))
		a := k.MustSpawn("a")
		_, err := a.Exec(ctx, "payments.send", map[string]any{"amount": 5000})
		require.NoError(t, err)
		assert.EqualValues(t, 1, c.runs.Load())
		assert.Equal(t, "payments.send", seen.Tool)
		assert.EqualValues(t, 5000, seen.Args["amount"])
		d := k.LastDecision("a")
		assert.Equal(t, agentos.Approve, d.Effect)
		assert.Equal(t, kernel.StatusPermitted, d.Status)
		assert.Equal(t, "approved", d.Detail)
	})
	t.Run("refused", func(t *testing.T) {
		k, c := newTestKernel(t, kernel.WithApprover(func(context.Context, agentos.Action, agentos.Decision) (bool, error) {
			return false, nil
		}, time.Second))
		a := k.MustSpawn("a")
		_, err := a.Exec(ctx, "payments.send", map[string]any{"amount": 5000})
		kerneltest.DeniedBy(t, err, "payments-approval")
		assert.Zero(t, c.runs.Load())
		assert.Equal(t, signals.Running, a.State())
	})
	t.Run("timeout", func(t *testing.T) {
		k, c := newTestKernel(t, kernel.WithApprover(func(ctx context.Context, _ agentos.Action, _ agentos.Decision) (bool, error) {
			<-ctx.Done() // a human who never answers
			return true, nil
		}, 10*time.Millisecond))
		a := k.MustSpawn("a")
		_, err := a.Exec(ctx, "payments.send", map[string]any{"amount": 5000})
		kerneltest.DeniedBy(t, err, "payments-approval")
		assert.Zero(t, c.runs.Load())
		assert.Contains(t, k.LastDecision("a").Detail, "deadline exceeded")
	})
	t.Run("error and panic", func(t *testing.T) {
		calls := 0
		k, c := newTestKernel(t, kernel.WithApprover(func(context.Context, agentos.Action, agentos.Decision) (bool, error) {
			calls++
			if calls == 1 {
				return true, errors.New("approval service down")
			}
			panic("approver bug")
		}, time.Second))
		a := k.MustSpawn("a")
		_, err := a.Exec(ctx, "payments.send", nil)
		kerneltest.DeniedBy(t, err, "payments-approval")
		_, err = a.Exec(ctx, "payments.send", nil)
		kerneltest.DeniedBy(t, err, "payments-approval")
		assert.Zero(t, c.runs.Load())
	})
}

func TestRateLimitRefuses(t *testing.T) {
	ctx := context.Background()
	k, c := newTestKernel(t)
	a := k.MustSpawn("a")
	for range 2 {
		_, err := a.Exec(ctx, "web.search", map[string]any{"q": "go"})
		require.NoError(t, err)
	}
	_, err := a.Exec(ctx, "web.search", map[string]any{"q": "go"})
	v := kerneltest.Denied(t, err)
	assert.True(t, v.Decision.Refuse)
	assert.Equal(t, signals.Running, a.State(), "a rate limit refuses")
	assert.EqualValues(t, 2, c.runs.Load())
	k.Clock.Advance(time.Minute)
	_, err = a.Exec(ctx, "web.search", map[string]any{"q": "go"})
	require.NoError(t, err)
}

func TestSIGSTOPBlocksAtGate(t *testing.T) {
	ctx := context.Background()
	k, _ := newTestKernel(t)
	a := k.MustSpawn("a")
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGSTOP, ""))
	assert.Equal(t, signals.Stopped, a.State())

	done := make(chan error, 1)
	go func() { done <- a.Write(ctx, "/mem/working/x", []byte("1")) }()
	for signalsOf(t, k, a.ID()).Waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the syscall passed a stopped gate: %v", err)
	default:
	}
	assert.False(t, exists(t, k, "a", "mem/working/x"))
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGCONT, ""))
	require.NoError(t, <-done)
	assert.True(t, exists(t, k, "a", "mem/working/x"))

	// A caller's context ending at a stopped gate gives ErrStopped.
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGSTOP, ""))
	cctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	err := a.Write(cctx, "/mem/working/y", nil)
	require.ErrorIs(t, err, agentos.ErrStopped)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// A kill releases a stopped gate with ErrKilled.
	go func() { done <- a.Write(ctx, "/mem/working/z", nil) }()
	for signalsOf(t, k, a.ID()).Waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGKILL, ""))
	kerneltest.Killed(t, <-done)
}

func TestSpawnValidation(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t, kernel.WithMaxAgents(3))
	for _, id := range []agentos.AgentID{"", "-a", "a b", "a/b", "a\x00", "é", agentos.AgentID(strings.Repeat("a", kernel.MaxAgentIDLen+1)), "../x"} {
		_, err := k.Spawn(ctx, id)
		require.ErrorIs(t, err, agentos.ErrInvalid, "id %q", id)
	}
	k.MustSpawn("agent-1")
	_, err := k.Spawn(ctx, "agent-1")
	require.ErrorIs(t, err, agentos.ErrInvalid, "duplicate id")
	for _, o := range []kernel.AgentOption{kernel.WithTrust(1.5), kernel.WithTrust(-0.1), kernel.WithRole(strings.Repeat("r", 200)), nil} {
		_, err := k.Spawn(ctx, "agent-2", o)
		require.ErrorIs(t, err, agentos.ErrInvalid)
	}
	a := k.MustSpawn("agent-2", kernel.WithRole("analyst"), kernel.WithTrust(0.7), kernel.WithLabels(map[string]string{"team": "fin"}))
	assert.Equal(t, "analyst", a.Role())
	assert.Equal(t, 0.7, a.Trust())
	assert.Equal(t, map[string]string{"team": "fin"}, a.Labels())
	k.MustSpawn("agent-3")
	_, err = k.Spawn(ctx, "agent-4")
	require.ErrorIs(t, err, agentos.ErrQuota)

	// Reap frees a killed agent's slot; a live one cannot be reaped.
	require.ErrorIs(t, k.Reap("agent-3"), agentos.ErrInvalid)
	require.ErrorIs(t, k.Reap("nobody"), agentos.ErrNotFound)
	require.NoError(t, k.Signal(context.Background(), "agent-3", signals.SIGKILL, ""))
	require.NoError(t, k.Reap("agent-3"))
	k.MustSpawn("agent-4")
	assert.Equal(t, []agentos.AgentID{"agent-1", "agent-2", "agent-4"}, k.Agents())
	var lifecycle []string
	for _, e := range k.Query(recorder.Filter{Agent: "agent-3", Kind: recorder.KindLifecycle}) {
		lifecycle = append(lifecycle, e.Message)
	}
	assert.Equal(t, "reaped", lifecycle[len(lifecycle)-1], "the reap is recorded: %v", lifecycle)
}

// The agent's role, trust and labels reach policy.
func TestSubjectFeedsPolicy(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t, kerneltest.Policy(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: subj}
spec:
  rules:
    - name: trusted-analysts
      effect: allow
      when: agent.role == "analyst" && agent.trust >= 0.5 && agent.labels["team"] == "fin" && agent.id == "good"
`))
	good := k.MustSpawn("good", kernel.WithRole("analyst"), kernel.WithTrust(0.9), kernel.WithLabels(map[string]string{"team": "fin"}))
	require.NoError(t, good.Write(ctx, "/mem/working/x", nil))
	for id, opts := range map[agentos.AgentID][]kernel.AgentOption{
		"low":   {kernel.WithRole("analyst"), kernel.WithTrust(0.1), kernel.WithLabels(map[string]string{"team": "fin"})},
		"other": {kernel.WithRole("analyst"), kernel.WithTrust(0.9), kernel.WithLabels(map[string]string{"team": "ops"})},
	} {
		a := k.MustSpawn(id, opts...)
		kerneltest.DeniedBy(t, a.Write(ctx, "/mem/working/x", nil), "")
	}
}

func TestNewOptions(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "p.yaml")
	require.NoError(t, os.WriteFile(good, []byte(testPolicy), 0o600))
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("apiVersion: agentos/v1\nkind: Policy\nspec: {rules: [{name: x, effect: maybe, when: 'true'}]}\n"), 0o600))

	for name, opts := range map[string][]kernel.Option{
		"missing file":    {kernel.WithPolicyFile(filepath.Join(dir, "nope.yaml"))},
		"bad file":        {kernel.WithPolicyFile(bad)},
		"missing dir":     {kernel.WithPolicyDir(filepath.Join(dir, "nope"))},
		"two policies":    {kernel.WithPolicyFile(good), kernel.WithPolicySource("x", []byte(testPolicy))},
		"nil policy":      {kernel.WithPolicy(nil)},
		"nil recorder":    {kernel.WithRecorder(nil)},
		"nil tool":        {kernel.WithTool("t", nil)},
		"empty tool name": {kernel.WithTool("", func(context.Context, map[string]any) (any, error) { return nil, nil })},
		"dup tool": {kernel.WithTool("t", func(context.Context, map[string]any) (any, error) { return nil, nil }),
			kernel.WithTool("t", func(context.Context, map[string]any) (any, error) { return nil, nil })},
		"nil approver": {kernel.WithApprover(nil, 0)},
		"nil clock":    {kernel.WithClock(nil)},
		"nil logger":   {kernel.WithLogger(nil)},
		"nil option":   {nil},
		"zero agents":  {kernel.WithMaxAgents(0)},
	} {
		t.Run(name, func(t *testing.T) {
			k, err := kernel.New(opts...)
			require.Error(t, err)
			assert.Nil(t, k)
		})
	}
	for name, opt := range map[string]kernel.Option{
		"file": kernel.WithPolicyFile(good),
		"dir":  kernel.WithPolicyDir(dir + "/sub"),
	} {
		if name == "dir" {
			require.NoError(t, os.MkdirAll(dir+"/sub", 0o700))
			require.NoError(t, os.WriteFile(dir+"/sub/p.yaml", []byte(testPolicy), 0o600))
		}
		k, err := kernel.New(opt)
		require.NoError(t, err, name)
		a, err := k.Spawn(context.Background(), "a")
		require.NoError(t, err)
		data, err := a.Read(context.Background(), "/policy/test.yaml")
		require.NoError(t, err)
		assert.Equal(t, testPolicy, string(data))
		require.NoError(t, k.Close())
	}
}

func TestCloseIdempotentAndOwnership(t *testing.T) {
	ctx := context.Background()
	// The kernel's own recorder is closed with it.
	k, err := kernel.New()
	require.NoError(t, err)
	a, err := k.Spawn(ctx, "a")
	require.NoError(t, err)
	own := k.Recorder().(*recorder.Recorder)
	require.NoError(t, k.Close())
	require.NoError(t, k.Close())
	_, err = own.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle})
	require.ErrorIs(t, err, agentos.ErrClosed)
	for _, call := range syscalls(a) {
		require.ErrorIs(t, call(ctx), agentos.ErrClosed)
	}
	_, err = k.Spawn(ctx, "b")
	require.ErrorIs(t, err, agentos.ErrClosed)
	assert.Equal(t, signals.Terminated, a.State())

	// A recorder passed in stays open: it belongs to the caller.
	rec, err := recorder.Open("", nil)
	require.NoError(t, err)
	defer rec.Close()
	k2, err := kernel.New(kernel.WithRecorder(rec))
	require.NoError(t, err)
	require.NoError(t, k2.Close())
	_, err = rec.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Message: "after"})
	require.NoError(t, err)
	var msgs []string
	for e, err := range rec.Query(ctx, recorder.Filter{Kind: recorder.KindLifecycle}) {
		require.NoError(t, err)
		msgs = append(msgs, e.Message)
	}
	assert.Equal(t, []string{"kernel started", "kernel closed", "after"}, msgs)
}

// Close cancels syscalls in flight and waits for them.
func TestCloseCancelsInFlight(t *testing.T) {
	started := make(chan struct{})
	k, err := kernel.New(kernel.WithPolicySource("p", []byte(testPolicy)),
		kernel.WithTool("sql.query", func(ctx context.Context, _ map[string]any) (any, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}))
	require.NoError(t, err)
	a, err := k.Spawn(context.Background(), "a")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := a.Exec(context.Background(), "sql.query", map[string]any{"query": "SELECT 1"})
		done <- err
	}()
	<-started
	require.NoError(t, k.Close())
	kerneltest.Killed(t, <-done)
}

func TestReloadPolicy(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t)
	a := k.MustSpawn("a")
	_, err := a.Exec(ctx, "sql.query", nil)
	kerneltest.DeniedBy(t, err, "baseline-no-tools")

	b := k.MustSpawn("b")
	doc, err := policy.Parse("new.yaml", []byte(testPolicy))
	require.NoError(t, err)
	require.NoError(t, k.ReloadPolicy(ctx, []*policy.Document{doc}))
	require.NoError(t, b.Write(ctx, "/mem/working/x", nil))
	v := k.LastDecision("b")
	assert.Equal(t, "memory", v.Rule)
	assert.True(t, strings.HasPrefix(v.PolicyVersion, "test@1"), v.PolicyVersion)
	data, err := b.Read(ctx, "/policy/test.yaml")
	require.NoError(t, err)
	assert.Equal(t, testPolicy, string(data))
	_, err = b.Read(ctx, "/policy/kernel-baseline.yaml")
	require.ErrorIs(t, err, agentos.ErrNotFound)

	require.ErrorIs(t, k.ReloadPolicy(ctx, nil), agentos.ErrInvalid)
	k2 := kerneltest.New(t, kernel.WithPolicy(brokenEvaluator{}))
	require.ErrorIs(t, k2.ReloadPolicy(ctx, []*policy.Document{doc}), agentos.ErrInvalid)
}

// Many goroutines on one agent, and signals from others, under -race.
func TestConcurrentSyscalls(t *testing.T) {
	ctx := context.Background()
	k, c := newTestKernel(t)
	a := k.MustSpawn("a")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				p := "/mem/working/g" + string(rune('a'+g))
				kerneltest.Allowed(t, a.Append(ctx, p, []byte{byte(i)}))
				_, err := a.Read(ctx, p)
				kerneltest.Allowed(t, err)
				_, err = a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
				kerneltest.Allowed(t, err)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			_ = k.Signal(context.Background(), a.ID(), signals.SIGSTOP, "")
			_ = k.Signal(context.Background(), a.ID(), signals.SIGUSR1, "")
			_ = k.Signal(context.Background(), a.ID(), signals.SIGCONT, "")
		}
	})
	wg.Wait()
	assert.EqualValues(t, 8*50, c.runs.Load())
	k.Verify()
}

// Arguments are the kernel's copy: the tool gets what policy saw.
func TestArgsCopied(t *testing.T) {
	ctx := context.Background()
	var got map[string]any
	k := kerneltest.New(t, kerneltest.Policy(testPolicy), kernel.WithTool("sql.query", func(ctx context.Context, args map[string]any) (any, error) {
		got = args
		act, ok := kernel.ActionFromContext(ctx)
		require.True(t, ok)
		assert.Equal(t, "sql.query", act.Tool)
		assert.NotEmpty(t, act.ID)
		return []byte("ok"), nil
	}))
	a := k.MustSpawn("a")
	nested := map[string]any{"k": []any{1, "two"}}
	args := map[string]any{"query": "SELECT 1", "n": 7, "u": uint8(3), "nested": nested, "list": []string{"x"}}
	_, err := a.Exec(ctx, "sql.query", args)
	require.NoError(t, err)
	nested["k"] = "changed"
	args["query"] = "DROP TABLE users"
	assert.Equal(t, "SELECT 1", got["query"])
	assert.Equal(t, int64(7), got["n"])
	assert.Equal(t, int64(3), got["u"])
	assert.Equal(t, []any{int64(1), "two"}, got["nested"].(map[string]any)["k"])
	d := k.LastDecision("a")
	assert.JSONEq(t, `{"list":["x"],"n":7,"nested":{"k":[1,"two"]},"query":"SELECT 1","u":3}`, string(d.Args))
	outs := k.Query(recorder.Filter{Agent: "a", Kind: recorder.KindOutcome})
	require.Len(t, outs, 1)
	assert.Equal(t, d.Trace, outs[0].Trace)
	assert.Equal(t, "sha256:2689367b205c16ce32ed4200942b8b8b1e262dfc70d9bc9fbc77c49699a4f1df", outs[0].ResultDigest) // sha256("ok")
}

// A panicking tool fails its call; the agent and the kernel go on.
func TestToolPanicRecovered(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t, kerneltest.Policy(testPolicy), kernel.WithTool("sql.query", func(context.Context, map[string]any) (any, error) {
		panic("driver bug")
	}))
	a := k.MustSpawn("a")
	_, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
	require.ErrorContains(t, err, "driver bug")
	assert.Equal(t, signals.Running, a.State())
	_, err = a.Exec(ctx, "nope", nil)
	kerneltest.DeniedBy(t, err, "")
}

// OnReap functions are told of each reaped agent, after its entry is
// recorded; a removed one is not, a panicking one does not stop the others,
// and the registrations are bounded.
func TestOnReap(t *testing.T) {
	k := kerneltest.New(t)
	ctx := context.Background()
	var got []agentos.AgentID
	remove, err := k.OnReap(func(id agentos.AgentID) {
		var reaped bool
		for _, e := range k.Query(recorder.Filter{Agent: id, Kind: recorder.KindLifecycle}) {
			reaped = reaped || e.Message == "reaped"
		}
		require.True(t, reaped, "told after the entry is recorded")
		got = append(got, id)
	})
	require.NoError(t, err)
	_, err = k.OnReap(func(agentos.AgentID) { panic("boom") })
	require.NoError(t, err)
	for _, id := range []agentos.AgentID{"a", "b"} {
		k.MustSpawn(id)
		require.NoError(t, k.Signal(ctx, id, signals.SIGKILL, ""))
	}
	require.NoError(t, k.Reap("a"))
	remove()
	remove()
	require.NoError(t, k.Reap("b"))
	require.Equal(t, []agentos.AgentID{"a"}, got)

	_, err = k.OnReap(nil)
	require.ErrorIs(t, err, agentos.ErrInvalid)
	for i := 1; i < kernel.MaxReapFuncs; i++ { // the panicking one holds a place
		_, err := k.OnReap(func(agentos.AgentID) {})
		require.NoError(t, err)
	}
	_, err = k.OnReap(func(agentos.AgentID) {})
	require.ErrorIs(t, err, agentos.ErrInvalid)
}
