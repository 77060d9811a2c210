package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

func init() { register("run", newRunCmd) }

// Bounds of the YAML files run reads.
const (
	maxYAMLBytes = 1 << 20 // a kernel config or a script
	maxSteps     = 10000   // steps of a script
	maxAgents    = 256     // agents of a script
)

// kernelConfig is the --config file: how to build the kernel. Unknown
// fields are errors.
type kernelConfig struct {
	// Policy is a policy file or a directory of policy files; empty means
	// the kernel's baseline policy.
	Policy string `yaml:"policy"`
	// Recorder is the flight recorder file (created or resumed); empty
	// means an in-memory recorder, gone when run ends.
	Recorder string `yaml:"recorder"`
	// Egress is off, if-supported or required (see kernel.EgressMode).
	Egress string `yaml:"egress"`
	Strict bool   `yaml:"strict"`
	Shadow bool   `yaml:"shadow"`
	// Tools are the tools agents may exec, by name.
	Tools map[string]toolConfig `yaml:"tools"`
}

// toolConfig is one tool: a program run as a sandboxed command tool
// (kernel.WithCommand), or a fixed result to try policies without one.
type toolConfig struct {
	Command     *commandConfig `yaml:"command"`
	Result      *string        `yaml:"result"`
	Description string         `yaml:"description"`
	SideEffect  string         `yaml:"sideEffect"`
}

type commandConfig struct {
	Path       string        `yaml:"path"`
	Args       []string      `yaml:"args"`
	Script     string        `yaml:"script"`
	Params     []paramConfig `yaml:"params"`
	Env        []string      `yaml:"env"`
	Dir        string        `yaml:"dir"`
	Timeout    time.Duration `yaml:"timeout"`
	Stdin      string        `yaml:"stdin"`
	Privileged bool          `yaml:"privileged"`
}

type paramConfig struct {
	Name             string `yaml:"name"`
	Required         bool   `yaml:"required"`
	Pattern          string `yaml:"pattern"`
	MaxLen           int    `yaml:"maxLen"`
	AllowLeadingDash bool   `yaml:"allowLeadingDash"`
}

// script is the agent program run plays: the agents, then the steps in
// order.
type script struct {
	Agents []scriptAgent `yaml:"agents"`
	Steps  []step        `yaml:"steps"`
}

type scriptAgent struct {
	ID     string            `yaml:"id"`
	Role   string            `yaml:"role"`
	Trust  *float64          `yaml:"trust"`
	Labels map[string]string `yaml:"labels"`
}

// step is one syscall of an agent.
type step struct {
	Agent string         `yaml:"agent"`
	Op    string         `yaml:"op"`
	Path  string         `yaml:"path"`
	Data  string         `yaml:"data"`
	Tool  string         `yaml:"tool"`
	Args  map[string]any `yaml:"args"`
	// Signal names the signal of op signal (the agent signals itself, as
	// policy allows); Reason goes with it.
	Signal string `yaml:"signal"`
	Reason string `yaml:"reason"`
	// Expect, when set, is what the step must give: allowed (it ran and
	// succeeded), denied (policy refused it) or error (it was permitted
	// and failed). A step that gives anything else fails run (exit 1).
	Expect string `yaml:"expect"`
}

type runFlags struct {
	config, policy, policyDir, recorder, egress string
	strict, shadow                              bool
}

func newRunCmd(e *env) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run SCRIPT",
		Short: "Run a scripted agent under a kernel, each syscall decided and recorded",
		Long: `Run a scripted agent program under a kernel configured from flags or a
YAML file, and print what each syscall gave: its result, or the rule that
denied it. Operators use it to try a policy against concrete actions
without writing Go: every step goes through the kernel's syscall path
(policy decision, flight recorder, enforcement) exactly as a Go agent's
would.

SCRIPT (YAML, "-" for standard input) lists the agents and their steps:

  agents:
    - {id: alice, role: analyst}
  steps:
    - {agent: alice, op: write, path: /mem/working/a.txt, data: "hi", expect: allowed}
    - {agent: alice, op: read, path: /mem/working/a.txt}
    - {agent: alice, op: exec, tool: search, args: {q: foo}}
    - {agent: alice, op: exec, tool: shell, args: {cmd: ls}, expect: denied}

Ops: read, write, append, delete, stat, list, exec, checkpoint, rollback
(to the agent's last checkpoint) and signal (the agent signals itself with
signal: SIGUSR1, as policy allows). A step with expect (allowed, denied,
error) that gives something else makes run exit 1. A denial that kills
the agent (every deny rule without onDeny: refuse) ends that agent: its
later steps fail with "killed".

--config names a kernel file (flags given as well override it):

  policy: ./policies        # a policy file or directory (default: baseline)
  recorder: audit.db        # flight recorder file (default: in memory)
  egress: if-supported      # off, if-supported or required
  strict: false             # every denial kills
  shadow: false             # decide and record, do not execute effects
  tools:
    search: {result: "3 results", sideEffect: read}   # a fixed result
    grep:                                              # a sandboxed program
      sideEffect: read
      command:
        path: /usr/bin/grep
        args: ["-c", "{pattern}", "/etc/hostname"]
        params: [{name: pattern, required: true, maxLen: 64}]
        timeout: 5s

Both files are decoded strictly: an unknown field is an error.`,
		Example: `  agentctl run script.yaml --policy-dir ./policies
  agentctl run script.yaml --config kernel.yaml --recorder audit.db
  agentctl run - --policy policy.yaml --format json < script.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), e, &f, args[0])
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.config, "config", "", "kernel configuration file (YAML)")
	fl.StringVar(&f.policy, "policy", "", "policy file")
	fl.StringVar(&f.policyDir, "policy-dir", "", "directory of policy files")
	fl.StringVar(&f.recorder, "recorder", "", "flight recorder file to write (default: in memory)")
	fl.StringVar(&f.egress, "egress", "", "egress enforcement: off, if-supported or required")
	fl.BoolVar(&f.strict, "strict", false, "every denial kills the agent")
	fl.BoolVar(&f.shadow, "shadow", false, "decide and record, but do not execute side effects")
	return c
}

// stepResult is one line of run's output.
type stepResult struct {
	Step    int    `json:"step"`
	Agent   string `json:"agent"`
	Op      string `json:"op"`
	Object  string `json:"object,omitempty"`
	Result  string `json:"result"` // allowed, denied, error, killed
	Rule    string `json:"rule,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Expect  string `json:"expect,omitempty"`
	Matched *bool  `json:"matched,omitempty"`
}

func runRun(ctx context.Context, e *env, f *runFlags, scriptPath string) error {
	var cfg kernelConfig
	if f.config != "" {
		if err := decodeYAMLFile(f.config, nil, &cfg); err != nil {
			return err
		}
	}
	if f.policy != "" && f.policyDir != "" {
		return usageError("--policy and --policy-dir: give one")
	}
	if f.policy != "" {
		cfg.Policy = f.policy
	}
	if f.policyDir != "" {
		cfg.Policy = f.policyDir
	}
	if f.recorder != "" {
		cfg.Recorder = f.recorder
	}
	if f.egress != "" {
		cfg.Egress = f.egress
	}
	cfg.Strict = cfg.Strict || f.strict
	cfg.Shadow = cfg.Shadow || f.shadow
	var sc script
	if err := decodeYAMLFile(scriptPath, e.stdin, &sc); err != nil {
		return err
	}
	if err := sc.check(); err != nil {
		return err
	}
	opts, err := cfg.options()
	if err != nil {
		return err
	}
	ctx, stop := interruptible(ctx)
	defer stop()
	var rec *recorder.Recorder
	if cfg.Recorder != "" {
		if rec, err = recorder.Open(cfg.Recorder, nil); err != nil {
			return readError(cfg.Recorder, err)
		}
		opts = append(opts, kernel.WithRecorder(rec))
	}
	results, runErr := play(ctx, opts, &sc)
	if rec != nil {
		if err := rec.Close(); err != nil && runErr == nil {
			runErr = readError(cfg.Recorder, err)
		}
	}
	if runErr != nil {
		return runErr
	}
	if err := writeRecords(e, []string{"STEP", "AGENT", "OP", "OBJECT", "RESULT", "RULE", "DETAIL"}, results, func(r stepResult) []string {
		res := r.Result
		if r.Matched != nil && !*r.Matched {
			res += " (expected " + r.Expect + ")"
		}
		return []string{fmt.Sprint(r.Step), r.Agent, r.Op, r.Object, res, r.Rule, clip(r.Detail, 120)}
	}); err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		if r.Matched != nil && !*r.Matched {
			failed++
		}
	}
	if failed > 0 {
		return checkFailed("%d of %d steps did not give what they expected", failed, len(results))
	}
	return nil
}

// decodeYAMLFile decodes one YAML document from path ("-": stdin) into v,
// strictly: unknown fields, a second document and files over
// maxYAMLBytes are errors.
func decodeYAMLFile(path string, stdin io.Reader, v any) error {
	var src io.Reader
	if path == "-" && stdin != nil {
		src = stdin
	} else {
		if err := checkInput(path, "a YAML file"); err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return usageError("%s: %v", path, unwrapPathError(err))
		}
		defer f.Close()
		src = f
	}
	b, err := io.ReadAll(io.LimitReader(src, maxYAMLBytes+1))
	if err != nil {
		return usageError("%s: %v", path, err)
	}
	if len(b) > maxYAMLBytes {
		return usageError("%s: larger than %d bytes", path, maxYAMLBytes)
	}
	if err := decodeYAML(b, v); err != nil {
		return usageError("%s: %v", path, err)
	}
	return nil
}

// unknownField matches yaml's message for an unknown field, which names
// a Go type the operator never sees.
var unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

// decodeYAML decodes exactly one YAML document of known fields.
func decodeYAML(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty document")
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				msgs[i] = unknownField.ReplaceAllString(m, "unknown field $1")
			}
			return errors.New(strings.Join(msgs, "; "))
		}
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}

// options turns the configuration into kernel options (the recorder
// aside).
func (c *kernelConfig) options() ([]kernel.Option, error) {
	var opts []kernel.Option
	if c.Policy != "" {
		st, err := os.Stat(c.Policy)
		if err != nil {
			return nil, usageError("policy %s: %v", c.Policy, unwrapPathError(err))
		}
		if st.IsDir() {
			opts = append(opts, kernel.WithPolicyDir(c.Policy))
		} else {
			opts = append(opts, kernel.WithPolicyFile(c.Policy))
		}
	}
	switch c.Egress {
	case "", "off":
	case "if-supported":
		opts = append(opts, kernel.WithEgressEnforcement(kernel.EgressIfSupported))
	case "required":
		opts = append(opts, kernel.WithEgressEnforcement(kernel.EgressRequired))
	default:
		return nil, usageError("egress %q: want off, if-supported or required", c.Egress)
	}
	if c.Strict {
		opts = append(opts, kernel.WithStrict())
	}
	if c.Shadow {
		opts = append(opts, kernel.WithShadow())
	}
	for name, t := range c.Tools {
		se := atr.SideEffect(t.SideEffect)
		if t.SideEffect != "" && !se.Valid() {
			return nil, usageError("tool %s: sideEffect %q: want none, read, write, delete, network, filesystem, payment or unclassified", name, t.SideEffect)
		}
		switch {
		case (t.Command == nil) == (t.Result == nil):
			return nil, usageError("tool %s: give either command or result", name)
		case t.Result != nil:
			result := *t.Result
			opts = append(opts, kernel.WithTool(name, func(context.Context, map[string]any) (any, error) {
				return result, nil
			}))
		default:
			cmd := kernel.Command{Path: t.Command.Path, Args: t.Command.Args, Script: t.Command.Script,
				Env: t.Command.Env, Dir: t.Command.Dir, Timeout: t.Command.Timeout, Stdin: t.Command.Stdin,
				Privileged: t.Command.Privileged, Description: t.Description, SideEffect: se}
			for _, p := range t.Command.Params {
				cmd.Params = append(cmd.Params, kernel.CommandParam{Name: p.Name, Required: p.Required,
					Pattern: p.Pattern, MaxLen: p.MaxLen, AllowLeadingDash: p.AllowLeadingDash})
			}
			opts = append(opts, kernel.WithCommand(name, cmd))
		}
	}
	return opts, nil
}

// The ops a script may use.
var scriptOps = map[string]bool{"read": true, "write": true, "append": true, "delete": true, "stat": true,
	"list": true, "exec": true, "checkpoint": true, "rollback": true, "signal": true}

// check validates a script before any of it runs.
func (s *script) check() error {
	if len(s.Agents) == 0 {
		return usageError("script: no agents")
	}
	if len(s.Agents) > maxAgents {
		return usageError("script: %d agents, at most %d", len(s.Agents), maxAgents)
	}
	if len(s.Steps) > maxSteps {
		return usageError("script: %d steps, at most %d", len(s.Steps), maxSteps)
	}
	ids := map[string]bool{}
	for i, a := range s.Agents {
		if a.ID == "" {
			return usageError("script: agent %d has no id", i+1)
		}
		if ids[a.ID] {
			return usageError("script: agent %s listed twice", a.ID)
		}
		ids[a.ID] = true
	}
	for i, st := range s.Steps {
		n := i + 1
		switch {
		case !ids[st.Agent]:
			return usageError("script: step %d: agent %q is not listed under agents", n, st.Agent)
		case !scriptOps[st.Op]:
			return usageError("script: step %d: op %q: want read, write, append, delete, stat, list, exec, checkpoint, rollback or signal", n, st.Op)
		case st.Expect != "" && st.Expect != "allowed" && st.Expect != "denied" && st.Expect != "error":
			return usageError("script: step %d: expect %q: want allowed, denied or error", n, st.Expect)
		}
		switch st.Op {
		case "read", "write", "append", "delete", "stat", "list":
			if st.Path == "" {
				return usageError("script: step %d: op %s needs a path", n, st.Op)
			}
		case "exec":
			if st.Tool == "" {
				return usageError("script: step %d: op exec needs a tool", n)
			}
		case "signal":
			if _, ok := signalByName(st.Signal); !ok {
				return usageError("script: step %d: signal %q: unknown", n, st.Signal)
			}
		}
	}
	return nil
}

// signalByName finds a signal by its name ("SIGUSR1").
func signalByName(name string) (signals.Signal, bool) {
	for s := signals.Signal(1); s < 64; s++ {
		if s.String() == name {
			return s, true
		}
	}
	return 0, false
}

// play runs the script under a kernel built with opts and returns one
// result per step. The error is for a kernel that could not start or
// run, not for a step that was denied or failed.
func play(ctx context.Context, opts []kernel.Option, sc *script) (_ []stepResult, err error) {
	k, err := kernel.New(opts...)
	if err != nil {
		return nil, usageError("kernel: %s", strings.TrimPrefix(err.Error(), "kernel: "))
	}
	defer func() {
		if cerr := k.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the kernel: %w", cerr)
		}
	}()
	agents := map[string]*kernel.Agent{}
	for _, sa := range sc.Agents {
		var aopts []kernel.AgentOption
		if sa.Role != "" {
			aopts = append(aopts, kernel.WithRole(sa.Role))
		}
		if sa.Trust != nil {
			aopts = append(aopts, kernel.WithTrust(*sa.Trust))
		}
		if len(sa.Labels) > 0 {
			aopts = append(aopts, kernel.WithLabels(sa.Labels))
		}
		a, err := k.Spawn(ctx, agentos.AgentID(sa.ID), aopts...)
		if err != nil {
			return nil, usageError("spawning %s: %s", sa.ID, strings.TrimPrefix(err.Error(), "kernel: "))
		}
		agents[sa.ID] = a
	}
	checkpoints := map[string]string{}
	results := make([]stepResult, 0, len(sc.Steps))
	for i, st := range sc.Steps {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		a := agents[st.Agent]
		r := stepResult{Step: i + 1, Agent: st.Agent, Op: st.Op, Object: st.Path, Expect: st.Expect}
		if st.Op == "exec" {
			r.Object = st.Tool
		}
		if st.Op == "signal" {
			r.Object = st.Signal
		}
		detail, err := doStep(ctx, a, &st, checkpoints)
		var v *agentos.PolicyViolation
		switch {
		case errors.As(err, &v):
			r.Result, r.Rule, r.Detail = "denied", v.Decision.Rule, v.Decision.Message
			if r.Rule == "" {
				r.Rule = "(default)"
			}
		case errors.Is(err, agentos.ErrKilled):
			r.Result, r.Detail = "killed", plain(err)
		case err != nil:
			r.Result, r.Detail = "error", plain(err)
		default:
			r.Result, r.Detail = "allowed", detail
		}
		if st.Expect != "" {
			ok := st.Expect == r.Result
			r.Matched = &ok
		}
		results = append(results, r)
	}
	return results, nil
}

// doStep runs one step as a syscall of a and describes its result.
func doStep(ctx context.Context, a *kernel.Agent, st *step, checkpoints map[string]string) (string, error) {
	switch st.Op {
	case "read":
		b, err := a.Read(ctx, st.Path)
		return fmt.Sprintf("%d bytes: %s", len(b), clip(string(b), 60)), err
	case "write":
		return fmt.Sprintf("%d bytes", len(st.Data)), a.Write(ctx, st.Path, []byte(st.Data))
	case "append":
		return fmt.Sprintf("%d bytes", len(st.Data)), a.Append(ctx, st.Path, []byte(st.Data))
	case "delete":
		return "", a.Delete(ctx, st.Path)
	case "stat":
		fi, err := a.Stat(ctx, st.Path)
		return fmt.Sprintf("%d bytes", fi.Size), err
	case "list":
		l, err := a.List(ctx, st.Path)
		return fmt.Sprintf("%d entries", len(l)), err
	case "exec":
		res, err := a.Exec(ctx, st.Tool, st.Args)
		return describeResult(res), err
	case "checkpoint":
		id, err := a.Checkpoint(ctx)
		if err == nil {
			checkpoints[st.Agent] = id
		}
		return id, err
	case "rollback":
		id, ok := checkpoints[st.Agent]
		if !ok {
			return "", errors.New("no checkpoint of this agent to roll back to")
		}
		return id, a.Rollback(ctx, id)
	case "signal":
		sig, _ := signalByName(st.Signal)
		return "", a.Signal(ctx, sig, st.Reason)
	}
	return "", fmt.Errorf("op %q", st.Op)
}

// describeResult says what a tool returned, briefly.
func describeResult(res any) string {
	switch r := res.(type) {
	case nil:
		return ""
	case *kernel.CommandResult:
		return fmt.Sprintf("exit %d: %s", r.ExitCode, clip(strings.TrimSpace(string(r.Stdout.Data)), 60))
	case string:
		return clip(r, 60)
	}
	return clip(fmt.Sprint(res), 60)
}
