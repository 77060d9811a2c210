package mcp

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/atr/scan"
	"github.com/agent-os/agentos/kernel"
	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Approval says which definitions the gateway approves (and pins) without
// an operator. Whatever the policy, a definition with findings at or above
// the threshold, and one that differs from its pin, is quarantined.
type Approval int

// Approval policies.
const (
	// ApproveAtConnect, the default, trusts on first use: clean tools
	// listed when [Connect] runs are approved and pinned; tools that appear
	// later are quarantined until an operator approves them.
	ApproveAtConnect Approval = iota
	// ApproveClean approves clean tools whenever they appear.
	ApproveClean
	// ApproveNone approves nothing: only tools already pinned (by an
	// operator, in a loaded pin file) are callable.
	ApproveNone
)

// Defaults of the options.
const (
	DefaultCallTimeout = 30 * time.Second
	DefaultListTimeout = 10 * time.Second
	DefaultRecheck     = time.Minute
	DefaultMaxTools    = 256
	MaxErrorText       = 4096
	maxPrefixLen       = 32
)

// An Option configures [Connect]. Options that can fail make Connect
// return their error.
type Option func(*config) error

type config struct {
	prefix      string
	name        string
	pins        *Pins
	threshold   scan.Severity
	scanner     *scan.Scanner
	approval    Approval
	known       []string
	callTimeout time.Duration
	listTimeout time.Duration
	recheck     time.Duration
	maxTools    int
	onEvent     func(Event)
	kernel      *kernel.Kernel
	log         *slog.Logger
	now         func() time.Time
	sideEffect  func(*mcpsdk.Tool) atr.SideEffect
}

func defaults() config {
	return config{
		threshold:   scan.SeverityHigh,
		scanner:     scan.New(nil),
		callTimeout: DefaultCallTimeout,
		listTimeout: DefaultListTimeout,
		recheck:     DefaultRecheck,
		maxTools:    DefaultMaxTools,
		log:         slog.New(slog.DiscardHandler),
		now:         time.Now,
		sideEffect:  func(*mcpsdk.Tool) atr.SideEffect { return atr.Network },
	}
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("mcp: %w: %s", agentos.ErrInvalid, fmt.Sprintf(format, a...))
}

// WithPrefix names the upstream's tools prefix+name in the gateway, so
// that "create_issue" of a server connected with prefix "github." is the
// kernel tool "github.create_issue". The prefix is at most 32 bytes of
// ASCII letters, digits, '_', '-' and '.'.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		if !prefixChars(prefix) {
			return invalid("prefix %q: at most %d bytes of letters, digits, '_', '-' and '.'", prefix, maxPrefixLen)
		}
		c.prefix = prefix
		return nil
	}
}

// WithName names the upstream for policy: its tools are tagged
// "mcp.upstream:NAME" in the registry, which a rule reads in tool.tags.
// The default is the prefix without its trailing '.' ("github." gives
// "github"); with neither, the tools carry only the tag "mcp". The name is
// the host's, never the one the server introduces itself with, which the
// server chooses and could use to pass for another. Same characters as a
// prefix, at most 32 bytes.
func WithName(name string) Option {
	return func(c *config) error {
		if name == "" || !prefixChars(name) {
			return invalid("upstream name %q: 1 to %d bytes of letters, digits, '_', '-' and '.'", name, maxPrefixLen)
		}
		c.name = name
		return nil
	}
}

func prefixChars(s string) bool {
	return len(s) <= maxPrefixLen && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
	}) < 0
}

// WithPins makes the gateway check and record approvals in p, which may be
// loaded from a file an operator edits and shared by several upstreams.
// Without it the gateway uses an empty store of its own.
func WithPins(p *Pins) Option {
	return func(c *config) error {
		if p == nil {
			return invalid("nil pins")
		}
		c.pins = p
		return nil
	}
}

// WithThreshold quarantines tools with a finding at or above s; the
// default is scan.SeverityHigh.
func WithThreshold(s scan.Severity) Option {
	return func(c *config) error {
		if s < scan.SeverityLow || s > scan.SeverityCritical {
			return invalid("threshold %v", s)
		}
		c.threshold = s
		return nil
	}
}

// WithScanner scans definitions with s instead of a scanner with the
// default options.
func WithScanner(s *scan.Scanner) Option {
	return func(c *config) error {
		if s == nil {
			return invalid("nil scanner")
		}
		c.scanner = s
		return nil
	}
}

// WithApproval sets the approval policy; the default is
// [ApproveAtConnect].
func WithApproval(a Approval) Option {
	return func(c *config) error {
		if a < ApproveAtConnect || a > ApproveNone {
			return invalid("approval policy %d", a)
		}
		c.approval = a
		return nil
	}
}

// WithKnownTools gives the names of tools the agent already has (other
// servers' tools, the kernel's own): an upstream tool whose name imitates
// one of them is reported (see scan.Shadowing), and quarantined when the
// finding reaches the threshold.
func WithKnownTools(names ...string) Option {
	return func(c *config) error {
		c.known = append(c.known, names...)
		return nil
	}
}

// WithCallTimeout bounds each call to the upstream (default
// [DefaultCallTimeout]); the caller's context still applies.
func WithCallTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("call timeout %v", d)
		}
		c.callTimeout = d
		return nil
	}
}

// WithListTimeout bounds each listing of the upstream's tools (default
// [DefaultListTimeout]).
func WithListTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("list timeout %v", d)
		}
		c.listTimeout = d
		return nil
	}
}

// WithRecheck sets how stale the gateway's view of the upstream's tools
// may be when a call starts. The gateway re-lists the tools whenever the
// upstream sends notifications/tools/list_changed; besides, a call that
// starts more than d after the last listing re-lists first, which costs one
// tools/list round trip per d (plus scanning any definition that changed),
// and catches a server that changes its tools without notifying. d == 0
// re-lists before every call (one extra round trip per call); d < 0
// re-lists only on notifications. The default is [DefaultRecheck].
func WithRecheck(d time.Duration) Option {
	return func(c *config) error { c.recheck = d; return nil }
}

// WithMaxTools bounds the tools one upstream may list (default
// [DefaultMaxTools]); a listing past it fails.
func WithMaxTools(n int) Option {
	return func(c *config) error {
		if n <= 0 || n > atr.MaxTools {
			return invalid("max tools %d", n)
		}
		c.maxTools = n
		return nil
	}
}

// WithOnEvent calls fn for every [Event], on the goroutine that detected
// it: Connect's, a caller's, or the gateway's listing goroutine after a
// list_changed notification. fn must not block for long and must not call
// the Upstream's methods that list (Refresh); Quarantined and Approve are
// safe.
func WithOnEvent(fn func(Event)) Option {
	return func(c *config) error { c.onEvent = fn; return nil }
}

// WithKernel records every event in k's flight recorder
// ([kernel.Kernel.RecordEvent]): quarantines, approvals, removals and
// upstream failures become lifecycle entries of the trail, a quarantine at
// high severity, so an auditor finds a rug pull where the calls are.
func WithKernel(k *kernel.Kernel) Option {
	return func(c *config) error {
		if k == nil {
			return invalid("nil kernel")
		}
		c.kernel = k
		return nil
	}
}

// WithLogger logs events and failures to l (quarantines at Warn).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return invalid("nil logger")
		}
		c.log = l
		return nil
	}
}

// WithClock makes the gateway read the time from now: the recheck interval,
// pins' approval times and events' times.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return invalid("nil clock")
		}
		c.now = now
		return nil
	}
}

// WithSideEffect classifies the upstream's tools for the registry (and so
// for policy); the default classifies every one as atr.Network, since its
// effect happens on another machine, whatever the upstream's annotations
// (hints from an untrusted server) claim.
func WithSideEffect(fn func(*mcpsdk.Tool) atr.SideEffect) Option {
	return func(c *config) error {
		if fn == nil {
			return invalid("nil side-effect classifier")
		}
		c.sideEffect = fn
		return nil
	}
}
