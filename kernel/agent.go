package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/iatp"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
	"github.com/agent-os/agentos/vfs"
)

// Agent is one governed agent: its syscalls go through the kernel that
// spawned it. Every method is safe for concurrent use. A killed agent's
// syscalls fail with an error matching agentos.ErrKilled.
//
// Errors of the syscall methods: a *agentos.PolicyViolation (errors.Is
// agentos.ErrDenied) when policy or the kernel did not permit the action;
// agentos.ErrKilled once the agent is killed; agentos.ErrStopped (with the
// context's cause) when ctx ends while the agent is stopped;
// agentos.ErrClosed and agentos.ErrPanicked from the kernel; an error
// wrapping [ErrRecorder] when the flight recorder failed; otherwise the
// operation's own error (a *fs.PathError from the VFS, the tool's error).
type Agent struct {
	k       *Kernel
	id      agentos.AgentID
	subject policy.Subject // immutable after Spawn
	sig     *signals.Dispatcher
	ns      *vfs.FS
	box     agentBox       // its command tools' cgroup (sandbox.go)
	ident   *iatp.Identity // WithIdentity; nil without
	hs      handshaker     // its iatp handshaker, made on first use
}

func (k *Kernel) newAgent(id agentos.AgentID, ac agentConfig) (*Agent, error) {
	a := &Agent{
		k:     k,
		id:    id,
		ident: ac.identity,
		subject: policy.Subject{
			ID:     string(id),
			Role:   ac.role,
			Trust:  ac.trust,
			Labels: maps.Clone(ac.labels),
		},
	}
	nsOpts := []vfs.Option{vfs.WithClock(k.now), vfs.WithBudget(k.budget)}
	if q := ac.quota; q != nil {
		nsOpts = append(nsOpts, vfs.WithQuota(*q))
	} else if k.quota != nil {
		nsOpts = append(nsOpts, vfs.WithQuota(*k.quota))
	}
	nsOpts = append(nsOpts, k.memoryOptions(a)...)
	ns, err := vfs.NewAgentFS(k.policyMount, nsOpts...)
	if err != nil {
		return nil, fmt.Errorf("kernel: agent %q namespace: %w", id, err)
	}
	a.ns = ns
	if err := k.mountMemory(context.Background(), a); err != nil {
		return nil, fmt.Errorf("kernel: agent %q namespace: %w", id, err)
	}
	a.sig, err = signals.New(id,
		signals.WithClock(k.now),
		signals.WithObserver(a.observe),
		signals.WithSnapshot(a.snapshotHook),
		signals.WithCheckpoint(a.checkpointHook),
	)
	if err != nil {
		return nil, fmt.Errorf("kernel: agent %q signals: %w", id, err)
	}
	return a, nil
}

// ID returns the agent's id.
func (a *Agent) ID() agentos.AgentID { return a.id }

// Role returns the role the agent was spawned with.
func (a *Agent) Role() string { return a.subject.Role }

// Trust returns the agent's trust as policy sees it now (agent.trust): the
// score it was spawned with, or, for an agent with an identity the kernel's
// iatp registry holds, its current registry score / 10.
func (a *Agent) Trust() float64 { return a.subjectNow().Trust }

// Labels returns a copy of the agent's labels.
func (a *Agent) Labels() map[string]string { return maps.Clone(a.subject.Labels) }

// State returns the agent's run state: running, stopped or terminated.
func (a *Agent) State() signals.State { return a.sig.State() }

// Done returns a channel that is closed when the agent is killed
// (terminated). Killing is final.
func (a *Agent) Done() <-chan struct{} { return a.sig.Done() }

// Err returns nil while the agent lives, then the cause of its termination:
// a *signals.SignalError naming the signal, matching agentos.ErrKilled.
func (a *Agent) Err() error { return a.sig.Err() }

// Signal is the agent's signal syscall: it asks to send sig to the agent
// itself, and returns once the signal took effect. It is governed like
// every other syscall: policy sees op "signal" with action.target the
// agent's own id and action.meta.signal the signal's name ("SIGSTOP"…); it
// waits at the signal gate while the agent is stopped, so a stopped agent
// can never resume itself; the decision and the outcome are recorded, and
// the signal event too. reason is recorded with the signal.
//
// The target is always the agent itself: an agent cannot signal another
// agent. An undefined signal is refused by rule [RuleSignal].
//
// The [Baseline] policy denies it, by its default effect, so under the
// baseline an agent that signals itself is denied and, as for any denial
// whose rule does not say onDeny: refuse, killed. A policy lets an agent
// signal itself with a rule such as
//
//	when: action.op == "signal" && action.meta.signal == "SIGUSR1"
//
// The host signals agents with [Kernel.Signal], which policy does not
// decide.
func (a *Agent) Signal(ctx context.Context, sig signals.Signal, reason string) error {
	rq := request{
		act: agentos.Action{
			Op:     agentos.OpSignal,
			Target: a.id,
			Meta:   map[string]string{"signal": sig.String()},
		},
		run: func(ctx context.Context, _ *agentos.Action) (any, []byte, error) {
			// Not inside Commit: a fatal signal's Send waits for the
			// commits that are running.
			return nil, []byte(sig.String()), a.sig.Send(ctx, sig, reason)
		},
	}
	if !sig.Valid() {
		rq.pre, rq.preRule = fmt.Errorf("kernel: %w: undefined signal %s", agentos.ErrInvalid, sig), RuleSignal
	}
	_, err := a.syscall(ctx, rq)
	return err
}

// Handle installs h as the agent's handler for sig, replacing any earlier
// one; a nil h restores the default action (see signals.Dispatcher.Handle).
// An agent may handle only the signals a process handles for itself:
// SIGINT, SIGTERM, SIGUSR1 and SIGUSR2. The governance signals — SIGKILL,
// SIGPOLICY, SIGTRUST, SIGSTOP, SIGCONT, and SIGBUDGET, SIGLOOP and SIGDRIFT,
// whose default actions pause or end the agent — are refused with an error
// wrapping agentos.ErrInvalid, so agent code cannot opt out of them; the
// host installs handlers for those through [Kernel.SignalDispatcher]. A
// handler runs on the goroutine that sent the signal.
func (a *Agent) Handle(sig signals.Signal, h signals.Handler) error {
	if err := agentMay(sig, "handle"); err != nil {
		return err
	}
	return a.sig.Handle(sig, h)
}

// Mask blocks delivery of the agent's own maskable signals (SIGINT,
// SIGTERM, SIGUSR1, SIGUSR2): while masked they are queued (see
// signals.Dispatcher.Mask). The governance signals listed at [Agent.Handle]
// cannot be masked by the agent.
func (a *Agent) Mask(sigs ...signals.Signal) error {
	for _, sig := range sigs {
		if err := agentMay(sig, "mask"); err != nil {
			return err
		}
	}
	return a.sig.Mask(sigs...)
}

// agentMay reports whether agent code may handle or mask sig itself.
func agentMay(sig signals.Signal, what string) error {
	switch sig {
	case signals.SIGINT, signals.SIGTERM, signals.SIGUSR1, signals.SIGUSR2:
		return nil
	}
	return fmt.Errorf("kernel: %w: an agent cannot %s %s: it is the host's to govern", agentos.ErrInvalid, what, sig)
}

// Unmask unblocks sigs and delivers those of them that are pending, with
// ctx for their handlers (see signals.Dispatcher.Unmask).
func (a *Agent) Unmask(ctx context.Context, sigs ...signals.Signal) error {
	return a.sig.Unmask(ctx, sigs...)
}

// Masked returns the signals the agent has masked.
func (a *Agent) Masked() []signals.Signal { return a.sig.Masked() }

// Pending returns the masked signals queued for the agent, in arrival
// order.
func (a *Agent) Pending() []signals.Signal { return a.sig.Pending() }

// SignalHistory returns the agent's most recent signal events, oldest
// first (a bounded history; the flight recorder has all of them).
func (a *Agent) SignalHistory() []signals.Event { return a.sig.History() }

// Read returns the contents of the file at path.
func (a *Agent) Read(ctx context.Context, path string) ([]byte, error) {
	res, err := a.syscall(ctx, request{act: agentos.Action{Op: agentos.OpRead, Path: path}, file: true})
	b, _ := res.([]byte)
	return b, err
}

// Write creates or replaces the file at path with a copy of data. The
// kernel copies data once, when the call starts: that copy is what is
// stored and what the outcome's digest is computed over, whatever the
// caller does with data meanwhile.
func (a *Agent) Write(ctx context.Context, path string, data []byte) error {
	_, err := a.syscall(ctx, request{
		act:    agentos.Action{Op: agentos.OpWrite, Path: path},
		commit: true,
		file:   true,
		data:   bytes.Clone(data), // stored by the namespace itself (WriteOwned)
	})
	return err
}

// Append appends a copy of data to the file at path, creating it when it is
// missing. It is the only write an append-only mount (/mem/episodic/)
// takes, besides creating a new file. As for Write, what is appended and
// digested is the kernel's one copy of data.
func (a *Agent) Append(ctx context.Context, path string, data []byte) error {
	_, err := a.syscall(ctx, request{
		act:    agentos.Action{Op: agentos.OpAppend, Path: path},
		commit: true,
		file:   true,
		data:   bytes.Clone(data),
	})
	return err
}

// Delete removes the file at path.
func (a *Agent) Delete(ctx context.Context, path string) error {
	_, err := a.syscall(ctx, request{act: agentos.Action{Op: agentos.OpDelete, Path: path}, commit: true, file: true})
	return err
}

// Stat describes the file or directory at path.
func (a *Agent) Stat(ctx context.Context, path string) (vfs.FileInfo, error) {
	res, err := a.syscall(ctx, request{act: agentos.Action{Op: agentos.OpStat, Path: path}, file: true})
	fi, _ := res.(vfs.FileInfo)
	return fi, err
}

// List returns the entries of the directory at path, sorted by name.
func (a *Agent) List(ctx context.Context, path string) ([]vfs.FileInfo, error) {
	res, err := a.syscall(ctx, request{act: agentos.Action{Op: agentos.OpList, Path: path}, file: true})
	list, _ := res.([]vfs.FileInfo)
	return list, err
}

// fileOp runs a file syscall (read, write, append, delete, stat, list) on
// the agent's namespace, at act.Path as the kernel cleaned it; data is the
// kernel's copy of what a write or an append stores. It returns the result
// and the bytes the outcome digests. The file methods name their op and
// fileOp runs it, rather than each passing a closure: a closure in the
// request escapes to the heap, one allocation per syscall.
func (a *Agent) fileOp(ctx context.Context, act *agentos.Action, data []byte) (any, []byte, error) {
	switch act.Op {
	case agentos.OpRead:
		b, err := a.ns.Read(ctx, act.Path)
		return b, b, err
	case agentos.OpWrite:
		return nil, data, a.ns.WriteOwned(ctx, act.Path, data)
	case agentos.OpAppend:
		return nil, data, a.ns.AppendOwned(ctx, act.Path, data)
	case agentos.OpDelete:
		return nil, nil, a.ns.Delete(ctx, act.Path)
	case agentos.OpStat:
		fi, err := a.ns.Stat(ctx, act.Path)
		if err != nil {
			return nil, nil, err
		}
		return fi, infoDigest(nil, fi), nil
	case agentos.OpList:
		list, err := a.ns.List(ctx, act.Path)
		if err != nil {
			return nil, nil, err
		}
		var d []byte
		for _, fi := range list {
			d = infoDigest(d, fi)
		}
		return list, d, nil
	}
	return nil, nil, fmt.Errorf("kernel: %w: op %q is not a file op", agentos.ErrInvalid, act.Op)
}

// infoDigest appends the digest input of a FileInfo to b.
func infoDigest(b []byte, fi vfs.FileInfo) []byte {
	b = strconv.AppendQuote(b, fi.Name)
	b = append(b, ' ')
	b = strconv.AppendInt(b, fi.Size, 10)
	b = append(b, ' ')
	b = strconv.AppendBool(b, fi.IsDir)
	return append(b, '\n')
}

// Checkpoint snapshots the agent's working memory and state (see
// vfs.FS.Checkpoint) and returns the checkpoint id, which Rollback takes.
// Policy sees it as op "checkpoint" on path /state/checkpoints.
func (a *Agent) Checkpoint(ctx context.Context) (string, error) {
	res, err := a.syscall(ctx, request{
		act:    agentos.Action{Op: agentos.OpCheckpoint, Path: vfs.PrefixCheckpoints},
		commit: true,
		run: func(ctx context.Context, act *agentos.Action) (any, []byte, error) {
			info, err := a.ns.Checkpoint(ctx)
			if err != nil {
				return nil, nil, err
			}
			return info.ID, []byte(info.ID), nil
		},
	})
	id, _ := res.(string)
	return id, err
}

// Rollback restores the agent's working memory and state to checkpoint id,
// atomically. Policy sees it as op "rollback" on path
// /state/checkpoints/<id>; an id that does not make a valid path is refused
// by the kernel (rule [RulePath]), and an unknown id fails with
// agentos.ErrNotFound.
func (a *Agent) Rollback(ctx context.Context, id string) error {
	_, err := a.syscall(ctx, request{
		act:    agentos.Action{Op: agentos.OpRollback, Path: vfs.PrefixCheckpoints + "/" + id},
		commit: true,
		run: func(ctx context.Context, act *agentos.Action) (any, []byte, error) {
			return nil, nil, a.ns.Rollback(ctx, id)
		},
	})
	return err
}

// Exec calls the tool named tool with args. tool is a name in the kernel's
// registry ([WithTool], [WithCommand], [WithRegistry]), matched exactly (no
// case folding, no Unicode normalization; policy compares names exactly
// too), optionally with a version constraint after '@' ("sql.query@^1.2",
// see atr.ParseRef): without one, the registry's current version runs.
// Policy sees the name without the constraint as action.tool, the version
// that will run as action.meta.version (and the constraint asked for as
// action.meta.constraint), and the registry's description of that version
// as the variable tool (tool.sideEffect, tool.permissions…; see
// policy.Tool). A name the registry does not hold is decided with
// tool.registered false and, when policy allows it anyway, fails with
// agentos.ErrNotFound.
//
// args must hold JSON-like values (see [MaxArgsDepth] and the other bounds);
// the kernel deep-copies them, checks the copy against the tool's input
// schema — a refusal by rule [RuleToolArgs], recorded, whose message names
// the offending field (an *atr.ArgError is in the error chain) — and only
// then asks policy. The tool receives that copy, so what ran is what was
// decided and recorded. Integer arguments reach policy and an untyped tool
// as int64, floats as float64; a typed tool (atr.Register) receives its
// argument struct.
//
// The tool runs with a context cancelled when the agent is interrupted
// (SIGINT) or killed; a result that arrives after the kill is discarded and
// Exec returns an error matching agentos.ErrKilled. A panic in the tool is
// recovered and returned as an error (an *atr.PanicError).
func (a *Agent) Exec(ctx context.Context, tool string, args map[string]any) (any, error) {
	rq := request{act: agentos.Action{Op: agentos.OpExec, Tool: tool}}
	var t *atr.Tool
	if err := checkToolName(tool); err != nil {
		rq.act.Tool = truncateString(strings.ToValidUTF8(tool, "\uFFFD"), MaxToolNameLen)
		rq.pre, rq.preRule = err, RuleToolName
	} else if name, constraint, err := parseToolRef(tool); err != nil {
		rq.pre, rq.preRule = fmt.Errorf("kernel: %w", err), RuleToolName
	} else if cp, js, err := copyArgsJSON(args); err != nil {
		rq.act.Tool = name
		rq.pre, rq.preRule = fmt.Errorf("kernel: tool arguments: %w", err), RuleArgs
	} else {
		rq.act.Tool, rq.act.Args, rq.argsJSON = name, cp, js
		// The meta is the kernel's own: checkMeta's checks are made here,
		// on each entry as it is put in, rather than by walking the map
		// again in syscall (metaOK; when one fails, syscall's checkMeta
		// refuses the action as it would any bad meta).
		metaOK := true
		if constraint != "" {
			rq.act.Meta = map[string]string{MetaConstraint: constraint}
			metaOK = checkMetaEntry(MetaConstraint, constraint) == nil
		}
		if t, err = a.k.tools.Resolve(name, constraint); err == nil {
			if rq.act.Meta == nil {
				rq.act.Meta = map[string]string{MetaVersion: t.Meta.Version}
			} else {
				rq.act.Meta[MetaVersion] = t.Meta.Version
			}
			rq.metaOK = metaOK && checkMetaEntry(MetaVersion, t.Meta.Version) == nil
			rq.tool, rq.hasTool = PolicyTool(t), true
			if rq.checked, err = t.Check(cp); err != nil {
				rq.pre, rq.preRule = fmt.Errorf("kernel: tool %q: %w", name, err), RuleToolArgs
			}
		} else if errors.Is(err, atr.ErrNotFound) {
			t = nil // decided as unregistered; fails with ErrNotFound if permitted
		} else {
			// A bad constraint, or none of the tool's versions satisfies it.
			rq.pre, rq.preRule = fmt.Errorf("kernel: tool %q: %w", name, err), RuleToolName
		}
	}
	rq.exec, rq.digestResult = t, true // run by execute
	return a.syscall(ctx, rq)
}

// parseToolRef splits "name@constraint"; a name without '@' is taken whole,
// whatever it holds, so that policy decides on it as given.
func parseToolRef(ref string) (name, constraint string, err error) {
	if !strings.Contains(ref, "@") {
		return ref, "", nil
	}
	return atr.ParseRef(ref)
}

// PolicyTool is the registry's description of tool t as policy sees it
// (the CEL variable tool): what the kernel gives policy for a syscall that
// calls t, and what a dry run or a replay must give it to decide the same.
func PolicyTool(t *atr.Tool) policy.Tool {
	return policy.Tool{
		Name:        t.Name,
		Version:     t.Meta.Version,
		SideEffect:  string(t.Meta.SideEffect),
		Cost:        t.Meta.Cost,
		Tags:        t.Meta.Tags,
		Permissions: t.Meta.Permissions,
		Deprecated:  t.Meta.Deprecated != "",
	}
}

// resultDigest is the digest of a tool result: of the bytes of a []byte
// or a string, of "null" for nil, else of its JSON (or, for a result JSON
// cannot encode, of "<type>: <value>"). A string is hashed in place, not
// copied. JSON goes through json.Marshal: a json.Encoder writing into the
// hash would buffer the encoding all the same, and add a newline.
func resultDigest(res any) string {
	switch r := res.(type) {
	case nil:
		return digestString("null")
	case []byte:
		return digest(r)
	case string:
		return digestString(r)
	}
	b, err := json.Marshal(res)
	if err != nil {
		b = fmt.Appendf(nil, "%T: %v", res, res)
	}
	return digest(b)
}

// Do governs an action whose effect the caller supplies: transports other
// than [Agent.Gate] and the bus methods use it for agentos.OpSend, vector
// stores for agentos.OpSearch. The kernel fills act.ID, act.Agent and
// act.At, cleans act.Path when set, gates, decides and records act, and
// runs fn only when it is permitted, inside the agent's commit section when
// act.Op has side effects (so fn must be short and must not signal the
// agent). fn's result is digested as a tool result is. Tool arguments in
// act.Args are copied as for Exec.
//
// Ops the kernel executes itself (read, write, append, stat, list, delete,
// exec, checkpoint, rollback, signal) are refused with agentos.ErrInvalid: use the
// methods. An unknown op is denied by rule [RuleUnknownOp] and recorded.
func (a *Agent) Do(ctx context.Context, act agentos.Action, fn func(ctx context.Context) (any, error)) (any, error) {
	switch act.Op {
	case agentos.OpRead, agentos.OpWrite, agentos.OpAppend, agentos.OpStat, agentos.OpList,
		agentos.OpDelete, agentos.OpExec, agentos.OpCheckpoint, agentos.OpRollback, agentos.OpSignal:
		return nil, fmt.Errorf("kernel: %w: op %q has its own Agent method", agentos.ErrInvalid, act.Op)
	}
	if fn == nil {
		return nil, fmt.Errorf("kernel: %w: nil function", agentos.ErrInvalid)
	}
	rq := request{
		act: agentos.Action{
			Op: act.Op, Path: act.Path, Tool: act.Tool, Target: act.Target,
			PayloadType: act.PayloadType, Meta: maps.Clone(act.Meta),
		},
		commit:       act.Op.SideEffect(),
		digestResult: true,
		run: func(ctx context.Context, _ *agentos.Action) (any, []byte, error) {
			res, err := fn(ctx)
			if err != nil {
				return nil, nil, err
			}
			return res, nil, nil
		},
	}
	if act.Args != nil {
		if cp, js, err := copyArgsJSON(act.Args); err != nil {
			rq.pre, rq.preRule = fmt.Errorf("kernel: arguments: %w", err), RuleArgs
		} else {
			rq.act.Args, rq.argsJSON = cp, js
		}
	}
	return a.syscall(ctx, rq)
}

// cleanPath runs the VFS path check.
func cleanPath(p string) (string, error) { return vfs.Clean(p) }

// observe records a signal event; the dispatcher calls it for every event.
func (a *Agent) observe(ev signals.Event) {
	e := recorder.Entry{
		Time:    ev.Time,
		Kind:    recorder.KindSignal,
		Agent:   ev.Agent,
		Message: truncateString(ev.Reason, maxErrorRecorded),
		Detail:  fmt.Sprintf("%s %s %s→%s", ev.Signal, ev.Action, ev.From, ev.To),
	}
	if ev.Signal.Fatal() {
		e.Severity = agentos.SeverityCritical
	}
	if ev.Result != "" {
		e.Detail += " result=" + truncateString(ev.Result, 256)
	}
	if ev.Dropped > 0 {
		e.Detail += fmt.Sprintf(" (%d earlier signal events not recorded)", ev.Dropped)
	}
	if ev.Err != nil {
		e.Error = truncateString(ev.Err.Error(), maxErrorRecorded)
	}
	if _, err := a.k.appendEntry(context.Background(), e); err != nil {
		a.k.log.Error("kernel: recording signal", "agent", a.id, "signal", ev.Signal, "err", err)
	}
	if ev.To == signals.Terminated && ev.From != signals.Terminated {
		a.k.log.Info("kernel: agent terminated", "agent", a.id, "signal", ev.Signal, "reason", ev.Reason)
	}
	a.syncBox(ev) // freeze, thaw or kill its command tools' cgroup
	if t := a.k.tel; t != nil {
		t.signal(ev)
	}
}

// snapshotHook answers SIGUSR1: a one-line diagnostic of the agent, which
// the signal event records.
func (a *Agent) snapshotHook(ctx context.Context) (string, error) {
	u := a.ns.Usage()
	return fmt.Sprintf("state=%s inflight=%d waiting=%d files=%d bytes=%d checkpoints=%d",
		a.sig.State(), a.sig.InFlight(), a.sig.Waiting(), u.Files, u.Bytes, u.Checkpoints), nil
}

// checkpointHook answers SIGUSR2: a checkpoint of the namespace, taken by
// the host's signal and therefore not decided by policy. Its id is
// recorded with the signal event.
func (a *Agent) checkpointHook(ctx context.Context) (string, error) {
	var id string
	err := a.sig.Commit(func() error {
		info, err := a.ns.Checkpoint(ctx)
		id = info.ID
		return err
	})
	return id, err
}

// Signal sends sig to agent id on behalf of the host and returns once it
// took effect (see signals.Dispatcher.Send); ctx is for the handlers and
// hooks the signal runs, and reason is recorded with it. Signals from the
// host are not decided by policy: the host can always stop, resume or kill
// an agent. Every signal is recorded. An unknown id fails with
// agentos.ErrNotFound.
//
// Agent code signals itself, governed, with [Agent.Signal].
func (k *Kernel) Signal(ctx context.Context, id agentos.AgentID, sig signals.Signal, reason string) error {
	a := k.Agent(id)
	if a == nil {
		return fmt.Errorf("kernel: agent %q: %w", id, agentos.ErrNotFound)
	}
	if reason == "" {
		reason = "sent by the host"
	}
	return a.sig.Send(ctx, sig, reason)
}

// SignalDispatcher returns the signal dispatcher of agent id, for the host
// to inspect it (State, Waiting, InFlight, Pending, History). An unknown id
// fails with agentos.ErrNotFound. Its Send, like [Kernel.Signal], is not
// decided by policy: do not hand the dispatcher to agent code.
func (k *Kernel) SignalDispatcher(id agentos.AgentID) (*signals.Dispatcher, error) {
	a := k.Agent(id)
	if a == nil {
		return nil, fmt.Errorf("kernel: agent %q: %w", id, agentos.ErrNotFound)
	}
	return a.sig, nil
}

// Inspect returns a read-only io/fs view of the agent's namespace for the
// host (tests, debugging, export). It bypasses policy and is not recorded:
// do not hand it to agent code.
func (k *Kernel) Inspect(id agentos.AgentID) (fs.FS, error) {
	a := k.Agent(id)
	if a == nil {
		return nil, fmt.Errorf("kernel: agent %q: %w", id, agentos.ErrNotFound)
	}
	return a.ns.IOFS(), nil
}

// policyFiles renders policy documents as the files of /policy/: one file
// per document, named after the document (metadata.name, or its file) with
// a .yaml extension, holding its source.
func policyFiles(docs []*policy.Document) map[string][]byte {
	files := make(map[string][]byte, len(docs))
	for i, d := range docs {
		base := d.Name
		if base == "" {
			base = "policy-" + strconv.Itoa(i+1)
		}
		base = strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
				return '_'
			}
			return r
		}, base)
		name := base + ".yaml"
		for n := 2; files[name] != nil || !vfs.ValidName(name); n++ {
			if !vfs.ValidName(name) {
				base = "policy-" + strconv.Itoa(i+1)
			}
			name = base + "-" + strconv.Itoa(n) + ".yaml"
		}
		files[name] = slices.Clone(d.Source)
	}
	return files
}

// documentsOf returns the documents an evaluator shows, or nil.
func documentsOf(e Evaluator) []*policy.Document {
	if d, ok := e.(documenter); ok {
		return d.Documents()
	}
	return nil
}
