package recorder_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/recorder/recordertest"
)

// Lost stays set once a Buffered commit failed, whereas Append and Flush
// report the loss once: a caller that acknowledges work on Append's answer
// can tell, at any later time, that it must stop.
func TestLostIsSticky(t *testing.T) {
	ctx := context.Background()
	p := tempPath(t, "full.db")
	r, err := recorder.Open(p, &recorder.Options{Durability: recorder.Buffered, MaxBytes: 96 << 10, BatchSize: 8})
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, recorder.Buffered, r.Durability())
	assert.False(t, r.InMemory())
	assert.Equal(t, 1<<20, r.MaxEntryBytes(), "the default filled in")

	var reported error
	for i := 0; i < 100000 && reported == nil; i++ {
		require.NoError(t, r.Lost(), "nothing lost before the first failure is reported")
		e := recordertest.Sample(i)
		e.Message = string(make([]byte, 300))
		if _, err := r.Append(ctx, e); err != nil {
			reported = err
		} else if i%8 == 7 {
			reported = r.Flush(ctx)
		}
	}
	require.ErrorIs(t, reported, recorder.ErrLost)
	lost := r.Lost()
	require.ErrorIs(t, lost, recorder.ErrLost)
	require.ErrorIs(t, lost, recorder.ErrStorageFull)
	var le *recorder.LostError
	require.ErrorAs(t, lost, &le)
	assert.Positive(t, le.First)

	// The report was consumed; Lost is not.
	_, _ = r.Append(ctx, recordertest.Sample(1))
	_ = r.Flush(ctx)
	assert.Equal(t, lost, r.Lost())
}

func TestLostNeverInWriteAhead(t *testing.T) {
	ctx := context.Background()
	r := mustOpen(t, tempPath(t, "wa.db"), &recorder.Options{MaxBytes: 96 << 10})
	var failed error
	for i := 0; i < 100000 && failed == nil; i++ {
		e := recordertest.Sample(i)
		e.Message = string(make([]byte, 300))
		_, failed = r.Append(ctx, e)
	}
	require.ErrorIs(t, failed, recorder.ErrStorageFull, "the append itself failed: nothing acknowledged was lost")
	assert.NoError(t, r.Lost())

	m := mustOpen(t, "", nil)
	assert.True(t, m.InMemory())
	assert.Equal(t, recorder.WriteAhead, m.Durability())
}
