package kerneltest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const memoryPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: test}
spec:
  rules:
    - name: memory
      effect: allow
      when: path.under(action.path, "/mem")
    - name: no-shell
      effect: deny
      onDeny: refuse
      when: action.op == "exec" && action.tool == "shell"
`

// The flow the README shows works as written.
func TestReadmeFlow(t *testing.T) {
	k := kerneltest.New(t, kerneltest.Policy(memoryPolicy))
	a := k.MustSpawn("agent-1")
	kerneltest.Allowed(t, a.Write(t.Context(), "/mem/working/x", []byte("1")))
	_, err := a.Exec(t.Context(), "shell", nil)
	v := kerneltest.DeniedBy(t, err, "no-shell")
	assert.Equal(t, agentos.OpExec, v.Action.Op)
	_, err = a.Exec(t.Context(), "other", nil)
	kerneltest.DeniedBy(t, err, "") // the default effect

	trail := k.Trail("agent-1")
	require.NotEmpty(t, trail)
	decisions := k.Decisions("agent-1")
	require.Len(t, decisions, 3)
	assert.Equal(t, "memory", decisions[0].Rule)
	assert.Equal(t, "no-shell", decisions[1].Rule)
	assert.Equal(t, "", k.LastDecision("agent-1").Rule)
	assert.True(t, k.Verify().OK)
}

// The fake clock stamps the recorder's entries and moves only when told.
func TestClock(t *testing.T) {
	c := kerneltest.NewClock(kerneltest.Epoch)
	k := kerneltest.New(t, kerneltest.Policy(memoryPolicy), kernel.WithClock(c.Now))
	a := k.MustSpawn("a")
	kerneltest.Allowed(t, a.Write(t.Context(), "/mem/working/x", nil))
	assert.True(t, k.LastDecision("a").Time.Equal(kerneltest.Epoch))
	c.Advance(time.Hour)
	kerneltest.Allowed(t, a.Write(t.Context(), "/mem/working/x", nil))
	assert.True(t, k.LastDecision("a").Time.Equal(kerneltest.Epoch.Add(time.Hour)))
	got := k.Query(recorder.Filter{Agent: "a", Kind: recorder.KindDecision, Since: kerneltest.Epoch.Add(time.Minute)})
	assert.Len(t, got, 1)
}

// fakeTB records failures instead of failing the test that uses it.
type fakeTB struct {
	testing.TB // nil: calling anything not overridden here panics
	mu         sync.Mutex
	failed     bool
	msg        string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
}
func (f *fakeTB) Fatalf(format string, args ...any) { f.Errorf(format, args...); runtime.Goexit() }
func (f *fakeTB) FailNow()                          { f.Fail(); runtime.Goexit() }
func (f *fakeTB) Fail()                             { f.mu.Lock(); f.failed = true; f.mu.Unlock() }
func (f *fakeTB) Name() string                      { return "fake" }

// fails runs fn against a fake TB on its own goroutine (FailNow ends it)
// and reports whether fn failed it.
func fails(fn func(tb testing.TB)) bool {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// The assertions fail when what they claim is false, and only then.
func TestAssertionsFail(t *testing.T) {
	k := kerneltest.New(t, kerneltest.Policy(memoryPolicy))
	a := k.MustSpawn("a")
	_, denied := a.Exec(context.Background(), "shell", nil)
	require.Error(t, denied)
	other := errors.New("some other error")

	cases := []struct {
		name string
		fn   func(tb testing.TB)
		fail bool
	}{
		{"Allowed(nil)", func(tb testing.TB) { kerneltest.Allowed(tb, nil) }, false},
		{"Allowed(denied)", func(tb testing.TB) { kerneltest.Allowed(tb, denied) }, true},
		{"Denied(denied)", func(tb testing.TB) { kerneltest.Denied(tb, denied) }, false},
		{"Denied(nil)", func(tb testing.TB) { kerneltest.Denied(tb, nil) }, true},
		{"Denied(other)", func(tb testing.TB) { kerneltest.Denied(tb, other) }, true},
		{"DeniedBy(right rule)", func(tb testing.TB) { kerneltest.DeniedBy(tb, denied, "no-shell") }, false},
		{"DeniedBy(wrong rule)", func(tb testing.TB) { kerneltest.DeniedBy(tb, denied, "memory") }, true},
		{"DeniedBy(default, but a rule denied)", func(tb testing.TB) { kerneltest.DeniedBy(tb, denied, "") }, true},
		{"Killed(other)", func(tb testing.TB) { kerneltest.Killed(tb, other) }, true},
		{"Killed(ErrKilled)", func(tb testing.TB) { kerneltest.Killed(tb, fmt.Errorf("x: %w", agentos.ErrKilled)) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.fail, fails(c.fn))
		})
	}
}

// A ticking reading moves the clock on by its step after each reading, so
// every entry of a kernel on it has its own time, one step apart.
func TestClockTicking(t *testing.T) {
	c := kerneltest.NewClock(kerneltest.Epoch)
	tick := c.Ticking(time.Second)
	assert.True(t, tick().Equal(kerneltest.Epoch))
	assert.True(t, tick().Equal(kerneltest.Epoch.Add(time.Second)))
	assert.True(t, c.Now().Equal(kerneltest.Epoch.Add(2*time.Second)))

	k := kerneltest.New(t, kerneltest.Policy(memoryPolicy), kernel.WithClock(kerneltest.NewClock(kerneltest.Epoch).Ticking(time.Second)))
	a := k.MustSpawn("a")
	kerneltest.Allowed(t, a.Write(t.Context(), "/mem/working/x", nil))
	kerneltest.Allowed(t, a.Write(t.Context(), "/mem/working/x", nil))
	ds := k.Decisions("a")
	require.Len(t, ds, 2)
	assert.Greater(t, ds[1].Time.Sub(ds[0].Time), time.Duration(0))
	assert.Zero(t, ds[1].Time.Sub(ds[0].Time)%time.Second)
}
