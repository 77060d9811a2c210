package emk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// Outcome says how an episode ended.
type Outcome string

// The outcomes an episode may have. OutcomeFact is written by [Store.Sleep]
// for the facts it distils from older episodes; an agent may write one too.
const (
	OutcomeUnknown     Outcome = ""
	OutcomeSuccess     Outcome = "success"
	OutcomeFailure     Outcome = "failure"
	OutcomeAntiPattern Outcome = "anti-pattern"
	OutcomeFact        Outcome = "fact"
)

// Valid reports whether o is one of the outcomes above.
func (o Outcome) Valid() bool {
	switch o {
	case OutcomeUnknown, OutcomeSuccess, OutcomeFailure, OutcomeAntiPattern, OutcomeFact:
		return true
	}
	return false
}

// Bounds of an episode. A valid episode, encoded by [Episode.MarshalJSON]
// with the worst escaping JSON allows (every byte as \u00XX), still fits in
// MaxEpisodeSize, so whatever [Decode] accepts re-encodes to something
// Decode accepts.
const (
	// MaxEpisodeSize bounds the JSON text [Decode] reads, in bytes.
	MaxEpisodeSize = 1 << 20
	// MaxFieldSize bounds each of Goal, Action, Result and Reflection, in
	// bytes of UTF-8.
	MaxFieldSize = 16 << 10
	// MaxAgentSize bounds Agent, in bytes.
	MaxAgentSize = 256
	// MaxMetaEntries bounds the number of Meta labels.
	MaxMetaEntries = 32
	// MaxMetaKeySize and MaxMetaValueSize bound a Meta label's key and value.
	MaxMetaKeySize   = 128
	MaxMetaValueSize = 1024
	// MaxCauses bounds the causal links of one episode; [Store.Sleep] splits
	// larger groups.
	MaxCauses = 64
	// MaxDims bounds the length of an embedding.
	MaxDims = 4096
)

// Episode is one experience of an agent: what it set out to do, what it
// did, what came of it and what it concluded. An Episode is immutable once
// stored: a correction is a new episode whose Causes name the old one (see
// [Store.MarkAntiPattern]).
type Episode struct {
	// ID is the content address: the lowercase hex SHA-256 of the
	// canonical encoding of every other field but Embedding (see
	// [Episode.ComputeID]). Append sets it.
	ID string
	// Agent is the agent the episode belongs to; required, at most
	// MaxAgentSize bytes of UTF-8 without control characters.
	Agent string
	// Time is when it happened, in UTC; the zero Time means the store's
	// clock at Append. It is stored at nanosecond precision and must lie
	// in the range of int64 Unix nanoseconds (years 1678 to 2262).
	Time time.Time
	// Goal, Action, Result and Reflection are free text, each at most
	// MaxFieldSize bytes of UTF-8; at least one is not blank.
	Goal, Action, Result, Reflection string
	// Outcome says how it ended.
	Outcome Outcome
	// Meta holds exact-match labels (at most MaxMetaEntries); an empty map
	// is stored as nil.
	Meta map[string]string
	// Causes are the ids of earlier episodes this one follows from; they
	// must exist in the store. They are a set: Append sorts them, and a
	// repeated id is an error.
	Causes []string
	// Embedding is set by Append when the store has an embedder (and
	// dropped when it has none, so that every stored vector comes from one
	// embedder). It is not part of the ID.
	Embedding []float32
}

// canonical is the encoding hashed by ComputeID: a compact JSON object
// whose keys come in this fixed order, with Time as RFC 3339 with
// nanoseconds in UTC ("" for the zero Time), Meta as an object with sorted
// keys (encoding/json sorts map keys) and Causes sorted. "v" versions the
// encoding.
type canonical struct {
	V          int               `json:"v"`
	Agent      string            `json:"agent"`
	Time       string            `json:"time"`
	Goal       string            `json:"goal"`
	Action     string            `json:"action"`
	Result     string            `json:"result"`
	Reflection string            `json:"reflection"`
	Outcome    Outcome           `json:"outcome"`
	Meta       map[string]string `json:"meta"`
	Causes     []string          `json:"causes"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// canonicalJSON returns the canonical encoding of e (see ComputeID).
func (e Episode) canonicalJSON() []byte {
	causes := slices.Clone(e.Causes)
	slices.Sort(causes)
	if causes == nil {
		causes = []string{}
	}
	meta := e.Meta
	if meta == nil {
		meta = map[string]string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// Every field is a string, a map of strings or a slice of strings:
	// encoding cannot fail.
	_ = enc.Encode(canonical{
		V: 1, Agent: e.Agent, Time: formatTime(e.Time),
		Goal: e.Goal, Action: e.Action, Result: e.Result, Reflection: e.Reflection,
		Outcome: e.Outcome, Meta: meta, Causes: causes,
	})
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

// ComputeID returns the content address of e: the lowercase hex SHA-256 of
// its canonical encoding, a compact JSON object with the keys v (1), agent,
// time (RFC 3339 with nanoseconds, UTC, "" when zero), goal, action, result,
// reflection, outcome, meta (keys sorted) and causes (sorted), in that
// order, with no HTML escaping. ID and Embedding are not part of it, nor is
// the order of Meta or Causes. Invalid UTF-8 is replaced by U+FFFD by the
// encoding, so only a valid episode has an address that identifies it.
func (e Episode) ComputeID() string {
	sum := sha256.Sum256(e.canonicalJSON())
	return hex.EncodeToString(sum[:])
}

// invalid returns an error wrapping agentos.ErrInvalid.
func invalid(format string, args ...any) error {
	return fmt.Errorf("emk: %s: %w", fmt.Sprintf(format, args...), agentos.ErrInvalid)
}

// validID reports whether id looks like a content address.
func validID(id string) bool {
	if len(id) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func checkText(name, s string, limit int) error {
	if len(s) > limit {
		return invalid("%s is %d bytes, over the limit of %d", name, len(s), limit)
	}
	if !utf8.ValidString(s) {
		return invalid("%s is not valid UTF-8", name)
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

// minTime and maxTime bound the times an int64 of Unix nanoseconds holds.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// Validate checks e against the bounds and rules of an episode, without
// looking at ID (Append sets it) or at whether its causes exist (only a
// store knows). Errors wrap agentos.ErrInvalid.
func (e Episode) Validate() error {
	if e.Agent == "" {
		return invalid("episode has no agent")
	}
	if err := checkText("agent", e.Agent, MaxAgentSize); err != nil {
		return err
	}
	if hasControl(e.Agent) {
		return invalid("agent %q has a control character", e.Agent)
	}
	if !e.Time.IsZero() && (e.Time.Before(minTime) || e.Time.After(maxTime)) {
		return invalid("time %s is outside the years 1678 to 2262", e.Time)
	}
	blank := true
	for _, f := range []struct{ name, v string }{
		{"goal", e.Goal}, {"action", e.Action}, {"result", e.Result}, {"reflection", e.Reflection},
	} {
		if err := checkText(f.name, f.v, MaxFieldSize); err != nil {
			return err
		}
		if strings.TrimSpace(f.v) != "" {
			blank = false
		}
	}
	if blank {
		return invalid("episode has no goal, action, result or reflection")
	}
	if !e.Outcome.Valid() {
		return invalid("unknown outcome %q", e.Outcome)
	}
	if len(e.Meta) > MaxMetaEntries {
		return invalid("%d meta labels, over the limit of %d", len(e.Meta), MaxMetaEntries)
	}
	for k, v := range e.Meta {
		if k == "" {
			return invalid("empty meta key")
		}
		if err := checkText("meta key", k, MaxMetaKeySize); err != nil {
			return err
		}
		if err := checkText("meta value", v, MaxMetaValueSize); err != nil {
			return err
		}
	}
	if len(e.Causes) > MaxCauses {
		return invalid("%d causes, over the limit of %d", len(e.Causes), MaxCauses)
	}
	seen := make(map[string]bool, len(e.Causes))
	for _, c := range e.Causes {
		if !validID(c) {
			return invalid("cause %q is not an episode id", c)
		}
		if seen[c] {
			return invalid("cause %s is repeated", c)
		}
		seen[c] = true
	}
	if err := checkEmbedding(e.Embedding); err != nil {
		return err
	}
	return nil
}

func checkEmbedding(v []float32) error {
	if len(v) > MaxDims {
		return invalid("embedding has %d dimensions, over the limit of %d", len(v), MaxDims)
	}
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return invalid("embedding has a value that is not finite")
		}
	}
	return nil
}

// normalize returns a copy of e with Time in UTC, Causes sorted and an
// empty Meta as nil; nothing it changes is part of the ID.
func (e Episode) normalize() Episode {
	if !e.Time.IsZero() {
		e.Time = e.Time.UTC()
	}
	if len(e.Meta) == 0 {
		e.Meta = nil
	} else {
		e.Meta = maps.Clone(e.Meta)
	}
	if len(e.Causes) == 0 {
		e.Causes = nil
	} else {
		e.Causes = slices.Clone(e.Causes)
		slices.Sort(e.Causes)
	}
	if len(e.Embedding) == 0 {
		e.Embedding = nil
	} else {
		e.Embedding = slices.Clone(e.Embedding)
	}
	return e
}

// wire is the JSON form of an episode, for MarshalJSON.
type wire struct {
	ID         string            `json:"id,omitempty"`
	Agent      string            `json:"agent"`
	Time       string            `json:"time,omitempty"`
	Goal       string            `json:"goal,omitempty"`
	Action     string            `json:"action,omitempty"`
	Result     string            `json:"result,omitempty"`
	Reflection string            `json:"reflection,omitempty"`
	Outcome    Outcome           `json:"outcome,omitempty"`
	Meta       map[string]string `json:"meta,omitempty"`
	Causes     []string          `json:"causes,omitempty"`
	Embedding  []float32         `json:"embedding,omitempty"`
}

// MarshalJSON encodes e as the JSON object [Decode] reads: id (when set),
// agent, time (RFC 3339 with nanoseconds, UTC, absent when zero), goal,
// action, result, reflection, outcome, meta, causes and embedding, each
// absent when empty. Decode(Marshal(e)) gives back e for every episode
// Decode accepts. An embedding that is not finite cannot be encoded.
func (e Episode) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(wire{
		ID: e.ID, Agent: e.Agent, Time: formatTime(e.Time),
		Goal: e.Goal, Action: e.Action, Result: e.Result, Reflection: e.Reflection,
		Outcome: e.Outcome, Meta: e.Meta, Causes: e.Causes, Embedding: e.Embedding,
	}); err != nil {
		return nil, fmt.Errorf("emk: encode episode: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// UnmarshalJSON decodes with [Decode].
func (e *Episode) UnmarshalJSON(data []byte) error {
	d, err := Decode(data)
	if err != nil {
		return err
	}
	*e = d
	return nil
}

// Decode reads an episode an agent wrote, as [Episode.MarshalJSON] writes
// it, strictly: the text must be one JSON object of at most MaxEpisodeSize
// bytes of valid UTF-8, with no unknown or repeated key (in meta too) and
// nothing after it; each field has its JSON type (strings; meta an object
// of strings; causes an array of strings; embedding an array of finite
// numbers); the episode must pass [Episode.Validate]; and an id, when
// present, must be the episode's content address (Time included, so an
// episode without a time has no id yet). Causes keep their order. Every
// error wraps agentos.ErrInvalid.
func Decode(data []byte) (Episode, error) {
	if len(data) > MaxEpisodeSize {
		return Episode{}, invalid("episode is %d bytes, over the limit of %d", len(data), MaxEpisodeSize)
	}
	if !utf8.Valid(data) {
		return Episode{}, invalid("episode is not valid UTF-8")
	}
	d := decoder{dec: json.NewDecoder(bytes.NewReader(data))}
	d.dec.UseNumber()
	e, err := d.episode()
	if err != nil {
		return Episode{}, err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return Episode{}, invalid("episode has data after its closing brace")
	}
	if err := e.Validate(); err != nil {
		return Episode{}, err
	}
	if e.ID != "" && e.ID != e.ComputeID() {
		return Episode{}, invalid("id %q is not the episode's content address", e.ID)
	}
	return e, nil
}

type decoder struct{ dec *json.Decoder }

func (d decoder) token() (json.Token, error) {
	t, err := d.dec.Token()
	if err != nil {
		return nil, invalid("malformed episode JSON: %v", err)
	}
	return t, nil
}

func (d decoder) delim(want json.Delim, what string) error {
	t, err := d.token()
	if err != nil {
		return err
	}
	if t != want {
		return invalid("%s must start with %q", what, want.String())
	}
	return nil
}

func (d decoder) str(what string) (string, error) {
	t, err := d.token()
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", invalid("%s must be a string", what)
	}
	return s, nil
}

func (d decoder) episode() (Episode, error) {
	var e Episode
	if err := d.delim('{', "an episode"); err != nil {
		return e, err
	}
	seen := map[string]bool{}
	for d.dec.More() {
		key, err := d.str("a key")
		if err != nil {
			return e, err
		}
		if seen[key] {
			return e, invalid("key %q is repeated", key)
		}
		seen[key] = true
		switch key {
		case "id", "agent", "time", "goal", "action", "result", "reflection", "outcome":
			s, err := d.str(key)
			if err != nil {
				return e, err
			}
			switch key {
			case "id":
				e.ID = s
			case "agent":
				e.Agent = s
			case "time":
				t, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					return e, invalid("time %q is not RFC 3339", s)
				}
				e.Time = t.UTC()
			case "goal":
				e.Goal = s
			case "action":
				e.Action = s
			case "result":
				e.Result = s
			case "reflection":
				e.Reflection = s
			case "outcome":
				e.Outcome = Outcome(s)
			}
		case "meta":
			if e.Meta, err = d.meta(); err != nil {
				return e, err
			}
		case "causes":
			if e.Causes, err = d.causes(); err != nil {
				return e, err
			}
		case "embedding":
			if e.Embedding, err = d.embedding(); err != nil {
				return e, err
			}
		default:
			return e, invalid("unknown key %q", key)
		}
	}
	if _, err := d.token(); err != nil { // the closing brace
		return e, err
	}
	return e, nil
}

func (d decoder) meta() (map[string]string, error) {
	if err := d.delim('{', "meta"); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for d.dec.More() {
		if len(m) == MaxMetaEntries {
			return nil, invalid("more than %d meta labels", MaxMetaEntries)
		}
		k, err := d.str("a meta key")
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, invalid("meta key %q is repeated", k)
		}
		v, err := d.str("meta value " + k)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	if _, err := d.token(); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

func (d decoder) causes() ([]string, error) {
	if err := d.delim('[', "causes"); err != nil {
		return nil, err
	}
	var cs []string
	for d.dec.More() {
		if len(cs) == MaxCauses {
			return nil, invalid("more than %d causes", MaxCauses)
		}
		c, err := d.str("a cause")
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	if _, err := d.token(); err != nil {
		return nil, err
	}
	return cs, nil
}

func (d decoder) embedding() ([]float32, error) {
	if err := d.delim('[', "embedding"); err != nil {
		return nil, err
	}
	var v []float32
	for d.dec.More() {
		if len(v) == MaxDims {
			return nil, invalid("embedding has more than %d dimensions", MaxDims)
		}
		t, err := d.token()
		if err != nil {
			return nil, err
		}
		n, ok := t.(json.Number)
		if !ok {
			return nil, invalid("embedding values must be numbers")
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(float64(float32(f)), 0) {
			return nil, invalid("embedding value %s is not a finite float32", n)
		}
		v = append(v, float32(f))
	}
	if _, err := d.token(); err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}
