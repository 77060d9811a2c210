package recorder_test

import (
	"testing"

	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/recorder/recordertest"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	t.Run("WriteAhead", func(t *testing.T) {
		recordertest.Test(t, fileFactory(recorder.Options{}))
	})
	t.Run("Buffered", func(t *testing.T) {
		recordertest.Test(t, fileFactory(recorder.Options{Durability: recorder.Buffered}))
	})
	t.Run("Memory", func(t *testing.T) {
		recordertest.Test(t, func(t *testing.T) (recordertest.Recorder, recordertest.Tamperer) {
			r, err := recorder.Open("", nil)
			require.NoError(t, err)
			return r, recorder.NewMemTamperer(r)
		})
	})
	t.Run("MemoryBuffered", func(t *testing.T) {
		recordertest.Test(t, func(t *testing.T) (recordertest.Recorder, recordertest.Tamperer) {
			r, err := recorder.Open("", &recorder.Options{Durability: recorder.Buffered})
			require.NoError(t, err)
			return r, recorder.NewMemTamperer(r)
		})
	})
	t.Run("SQLiteMemory", func(t *testing.T) {
		recordertest.Test(t, func(t *testing.T) (recordertest.Recorder, recordertest.Tamperer) {
			r, err := recorder.OpenSQLiteMemory(nil)
			require.NoError(t, err)
			return r, nil
		})
	})
}
