package emk

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// Sleep bounds and defaults.
const (
	// DefaultOlderThan is the age of the episodes a sleep cycle distils
	// when SleepOptions.OlderThan is 0.
	DefaultOlderThan = 30 * 24 * time.Hour
	// MaxSleepEpisodes bounds the episodes one sleep cycle reads (the
	// oldest, per agent in name order); a later cycle takes the rest.
	MaxSleepEpisodes = 50_000
	// MaxSummarySize bounds the summary ModelSummarizer keeps, in bytes.
	MaxSummarySize = 2048
)

const insertCompressedSQL = `INSERT INTO compressed (id, fact) VALUES (?,?) ON CONFLICT DO NOTHING`

// Summarizer turns a group of related episodes (at most MaxCauses, all of
// one agent) into the text of a fact. It is called on the goroutine that
// calls Sleep, one group at a time.
type Summarizer interface {
	Summarize(ctx context.Context, group []Episode) (string, error)
}

// SleepOptions configure a sleep cycle.
type SleepOptions struct {
	Agent      string        // "" = every agent
	OlderThan  time.Duration // distil episodes older than this; 0 = DefaultOlderThan
	Now        time.Time     // zero = the store's clock
	Summarizer Summarizer    // nil = DeterministicSummarizer
	DryRun     bool          // compute the facts, store nothing
	MaxGroup   int           // episodes per fact, 2..MaxCauses; 0 = MaxCauses
}

// SleepReport says what a sleep cycle did (or, dry, would do).
type SleepReport struct {
	Groups     int       // groups summarised, one fact each
	Compressed int       // episodes distilled into those facts
	Facts      []Episode // the facts, as stored (or as they would be)
	DryRun     bool
}

// groupKey is what related episodes share: the goal, or the action when
// there is no goal, lowercased with white space collapsed.
func groupKey(e *Episode) string {
	k := e.Goal
	if strings.TrimSpace(k) == "" {
		k = e.Action
	}
	return strings.ToLower(strings.Join(strings.Fields(k), " "))
}

// Sleep distils old episodes into facts, as sleep consolidates memory.
// It reads the episodes older than Now−OlderThan (at most
// MaxSleepEpisodes) that are not facts and that no earlier cycle distilled;
// groups them by agent and by goal (the action when there is no goal,
// compared without case or repeated spaces); splits a group larger than
// MaxGroup into near-equal parts (with MaxGroup 2, an odd group leaves a
// part of one); and for each part appends an OutcomeFact episode whose Result is the
// summarizer's text, whose Causes are the part's episodes and whose Time is
// the newest of theirs, recording in the append-only compressed table that
// those episodes are distilled. An episode alone in its group is left as it
// is until others join it. Originals
// are never changed or deleted: they stay readable and queryable.
//
// Running Sleep again does not duplicate facts: distilled episodes are
// not read again, and a fact is content-addressed. With DryRun the facts are
// computed (embedded too) but nothing is stored; a real run with the same
// options over the same store then stores the same facts. Sleep cycles run
// one at a time; appends continue during the summaries. Errors:
// agentos.ErrInvalid for bad options or a summary that is empty or over
// MaxFieldSize, the summarizer's errors, and those of Append.
func (s *Store) Sleep(ctx context.Context, o SleepOptions) (SleepReport, error) {
	if o.OlderThan < 0 {
		return SleepReport{}, invalid("sleep OlderThan %s is negative", o.OlderThan)
	}
	if o.OlderThan == 0 {
		o.OlderThan = DefaultOlderThan
	}
	if o.MaxGroup == 0 {
		o.MaxGroup = MaxCauses
	}
	if o.MaxGroup < 2 || o.MaxGroup > MaxCauses {
		return SleepReport{}, invalid("sleep MaxGroup %d is outside 2..%d", o.MaxGroup, MaxCauses)
	}
	if o.Now.IsZero() {
		o.Now = s.cfg.now()
	}
	if o.Summarizer == nil {
		o.Summarizer = DeterministicSummarizer{}
	}
	cutoff := o.Now.Add(-o.OlderThan)
	if cutoff.Before(minTime) || cutoff.After(maxTime) {
		return SleepReport{}, invalid("sleep cutoff %s is outside the years 1678 to 2262", cutoff)
	}
	s.sleepMu.Lock()
	defer s.sleepMu.Unlock()

	old, err := s.sleepCandidates(ctx, o.Agent, cutoff)
	if err != nil {
		return SleepReport{}, err
	}
	rep := SleepReport{DryRun: o.DryRun, Facts: []Episode{}}
	var facts []Episode
	var distilled [][]string
	for _, part := range partition(old, o.MaxGroup) {
		if err := ctx.Err(); err != nil {
			return SleepReport{}, err
		}
		text, err := o.Summarizer.Summarize(ctx, part)
		if err != nil {
			return SleepReport{}, fmt.Errorf("emk: sleep: summarize %d episodes of %q: %w", len(part), part[0].Agent, err)
		}
		if strings.TrimSpace(text) == "" {
			return SleepReport{}, invalid("sleep: the summarizer returned an empty summary")
		}
		fact := Episode{Agent: part[0].Agent, Goal: part[0].Goal, Result: text, Outcome: OutcomeFact,
			Meta: map[string]string{"emk.sleep": strconv.Itoa(len(part)) + " episodes"}}
		if strings.TrimSpace(fact.Goal) == "" {
			fact.Action = part[0].Action
		}
		ids := make([]string, len(part))
		for i, e := range part {
			ids[i] = e.ID
			if e.Time.After(fact.Time) {
				fact.Time = e.Time
			}
		}
		fact.Causes = ids
		facts = append(facts, fact)
		distilled = append(distilled, ids)
		rep.Compressed += len(part)
	}
	rep.Groups = len(facts)
	if len(facts) == 0 {
		return rep, nil
	}
	prepared, err := s.prepare(ctx, facts)
	if err != nil {
		return SleepReport{}, fmt.Errorf("emk: sleep: %w", err)
	}
	if o.DryRun {
		rep.Facts = prepared
		return rep, nil
	}
	if err := s.enter("sleep"); err != nil {
		return SleepReport{}, err
	}
	defer s.mu.RUnlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return SleepReport{}, s.wrap(err)
	}
	defer tx.Rollback()
	if err := s.insert(ctx, tx, prepared, distilled); err != nil {
		return SleepReport{}, err
	}
	if err := tx.Commit(); err != nil {
		return SleepReport{}, s.wrap(err)
	}
	rep.Facts = prepared
	return rep, nil
}

func (s *Store) sleepCandidates(ctx context.Context, agent string, cutoff time.Time) ([]Episode, error) {
	if err := s.enter("sleep"); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	q := selectEpisodes + ` WHERE e.time < ? AND e.outcome <> 'fact'
		AND NOT EXISTS (SELECT 1 FROM compressed c WHERE c.id = e.id)`
	args := []any{cutoff.UnixNano()}
	if agent != "" {
		q += " AND e.agent = ?"
		args = append(args, agent)
	}
	q += " ORDER BY e.agent, e.time, e.id LIMIT ?"
	out, _, err := s.queryEpisodes(ctx, q, append(args, MaxSleepEpisodes)...)
	return out, err
}

// partition groups episodes (sorted by agent, time, id) by agent and key,
// in order of agent then key, drops groups of one and splits larger groups
// into near-equal parts of at most max, each in time order.
func partition(es []Episode, limit int) [][]Episode {
	type gk struct{ agent, key string }
	groups := map[gk][]Episode{}
	var order []gk
	for _, e := range es {
		k := gk{e.Agent, groupKey(&e)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], e)
	}
	slices.SortFunc(order, func(a, b gk) int {
		return cmp.Or(strings.Compare(a.agent, b.agent), strings.Compare(a.key, b.key))
	})
	var parts [][]Episode
	for _, k := range order {
		g := groups[k]
		if len(g) < 2 {
			continue
		}
		n := (len(g) + limit - 1) / limit // parts
		size, extra := len(g)/n, len(g)%n
		for i := 0; i < n; i++ {
			m := size
			if i < extra {
				m++
			}
			parts = append(parts, g[:m])
			g = g[m:]
		}
	}
	return parts
}

// DeterministicSummarizer writes a fact from counts alone, with no model:
// the number of episodes and their time span, the count of each outcome,
// and the three most frequent actions and reflections (ties in text
// order), each cut to 200 bytes. Its text depends only on the group.
//
//	4 episodes of "deploy the service" from 2026-01-01 to 2026-01-09: 1 success, 3 failure.
//	Actions: "kubectl apply" ×3; "helm upgrade" ×1.
//	Reflections: "check the image tag" ×2.
type DeterministicSummarizer struct{}

var _ Summarizer = DeterministicSummarizer{}

// Summarize implements Summarizer. An empty group is an error wrapping
// agentos.ErrInvalid.
func (DeterministicSummarizer) Summarize(_ context.Context, group []Episode) (string, error) {
	if len(group) == 0 {
		return "", invalid("summarize an empty group")
	}
	first, last := group[0].Time, group[0].Time
	counts := map[Outcome]int{}
	actions, reflections := map[string]int{}, map[string]int{}
	for _, e := range group {
		if e.Time.Before(first) {
			first = e.Time
		}
		if e.Time.After(last) {
			last = e.Time
		}
		counts[e.Outcome]++
		if a := strings.TrimSpace(e.Action); a != "" {
			actions[cut(a, 200)]++
		}
		if r := strings.TrimSpace(e.Reflection); r != "" {
			reflections[cut(r, 200)]++
		}
	}
	var b strings.Builder
	subject := group[0].Goal
	if strings.TrimSpace(subject) == "" {
		subject = group[0].Action
	}
	fmt.Fprintf(&b, "%d episodes of %q from %s to %s:", len(group), cut(strings.TrimSpace(subject), 200),
		first.UTC().Format(time.DateOnly), last.UTC().Format(time.DateOnly))
	sep := " "
	for _, o := range []Outcome{OutcomeSuccess, OutcomeFailure, OutcomeAntiPattern, OutcomeFact, OutcomeUnknown} {
		if n := counts[o]; n > 0 {
			name := string(o)
			if o == OutcomeUnknown {
				name = "unknown"
			}
			fmt.Fprintf(&b, "%s%d %s", sep, n, name)
			sep = ", "
		}
	}
	b.WriteString(".")
	for _, l := range []struct {
		title string
		m     map[string]int
	}{{"Actions", actions}, {"Reflections", reflections}} {
		if top := mostFrequent(l.m, 3); len(top) > 0 {
			fmt.Fprintf(&b, "\n%s: %s.", l.title, strings.Join(top, "; "))
		}
	}
	return b.String(), nil
}

func mostFrequent(m map[string]int, n int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b)) })
	if len(keys) > n {
		keys = keys[:n]
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%q ×%d", k, m[k])
	}
	return out
}

// cut returns s cut to at most n bytes at a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// SummaryPrompt is the system message ModelSummarizer sends; the user
// message lists the group's episodes, one line each:
//
//   - [outcome] goal: … | action: … | result: … | reflection: …
//
// with each field cut to 300 bytes.
const SummaryPrompt = "You consolidate an AI agent's episodic memory. The user lists related episodes of one agent. " +
	"Write one short factual paragraph, at most three sentences, that states what was attempted, what worked, " +
	"what failed and the lesson to keep. No preamble, no lists."

// ModelSummarizer summarises with a language model: it sends SummaryPrompt
// and the episodes at temperature 0 with at most 256 tokens of answer,
// cuts the answer to MaxSummarySize bytes and refuses an empty one with an
// error wrapping agentos.ErrInvalid.
func ModelSummarizer(m agentos.Model) Summarizer { return modelSummarizer{m} }

type modelSummarizer struct{ m agentos.Model }

func (s modelSummarizer) Summarize(ctx context.Context, group []Episode) (string, error) {
	if s.m == nil {
		return "", invalid("ModelSummarizer has no model")
	}
	if len(group) == 0 {
		return "", invalid("summarize an empty group")
	}
	var b strings.Builder
	for _, e := range group {
		o := string(e.Outcome)
		if o == "" {
			o = "unknown"
		}
		fmt.Fprintf(&b, "- [%s] goal: %s | action: %s | result: %s | reflection: %s\n", o,
			oneLine(e.Goal), oneLine(e.Action), oneLine(e.Result), oneLine(e.Reflection))
	}
	c, err := s.m.Generate(ctx, agentos.Prompt{
		Messages: []agentos.Message{
			{Role: agentos.RoleSystem, Content: SummaryPrompt},
			{Role: agentos.RoleUser, Content: b.String()},
		},
		MaxTokens: 256,
	})
	if err != nil {
		return "", fmt.Errorf("emk: summarize: %w", err)
	}
	text := strings.TrimSpace(cut(strings.ToValidUTF8(c.Text, "\uFFFD"), MaxSummarySize))
	if text == "" {
		return "", invalid("the model gave an empty summary")
	}
	return text, nil
}

func oneLine(s string) string {
	return cut(strings.Join(strings.Fields(s), " "), 300)
}
