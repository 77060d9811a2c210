package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func TestParseWhen(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "", want: time.Time{}},
		{in: "2026-01-02T15:04:05Z", want: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
		{in: "2026-01-02T15:04:05.5+02:00", want: time.Date(2026, 1, 2, 13, 4, 5, 5e8, time.UTC)},
		{in: "2026-01-02T15:04:05", want: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
		{in: "2026-01-02", want: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{in: "90m", want: testNow.Add(-90 * time.Minute)},
		{in: "1h ago", want: testNow.Add(-time.Hour)},
		{in: " 2h30m ago ", want: testNow.Add(-150 * time.Minute)},
		{in: "7d", want: testNow.Add(-7 * 24 * time.Hour)},
		{in: "1.5d ago", want: testNow.Add(-36 * time.Hour)},
		{in: "0s", want: testNow},
		{in: "yesterday", wantErr: true},
		{in: "-1h", wantErr: true},
		{in: "-2d", wantErr: true},
		{in: "1e9d", wantErr: true},
		{in: "ago", wantErr: true},
		{in: "2026-13-01", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseWhen(tt.in, testNow)
			if tt.wantErr {
				require.Error(t, err)
				require.Contains(t, err.Error(), "want an RFC 3339 time")
				return
			}
			require.NoError(t, err)
			require.True(t, tt.want.Equal(got), "got %v, want %v", got, tt.want)
		})
	}
}

func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"", "2026-01-02", "1h ago", "7d", "1.5d", "90m", "2026-01-02T15:04:05Z", "-1h", "NaNd", "infd", "1e400d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseWhen(s, testNow)
		if err != nil {
			return
		}
		// A relative time is never in the future.
		if d := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "ago")); d != "" {
			if _, perr := time.ParseDuration(d); perr == nil {
				require.False(t, got.After(testNow), "%q gave %v, after now", s, got)
			}
		}
	})
}

func TestBuildFilter(t *testing.T) {
	tests := []struct {
		name    string
		flags   logFlags
		want    recorder.Filter
		wantErr string
	}{
		{name: "none", want: recorder.Filter{}},
		{name: "agent op tool", flags: logFlags{agent: "a", op: "exec", tool: "t", trace: "x", after: 5, limit: 3},
			want: recorder.Filter{Agent: "a", Op: agentos.OpExec, Tool: "t", Trace: "x", After: 5}},
		{name: "effect implies decisions", flags: logFlags{effect: "deny"},
			want: recorder.Filter{Kind: recorder.KindDecision, Effects: []agentos.Effect{agentos.Deny}}},
		{name: "rule and limit are the caller's", flags: logFlags{rule: "r", limit: 4},
			want: recorder.Filter{Kind: recorder.KindDecision}},
		{name: "reverse", flags: logFlags{reverse: true}, want: recorder.Filter{Order: recorder.Descending}},
		{name: "range", flags: logFlags{since: "2026-01-01", until: "2026-01-02"},
			want: recorder.Filter{Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}},
		{name: "bad op", flags: logFlags{op: "fly"}, wantErr: `--op "fly": unknown operation`},
		{name: "bad kind", flags: logFlags{kind: "x"}, wantErr: `--kind "x": unknown kind`},
		{name: "rule with kind", flags: logFlags{rule: "r", kind: "outcome"}, wantErr: "--effect and --rule select decisions"},
		{name: "bad effect", flags: logFlags{effect: "perhaps"}, wantErr: `--effect "perhaps"`},
		{name: "empty range", flags: logFlags{since: "2026-01-02", until: "2026-01-02"}, wantErr: "is not before"},
		{name: "negative limit", flags: logFlags{limit: -1}, wantErr: "--limit -1"},
		{name: "reverse follow", flags: logFlags{reverse: true, follow: true, interval: time.Second}, wantErr: "--reverse cannot"},
		{name: "zero interval", flags: logFlags{follow: true}, wantErr: "--interval 0s"},
		{name: "negative follow-for", flags: logFlags{followFor: -1}, wantErr: "--follow-for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.flags.buildFilter(testNow)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				var xe *exitError
				require.ErrorAs(t, err, &xe)
				require.Equal(t, ExitUsage, xe.code)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestClip(t *testing.T) {
	require.Equal(t, "short", clip("short", 10))
	require.Equal(t, "abcd…", clip("abcdefghij", 5))
	require.Equal(t, "ééé…", clip("éééééé", 4))
	require.Equal(t, "éééé", clip("éééé", 4))
}

// TestEntryWriter checks the table's escaping, widening columns and
// colours, and the empty outputs of each format.
func TestEntryWriter(t *testing.T) {
	en := recorder.Entry{Seq: 7, Time: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Agent: "a-rather-long-agent-name",
		Kind: recorder.KindDecision, Op: agentos.OpExec, Tool: "shell", Effect: agentos.Deny, Rule: "no-shell", Message: "no\tshell\nhere"}
	var out bytes.Buffer
	w := newEntryWriter(&env{stdout: &out, format: "table"})
	w.color = true
	require.NoError(t, w.write(&en))
	require.NoError(t, w.close())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 2)
	require.Regexp(t, `^SEQ +TIME +AGENT +KIND`, lines[0])
	require.Equal(t, "7       2026-01-02T03:04:05.006Z  a-rather-long-agent-name  decision   exec    shell                     \x1b[31mdeny\x1b[0m     no-shell      no\\tshell\\nhere", lines[1])

	for format, want := range map[string]string{"json": "[]\n", "jsonl": "", "table": "SEQ     TIME                      AGENT       KIND       OP      OBJECT                    RESULT   RULE          DETAIL\n"} {
		out.Reset()
		w := newEntryWriter(&env{stdout: &out, format: format})
		require.NoError(t, w.close())
		require.Equal(t, want, out.String(), format)
	}
}
