// Package agentos governs autonomous AI agents the way an operating system
// kernel governs processes.
//
// Agent code is untrusted user space. Every action it takes — reading or
// writing memory, calling a tool, sending a message — is a syscall that
// passes through the kernel in a fixed order:
//
//	signal gate → policy decision → flight-recorder entry → execution → result entry
//
// Nothing that policy denies executes, and nothing executes without a
// record. A denial is a [Decision] value; a syscall that was not permitted
// returns a [*PolicyViolation], for which errors.Is(err, [ErrDenied]) holds.
//
// This root package holds only the types every layer shares: [Action],
// [Op], [Decision], [Effect], [Severity], the sentinel errors, and the
// [Model] and [Embedder] interfaces. The library is layered; imports point
// downward only (docs/ARCHITECTURE.md in the repository has the table and
// the threat model):
//
//	L0  agentos                                  shared types
//	L1  policy, recorder, signals, vfs, ipc, bpf  kernel-space parts
//	L2  amb                                      the agent message bus
//	L3  kernel                                   the facade composing all of the above
//
// Planned, not yet in the module: cmvk, caas and emk (L1: cross-model
// verification, the context service, episodic memory), iatp and atr (L2:
// inter-agent trust, the tool registry), scak and mute (L4), and the
// agentctl command.
//
// Start with package kernel: kernel.New composes a policy engine (package
// policy, CEL rules in YAML), a flight recorder (package recorder, a
// hash-chained SQLite log), per-agent signals and a virtual file system.
// Package policy can also be used on its own to decide actions.
package agentos
