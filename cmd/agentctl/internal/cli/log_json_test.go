package cli

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// jsonAlphabet mixes what encoding/json writes as is with everything it
// escapes: quotes, backslashes, control characters, HTML characters,
// U+2028/U+2029, multi-byte runes and invalid UTF-8.
var jsonAlphabet = []string{"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\r", "\b", "\f", "\x00", "\x1f", "\x7f",
	"<", ">", "&", "é", "€", "𝄞", "\u2028", "\u2029", "\xff", "\xe2\x80", "\xed\xa0\x80", "{", "}", "[", "]", ":", ","}

func randString(r *rand.Rand) string {
	n := r.IntN(6)
	s := ""
	for range n {
		s += jsonAlphabet[r.IntN(len(jsonAlphabet))]
	}
	return s
}

var argsSamples = []string{"", `{}`, `{"q":"x y"}`, `{"a":[1,2.5e3,true,null],"b":{"c":"\"\\u00e9"}}`, `{"h":"<b>&"}`,
	`{"s":"` + "\u2028" + `"}`, `{ "a": 1 }`, `[1, 2]`, `"x"`, `{"a":"\\"}`, `{"a":`, `{"a":"b"} x`}

// randEntry builds an entry over the space json.Marshal's output depends
// on: empty and non-empty fields, every effect and severity and some
// without a name, times of odd years and zones, args that are canonical,
// spaced, HTML-laden or invalid.
func randEntry(r *rand.Rand) recorder.Entry {
	e := recorder.Entry{Seq: r.Uint64() >> r.IntN(64), Trace: randString(r), Agent: agentos.AgentID(randString(r)),
		Kind: recorder.Kind(randString(r)), Op: agentos.Op(randString(r)), Tool: randString(r), Path: randString(r),
		Target: agentos.AgentID(randString(r)), PayloadType: randString(r), PolicyVersion: randString(r), Rule: randString(r),
		Effect: agentos.Effect(r.IntN(6)), Message: randString(r), Severity: agentos.Severity(r.IntN(7)),
		Status: recorder.Status(randString(r)), Error: randString(r), Duration: time.Duration(r.Int64N(1e12) - 5e11),
		ResultDigest: randString(r), Detail: randString(r)}
	if r.IntN(4) == 0 {
		e.Duration = 0
	}
	years := []int{1, 1970, 2026, 9999, 10000, -1}
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800), time.FixedZone("y", -7*3600)}
	e.Time = time.Date(years[r.IntN(len(years))], time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(3)*r.IntN(1e9), zones[r.IntN(len(zones))])
	if r.IntN(5) == 0 {
		e.Time = time.Time{}
	}
	if a := argsSamples[r.IntN(len(argsSamples))]; a != "" {
		e.Args = json.RawMessage(a)
	}
	if n := r.IntN(4); n > 0 {
		e.Meta = map[string]string{}
		for range n {
			e.Meta[randString(r)] = randString(r)
		}
	}
	for i := range e.Hash {
		e.Hash[i], e.PrevHash[i] = byte(r.IntN(256)), byte(r.IntN(256))
	}
	return e
}

// checkEntryJSON requires appendEntryJSON to agree with json.Marshal:
// the same bytes, or both an error.
func checkEntryJSON(t *testing.T, e recorder.Entry) {
	want, werr := json.Marshal(&e)
	got, gerr := appendEntryJSON([]byte("prefix"), &e)
	if werr != nil {
		require.Error(t, gerr, "json.Marshal failed with %v", werr)
		return
	}
	require.NoError(t, gerr)
	require.Equal(t, "prefix"+string(want), string(got))
}

// TestAppendEntryJSON is the differential test of the fast encoder
// against json.Marshal over generated entries.
func TestAppendEntryJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		checkEntryJSON(t, randEntry(r))
	}
	checkEntryJSON(t, recorder.Entry{})
	fast := 0
	for range 1000 {
		e := randEntry(r)
		if fastJSON(&e) {
			fast++
		}
	}
	require.Greater(t, fast, 100, "the fast path must be exercised")
}

func FuzzAppendEntryJSON(f *testing.F) {
	f.Add(uint64(1), "t", "agent", "<&>\u2028\xff", `{"q":"x"}`, "k", "v", uint8(1), uint8(2), int64(0))
	f.Add(uint64(0), "", "", "", `{ "a" : 1 }`, "", "", uint8(9), uint8(9), int64(-1))
	f.Add(uint64(1<<63), "\x00", "é", "\\\"", `[1,2]`, "\n", "\t", uint8(0), uint8(4), int64(1<<62))
	f.Fuzz(func(t *testing.T, seq uint64, trace, agent, text, args, mk, mv string, effect, severity uint8, unixNano int64) {
		e := recorder.Entry{Seq: seq, Trace: trace, Agent: agentos.AgentID(agent), Kind: recorder.KindDecision,
			Tool: text, Message: text, Detail: text, Effect: agentos.Effect(effect), Severity: agentos.Severity(severity),
			Time: time.Unix(0, unixNano).UTC(), Meta: map[string]string{mk: mv}}
		if args != "" {
			e.Args = json.RawMessage(args)
		}
		checkEntryJSON(t, e)
	})
}

// TestAppendTime checks the fast time formats against AppendFormat over
// generated times, UTC and not.
func TestAppendTime(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800), time.FixedZone("y", -7*3600), time.Local}
	for range 20000 {
		tm := time.Unix(r.Int64N(400e9)-100e9, 0).Add(time.Duration(r.Int64N(1e9)) / time.Duration(1+r.IntN(3)*r.IntN(1e6)))
		tm = tm.In(zones[r.IntN(len(zones))])
		require.Equal(t, tm.AppendFormat(nil, time.RFC3339Nano), appendTime(nil, tm, false), "%v", tm)
		require.Equal(t, tm.UTC().AppendFormat(nil, "2006-01-02T15:04:05.000Z"), appendTime(nil, tm.UTC(), true), "%v", tm)
	}
	zero := time.Time{}
	require.Equal(t, zero.AppendFormat(nil, time.RFC3339Nano), appendTime(nil, zero, false))
}

// compactSafeRef is what compactSafe must say: json.Marshal of raw is raw.
func compactSafeRef(raw []byte) bool {
	out, err := json.Marshal(json.RawMessage(raw))
	return err == nil && string(out) == string(raw)
}

func TestCompactSafe(t *testing.T) {
	for _, s := range append(argsSamples, `null`, `true`, `fals`, `-`, `-0`, `-01`, `1.`, `1.5e`, `1e+9`, `0.0E-0`, `"\u00e9"`, `"\u00g9"`,
		`"\x"`, `"a`, `{"a"}`, `{"a":}`, `{,}`, `[1,]`, `[,1]`, `{"a":1,}`, `[[[]]]`, `{"a":{"b":[]}}`, "\"\x01\"", "\"\x7f\xff\"",
		`"<"`, `"\u003c"`, "\"\u2028\"", `1 `, ` 1`, `""`, `[] []`, strings.Repeat("[", 10001)+strings.Repeat("]", 10001),
		strings.Repeat("[", 10000)+strings.Repeat("]", 10000)) {
		require.Equal(t, compactSafeRef([]byte(s)), compactSafe([]byte(s)), "%.60q", s)
	}
	r := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"{", "}", "[", "]", ",", ":", `"`, `\`, "u", "0", "1", "-", ".", "e", "+", "a", "true", "null", " ", "<", "\u2028", "\xff", `"k"`}
	for range 50000 {
		var b []byte
		for range r.IntN(12) {
			b = append(b, pieces[r.IntN(len(pieces))]...)
		}
		require.Equal(t, compactSafeRef(b), compactSafe(b), "%q", b)
	}
}

func FuzzCompactSafe(f *testing.F) {
	for _, s := range argsSamples {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"a":[1,-2.5E+3,"\u00e9\n",{"b":null}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		require.Equal(t, compactSafeRef(b), compactSafe(b), "%q", b)
	})
}
