package kernel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/iatp"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// Statuses the kernel writes besides the recorder's own.
const (
	// StatusPermitted marks a decision entry whose syscall was let through
	// (allow, audit, or an approve the approver granted).
	StatusPermitted recorder.Status = "permitted"
	// StatusKilled marks an outcome whose result was discarded because the
	// agent was killed before it could be delivered, or whose commit was
	// refused because the agent was already killed.
	StatusKilled recorder.Status = "killed"
)

// Rules the kernel itself decides by, before policy is consulted. They
// appear in decision entries and in PolicyViolation.Decision.Rule.
const (
	RuleUnknownOp   = "kernel.unknown-op"   // the op is not one of agentos.Ops
	RulePath        = "kernel.path"         // the path was refused by vfs.Clean
	RuleArgs        = "kernel.args"         // tool arguments not JSON-like or over the bounds
	RuleToolName    = "kernel.tool-name"    // empty, over-long, non-UTF-8 or control characters
	RulePolicyError = "kernel.policy-error" // the evaluator failed and named no rule
	RuleMeta        = "kernel.meta"         // action meta over the recorder's bounds or not valid UTF-8
	RuleSignal      = "kernel.signal"       // an undefined signal
	RuleToolArgs    = "kernel.tool-args"    // tool arguments that do not satisfy the tool's input schema
)

// Meta keys the kernel sets on a tool call.
const (
	// MetaVersion is the registry version of the tool that will run.
	MetaVersion = "version"
	// MetaConstraint is the version constraint the agent asked for
	// ("sql.query@^1.2" asks for "^1.2").
	MetaConstraint = "constraint"
)

type actionKey struct{}

// ActionFromContext returns the action a tool is executing, as policy saw
// it, from the context the kernel passes to a [ToolFunc]. Its ID is the
// trace id of the syscall's recorder entries.
func ActionFromContext(ctx context.Context) (agentos.Action, bool) {
	a, ok := ctx.Value(actionKey{}).(*agentos.Action)
	if !ok {
		return agentos.Action{}, false
	}
	return *a, true
}

// frame is the state of one tool call that outlives its stack: the action
// (policy, the recorder's entries, telemetry, observers and the tool all
// see it by pointer), the registry's description of its tool, and, while
// the tool runs, the context the tool gets, which carries the action for
// ActionFromContext. One allocation holds all three, where the action,
// the description and a context.WithValue were one each. (The trace id's
// bytes in it too, through unsafe.String, measured no faster: not kept.)
type frame struct {
	// Context is the context of execute (nil before it): Value answers
	// actionKey with &act and asks Context for every other key, as the
	// context.WithValue it replaces did. Done, Err and Deadline are
	// Context's, so that contexts derived from it find the same cancelCtx.
	context.Context
	act  agentos.Action
	tool policy.Tool
}

// Value implements context.Context.
func (f *frame) Value(key any) any {
	if key == (actionKey{}) {
		return &f.act
	}
	return f.Context.Value(key)
}

// String names the context as context.WithValue's String would, without
// printing the action.
func (f *frame) String() string {
	if s, ok := f.Context.(fmt.Stringer); ok {
		return s.String() + ".WithValue(kernel.actionKey)"
	}
	return "kernel.frame"
}

// request is one syscall as the agent's methods build it.
type request struct {
	act      agentos.Action // Op, Path (raw), Tool, Args (the kernel's copy), Target, PayloadType, Meta
	argsJSON json.RawMessage
	// pre is a refusal found while building the request (bad arguments, a
	// bad tool name): the syscall is denied by rule preRule.
	pre     error
	preRule string
	// commit runs the effect inside the dispatcher's Commit, so that it
	// happens only while the agent is alive.
	commit bool
	// file: the syscall is a file op that fileOp runs (data is what a
	// write or an append stores).
	file bool
	data []byte
	// run executes any other syscall. It returns the result, the bytes to
	// digest (nil: no digest) and an error. A tool call has no run: the
	// kernel calls exec with the arguments checked.
	run func(ctx context.Context, act *agentos.Action) (result any, digest []byte, err error)
	// exec is the tool an Exec calls (nil: not in the registry) and checked
	// the proof that act.Args satisfy its input schema.
	exec    *atr.Tool
	checked atr.Validated
	// digestResult: the outcome's digest is that of the result (see
	// resultDigest), when run succeeded and the result was delivered.
	digestResult bool
	// note, when set, is called after run succeeded and its text added to
	// the outcome entry's Detail (a search's hits and scores).
	note func() string
	// tool is the registry's description of an exec's tool (policy's tool
	// variable), when hasTool: the registry holds it. The syscall keeps
	// its copy in its frame.
	tool    policy.Tool
	hasTool bool
	// peer, when set, is the other party as policy sees it, verified by the
	// kernel (a signed message's sender); it takes the place of the agent
	// named by act.Target.
	peer *policy.Subject
	// metaOK: act.Meta passed checkMeta's checks where it was built (Exec
	// checks the entries it puts in); syscall does not walk it again.
	metaOK bool
	// topic: act.Target names a bus topic, not an agent, so policy sees no
	// peer. incoming: the syscall delivers a message to the agent, which did
	// not choose it: a denial refuses the delivery and never kills.
	topic, incoming bool
}

// syscall is the one path every agent action takes; see the package doc for
// the steps.
func (a *Agent) syscall(ctx context.Context, rq request) (ret any, retErr error) {
	k := a.k
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	if err := k.admit(); err != nil {
		return nil, err
	}
	defer k.inflight.Done()

	// A tool call's action lives in its frame; any other syscall's alone
	// (a frame is nearly twice the size of an action).
	var (
		fr  *frame
		act *agentos.Action
	)
	if rq.exec != nil {
		fr = &frame{act: rq.act}
		act = &fr.act
	} else {
		act = new(agentos.Action)
		*act = rq.act
	}
	act.ID = k.newTrace()
	act.Agent = a.id
	act.At = k.now()
	// Telemetry (otel.go): the span, when there is one, is in the context
	// policy, the approver and the tool see (sctx below).
	var tc telCall
	if k.tel != nil {
		tctx := k.tel.begin(ctx, &tc, act)
		defer func() { k.tel.end(tctx, k, &tc, act, retErr) }()
	}
	// Entries are recorded even when the caller's context ends meanwhile
	// (a context whose Done is nil never ends).
	rctx := ctx
	if ctx.Done() != nil {
		rctx = context.WithoutCancel(ctx)
	}

	// Refusals the kernel makes before the gate, each recorded.
	switch {
	case !act.Op.Valid():
		return nil, a.refuse(rctx, act, rq.argsJSON, RuleUnknownOp, fmt.Sprintf("unknown operation %q", act.Op),
			fmt.Errorf("%w: unknown operation %q", agentos.ErrInvalid, act.Op))
	case rq.pre != nil:
		return nil, a.refuse(rctx, act, rq.argsJSON, rq.preRule, rq.pre.Error(), rq.pre)
	}
	if !rq.metaOK {
		if err := checkMeta(act.Meta); err != nil {
			return nil, a.refuse(rctx, act, rq.argsJSON, RuleMeta, err.Error(), err)
		}
	}
	if act.PayloadType != "" {
		if err := checkPayloadType(act.PayloadType); err != nil {
			return nil, a.refuse(rctx, act, rq.argsJSON, RulePayloadType, err.Error(), err)
		}
	}
	if act.Path != "" || needsPath(act.Op) {
		p, err := cleanPath(act.Path)
		if err != nil {
			return nil, a.refuse(rctx, act, rq.argsJSON, RulePath, "path refused: "+err.Error(), err)
		}
		act.Path = p
	}

	// Observers are told once the gate is left (this defer runs after the
	// gate's): seen is set once a decision is recorded.
	var seen *Syscall
	if len(k.observers) > 0 {
		defer func() {
			if seen != nil {
				seen.Result, seen.Err = ret, retErr
				seen.Duration = k.now().Sub(act.At)
				k.observe(rctx, seen)
			}
		}()
	}

	// The signal gate.
	sctx, done, err := a.sig.Enter(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { done() }()
	if tc.span != nil {
		sctx = tc.within(sctx)
	}

	var tool *policy.Tool
	if rq.hasTool && fr != nil {
		fr.tool = rq.tool
		tool = &fr.tool
	}
	d, permitted, detail, evalErr := a.decide(sctx, act, &rq, tool)
	if evalErr != nil && sctx.Err() != nil {
		// The syscall was interrupted or its agent killed while policy was
		// deciding: nothing was decided and nothing runs.
		return nil, context.Cause(sctx)
	}
	status := recorder.StatusDenied
	if permitted {
		status = StatusPermitted
	}
	if k.tel != nil {
		tc.decide(&d, permitted, detail)
	}
	if len(k.observers) > 0 {
		seen = &Syscall{Action: *act, Decision: d, Permitted: permitted, Status: recorder.StatusDenied}
	}
	recErr := k.appendDecision(rctx, decisionEntry(act, rq.argsJSON, k.argsLimit, d, status, detail, true))
	if recErr != nil {
		recErr = fmt.Errorf("%w: decision not recorded: %w", ErrRecorder, recErr)
		k.log.Error("kernel: recording decision", "agent", a.id, "trace", act.ID, "err", recErr)
	}
	if !permitted {
		v := &agentos.PolicyViolation{Action: *act, Decision: d}
		kill := (k.strict || !d.Refuse) && !rq.incoming
		done()
		done = func() {}
		if kill && a.ident != nil && k.trust != nil {
			// A violation costs the agent reputation (its SIGTRUST, if the
			// score falls that far, comes after the SIGPOLICY below).
			defer func() {
				if _, err := a.report(rctx, iatp.Event{Kind: iatp.Violation}, "policy violation by rule "+d.Rule); err != nil {
					k.log.Error("kernel: reporting a violation", "agent", a.id, "err", err)
				}
			}()
		}
		if kill {
			tc.killed = true
			a.kill(rctx, signals.SIGPOLICY, d)
		}
		if recErr != nil {
			return nil, fmt.Errorf("%w (%w)", v, recErr)
		}
		return nil, v
	}
	if recErr != nil {
		return nil, recErr // fail closed: an unrecorded decision executes nothing
	}
	if k.losses != nil && k.losses.Lost() != nil {
		// The recorder lost acknowledged entries since this syscall was
		// admitted: its decision may be among them. Nothing runs.
		done()
		done = func() {}
		return nil, k.recorderLost()
	}

	// Execution.
	var (
		res   any
		dig   []byte
		opErr error
	)
	out := recorder.StatusOK
	switch {
	case k.shadow && act.Op.SideEffect():
		out = recorder.StatusShadow
	case rq.commit:
		ran := false
		opErr = a.sig.Commit(func() error {
			ran = true
			var e error
			res, dig, e = a.execute(sctx, &rq, act, fr)
			return e
		})
		if !ran {
			out = StatusKilled
		}
	default:
		res, dig, opErr = a.execute(sctx, &rq, act, fr)
		// A result that arrives after the kill is discarded: the commit
		// point of a read or a tool call is its delivery.
		if kerr := a.sig.Commit(func() error { return nil }); kerr != nil {
			res, dig, opErr, out = nil, nil, kerr, StatusKilled
		}
	}
	if opErr != nil && out == recorder.StatusOK {
		out = recorder.StatusError
		if sctx.Err() != nil && errors.Is(opErr, context.Cause(sctx)) || errors.Is(opErr, context.Canceled) {
			out = recorder.StatusCanceled
		}
	}
	end := k.syscallEnd(act.At)
	oe := recorder.Entry{
		Time:          end,
		Kind:          recorder.KindOutcome,
		Trace:         act.ID,
		Agent:         act.Agent,
		Op:            act.Op,
		Tool:          act.Tool,
		Path:          act.Path,
		Target:        act.Target,
		PolicyVersion: d.PolicyVersion,
		Rule:          d.Rule,
		Effect:        d.Effect,
		Status:        out,
		Duration:      end.Sub(act.At), // from the call: gate, decision and execution
	}
	if opErr != nil {
		oe.Error = truncateString(opErr.Error(), maxErrorRecorded)
	}
	switch {
	case dig != nil:
		oe.ResultDigest = digest(dig)
	case rq.digestResult && opErr == nil && out == recorder.StatusOK:
		oe.ResultDigest = resultDigest(res)
	}
	if _, ran := res.(*CommandResult); ran || opErr != nil {
		noteOutcome(&oe, res, opErr) // a command tool's exit status and output digests
	}
	if rq.note != nil && opErr == nil {
		oe.Detail = joinDetail(rq.note(), oe.Detail)
	}
	if overlong(&oe) {
		cutFields(&oe)
	}
	if seen != nil {
		seen.Status = out
	}
	tc.status = out
	if err := k.appendOutcome(rctx, oe); err != nil {
		err = fmt.Errorf("%w: outcome not recorded: %w", ErrRecorder, err)
		k.log.Error("kernel: recording outcome", "agent", a.id, "trace", act.ID, "err", err)
		return res, errors.Join(opErr, err)
	}
	if k.losses != nil && k.losses.Lost() != nil {
		// The effect happened, but its entries may be among those the
		// recorder lost: this syscall does not report success.
		done()
		done = func() {}
		return res, errors.Join(opErr, fmt.Errorf("outcome may not be recorded: %w", k.recorderLost()))
	}
	return res, opErr
}

// decide asks policy, then the approver, and reports whether the syscall may
// run. tool is the registry's description of an exec's tool, or nil.
// detail explains approvals and evaluator errors.
func (a *Agent) decide(ctx context.Context, act *agentos.Action, rq *request, tool *policy.Tool) (_ agentos.Decision, permitted bool, detail string, evalErr error) {
	k := a.k
	in := policy.Input{Action: *act, Agent: a.subjectNow(), Tool: tool, Now: act.At}
	switch {
	case rq.peer != nil:
		in.Peer = rq.peer
	case !rq.topic && act.Target != "":
		if peer := k.Agent(act.Target); peer != nil {
			s := peer.subjectNow()
			in.Peer = &s
		}
	}
	d, err := k.eval.Decide(ctx, in)
	if err != nil {
		d.Effect = agentos.Deny
		d.Refuse = true // the agent did nothing wrong; the kernel could not decide
		if d.Rule == "" {
			d.Rule = RulePolicyError
		}
		if d.Message == "" {
			d.Message = "policy could not decide"
		}
		d.Errors = append(d.Errors, err.Error())
		return d, false, "policy error: " + truncateString(err.Error(), maxErrorRecorded), err
	}
	switch {
	case d.Effect.Permits():
		return d, true, "", nil
	case d.Effect != agentos.Approve:
		return d, false, "", nil
	}
	// Approve: only an approver can let it through, within its timeout.
	d.Refuse = true // an approval not granted refuses; it does not kill
	if k.approver == nil {
		return d, false, "approval required and no approver is configured", nil
	}
	actx, cancel := context.WithTimeout(ctx, k.approveTO)
	defer cancel()
	ok, err := callApprover(actx, k.approver, *act, d)
	switch {
	case actx.Err() != nil:
		return d, false, "approval not granted: " + context.Cause(actx).Error(), nil
	case err != nil:
		return d, false, "approval not granted: " + truncateString(err.Error(), maxErrorRecorded), nil
	case !ok:
		return d, false, "approval refused", nil
	}
	return d, true, "approved", nil
}

// callApprover runs the approver, turning a panic into a refusal.
func callApprover(ctx context.Context, fn Approver, act agentos.Action, d agentos.Decision) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("kernel: approver panicked: %v", r)
		}
	}()
	return fn(ctx, act, d)
}

// refuse records and returns a refusal made by the kernel before the gate.
// With WithStrict it also kills the agent.
func (a *Agent) refuse(ctx context.Context, act *agentos.Action, args json.RawMessage, rule, msg string, cause error) error {
	d := agentos.Decision{
		Effect:        agentos.Deny,
		Rule:          rule,
		Message:       truncateString(msg, maxErrorRecorded),
		Severity:      agentos.SeverityHigh,
		PolicyVersion: a.k.policyVersion(),
		Refuse:        !a.k.strict,
	}
	v := &agentos.PolicyViolation{Action: *act, Decision: d}
	recErr := a.k.appendDecision(ctx, decisionEntry(act, args, a.k.argsLimit, d, recorder.StatusDenied, "", false))
	if a.k.strict {
		a.kill(ctx, signals.SIGPOLICY, d)
	}
	if recErr != nil {
		a.k.log.Error("kernel: recording refusal", "agent", a.id, "trace", act.ID, "err", recErr)
		return fmt.Errorf("%w: %w (%w: %w)", v, cause, ErrRecorder, recErr)
	}
	return fmt.Errorf("%w: %w", v, cause)
}

// kill raises sig (SIGPOLICY) on the agent for decision d.
func (a *Agent) kill(ctx context.Context, sig signals.Signal, d agentos.Decision) {
	reason := "denied by " + d.Rule
	if d.Rule == "" {
		reason = "denied by the default effect"
	}
	if err := a.sig.Send(context.WithoutCancel(ctx), sig, reason); err != nil && !errors.Is(err, agentos.ErrKilled) {
		a.k.log.Error("kernel: raising signal", "agent", a.id, "signal", sig, "err", err)
	}
}

// decisionEntry is the entry that records decision d on act. Arguments
// beyond argsLimit bytes are recorded cut, with the digest of the whole
// (recordedArgs): every decision is recorded, whatever was asked.
// metaOK says act.Meta passed checkMeta already.
func decisionEntry(act *agentos.Action, args json.RawMessage, argsLimit int, d agentos.Decision, status recorder.Status, detail string, metaOK bool) recorder.Entry {
	args, cut := recordedArgs(args, argsLimit)
	if cut != "" {
		if detail != "" {
			cut = detail + "; " + cut
		}
		detail = cut
	}
	e := recorder.Entry{
		Time:          act.At,
		Kind:          recorder.KindDecision,
		Trace:         act.ID,
		Agent:         act.Agent,
		Op:            act.Op,
		Tool:          act.Tool,
		Path:          act.Path,
		Target:        act.Target,
		Args:          args,
		PolicyVersion: d.PolicyVersion,
		Rule:          d.Rule,
		Effect:        d.Effect,
		Message:       d.Message,
		Severity:      d.Severity,
		Status:        status,
		Detail:        detail,
		PayloadType:   act.PayloadType,
		Meta:          act.Meta,
	}
	if !metaOK && checkMeta(act.Meta) != nil {
		// A refusal for bad meta records the action without it: the
		// recorder would refuse the entry, and it must be recorded.
		e.Meta = nil
	}
	if len(e.PayloadType) > recorder.MaxPayloadType || !utf8.ValidString(e.PayloadType) {
		e.PayloadType = truncateString(strings.ToValidUTF8(e.PayloadType, "?"), recorder.MaxPayloadType-4)
	}
	if !act.Op.Valid() {
		e.Op = agentos.Op(truncateString(strings.ToValidUTF8(string(act.Op), "?"), 64))
	}
	if len(d.Errors) > 0 {
		e.Error = truncateString(strings.Join(d.Errors, "; "), maxErrorRecorded)
	}
	if d.Shadow != nil && (d.Shadow.Effect != d.Effect || d.Shadow.Rule != d.Rule) {
		sh := "shadow policy: " + d.Shadow.String()
		if e.Detail != "" {
			sh = e.Detail + "; " + sh
		}
		e.Detail = truncateString(sh, maxErrorRecorded)
	}
	if overlong(&e) {
		cutFields(&e)
	}
	return e
}

// overlong reports whether cutFields would cut e: a path, tool or target
// over maxFieldRecorded. Most entries have none, and skip the call.
func overlong(e *recorder.Entry) bool {
	return len(e.Path) > maxFieldRecorded || len(e.Tool) > maxFieldRecorded || len(e.Target) > maxFieldRecorded
}

// checkMeta checks action meta against the bounds of a recorder entry, so
// that an action the recorder could not record is refused up front.
func checkMeta(m map[string]string) error {
	if len(m) > recorder.MaxMetaEntries {
		return fmt.Errorf("kernel: %w: %d meta entries, at most %d", agentos.ErrInvalid, len(m), recorder.MaxMetaEntries)
	}
	for k, v := range m {
		if err := checkMetaEntry(k, v); err != nil {
			return err
		}
	}
	return nil
}

// checkMetaEntry is checkMeta's check of one entry.
func checkMetaEntry(k, v string) error {
	switch {
	case len(k) > recorder.MaxMetaKey:
		return fmt.Errorf("kernel: %w: meta key of %d bytes, at most %d", agentos.ErrInvalid, len(k), recorder.MaxMetaKey)
	case len(v) > recorder.MaxMetaValue:
		return fmt.Errorf("kernel: %w: meta %q: value of %d bytes, at most %d", agentos.ErrInvalid, k, len(v), recorder.MaxMetaValue)
	case !utf8.ValidString(k) || !utf8.ValidString(v):
		return fmt.Errorf("kernel: %w: meta %q is not valid UTF-8", agentos.ErrInvalid, strings.ToValidUTF8(k, "?"))
	}
	return nil
}

// needsPath reports whether op addresses a VFS path.
func needsPath(op agentos.Op) bool {
	switch op {
	case agentos.OpRead, agentos.OpWrite, agentos.OpAppend, agentos.OpStat, agentos.OpList, agentos.OpDelete:
		return true
	}
	return false
}

const maxErrorRecorded = 4096

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8ValidTail(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// utf8ValidTail reports whether s does not end inside a multi-byte rune.
func utf8ValidTail(s string) bool {
	return strings.ToValidUTF8(s[max(0, len(s)-4):], "\uFFFD") == s[max(0, len(s)-4):]
}

// digest is the "sha256:<hex>" digest of b, built in one allocation.
func digest(b []byte) string {
	return digestSum(sha256.Sum256(b))
}

// digestString is digest of a string's bytes, without copying them.
func digestString(s string) string {
	return digestSum(sha256.Sum256([]byte(s))) // read only, does not escape: no copy
}

func digestSum(sum [sha256.Size]byte) string {
	const prefix = "sha256:"
	var buf [len(prefix) + 2*sha256.Size]byte
	copy(buf[:], prefix)
	hex.Encode(buf[len(prefix):], sum[:])
	return string(buf[:])
}

// execute runs the syscall's effect on act: a file op, rq.run, or the
// tool of a tool call, which gets fr (whose action act is; non-nil when
// rq.exec is) as its context, ctx carrying act.
func (a *Agent) execute(ctx context.Context, rq *request, act *agentos.Action, fr *frame) (any, []byte, error) {
	if rq.file {
		return a.fileOp(ctx, act, rq.data)
	}
	if rq.run != nil {
		return rq.run(ctx, act)
	}
	if rq.exec == nil {
		return nil, nil, fmt.Errorf("kernel: tool %q: %w", act.Tool, agentos.ErrNotFound)
	}
	// The arguments were checked against the tool's schema before policy
	// decided (Exec); CallValidated does not check them again.
	fr.Context = ctx
	res, err := rq.exec.CallValidated(fr, rq.checked)
	if err != nil {
		return nil, nil, err
	}
	return res, nil, nil
}
