package recorder_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
	"github.com/stretchr/testify/require"
)

func decision(trace string, status recorder.Status) recorder.Entry {
	return recorder.Entry{Kind: recorder.KindDecision, Trace: trace, Agent: "a", Op: agentos.OpWrite,
		Path: "/mem/working/f", Effect: agentos.Allow, Status: status, PolicyVersion: "v1"}
}

func outcome(trace string) recorder.Entry {
	return recorder.Entry{Kind: recorder.KindOutcome, Trace: trace, Agent: "a", Op: agentos.OpWrite,
		Path: "/mem/working/f", Effect: agentos.Allow, Status: recorder.StatusOK, PolicyVersion: "v1"}
}

// An entry of AppendLater takes its place in the chain at once, is seen by
// every read (which commits it first) and is durable after Close.
func TestAppendLaterOrderAndReads(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t, "later.db")
	r, err := recorder.Open(path, &recorder.Options{FlushInterval: time.Hour})
	require.NoError(t, err)
	s1, err := r.Append(ctx, decision("t1", recorder.StatusPermitted))
	require.NoError(t, err)
	s2, err := r.AppendLater(ctx, outcome("t1"))
	require.NoError(t, err)
	require.Equal(t, s1+1, s2, "in the chain order at once")
	require.Equal(t, s1, r.Anchor().Seq, "not committed yet: no waiting Append, no timer within the hour")

	var kinds []recorder.Kind
	for e, err := range r.Query(ctx, recorder.Filter{Trace: "t1"}) {
		require.NoError(t, err)
		kinds = append(kinds, e.Kind)
	}
	require.Equal(t, []recorder.Kind{recorder.KindDecision, recorder.KindOutcome}, kinds, "a read commits what AppendLater queued")
	require.Equal(t, s2, r.Anchor().Seq)

	// The next waiting Append commits a queued entry with its own.
	s3, err := r.AppendLater(ctx, decision("t2", recorder.StatusDenied))
	require.NoError(t, err)
	s4, err := r.Append(ctx, decision("t3", recorder.StatusPermitted))
	require.NoError(t, err)
	require.Equal(t, s3+1, s4)
	require.Equal(t, s4, r.Anchor().Seq)

	_, err = r.AppendLater(ctx, outcome("t3"))
	require.NoError(t, err)
	require.NoError(t, r.Close(), "Close commits it")
	_, err = r.AppendLater(ctx, outcome("t3"))
	require.ErrorIs(t, err, agentos.ErrClosed)

	ro, err := recorder.Open(path, &recorder.Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	rep, err := ro.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK)
	require.EqualValues(t, 5, rep.Entries)
	require.Zero(t, rep.Unknown.Count, "every permitted decision has its outcome")
}

// With no later Append, the flush timer commits a queued entry within
// about FlushInterval.
func TestAppendLaterTimer(t *testing.T) {
	ctx := t.Context()
	r := mustOpen(t, tempPath(t, "timer.db"), &recorder.Options{FlushInterval: 5 * time.Millisecond})
	seq, err := r.AppendLater(ctx, outcome("t"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.Anchor().Seq == seq }, 5*time.Second, time.Millisecond)
}

// In Buffered mode AppendLater is Append.
func TestAppendLaterBuffered(t *testing.T) {
	ctx := t.Context()
	r := mustOpen(t, "", &recorder.Options{Durability: recorder.Buffered})
	seq, err := r.AppendLater(ctx, outcome("t"))
	require.NoError(t, err)
	require.NoError(t, r.Flush(ctx))
	require.Equal(t, seq, r.Anchor().Seq)
}

// A commit that fails takes the entries AppendLater queued with it: the
// loss is reported once by Flush (or the next Append) and for good by
// Lost, never dropped silently.
func TestAppendLaterLossIsReported(t *testing.T) {
	ctx := t.Context()
	r := mustOpen(t, tempPath(t, "full.db"), &recorder.Options{MaxBytes: 96 << 10, Sync: recorder.SyncNormal,
		FlushInterval: time.Hour})
	big := make([]byte, 0, 8<<10)
	for len(big) < 8<<10 {
		big = append(big, "xxxxxxxx"...)
	}
	var lost bool
	for i := 0; i < 1000 && !lost; i++ {
		trace := fmt.Sprintf("t%d", i)
		d := decision(trace, recorder.StatusPermitted)
		d.Detail = string(big)
		if _, err := r.Append(ctx, d); err != nil {
			require.ErrorIs(t, err, recorder.ErrStorageFull)
			lost = true
			break
		}
		o := outcome(trace)
		o.Detail = string(big)
		_, err := r.AppendLater(ctx, o)
		require.NoError(t, err)
	}
	require.True(t, lost, "the file never filled")
	require.ErrorIs(t, r.Lost(), recorder.ErrLost, "the queued outcome that failed with the decision is a loss")
	require.ErrorIs(t, r.Lost(), recorder.ErrStorageFull)
	var le *recorder.LostError
	require.ErrorAs(t, r.Lost(), &le)
	require.LessOrEqual(t, le.First, le.Last)
	err := r.Flush(ctx)
	require.ErrorIs(t, err, recorder.ErrLost, "Flush reports it once")
	require.NoError(t, r.Flush(ctx))
	require.Error(t, r.Lost(), "Lost keeps it")

	st, err := r.Stats(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Unknown.Count, "the last committed permitted decision lost its outcome")
	require.Equal(t, []uint64{st.Head.Seq}, st.Unknown.Seqs)
}

// Stats and Verify name the permitted decisions with no outcome.
func TestUnknownOutcomes(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t, "unknown.db")
	r := mustOpen(t, path, nil)
	add := func(e recorder.Entry) uint64 {
		seq, err := r.Append(ctx, e)
		require.NoError(t, err)
		return seq
	}
	add(decision("ok", recorder.StatusPermitted))
	add(decision("denied", recorder.StatusDenied))
	lost := add(decision("lost", recorder.StatusPermitted))
	add(outcome("ok"))
	add(recorder.Entry{Kind: recorder.KindSignal, Trace: "lost", Agent: "a", Detail: "SIGSTOP"})
	add(outcome("orphan")) // an outcome without a decision changes nothing
	st, err := r.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, recorder.Unknown{Count: 1, Seqs: []uint64{lost}}, st.Unknown)
	rep, err := r.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "an unknown outcome does not break the chain")
	require.Equal(t, recorder.Unknown{Count: 1, Seqs: []uint64{lost}}, rep.Unknown)

	add(outcome("lost"))
	st, err = r.Stats(ctx)
	require.NoError(t, err)
	require.Zero(t, st.Unknown.Count)
	require.Nil(t, st.Unknown.Seqs)
}
