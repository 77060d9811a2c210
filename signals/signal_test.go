package signals_test

import (
	"testing"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want signals.Signal
		ok   bool
	}{
		{"SIGKILL", signals.SIGKILL, true},
		{"sigkill", signals.SIGKILL, true},
		{"KILL", signals.SIGKILL, true},
		{"kill", signals.SIGKILL, true},
		{"SIGSTOP", signals.SIGSTOP, true},
		{"cont", signals.SIGCONT, true},
		{"SIGINT", signals.SIGINT, true},
		{"SIGTERM", signals.SIGTERM, true},
		{"SIGUSR1", signals.SIGUSR1, true},
		{"usr2", signals.SIGUSR2, true},
		{"SIGPOLICY", signals.SIGPOLICY, true},
		{"SIGTRUST", signals.SIGTRUST, true},
		{"budget", signals.SIGBUDGET, true},
		{"SIGLOOP", signals.SIGLOOP, true},
		{"SigDrift", signals.SIGDRIFT, true},
		{"", 0, false},
		{"SIG", 0, false},
		{"SIGSIGKILL", 0, false},
		{" SIGKILL", 0, false},
		{"SIGKILL ", 0, false},
		{"9", 0, false},
		{"SIGHUP", 0, false},
		{"SIGKİLL", 0, false}, // dotted capital I
		{"SIGKILL\x00", 0, false},
		{"sıgkıll", 0, false}, // dotless i upper-cases to I
		{"ſigkill", 0, false}, // long s upper-cases to S
		{"SIGKILL\u212a", 0, false},
		{"SIGKILLSIGKILLSIGKILL", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := signals.ParseSignal(tt.in)
			if !tt.ok {
				require.ErrorIs(t, err, agentos.ErrInvalid)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSignalNamesRoundTrip(t *testing.T) {
	all := signals.Signals()
	require.Len(t, all, 12)
	for _, s := range all {
		require.True(t, s.Valid())
		b, err := s.MarshalText()
		require.NoError(t, err)
		var back signals.Signal
		require.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, s, back)
		assert.Equal(t, string(b), s.String())
	}
	assert.Equal(t, "Signal(0)", signals.Signal(0).String())
	assert.Equal(t, "Signal(13)", signals.Signal(13).String())
	_, err := signals.Signal(13).MarshalText()
	require.ErrorIs(t, err, agentos.ErrInvalid)
	assert.Equal(t, "terminated", signals.Terminated.String())
	assert.Equal(t, "escalated", signals.ActionEscalated.String())
	assert.Equal(t, "stop", signals.DefaultStop.String())
}

func TestSignalClasses(t *testing.T) {
	for _, s := range signals.Signals() {
		switch s {
		case signals.SIGKILL, signals.SIGPOLICY, signals.SIGTRUST:
			assert.True(t, s.Fatal(), s)
			assert.False(t, s.Catchable(), s)
		case signals.SIGSTOP, signals.SIGCONT:
			assert.False(t, s.Fatal(), s)
			assert.False(t, s.Catchable(), s)
		default:
			assert.False(t, s.Fatal(), s)
			assert.True(t, s.Catchable(), s)
		}
	}
}

func FuzzParseSignal(f *testing.F) {
	for _, s := range signals.Signals() {
		f.Add(s.String())
	}
	f.Add("kill")
	f.Add("")
	f.Add("SIGKİLL")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := signals.ParseSignal(in)
		if err != nil {
			require.ErrorIs(t, err, agentos.ErrInvalid)
			return
		}
		require.True(t, s.Valid())
		again, err := signals.ParseSignal(s.String())
		require.NoError(t, err)
		require.Equal(t, s, again)
	})
}
