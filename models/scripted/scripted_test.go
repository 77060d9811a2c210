package scripted_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/scripted"
	"github.com/agent-os/agentos/models/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func user(s string) agentos.Prompt {
	return agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleUser, Content: s}}}
}

func TestMatchers(t *testing.T) {
	m := scripted.MustNew(
		scripted.When(scripted.Equals("ping")).Reply("pong"),
		scripted.When(scripted.Contains("weather")).Reply("sunny"),
		scripted.When(scripted.Regexp(`^\d+$`)).Reply("a number"),
		scripted.When(scripted.Func("has system prompt", func(p agentos.Prompt) bool {
			return len(p.Messages) > 0 && p.Messages[0].Role == agentos.RoleSystem
		})).Reply("obedient"),
	)
	cases := []struct {
		name     string
		prompt   agentos.Prompt
		want     string
		notFound bool
	}{
		{"equals", user("ping"), "pong", false},
		{"equals is exact", user("ping!"), "", true},
		{"contains", user("what is the weather today?"), "sunny", false},
		{"regexp", user("12345"), "a number", false},
		{"regexp anchored", user("12a"), "", true},
		{"predicate", agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleSystem, Content: "be nice"}, {Role: agentos.RoleUser, Content: "hi"}}}, "obedient", false},
		// Only the last user message is matched, not earlier turns.
		{"last user only", agentos.Prompt{Messages: []agentos.Message{
			{Role: agentos.RoleUser, Content: "weather?"},
			{Role: agentos.RoleAssistant, Content: "sunny"},
			{Role: agentos.RoleUser, Content: "thanks"},
		}}, "", true},
		// The last *user* message, even when an assistant turn follows it.
		{"last user before assistant", agentos.Prompt{Messages: []agentos.Message{
			{Role: agentos.RoleUser, Content: "ping"},
			{Role: agentos.RoleAssistant, Content: "…"},
		}}, "pong", false},
		{"no messages", agentos.Prompt{}, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := m.Generate(context.Background(), tc.prompt)
			if tc.notFound {
				require.ErrorIs(t, err, agentos.ErrNotFound)
				assert.Empty(t, c.Text)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.Text)
			assert.Equal(t, "stop", c.FinishReason)
			assert.Equal(t, scripted.DefaultName, c.Model)
		})
	}
}

func TestFirstMatchWinsAndDefault(t *testing.T) {
	m := scripted.MustNew(
		scripted.When(scripted.Contains("a")).Reply("first"),
		scripted.When(scripted.Contains("ab")).Reply("second"),
		scripted.Otherwise().Reply("default"),
	)
	c, err := m.Generate(context.Background(), user("ab"))
	require.NoError(t, err)
	assert.Equal(t, "first", c.Text)
	c, err = m.Generate(context.Background(), user("zzz"))
	require.NoError(t, err)
	assert.Equal(t, "default", c.Text)
}

func TestNoRulesIsNotFound(t *testing.T) {
	m := scripted.MustNew()
	c, err := m.Generate(context.Background(), user("anything"))
	require.ErrorIs(t, err, agentos.ErrNotFound)
	assert.Equal(t, agentos.Completion{}, c)
}

func TestTemplate(t *testing.T) {
	m := scripted.MustNew(
		scripted.When(scripted.Contains("echo")).ReplyTemplate(`{{.System}}|{{.LastUser}}|{{len .Messages}}|{{.Call}}`),
		scripted.When(scripted.Contains("bad")).ReplyTemplate(`{{.NoSuchField}}`),
	)
	p := agentos.Prompt{Messages: []agentos.Message{
		{Role: agentos.RoleSystem, Content: "sys"},
		{Role: agentos.RoleUser, Content: "echo me"},
	}}
	c, err := m.Generate(context.Background(), p)
	require.NoError(t, err)
	assert.Equal(t, "sys|echo me|2|1", c.Text)
	c, err = m.Generate(context.Background(), p)
	require.NoError(t, err)
	assert.Equal(t, "sys|echo me|2|2", c.Text)

	_, err = m.Generate(context.Background(), user("bad"))
	require.Error(t, err, "a template that fails to execute fails the call")
}

func TestSequence(t *testing.T) {
	t.Run("exhausted", func(t *testing.T) {
		m := scripted.MustNew(scripted.Otherwise().ReplySequence("one", "two"))
		for _, want := range []string{"one", "two"} {
			c, err := m.Generate(context.Background(), user("x"))
			require.NoError(t, err)
			assert.Equal(t, want, c.Text)
		}
		for range 2 {
			_, err := m.Generate(context.Background(), user("x"))
			require.ErrorIs(t, err, scripted.ErrExhausted)
		}
	})
	t.Run("repeat last", func(t *testing.T) {
		m := scripted.MustNew(scripted.Otherwise().ReplySequence("one", "two").RepeatLast())
		var got []string
		for range 4 {
			c, err := m.Generate(context.Background(), user("x"))
			require.NoError(t, err)
			got = append(got, c.Text)
		}
		assert.Equal(t, []string{"one", "two", "two", "two"}, got)
	})
	t.Run("per rule", func(t *testing.T) {
		m := scripted.MustNew(
			scripted.When(scripted.Equals("a")).ReplySequence("a1", "a2"),
			scripted.When(scripted.Equals("b")).ReplySequence("b1", "b2"),
		)
		var got []string
		for _, in := range []string{"a", "b", "a", "b"} {
			c, err := m.Generate(context.Background(), user(in))
			require.NoError(t, err)
			got = append(got, c.Text)
		}
		assert.Equal(t, []string{"a1", "b1", "a2", "b2"}, got)
	})
}

// Under concurrent calls every text of a sequence is handed out exactly
// once (run with -race).
func TestSequenceConcurrent(t *testing.T) {
	const n = 64
	texts := make([]string, n)
	for i := range texts {
		texts[i] = fmt.Sprint(i)
	}
	m := scripted.MustNew(scripted.Otherwise().ReplySequence(texts...))
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for range n / 8 {
				c, err := m.Generate(context.Background(), user("x"))
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				seen[c.Text]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Len(t, seen, n)
	for k, v := range seen {
		assert.Equal(t, 1, v, k)
	}
	assert.Equal(t, n, m.CallCount())
	_, err := m.Generate(context.Background(), user("x"))
	require.ErrorIs(t, err, scripted.ErrExhausted)
}

func TestFail(t *testing.T) {
	rateLimited := errors.New("429 too many requests")
	m := scripted.MustNew(scripted.Otherwise().Fail(rateLimited))
	c, err := m.Generate(context.Background(), user("x"))
	require.ErrorIs(t, err, rateLimited)
	assert.Equal(t, agentos.Completion{}, c)
}

func TestUsage(t *testing.T) {
	for _, name := range []string{"gpt-4", "gpt-4o", scripted.DefaultName} {
		t.Run(name, func(t *testing.T) {
			m := scripted.MustNew(scripted.Name(name), scripted.Otherwise().Reply("tiktoken is great!"))
			p := agentos.Prompt{Messages: []agentos.Message{
				{Role: agentos.RoleSystem, Content: "tiktoken is great!"},
				{Role: agentos.RoleUser, Content: "hello world"},
			}}
			c, err := m.Generate(context.Background(), p)
			require.NoError(t, err)
			assert.Equal(t, name, c.Model)
			// 3+1+6 + 3+1+2 + 3, as tokens.CountMessages documents.
			assert.Equal(t, agentos.Usage{PromptTokens: 19, CompletionTokens: 6}, c.Usage)
		})
	}
}

func TestMaxTokensAndStop(t *testing.T) {
	m := scripted.MustNew(scripted.Name("gpt-4"), scripted.Otherwise().Reply("tiktoken is great! END more"))
	cases := []struct {
		name   string
		max    int
		stop   []string
		text   string
		finish string
	}{
		{"whole", 0, nil, "tiktoken is great! END more", "stop"},
		{"stop sequence", 0, []string{"", " END"}, "tiktoken is great!", "stop"},
		{"earliest stop wins", 0, []string{"more", "great"}, "tiktoken is ", "stop"},
		{"length", 4, nil, "tiktoken is", "length"},
		{"stop then length fits", 6, []string{" END"}, "tiktoken is great!", "stop"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := user("x")
			p.MaxTokens, p.Stop = tc.max, tc.stop
			c, err := m.Generate(context.Background(), p)
			require.NoError(t, err)
			assert.Equal(t, tc.text, c.Text)
			assert.Equal(t, tc.finish, c.FinishReason)
			n, err := tokens.Count("gpt-4", c.Text)
			require.NoError(t, err)
			assert.Equal(t, n, c.Usage.CompletionTokens)
		})
	}
	p := user("x")
	p.MaxTokens = -1
	_, err := m.Generate(context.Background(), p)
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestContext(t *testing.T) {
	m := scripted.MustNew(scripted.Otherwise().Reply("x"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := m.Generate(ctx, user("x"))
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, c.Text)
}

// fakeClock records the waits a model asks for instead of sleeping.
type fakeClock struct {
	mu    sync.Mutex
	slept []time.Duration
}

func (f *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.slept = append(f.slept, d)
	f.mu.Unlock()
	return ctx.Err()
}

func TestLatency(t *testing.T) {
	clock := &fakeClock{}
	m := scripted.MustNew(
		scripted.Sleep(clock.sleep),
		scripted.When(scripted.Contains("slow")).Reply("eventually").After(30*time.Second),
		scripted.Otherwise().Reply("now"),
	)
	c, err := m.Generate(context.Background(), user("slow please"))
	require.NoError(t, err)
	assert.Equal(t, "eventually", c.Text)
	_, err = m.Generate(context.Background(), user("fast"))
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{30 * time.Second}, clock.slept)
}

// With the default sleep, a context that ends during a rule's latency ends
// the call with its error.
func TestLatencyCancelled(t *testing.T) {
	m := scripted.MustNew(scripted.Otherwise().Reply("never").After(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := m.Generate(ctx, user("x"))
		done <- err
	}()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

// A call cancelled while it waits out a rule's latency takes no answer
// from the rule's sequence.
func TestCancelledCallConsumesNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	m := scripted.MustNew(
		// The caller gives up while the model waits.
		scripted.Sleep(func(c context.Context, _ time.Duration) error {
			cancel()
			return c.Err()
		}),
		scripted.When(scripted.Equals("x")).ReplySequence("one", "two").After(time.Second),
	)
	_, err := m.Generate(ctx, user("x"))
	require.ErrorIs(t, err, context.Canceled)
	for _, want := range []string{"one", "two"} {
		c, err := m.Generate(context.Background(), user("x"))
		require.NoError(t, err)
		assert.Equal(t, want, c.Text)
	}
}

func TestCalls(t *testing.T) {
	m := scripted.MustNew(scripted.KeepCalls(2), scripted.When(scripted.Equals("b")).Reply("ok"))
	p := user("a")
	p.Stop = []string{"x"}
	_, err := m.Generate(context.Background(), p)
	require.ErrorIs(t, err, agentos.ErrNotFound)
	p.Messages[0].Content = "mutated by the caller" // the record is a copy
	p.Stop[0] = "y"
	_, err = m.Generate(context.Background(), user("b"))
	require.NoError(t, err)
	calls := m.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, "a", calls[0].Messages[0].Content)
	assert.Equal(t, []string{"x"}, calls[0].Stop)
	assert.Equal(t, "b", calls[1].Messages[0].Content)
	calls[1].Messages[0].Content = "changed" // and so is what Calls returns
	assert.Equal(t, "b", m.Calls()[1].Messages[0].Content)

	_, _ = m.Generate(context.Background(), user("c"))
	calls = m.Calls()
	require.Len(t, calls, 2, "KeepCalls bounds the record")
	assert.Equal(t, "b", calls[0].Messages[0].Content)
	assert.Equal(t, "c", calls[1].Messages[0].Content)
	assert.Equal(t, 3, m.CallCount())
}

func TestNewInvalid(t *testing.T) {
	cases := []struct {
		name string
		opt  scripted.Option
	}{
		{"no answer", scripted.When(scripted.Any())},
		{"bad regexp", scripted.When(scripted.Regexp(`(`)).Reply("x")},
		{"bad template", scripted.Otherwise().ReplyTemplate(`{{.LastUser`)},
		{"nil predicate", scripted.When(scripted.Func("nil", nil)).Reply("x")},
		{"zero matcher", scripted.When(scripted.Matcher{}).Reply("x")},
		{"empty sequence", scripted.Otherwise().ReplySequence()},
		{"nil error", scripted.Otherwise().Fail(nil)},
		{"negative latency", scripted.Otherwise().Reply("x").After(-time.Second)},
		{"empty name", scripted.Name("")},
		{"nil sleep", scripted.Sleep(nil)},
		{"keep zero", scripted.KeepCalls(0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := scripted.New(tc.opt)
			require.ErrorIs(t, err, agentos.ErrInvalid)
			assert.Nil(t, m)
		})
	}
	assert.Panics(t, func() { scripted.MustNew(scripted.When(scripted.Any())) })
}

// BenchmarkGenerate measures a scripted answer (match, usage counted in
// o200k_base) beside the baseline of counting the same prompt alone.
func BenchmarkGenerate(b *testing.B) {
	p := agentos.Prompt{Messages: []agentos.Message{
		{Role: agentos.RoleSystem, Content: "You answer questions about the kernel."},
		{Role: agentos.RoleUser, Content: "What does the flight recorder record?"},
	}}
	b.Run("generate", func(b *testing.B) {
		m := scripted.MustNew(
			scripted.When(scripted.Contains("policy")).Reply("Policy decides."),
			scripted.When(scripted.Regexp(`(?i)recorder`)).Reply("Every decision and its result, hash-chained."),
		)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Generate(context.Background(), p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-count", func(b *testing.B) {
		c, err := tokens.For(scripted.DefaultName)
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.CountMessages(p.Messages); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Count("Every decision and its result, hash-chained."); err != nil {
				b.Fatal(err)
			}
		}
	})
}
