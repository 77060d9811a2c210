package emk_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/emk"
)

func full() emk.Episode {
	return emk.Episode{
		Agent: "agent-1", Time: t0, Goal: "deploy", Action: "kubectl apply", Result: "crashloop",
		Reflection: "check the tag", Outcome: emk.OutcomeFailure,
		Meta:   map[string]string{"env": "prod", "team": "infra", "ticket": "42"},
		Causes: []string{strings.Repeat("b", 64), strings.Repeat("a", 64)},
	}
}

// The documented canonical encoding is the one hashed.
func TestComputeIDCanonical(t *testing.T) {
	e := full()
	want := `{"v":1,"agent":"agent-1","time":"2026-11-01T12:00:00Z","goal":"deploy","action":"kubectl apply",` +
		`"result":"crashloop","reflection":"check the tag","outcome":"failure",` +
		`"meta":{"env":"prod","team":"infra","ticket":"42"},` +
		`"causes":["` + strings.Repeat("a", 64) + `","` + strings.Repeat("b", 64) + `"]}`
	assert.Equal(t, want, string(emk.CanonicalJSON(e)))
	sum := sha256.Sum256([]byte(want))
	assert.Equal(t, hex.EncodeToString(sum[:]), e.ComputeID())

	empty := emk.Episode{Agent: "a", Goal: "<&>"}
	assert.Equal(t, `{"v":1,"agent":"a","time":"","goal":"<&>","action":"","result":"","reflection":"","outcome":"","meta":{},"causes":[]}`,
		string(emk.CanonicalJSON(empty)))
}

func TestComputeIDDeterminism(t *testing.T) {
	base := full()
	id := base.ComputeID()
	require.Len(t, id, 64)

	same := full()
	same.Meta = map[string]string{}
	for _, k := range []string{"ticket", "team", "env"} { // another insertion order
		same.Meta[k] = base.Meta[k]
	}
	same.Causes = []string{base.Causes[1], base.Causes[0]}
	same.Time = t0.In(time.FixedZone("CET", 3600)) // the same instant elsewhere
	same.ID = "ignored"
	same.Embedding = []float32{1, 2, 3}
	assert.Equal(t, id, same.ComputeID(), "map order, cause order, zone, ID and Embedding are not content")

	noMeta := full()
	noMeta.Meta = nil
	emptyMeta := full()
	emptyMeta.Meta = map[string]string{}
	assert.Equal(t, noMeta.ComputeID(), emptyMeta.ComputeID())

	changes := map[string]func(*emk.Episode){
		"agent":      func(e *emk.Episode) { e.Agent = "agent-2" },
		"time":       func(e *emk.Episode) { e.Time = e.Time.Add(time.Nanosecond) },
		"zero time":  func(e *emk.Episode) { e.Time = time.Time{} },
		"goal":       func(e *emk.Episode) { e.Goal += " " },
		"action":     func(e *emk.Episode) { e.Action = "helm" },
		"result":     func(e *emk.Episode) { e.Result = "" },
		"reflection": func(e *emk.Episode) { e.Reflection = "x" },
		"outcome":    func(e *emk.Episode) { e.Outcome = emk.OutcomeSuccess },
		"meta value": func(e *emk.Episode) { e.Meta = map[string]string{"env": "dev", "team": "infra", "ticket": "42"} },
		"meta key":   func(e *emk.Episode) { e.Meta = map[string]string{"env": "prod", "team": "infra", "tickets": "42"} },
		"meta gone":  func(e *emk.Episode) { e.Meta = nil },
		"cause":      func(e *emk.Episode) { e.Causes = e.Causes[:1] },
		"no causes":  func(e *emk.Episode) { e.Causes = nil },
		// Fields are delimited: moving text from one field to the next
		// changes the address.
		"shift": func(e *emk.Episode) { e.Goal, e.Action = "deploy kubectl", "apply" },
	}
	seen := map[string]string{id: "base"}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			e := full()
			change(&e)
			got := e.ComputeID()
			prev, dup := seen[got]
			assert.False(t, dup, "same id as %s", prev)
			seen[got] = name
		})
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("x", emk.MaxFieldSize+1)
	manyMeta := map[string]string{}
	for i := range emk.MaxMetaEntries + 1 {
		manyMeta[strings.Repeat("k", i+1)] = "v"
	}
	manyCauses := make([]string, emk.MaxCauses+1)
	for i := range manyCauses {
		manyCauses[i] = (emk.Episode{Agent: "a", Goal: strings.Repeat("g", i+1)}).ComputeID()
	}
	tests := []struct {
		name   string
		change func(*emk.Episode)
	}{
		{"no agent", func(e *emk.Episode) { e.Agent = "" }},
		{"long agent", func(e *emk.Episode) { e.Agent = strings.Repeat("a", emk.MaxAgentSize+1) }},
		{"agent control", func(e *emk.Episode) { e.Agent = "a\nb" }},
		{"agent utf8", func(e *emk.Episode) { e.Agent = "a\xffb" }},
		{"time before 1678", func(e *emk.Episode) { e.Time = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"time after 2262", func(e *emk.Episode) { e.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"blank", func(e *emk.Episode) { e.Goal, e.Action, e.Result, e.Reflection = " ", "\t", "", "\n" }},
		{"goal too long", func(e *emk.Episode) { e.Goal = long }},
		{"action too long", func(e *emk.Episode) { e.Action = long }},
		{"result too long", func(e *emk.Episode) { e.Result = long }},
		{"reflection too long", func(e *emk.Episode) { e.Reflection = long }},
		{"result utf8", func(e *emk.Episode) { e.Result = "\xc3\x28" }},
		{"outcome", func(e *emk.Episode) { e.Outcome = "meh" }},
		{"meta entries", func(e *emk.Episode) { e.Meta = manyMeta }},
		{"meta empty key", func(e *emk.Episode) { e.Meta = map[string]string{"": "v"} }},
		{"meta long key", func(e *emk.Episode) { e.Meta = map[string]string{strings.Repeat("k", emk.MaxMetaKeySize+1): "v"} }},
		{"meta long value", func(e *emk.Episode) { e.Meta = map[string]string{"k": strings.Repeat("v", emk.MaxMetaValueSize+1)} }},
		{"meta utf8", func(e *emk.Episode) { e.Meta = map[string]string{"k": "\xff"} }},
		{"too many causes", func(e *emk.Episode) { e.Causes = manyCauses }},
		{"cause not an id", func(e *emk.Episode) { e.Causes = []string{"abc"} }},
		{"cause upper case", func(e *emk.Episode) { e.Causes = []string{strings.Repeat("A", 64)} }},
		{"cause repeated", func(e *emk.Episode) { e.Causes = []string{strings.Repeat("a", 64), strings.Repeat("a", 64)} }},
		{"embedding too long", func(e *emk.Episode) { e.Embedding = make([]float32, emk.MaxDims+1) }},
	}
	require.NoError(t, full().Validate())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := full()
			tt.change(&e)
			assert.ErrorIs(t, e.Validate(), agentos.ErrInvalid)
		})
	}
}

func TestDecode(t *testing.T) {
	id := strings.Repeat("a", 64)
	bad := []struct{ name, json string }{
		{"empty", ``},
		{"not an object", `[]`},
		{"null", `null`},
		{"unknown key", `{"agent":"a","goal":"g","mood":"happy"}`},
		{"repeated key", `{"agent":"a","goal":"g","goal":"h"}`},
		{"repeated meta key", `{"agent":"a","goal":"g","meta":{"k":"1","k":"2"}}`},
		{"bad utf8", "{\"agent\":\"a\",\"goal\":\"\xff\"}"},
		{"trailing data", `{"agent":"a","goal":"g"} {}`},
		{"trailing garbage", `{"agent":"a","goal":"g"}x`},
		{"unterminated", `{"agent":"a","goal":"g"`},
		{"goal a number", `{"agent":"a","goal":1}`},
		{"goal null", `{"agent":"a","goal":null}`},
		{"meta value number", `{"agent":"a","goal":"g","meta":{"k":1}}`},
		{"meta an array", `{"agent":"a","goal":"g","meta":["k"]}`},
		{"causes a string", `{"agent":"a","goal":"g","causes":"` + id + `"}`},
		{"cause a number", `{"agent":"a","goal":"g","causes":[1]}`},
		{"cause not an id", `{"agent":"a","goal":"g","causes":["x"]}`},
		{"embedding strings", `{"agent":"a","goal":"g","embedding":["1"]}`},
		{"embedding overflow", `{"agent":"a","goal":"g","embedding":[1e39]}`},
		{"embedding nested", `{"agent":"a","goal":"g","embedding":[[1]]}`},
		{"bad outcome", `{"agent":"a","goal":"g","outcome":"great"}`},
		{"bad time", `{"agent":"a","goal":"g","time":"yesterday"}`},
		{"empty time", `{"agent":"a","goal":"g","time":""}`},
		{"time out of range", `{"agent":"a","goal":"g","time":"9999-01-01T00:00:00Z"}`},
		{"wrong id", `{"id":"` + id + `","agent":"a","goal":"g"}`},
		{"no agent", `{"goal":"g"}`},
		{"blank", `{"agent":"a"}`},
		{"oversize field", `{"agent":"a","goal":"` + strings.Repeat("g", emk.MaxFieldSize+1) + `"}`},
		{"oversize input", `{"agent":"a","goal":"g","result":"` + strings.Repeat(" ", emk.MaxEpisodeSize) + `"}`},
		{"too many causes", `{"agent":"a","goal":"g","causes":[` + strings.Repeat(`"`+id+`",`, emk.MaxCauses) + `"` + id + `"]}`},
		{"too many meta", `{"agent":"a","goal":"g","meta":{` + func() string {
			var b strings.Builder
			for i := range emk.MaxMetaEntries + 1 {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(`"k` + strings.Repeat("x", i) + `":"v"`)
			}
			return b.String()
		}() + `}}`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := emk.Decode([]byte(tt.json))
			assert.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}

	t.Run("good", func(t *testing.T) {
		e, err := emk.Decode([]byte(`{"agent":"a","time":"2026-11-01T13:00:00.000000001+01:00","goal":"g",` +
			`"outcome":"anti-pattern","meta":{"k":"v"},"causes":["` + id + `"],"embedding":[0.5,-1]}`))
		require.NoError(t, err)
		assert.Equal(t, emk.Episode{Agent: "a", Time: t0.Add(time.Nanosecond), Goal: "g", Outcome: emk.OutcomeAntiPattern,
			Meta: map[string]string{"k": "v"}, Causes: []string{id}, Embedding: []float32{0.5, -1}}, e)
		assert.Equal(t, time.UTC, e.Time.Location())
	})
	t.Run("id checked", func(t *testing.T) {
		e := full()
		e.ID = e.ComputeID()
		b, err := e.MarshalJSON()
		require.NoError(t, err)
		got, err := emk.Decode(b)
		require.NoError(t, err)
		assert.Equal(t, e, got)
	})
}

func TestMarshalRoundTrip(t *testing.T) {
	for name, e := range map[string]emk.Episode{
		"full":    full(),
		"minimal": {Agent: "a", Reflection: "r"},
		"odd text": {Agent: "ä<b>&", Goal: "\u2028\x00\"\\", Action: "\ufffd", Outcome: emk.OutcomeFact,
			Embedding: []float32{1e-45, -0, 3.4028235e38}},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := e.MarshalJSON()
			require.NoError(t, err)
			got, err := emk.Decode(b)
			require.NoError(t, err)
			assert.Equal(t, e, got)
		})
	}
}

// The worst episode (every field at its bound, every byte escaped) still
// encodes within MaxEpisodeSize, so Decode accepts what Marshal writes.
func TestWorstCaseFitsMaxEpisodeSize(t *testing.T) {
	ctl := func(n int) string { return strings.Repeat("\x01", n) }
	e := emk.Episode{
		ID: strings.Repeat("f", 64), Agent: strings.Repeat("\"", emk.MaxAgentSize), Time: t0.Add(123456789),
		Goal: ctl(emk.MaxFieldSize), Action: ctl(emk.MaxFieldSize), Result: ctl(emk.MaxFieldSize), Reflection: ctl(emk.MaxFieldSize),
		Outcome: emk.OutcomeAntiPattern, Meta: map[string]string{}, Causes: make([]string, emk.MaxCauses),
		Embedding: make([]float32, emk.MaxDims),
	}
	for i := range emk.MaxMetaEntries {
		e.Meta[ctl(emk.MaxMetaKeySize-2)+string(rune('a'+i/26))+string(rune('a'+i%26))] = ctl(emk.MaxMetaValueSize)
	}
	for i := range e.Causes {
		e.Causes[i] = strings.Repeat("0", 62) + hex.EncodeToString([]byte{byte(i)})
	}
	for i := range e.Embedding {
		e.Embedding[i] = -1.1754944e-38
	}
	b, err := e.MarshalJSON()
	require.NoError(t, err)
	assert.LessOrEqual(t, len(b), emk.MaxEpisodeSize)
}

// Episode is a json.Unmarshaler with Decode's rules.
func TestUnmarshalJSON(t *testing.T) {
	var es []emk.Episode
	require.NoError(t, json.Unmarshal([]byte(`[{"agent":"a","goal":"g"},{"agent":"b","result":"r","outcome":"fact"}]`), &es))
	assert.Equal(t, []emk.Episode{{Agent: "a", Goal: "g"}, {Agent: "b", Result: "r", Outcome: emk.OutcomeFact}}, es)
	err := json.Unmarshal([]byte(`[{"agent":"a","goal":"g","goal":"h"}]`), &es)
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	b, err := json.Marshal([]emk.Episode{{Agent: "a", Goal: "<g>"}})
	require.NoError(t, err)
	assert.Equal(t, `[{"agent":"a","goal":"\u003cg\u003e"}]`, string(b), "encoding/json escapes HTML around MarshalJSON")
}

func TestOutcomeValid(t *testing.T) {
	for _, o := range []emk.Outcome{emk.OutcomeUnknown, emk.OutcomeSuccess, emk.OutcomeFailure, emk.OutcomeAntiPattern, emk.OutcomeFact} {
		assert.True(t, o.Valid(), o)
	}
	assert.False(t, emk.Outcome("Success").Valid())
}
