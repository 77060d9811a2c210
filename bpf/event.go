package bpf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// Hook says which program denied.
type Hook uint8

// Hooks, as the programs number them.
const (
	HookConnect4 Hook = 1 // cgroup/connect4: connect() on an IPv4 socket
	HookConnect6 Hook = 2 // cgroup/connect6: connect() on an IPv6 socket
	HookSendmsg4 Hook = 3 // cgroup/sendmsg4: a send from an unconnected IPv4 UDP socket
	HookSendmsg6 Hook = 4 // cgroup/sendmsg6: a send from an unconnected IPv6 UDP socket
	HookPacket   Hook = 5 // cgroup_skb/egress: a packet dropped on its way out
)

func (h Hook) String() string {
	switch h {
	case HookConnect4:
		return "connect4"
	case HookConnect6:
		return "connect6"
	case HookSendmsg4:
		return "sendmsg4"
	case HookSendmsg6:
		return "sendmsg6"
	case HookPacket:
		return "packet"
	}
	return fmt.Sprintf("hook(%d)", uint8(h))
}

// Event is one denial, read from the ring buffer.
type Event struct {
	// Time of the denial (the kernel's monotonic clock, placed on the
	// enforcer's wall clock).
	Time time.Time
	// CgroupID is the id of the cgroup the programs are attached to
	// ([Cgroup.ID] of the Attachment): the key to the owning agent.
	CgroupID uint64
	// TaskCgroupID is the cgroup of the process (or, for HookPacket, of
	// the socket) itself: CgroupID or one of its descendants.
	TaskCgroupID uint64
	// Pid and Tid of the process that tried; 0 for HookPacket, where the
	// packet may be sent outside the context of its process.
	Pid, Tid int
	Comm     string // the thread's name; empty for HookPacket
	// Dest is the destination refused. Its port is 0 for HookPacket
	// drops of non-TCP/UDP packets and of non-first fragments.
	Dest     netip.AddrPort
	Protocol uint8 // IP protocol number: 6 TCP, 17 UDP, …
	Hook     Hook
}

func (e Event) String() string {
	proto := fmt.Sprintf("proto %d", e.Protocol)
	switch e.Protocol {
	case 6:
		proto = "tcp"
	case 17:
		proto = "udp"
	}
	return fmt.Sprintf("egress denied (%s): %s %s from pid %d %q in cgroup %d", e.Hook, proto, e.Dest, e.Pid, e.Comm, e.CgroupID)
}

// eventSize is the size of struct event in egress.c.
const eventSize = 72

// decodeEvent decodes one ring-buffer record. mono is the kernel's
// monotonic clock and now the wall clock, read together.
func decodeEvent(b []byte, mono time.Duration, now time.Time) (Event, error) {
	if len(b) < eventSize {
		return Event{}, fmt.Errorf("bpf: event of %d bytes, want %d", len(b), eventSize)
	}
	ne := binary.NativeEndian
	ts := time.Duration(ne.Uint64(b[0:]))
	var addr [16]byte
	copy(addr[:], b[40:56])
	comm := b[56:72]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	return Event{
		Time:         now.Add(ts - mono),
		CgroupID:     ne.Uint64(b[8:]),
		TaskCgroupID: ne.Uint64(b[16:]),
		Pid:          int(ne.Uint32(b[24:])),
		Tid:          int(ne.Uint32(b[28:])),
		Dest:         netip.AddrPortFrom(netip.AddrFrom16(addr).Unmap(), ne.Uint16(b[32:])),
		Protocol:     b[34],
		Hook:         Hook(b[36]),
		Comm:         string(comm),
	}, nil
}
