package emk_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/emk"
)

// Decode never panics, fails only with agentos.ErrInvalid, and whatever it
// accepts is valid and round-trips through MarshalJSON. The seed corpus is
// in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"agent":"a","goal":"g"}`))
	f.Add([]byte(`{"agent":"a","time":"2026-11-01T12:00:00.5+02:00","goal":"deploy","action":"kubectl apply",` +
		`"result":"crashloop","reflection":"pin tags","outcome":"failure","meta":{"env":"prod"},` +
		`"causes":["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],"embedding":[0.1,-2e-3]}`))
	f.Add([]byte(`{"agent":"a","goal":"g","goal":"h"}`))
	f.Add([]byte(`{"agent":"a","goal":"\ud800\u0000<>"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := emk.Decode(data)
		if err != nil {
			if !errors.Is(err, agentos.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		require.NoError(t, e.Validate())
		b, err := e.MarshalJSON()
		require.NoError(t, err)
		require.LessOrEqual(t, len(b), emk.MaxEpisodeSize)
		again, err := emk.Decode(b)
		require.NoError(t, err, "re-decoding %s", b)
		assert.Equal(t, e, again)
		assert.Equal(t, e.ComputeID(), again.ComputeID())
	})
}
