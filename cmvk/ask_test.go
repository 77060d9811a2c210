package cmvk

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/scripted"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func prompt(q string) agentos.Prompt {
	return agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleUser, Content: q}}}
}

func replies(name, text string) Named {
	return Named{Name: name, Model: scripted.MustNew(scripted.Name(name), scripted.Otherwise().Reply(text))}
}

// blocker is a model that answers only when its context ends, and then
// with text and no error: a model that ignores cancellation's meaning.
func blocker(called *atomic.Int32) agentos.Model {
	return agentos.ModelFunc(func(ctx context.Context, p agentos.Prompt) (agentos.Completion, error) {
		if called != nil {
			called.Add(1)
		}
		<-ctx.Done()
		return agentos.Completion{Text: "late answer"}, nil
	})
}

// tickClock returns a clock that advances by step on every call.
func tickClock(step time.Duration) func() time.Time {
	var n atomic.Int64
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * step) }
}

func TestAskAllAnswer(t *testing.T) {
	models := []Named{replies("a", "Paris"), replies("b", "Paris."), replies("c", "Lyon")}
	as, err := Ask(context.Background(), prompt("capital of France?"), models, WithClock(tickClock(time.Millisecond)), WithLimit(1))
	require.NoError(t, err)
	require.Len(t, as, 3)
	for i, want := range []string{"Paris", "Paris.", "Lyon"} {
		require.Equal(t, models[i].Name, as[i].Name)
		require.NoError(t, as[i].Err)
		require.Equal(t, want, as[i].Completion.Text)
		require.Equal(t, time.Millisecond, as[i].Latency, "one at a time: one tick between start and end")
	}
	a, ok := as.Get("c")
	require.True(t, ok)
	require.Equal(t, "Lyon", a.Completion.Text)
	_, ok = as.Get("z")
	require.False(t, ok)
	require.Len(t, as.OK(), 3)
}

func TestAskPartialFailures(t *testing.T) {
	boom := errors.New("rate limited")
	models := []Named{
		replies("good", "42"),
		{Name: "fails", Model: scripted.MustNew(scripted.Otherwise().Fail(boom))},
		{Name: "panics", Model: agentos.ModelFunc(func(context.Context, agentos.Prompt) (agentos.Completion, error) {
			panic("model bug")
		})},
		replies("huge", strings.Repeat("x", 101)),
		{Name: "slow", Model: agentos.ModelFunc(func(ctx context.Context, _ agentos.Prompt) (agentos.Completion, error) {
			<-ctx.Done()
			return agentos.Completion{}, ctx.Err()
		})},
		{Name: "late", Model: blocker(nil)},
	}
	as, err := Ask(context.Background(), prompt("q"), models, WithMaxAnswerBytes(100), WithTimeout(time.Millisecond))
	require.NoError(t, err, "a partial result is not an error")
	require.NoError(t, as[0].Err)
	require.Equal(t, "42", as[0].Completion.Text)
	require.ErrorIs(t, as[1].Err, boom)
	require.ErrorIs(t, as[2].Err, ErrModelPanicked)
	require.ErrorIs(t, as[3].Err, ErrTooLarge)
	require.Empty(t, as[3].Completion.Text, "an oversized answer is dropped")
	for _, a := range as[4:] {
		require.ErrorIs(t, a.Err, ErrTimeout, a.Name)
		require.ErrorIs(t, a.Err, context.DeadlineExceeded, a.Name)
		require.Empty(t, a.Completion.Text, "an answer after the deadline is ignored")
	}
	require.Len(t, as.OK(), 1)
}

func TestAskNoAnswer(t *testing.T) {
	boom := errors.New("down")
	m := scripted.MustNew(scripted.Otherwise().Fail(boom))
	as, err := Ask(context.Background(), prompt("q"), []Named{{"a", m}, {"b", m}})
	require.ErrorIs(t, err, ErrNoAnswer)
	require.Len(t, as, 2)
	require.ErrorIs(t, as[1].Err, boom)
}

func TestAskCallerCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	as, err := Ask(ctx, prompt("q"), []Named{replies("a", "x"), {Name: "b", Model: blocker(nil)}})
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, as, 2)
	for _, a := range as {
		require.ErrorIs(t, a.Err, context.Canceled)
	}
}

func TestAskLimit(t *testing.T) {
	const limit = 2
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	active, peak, arrived := 0, 0, 0
	// Models arrive in waves of limit: each waits until its wave is full,
	// so the test sees the limit reached, and a model started over the
	// limit raises peak above it.
	m := agentos.ModelFunc(func(ctx context.Context, _ agentos.Prompt) (agentos.Completion, error) {
		mu.Lock()
		defer mu.Unlock()
		active++
		arrived++
		peak = max(peak, active)
		wave := (arrived - 1) / limit
		cond.Broadcast()
		for arrived < (wave+1)*limit {
			cond.Wait()
		}
		active--
		return agentos.Completion{Text: "ok"}, nil
	})
	// An even number of models, so the last pair also fills the limit.
	var models []Named
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		models = append(models, Named{Name: n, Model: m})
	}
	as, err := Ask(context.Background(), prompt("q"), models, WithLimit(limit))
	require.NoError(t, err)
	require.Len(t, as.OK(), 6)
	require.Equal(t, limit, peak)
}

func TestAskQuorum(t *testing.T) {
	var called atomic.Int32
	models := []Named{
		replies("a", "The capital of France is Paris."),
		{Name: "slow1", Model: blocker(&called)},
		replies("b", "The capital of France is Paris"),
		{Name: "slow2", Model: blocker(&called)},
	}
	as, err := Ask(context.Background(), prompt("q"), models, WithQuorum(2, LexicalProfile), WithLimit(4))
	require.NoError(t, err)
	require.NoError(t, as[0].Err)
	require.NoError(t, as[2].Err)
	for _, i := range []int{1, 3} {
		require.ErrorIs(t, as[i].Err, ErrQuorum, as[i].Name)
		require.Empty(t, as[i].Completion.Text, "a model that answers after the quorum is ignored")
	}
	v, err := Verify(context.Background(), as, LexicalProfile, VerifyOptions{})
	require.NoError(t, err)
	require.True(t, v.Agree, "answers cancelled by the quorum are not counted: %s", v.Reason)
	require.Equal(t, []string{"a", "b"}, v.Majority)
}

func TestAskQuorumNotReached(t *testing.T) {
	models := []Named{replies("a", "yes"), replies("b", "no, never"), replies("c", "maybe later")}
	as, err := Ask(context.Background(), prompt("q"), models, WithQuorum(2, LexicalProfile))
	require.NoError(t, err)
	require.Len(t, as.OK(), 3, "no quorum: every answer is awaited")
}

func TestAskQuorumEmbedding(t *testing.T) {
	embed := func(_ context.Context, s string) ([]float32, error) {
		if strings.Contains(s, "Paris") {
			return []float32{1, 0}, nil
		}
		return []float32{0, 1}, nil
	}
	models := []Named{replies("a", "Paris"), replies("b", "Lyon"), replies("c", "It is Paris"), {Name: "d", Model: blocker(nil)}}
	as, err := Ask(context.Background(), prompt("q"), models, WithQuorum(2, General), WithEmbedder(embed), WithLimit(4))
	require.NoError(t, err)
	require.ErrorIs(t, as[3].Err, ErrQuorum)
	_, err = Ask(context.Background(), prompt("q"), models, WithQuorum(2, General))
	require.ErrorIs(t, err, ErrNoEmbedder)
}

func TestAskInvalid(t *testing.T) {
	ok := replies("a", "x")
	many := make([]Named, MaxModels+1)
	for i := range many {
		many[i] = Named{Name: strings.Repeat("m", i+1), Model: ok.Model}
	}
	for _, tc := range []struct {
		name   string
		models []Named
		opts   []AskOption
	}{
		{"no models", nil, nil},
		{"too many", many, nil},
		{"empty name", []Named{{Model: ok.Model}}, nil},
		{"repeated name", []Named{ok, ok}, nil},
		{"nil model", []Named{{Name: "a"}}, nil},
		{"nil option", []Named{ok}, []AskOption{nil}},
		{"limit", []Named{ok}, []AskOption{WithLimit(0)}},
		{"timeout", []Named{ok}, []AskOption{WithTimeout(-time.Second)}},
		{"max bytes", []Named{ok}, []AskOption{WithMaxAnswerBytes(0)}},
		{"clock", []Named{ok}, []AskOption{WithClock(nil)}},
		{"quorum of one", []Named{ok}, []AskOption{WithQuorum(1, LexicalProfile)}},
		{"quorum over models", []Named{ok}, []AskOption{WithQuorum(2, LexicalProfile)}},
		{"quorum bad profile", []Named{ok, replies("b", "y")}, []AskOption{WithQuorum(2, Profile{Metric: Lexical, Threshold: 2})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, err := Ask(context.Background(), prompt("q"), tc.models, tc.opts...)
			require.ErrorIs(t, err, agentos.ErrInvalid)
			require.Nil(t, as)
		})
	}
}
