package signals

import (
	"fmt"
	"strings"
)

// Signal is a signal sent to an agent. The zero value is not a signal.
//
// The numbering follows the original agent-os control plane and is part of
// the recorded format: never renumber.
type Signal uint8

// The signal set.
const (
	SIGSTOP   Signal = 1  // pause: syscalls block at the gate until SIGCONT; cannot be caught or masked
	SIGCONT   Signal = 2  // resume a stopped agent; cannot be caught or masked
	SIGINT    Signal = 3  // interrupt the syscalls in flight; later syscalls proceed
	SIGKILL   Signal = 4  // terminate at once; cannot be caught, masked or undone
	SIGTERM   Signal = 5  // graceful termination: the handler runs, then the agent is terminated
	SIGUSR1   Signal = 6  // take a diagnostic snapshot (WithSnapshot)
	SIGUSR2   Signal = 7  // take a checkpoint (WithCheckpoint)
	SIGPOLICY Signal = 8  // policy violation: escalates to SIGKILL; cannot be caught or masked
	SIGTRUST  Signal = 9  // trust breach: escalates to SIGKILL; cannot be caught or masked
	SIGBUDGET Signal = 10 // budget exhausted: pauses like SIGSTOP unless handled
	SIGLOOP   Signal = 11 // loop detected: default action set by WithDefaultAction (stop)
	SIGDRIFT  Signal = 12 // drift detected: default action set by WithDefaultAction (ignore)
)

const numSignals = 12

var signalNames = [numSignals + 1]string{
	SIGSTOP:   "SIGSTOP",
	SIGCONT:   "SIGCONT",
	SIGINT:    "SIGINT",
	SIGKILL:   "SIGKILL",
	SIGTERM:   "SIGTERM",
	SIGUSR1:   "SIGUSR1",
	SIGUSR2:   "SIGUSR2",
	SIGPOLICY: "SIGPOLICY",
	SIGTRUST:  "SIGTRUST",
	SIGBUDGET: "SIGBUDGET",
	SIGLOOP:   "SIGLOOP",
	SIGDRIFT:  "SIGDRIFT",
}

// Signals lists every signal in numeric order.
func Signals() []Signal {
	out := make([]Signal, 0, numSignals)
	for s := Signal(1); s <= numSignals; s++ {
		out = append(out, s)
	}
	return out
}

// Valid reports whether s is one of the defined signals.
func (s Signal) Valid() bool { return s >= 1 && s <= numSignals }

// String returns the signal's name, such as "SIGKILL", or "Signal(N)" for
// an undefined value.
func (s Signal) String() string {
	if s.Valid() {
		return signalNames[s]
	}
	return fmt.Sprintf("Signal(%d)", uint8(s))
}

// Fatal reports whether s terminates the agent unconditionally: SIGKILL,
// and SIGPOLICY and SIGTRUST, which escalate to it.
func (s Signal) Fatal() bool { return s == SIGKILL || s == SIGPOLICY || s == SIGTRUST }

// Catchable reports whether a handler may be installed for s and whether s
// may be masked. SIGKILL, SIGPOLICY, SIGTRUST, SIGSTOP and SIGCONT are not
// catchable, as in POSIX for SIGKILL and SIGSTOP; SIGCONT always resumes.
func (s Signal) Catchable() bool {
	switch s {
	case SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGBUDGET, SIGLOOP, SIGDRIFT:
		return true
	}
	return false
}

// MarshalText encodes s as its name.
func (s Signal) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("signals: %w: %s", errInvalid, s)
	}
	return []byte(signalNames[s]), nil
}

// UnmarshalText decodes a name accepted by ParseSignal.
func (s *Signal) UnmarshalText(b []byte) error {
	v, err := ParseSignal(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// maxNameLen bounds the input ParseSignal looks at.
const maxNameLen = 16

// ParseSignal parses a signal name: "SIGKILL", "KILL", "sigkill" and "kill"
// all name SIGKILL. Surrounding spaces are not accepted. The error wraps
// agentos.ErrInvalid.
func ParseSignal(name string) (Signal, error) {
	if len(name) == 0 || len(name) > maxNameLen {
		return 0, fmt.Errorf("signals: %w: unknown signal %q", errInvalid, truncate(name))
	}
	// ASCII only: strings.ToUpper would map look-alikes such as "ı" and
	// "ſ" onto "I" and "S".
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return 0, fmt.Errorf("signals: %w: unknown signal %q", errInvalid, truncate(name))
		}
	}
	up := strings.ToUpper(name)
	if !strings.HasPrefix(up, "SIG") {
		up = "SIG" + up
	}
	for s := Signal(1); s <= numSignals; s++ {
		if signalNames[s] == up {
			return s, nil
		}
	}
	return 0, fmt.Errorf("signals: %w: unknown signal %q", errInvalid, truncate(name))
}

func truncate(s string) string {
	if len(s) > 2*maxNameLen {
		return s[:2*maxNameLen] + "…"
	}
	return s
}

// State is the run state of an agent.
type State uint8

// The states. Terminated is final.
const (
	Running State = iota
	Stopped
	Terminated
)

func (s State) String() string {
	switch s {
	case Running:
		return "running"
	case Stopped:
		return "stopped"
	case Terminated:
		return "terminated"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Action says what the dispatcher did with a signal; it is recorded in each
// Event.
type Action uint8

// The actions.
const (
	// ActionDefault: the signal's default action was applied (stop,
	// continue, interrupt, terminate, or the snapshot/checkpoint hook).
	ActionDefault Action = iota + 1
	// ActionHandled: the installed handler ran and returned nil.
	ActionHandled
	// ActionPending: the signal is masked and was queued.
	ActionPending
	// ActionCoalesced: the signal is masked and already pending; this
	// occurrence was merged into the pending one (as POSIX does).
	ActionCoalesced
	// ActionIgnored: the signal had no effect (SIGCONT while running, a
	// signal to a terminated agent, a default action of ignore, a hook
	// that is not configured).
	ActionIgnored
	// ActionEscalated: SIGPOLICY or SIGTRUST was turned into SIGKILL.
	ActionEscalated
)

func (a Action) String() string {
	switch a {
	case ActionDefault:
		return "default"
	case ActionHandled:
		return "handled"
	case ActionPending:
		return "pending"
	case ActionCoalesced:
		return "coalesced"
	case ActionIgnored:
		return "ignored"
	case ActionEscalated:
		return "escalated"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// DefaultAction is the default disposition of SIGLOOP and SIGDRIFT when no
// handler handles them.
type DefaultAction uint8

// The default actions.
const (
	DefaultIgnore    DefaultAction = iota // record the signal, change nothing
	DefaultStop                           // stop the agent, as SIGSTOP
	DefaultTerminate                      // terminate the agent, as SIGTERM without handler
)

func (a DefaultAction) String() string {
	switch a {
	case DefaultIgnore:
		return "ignore"
	case DefaultStop:
		return "stop"
	case DefaultTerminate:
		return "terminate"
	}
	return fmt.Sprintf("DefaultAction(%d)", uint8(a))
}
