package scak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// Answer is one agent answer to check, with what it was based on.
type Answer struct {
	Agent agentos.AgentID
	// Task is what the agent was asked ("" when unknown).
	Task string
	// Text is the answer.
	Text string
	// Evidence holds the tool results the answer was based on, as text,
	// one per result. Empty means unknown; the first 64 are examined. When every result is empty
	// ("", "[]", "{}", "null", "0 rows", "No results."), an answer that
	// says nothing was found is faithful, not a give-up; when some result
	// holds data, such an answer is a give-up with more confidence.
	Evidence []string
	// EmptyOK says that "nothing was found" is a correct answer to this
	// task whatever the evidence ("is there an open incident?").
	EmptyOK bool
}

// Match is what the pattern path found in one answer: the strongest match
// over the families, after the evidence was weighed.
type Match struct {
	// Family is the name of the family that matched; "" when none did.
	Family string
	// Phrase is the phrase pattern or regular expression that matched.
	Phrase string
	// Text is the matched words, normalised.
	Text string
	// Confidence is the family's (or the phrase's) confidence, raised by
	// [EvidenceBoost] when the evidence held data; 0 when nothing
	// matched.
	Confidence float64
	// Faithful reports that the match says the information is not there,
	// and the evidence was empty or the answer's EmptyOK was set: the
	// answer is correct, not a give-up.
	Faithful bool
}

// Found reports whether a family matched.
func (m Match) Found() bool { return m.Family != "" }

// EvidenceBoost is added to a match's confidence (up to 0.99) when the
// answer says the information is not there while its evidence held some.
const EvidenceBoost = 0.15

// Defaults of a Detector.
const (
	DefaultThreshold = 0.7
	DefaultHead      = 1024
	DefaultTail      = 512
	// MaxScan bounds head and tail together.
	MaxScan = 64 << 10
	// maxEvidenceText bounds a Failure's Evidence.
	maxEvidenceText = 256
	// maxEvidenceScan bounds the bytes of one evidence item that are
	// examined to decide whether it is empty (a longer one holds data),
	// and maxEvidenceItems the items examined (past them, all empty so
	// far, the evidence says nothing).
	maxEvidenceScan  = 4096
	maxEvidenceItems = 64
)

// JudgeWhen says which answers a Detector asks its judge about.
type JudgeWhen int

const (
	// JudgeUndecided asks about answers whose best match is weaker than
	// the threshold: the patterns suspect a give-up but do not decide.
	JudgeUndecided JudgeWhen = iota
	// JudgeUnflagged asks about every answer the patterns did not flag
	// as a give-up (weak matches and answers with no match), but not
	// about faithful "no data" answers.
	JudgeUnflagged
	// JudgeAlways asks about every answer; the judge's verdict is final.
	JudgeAlways
)

// ErrJudge is wrapped, with the judge's own error, by the error
// [Detector.Detect] returns when its judge fails: the answer was not
// judged, which is not the same as judged fine.
var ErrJudge = errors.New("scak: judge failed")

// Detector finds give-ups in agent answers: by pattern families over the
// normalised text (the pattern path, [Detector.Match]) and, optionally, by
// a [Judge] for the answers the patterns do not decide
// ([Detector.Detect]). A Detector is immutable once built and safe for
// concurrent use.
type Detector struct {
	families  []compiledFamily
	phrases   []*phrase
	index     phraseIndex
	emptyFam  int // index of the empty family, -1 without it
	threshold float64
	head      int
	tail      int
	judge     Judge
	judgeWhen JudgeWhen
	now       func() time.Time
	pool      sync.Pool // *scratch
}

// DetectorOption configures a Detector.
type DetectorOption func(*detectorConfig) error

type detectorConfig struct {
	families   []Family
	noBuiltins bool
	threshold  float64
	head, tail int
	judge      Judge
	judgeWhen  JudgeWhen
	now        func() time.Time
}

// WithFamilies adds families after the built-in ones. A family whose name
// is already taken, or that does not compile, makes [NewDetector] fail
// with an error wrapping agentos.ErrInvalid.
func WithFamilies(fs ...Family) DetectorOption {
	return func(c *detectorConfig) error {
		c.families = append(c.families, fs...)
		return nil
	}
}

// WithoutBuiltinFamilies leaves the built-in families out, the empty family
// included: only those given with [WithFamilies] are matched.
func WithoutBuiltinFamilies() DetectorOption {
	return func(c *detectorConfig) error {
		c.noBuiltins = true
		return nil
	}
}

// WithThreshold sets the confidence from which a match is a give-up
// (default [DefaultThreshold]); it must be in (0, 1].
func WithThreshold(t float64) DetectorOption {
	return func(c *detectorConfig) error {
		if !(t > 0 && t <= 1) {
			return fmt.Errorf("scak: %w: threshold %v is not in (0, 1]", agentos.ErrInvalid, t)
		}
		c.threshold = t
		return nil
	}
}

// WithScan bounds the text examined: the first head and last tail bytes of
// an answer (defaults [DefaultHead], [DefaultTail]); an answer no longer
// than head+tail is examined whole. Give-ups open or close an answer; one
// buried in the middle of a long answer is not seen. head must be
// positive, tail not negative, and head+tail at most [MaxScan].
func WithScan(head, tail int) DetectorOption {
	return func(c *detectorConfig) error {
		if head <= 0 || tail < 0 || head+tail > MaxScan {
			return fmt.Errorf("scak: %w: scan of %d+%d bytes is out of range", agentos.ErrInvalid, head, tail)
		}
		c.head, c.tail = head, tail
		return nil
	}
}

// WithJudge makes [Detector.Detect] ask j about the answers when says.
func WithJudge(j Judge, when JudgeWhen) DetectorOption {
	return func(c *detectorConfig) error {
		if j == nil {
			return fmt.Errorf("scak: %w: nil judge", agentos.ErrInvalid)
		}
		if when < JudgeUndecided || when > JudgeAlways {
			return fmt.Errorf("scak: %w: unknown JudgeWhen %d", agentos.ErrInvalid, when)
		}
		c.judge, c.judgeWhen = j, when
		return nil
	}
}

// WithDetectorClock sets the clock that stamps failures (default time.Now).
func WithDetectorClock(now func() time.Time) DetectorOption {
	return func(c *detectorConfig) error {
		if now == nil {
			return fmt.Errorf("scak: %w: nil clock", agentos.ErrInvalid)
		}
		c.now = now
		return nil
	}
}

// NewDetector builds a detector with the built-in families (see
// [Families]) and those of opts. Errors wrap agentos.ErrInvalid: a bad
// option, a family that does not compile, a duplicate family name, no
// family at all.
func NewDetector(opts ...DetectorOption) (*Detector, error) {
	c := detectorConfig{threshold: DefaultThreshold, head: DefaultHead, tail: DefaultTail, now: time.Now}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("scak: %w: nil detector option", agentos.ErrInvalid)
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	var all []Family
	if !c.noBuiltins {
		all = append(all, builtinFamilies...)
	}
	all = append(all, c.families...)
	if len(all) == 0 {
		return nil, fmt.Errorf("scak: %w: a detector needs at least one family", agentos.ErrInvalid)
	}
	if len(all) > maxFamilies {
		return nil, fmt.Errorf("scak: %w: more than %d families", agentos.ErrInvalid, maxFamilies)
	}
	d := &Detector{
		threshold: c.threshold, head: c.head, tail: c.tail,
		judge: c.judge, judgeWhen: c.judgeWhen, now: c.now, emptyFam: -1,
	}
	seen := map[string]bool{}
	for i, f := range all {
		if seen[f.Name] {
			return nil, fmt.Errorf("scak: %w: two families named %q", agentos.ErrInvalid, f.Name)
		}
		seen[f.Name] = true
		cf, ps, err := compileFamily(f, i)
		if err != nil {
			return nil, fmt.Errorf("scak: %w", err)
		}
		if f.Name == FamilyEmpty {
			d.emptyFam = i
		}
		d.families = append(d.families, cf)
		d.phrases = append(d.phrases, ps...)
	}
	d.index = newPhraseIndex(d.phrases)
	d.pool.New = func() any {
		return &scratch{norm: make([]byte, 0, 2*(d.head+d.tail)+64), toks: make([]token, 0, (d.head+d.tail)/4)}
	}
	return d, nil
}

// Families returns the detector's families, in the order they are tried.
// The result is a copy.
func (d *Detector) Families() []Family {
	out := make([]Family, len(d.families))
	for i, f := range d.families {
		out[i] = f.Family
		out[i].Phrases = append([]string(nil), f.Phrases...)
		out[i].Regexps = append([]string(nil), f.Regexps...)
	}
	return out
}

// Threshold returns the confidence from which a match is a give-up.
func (d *Detector) Threshold() float64 { return d.threshold }

// bounded returns the part of s the detector examines: s itself, or its
// first head and last tail bytes joined by a line break, cut on UTF-8
// boundaries.
func (d *Detector) bounded(s string) (head, tail string) {
	if len(s) <= d.head+d.tail {
		return s, ""
	}
	h := d.head
	for h > 0 && !utf8.RuneStart(s[h]) {
		h--
	}
	t := len(s) - d.tail
	for t < len(s) && !utf8.RuneStart(s[t]) {
		t++
	}
	return s[:h], s[t:]
}

// normalized fills a scratch from the pool with the examined part of text.
// The caller puts it back.
func (d *Detector) normalized(text string) *scratch {
	sc := d.pool.Get().(*scratch)
	sc.reset()
	head, tail := d.bounded(text)
	sc.normalize(head)
	if tail != "" {
		// The cut is a sentence boundary: no phrase spans it.
		sc.sent++
		sc.quoteAt, sc.squoteAt = -1, -1
		sc.pendSpace = true
		sc.normalize(tail)
	}
	return sc
}

// Normalize returns text as the detector's patterns see it: the examined
// part (see [WithScan]) in lower case, typographic quotes folded, whitespace
// collapsed and contractions expanded. It is for writing and testing
// patterns.
func (d *Detector) Normalize(text string) string {
	sc := d.normalized(text)
	defer d.pool.Put(sc)
	return string(sc.norm)
}

// Match runs the pattern path on a: it returns the strongest match over
// the families, weighed against a's evidence (see [Answer] and [Match]).
// It examines at most the first and last bytes set by [WithScan], costs a
// few microseconds, and allocates only for a match it reports.
func (d *Detector) Match(a Answer) Match {
	sc := d.normalized(a.Text)
	defer d.pool.Put(sc)
	if len(sc.toks) == 0 {
		if d.emptyFam >= 0 {
			return Match{Family: FamilyEmpty, Phrase: "(no words)", Text: string(sc.norm), Confidence: d.families[d.emptyFam].Confidence}
		}
		return Match{}
	}
	bestP, bestI, bestJ := -1, 0, 0
	bestConf := 0.0
	for i := range sc.toks {
		var next uint64
		if i+1 < len(sc.toks) {
			next = sc.toks[i+1].h
		}
		ids, _ := d.index.lookupNext(sc.toks[i].h, next, i+1 < len(sc.toks))
		for _, pi := range ids {
			p := d.phrases[pi]
			if p.conf <= bestConf {
				continue
			}
			j := p.matchAt(sc, i)
			if j < 0 || quoted(sc, i, j) || conditional(sc, i) {
				continue
			}
			bestP, bestI, bestJ, bestConf = int(pi), i, j, p.conf
		}
	}
	var m Match
	fam := -1
	if bestP >= 0 {
		p := d.phrases[bestP]
		fam = p.fam
		m = Match{
			Family: d.families[fam].Name, Phrase: p.src, Confidence: p.conf,
			Text: string(sc.norm[sc.toks[bestI].start:sc.toks[bestJ-1].end]),
		}
	}
	for fi := range d.families {
		f := &d.families[fi]
		if len(f.regexps) == 0 || f.Confidence <= m.Confidence {
			continue
		}
		for _, re := range f.regexps {
			if loc := re.FindIndex(sc.norm); loc != nil {
				fam = fi
				m = Match{Family: f.Name, Phrase: re.String(), Text: string(sc.norm[loc[0]:loc[1]]), Confidence: f.Confidence}
				break
			}
		}
	}
	if fam < 0 {
		return Match{}
	}
	m.Text = clipUTF8(m.Text, maxEvidenceText)
	if d.families[fam].EmptyExplains {
		switch {
		case a.EmptyOK:
			m.Faithful = true
		case len(a.Evidence) > 0:
			switch d.evidenceState(a.Evidence) {
			case evidenceEmpty:
				m.Faithful = true
			case evidenceData:
				m.Confidence = min(0.99, max(m.Confidence, m.Confidence+EvidenceBoost))
			}
		}
	}
	return m
}

// quoted reports whether any word of toks[i:j] is inside a quotation.
func quoted(sc *scratch, i, j int) bool {
	for k := i; k < j; k++ {
		if sc.toks[k].quoted {
			return true
		}
	}
	return false
}

// GiveUp reports whether m is a give-up by the detector's threshold.
func (d *Detector) GiveUp(m Match) bool {
	return m.Found() && !m.Faithful && m.Confidence >= d.threshold
}

// What the evidence of an answer says.
const (
	evidenceUnknown = iota // more items than were examined, all empty
	evidenceEmpty          // every item is an empty result
	evidenceData           // some item holds data
)

// evidenceState examines at most maxEvidenceItems items of ev.
func (d *Detector) evidenceState(ev []string) int {
	for i, e := range ev {
		if i == maxEvidenceItems {
			return evidenceUnknown
		}
		if !d.emptyResult(e) {
			return evidenceData
		}
	}
	return evidenceEmpty
}

// emptyResult reports whether a tool result holds nothing: no words, a
// JSON null or empty container (or an object whose values are all such),
// a zero count ("0 rows"), or a short text that itself says nothing was
// found ("No results.").
func (d *Detector) emptyResult(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return true
	}
	if len(s) > maxEvidenceScan {
		return false
	}
	if c := s[0]; c == '{' || c == '[' || c == 'n' {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err == nil {
			return emptyJSON(v, 0)
		}
	}
	sc := d.pool.Get().(*scratch)
	defer d.pool.Put(sc)
	sc.reset()
	sc.normalize(s)
	if len(sc.toks) == 0 {
		return true
	}
	if len(sc.toks) <= 4 && (string(sc.word(sc.toks[0])) == "0" || string(sc.word(sc.toks[0])) == "zero") {
		return true // "0 rows", "zero results returned"
	}
	if len(sc.toks) > 24 {
		return false
	}
	for i := range sc.toks {
		for _, pi := range d.index.lookup(sc.toks[i].h) {
			p := d.phrases[pi]
			if d.families[p.fam].EmptyExplains && p.matchAt(sc, i) >= 0 {
				return true
			}
		}
	}
	return false
}

// emptyJSON reports whether a decoded JSON value holds nothing.
func emptyJSON(v any, depth int) bool {
	if depth > 8 {
		return false
	}
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, e := range x {
			if !emptyJSON(e, depth+1) {
				return false
			}
		}
		return true
	case float64:
		return x == 0 && depth > 0
	}
	return false
}

// Detect checks an answer: the pattern path first, then the judge (see
// [WithJudge]) when the patterns do not decide. It reports a give-up as a
// Failure of KindGiveUp (a family matched; Rule is its name) or KindJudged
// (the judge found it; Rule is "judge"), and false when the answer is not
// a give-up, faithful "no data" answers included. Where the judge is
// asked, its judgement decides: a give-up when it says so with a
// confidence that reaches the threshold, none otherwise. A judge's failure is
// returned as an error wrapping [ErrJudge] and the judge's error (a
// context error, [ErrJudgement], the model's), never as a pass.
func (d *Detector) Detect(ctx context.Context, a Answer) (Failure, bool, error) {
	if err := ctx.Err(); err != nil {
		return Failure{}, false, err
	}
	m := d.Match(a)
	flagged := d.GiveUp(m)
	ask := false
	if d.judge != nil {
		switch d.judgeWhen {
		case JudgeUndecided:
			ask = m.Found() && !m.Faithful && !flagged
		case JudgeUnflagged:
			ask = !flagged && !m.Faithful
		case JudgeAlways:
			ask = true
		}
	}
	if !ask {
		if !flagged {
			return Failure{}, false, nil
		}
		return d.failure(a, KindGiveUp, m.Family, m.Text, m.Confidence), true, nil
	}
	v, err := d.judge.Judge(ctx, a)
	if err != nil {
		return Failure{}, false, fmt.Errorf("%w: %w", ErrJudge, err)
	}
	if !v.GiveUp || v.Confidence < d.threshold {
		return Failure{}, false, nil
	}
	evidence := v.Reason
	if m.Found() {
		evidence = m.Text + " — " + v.Reason
	}
	return d.failure(a, KindJudged, RuleJudge, evidence, v.Confidence), true, nil
}

// RuleJudge is the Rule of a failure a judge found.
const RuleJudge = "judge"

func (d *Detector) failure(a Answer, k Kind, rule, evidence string, conf float64) Failure {
	return Failure{
		Kind: k, Agent: a.Agent, Task: a.Task, Rule: rule,
		Evidence: clipUTF8(evidence, maxEvidenceText), Confidence: conf, At: d.now(),
	}
}

// cut returns s cut to at most n bytes on a UTF-8 boundary, with "…" when
// it was cut.
func clipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n -= len("…")
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
