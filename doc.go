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
// downward only:
//
//	L0  agentos                                         shared types
//	L1  policy, recorder, signals, vfs, ipc, bpf,
//	    cmvk, caas, emk                                  kernel-space parts and primitives
//	L2  iatp, amb, atr                                   infrastructure
//	L3  kernel                                           the facade composing all of the above
//	L4  scak, mute                                       intelligence
//
// Start with package kernel: kernel.New composes a policy engine (package
// policy, CEL rules in YAML), a flight recorder (package recorder, a
// hash-chained SQLite log), per-agent signals and a virtual file system.
// Package policy can also be used on its own to decide actions.
package agentos
