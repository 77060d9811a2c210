package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/iatp"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/vfs"
)

// An Option configures a [Kernel]. Options that can fail (a policy file that
// does not parse, a nil argument) make [New] return their error.
type Option func(*config) error

// ToolFunc is a tool an agent may call with [Agent.Exec]. It runs on the
// goroutine that made the syscall, with a context that is cancelled when the
// agent is interrupted or killed; [ActionFromContext] returns the action
// being executed. args is the kernel's own copy of the arguments policy
// decided on: changing the caller's map after the call started has no
// effect on it. The result's digest is recorded; a result that is not a
// []byte or string is digested in its JSON encoding.
type ToolFunc func(ctx context.Context, args map[string]any) (any, error)

// Approver decides an action whose policy decision is [agentos.Approve]:
// it returns true to let it run. It is called on the syscall's goroutine with
// a context bounded by the timeout given to [WithApprover]; an error, a
// false answer or the timeout deny the action.
type Approver func(ctx context.Context, act agentos.Action, d agentos.Decision) (bool, error)

// Bounds on what the kernel accepts.
const (
	// MaxAgentIDLen is the longest agent id Spawn accepts, in bytes.
	MaxAgentIDLen = 128
	// MaxToolNameLen is the longest tool name Exec and WithTool accept.
	MaxToolNameLen = 256
	// DefaultRecorderEntries bounds the kernel's own in-memory recorder
	// (the one New opens without WithRecorder): about 250 MiB. Past it the
	// oldest entries are dropped and the chain stays verifiable from the
	// cut (recorder.Options.MaxEntries, Report.Evicted). A host that must
	// keep every entry gives WithRecorder a file recorder.
	DefaultRecorderEntries = 1 << 20
	// DefaultMaxAgents is the number of agents a kernel holds unless
	// WithMaxAgents says otherwise.
	DefaultMaxAgents = 4096
	// DefaultApprovalTimeout bounds an approver when WithApprover is given
	// a zero timeout.
	DefaultApprovalTimeout = 30 * time.Second
	// DefaultCloseTimeout bounds how long Close waits for syscalls in
	// flight to return after it killed their agents.
	DefaultCloseTimeout = 10 * time.Second
	// DefaultMemoryBudget bounds the memory all agents' namespaces hold
	// together (file data, names, nodes and checkpoints, as their quotas
	// count it) unless WithMemoryBudget says otherwise: 1 GiB, sixteen
	// agents at the default VFS quota of 64 MiB.
	DefaultMemoryBudget = vfs.DefaultBudget
)

type config struct {
	eval        Evaluator
	policyDocs  []*policy.Document // documents loaded by an option, shown under /policy/
	policyCount int                // how many policy options were given
	sink        Sink
	tools       []atr.Tool      // WithTool and WithCommand, in order; added to the registry by New
	toolNames   map[string]bool // their names, to refuse one given twice
	registry    *atr.Registry   // WithRegistry
	approver    Approver
	approveTO   time.Duration
	strict      bool
	shadow      bool
	observers   []Observer // WithObserver
	otel        otelConfig // WithTracerProvider, WithMeterProvider
	clock       func() time.Time
	logger      *slog.Logger
	maxAgents   int
	closeTO     time.Duration
	quota       *vfs.Quota
	memBudget   int64         // WithMemoryBudget; DefaultMemoryBudget when 0
	lossy       bool          // WithLossyRecorder
	bus         amb.Bus       // WithBus
	memory      *Memory       // WithMemory
	trust       *Trust        // WithIATP
	privacy     bool          // WithPrivacyGuards
	sandbox     sandboxConfig // WithCommand, WithCgroupParent, WithoutCgroups, WithEgressEnforcement
}

// WithPolicyFile loads the policy documents of one YAML or JSON file (a file
// may hold several documents).
func WithPolicyFile(path string) Option {
	return func(c *config) error {
		docs, err := policy.ParseFile(path)
		if err != nil {
			return fmt.Errorf("kernel: policy file: %w", err)
		}
		return c.setDocs(docs)
	}
}

// WithPolicyDir loads every policy document of a directory.
func WithPolicyDir(dir string) Option {
	return func(c *config) error {
		docs, err := policy.ParseDir(dir)
		if err != nil {
			return fmt.Errorf("kernel: policy dir: %w", err)
		}
		return c.setDocs(docs)
	}
}

// WithPolicySource loads one policy document from its YAML (or JSON) text;
// name identifies it in errors and under /policy/.
func WithPolicySource(name string, src []byte) Option {
	return func(c *config) error {
		doc, err := policy.Parse(name, src)
		if err != nil {
			return fmt.Errorf("kernel: policy: %w", err)
		}
		return c.setDocs([]*policy.Document{doc})
	}
}

// WithPolicy makes e decide every syscall. A *policy.Engine is an
// Evaluator; its documents are shown under /policy/ when it has a
// Documents method. Only one policy option may be given.
func WithPolicy(e Evaluator) Option {
	return func(c *config) error {
		if e == nil {
			return fmt.Errorf("kernel: %w: nil policy", agentos.ErrInvalid)
		}
		c.policyCount++
		c.eval = e
		return nil
	}
}

func (c *config) setDocs(docs []*policy.Document) error {
	if len(docs) == 0 {
		return fmt.Errorf("kernel: %w: the policy has no documents", agentos.ErrInvalid)
	}
	c.policyCount++
	c.policyDocs = docs
	return nil
}

// WithRecorder makes the kernel append its entries to s, usually a
// *recorder.Recorder. The recorder belongs to the caller: [Kernel.Close]
// flushes it but does not close it. Without this option the kernel opens an
// in-memory recorder of its own, bounded to [DefaultRecorderEntries]
// entries (the oldest dropped past it), and closes it on Close.
//
// A recorder that writes a file in recorder.Buffered mode acknowledges
// entries before they are on disk, so a syscall could return success and
// its entries be lost afterwards: [New] refuses one unless
// [WithLossyRecorder] accepts the trade-off.
func WithRecorder(s Sink) Option {
	return func(c *config) error {
		if s == nil {
			return fmt.Errorf("kernel: %w: nil recorder", agentos.ErrInvalid)
		}
		c.sink = s
		return nil
	}
}

// WithLossyRecorder accepts a recorder in recorder.Buffered mode that
// writes a file (see [WithRecorder]). Its trade-off is throughput for a
// window of loss: when a commit fails (the disk is full, or fails), the
// entries it had acknowledged but not committed are lost, at most its
// Options.QueueSize entries (default 4096), those of about its last
// Options.FlushInterval (default 100ms). Syscalls that returned success in
// that window may have no record. The window is all that can be lost: as
// soon as the recorder reports the loss (recorder.Recorder.Lost) the kernel
// records a kernel panic, kills every agent and refuses every later
// syscall with an error wrapping [ErrRecorder] and recorder.ErrLost; a
// syscall in flight that sees it fails the same way instead of succeeding.
//
// Without this option only recorder.WriteAhead file recorders (and
// in-memory recorders, which lose everything with the process anyway) are
// accepted: a syscall returns only once its entries are committed.
func WithLossyRecorder() Option {
	return func(c *config) error { c.lossy = true; return nil }
}

// WithMemoryBudget bounds the memory the namespaces of all the kernel's
// agents hold together, counted as their quotas count it (file data,
// names, directory nodes, checkpoint copies); the default is
// [DefaultMemoryBudget]. Each agent's own quota still applies; a write or
// checkpoint past either fails with agentos.ErrQuota. A reaped agent gives
// its share back.
func WithMemoryBudget(bytes int64) Option {
	return func(c *config) error {
		if bytes <= 0 {
			return fmt.Errorf("kernel: %w: memory budget must be positive", agentos.ErrInvalid)
		}
		c.memBudget = bytes
		return nil
	}
}

// WithTool adds an untyped Go function to the kernel's tool registry (see
// [WithRegistry]) as version 1.0.0 of the tool name, with the open input
// schema (any object) and the side-effect class "unclassified" (see
// [SideEffectUnclassified]): a shortcut for tools that need no schema. A
// tool registered with atr.Register through [WithRegistry] declares its
// argument types, which are checked before policy sees a call, and its
// class, which policy reads as tool.sideEffect.
//
// Names are matched exactly (no case folding, no Unicode normalization) and
// must satisfy atr.CheckName: 1 to 64 bytes of ASCII letters, digits, '_',
// '-' and '.'. A name may be given only once.
func WithTool(name string, fn ToolFunc) Option {
	return func(c *config) error {
		if fn == nil {
			return fmt.Errorf("kernel: %w: tool %q has a nil function", agentos.ErrInvalid, name)
		}
		return c.addTool(atr.Tool{
			Name: name,
			Meta: atr.Meta{SideEffect: SideEffectUnclassified},
			Func: fn,
		})
	}
}

// SideEffectUnclassified is the side-effect class of a tool given with
// [WithTool] or a [Command] that names none: the kernel cannot tell what it
// does, so policy should treat it as it treats the most consequential
// classes. It is atr.Unclassified.
const SideEffectUnclassified = atr.Unclassified

// WithRegistry makes r the kernel's tool registry: every tool in it (each
// version, typed or not) is callable with [Agent.Exec] as a governed
// syscall, and the tools given with [WithTool] and [WithCommand] are added
// to it when [New] builds the kernel (so it must not already hold those
// names). Tools added to r later are callable too. Without this option the
// kernel makes a registry of its own; [Kernel.Registry] returns it.
func WithRegistry(r *atr.Registry) Option {
	return func(c *config) error {
		if r == nil {
			return fmt.Errorf("kernel: %w: nil tool registry", agentos.ErrInvalid)
		}
		if c.registry != nil {
			return fmt.Errorf("kernel: %w: more than one tool registry given", agentos.ErrInvalid)
		}
		c.registry = r
		return nil
	}
}

func (c *config) addTool(t atr.Tool) error {
	if err := checkToolName(t.Name); err != nil {
		return err
	}
	if err := atr.CheckName(t.Name); err != nil {
		return fmt.Errorf("kernel: tool %q: %w", t.Name, err)
	}
	if c.toolNames[t.Name] {
		return fmt.Errorf("kernel: %w: tool %q given twice", agentos.ErrInvalid, t.Name)
	}
	if c.toolNames == nil {
		c.toolNames = map[string]bool{}
	}
	c.toolNames[t.Name] = true
	c.tools = append(c.tools, t)
	return nil
}

func checkToolName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("kernel: %w: empty tool name", agentos.ErrInvalid)
	case len(name) > MaxToolNameLen:
		return fmt.Errorf("kernel: %w: tool name longer than %d bytes", agentos.ErrInvalid, MaxToolNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("kernel: %w: tool name is not valid UTF-8", agentos.ErrInvalid)
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("kernel: %w: tool name %q has control characters", agentos.ErrInvalid, name)
	}
	return nil
}

// WithApprover sets the function asked about actions whose decision is
// [agentos.Approve]. timeout bounds each call (zero means
// [DefaultApprovalTimeout]); past it the action is denied. Without an
// approver every approve decision is a deny.
func WithApprover(fn Approver, timeout time.Duration) Option {
	return func(c *config) error {
		if fn == nil {
			return fmt.Errorf("kernel: %w: nil approver", agentos.ErrInvalid)
		}
		if timeout < 0 {
			return fmt.Errorf("kernel: %w: negative approval timeout", agentos.ErrInvalid)
		}
		if timeout == 0 {
			timeout = DefaultApprovalTimeout
		}
		c.approver, c.approveTO = fn, timeout
		return nil
	}
}

// WithStrict makes every denial kill the agent, including those of rules
// that say onDeny: refuse, rate limits, and the kernel's own refusals of
// hostile paths and unknown operations.
func WithStrict() Option {
	return func(c *config) error { c.strict = true; return nil }
}

// WithShadow runs the kernel in shadow mode: every syscall is gated, decided
// and recorded as usual, and denials are enforced as usual, but a permitted
// side-effecting syscall (write, append, delete, exec, checkpoint, rollback,
// send) is not executed: its outcome is recorded with status "shadow" and it
// returns a zero result and a nil error. Reads, stats and lists run.
func WithShadow() Option {
	return func(c *config) error { c.shadow = true; return nil }
}

// WithClock sets the clock the kernel stamps actions and entries with, and
// gives the policy input its Now. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("kernel: %w: nil clock", agentos.ErrInvalid)
		}
		c.clock = now
		return nil
	}
}

// WithLogger sets the logger for what the kernel cannot return to a caller
// (a recorder failure after an effect, an agent killed). The default
// discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("kernel: %w: nil logger", agentos.ErrInvalid)
		}
		c.logger = l
		return nil
	}
}

// WithMaxAgents bounds the number of agents the kernel holds (default
// [DefaultMaxAgents]); Spawn past it fails with [agentos.ErrQuota]. Killed
// agents count until they are reaped with [Kernel.Reap].
func WithMaxAgents(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("kernel: %w: max agents must be positive", agentos.ErrInvalid)
		}
		c.maxAgents = n
		return nil
	}
}

// WithCloseTimeout bounds how long [Kernel.Close] waits for the syscalls in
// flight to return after it killed their agents (default
// [DefaultCloseTimeout]).
func WithCloseTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("kernel: %w: close timeout must be positive", agentos.ErrInvalid)
		}
		c.closeTO = d
		return nil
	}
}

// An AgentOption configures an agent at [Kernel.Spawn]. The role, trust and
// labels are what policy sees as agent.role, agent.trust and agent.labels.
type AgentOption func(*agentConfig) error

type agentConfig struct {
	role     string
	trust    float64
	labels   map[string]string
	quota    *vfs.Quota
	identity *iatp.Identity // WithIdentity
}

// Bounds on agent attributes.
const (
	maxRoleLen  = 128
	maxLabels   = 64
	maxLabelLen = 256
)

// WithRole sets the agent's role (agent.role in policy).
func WithRole(role string) AgentOption {
	return func(c *agentConfig) error {
		if len(role) > maxRoleLen || !utf8.ValidString(role) {
			return fmt.Errorf("kernel: %w: role must be at most %d bytes of UTF-8", agentos.ErrInvalid, maxRoleLen)
		}
		c.role = role
		return nil
	}
}

// validLabelKey reports whether k may name a label (see WithLabels).
func validLabelKey(k string) bool {
	if k == "" || len(k) > maxLabelLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-' || c == '/'):
		default:
			return false
		}
	}
	return true
}

// WithTrust sets the agent's trust score in [0, 1] (agent.trust in policy).
// An agent with an identity ([WithIdentity]) that the kernel's iatp
// registry holds has its registry score / 10 instead.
// The default is 0: an agent is trusted only as far as it is told to be.
func WithTrust(trust float64) AgentOption {
	return func(c *agentConfig) error {
		if !(trust >= 0 && trust <= 1) { // also refuses NaN
			return fmt.Errorf("kernel: %w: trust %v is outside [0, 1]", agentos.ErrInvalid, trust)
		}
		c.trust = trust
		return nil
	}
}

// WithLabels adds labels to the agent (agent.labels in policy). At most 64
// labels; a key is 1 to 256 ASCII letters, digits, '.', '_', '-' and '/',
// beginning with a letter or a digit ("team", "app.kubernetes.io/name"); a
// value at most 256 bytes of UTF-8. The recorder's "spawned" entry writes
// them so that a replay reads them back, which needs keys that cannot be
// mistaken for the text around them.
func WithLabels(labels map[string]string) AgentOption {
	return func(c *agentConfig) error {
		if len(labels)+len(c.labels) > maxLabels {
			return fmt.Errorf("kernel: %w: more than %d labels", agentos.ErrInvalid, maxLabels)
		}
		for k, v := range labels {
			if !validLabelKey(k) {
				return fmt.Errorf("kernel: %w: label key %q: 1 to %d ASCII letters, digits, '.', '_', '-' and '/', beginning with a letter or a digit", agentos.ErrInvalid, truncateString(k, 64), maxLabelLen)
			}
			if len(v) > maxLabelLen || !utf8.ValidString(v) {
				return fmt.Errorf("kernel: %w: label %q: a value must be at most %d bytes of UTF-8", agentos.ErrInvalid, k, maxLabelLen)
			}
			if c.labels == nil {
				c.labels = make(map[string]string, len(labels))
			}
			c.labels[k] = v
		}
		return nil
	}
}

// WithQuota sets the default VFS quota of every agent's namespace (bytes,
// files, file size, checkpoints); a zero field takes the VFS default. A
// write beyond it fails with agentos.ErrQuota.
func WithQuota(q vfs.Quota) Option {
	return func(c *config) error {
		if q.MaxBytes < 0 || q.MaxFiles < 0 || q.MaxFileSize < 0 || q.MaxCheckpoints < 0 {
			return fmt.Errorf("kernel: %w: negative quota", agentos.ErrInvalid)
		}
		c.quota = &q
		return nil
	}
}

// WithAgentQuota sets this agent's VFS quota, overriding the kernel's
// [WithQuota].
func WithAgentQuota(q vfs.Quota) AgentOption {
	return func(c *agentConfig) error {
		if q.MaxBytes < 0 || q.MaxFiles < 0 || q.MaxFileSize < 0 || q.MaxCheckpoints < 0 {
			return fmt.Errorf("kernel: %w: negative quota", agentos.ErrInvalid)
		}
		c.quota = &q
		return nil
	}
}

var errNilOption = errors.New("kernel: nil option")
