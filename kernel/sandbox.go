package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/bpf"
	"github.com/agent-os/agentos/internal/proc"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// RuleEgress names the kernel-level egress allow-list in the decision entry
// of a connection or datagram that the eBPF programs refused (see
// [WithEgressEnforcement]).
const RuleEgress = "kernel.egress"

// DefaultCgroupParent is the cgroup, relative to the cgroup v2 mount, under
// which a kernel creates the cgroups of its agents' command tools unless
// [WithCgroupParent] says otherwise.
const DefaultCgroupParent = "agentos"

// Bounds on the sandbox's waits.
const (
	// cgroupFreezeTimeout bounds a freeze or thaw on SIGSTOP and SIGCONT.
	cgroupFreezeTimeout = 5 * time.Second
	// cgroupRemoveTimeout bounds the wait for an agent's tool processes to
	// die when the agent is killed, and for the kernel's at Close.
	cgroupRemoveTimeout = 10 * time.Second
	// maxResolutionsRecorded bounds the detail of the resolutions entry.
	maxResolutionsRecorded = 64 << 10
)

// EgressMode says what [WithEgressEnforcement] does on a host that cannot
// enforce egress with eBPF.
type EgressMode uint8

const (
	// EgressIfSupported enforces egress where the host can (Linux, cgroup
	// v2, CAP_BPF with CAP_NET_ADMIN, or CAP_SYS_ADMIN) and otherwise runs
	// without it, saying so once in the log and in the recorder.
	EgressIfSupported EgressMode = iota + 1
	// EgressRequired makes [New] fail, with an error wrapping
	// errors.ErrUnsupported that names what is missing, where the host
	// cannot enforce egress.
	EgressRequired
)

// DefaultToolID is the user and group id command tools run as when the
// kernel process is root and [WithToolUser] says nothing else: 65534,
// nobody and nogroup on most systems.
const DefaultToolID = proc.DefaultSandboxID

// sandboxConfig is what the sandbox options collect.
type sandboxConfig struct {
	commands  []*commandTool
	parent    string
	noCgroups bool
	egress    EgressMode
	uid, gid  uint32 // WithToolUser; 0 means DefaultToolID
}

// WithToolUser sets the user and group id that command tools run as when
// the kernel process is root (the default is [DefaultToolID] for both).
// Neither may be 0: a command tool never runs as root unless its
// [Command] says Privileged. The ids need no entry in /etc/passwd; the
// tool's program, its directory and whatever it must read have to be
// accessible to them.
func WithToolUser(uid, gid uint32) Option {
	return func(c *config) error {
		if uid == 0 || gid == 0 {
			return fmt.Errorf("kernel: %w: command tools never run as uid or gid 0 (got %d:%d)", agentos.ErrInvalid, uid, gid)
		}
		c.sandbox.uid, c.sandbox.gid = uid, gid
		return nil
	}
}

// WithCgroupParent sets the cgroup under which the kernel creates the
// cgroups of its agents' command tools: a directory of the cgroup v2
// hierarchy, relative to its mount point (or absolute, inside it). The
// default is [DefaultCgroupParent]. Missing directories are created. The
// kernel makes one cgroup of its own there, and one below it for each agent
// the first time that agent runs a command tool; it removes them when the
// agent dies and at Close.
func WithCgroupParent(parent string) Option {
	return func(c *config) error {
		if strings.ContainsRune(parent, 0) || slices.Contains(strings.Split(parent, "/"), "..") {
			return fmt.Errorf("kernel: %w: cgroup parent %q", agentos.ErrInvalid, parent)
		}
		c.sandbox.parent = parent
		return nil
	}
}

// WithoutCgroups runs command tools in process groups only, even where
// cgroup v2 is available. Killing an agent then kills the process groups of
// its running tools (a process that left its group survives), and SIGSTOP
// does not pause them. It cannot be combined with [WithEgressEnforcement].
func WithoutCgroups() Option {
	return func(c *config) error { c.sandbox.noCgroups = true; return nil }
}

// WithEgressEnforcement enforces the egress section of the policy in the
// Linux kernel: eBPF programs (package bpf) attached to each agent's cgroup
// let its command tools connect, and send datagrams, only to the
// destinations the policy's egress rules allow that agent
// (policy.Engine.Egress); anything else fails with EPERM, or is dropped.
// Each refusal is recorded as a decision entry (op exec, effect deny, rule
// [RuleEgress], the destination in Args and Message) and raises SIGPOLICY
// on the agent, which kills it and its tool processes. [Kernel.ReloadPolicy]
// updates every agent's allow-list in place.
//
// The allow-list comes from the evaluator's Egress method; an evaluator
// without one allows no egress at all. mode says what happens on a host
// that cannot enforce: see [EgressIfSupported] and [EgressRequired].
func WithEgressEnforcement(mode EgressMode) Option {
	return func(c *config) error {
		if mode != EgressIfSupported && mode != EgressRequired {
			return fmt.Errorf("kernel: %w: egress mode %d", agentos.ErrInvalid, mode)
		}
		c.sandbox.egress = mode
		return nil
	}
}

// Optional capabilities of an Evaluator that the sandbox uses; a
// *policy.Engine has both.
type (
	egressPolicy interface {
		Egress(policy.Subject) policy.EgressRules
	}
	resolutionLister interface {
		Resolutions() []policy.Resolution
	}
)

// sandbox holds what the kernel's command tools run in: the kernel's own
// cgroup, with one cgroup per agent below it, and the eBPF enforcer. It is
// nil when the kernel has no command tools and no egress enforcement.
type sandbox struct {
	k    *Kernel
	root *bpf.Cgroup   // nil: process groups only
	enf  *bpf.Enforcer // nil: no egress enforcement
	// tools confines the programs of command tools that are not
	// Privileged; nil where the host cannot (not Linux).
	tools *proc.Sandbox
	seq   atomic.Uint64

	mu     sync.Mutex
	owners map[uint64]*Agent // cgroup id → agent, until the agent is reaped

	reader  sync.WaitGroup // the goroutine that reads enf.Events
	dropped uint64         // enf.Dropped last seen; read by the reader only
}

// agentBox is one agent's share of the sandbox. Its zero value is an agent
// that has not run a command tool yet.
type agentBox struct {
	// use is held shared by each command run in cg, from before its
	// program starts until it has been waited for; releasing the cgroup
	// holds it exclusively, so a descriptor in use is never closed.
	use sync.RWMutex

	mu      sync.Mutex // guards the fields below
	cg      *bpf.Cgroup
	att     *bpf.Attachment
	dead    bool // released: no cgroup will be made again
	frozen  bool
	version string // policy version of att's allow-list
}

// startSandbox sets up the sandbox of a new kernel (called by New once the
// recorder is ready) and records the policy's hostname resolutions.
func (k *Kernel) startSandbox(c sandboxConfig) error {
	ctx := context.Background()
	k.recordResolutions(ctx, "at start")
	if len(c.commands) == 0 && c.egress == 0 {
		return nil
	}
	if c.egress != 0 && c.noCgroups {
		return fmt.Errorf("kernel: %w: egress enforcement needs cgroups (WithoutCgroups given)", agentos.ErrInvalid)
	}
	sb := &sandbox{k: k, owners: map[uint64]*Agent{}}
	for _, ct := range c.commands {
		ct.k = k
		if ct.privileged && c.egress != 0 {
			// A privileged program could detach the eBPF programs, leave
			// its cgroup or open raw sockets: enforcement would be a lie.
			return fmt.Errorf("kernel: %w: command tool %q is Privileged, which egress enforcement refuses", agentos.ErrInvalid, ct.name)
		}
	}
	if err := proc.SandboxSupported(); err != nil {
		if c.egress == EgressRequired {
			return fmt.Errorf("kernel: egress enforcement required but command tools cannot be sandboxed: %w", err)
		}
		if len(c.commands) > 0 {
			k.note(ctx, "command tools run unsandboxed, with the kernel process's privileges", err, agentos.SeverityHigh)
		}
	} else {
		sb.tools = &proc.Sandbox{UID: c.uid, GID: c.gid}
		if len(c.commands) > 0 {
			sev := agentos.SeverityInfo
			if os.Geteuid() != 0 {
				sev = agentos.SeverityHigh // same uid as the kernel: see toolsNote
			}
			k.note(ctx, toolsNote(sb.tools, c.commands), nil, sev)
		}
	}
	parent := DefaultCgroupParent
	if c.parent != "" {
		parent = c.parent
	}
	var why error
	if c.noCgroups {
		why = errors.New("cgroups disabled by WithoutCgroups")
	} else {
		name := "kernel-" + strings.TrimSuffix(k.tracePrefix, "-")
		root, err := bpf.NewCgroup(parent, name)
		if err != nil {
			why = err
		} else {
			sb.root = root
		}
	}
	if why != nil {
		if c.egress == EgressRequired {
			return fmt.Errorf("kernel: egress enforcement required but no cgroup: %w", unsupported(why))
		}
		k.note(ctx, "command tools run in process groups only (no cgroup): SIGSTOP does not pause them, and a process that leaves its group survives its agent", why, agentos.SeverityMedium)
		if c.egress != 0 {
			k.note(ctx, "egress enforcement unavailable: the kernel runs without it", why, agentos.SeverityHigh)
		}
	}
	if sb.root != nil && c.egress != 0 {
		enf, err := bpf.New(&bpf.Options{Now: k.now})
		switch {
		case err == nil:
			sb.enf = enf
		case c.egress == EgressRequired || !errors.Is(err, errors.ErrUnsupported):
			_ = sb.root.Close()
			return fmt.Errorf("kernel: egress enforcement: %w", err)
		default:
			k.note(ctx, "egress enforcement unavailable: the kernel runs without it", err, agentos.SeverityHigh)
		}
	}
	if sb.root != nil {
		msg := "command tools run in a cgroup per agent under " + sb.root.Path()
		if sb.enf != nil {
			msg += ", with egress enforced by eBPF"
		}
		k.note(ctx, msg, nil, agentos.SeverityInfo)
	}
	k.sandbox = sb
	if sb.enf != nil {
		events := sb.enf.Events()
		sb.reader.Go(func() {
			for ev := range events {
				sb.denied(ev)
			}
		})
	}
	return nil
}

// toolsNote says how command tools run, for the recorder.
func toolsNote(sb *proc.Sandbox, cmds []*commandTool) string {
	var msg string
	if os.Geteuid() == 0 {
		uid, gid := sb.UID, sb.GID
		if uid == 0 {
			uid = DefaultToolID
		}
		if gid == 0 {
			gid = DefaultToolID
		}
		msg = fmt.Sprintf("command tools run as uid %d gid %d with no capabilities and no_new_privs, in pid, mount and cgroup namespaces of their own (cgroupfs and bpffs read-only)", uid, gid)
	} else {
		// Without root there is no other user to become and no namespace
		// to make: a tool can signal and trace the kernel process and
		// write every cgroup the kernel can (a delegated subtree).
		msg = "command tools run as the kernel's own user (the kernel is not root), with no_new_privs and no ambient capabilities: they can reach the kernel process and every cgroup it may write"
	}
	var priv []string
	for _, ct := range cmds {
		if ct.privileged {
			priv = append(priv, strconv.Quote(ct.name))
		}
	}
	if len(priv) > 0 {
		msg += "; privileged, unsandboxed: " + strings.Join(priv, ", ")
	}
	return msg
}

// unsupported makes err wrap errors.ErrUnsupported (a missing privilege
// reads as an unsupported host).
func unsupported(err error) error {
	if errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return fmt.Errorf("%w: %w", errors.ErrUnsupported, err)
}

// note logs msg and records it as a lifecycle entry.
func (k *Kernel) note(ctx context.Context, msg string, cause error, sev agentos.Severity) {
	e := recorder.Entry{Kind: recorder.KindLifecycle, Message: msg, Severity: sev}
	if cause != nil {
		e.Error = truncateString(cause.Error(), maxErrorRecorded)
		k.log.Warn("kernel: "+msg, "err", cause)
	} else {
		k.log.Info("kernel: " + msg)
	}
	if _, err := k.appendEntry(ctx, e); err != nil {
		k.log.Error("kernel: recording sandbox state", "err", err)
	}
}

// recordResolutions records how the policy's egress hostnames were
// resolved, when it has any.
func (k *Kernel) recordResolutions(ctx context.Context, when string) {
	rl, ok := k.eval.(resolutionLister)
	if !ok {
		return
	}
	res := rl.Resolutions()
	if len(res) == 0 {
		return
	}
	var b strings.Builder
	for i, r := range res {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s/%s %s=", r.Policy, r.Rule, r.Host)
		for j, a := range r.Addrs {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(a.String())
		}
		b.WriteString(" at " + r.At.UTC().Format(time.RFC3339Nano))
	}
	if _, err := k.appendEntry(ctx, recorder.Entry{
		Kind:          recorder.KindLifecycle,
		Message:       "egress hostnames resolved " + when,
		PolicyVersion: k.policyVersion(),
		Detail:        truncateString(b.String(), maxResolutionsRecorded),
	}); err != nil {
		k.log.Error("kernel: recording egress resolutions", "err", err)
	}
}

// egressOf returns the allow-list of agent a under the current policy.
func (k *Kernel) egressOf(a *Agent) ([]bpf.Rule, string) {
	ep, ok := k.eval.(egressPolicy)
	if !ok {
		return nil, k.policyVersion() // no egress section: no egress
	}
	er := ep.Egress(a.subject)
	return egressRules(er.Allow), er.PolicyVersion
}

// egressRules turns the policy's allow entries into the enforcer's rules.
// An entry with no protocol or no port allows nothing (the enforcer would
// read an empty list as "all").
func egressRules(allow []policy.EgressAllow) []bpf.Rule {
	var out []bpf.Rule
	for _, a := range allow {
		var protos bpf.Proto
		for _, p := range a.Protocols {
			switch p {
			case policy.TCP:
				protos |= bpf.TCP
			case policy.UDP:
				protos |= bpf.UDP
			}
		}
		if protos == 0 || len(a.Ports) == 0 {
			continue
		}
		ports := make([]bpf.PortRange, len(a.Ports))
		for i, p := range a.Ports {
			ports[i] = bpf.PortRange{First: p.First, Last: p.Last}
		}
		for _, pfx := range a.Prefixes {
			out = append(out, bpf.Rule{Prefix: pfx.Masked(), Protocols: protos, Ports: slices.Clone(ports)})
		}
	}
	return out
}

// cgroupOf returns agent a's cgroup, creating it (and attaching the egress
// programs) the first time. The caller holds a.box.use shared.
func (sb *sandbox) cgroupOf(ctx context.Context, a *Agent) (*bpf.Cgroup, error) {
	b := &a.box
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dead {
		if err := a.sig.Err(); err != nil {
			return nil, err
		}
		return nil, agentos.ErrKilled
	}
	if b.cg != nil {
		return b.cg, nil
	}
	name := cgroupName(a.id) + "-" + strconv.FormatUint(sb.seq.Add(1), 36)
	cg, err := bpf.NewCgroup(sb.root.Path(), name)
	if err != nil {
		return nil, fmt.Errorf("creating the agent's cgroup: %w", err)
	}
	if sb.enf != nil {
		rules, ver := sb.k.egressOf(a)
		att, err := sb.enf.Attach(cg, rules)
		if err != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cgroupRemoveTimeout)
			defer cancel()
			_ = cg.Remove(rctx)
			return nil, fmt.Errorf("attaching the egress programs: %w", err)
		}
		b.att, b.version = att, ver
	}
	b.cg = cg
	sb.mu.Lock()
	sb.owners[cg.ID()] = a
	sb.mu.Unlock()
	if a.sig.State() == signals.Stopped {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cgroupFreezeTimeout)
		defer cancel()
		if err := cg.Freeze(fctx); err != nil {
			sb.k.log.Error("kernel: freezing the cgroup of a stopped agent", "agent", a.id, "err", err)
		}
		b.frozen = true
	}
	return cg, nil
}

// cgroupName makes a cgroup name of an agent id: the characters cgroup
// names take, at most 100 bytes.
func cgroupName(id agentos.AgentID) string {
	s := []byte(id)
	if len(s) > 100 {
		s = s[:100]
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			s[i] = '_'
		}
	}
	return string(s)
}

// syncBox brings agent a's cgroup to the agent's state: frozen while it is
// stopped, thawed while it runs, killed and removed once it is terminated.
// The agent's signal observer calls it after recording each event; it acts
// on the agent's state, not on the event's, so that it follows the state
// even when events were lost.
func (a *Agent) syncBox(ev signals.Event) {
	sb := a.k.sandbox
	if sb == nil || sb.root == nil || (ev.From == ev.To && ev.Dropped == 0) {
		return
	}
	switch st := a.sig.State(); st {
	case signals.Terminated:
		sb.release(a)
	case signals.Stopped, signals.Running:
		sb.freeze(a, st == signals.Stopped)
	}
}

func (sb *sandbox) freeze(a *Agent, on bool) {
	b := &a.box
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cg == nil || b.dead || b.frozen == on {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cgroupFreezeTimeout)
	defer cancel()
	var err error
	if on {
		err = b.cg.Freeze(ctx)
	} else {
		err = b.cg.Thaw(ctx)
	}
	b.frozen = on
	if err != nil {
		what := "thawing"
		if on {
			what = "freezing"
		}
		sb.agentNote(a, what+" the agent's cgroup failed", err, agentos.SeverityHigh)
	}
}

// release kills the processes of agent a's cgroup at once (cgroup.kill),
// waits for the command runs that hold it, removes it and detaches its
// egress programs. It runs once per agent; later calls return at once.
func (sb *sandbox) release(a *Agent) {
	b := &a.box
	b.mu.Lock()
	if b.dead {
		b.mu.Unlock()
		return
	}
	b.dead = true
	cg, att := b.cg, b.att
	b.mu.Unlock()
	if cg == nil {
		return
	}
	var errs []error
	if err := cg.Kill(); err != nil {
		errs = append(errs, err)
	}
	b.use.Lock() // every run in the cgroup has returned
	ctx, cancel := context.WithTimeout(context.Background(), cgroupRemoveTimeout)
	errs = append(errs, cg.Remove(ctx))
	cancel()
	if att != nil {
		errs = append(errs, att.Close())
	}
	b.use.Unlock()
	if err := errors.Join(errs...); err != nil {
		sb.agentNote(a, "removing the agent's cgroup failed", err, agentos.SeverityHigh)
	}
}

// agentNote logs and records a failure of the sandbox about agent a.
func (sb *sandbox) agentNote(a *Agent, msg string, err error, sev agentos.Severity) {
	sb.k.log.Error("kernel: "+msg, "agent", a.id, "err", err)
	if _, rerr := sb.k.appendEntry(context.Background(), recorder.Entry{
		Kind: recorder.KindLifecycle, Agent: a.id, Message: msg, Severity: sev,
		Error: truncateString(err.Error(), maxErrorRecorded),
	}); rerr != nil {
		sb.k.log.Error("kernel: recording sandbox failure", "agent", a.id, "err", rerr)
	}
}

// denied turns one eBPF denial into a decision entry and SIGPOLICY for the
// agent that owns the cgroup. It runs on the reader goroutine.
func (sb *sandbox) denied(ev bpf.Event) {
	k := sb.k
	ctx := context.Background()
	if d := sb.enf.Dropped(); d > sb.dropped {
		k.note(ctx, fmt.Sprintf("%d egress denials were lost (event buffer full)", d-sb.dropped), nil, agentos.SeverityHigh)
		sb.dropped = d
	}
	sb.mu.Lock()
	a := sb.owners[ev.CgroupID]
	sb.mu.Unlock()

	proto := protoName(ev.Protocol)
	dest := ev.Dest.String()
	args, _ := json.Marshal(map[string]any{
		"dest": dest, "protocol": proto, "hook": ev.Hook.String(),
		"pid": ev.Pid, "comm": ev.Comm, "cgroup": ev.CgroupID,
	})
	msg := "egress to " + dest + " over " + proto + " refused by the kernel's eBPF allow-list"
	e := recorder.Entry{
		Time:     ev.Time,
		Kind:     recorder.KindDecision,
		Trace:    k.newTrace(),
		Op:       agentos.OpExec,
		Args:     args,
		Rule:     RuleEgress,
		Effect:   agentos.Deny,
		Message:  msg,
		Severity: agentos.SeverityCritical,
		Status:   recorder.StatusDenied,
		Detail:   truncateString(ev.String(), maxErrorRecorded),
	}
	if a == nil {
		e.Detail = joinDetail(e.Detail, "no agent owns the cgroup")
	} else {
		e.Agent = a.id
		a.box.mu.Lock()
		e.PolicyVersion = a.box.version
		a.box.mu.Unlock()
	}
	if e.PolicyVersion == "" {
		e.PolicyVersion = k.policyVersion()
	}
	if _, err := k.appendEntry(ctx, e); err != nil {
		k.log.Error("kernel: recording egress denial", "agent", e.Agent, "err", err)
	}
	k.log.Warn("kernel: egress refused", "agent", e.Agent, "dest", dest, "protocol", proto, "pid", ev.Pid)
	if a == nil || a.sig.State() == signals.Terminated {
		return
	}
	reason := "egress to " + dest + "/" + proto + " denied by " + RuleEgress
	if err := a.sig.Send(ctx, signals.SIGPOLICY, reason); err != nil && !errors.Is(err, agentos.ErrKilled) {
		k.log.Error("kernel: raising SIGPOLICY", "agent", a.id, "err", err)
	}
}

func protoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	case 58:
		return "icmpv6"
	}
	return "ip-proto-" + strconv.Itoa(int(p))
}

// reloadEgress installs the new allow-lists of every agent that has
// attached programs, in place (no program is detached).
func (k *Kernel) reloadEgress(ctx context.Context) error {
	k.recordResolutions(ctx, "at reload")
	sb := k.sandbox
	if sb == nil || sb.enf == nil {
		return nil
	}
	k.mu.RLock()
	agents := slices.Collect(maps.Values(k.agents))
	k.mu.RUnlock()
	var errs []error
	for _, a := range agents {
		b := &a.box
		b.mu.Lock()
		if b.att != nil && !b.dead {
			rules, ver := k.egressOf(a)
			if err := b.att.Update(rules); err != nil {
				errs = append(errs, fmt.Errorf("kernel: agent %q: updating egress rules: %w", a.id, err))
			} else {
				b.version = ver
			}
		}
		b.mu.Unlock()
	}
	return errors.Join(errs...)
}

// forgetSandbox drops what the sandbox knows of a reaped agent.
func (k *Kernel) forgetSandbox(a *Agent) {
	sb := k.sandbox
	if sb == nil {
		return
	}
	sb.release(a)
	sb.mu.Lock()
	for id, o := range sb.owners {
		if o == a {
			delete(sb.owners, id)
		}
	}
	sb.mu.Unlock()
}

// stopSandbox releases every agent's cgroup, removes the kernel's and
// closes the enforcer, whose reader it waits for. Close calls it after
// every agent was killed.
func (k *Kernel) stopSandbox() error {
	sb := k.sandbox
	if sb == nil {
		return nil
	}
	k.mu.RLock()
	agents := slices.Collect(maps.Values(k.agents))
	k.mu.RUnlock()
	for _, a := range agents {
		sb.release(a)
	}
	var errs []error
	if sb.root != nil {
		ctx, cancel := context.WithTimeout(context.Background(), cgroupRemoveTimeout)
		if err := sb.root.Remove(ctx); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("kernel: removing the kernel's cgroup: %w", err))
		}
		cancel()
	}
	if sb.enf != nil {
		if err := sb.enf.Close(); err != nil {
			errs = append(errs, fmt.Errorf("kernel: closing the egress enforcer: %w", err))
		}
		sb.reader.Wait()
	}
	return errors.Join(errs...)
}

// CgroupPath returns the cgroup v2 directory that agent id's command tools
// run in, or "" when it has none (no command run yet, the agent is dead, or
// the kernel runs command tools in process groups only).
func (k *Kernel) CgroupPath(id agentos.AgentID) string {
	a := k.Agent(id)
	if a == nil {
		return ""
	}
	a.box.mu.Lock()
	defer a.box.mu.Unlock()
	if a.box.cg == nil || a.box.dead {
		return ""
	}
	return a.box.cg.Path()
}

// contextReloader is a reloader that takes the caller's context, which
// bounds the resolution of the egress hostnames (a *policy.Engine is one).
type contextReloader interface {
	ReloadContext(ctx context.Context, docs []*policy.Document) error
}

// reloadWithin reloads r within ctx where r can take it.
func reloadWithin(ctx context.Context, r reloader, docs []*policy.Document) error {
	if cr, ok := r.(contextReloader); ok {
		return cr.ReloadContext(ctx, docs)
	}
	return r.Reload(docs)
}
