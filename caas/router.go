package caas

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/tokens"
)

// RouteTier is the kind of model a [Router] sends a prompt to.
type RouteTier string

// The tiers, cheapest first.
const (
	// RouteCanned is answered without a model: a greeting or an
	// acknowledgement gets a fixed reply.
	RouteCanned RouteTier = "canned"
	// RouteFast is a small, cheap, quick model for short plain questions.
	RouteFast RouteTier = "fast"
	// RouteSmart is the capable, expensive model.
	RouteSmart RouteTier = "smart"
)

// The rules of [RuleRouter], in the order it tries them; [Route.Reason]
// names the one that decided.
const (
	ReasonTools        = "tools"        // the prompt offers tools: smart, confidence 0.90
	ReasonConversation = "conversation" // the prompt counts more tokens than the threshold: smart, 0.80
	ReasonGreeting     = "greeting"     // the message is only a greeting or acknowledgement: canned, 0.95
	ReasonKeyword      = "keyword"      // the message names a demanding task: smart, 0.85
	ReasonShort        = "short"        // the message is shorter than the threshold: fast, 0.80
	ReasonLong         = "long"         // none of the above: smart, 0.70
)

// Defaults of [RuleRouter]'s zero value.
const (
	DefaultShortChars         = 50
	DefaultMaxGreetingWords   = 6
	DefaultConversationTokens = 4000
)

// LongPromptBytesPerToken is how many bytes a prompt may hold per token of
// [RuleRouter].ConversationTokens before it is long without being counted:
// English averages about four bytes a token, so only a pathological text
// (a long run of one character) crosses it with fewer tokens than the
// threshold, and routing it to the smart model is then the safe side.
const LongPromptBytesPerToken = 16

// MaxRouterPhrases bounds each of [RuleRouter]'s lists, and
// MaxRouterPhraseWords the words of one entry: a router is configuration,
// and a list longer than this is a mistake, refused with an error.
const (
	MaxRouterPhrases     = 1024
	MaxRouterPhraseWords = 8
)

// DefaultGreetings are the greetings, farewells and acknowledgements that
// [RuleRouter] answers with a canned reply when a message holds nothing
// else (besides [DefaultCourtesy] words).
var DefaultGreetings = []string{
	"hi", "hello", "hey", "hiya", "howdy", "greetings", "yo",
	"good morning", "good afternoon", "good evening",
	"thanks", "thank you", "thx", "ty", "cheers", "much appreciated",
	"bye", "goodbye", "see you", "see ya",
	"ok", "okay", "got it", "cool", "great", "awesome", "perfect", "nice",
	"sounds good", "understood", "noted",
}

// DefaultCourtesy are the words that may stand beside a greeting without
// making the message a request: "thank you so much", "hi there".
var DefaultCourtesy = []string{
	"there", "so", "very", "much", "a", "lot", "again", "all", "everyone",
	"folks", "team", "too", "and", "really", "that's", "it's", "it", "is",
}

// DefaultSmartKeywords are the words and phrases that mark a demanding task.
// Matching is by whole words, so inflections are listed one by one.
var DefaultSmartKeywords = []string{
	"summarize", "summarise", "summary", "summarizing", "summarising",
	"analyze", "analyse", "analysis", "analyzing", "analysing",
	"compare", "comparison", "comparing", "contrast",
	"explain", "explaining", "explanation",
	"evaluate", "evaluation", "evaluating", "assess", "assessment",
	"review", "critique",
	"design", "architect", "architecture",
	"investigate", "research", "diagnose", "debug", "refactor",
	"optimize", "optimise", "prove", "derive",
	"comprehensive", "thorough", "in detail", "step by step", "deep dive",
	"trade-offs", "tradeoffs", "pros and cons",
}

// Route is a [Router]'s decision.
type Route struct {
	Tier       RouteTier
	Confidence float64 // in (0, 1]: how sure the rule is, not a probability
	Reason     string  // the rule that decided: ReasonTools, ReasonGreeting, …
	Match      string  // the greeting or keyword that matched, lower-cased; "" for other rules
}

// Router picks the model tier for a prompt. Implementations must be safe for
// concurrent use and deterministic for a given prompt.
type Router interface {
	Route(ctx context.Context, p agentos.Prompt) (Route, error)
}

// RuleRouter routes by the shape of the request, with no model call: it
// decides in microseconds and is occasionally wrong, which is the trade.
// The rules, in order, each ending the decision:
//
//  1. the prompt offers tools (p.Tools non-empty): smart ([ReasonTools]);
//  2. the whole prompt counts more than ConversationTokens tokens (in the
//     encoding of TokenModel, as [tokens.CountMessages] counts them), or
//     holds more than [LongPromptBytesPerToken] bytes per token of it: smart
//     ([ReasonConversation]);
//  3. the last user message is a greeting or acknowledgement, alone or with
//     courtesy words, in at most MaxGreetingWords words: canned
//     ([ReasonGreeting]), unless NoCanned;
//  4. the last user message contains a smart keyword: smart ([ReasonKeyword]);
//  5. the last user message is shorter than ShortChars characters: fast
//     ([ReasonShort]);
//  6. otherwise smart ([ReasonLong]).
//
// Words are maximal runs of letters, digits and marks (with inner
// apostrophes), compared case-insensitively after Unicode lower-casing;
// a phrase matches a run of whole words, so "this" never matches "hi" and
// "explained" does not match "explain". Characters are runes, counted after
// trimming white space.
//
// The zero value routes with the documented defaults. A nil list means its
// default; an empty non-nil list means none (Greetings: []string{} turns
// rule 3 off as NoCanned does). Lists other than the defaults are compiled
// on every call (a few hundred microseconds for lists of dozens): where that
// matters, [RuleRouter.Compile] once. A RuleRouter is a value, safe for
// concurrent use.
type RuleRouter struct {
	Greetings     []string // nil: DefaultGreetings
	Courtesy      []string // nil: DefaultCourtesy
	SmartKeywords []string // nil: DefaultSmartKeywords

	ShortChars         int    // 0: DefaultShortChars
	MaxGreetingWords   int    // 0: DefaultMaxGreetingWords
	ConversationTokens int    // 0: DefaultConversationTokens
	TokenModel         string // the model whose encoding counts tokens; "" counts in o200k_base
	NoCanned           bool   // never route to RouteCanned
}

var _ Router = RuleRouter{}

// Route decides the tier of p. It returns an error wrapping
// [agentos.ErrInvalid] for a prompt with no messages, for one (without tools)
// whose last user message is missing or blank, and for a negative threshold
// or an oversized list in r; ctx's error if ctx is done.
func (r RuleRouter) Route(ctx context.Context, p agentos.Prompt) (Route, error) {
	if err := ctx.Err(); err != nil {
		return Route{}, err
	}
	rs, err := r.compile()
	if err != nil {
		return Route{}, err
	}
	return rs.route(ctx, p)
}

// Compile checks r and returns a router that applies its rules with the
// lists compiled once: the same routes as r.Route, without compiling
// custom lists on every call. Errors are those of a bad r (wrapping
// [agentos.ErrInvalid]).
func (r RuleRouter) Compile() (*CompiledRouter, error) {
	rs, err := r.compile()
	if err != nil {
		return nil, err
	}
	return &CompiledRouter{rs: rs}, nil
}

// CompiledRouter is a [RuleRouter] compiled by [RuleRouter.Compile]. It is
// immutable and safe for concurrent use.
type CompiledRouter struct{ rs *ruleSet }

var _ Router = (*CompiledRouter)(nil)

// Route decides the tier of p as [RuleRouter.Route] does.
func (c *CompiledRouter) Route(ctx context.Context, p agentos.Prompt) (Route, error) {
	if err := ctx.Err(); err != nil {
		return Route{}, err
	}
	return c.rs.route(ctx, p)
}

func (rs *ruleSet) route(_ context.Context, p agentos.Prompt) (Route, error) {
	if len(p.Messages) == 0 {
		return Route{}, fmt.Errorf("caas: route: %w: prompt has no messages", agentos.ErrInvalid)
	}
	if len(p.Tools) > 0 {
		return Route{Tier: RouteSmart, Confidence: 0.90, Reason: ReasonTools}, nil
	}
	long, err := rs.longConversation(p.Messages)
	if err != nil {
		return Route{}, fmt.Errorf("caas: route: %w", err)
	}
	if long {
		return Route{Tier: RouteSmart, Confidence: 0.80, Reason: ReasonConversation}, nil
	}
	text := ""
	for i := len(p.Messages) - 1; i >= 0; i-- {
		if p.Messages[i].Role == agentos.RoleUser {
			text = strings.TrimSpace(p.Messages[i].Content)
			break
		}
	}
	if text == "" {
		return Route{}, fmt.Errorf("caas: route: %w: no user message with text", agentos.ErrInvalid)
	}
	words := splitWords(text)
	if !rs.noCanned {
		if g, ok := rs.greeting(words); ok {
			return Route{Tier: RouteCanned, Confidence: 0.95, Reason: ReasonGreeting, Match: g}, nil
		}
	}
	if k, ok := rs.smart.first(words); ok {
		return Route{Tier: RouteSmart, Confidence: 0.85, Reason: ReasonKeyword, Match: k}, nil
	}
	if utf8.RuneCountInString(text) < rs.shortChars {
		return Route{Tier: RouteFast, Confidence: 0.80, Reason: ReasonShort}, nil
	}
	return Route{Tier: RouteSmart, Confidence: 0.70, Reason: ReasonLong}, nil
}

// ruleSet is a RuleRouter with its lists compiled and defaults applied.
type ruleSet struct {
	greetings, courtesy, smart   phraseSet
	shortChars, maxGreetingWords int
	conversationTokens           int
	tokenModel                   string
	noCanned                     bool
}

// phraseSet finds phrases (runs of whole words) in a list of words. Each
// phrase is indexed by its first word.
type phraseSet map[string][][]string

func compilePhrases(list []string, what string) (phraseSet, error) {
	if len(list) > MaxRouterPhrases {
		return nil, fmt.Errorf("caas: router: %w: %d %s, more than %d", agentos.ErrInvalid, len(list), what, MaxRouterPhrases)
	}
	set := make(phraseSet, len(list))
	for _, s := range list {
		w := splitWords(s)
		if len(w) == 0 {
			return nil, fmt.Errorf("caas: router: %w: %s %q has no words", agentos.ErrInvalid, what, s)
		}
		if len(w) > MaxRouterPhraseWords {
			return nil, fmt.Errorf("caas: router: %w: %s %q has more than %d words", agentos.ErrInvalid, what, s, MaxRouterPhraseWords)
		}
		set[w[0]] = append(set[w[0]], w)
	}
	return set, nil
}

// at returns the longest phrase that starts at words[i], or nil.
func (s phraseSet) at(words []string, i int) []string {
	var best []string
	for _, ph := range s[words[i]] {
		if len(ph) > len(best) && i+len(ph) <= len(words) && equalWords(words[i:i+len(ph)], ph) {
			best = ph
		}
	}
	return best
}

// first returns the earliest phrase of s in words, joined with spaces.
func (s phraseSet) first(words []string) (string, bool) {
	for i := range words {
		if ph := s.at(words, i); ph != nil {
			return strings.Join(ph, " "), true
		}
	}
	return "", false
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// greeting reports whether words are greetings and courtesy words only, at
// least one greeting among them, and returns the first greeting.
func (rs *ruleSet) greeting(words []string) (string, bool) {
	if len(words) == 0 || len(words) > rs.maxGreetingWords {
		return "", false
	}
	found := ""
	for i := 0; i < len(words); {
		if ph := rs.greetings.at(words, i); ph != nil {
			if found == "" {
				found = strings.Join(ph, " ")
			}
			i += len(ph)
			continue
		}
		if ph := rs.courtesy.at(words, i); ph != nil {
			i += len(ph)
			continue
		}
		return "", false
	}
	return found, found != ""
}

// longConversation reports whether msgs count more tokens than the
// threshold. For valid UTF-8 every token covers at least one byte, so when
// the bytes alone fit, nothing is tokenized; and a prompt of more than
// [LongPromptBytesPerToken] bytes per token of the threshold is long
// without being tokenized, so the work is bounded whatever the prompt.
func (rs *ruleSet) longConversation(msgs []agentos.Message) (bool, error) {
	bound, valid := tokens.TokensPerReply, true
	for _, m := range msgs {
		bound += tokens.TokensPerMessage + len(m.Role) + len(m.Content)
		valid = valid && utf8.ValidString(string(m.Role)) && utf8.ValidString(m.Content)
	}
	if valid && bound <= rs.conversationTokens {
		return false, nil
	}
	if rs.conversationTokens <= math.MaxInt/LongPromptBytesPerToken && bound > rs.conversationTokens*LongPromptBytesPerToken {
		return true, nil
	}
	c, err := tokens.For(rs.tokenModel)
	if err != nil {
		return false, err
	}
	n := tokens.TokensPerReply
	for _, m := range msgs {
		k, err := c.CountMessages([]agentos.Message{m})
		if err != nil {
			return false, err
		}
		n += k - tokens.TokensPerReply
		if n > rs.conversationTokens {
			return true, nil
		}
	}
	return false, nil
}

var defaultRules = sync.OnceValues(func() (*ruleSet, error) { return RuleRouter{}.build() })

func (r RuleRouter) compile() (*ruleSet, error) {
	if r.Greetings == nil && r.Courtesy == nil && r.SmartKeywords == nil {
		d, err := defaultRules()
		if err != nil {
			return nil, err
		}
		rs := *d
		return &rs, r.thresholds(&rs)
	}
	return r.build()
}

func (r RuleRouter) build() (*ruleSet, error) {
	var rs ruleSet
	var err, e error
	rs.greetings, e = compilePhrases(orDefault(r.Greetings, DefaultGreetings), "greetings")
	err = errors.Join(err, e)
	rs.courtesy, e = compilePhrases(orDefault(r.Courtesy, DefaultCourtesy), "courtesy words")
	err = errors.Join(err, e)
	rs.smart, e = compilePhrases(orDefault(r.SmartKeywords, DefaultSmartKeywords), "smart keywords")
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	return &rs, r.thresholds(&rs)
}

func (r RuleRouter) thresholds(rs *ruleSet) error {
	if r.ShortChars < 0 || r.MaxGreetingWords < 0 || r.ConversationTokens < 0 {
		return fmt.Errorf("caas: router: %w: negative threshold (ShortChars %d, MaxGreetingWords %d, ConversationTokens %d)",
			agentos.ErrInvalid, r.ShortChars, r.MaxGreetingWords, r.ConversationTokens)
	}
	rs.shortChars = cmpOr(r.ShortChars, DefaultShortChars)
	rs.maxGreetingWords = cmpOr(r.MaxGreetingWords, DefaultMaxGreetingWords)
	rs.conversationTokens = cmpOr(r.ConversationTokens, DefaultConversationTokens)
	rs.tokenModel = r.TokenModel
	rs.noCanned = r.NoCanned
	return nil
}

func orDefault(list, def []string) []string {
	if list == nil {
		return def
	}
	return list
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// splitWords returns the lower-cased words of s: maximal runs of letters,
// digits and marks, keeping an apostrophe (' or ’, stored as ') between two
// letters.
func splitWords(s string) []string {
	var words []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			words = append(words, b.String())
			b.Reset()
		}
	}
	inWord := func(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.IsMark(c) }
	prev := rune(0)
	for i, c := range s {
		switch {
		case inWord(c):
			b.WriteRune(unicode.ToLower(c))
		case (c == '\'' || c == '’') && b.Len() > 0 && unicode.IsLetter(prev):
			next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(c):])
			if !unicode.IsLetter(next) {
				flush()
				break
			}
			b.WriteByte('\'')
		default:
			flush()
		}
		prev = c
	}
	flush()
	return words
}

// DefaultCannedAnswer is what a [RoutedModel] with no Canned function
// answers a prompt routed to [RouteCanned].
const DefaultCannedAnswer = "You're welcome. How can I help?"

// RoutedModel is an [agentos.Model] that asks its Router which tier a
// prompt needs and lets that tier answer: Fast or Smart, or Canned with no
// model at all. A nil Router is RuleRouter{}; a nil Canned answers
// [DefaultCannedAnswer]. The completion's Model names the model that
// answered (the tier's name when that model left it empty, "canned" for
// canned answers).
//
// A *RoutedModel is safe for concurrent use when its Router, models and
// Canned are; Canned is called on the goroutine that called Generate. Do not
// change its fields while it is in use.
type RoutedModel struct {
	Router Router
	Fast   agentos.Model
	Smart  agentos.Model
	Canned func(p agentos.Prompt) string
}

var _ agentos.Model = (*RoutedModel)(nil)

// ErrNoTierModel is wrapped by the error [RoutedModel.Generate] returns when
// the router picks a tier whose model is nil. It wraps [agentos.ErrInvalid]:
// the RoutedModel is misconfigured.
var ErrNoTierModel = fmt.Errorf("%w: caas: no model for the routed tier", agentos.ErrInvalid)

// Generate routes p and returns the chosen tier's answer. Errors are the
// router's, the model's (returned as they are, wrapped), or one wrapping
// [ErrNoTierModel].
func (m *RoutedModel) Generate(ctx context.Context, p agentos.Prompt) (agentos.Completion, error) {
	var router Router = RuleRouter{}
	if m.Router != nil {
		router = m.Router
	}
	rt, err := router.Route(ctx, p)
	if err != nil {
		return agentos.Completion{}, err
	}
	var model agentos.Model
	switch rt.Tier {
	case RouteCanned:
		answer := DefaultCannedAnswer
		if m.Canned != nil {
			answer = m.Canned(p)
		}
		return agentos.Completion{Text: answer, Model: string(RouteCanned), FinishReason: "stop"}, nil
	case RouteFast:
		model = m.Fast
	case RouteSmart:
		model = m.Smart
	default:
		return agentos.Completion{}, fmt.Errorf("caas: routed model: %w: router chose unknown tier %q", agentos.ErrInvalid, rt.Tier)
	}
	if model == nil {
		return agentos.Completion{}, fmt.Errorf("caas: routed model: %w: %s (%s)", ErrNoTierModel, rt.Tier, rt.Reason)
	}
	c, err := model.Generate(ctx, p)
	if err != nil {
		return agentos.Completion{}, fmt.Errorf("caas: routed model: %s: %w", rt.Tier, err)
	}
	if c.Model == "" {
		c.Model = string(rt.Tier)
	}
	return c, nil
}
