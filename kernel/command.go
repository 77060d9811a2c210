package kernel

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/internal/proc"
	"github.com/agent-os/agentos/recorder"
	"github.com/google/jsonschema-go/jsonschema"
)

// Command describes a tool that runs as a program, given to the kernel with
// [WithCommand]. The program is started directly (no shell unless Script is
// set), in a process group of its own and, on Linux with cgroup v2, in the
// cgroup of the calling agent (see [WithCgroupParent]). On Linux it is
// sandboxed unless Privileged: when the kernel process is root it runs as
// an unprivileged user ([WithToolUser]) with no capabilities and
// no_new_privs, as the init of a pid namespace of its own (when it exits
// or is killed, everything it started dies with it), in mount and cgroup
// namespaces where the cgroup and bpf file systems are read-only and /proc
// shows only its own processes. Its zero value is not runnable: Path (or
// Script) is required.
type Command struct {
	// Path is the absolute path of the program; it is never looked up in
	// PATH. With Script set, Path is the shell (/bin/sh when empty).
	Path string
	// Args is the argument template (after argv[0]). Each element is a
	// literal with {name} references to Params ({{ and }} are literal
	// braces). A value always lands inside the element that refers to it,
	// so it can never add, remove or split arguments; an element that
	// refers to an optional parameter absent from the call is left out.
	Args []string
	// Script, when not empty, runs Path -c Script Name ARGS…: the filled
	// Args are the script's positional parameters "$1", "$2"…; argument
	// values never become script text.
	Script string
	// Name is argv[0] (and $0 of a script); the base of Path when empty.
	Name string
	// Params declares the arguments a call may pass, and how each is
	// checked. A call passing an undeclared argument is refused.
	Params []CommandParam
	// Env is the environment allow-list: "NAME" passes NAME from the
	// kernel process's environment (when set there), "NAME=value" sets it.
	// Nothing else reaches the program, not even PATH.
	Env []string
	// Dir is the working directory; empty means the kernel process's.
	Dir string
	// Timeout bounds one run (one minute when 0, at most 24 hours); past it
	// the program's process group is killed.
	Timeout time.Duration
	// Stdin names the parameter whose value is written to the program's
	// standard input; empty means an empty input.
	Stdin string
	// MaxStdout and MaxStderr bound the bytes of each stream kept in the
	// [CommandResult] (1 MiB when 0, at most 64 MiB). The rest is read,
	// counted and hashed, then discarded.
	MaxStdout, MaxStderr int
	// Privileged runs the program with the kernel process's own user,
	// capabilities and namespaces, outside the sandbox every other
	// command tool runs in (see [WithCommand]). It is for programs that
	// truly need root; [New] refuses it together with
	// [WithEgressEnforcement], which a privileged program could undo.
	Privileged bool
	// Description tells a model what the tool does (the registry's
	// description, exported with the tool).
	Description string
	// SideEffect is the tool's class in the registry, which policy reads as
	// tool.sideEffect; empty means [SideEffectUnclassified].
	SideEffect atr.SideEffect
}

// schema is the input schema of a command tool: an object whose properties
// are its Params (strings, booleans or numbers; the pattern and length
// checks stay the command's own, applied to the value's text), the required
// ones required, no others.
func (c Command) schema() *jsonschema.Schema {
	s := &jsonschema.Schema{
		Type:                 "object",
		Properties:           map[string]*jsonschema.Schema{},
		AdditionalProperties: &jsonschema.Schema{Not: &jsonschema.Schema{}},
	}
	for _, p := range c.Params {
		ps := &jsonschema.Schema{Types: []string{"string", "boolean", "number"}}
		if p.MaxLen > 0 {
			ps.Description = fmt.Sprintf("at most %d bytes", p.MaxLen)
		}
		s.Properties[p.Name] = ps
		if p.Required {
			s.Required = append(s.Required, p.Name)
		}
	}
	return s
}

// CommandParam is one argument a [Command] accepts. Values may be strings,
// booleans or numbers; they reach the program as text.
type CommandParam struct {
	Name     string
	Required bool
	// Pattern is an RE2 expression the whole value must match (it is
	// anchored at both ends). Empty means any value.
	Pattern string
	// MaxLen bounds the value in bytes (64 KiB when 0).
	MaxLen int
	// AllowLeadingDash lets a value that starts with '-' begin an argument;
	// by default it is refused there, so that a value cannot become an
	// option of the program.
	AllowLeadingDash bool
}

// CommandResult is what a command tool returns from [Agent.Exec] when its
// program exited with status 0, and what a [*CommandError] carries
// otherwise.
type CommandResult struct {
	Pid      int      // of the program, which led its own process group
	Argv     []string // as executed, argv[0] first
	ExitCode int      // -1 when a signal ended the program
	Signal   syscall.Signal
	Stdout   CommandOutput
	Stderr   CommandOutput
	Duration time.Duration
	TimedOut bool // the Command's Timeout passed and the group was killed
	// Cgroup is the cgroup v2 directory the program ran in; empty when the
	// kernel runs command tools in process groups only.
	Cgroup string
}

// CommandOutput is one output stream of a command tool.
type CommandOutput struct {
	Data      []byte // the first bytes written, at most the Command's limit
	Size      int64  // bytes written in all
	Truncated bool   // Size > len(Data)
	SHA256    string // "sha256:" and the hex digest of all Size bytes
}

// CommandError is the error of a command tool whose program ran but did not
// succeed: it exited with a non-zero status, was killed by a signal, or
// outlived its timeout. Result says what it did. errors.Is sees through it
// to the cause (context.DeadlineExceeded after a timeout, the agent's kill).
type CommandError struct {
	Tool   string
	Result *CommandResult
	Err    error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("kernel: command tool %q: %v", e.Tool, e.Err)
}

// Unwrap returns the cause.
func (e *CommandError) Unwrap() error { return e.Err }

// commandTool is one tool given with WithCommand; k is set by New.
type commandTool struct {
	k          *Kernel
	name       string
	spec       *proc.Spec
	privileged bool
}

// WithCommand adds a tool that runs a program (see [Command]). The command
// is checked here: a bad one makes [New] fail with agentos.ErrInvalid. Like
// any tool, it runs only when policy permits the agentos.OpExec of its
// name; then the call's arguments are checked against its Params (a refused
// argument fails the call with agentos.ErrInvalid and starts nothing), the
// program runs, and the outcome entry records its exit status, its pid, the
// sizes and SHA-256 digests of its output (ResultDigest is the digest of
// stdout) and its cgroup.
//
// The program runs sandboxed (see [Command]) unless the Command says
// Privileged; the recorder says once, at start, how command tools run.
//
// [Agent.Exec] returns a [*CommandResult] when the program exited with
// status 0; otherwise a [*CommandError] holding the result. Names share one
// table with [WithTool].
func WithCommand(name string, cmd Command) Option {
	return func(c *config) error {
		if err := checkToolName(name); err != nil {
			return err
		}
		spec, err := proc.Compile(cmd.proc())
		if err != nil {
			return fmt.Errorf("kernel: command tool %q: %w: %w", name, agentos.ErrInvalid, err)
		}
		ct := &commandTool{name: name, spec: spec, privileged: cmd.Privileged}
		se := cmd.SideEffect
		if se == "" {
			se = SideEffectUnclassified
		}
		if err := c.addTool(atr.Tool{
			Name:        name,
			Meta:        atr.Meta{Description: cmd.Description, SideEffect: se},
			InputSchema: cmd.schema(),
			Func:        ct.call,
		}); err != nil {
			return err
		}
		c.sandbox.commands = append(c.sandbox.commands, ct)
		return nil
	}
}

func (c Command) proc() proc.Command {
	pc := proc.Command{
		Path: c.Path, Args: c.Args, Script: c.Script, Name: c.Name,
		Env: c.Env, Dir: c.Dir, Timeout: c.Timeout, Stdin: c.Stdin,
		MaxStdout: c.MaxStdout, MaxStderr: c.MaxStderr,
	}
	for _, p := range c.Params {
		pc.Params = append(pc.Params, proc.Param{
			Name: p.Name, Required: p.Required, Pattern: p.Pattern,
			MaxLen: p.MaxLen, AllowLeadingDash: p.AllowLeadingDash,
		})
	}
	return pc
}

// call is the ToolFunc of a command tool: it runs on the syscall's
// goroutine once policy has permitted the exec.
func (ct *commandTool) call(ctx context.Context, args map[string]any) (any, error) {
	k := ct.k
	if k == nil {
		return nil, fmt.Errorf("kernel: command tool %q: %w: not part of a kernel", ct.name, agentos.ErrInvalid)
	}
	act, ok := ActionFromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("kernel: command tool %q: %w: called outside a syscall", ct.name, agentos.ErrInvalid)
	}
	a := k.Agent(act.Agent)
	if a == nil {
		return nil, fmt.Errorf("kernel: command tool %q: agent %q: %w", ct.name, act.Agent, agentos.ErrKilled)
	}
	return a.runCommand(ctx, ct, args)
}

// runCommand runs ct's program for agent a, inside the agent's cgroup when
// the kernel has cgroups.
func (a *Agent) runCommand(ctx context.Context, ct *commandTool, args map[string]any) (any, error) {
	opts := &proc.RunOptions{}
	if sb := a.k.sandbox; sb != nil && !ct.privileged {
		opts.Sandbox = sb.tools
	}
	var cgPath string
	if a.k.sandbox != nil && a.k.sandbox.root != nil {
		// Held shared while the program starts and runs: the cgroup (and
		// its descriptor, which the program is cloned into) is removed
		// only once no run holds it.
		a.box.use.RLock()
		defer a.box.use.RUnlock()
		cg, err := a.k.sandbox.cgroupOf(ctx, a)
		if err != nil {
			return nil, fmt.Errorf("kernel: command tool %q: %w", ct.name, err)
		}
		opts.Cgroup, cgPath = cg, cg.Path()
	}
	res, err := ct.spec.Run(ctx, args, opts)
	if res == nil {
		if errors.Is(err, proc.ErrArgs) {
			return nil, fmt.Errorf("kernel: command tool %q: %w: %w", ct.name, agentos.ErrInvalid, err)
		}
		return nil, fmt.Errorf("kernel: command tool %q: %w", ct.name, err)
	}
	cr := &CommandResult{
		Pid: res.Pid, Argv: res.Argv, ExitCode: res.ExitCode, Signal: res.Signal,
		Stdout: output(res.Stdout), Stderr: output(res.Stderr),
		Duration: res.Duration, TimedOut: res.TimedOut, Cgroup: cgPath,
	}
	if err != nil {
		if cerr := context.Cause(ctx); ctx.Err() != nil && cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", err, cerr) // the agent's kill or interrupt
		}
		return nil, &CommandError{Tool: ct.name, Result: cr, Err: err}
	}
	return cr, nil
}

func output(o proc.Output) CommandOutput {
	return CommandOutput{
		Data: o.Data, Size: o.Size, Truncated: o.Truncated,
		SHA256: "sha256:" + hex.EncodeToString(o.SHA256[:]),
	}
}

// noteOutcome adds what a command tool did to its outcome entry: the exit
// status, pid, cgroup and output sizes in Detail, and the digest of stdout
// as the ResultDigest.
func noteOutcome(e *recorder.Entry, res any, err error) {
	cr, _ := res.(*CommandResult)
	var ce *CommandError
	if cr == nil && errors.As(err, &ce) {
		cr = ce.Result
	}
	if cr == nil {
		return
	}
	e.ResultDigest = cr.Stdout.SHA256
	e.Detail = joinDetail(cr.detail(), e.Detail)
}

// detail is the one-line summary of a run recorded in its outcome entry.
func (r *CommandResult) detail() string {
	var b strings.Builder
	b.WriteString("exit=")
	b.WriteString(strconv.Itoa(r.ExitCode))
	if r.Signal != 0 {
		b.WriteString(" signal=" + strconv.Quote(r.Signal.String()))
	}
	if r.TimedOut {
		b.WriteString(" timed-out")
	}
	b.WriteString(" pid=" + strconv.Itoa(r.Pid))
	fmt.Fprintf(&b, " stdout=%dB %s", r.Stdout.Size, r.Stdout.SHA256)
	if r.Stdout.Truncated {
		b.WriteString(" (truncated)")
	}
	fmt.Fprintf(&b, " stderr=%dB %s", r.Stderr.Size, r.Stderr.SHA256)
	if r.Stderr.Truncated {
		b.WriteString(" (truncated)")
	}
	if r.Cgroup != "" {
		b.WriteString(" cgroup=" + strconv.Quote(r.Cgroup))
	} else {
		b.WriteString(" cgroup=none")
	}
	return truncateString(b.String(), maxErrorRecorded)
}
