// Package signals is the per-agent signal dispatcher of agentos and the
// gate every syscall of an agent passes first.
//
// A [Dispatcher] holds one agent's state machine (Running, Stopped,
// Terminated), its handlers, mask, pending queue and a bounded history of
// [Event] values. [Dispatcher.Send] delivers the signals of the architecture
// (docs/ARCHITECTURE.md in the repository):
// SIGSTOP and SIGCONT pause and resume the gate; SIGINT cancels the contexts
// of the syscalls in flight; SIGTERM runs the handler, then terminates;
// SIGKILL terminates at once and cannot be caught, masked or undone;
// SIGPOLICY and SIGTRUST escalate to SIGKILL; SIGBUDGET pauses; SIGUSR1 and
// SIGUSR2 run the snapshot and checkpoint hooks; SIGLOOP and SIGDRIFT apply a
// configurable default. The kernel calls [Dispatcher.Enter] at the start of
// each syscall and runs the step that commits its effect through
// [Dispatcher.Commit], so that once Send(SIGKILL) has returned no syscall of
// the agent completes. Every event goes to the observer set with
// [WithObserver]; the kernel wires it to the flight recorder.
//
// A Dispatcher starts no goroutine and is safe for concurrent use. Handlers,
// hooks and the observer run on the goroutines that call Send and Unmask,
// never while the dispatcher's lock is held. Inside one Go process a kill is
// cooperative: it cancels contexts and refuses further work at the gate and
// at the commit point; code that ignores its context runs on until it
// reaches either.
package signals
