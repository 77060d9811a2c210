package mcp

import (
	"time"

	"github.com/agent-os/agentos/atr/scan"
)

// EventKind names what happened to an upstream or one of its tools.
type EventKind string

// Kinds of event.
const (
	// EventApproved: a definition was approved and pinned, by the approval
	// policy or by an operator ([Upstream.Approve]); the tool is callable.
	EventApproved EventKind = "approved"
	// EventQuarantined: a tool was quarantined; Event.Reason says why
	// (ReasonChanged is a rug pull).
	EventQuarantined EventKind = "quarantined"
	// EventRemoved: the upstream no longer lists the tool.
	EventRemoved EventKind = "removed"
	// EventRefreshFailed: a re-listing of the upstream's tools failed;
	// nothing changed, and calls that needed the listing fail.
	EventRefreshFailed EventKind = "refresh-failed"
	// EventUpstreamDown: the session with the upstream ended; every later
	// call fails with [ErrUpstream].
	EventUpstreamDown EventKind = "upstream-down"
)

// Reason says why a tool is quarantined.
type Reason string

// Reasons for quarantine.
const (
	// ReasonFindings: the scan found something at or above the threshold.
	ReasonFindings Reason = "findings"
	// ReasonChanged: the definition differs from its pin (a rug pull).
	ReasonChanged Reason = "changed"
	// ReasonNew: the tool appeared after Connect and the approval policy
	// does not approve tools that appear later.
	ReasonNew Reason = "new"
	// ReasonUnpinned: the approval policy approves only pinned tools.
	ReasonUnpinned Reason = "unpinned"
	// ReasonInvalid: the gateway cannot offer the tool at all (its name is
	// not a valid tool name, its schema does not resolve, it is listed
	// twice); it cannot be approved.
	ReasonInvalid Reason = "invalid"
)

// Event reports a change to an upstream's tools. It is passed to the
// callback of [WithOnEvent] and logged.
type Event struct {
	Kind     EventKind
	Upstream string // the upstream server's name, as it introduced itself
	Tool     string // the gateway's name of the tool; empty for upstream events
	Reason   Reason // for EventQuarantined
	Detail   string // what the reason or error says in words
	Findings []scan.Finding
	// Digest is the definition's digest (see [Digest]); Pinned the digest
	// it was pinned with, for ReasonChanged.
	Digest, Pinned [32]byte
	At             time.Time
}

// Quarantine describes a quarantined tool for an operator.
type Quarantine struct {
	Tool     string // the gateway's name
	Reason   Reason
	Detail   string
	Findings []scan.Finding
	// Description is the definition's description as the upstream lists
	// it: what the operator reviews before [Upstream.Approve].
	Description string
	// Digest identifies the definition; pass it to [Upstream.Approve].
	Digest [32]byte
	Since  time.Time
}
