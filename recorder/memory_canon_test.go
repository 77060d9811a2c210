package recorder

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/require"
)

var canonSeeds = []string{
	`{"limit":10,"q":"select 1"}`, `{"a":[1,2.50,"x<y"],"m":{"a":null,"b":true},"z":7}`, `"just a string"`,
	`[]`, `{}`, `[{}]`, `-0.5e+10`, `0`, `1E3`, `true`, `null`, `"\b\f\n\r\t\u0001\u001f\u2028\u2029\"\\/"`,
	`"é ü \ufffd` + "\xef\xbf\xbd" + `"`, `{"a":1,"a":2}`, `{"b":1,"a":2}`, `{ "a":1}`, ` 1`, `1 `, `01`, `1.`,
	`"\u00e9"`, `"\u000A"`, `"\u000a"`, `"\ud800"`, `"\/"`, `{"\u0061":1}`, "\"\xff\"", "\"\u2028\"", `[1,]`,
	`{"a":1,}`, `{"a"}`, `[[[[[[[[]]]]]]]]`, `"<>&"`, `{"":0,"a":1}`, `123abc`, `{"a":1}{"b":2}`, `-`, `"\u007f"`,
}

// FuzzCanonicalFast holds the fast path of CanonicalJSON to the general
// one: whatever isCanonical accepts, the general path turns into itself.
func FuzzCanonicalFast(f *testing.F) {
	for _, s := range canonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		slow, err := canonicalJSON(b)
		if isCanonical(b) {
			if err != nil || !bytes.Equal(slow, b) {
				t.Fatalf("isCanonical(%q) but the general path gives %q, %v", b, slow, err)
			}
		}
		if err == nil && slow != nil && !bytes.ContainsRune(slow, '\\') && bytes.Count(slow, []byte("["))+bytes.Count(slow, []byte("{")) < maxCanonicalDepth && !isCanonical(slow) {
			// What the general path makes, without escapes, is seen canonical.
			t.Fatalf("isCanonical(%q) is false for the general path's own output", slow)
		}
	})
}

func TestCanonicalFast(t *testing.T) {
	cases := []struct {
		in   string
		fast bool
	}{
		{`{"limit":10,"q":"select 1"}`, true},
		{`{"b":1,"a":2}`, false},
		{`{"a":1,"a":2}`, false},
		{`{ "a":1}`, false},
		{`"\u000a"`, false},
		{`"\u0001"`, true},
		{`"\u2028"`, true},
		{"\"\u2028\"", false},
		{`{"\u0061":1}`, false},
		{`"<>&"`, true},
		{`01`, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			require.Equal(t, c.fast, isCanonical([]byte(c.in)))
			got, err := CanonicalJSON([]byte(c.in))
			if err == nil {
				slow, err := canonicalJSON([]byte(c.in))
				require.NoError(t, err)
				require.Equal(t, slow, got)
			}
		})
	}
	for i := range 256 {
		_, err := agentos.Effect(i).MarshalText()
		require.Equal(t, err == nil, validEffect[i])
		_, err = agentos.Severity(i).MarshalText()
		require.Equal(t, err == nil, validSeverity[i])
	}
}

// FuzzMetaJSON holds fastMetaJSON to encoding/json: the fuzzer's bytes,
// split at NUL into keys and values, give the same stored meta both ways.
func FuzzMetaJSON(f *testing.F) {
	f.Add([]byte("version\x001.2.0"))
	f.Add([]byte("direction\x00pipe\x00sender\x00a<1>&\"\\\x00\x01\b\f\n\r\t\x7f\xff\u2028\u2029é"))
	f.Add([]byte("b\x00\x00a\x00x\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parts := bytes.Split(b, []byte{0})
		m := map[string]string{}
		for i := 0; i+1 < len(parts) && len(m) < MaxMetaEntries+2; i += 2 {
			m[string(parts[i])] = string(parts[i+1])
		}
		if len(m) == 0 {
			return
		}
		want := slowMetaJSON(m)
		got, ok := fastMetaJSON(m)
		if len(m) > MaxMetaEntries {
			if ok {
				t.Fatalf("fastMetaJSON took %d entries", len(m))
			}
			return
		}
		if !ok || got != want {
			t.Fatalf("fastMetaJSON(%q) = %q, encoding/json gives %q", m, got, want)
		}
	})
}

// FuzzAppendMetaChecked holds the in-memory store's meta step to what
// normalize and encode do: checkMeta accepts exactly the maps it accepts,
// with the same error for a map with one bad entry, and what it appends
// is appendBytes of encoding/json's stored meta.
func FuzzAppendMetaChecked(f *testing.F) {
	f.Add([]byte("version\x001.2.0"), uint16(0))
	f.Add([]byte("direction\x00pipe\x00sender\x00a<1>&\"\\\x00\x01\b\f\n\r\t\x7f\u2028\u2029é"), uint16(0))
	f.Add([]byte("k\x00\xff"), uint16(0))
	f.Add([]byte("\xff\x00v"), uint16(0))
	f.Add([]byte("long\x00"), uint16(200))
	f.Add([]byte("long\x00"), uint16(MaxMetaValue+1))
	f.Add([]byte("b\x00\x00a\x00x\x00\x00c\x00"), uint16(16390))
	f.Fuzz(func(t *testing.T, b []byte, pad uint16) {
		parts := bytes.Split(b, []byte{0})
		m := map[string]string{}
		for i := 0; i+1 < len(parts) && len(m) < MaxMetaEntries+2; i += 2 {
			m[string(parts[i])] = string(parts[i+1])
		}
		if len(m) > 0 && pad > 0 {
			// One value made long: lengths that take two and three
			// uvarint bytes, and values over MaxMetaValue.
			for k, v := range m {
				m[k] = v + strings.Repeat("\"", int(pad)%(3*MaxMetaValue))
				break
			}
		}
		checkAppendMeta(t, m)
	})
}

// checkAppendMeta compares appendMetaChecked with checkMeta and
// appendBytes(metaJSON) on m.
func checkAppendMeta(t *testing.T, m map[string]string) {
	t.Helper()
	prefix := []byte("prefix")
	got, err := appendMetaChecked(bytes.Clone(prefix), m)
	e := Entry{Meta: m}
	wantErr := checkMeta(&e)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("appendMetaChecked(%q): error %v, checkMeta: %v", m, err, wantErr)
	}
	if err != nil {
		require.ErrorIs(t, err, agentos.ErrInvalid)
		if len(m) == 1 || len(m) > MaxMetaEntries {
			require.EqualError(t, err, wantErr.Error())
		}
		return
	}
	want := prefix
	if len(m) > 0 {
		want = appendBytes(want, slowMetaJSON(m))
	} else {
		want = appendBytes(want, "")
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendMetaChecked(%q) = %q, want %q", m, got, want)
	}
}

func TestAppendMetaChecked(t *testing.T) {
	many := map[string]string{}
	for i := range MaxMetaEntries + 1 {
		many[strconv.Itoa(i)] = "v"
	}
	full := map[string]string{}
	for i := range MaxMetaEntries {
		full[fmt.Sprintf("k%02d", i)] = strings.Repeat("<é>", MaxMetaValue/6)
	}
	for name, m := range map[string]map[string]string{
		"nil":               nil,
		"empty":             {},
		"one":               {"version": "1.2.0"},
		"sorted on bytes":   {"b": "1", "a": "2", "B": "3", "é": "4", "": "5"},
		"escapes":           {"k": "a<1>&\"\\\x00\x01\b\f\n\r\t\x7f\u2028\u2029"},
		"127 bytes":         {"k": strings.Repeat("x", 127-8)},
		"128 bytes":         {"k": strings.Repeat("x", 128-8)},
		"longest value":     {"k": strings.Repeat("\x01", MaxMetaValue)},
		"three-byte length": full,
		"too many":          many,
		"value too long":    {"k": strings.Repeat("x", MaxMetaValue+1)},
		"key too long":      {strings.Repeat("k", MaxMetaKey+1): "v"},
		"bad value":         {"k": "\xff"},
		"bad key":           {"\xff": "v"},
	} {
		t.Run(name, func(t *testing.T) { checkAppendMeta(t, m) })
	}
	// The 128-byte and the full objects need two and three length bytes.
	b, err := appendMetaChecked(nil, full)
	require.NoError(t, err)
	n, w := binary.Uvarint(b)
	require.Equal(t, 3, w)
	require.Equal(t, len(b)-w, int(n))
}

// FuzzMemoryBody checks the decoder of the memory store's entry bodies:
// any bytes decode or are refused without panicking, and what encode
// makes of the fields it decoded is the body again.
func FuzzMemoryBody(f *testing.F) {
	e := Entry{Time: time.Unix(0, 42), Trace: "t", Agent: "a", Kind: KindDecision, Args: []byte(`{"a":1}`),
		Effect: agentos.Deny, Severity: 2, Duration: 7, Detail: "é\x00"}
	fs := fieldsOf(&e)
	f.Add([]byte(bodyOf(&fs)))
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		me := memEntry{body: string(b)}
		got, ok := me.fields()
		if !ok {
			return
		}
		if again := bodyOf(&got); again != me.body {
			t.Fatalf("body %q decodes to fields that encode to %q", me.body, again)
		}
	})
}
