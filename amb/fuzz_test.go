package amb_test

import (
	"strings"
	"testing"

	"github.com/agent-os/agentos/amb"
)

// FuzzTopic checks topic and pattern validation and matching on arbitrary
// input: no panics, a valid topic matches itself and ">", and a valid
// pattern's own validation is consistent with Match.
func FuzzTopic(f *testing.F) {
	for _, s := range []string{"a", "a.b.c", "a.*", "a.>", ">", "*", "_dlq.a", "a..b", "a b", "$SYS", "ü.x", strings.Repeat("a.", 20)} {
		f.Add(s, "a.b")
	}
	var l amb.Limits
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		pErr := l.ValidatePattern(pattern)
		tErr := l.ValidateTopic(topic)
		m := amb.Match(pattern, topic)
		if tErr == nil {
			if l.ValidatePattern(topic) != nil {
				t.Fatalf("valid topic %q is not a valid pattern", topic)
			}
			if !amb.Match(topic, topic) || !amb.Match(">", topic) {
				t.Fatalf("valid topic %q does not match itself or >", topic)
			}
		}
		if m && pErr == nil && tErr == nil && strings.Count(pattern, ".") > strings.Count(topic, ".") {
			t.Fatalf("pattern %q with more tokens matched %q", pattern, topic)
		}
	})
}

// FuzzHeaders checks header validation: no panics, and an accepted header
// survives the dead-letter builder and SanitizeHeaderValue unchanged.
func FuzzHeaders(f *testing.F) {
	for _, kv := range [][2]string{{"Trace-Id", "abc"}, {"A", "x\r\ny"}, {"Amb-Id", "1"}, {"", ""}, {"a:b", "v"}, {"X", " lead"}, {"X", "\xff"}} {
		f.Add(kv[0], kv[1])
	}
	var l amb.Limits
	f.Fuzz(func(t *testing.T, k, v string) {
		err := l.ValidateHeaders(map[string]string{k: v})
		if err != nil {
			return
		}
		if got := amb.SanitizeHeaderValue(v); len(v) <= 256 && got != v {
			t.Fatalf("sanitize changed a valid value %q to %q", v, got)
		}
		dl := amb.DeadLetter(amb.Message{Topic: "t", Headers: map[string]string{k: v}}, amb.DeadPanic, v+"\n"+k, 1, 1, "s")
		if err := l.ValidateDelivered(dl); err != nil {
			t.Fatalf("dead letter invalid: %v", err)
		}
	})
}
