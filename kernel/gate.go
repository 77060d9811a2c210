package kernel

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/ipc"
)

// Gate is the [ipc.Gate] of a pipe from one agent of a kernel to another:
// every value that crosses it is an agentos.OpSend syscall of the sending
// agent, gated, decided by policy, recorded, and let through only when
// permitted. Make one with [Agent.Gate] and give it to [ipc.PolicyCheck].
// It is safe for concurrent use.
type Gate struct {
	from *Agent
	to   agentos.AgentID
	// checked is the last payload type that passed checkPayloadType: an
	// ipc.PolicyCheck sends the same one every time.
	checked atomic.Pointer[string]
}

var _ ipc.Gate = (*Gate)(nil)

// Gate returns the gate of a pipe from a to the agent with id to:
//
//	researcher, _ := k.Spawn(ctx, "researcher")
//	summarizer, _ := k.Spawn(ctx, "summarizer")
//	p := ipc.Pipe3(
//		research,  // an ipc.Stage[string, research.Result]
//		ipc.PolicyCheck[research.Result](researcher.Gate("summarizer")), // the governed crossing
//		summarize, // an ipc.Stage[research.Result, string]
//	)
//
// Each crossing is decided as the action {op: "send", agent: a,
// target: to, payloadType: <the crossing's PayloadType>,
// meta: {direction: "pipe"}} with the receiver as policy's peer, so a rule
// can say
//
//	action.op == "send" && action.target == "summarizer" && action.payloadType == "research.Result"
//
// Gate is a method of the sending agent, not of the kernel, because a
// crossing is that agent's syscall, as every other action of an [Agent]
// is: the sender is a live handle, never an id to look up, so a pipe cannot
// name a sender that does not exist. The receiver is named by id, as
// action.target names it, and looked up at each crossing.
func (a *Agent) Gate(to agentos.AgentID) *Gate { return &Gate{from: a, to: to} }

// From returns the sending agent's id.
func (g *Gate) From() agentos.AgentID { return g.from.id }

// To returns the receiving agent's id.
func (g *Gate) To() agentos.AgentID { return g.to }

// Admit decides the crossing of c.Value from the gate's sender to its
// receiver and returns nil when the value may cross. It goes through every
// step of a syscall of the sender (see the package documentation), with
// "execution" being the admission itself, made inside the sender's commit
// section: a value crosses only while the sender is alive.
//
// Errors:
//   - a *agentos.PolicyViolation (errors.Is agentos.ErrDenied) when policy
//     denied the crossing; unless the deciding rule says onDeny: refuse, the
//     sender is killed, as for any denied syscall;
//   - a *agentos.PolicyViolation by rule [RuleReceiver], wrapping
//     [ErrNoReceiver], when the receiver is not a live agent of this kernel
//     (never spawned, killed, reaped): the kernel fails closed without asking
//     policy, and records the refusal; it refuses, it does not kill
//     (unless [WithStrict]). A receiver killed after the decision fails the
//     crossing with an error wrapping ErrNoReceiver;
//   - a *agentos.PolicyViolation by rule [RulePayloadType] when
//     c.PayloadType is empty, longer than [MaxPayloadTypeLen] or not
//     printable UTF-8;
//   - agentos.ErrKilled once the sender is killed; while it is stopped,
//     Admit blocks at the signal gate until SIGCONT (or returns an error
//     wrapping agentos.ErrStopped when ctx ends first);
//   - [ErrShadowed] in shadow mode, for a permitted crossing: the value
//     does not cross;
//   - agentos.ErrClosed, agentos.ErrPanicked, [ErrRecorder] from the kernel.
//
// The receiver's own run state is not consulted: a stopped receiver's
// syscalls block at its own gate.
func (g *Gate) Admit(ctx context.Context, c ipc.Crossing) error {
	a := g.from
	rq := request{
		act: agentos.Action{
			Op:          agentos.OpSend,
			Target:      g.to,
			PayloadType: c.PayloadType,
			Meta:        map[string]string{MetaDirection: DirectionPipe},
		},
		commit: true,
	}
	var peer *Agent
	var ptErr error
	if p := g.checked.Load(); p == nil || *p != c.PayloadType {
		if ptErr = checkPayloadType(c.PayloadType); ptErr == nil {
			g.checked.Store(&c.PayloadType)
		}
	}
	switch err := ptErr; {
	case err != nil:
		rq.act.PayloadType = truncateString(strings.ToValidUTF8(c.PayloadType, "\uFFFD"), MaxPayloadTypeLen)
		rq.pre, rq.preRule = err, RulePayloadType
	case validAgentID(g.to) != nil:
		rq.act.Target = agentos.AgentID(truncateString(strings.ToValidUTF8(string(g.to), "\uFFFD"), MaxAgentIDLen))
		rq.pre, rq.preRule = fmt.Errorf("kernel: agent %q: %w", rq.act.Target, ErrNoReceiver), RuleReceiver
	default:
		if peer = a.k.Agent(g.to); peer == nil || peer.sig.Err() != nil {
			rq.pre, rq.preRule = fmt.Errorf("kernel: agent %q: %w", g.to, ErrNoReceiver), RuleReceiver
		}
	}
	if rq.pre != nil {
		if err := a.sig.Err(); err != nil {
			return err // a killed sender gets ErrKilled, whatever else is wrong
		}
	}
	crossed := false
	rq.run = func(context.Context, *agentos.Action) (any, []byte, error) {
		if peer.sig.Err() != nil {
			return nil, nil, fmt.Errorf("kernel: agent %q was killed: %w", g.to, ErrNoReceiver)
		}
		crossed = true
		return nil, nil, nil
	}
	if _, err := a.syscall(ctx, rq); err != nil {
		return err
	}
	if !crossed {
		return ErrShadowed
	}
	return nil
}
