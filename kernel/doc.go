// Package kernel composes the policy engine, the flight recorder, per-agent
// signals and the agent virtual file system into governed syscalls. It is
// the facade of agentos: the subsystems never see it.
//
// Every action an agent takes is a syscall on its [Agent], and every syscall
// passes the same steps, in this order:
//
//  1. the kernel is open and has not panicked ([agentos.ErrClosed],
//     [agentos.ErrPanicked]);
//  2. the operation is one the kernel knows (an unknown op is denied and
//     recorded);
//  3. the path, for file operations, is cleaned by the VFS before policy sees
//     it (a hostile path — a ".." escape, a NUL byte, invalid UTF-8, an
//     over-long path — is refused and recorded);
//  4. the signal gate: a stopped agent blocks here until SIGCONT, a killed
//     one gets [agentos.ErrKilled];
//  5. the policy decision (an engine error is a deny; an approve effect asks
//     the [Approver], and is a deny without one or past its timeout);
//  6. the decision entry is appended to the flight recorder; if that fails
//     the syscall fails closed and nothing executes. Every decision fits an
//     entry: arguments, a path or a target too large are recorded cut, with
//     the SHA-256 of the whole. Once a recorder reports that it lost
//     entries it had acknowledged ([WithLossyRecorder]), the kernel panics
//     and admits nothing more;
//  7. a syscall that was not permitted returns an [*agentos.PolicyViolation]
//     and, unless the deciding rule says onDeny: refuse, raises SIGPOLICY on
//     the agent, which kills it ([WithStrict] makes every deny kill);
//  8. execution: VFS mutations commit only while the agent is alive, tools
//     run with a context that is cancelled when the agent is interrupted or
//     killed, and a result that arrives after the kill is discarded;
//  9. the outcome entry: status, error, duration and the SHA-256 digest of
//     the result (for a write, of the kernel's one copy of the data, which
//     is what the namespace stores). A recorder that can
//     (recorder.Recorder.AppendLater) commits it with the next decision
//     rather than on its own, one fsync per syscall: a crash in between
//     leaves the decision without an outcome, which recorder Stats and
//     Verify report as an unknown outcome, and a failed commit of it is a
//     loss that halts the kernel as in step 6.
//
// There is no way to run without a policy: with no policy option, [New]
// loads the [Baseline] policy, which lets an agent use its own memory mounts
// and read /policy/, and denies every tool call, every message and anything
// else.
//
// # Usage
//
//	k, err := kernel.New(
//		kernel.WithPolicyFile("policy.yaml"),
//		kernel.WithTool("sql.query", runQuery),
//	)
//	if err != nil {
//		return err
//	}
//	defer k.Close()
//
//	a, err := k.Spawn(ctx, "agent-001", kernel.WithRole("analyst"))
//	err = a.Write(ctx, "/mem/working/task.txt", []byte("Analyze data"))
//	data, err := a.Read(ctx, "/mem/working/task.txt")
//	out, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
//	var v *agentos.PolicyViolation
//	if errors.As(err, &v) {
//		// denied by v.Decision.Rule; unless the rule says onDeny: refuse,
//		// the agent is now killed and its later syscalls fail with
//		// agentos.ErrKilled.
//	}
//
// Agents talk through governed sends: [Agent.Gate] makes the [ipc.Gate] of a
// typed pipe from one agent to another, and with [WithBus] an agent
// publishes, requests and subscribes on a message bus ([Agent.Publish],
// [Agent.Request], [Agent.Subscribe]). Each crossing, message and delivery
// is an agentos.OpSend syscall; action.meta.direction says which
// ([DirectionPipe], [DirectionPublish]…).
//
// Tools live in an atr.Registry ([WithRegistry]; [WithTool] and
// [WithCommand] add to it): [Agent.Exec] resolves "name" or
// "name@constraint" to one version, refuses arguments its JSON Schema
// rejects before policy ([RuleToolArgs]), and lets policy decide with the
// registry's description of the tool (the CEL variable tool:
// tool.sideEffect, tool.permissions…). With [WithIATP], agents spawned
// [WithIdentity] sign what they send on the bus, a delivery's verified
// signer is policy's peer (peer.trust, peer.labels from its registered
// manifest), forged messages are refused ([RuleEnvelope]), violations cost
// reputation, and [Kernel.Report] below the threshold sends SIGTRUST. The
// [PrivacyGuards] policy (loaded with the baseline, added by
// [WithPrivacyGuards]) refuses personal data towards peers that would keep
// it. Package kernel/mcp serves an agent's tools over the Model Context
// Protocol and fronts upstream MCP servers' tools, scanned and pinned.
//
// [Kernel.Run] runs agent code with a context that is cancelled when the
// agent is killed, and recovers a panic in it: the panic is recorded, only
// that agent is killed, and Run returns an [*AgentPanic]. [Kernel.Panic]
// halts everything: every agent is killed and later calls fail with
// [agentos.ErrPanicked].
//
// # Signals
//
// The host signals an agent with [Kernel.Signal] — SIGSTOP holds its
// syscalls at the gate, SIGCONT releases them, SIGKILL ends it — and
// inspects its signal state with [Kernel.SignalDispatcher]. The host is
// trusted: its signals are not decided by policy, and every one is
// recorded.
//
// An [Agent] holds only what a process may do to itself: install handlers
// ([Agent.Handle]), mask and unmask its catchable signals ([Agent.Mask],
// [Agent.Unmask]) and read its state and signal history. Its own
// [Agent.Signal] is a syscall like any other, op "signal" with the agent
// itself as target: it waits at the gate while the agent is stopped (a
// stopped agent never resumes itself), is decided by policy (the [Baseline]
// denies it) and is recorded. An agent cannot signal another agent.
//
// Tests of agent code use package kerneltest, which builds a kernel with an
// in-memory recorder, a fake clock and a policy given as a string, and has
// helpers to assert what was denied and by which rule.
//
// # Concurrency
//
// A [Kernel] and its [Agent] values are safe for concurrent use: many
// goroutines may issue syscalls on the same agent at once, and the host may
// signal it from any goroutine while they run. Tools and the approver
// are called on the goroutine that made the syscall. The kernel starts one
// goroutine per [Kernel.Run] call, owned and joined by that call, and, with
// [WithBus], one per agent that subscribed, which ends the agent's
// subscriptions when it dies and is joined by [Kernel.Close], and, with
// [WithEgressEnforcement], one that turns the eBPF denials into recorder
// entries and SIGPOLICY, also joined by Close; none otherwise. A command
// tool's run starts goroutines that copy its output and are joined before
// the call returns. Freezing, thawing and removing an agent's cgroup happen
// in its signal observer, on the goroutine that sent the signal. Bus handlers run on the bus's goroutines; the recorder and the
// signal dispatchers document their own.
//
// [Kernel.Close] is immediate: it refuses new syscalls, kills every agent
// (cancelling the syscalls in flight), waits a bounded time for them to
// return, records the close and flushes the recorder. It closes only what
// the kernel opened: a recorder passed with [WithRecorder] belongs to the
// caller, who closes it after the kernel.
//
// # Caveats
//
// This kernel lives in the same Go process as the agents it governs, so the
// words "kernel" and "kill" mean less than they do in an operating system.
// The kernel decides, records and executes everything that goes through an
// [Agent]; it cannot stop agent code from doing things that do not go
// through it (opening a file with package os, starting a goroutine, calling
// a network API directly). A kill is cooperative cancellation plus refusal
// at the gate: once SIGKILL has been delivered, no further syscall of that
// agent executes or returns a result, in-flight tool calls see their
// context cancelled and their results are discarded, and the agent's
// context is done — but a goroutine that ignores its context keeps running
// until it returns, and a tool that ignores its context may finish its
// external effect (which is recorded as an outcome of status "killed").
// A panic in a goroutine that agent code started itself is not recovered by
// [Kernel.Run] and ends the process, as any Go panic does. Real isolation
// comes with command tools ([WithCommand]): programs run in a process group
// and, on Linux with cgroup v2, in a cgroup per agent that SIGKILL, SIGPOLICY
// and SIGTRUST kill (cgroup.kill, waiting until it is empty) and SIGSTOP
// freezes. When the kernel runs as root each program is sandboxed: a
// non-root uid and gid ([WithToolUser], 65534 by default), no capabilities,
// no_new_privs, pid 1 of its own pid namespace, in mount and cgroup
// namespaces where cgroupfs and bpffs are read-only and /proc shows only
// its own processes, and Landlock where the Linux kernel has it; it cannot
// leave its agent's cgroup, and when a kill returns none of its processes
// is left. A [Command] with Privileged set runs with the kernel's own
// privileges, and [New] refuses it together with egress enforcement. With
// [WithEgressEnforcement], eBPF programs on that cgroup enforce the
// policy's egress rules in the Linux kernel, and each refusal raises
// SIGPOLICY. docs/ARCHITECTURE.md in the repository has the threat model.
package kernel
