package iatp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A peer whose manifest has expired is still listed by Lookup, but the
// score it carries fails closed as Score does, and so does its verdict
// label.
func TestLookupExpiredScoresZero(t *testing.T) {
	w := newWorld(t, 1)
	id := w.ids[0].ID()
	p, ok := w.reg.Lookup(id)
	require.True(t, ok)
	require.Positive(t, p.Score.Total)
	require.Equal(t, "allow", p.Labels()["iatp.verdict"])

	w.clk.Advance(p.Manifest.Expires.Sub(w.clk.Now()))
	_, err := w.reg.Score(id)
	require.ErrorIs(t, err, ErrExpired)
	p, ok = w.reg.Lookup(id)
	require.True(t, ok)
	require.Zero(t, p.Score.Total)
	require.Equal(t, Refuse, p.Score.Verdict)
	require.Equal(t, "refuse", p.Labels()["iatp.verdict"])
}
