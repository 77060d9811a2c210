package cli

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeYAMLStrict(t *testing.T) {
	tests := []struct {
		name, src, wantErr string
	}{
		{name: "ok", src: "policy: p.yaml\nstrict: true\n"},
		{name: "unknown field", src: "polcy: p.yaml\n", wantErr: "line 1: unknown field polcy"},
		{name: "wrong type", src: "strict: [1]\n", wantErr: "cannot unmarshal"},
		{name: "two documents", src: "strict: true\n---\nstrict: false\n", wantErr: "more than one YAML document"},
		{name: "empty", src: "", wantErr: "empty document"},
		{name: "unknown tool field", src: "tools: {x: {result: r, colour: red}}\n", wantErr: "unknown field colour"},
		{name: "duration", src: "tools: {x: {command: {path: /bin/true, timeout: 5s}}}\n"},
		{name: "bad duration", src: "tools: {x: {command: {path: /bin/true, timeout: soon}}}\n", wantErr: "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c kernelConfig
			err := decodeYAML([]byte(tt.src), &c)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestScriptCheck(t *testing.T) {
	agents := []scriptAgent{{ID: "a"}}
	tests := []struct {
		name    string
		sc      script
		wantErr string
	}{
		{name: "ok", sc: script{Agents: agents, Steps: []step{{Agent: "a", Op: "read", Path: "/mem/x"}, {Agent: "a", Op: "signal", Signal: "SIGUSR1"}}}},
		{name: "no agents", sc: script{}, wantErr: "no agents"},
		{name: "no id", sc: script{Agents: []scriptAgent{{}}}, wantErr: "agent 1 has no id"},
		{name: "twice", sc: script{Agents: []scriptAgent{{ID: "a"}, {ID: "a"}}}, wantErr: "agent a listed twice"},
		{name: "unknown agent", sc: script{Agents: agents, Steps: []step{{Agent: "b", Op: "read", Path: "/x"}}}, wantErr: `agent "b" is not listed`},
		{name: "unknown op", sc: script{Agents: agents, Steps: []step{{Agent: "a", Op: "fly"}}}, wantErr: `op "fly"`},
		{name: "no path", sc: script{Agents: agents, Steps: []step{{Agent: "a", Op: "write"}}}, wantErr: "op write needs a path"},
		{name: "no tool", sc: script{Agents: agents, Steps: []step{{Agent: "a", Op: "exec"}}}, wantErr: "op exec needs a tool"},
		{name: "bad signal", sc: script{Agents: agents, Steps: []step{{Agent: "a", Op: "signal", Signal: "SIGFOO"}}}, wantErr: `signal "SIGFOO"`},
		{name: "bad expect", sc: script{Agents: agents, Steps: []step{{Agent: "a", Op: "list", Path: "/", Expect: "yes"}}}, wantErr: `expect "yes"`},
		{name: "too many steps", sc: script{Agents: agents, Steps: make([]step, maxSteps+1)}, wantErr: "at most 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.sc.check()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestSignalByName(t *testing.T) {
	s, ok := signalByName("SIGUSR1")
	require.True(t, ok)
	require.Equal(t, "SIGUSR1", s.String())
	_, ok = signalByName("SIGNOPE")
	require.False(t, ok)
}

// FuzzScript decodes and checks arbitrary scripts and kernel configs: an
// error or a valid value, never a panic.
func FuzzScript(f *testing.F) {
	f.Add([]byte("agents: [{id: a}]\nsteps: [{agent: a, op: read, path: /mem/x, expect: allowed}]\n"))
	f.Add([]byte("agents: [{id: a, trust: 0.5, labels: {k: v}}]\nsteps: [{agent: a, op: exec, tool: t, args: {q: [1, {x: y}]}}]\n"))
	f.Add([]byte("policy: p\ntools: {t: {command: {path: /bin/echo, args: ['{x}'], params: [{name: x}]}}}\n"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte("---\n---\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var sc script
		if decodeYAML(b, &sc) == nil {
			_ = sc.check()
		}
		var c kernelConfig
		if decodeYAML(b, &c) == nil {
			_, _ = c.options()
		}
	})
}
