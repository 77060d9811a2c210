package kernel

import (
	"context"
	"fmt"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// WithAnchors makes the kernel record into rec, as [WithRecorder] does,
// and publish signed anchors of rec's chain while it runs: p is told of
// every entry the kernel appends and publishes a signed anchor every
// PublisherOptions.Every entries (and every Interval on its own
// goroutine); [Kernel.Close], after flushing rec, publishes the final head
// and returns the error of that publish. p must anchor rec (made with
// recorder.NewPublisher(rec, …)). rec and p belong to the caller: close p,
// then rec, after the kernel.
//
// Give WithAnchors instead of WithRecorder, not with it: New fails when
// WithRecorder comes first, and a WithRecorder given after it replaces the
// recorder and stops the anchors. Anchors are what reveal a truncated tail
// or a recomputed chain later (see package recorder); keep them where
// whoever can write rec's file cannot, for example in a NATS JetStream
// stream (natsbus.AnchorStream).
func WithAnchors(rec *recorder.Recorder, p *recorder.Publisher) Option {
	return func(c *config) error {
		switch {
		case rec == nil || p == nil:
			return fmt.Errorf("kernel: %w: WithAnchors needs a recorder and a publisher", agentos.ErrInvalid)
		case p.Source() != recorder.AnchorSource(rec):
			return fmt.Errorf("kernel: %w: WithAnchors: the publisher anchors another recorder", agentos.ErrInvalid)
		case c.sink != nil:
			return fmt.Errorf("kernel: %w: WithAnchors sets the recorder; do not also give WithRecorder", agentos.ErrInvalid)
		}
		c.sink = &anchoredSink{Recorder: rec, pub: p}
		return nil
	}
}

// anchoredSink is the recorder given to WithAnchors; embedding it keeps
// every optional capability the kernel looks for on a Sink.
type anchoredSink struct {
	*recorder.Recorder
	pub *recorder.Publisher
}

var (
	_ Sink    = (*anchoredSink)(nil)
	_ flusher = (*anchoredSink)(nil)
)

// Append appends e and tells the publisher; called on the syscall's
// goroutine.
func (s *anchoredSink) Append(ctx context.Context, e recorder.Entry) (uint64, error) {
	seq, err := s.Recorder.Append(ctx, e)
	if err == nil {
		s.pub.Appended()
	}
	return seq, err
}

// Flush flushes the recorder and publishes its head.
func (s *anchoredSink) Flush(ctx context.Context) error {
	if err := s.Recorder.Flush(ctx); err != nil {
		return err
	}
	if _, err := s.pub.Publish(ctx); err != nil {
		return fmt.Errorf("kernel: publishing the final anchor: %w", err)
	}
	return nil
}
