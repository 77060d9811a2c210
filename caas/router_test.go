package caas_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/caas"
	"github.com/agent-os/agentos/models/scripted"
)

func userPrompt(text string) agentos.Prompt {
	return agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleUser, Content: text}}}
}

// The cases of the original heuristic router's tests and documentation,
// then the edges of whole-word, case and Unicode handling.
func TestRuleRouterMessages(t *testing.T) {
	long := "Tell me about the history of the city of Lyon and its bridges over the river"
	require.GreaterOrEqual(t, utf8.RuneCountInString(long), caas.DefaultShortChars)
	tests := []struct {
		name, text string
		tier       caas.RouteTier
		conf       float64
		reason     string
		match      string
	}{
		{"hi", "Hi", caas.RouteCanned, 0.95, caas.ReasonGreeting, "hi"},
		{"hello", "hello", caas.RouteCanned, 0.95, caas.ReasonGreeting, "hello"},
		{"hey", "Hey!", caas.RouteCanned, 0.95, caas.ReasonGreeting, "hey"},
		{"thanks", "Thanks", caas.RouteCanned, 0.95, caas.ReasonGreeting, "thanks"},
		{"thank you", "thank you", caas.RouteCanned, 0.95, caas.ReasonGreeting, "thank you"},
		{"thx", "thx", caas.RouteCanned, 0.95, caas.ReasonGreeting, "thx"},
		{"bye", "bye", caas.RouteCanned, 0.95, caas.ReasonGreeting, "bye"},
		{"goodbye", "Goodbye.", caas.RouteCanned, 0.95, caas.ReasonGreeting, "goodbye"},
		{"ok", "ok", caas.RouteCanned, 0.95, caas.ReasonGreeting, "ok"},
		{"okay", "OKAY", caas.RouteCanned, 0.95, caas.ReasonGreeting, "okay"},
		{"got it", "Got it", caas.RouteCanned, 0.95, caas.ReasonGreeting, "got it"},
		{"cool", "cool", caas.RouteCanned, 0.95, caas.ReasonGreeting, "cool"},
		{"great", "great", caas.RouteCanned, 0.95, caas.ReasonGreeting, "great"},
		{"awesome", "awesome!!", caas.RouteCanned, 0.95, caas.ReasonGreeting, "awesome"},
		{"perfect", "Perfect", caas.RouteCanned, 0.95, caas.ReasonGreeting, "perfect"},
		{"hi there", "hi there", caas.RouteCanned, 0.95, caas.ReasonGreeting, "hi"},
		{"courtesy words", "Thank you so much!", caas.RouteCanned, 0.95, caas.ReasonGreeting, "thank you"},
		{"two greetings", "ok, thanks, bye", caas.RouteCanned, 0.95, caas.ReasonGreeting, "ok"},
		{"surrounding space", "  \n hi \t", caas.RouteCanned, 0.95, caas.ReasonGreeting, "hi"},
		{"curly apostrophe", "that’s great", caas.RouteCanned, 0.95, caas.ReasonGreeting, "great"},

		// A greeting with a request is a request.
		{"greeting then request", "Hello, I need some help.", caas.RouteFast, 0.80, caas.ReasonShort, ""},
		{"greeting then keyword", "That's great, now analyze this data", caas.RouteSmart, 0.85, caas.ReasonKeyword, "analyze"},
		{"courtesy alone", "so much", caas.RouteFast, 0.80, caas.ReasonShort, ""},
		{"too many words", "thanks thanks thanks thanks thanks thanks thanks", caas.RouteFast, 0.80, caas.ReasonShort, ""},

		// Whole words: substrings never match.
		{"this is not hi", "this", caas.RouteFast, 0.80, caas.ReasonShort, ""},
		{"thinking is not hi", "thinking about it", caas.RouteFast, 0.80, caas.ReasonShort, ""},
		{"okra is not ok", "okra", caas.RouteFast, 0.80, caas.ReasonShort, ""},
		{"explained is not explain", "I explained it", caas.RouteFast, 0.80, caas.ReasonShort, ""},
		{"reviewer is not review", "who is the reviewer", caas.RouteFast, 0.80, caas.ReasonShort, ""},

		{"summarize", "Summarize this document", caas.RouteSmart, 0.85, caas.ReasonKeyword, "summarize"},
		{"analyze", "Can you analyze the sales data?", caas.RouteSmart, 0.85, caas.ReasonKeyword, "analyze"},
		{"compare", "Compare Python and Go", caas.RouteSmart, 0.85, caas.ReasonKeyword, "compare"},
		{"explain upper case", "EXPLAIN closures", caas.RouteSmart, 0.85, caas.ReasonKeyword, "explain"},
		{"evaluate", "evaluate this plan", caas.RouteSmart, 0.85, caas.ReasonKeyword, "evaluate"},
		{"design", "design a cache", caas.RouteSmart, 0.85, caas.ReasonKeyword, "design"},
		{"british spelling", "please summarise", caas.RouteSmart, 0.85, caas.ReasonKeyword, "summarise"},
		{"phrase", "walk me through it step by step", caas.RouteSmart, 0.85, caas.ReasonKeyword, "step by step"},
		{"hyphenated phrase", "what are the trade-offs?", caas.RouteSmart, 0.85, caas.ReasonKeyword, "trade offs"},
		{"earliest keyword wins", "compare then summarize", caas.RouteSmart, 0.85, caas.ReasonKeyword, "compare"},
		{"keyword in long text", long + " and analyze them", caas.RouteSmart, 0.85, caas.ReasonKeyword, "analyze"},
		{"keyword beside non-latin text", "Grüß dich, bitte summarize", caas.RouteSmart, 0.85, caas.ReasonKeyword, "summarize"},

		{"what is python", "What is Python?", caas.RouteFast, 0.80, caas.ReasonShort, ""},
		{"status check", "Status check", caas.RouteFast, 0.80, caas.ReasonShort, ""},
		{"show logs", "Show logs", caas.RouteFast, 0.80, caas.ReasonShort, ""},
		{"cyrillic greeting is not listed", "Привет", caas.RouteFast, 0.80, caas.ReasonShort, ""},
		{"49 runes", strings.Repeat("é", 49), caas.RouteFast, 0.80, caas.ReasonShort, ""},
		{"50 runes", strings.Repeat("é", 50), caas.RouteSmart, 0.70, caas.ReasonLong, ""},
		{"49 ascii", strings.Repeat("a", 49), caas.RouteFast, 0.80, caas.ReasonShort, ""},
		{"50 ascii", strings.Repeat("a", 50), caas.RouteSmart, 0.70, caas.ReasonLong, ""},
		{"long", long, caas.RouteSmart, 0.70, caas.ReasonLong, ""},
		{"punctuation only", "?!", caas.RouteFast, 0.80, caas.ReasonShort, ""},
	}
	var r caas.RuleRouter
	compiledDefault, err := r.Compile()
	require.NoError(t, err)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Route(t.Context(), userPrompt(tc.text))
			require.NoError(t, err)
			assert.Equal(t, caas.Route{Tier: tc.tier, Confidence: tc.conf, Reason: tc.reason, Match: tc.match}, got)
			compiled, err := compiledDefault.Route(t.Context(), userPrompt(tc.text))
			require.NoError(t, err)
			assert.Equal(t, got, compiled, "compiled")
		})
	}
}

func TestRuleRouterPrompts(t *testing.T) {
	sys := agentos.Message{Role: agentos.RoleSystem, Content: "You are terse."}
	user := func(s string) agentos.Message { return agentos.Message{Role: agentos.RoleUser, Content: s} }
	asst := func(s string) agentos.Message { return agentos.Message{Role: agentos.RoleAssistant, Content: s} }
	tests := []struct {
		name   string
		router caas.RuleRouter
		prompt agentos.Prompt
		tier   caas.RouteTier
		reason string
	}{
		{"tools go smart", caas.RuleRouter{},
			agentos.Prompt{Messages: []agentos.Message{user("hi")}, Tools: []agentos.ToolSpec{{Name: "search"}}},
			caas.RouteSmart, caas.ReasonTools},
		{"tools without a user message", caas.RuleRouter{},
			agentos.Prompt{Messages: []agentos.Message{sys}, Tools: []agentos.ToolSpec{{Name: "search"}}},
			caas.RouteSmart, caas.ReasonTools},
		{"last user message decides", caas.RuleRouter{},
			agentos.Prompt{Messages: []agentos.Message{sys, user("summarize this report"), asst("It says…"), user("thanks")}},
			caas.RouteCanned, caas.ReasonGreeting},
		{"a later assistant message is not the user's", caas.RuleRouter{},
			agentos.Prompt{Messages: []agentos.Message{user("ok"), asst("please analyze more")}},
			caas.RouteCanned, caas.ReasonGreeting},
		{"long conversation", caas.RuleRouter{ConversationTokens: 30},
			agentos.Prompt{Messages: []agentos.Message{sys, user(strings.Repeat("word ", 40)), asst("done"), user("ok")}},
			caas.RouteSmart, caas.ReasonConversation},
		{"conversation at the threshold", caas.RuleRouter{ConversationTokens: 1000},
			agentos.Prompt{Messages: []agentos.Message{sys, user(strings.Repeat("word ", 40)), asst("done"), user("ok")}},
			caas.RouteCanned, caas.ReasonGreeting},
		{"default conversation threshold", caas.RuleRouter{},
			agentos.Prompt{Messages: []agentos.Message{user(strings.Repeat("the quick brown fox ", 1100)), user("ok")}},
			caas.RouteSmart, caas.ReasonConversation},
		{"invalid UTF-8 is counted, not skipped", caas.RuleRouter{ConversationTokens: 30},
			agentos.Prompt{Messages: []agentos.Message{user(strings.Repeat("\xff ", 30)), user("ok")}},
			caas.RouteSmart, caas.ReasonConversation},
		{"huge prompt is long without counting", caas.RuleRouter{},
			userPrompt(strings.Repeat(" ", caas.DefaultConversationTokens*caas.LongPromptBytesPerToken) + "ok"),
			caas.RouteSmart, caas.ReasonConversation},
		{"huge threshold", caas.RuleRouter{ConversationTokens: math.MaxInt},
			agentos.Prompt{Messages: []agentos.Message{user(strings.Repeat("\xff ", 30)), user("ok")}},
			caas.RouteCanned, caas.ReasonGreeting},
		{"no canned", caas.RuleRouter{NoCanned: true}, userPrompt("hi"), caas.RouteFast, caas.ReasonShort},
		{"empty greetings list turns canned off", caas.RuleRouter{Greetings: []string{}}, userPrompt("hi"), caas.RouteFast, caas.ReasonShort},
		{"custom greetings", caas.RuleRouter{Greetings: []string{"bonjour", "merci beaucoup"}}, userPrompt("Merci beaucoup !"), caas.RouteCanned, caas.ReasonGreeting},
		{"custom greetings replace the defaults", caas.RuleRouter{Greetings: []string{"bonjour"}}, userPrompt("hello"), caas.RouteFast, caas.ReasonShort},
		{"custom keywords", caas.RuleRouter{SmartKeywords: []string{"prove"}}, userPrompt("prove it"), caas.RouteSmart, caas.ReasonKeyword},
		{"custom keywords replace the defaults", caas.RuleRouter{SmartKeywords: []string{"prove"}}, userPrompt("summarize it"), caas.RouteFast, caas.ReasonShort},
		{"short threshold", caas.RuleRouter{ShortChars: 5}, userPrompt("what is go"), caas.RouteSmart, caas.ReasonLong},
		{"max greeting words", caas.RuleRouter{MaxGreetingWords: 1}, userPrompt("hi there"), caas.RouteFast, caas.ReasonShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.router.Route(t.Context(), tc.prompt)
			require.NoError(t, err)
			assert.Equal(t, tc.tier, got.Tier)
			assert.Equal(t, tc.reason, got.Reason)
			c, err := tc.router.Compile()
			require.NoError(t, err)
			compiled, err := c.Route(t.Context(), tc.prompt)
			require.NoError(t, err)
			assert.Equal(t, got, compiled, "compiled")
		})
	}
}

func TestRuleRouterErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		router caas.RuleRouter
		prompt agentos.Prompt
		want   error
	}{
		{"no messages", context.Background(), caas.RuleRouter{}, agentos.Prompt{}, agentos.ErrInvalid},
		{"blank user message", context.Background(), caas.RuleRouter{}, userPrompt(" \n\t"), agentos.ErrInvalid},
		{"no user message", context.Background(), caas.RuleRouter{},
			agentos.Prompt{Messages: []agentos.Message{{Role: agentos.RoleSystem, Content: "be brief"}}}, agentos.ErrInvalid},
		{"negative threshold", context.Background(), caas.RuleRouter{ShortChars: -1}, userPrompt("hi"), agentos.ErrInvalid},
		{"negative threshold with custom lists", context.Background(),
			caas.RuleRouter{SmartKeywords: []string{"x"}, ConversationTokens: -5}, userPrompt("hi"), agentos.ErrInvalid},
		{"keyword without words", context.Background(), caas.RuleRouter{SmartKeywords: []string{"--"}}, userPrompt("hi"), agentos.ErrInvalid},
		{"phrase too long", context.Background(),
			caas.RuleRouter{Greetings: []string{strings.Repeat("a ", caas.MaxRouterPhraseWords+1)}}, userPrompt("hi"), agentos.ErrInvalid},
		{"list too long", context.Background(),
			caas.RuleRouter{Courtesy: make([]string, caas.MaxRouterPhrases+1)}, userPrompt("hi"), agentos.ErrInvalid},
		{"cancelled", cancelled, caas.RuleRouter{}, userPrompt("hi"), context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.router.Route(tc.ctx, tc.prompt)
			require.ErrorIs(t, err, tc.want)
			assert.Zero(t, got)
			// A bad router fails to compile; a good one fails on the
			// prompt or the context as RuleRouter does.
			c, err := tc.router.Compile()
			if err != nil {
				require.ErrorIs(t, err, tc.want)
				assert.Nil(t, c)
				return
			}
			_, err = c.Route(tc.ctx, tc.prompt)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// stubRouter routes every prompt to one tier, or fails.
type stubRouter struct {
	tier caas.RouteTier
	err  error
}

func (s stubRouter) Route(context.Context, agentos.Prompt) (caas.Route, error) {
	return caas.Route{Tier: s.tier, Confidence: 1, Reason: "stub"}, s.err
}

func TestRoutedModel(t *testing.T) {
	fast := scripted.MustNew(scripted.Name("gpt-4o-mini"), scripted.Otherwise().Reply("fast answer"))
	smart := scripted.MustNew(scripted.Name("gpt-4o"), scripted.Otherwise().Reply("smart answer"))
	failing := scripted.MustNew(scripted.Otherwise().Fail(errors.New("upstream 503")))
	anonymous := agentos.ModelFunc(func(context.Context, agentos.Prompt) (agentos.Completion, error) {
		return agentos.Completion{Text: "no name"}, nil
	})
	ctx := t.Context()

	t.Run("dispatch", func(t *testing.T) {
		m := &caas.RoutedModel{Fast: fast, Smart: smart}
		for _, tc := range []struct{ q, text, model string }{
			{"thanks!", caas.DefaultCannedAnswer, "canned"},
			{"What is Go?", "fast answer", "gpt-4o-mini"},
			{"Summarize the meeting notes", "smart answer", "gpt-4o"},
		} {
			c, err := m.Generate(ctx, userPrompt(tc.q))
			require.NoError(t, err, tc.q)
			assert.Equal(t, tc.text, c.Text, tc.q)
			assert.Equal(t, tc.model, c.Model, tc.q)
		}
		// The canned answer cost no model call.
		assert.Len(t, fast.Calls(), 1)
		assert.Len(t, smart.Calls(), 1)
	})
	t.Run("custom canned", func(t *testing.T) {
		m := &caas.RoutedModel{Canned: func(p agentos.Prompt) string { return "echo: " + scripted.LastUser(p) }}
		c, err := m.Generate(ctx, userPrompt("hello"))
		require.NoError(t, err)
		assert.Equal(t, agentos.Completion{Text: "echo: hello", Model: "canned", FinishReason: "stop"}, c)
	})
	t.Run("unnamed model gets the tier's name", func(t *testing.T) {
		m := &caas.RoutedModel{Fast: anonymous}
		c, err := m.Generate(ctx, userPrompt("what time is it"))
		require.NoError(t, err)
		assert.Equal(t, "fast", c.Model)
	})
	t.Run("nil model for the tier", func(t *testing.T) {
		m := &caas.RoutedModel{Fast: fast}
		_, err := m.Generate(ctx, userPrompt("explain monads"))
		require.ErrorIs(t, err, caas.ErrNoTierModel)
		require.ErrorIs(t, err, agentos.ErrInvalid)
		assert.Contains(t, err.Error(), "smart")
	})
	t.Run("model error", func(t *testing.T) {
		m := &caas.RoutedModel{Fast: failing}
		_, err := m.Generate(ctx, userPrompt("what time is it"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "upstream 503")
	})
	t.Run("router error", func(t *testing.T) {
		boom := errors.New("boom")
		m := &caas.RoutedModel{Router: stubRouter{err: boom}, Fast: fast, Smart: smart}
		_, err := m.Generate(ctx, userPrompt("hi"))
		require.ErrorIs(t, err, boom)
	})
	t.Run("unknown tier", func(t *testing.T) {
		m := &caas.RoutedModel{Router: stubRouter{tier: "huge"}, Fast: fast, Smart: smart}
		_, err := m.Generate(ctx, userPrompt("hi"))
		require.ErrorIs(t, err, agentos.ErrInvalid)
	})
	t.Run("empty prompt", func(t *testing.T) {
		m := &caas.RoutedModel{Fast: fast, Smart: smart}
		_, err := m.Generate(ctx, agentos.Prompt{})
		require.ErrorIs(t, err, agentos.ErrInvalid)
	})
}

// FuzzRuleRouter checks that any text routes without panic, to a valid
// tier, deterministically, whatever the surrounding white space, and (for
// ASCII) whatever the case.
func FuzzRuleRouter(f *testing.F) {
	for _, s := range []string{
		"hi", "Thank you so much!", "that’s great", "Summarize this document",
		"What is Python?", strings.Repeat("é", 50), "trade-offs", "\xff\xfe", "don't'", "'", "Привет",
		"ok, thanks, bye", "e\u0301xplain",
	} {
		f.Add(s)
	}
	var r caas.RuleRouter
	valid := map[caas.RouteTier]bool{caas.RouteCanned: true, caas.RouteFast: true, caas.RouteSmart: true}
	f.Fuzz(func(t *testing.T, text string) {
		ctx := context.Background()
		got, err := r.Route(ctx, userPrompt(text))
		if strings.TrimSpace(text) == "" {
			require.ErrorIs(t, err, agentos.ErrInvalid)
			return
		}
		require.NoError(t, err)
		require.True(t, valid[got.Tier], "tier %q", got.Tier)
		require.True(t, got.Confidence > 0 && got.Confidence <= 1)
		require.NotEmpty(t, got.Reason)
		again, err := r.Route(ctx, userPrompt(" \n"+text+"\t "))
		require.NoError(t, err)
		require.Equal(t, got, again)
		if isASCII(text) {
			upper, err := r.Route(ctx, userPrompt(strings.ToUpper(text)))
			require.NoError(t, err)
			require.Equal(t, got, upper)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// BenchmarkRuleRouter routes four prompts (one per rule of the message)
// per op.
func BenchmarkRuleRouter(b *testing.B) {
	prompts := []agentos.Prompt{
		userPrompt("hi"),
		userPrompt("What is Python?"),
		userPrompt("Can you summarize the quarterly report and compare it to last year?"),
		userPrompt("Tell me about the history of the city of Lyon and its bridges over the river"),
	}
	ctx := context.Background()
	// The baseline only lowercases and splits the same texts: the ratio is
	// what the rules cost on top of reading the text once.
	b.Run("baseline=lower+fields", func(b *testing.B) {
		b.ReportAllocs()
		words := 0
		for b.Loop() {
			for _, p := range prompts {
				words += len(strings.Fields(strings.ToLower(p.Messages[0].Content)))
			}
		}
	})
	b.Run("default", func(b *testing.B) {
		var r caas.RuleRouter
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range prompts {
				if _, err := r.Route(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	// Custom lists are compiled on every call: the cost of that choice,
	// against the default path above and the compiled router below.
	b.Run("custom-lists", func(b *testing.B) {
		r := caas.RuleRouter{SmartKeywords: append([]string{"prove"}, caas.DefaultSmartKeywords...)}
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range prompts {
				if _, err := r.Route(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("custom-lists-compiled", func(b *testing.B) {
		r, err := caas.RuleRouter{SmartKeywords: append([]string{"prove"}, caas.DefaultSmartKeywords...)}.Compile()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range prompts {
				if _, err := r.Route(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// The tier follows the shape of the request: greetings get a canned answer,
// demanding tasks the smart model, short questions the fast one.
func ExampleRuleRouter() {
	var r caas.RuleRouter // the documented defaults
	for _, q := range []string{
		"Thanks!",
		"What is Python?",
		"Summarize this document",
		"thinking about it", // "hi" is not a word of it
		"Tell me about the history of the city of Lyon and its bridges",
	} {
		rt, err := r.Route(context.Background(), agentos.Prompt{Messages: []agentos.Message{
			{Role: agentos.RoleUser, Content: q},
		}})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-6s %.2f %-8s %-9s %s\n", rt.Tier, rt.Confidence, rt.Reason, rt.Match, q)
	}
	// Output:
	// canned 0.95 greeting thanks    Thanks!
	// fast   0.80 short              What is Python?
	// smart  0.85 keyword  summarize Summarize this document
	// fast   0.80 short              thinking about it
	// smart  0.70 long               Tell me about the history of the city of Lyon and its bridges
}
