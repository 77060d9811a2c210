// Package proc runs a tool as a program: a [Command] describes the
// executable, an argument template filled from the tool's arguments, the
// environment it may see, its working directory, its time limit, what feeds
// its stdin and how much of its output is kept. [Compile] checks a Command
// once and returns an immutable [Spec]; [Spec.Run] validates one call's
// arguments, starts the program in a process group of its own (and, on
// Linux, directly inside a cgroup given as a directory descriptor), and
// returns a [Result] with the exit status, the bounded output, the
// duration and a SHA-256 digest of everything the program wrote. No shell
// is involved unless the Command asks for one, and even then argument
// values reach the script only as positional parameters, never as script
// text. When the context ends or the time limit passes, the whole process
// group is killed; when the program exits, whatever it left running in its
// group is killed too. With a [Sandbox] (Linux) the program never runs as
// root or with a capability, and runs as the init of a pid namespace of
// its own, so that nothing it starts outlives it. A Spec is safe for
// concurrent use; Run starts goroutines that copy output and waits for all
// of them before it returns.
package proc
