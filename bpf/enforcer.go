package bpf

import (
	"fmt"
	"time"

	"github.com/agent-os/agentos"
)

// programs are attached in this order; connect and sendmsg hooks first,
// the packet backstop last.
var programs = []string{"connect4", "connect6", "sendmsg4", "sendmsg6", "egress_skb"}

// Defaults of Options.
const (
	DefaultEventBuffer    = 1024
	DefaultRingBufferSize = 256 << 10
	maxEventBuffer        = 1 << 20
	maxRingBufferSize     = 256 << 20
)

// Options configure an Enforcer. The zero value (or nil) is the defaults.
type Options struct {
	// EventBuffer bounds the denials waiting in the Events channel
	// (DefaultEventBuffer). A denial that finds it full is dropped and
	// counted (see Enforcer.Dropped).
	EventBuffer int
	// RingBufferSize is the size in bytes of the kernel ring buffer the
	// programs report denials into (DefaultRingBufferSize): a power of two,
	// a multiple of the page size. A denial that finds it full is counted
	// as dropped.
	RingBufferSize int
	// Now is the wall clock events are timed with (time.Now).
	Now func() time.Time
}

func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = DefaultEventBuffer
	}
	if c.RingBufferSize == 0 {
		c.RingBufferSize = DefaultRingBufferSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.EventBuffer < 0 || c.EventBuffer > maxEventBuffer:
		return c, fmt.Errorf("%w: bpf: EventBuffer %d is not between 1 and %d", agentos.ErrInvalid, c.EventBuffer, maxEventBuffer)
	case c.RingBufferSize < 4096 || c.RingBufferSize > maxRingBufferSize || c.RingBufferSize&(c.RingBufferSize-1) != 0:
		return c, fmt.Errorf("%w: bpf: RingBufferSize %d is not a power of two between 4096 and %d", agentos.ErrInvalid, c.RingBufferSize, maxRingBufferSize)
	}
	return c, nil
}
