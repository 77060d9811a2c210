package ipc_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/ipc"
)

type doc struct {
	Title        string
	Confidential bool
}

type secret struct{ Key string }

// fakeGate records every crossing and denies the payload types it is told
// to, and any doc marked confidential, the way the kernel's gate would:
// with a *agentos.PolicyViolation for an OpSend.
type fakeGate struct {
	deny map[string]bool
	mu   sync.Mutex
	log  []ipc.Crossing
}

func (g *fakeGate) Admit(_ context.Context, c ipc.Crossing) error {
	g.mu.Lock()
	g.log = append(g.log, c)
	g.mu.Unlock()
	d, isDoc := c.Value.(doc)
	if g.deny[c.PayloadType] || (isDoc && d.Confidential) {
		return &agentos.PolicyViolation{
			Action:   agentos.Action{Agent: "research", Op: agentos.OpSend, Target: "summary", PayloadType: c.PayloadType},
			Decision: agentos.Decision{Effect: agentos.Deny, Rule: "no-leaks"},
		}
	}
	return nil
}

func (g *fakeGate) crossings() []ipc.Crossing {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]ipc.Crossing(nil), g.log...)
}

var _ ipc.Gate = (*fakeGate)(nil)

func TestPolicyCheckExecute(t *testing.T) {
	tests := []struct {
		name    string
		deny    map[string]bool
		in      doc
		allowed bool
	}{
		{"allowed", nil, doc{Title: "a"}, true},
		{"denied by type", map[string]bool{"ipc_test.doc": true}, doc{Title: "a"}, false},
		{"denied by content", nil, doc{Title: "b", Confidential: true}, false},
		{"other type denied only", map[string]bool{"ipc_test.secret": true}, doc{Title: "c"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gate := &fakeGate{deny: tt.deny}
			var nextCalls atomic.Int64
			next := counted(&nextCalls, func(d doc) (string, error) { return "summary of " + d.Title, nil })
			p := ipc.Then(ipc.PolicyCheck[doc](gate), next)

			got, err := p.Execute(context.Background(), tt.in)

			require.Equal(t, []ipc.Crossing{{PayloadType: "ipc_test.doc", Value: tt.in}}, gate.crossings())
			if tt.allowed {
				require.NoError(t, err)
				assert.Equal(t, "summary of "+tt.in.Title, got)
				assert.Equal(t, int64(1), nextCalls.Load())
				return
			}
			assert.ErrorIs(t, err, agentos.ErrDenied)
			var pv *agentos.PolicyViolation
			require.ErrorAs(t, err, &pv)
			assert.Equal(t, agentos.OpSend, pv.Action.Op)
			assert.Equal(t, "ipc_test.doc", pv.Action.PayloadType)
			assert.Empty(t, got)
			assert.Zero(t, nextCalls.Load(), "a denied value never reaches the next stage")
		})
	}
}

// In a stream, a denial fails its own element only; the next stage sees
// exactly the admitted values, in order.
func TestPolicyCheckStream(t *testing.T) {
	for _, workers := range []int{1, 3} {
		gate := &fakeGate{}
		var mu sync.Mutex
		var reached []string
		summary := ipc.Func[doc, string](func(_ context.Context, d doc) (string, error) {
			assert.False(t, d.Confidential, "confidential doc reached the summary stage")
			mu.Lock()
			reached = append(reached, d.Title)
			mu.Unlock()
			return "sum:" + d.Title, nil
		})
		research := ipc.Func[int, doc](func(_ context.Context, i int) (doc, error) {
			return doc{Title: string(rune('a' + i)), Confidential: i%3 == 1}, nil
		})
		p := ipc.Pipe3(research, ipc.Parallel(ipc.PolicyCheck[doc](gate), workers), summary)
		ctx := context.Background()
		got := collect(p.Stream(ctx, feed(ctx, 12)))
		require.Len(t, got, 12)
		var want []string
		for i, r := range got {
			assert.Equal(t, i, r.Index)
			if i%3 == 1 {
				var pv *agentos.PolicyViolation
				assert.ErrorAs(t, r.Err, &pv)
				assert.Empty(t, r.Value)
				continue
			}
			require.NoError(t, r.Err)
			title := string(rune('a' + i))
			assert.Equal(t, "sum:"+title, r.Value)
			want = append(want, title)
		}
		assert.Equal(t, want, reached)
		assert.Len(t, gate.crossings(), 12)
	}
}

func TestPolicyCheckGateFailure(t *testing.T) {
	errDown := errors.New("policy engine unavailable")
	tests := []struct {
		name  string
		gate  ipc.Gate
		cause error
	}{
		{"gate error", ipc.GateFunc(func(context.Context, ipc.Crossing) error { return errDown }), errDown},
		{"nil gate", nil, ipc.ErrNoGate},
		{"wrapped violation passes unchanged", ipc.GateFunc(func(_ context.Context, c ipc.Crossing) error {
			return errors.Join(errDown, &agentos.PolicyViolation{Action: agentos.Action{Op: agentos.OpSend}})
		}), errDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var nextCalls atomic.Int64
			p := ipc.Then(ipc.PolicyCheck[secret](tt.gate), counted(&nextCalls, func(s secret) (int, error) { return len(s.Key), nil }))
			got, err := p.Execute(context.Background(), secret{Key: "k"})
			assert.Zero(t, got)
			assert.ErrorIs(t, err, agentos.ErrDenied, "a crossing the gate did not admit counts as denied")
			assert.ErrorIs(t, err, tt.cause)
			assert.Zero(t, nextCalls.Load())
			var ge *ipc.GateError
			var pv *agentos.PolicyViolation
			if errors.As(err, &pv) {
				assert.False(t, errors.As(err, &ge), "a violation is returned as the gate gave it")
			} else {
				require.ErrorAs(t, err, &ge)
				assert.Equal(t, "ipc_test.secret", ge.PayloadType)
			}
		})
	}
}

func TestPolicyCheckPayloadType(t *testing.T) {
	assert.Equal(t, "ipc_test.doc", ipc.PolicyCheck[doc](nil).PayloadType())
	assert.Equal(t, "*ipc_test.doc", ipc.PolicyCheck[*doc](nil).PayloadType())
	assert.Equal(t, ipc.TypeName[[]secret](), ipc.PolicyCheck[[]secret](nil).PayloadType())
}

func TestPolicyCheckContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "from-caller")
	var seen any
	gate := ipc.GateFunc(func(ctx context.Context, _ ipc.Crossing) error { seen = ctx.Value(key{}); return nil })
	_, err := ipc.PolicyCheck[int](gate).Process(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, "from-caller", seen, "the gate gets the caller's context")
}
