package iatp

import (
	"math"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/require"
)

func TestScoreManifest(t *testing.T) {
	type pr = Privacy
	cases := []struct {
		name  string
		level TrustLevel
		rev   ReversibilityLevel
		priv  Privacy
		base  float64
		want  float64
		v     Verdict
	}{
		{"verified partner, plain", VerifiedPartner, ReversibleNone, pr{Retention: RetentionSession}, 10, 10, Allow},
		{"verified partner clamps at 10", VerifiedPartner, ReversibleFull, pr{Retention: RetentionEphemeral}, 10, 10, Allow},
		{"trusted", Trusted, ReversibleNone, pr{Retention: RetentionSession}, 7, 7, Allow},
		{"trusted, permanent", Trusted, ReversibleNone, pr{Retention: RetentionPermanent}, 7, 6, Warn},
		{"trusted, reversible partial", Trusted, ReversiblePartial, pr{Retention: RetentionSession}, 7, 9, Allow},
		{"standard", Standard, ReversibleNone, pr{Retention: RetentionSession}, 5, 5, Warn},
		{"standard, reversible, ephemeral", Standard, ReversibleFull, pr{Retention: RetentionEphemeral}, 5, 8, Allow},
		{"standard, human in loop", Standard, ReversibleNone, pr{Retention: RetentionSession, HumanInLoop: true}, 5, 3, Warn},
		{"standard, everything bad", Standard, ReversibleNone, pr{Retention: RetentionPermanent, HumanInLoop: true, TrainingConsent: true}, 5, 1, Refuse},
		{"unknown", Unknown, ReversibleNone, pr{Retention: RetentionSession}, 2, 2, Refuse},
		{"unknown, reversible, ephemeral", Unknown, ReversibleFull, pr{Retention: RetentionEphemeral}, 2, 5, Warn},
		{"untrusted clamps at 0", Untrusted, ReversibleNone, pr{Retention: RetentionPermanent, TrainingConsent: true}, 0, 0, Refuse},
		{"untrusted, all good", Untrusted, ReversibleFull, pr{Retention: RetentionEphemeral}, 0, 3, Warn},
		{"training consent", Trusted, ReversibleNone, pr{Retention: RetentionSession, TrainingConsent: true}, 7, 6, Warn},
		{"invalid level scores 0", "admin", ReversibleNone, pr{Retention: RetentionSession}, 0, 0, Refuse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := ScoreManifest(Manifest{TrustLevel: tc.level, Reversibility: Reversibility{Level: tc.rev}, Privacy: tc.priv})
			require.Equal(t, tc.base, s.Base)
			require.Equal(t, tc.want, s.Manifest)
			require.Equal(t, tc.want, s.Total)
			require.Zero(t, s.Reputation)
			require.Equal(t, tc.v, s.Verdict)
		})
	}
}

func TestVerdictBoundaries(t *testing.T) {
	for _, tc := range []struct {
		total float64
		want  Verdict
	}{
		{-1, Refuse}, {0, Refuse}, {2.9, Refuse}, {math.Nextafter(3, 0), Refuse}, {3, Warn}, {6, Warn},
		{6.99, Warn}, {math.Nextafter(7, 0), Warn}, {7, Allow}, {10, Allow}, {math.NaN(), Refuse},
	} {
		require.Equal(t, tc.want, VerdictOf(tc.total), "%v", tc.total)
	}
	// Through the reputation path: a standard peer (5) moved to 2.9, 3, 6 and 7.
	s := ScoreManifest(Manifest{TrustLevel: Standard, Reversibility: Reversibility{Level: ReversibleNone}, Privacy: Privacy{Retention: RetentionSession}})
	require.Equal(t, Refuse, s.withReputation(-2.1).Verdict)
	require.Equal(t, Warn, s.withReputation(-2).Verdict)
	require.Equal(t, Warn, s.withReputation(1).Verdict)
	require.Equal(t, Allow, s.withReputation(2).Verdict)
	require.Equal(t, 0.0, s.withReputation(-10).Total)
	require.Equal(t, 10.0, s.withReputation(8).Total)
	var zero Verdict
	require.Equal(t, Refuse, zero, "the zero verdict fails closed")
}

func TestVerdictText(t *testing.T) {
	for _, v := range []Verdict{Allow, Warn, Refuse} {
		b, err := v.MarshalText()
		require.NoError(t, err)
		var back Verdict
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, v, back)
	}
	_, err := Verdict(7).MarshalText()
	require.ErrorIs(t, err, agentos.ErrInvalid)
	var v Verdict
	require.ErrorIs(t, v.UnmarshalText([]byte("Allow")), agentos.ErrInvalid)
	require.Equal(t, "refuse", Verdict(7).String())
	require.Equal(t, "violation", Violation.String())
	require.Equal(t, "EventKind(9)", EventKind(9).String())
}

func TestReputationDecay(t *testing.T) {
	w := newWorld(t, 1, WithHalfLife(time.Hour))
	id := w.ids[0].ID()
	s, err := w.reg.Score(id)
	require.NoError(t, err)
	require.Equal(t, 9.0, s.Total) // trusted 7 + reversible 2

	s, err = w.reg.Report(id, Event{Kind: Violation})
	require.NoError(t, err)
	require.InDelta(t, -2, s.Reputation, 1e-12)
	require.InDelta(t, 7, s.Total, 1e-12)
	require.Equal(t, Allow, s.Verdict)

	s, err = w.reg.Report(id, Event{Kind: Violation, Weight: 1.5})
	require.NoError(t, err)
	require.InDelta(t, -5, s.Reputation, 1e-12)
	require.Equal(t, Warn, s.Verdict)

	w.clk.Advance(time.Hour) // one half-life
	s, err = w.reg.Score(id)
	require.NoError(t, err)
	require.InDelta(t, -2.5, s.Reputation, 1e-12)
	require.InDelta(t, 6.5, s.Total, 1e-12)

	w.clk.Advance(2 * time.Hour) // three half-lives in all
	s, err = w.reg.Score(id)
	require.NoError(t, err)
	require.InDelta(t, -5.0/8, s.Reputation, 1e-12)

	// Events after decay add to the decayed value.
	s, err = w.reg.Report(id, Event{Kind: Failure})
	require.NoError(t, err)
	require.InDelta(t, -5.0/8-0.5, s.Reputation, 1e-12)

	// Bounds: good behaviour lifts by at most MaxReputation, bad sinks to MinReputation.
	for range 100 {
		s, err = w.reg.Report(id, Event{Kind: Success})
		require.NoError(t, err)
	}
	require.Equal(t, MaxReputation, s.Reputation)
	require.Equal(t, 10.0, s.Total)
	s, err = w.reg.Report(id, Event{Kind: Violation, Weight: MaxEventWeight})
	require.NoError(t, err)
	require.Equal(t, MinReputation, s.Reputation)
	require.Equal(t, 0.0, s.Total)
	require.Equal(t, Refuse, s.Verdict)

	// A clock that goes back does not amplify the reputation.
	w.clk.Advance(-10 * time.Hour)
	s, err = w.reg.Score(id)
	require.NoError(t, err)
	require.Equal(t, MinReputation, s.Reputation)

	for _, bad := range []Event{{Kind: 0}, {Kind: 4}, {Kind: Success, Weight: -1}, {Kind: Success, Weight: math.NaN()},
		{Kind: Success, Weight: math.Inf(1)}, {Kind: Success, Weight: MaxEventWeight + 1}} {
		_, err := w.reg.Report(id, bad)
		require.ErrorIs(t, err, ErrMalformed, "%+v", bad)
	}
	_, err = w.reg.Report("did:mesh:00000000000000000000000000000000", Event{Kind: Success})
	require.ErrorIs(t, err, ErrUnknownPeer)
}
