package kernel_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
	"github.com/agent-os/agentos/vfs"
	"github.com/stretchr/testify/require"
)

var (
	propN    = flag.Int("kernel.prop.n", 100_000, "syscalls of TestPropertyCompleteMediation")
	propSeed = flag.Uint64("kernel.prop.seed", 0, "seed of TestPropertyCompleteMediation (0: from the clock)")
)

// propPolicy has allow, deny (kill and refuse), approve and rate-limited
// rules over every op.
const propPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: prop, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: memory-rw
      effect: allow
      when: >-
        action.op in ["read", "write", "append", "stat", "list"] &&
        (path.under(action.path, "/mem") || path.under(action.path, "/state"))
    - name: read-root-and-policy
      effect: allow
      when: action.op in ["read", "stat", "list"] && (action.path == "/" || path.under(action.path, "/policy"))
    - name: delete-tmp
      effect: allow
      when: action.op == "delete" && path.under(action.path, "/mem/working/tmp")
    - name: secrets
      effect: deny
      onDeny: refuse
      when: path.under(action.path, "/mem/working/secret")
    - name: keep-forever
      effect: deny
      when: action.op == "delete" && path.under(action.path, "/state/keep")
    - name: checkpoint
      effect: allow
      when: action.op == "checkpoint"
    - name: rollback-rollers
      effect: allow
      when: action.op == "rollback" && agent.role == "roller"
    - name: tool-allow
      effect: allow
      when: action.op == "exec" && action.tool in ["t.allow", "t.args", "t.rate"]
    - name: tool-audit
      effect: audit
      when: action.op == "exec" && action.tool == "t.audit"
    - name: tool-deny
      effect: deny
      when: action.op == "exec" && action.tool == "t.deny"
    - name: tool-refuse
      effect: deny
      onDeny: refuse
      when: action.op == "exec" && action.tool == "t.refuse"
    - name: tool-args
      effect: deny
      onDeny: refuse
      when: action.op == "exec" && action.tool == "t.args" && action.args.level >= 5
    - name: tool-approve
      effect: approve
      when: action.op == "exec" && action.tool == "t.approve"
    - name: tool-rate
      effect: allow
      when: action.op == "exec" && action.tool == "t.rate"
      limit: {rate: 3, per: 1s}
    - name: send-sink
      effect: allow
      when: action.op == "send" && action.target == "sink"
`

// Tools the property test registers. Those policy never permits must never
// run; the look-alikes differ from permitted names in case or by a
// Unicode confusable.
var (
	propTools     = []string{"t.allow", "t.audit", "t.args", "t.rate", "t.approve", "t.deny", "t.refuse", "t.Allow", "t.аllow", "T.ALLOW"}
	neverRunTools = map[string]bool{"t.deny": true, "t.refuse": true, "t.Allow": true, "t.аllow": true, "T.ALLOW": true}
	propCallNames = append(append([]string(nil), propTools...), "t.unknown", "t.allow ", "")
)

// watchSink records, as the kernel appends them, the decision entries by
// trace, so that an effect can check that its permitting decision was
// recorded before it ran.
type watchSink struct {
	rec       *recorder.Recorder
	decisions sync.Map // trace → recorder.Entry (with Seq)
}

func (s *watchSink) Append(ctx context.Context, e recorder.Entry) (uint64, error) {
	seq, err := s.rec.Append(ctx, e)
	if err == nil && e.Kind == recorder.KindDecision {
		e.Seq = seq
		s.decisions.Store(e.Trace, e)
	}
	return seq, err
}

// ledgerEntry is one file mutation the test asked for.
type ledgerEntry struct {
	agent agentos.AgentID
	op    agentos.Op
	path  string // as given
	err   error
}

type propRun struct {
	t       *testing.T
	sink    *watchSink
	k       *kerneltest.Kernel
	tokens  atomic.Uint64
	mu      sync.Mutex
	ledger  map[string]ledgerEntry     // token → mutation
	keep    map[string]agentos.AgentID // /state/keep token written successfully by a non-roller
	runs    []toolRun
	approve sync.Map // trace → bool, what the approver answered
	calls   atomic.Int64
	viol    atomic.Int64
}

type toolRun struct {
	trace string
	tool  string
	args  map[string]any
}

func (p *propRun) violation(format string, args ...any) {
	p.viol.Add(1)
	p.t.Errorf("VIOLATION: "+format, args...)
}

func (p *propRun) tool(name string) kernel.ToolFunc {
	return func(ctx context.Context, args map[string]any) (any, error) {
		act, ok := kernel.ActionFromContext(ctx)
		if !ok {
			p.violation("tool %s ran without an action in its context", name)
			return nil, nil
		}
		d, ok := p.sink.decisions.Load(act.ID)
		switch {
		case !ok:
			p.violation("tool %s ran (trace %s) before its decision was recorded", name, act.ID)
		case d.(recorder.Entry).Status != kernel.StatusPermitted:
			p.violation("tool %s ran (trace %s) under a decision with status %q", name, act.ID, d.(recorder.Entry).Status)
		}
		if neverRunTools[name] {
			p.violation("tool %s ran: policy never permits it", name)
		}
		if name == "t.args" {
			if lvl, _ := args["level"].(int64); lvl >= 5 {
				p.violation("t.args ran with level %d", lvl)
			}
		}
		if name == "t.approve" {
			if granted, _ := p.approve.Load(act.ID); granted != true {
				p.violation("t.approve ran without approval (trace %s)", act.ID)
			}
		}
		p.mu.Lock()
		p.runs = append(p.runs, toolRun{trace: act.ID, tool: name, args: args})
		p.mu.Unlock()
		if rand.IntN(50) == 0 {
			// Sometimes take a moment, so that signals meet tools in flight.
			select {
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			case <-time.After(50 * time.Microsecond):
			}
		}
		return map[string]any{"tool": name, "ok": true}, nil
	}
}

var hostilePaths = []string{
	"/mem/working/../../etc/passwd", "/mem/working/a\x00b", "/mem/\xff/x", "mem/working/rel", "",
	"/mem/working/a\\b", "/mem/working/\u202eexe", "/..", "/" + strings.Repeat("d/", 70) + "x",
}

func (p *propRun) randPath(r *rand.Rand, token string, roller bool) string {
	switch n := r.IntN(100); {
	case n < 30:
		return fmt.Sprintf("/mem/working/data/f%d", r.IntN(20))
	case n < 45:
		return fmt.Sprintf("/mem/working/tmp/f%d", r.IntN(10))
	case n < 55:
		return fmt.Sprintf("/mem/working/secret/f%d", r.IntN(3))
	case n < 65:
		return "/state/keep/" + token
	case n < 72:
		return fmt.Sprintf("/mem/episodic/log%d", r.IntN(3))
	case n < 76:
		return "/policy/prop.yaml"
	case n < 80:
		return fmt.Sprintf("/memory/x%d", r.IntN(3)) // prefix confusion: no rule allows it
	case n < 83:
		return "/etc/passwd"
	case n < 86:
		return "/mem//working/./data/f" + fmt.Sprint(r.IntN(20)) // cleaned to a data path
	case n < 90:
		return "/state/keep"
	}
	return hostilePaths[r.IntN(len(hostilePaths))]
}

func randArgs(r *rand.Rand) map[string]any {
	switch r.IntN(20) {
	case 0:
		return nil
	case 1:
		return map[string]any{"bad": func() {}} // refused by the kernel
	case 2:
		return map[string]any{"s": "\xff"} // invalid UTF-8: refused
	}
	return map[string]any{
		"level": r.IntN(10),
		"s":     []string{"x", "é", "DROP TABLE t", "\u200b"}[r.IntN(4)],
		"list":  []any{r.Float64(), true, nil},
	}
}

// worker drives one agent slot: random syscalls; when its agent is killed
// it spawns the next generation.
func (p *propRun) worker(ctx context.Context, w int, n int, seed uint64, agents *agentTable) {
	r := rand.New(rand.NewPCG(seed, uint64(w)))
	roller := w%3 == 0
	role := "worker"
	if roller {
		role = "roller"
	}
	gen := 0
	spawn := func() *kernel.Agent {
		gen++
		id := agentos.AgentID(fmt.Sprintf("w%d-g%d", w, gen))
		a, err := p.k.Spawn(ctx, id, kernel.WithRole(role))
		if err != nil {
			p.t.Errorf("spawn %s: %v", id, err)
			return nil
		}
		agents.set(w, a)
		return a
	}
	a := spawn()
	var ckpts, kept []string
	for i := 0; i < n && a != nil; i++ {
		if a.State() == signals.Terminated {
			a = spawn()
			ckpts, kept = nil, nil
			if a == nil {
				return
			}
		}
		p.calls.Add(1)
		token := fmt.Sprintf("tok-%d", p.tokens.Add(1))
		data := []byte(token + "\n")
		switch op := r.IntN(100); {
		case op < 14:
			_, err := a.Read(ctx, p.randPath(r, token, roller))
			p.checkErr(err)
		case op < 32:
			path := p.randPath(r, token, roller)
			err := a.Write(ctx, path, data)
			p.record(token, a, agentos.OpWrite, path, err, roller)
			if err == nil && strings.HasPrefix(path, "/state/keep/") {
				kept = append(kept, path)
			}
		case op < 42:
			path := p.randPath(r, token, roller)
			err := a.Append(ctx, path, data)
			p.record(token, a, agentos.OpAppend, path, err, roller)
		case op < 46:
			_, err := a.Stat(ctx, p.randPath(r, token, roller))
			p.checkErr(err)
		case op < 50:
			_, err := a.List(ctx, p.randPath(r, token, roller))
			p.checkErr(err)
		case op < 56:
			path := p.randPath(r, token, roller)
			if len(kept) > 0 && r.IntN(3) == 0 {
				path = kept[r.IntN(len(kept))] // a file that exists, and must stay
			}
			p.checkErr(a.Delete(ctx, path))
		case op < 85:
			_, err := a.Exec(ctx, propCallNames[r.IntN(len(propCallNames))], randArgs(r))
			p.checkErr(err)
		case op < 89:
			id, err := a.Checkpoint(ctx)
			if err == nil {
				ckpts = append(ckpts, id)
			}
			p.checkErr(err)
		case op < 92:
			id := "nope"
			if len(ckpts) > 0 && r.IntN(4) > 0 {
				id = ckpts[r.IntN(len(ckpts))]
			}
			p.checkErr(a.Rollback(ctx, id))
		case op < 97:
			target := agentos.AgentID([]string{"sink", "w0-g1", "elsewhere"}[r.IntN(3)])
			_, err := a.Do(ctx, agentos.Action{Op: agentos.OpSend, Target: target, PayloadType: "test.Msg"}, func(context.Context) (any, error) {
				if target != "sink" {
					p.violation("a message to %s was delivered", target)
				}
				return nil, nil
			})
			p.checkErr(err)
		default:
			_, err := a.Do(ctx, agentos.Action{Op: agentos.Op([]string{"READ", "exec ", "fork", ""}[r.IntN(4)])}, func(context.Context) (any, error) {
				p.violation("an unknown op ran")
				return nil, nil
			})
			if !errors.Is(err, agentos.ErrDenied) && !errors.Is(err, agentos.ErrKilled) {
				p.violation("unknown op not denied: %v", err)
			}
		}
	}
}

// checkErr flags errors that no syscall of this test may return.
func (p *propRun) checkErr(err error) {
	if errors.Is(err, kernel.ErrRecorder) || errors.Is(err, agentos.ErrClosed) || errors.Is(err, agentos.ErrPanicked) {
		p.t.Errorf("unexpected error: %v", err)
	}
}

func (p *propRun) record(token string, a *kernel.Agent, op agentos.Op, path string, err error, roller bool) {
	p.checkErr(err)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ledger[token] = ledgerEntry{agent: a.ID(), op: op, path: path, err: err}
	if err == nil && !roller && strings.HasPrefix(path, "/state/keep/") {
		p.keep[token] = a.ID()
	}
}

type agentTable struct {
	mu     sync.Mutex
	agents []*kernel.Agent
}

func (t *agentTable) set(i int, a *kernel.Agent) {
	t.mu.Lock()
	t.agents[i] = a
	t.mu.Unlock()
}

func (t *agentTable) pick(r *rand.Rand) *kernel.Agent {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.agents[r.IntN(len(t.agents))]
}

// signaller interleaves random signals with the workers' syscalls and moves
// the fake clock (rate limits) until stop is closed.
func (p *propRun) signaller(stop <-chan struct{}, seed uint64, agents *agentTable) {
	r := rand.New(rand.NewPCG(seed, 1<<32))
	for {
		select {
		case <-stop:
			return
		default:
		}
		p.k.Clock.Advance(time.Duration(r.IntN(200)) * time.Millisecond)
		a := agents.pick(r)
		if a == nil {
			continue
		}
		switch n := r.IntN(1000); {
		case n < 400:
			_ = p.k.Signal(context.Background(), a.ID(), signals.SIGSTOP, "")
			time.Sleep(time.Duration(r.IntN(200)) * time.Microsecond)
			_ = p.k.Signal(context.Background(), a.ID(), signals.SIGCONT, "")
		case n < 600:
			_ = p.k.Signal(context.Background(), a.ID(), signals.SIGINT, "")
		case n < 700:
			_ = p.k.Signal(context.Background(), a.ID(), signals.SIGUSR1, "")
		case n < 750:
			_ = p.k.Signal(context.Background(), a.ID(), signals.SIGUSR2, "")
		case n < 800:
			_ = p.k.Signal(context.Background(), a.ID(), signals.SIGBUDGET, "")
			_ = p.k.Signal(context.Background(), a.ID(), signals.SIGCONT, "")
		case n < 850:
			_ = p.k.Signal(context.Background(), a.ID(), signals.SIGLOOP, "")
			_ = p.k.Signal(context.Background(), a.ID(), signals.SIGCONT, "")
		case n < 900:
			_ = p.k.Signal(context.Background(), a.ID(), signals.SIGDRIFT, "")
		case n < 915:
			_ = p.k.Signal(context.Background(), a.ID(), []signals.Signal{signals.SIGKILL, signals.SIGTRUST, signals.SIGTERM}[r.IntN(3)], "")
		}
		time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
	}
}

// TestPropertyCompleteMediation drives randomized syscalls — every op,
// hostile paths, random tools and arguments, several agents at once, random
// signals interleaved — against a policy with allow, deny, approve and
// rate-limited rules, and checks: no denied action's effect ever happened
// (a tool policy never permits never ran; a file holds only content whose
// write succeeded), every effect has a permitting decision recorded before
// it (by recorder sequence), and the recorder verifies.
func TestPropertyCompleteMediation(t *testing.T) {
	n := *propN
	if testing.Short() {
		n = 10_000
	}
	seed := *propSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -kernel.prop.seed=%d), %d syscalls", seed, seed, n)

	rec, err := recorder.Open("", &recorder.Options{Durability: recorder.Buffered, QueueSize: 1 << 14, BatchSize: 2048})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rec.Close() })
	sink := &watchSink{rec: rec}
	p := &propRun{t: t, sink: sink, ledger: map[string]ledgerEntry{}, keep: map[string]agentos.AgentID{}}
	opts := []kernel.Option{
		kerneltest.Policy(propPolicy),
		kernel.WithRecorder(sink),
		kernel.WithMaxAgents(100_000),
		kernel.WithApprover(func(_ context.Context, act agentos.Action, _ agentos.Decision) (bool, error) {
			h := sha256.Sum256([]byte(act.ID))
			ok := h[0]&1 == 0
			p.approve.Store(act.ID, ok)
			return ok, nil
		}, time.Second),
		kernel.WithQuota(vfs.Quota{MaxFiles: 1 << 14, MaxBytes: 1 << 28, MaxCheckpoints: 8}),
	}
	for _, name := range propTools {
		if atr.CheckName(name) != nil {
			continue // a look-alike the registry refuses: calls to it find no tool
		}
		opts = append(opts, kernel.WithTool(name, p.tool(name)))
	}
	p.k = kerneltest.New(t, opts...)
	// kerneltest's own recorder is unused here; the kernel records into sink.

	const workers = 6
	ctx := context.Background()
	began := time.Now()
	agents := &agentTable{agents: make([]*kernel.Agent, workers)}
	stop := make(chan struct{})
	var sigWG, wg sync.WaitGroup
	for w := range workers {
		share := n / workers
		if w < n%workers {
			share++ // the shares add up to exactly n
		}
		wg.Go(func() { p.worker(ctx, w, share, seed, agents) })
	}
	sigWG.Go(func() { p.signaller(stop, seed, agents) })
	wg.Wait()
	close(stop)
	sigWG.Wait()

	t.Logf("syscalls done after %v", time.Since(began))
	require.NoError(t, rec.Flush(ctx))
	t.Logf("flushed after %v", time.Since(began))
	p.checkFiles(ctx, rec)
	p.checkRuns(ctx, rec)
	t.Logf("checked after %v", time.Since(began))
	rep, err := rec.Verify(ctx)
	t.Logf("verified after %v", time.Since(began))
	require.NoError(t, err)
	require.True(t, rep.OK, "recorder: %v", rep.Err())
	t.Logf("%d syscalls, %d tool runs, %d file mutations, %d recorder entries, %d violations",
		p.calls.Load(), len(p.runs), len(p.ledger), rep.Entries, p.viol.Load())
	require.GreaterOrEqual(t, p.calls.Load(), int64(n))
	require.Zero(t, p.viol.Load())
}

// checkFiles walks every agent's namespace: every token found must come
// from a write or append that succeeded, to that very path, with its
// outcome recorded after a permitting decision; and every successful
// /state/keep write of an agent that cannot roll back is still there
// (deletes there are denied).
func (p *propRun) checkFiles(ctx context.Context, rec *recorder.Recorder) {
	t := p.t
	outcomes := map[string]recorder.Entry{} // result digest → outcome
	for e, err := range rec.Query(ctx, recorder.Filter{Kind: recorder.KindOutcome, Op: agentos.OpWrite}) {
		require.NoError(t, err)
		outcomes[e.ResultDigest] = e
	}
	for e, err := range rec.Query(ctx, recorder.Filter{Kind: recorder.KindOutcome, Op: agentos.OpAppend}) {
		require.NoError(t, err)
		outcomes[e.ResultDigest] = e
	}
	found := map[string]bool{}
	for _, id := range p.k.Agents() {
		fsys, err := p.k.Inspect(id)
		require.NoError(t, err)
		require.NoError(t, fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(name, "policy/") || strings.HasPrefix(name, "state/checkpoints/") {
				return err
			}
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			for tok := range strings.SplitSeq(strings.TrimSuffix(string(data), "\n"), "\n") {
				found[tok] = true
				l, ok := p.ledger[tok]
				clean, cerr := vfs.Clean(l.path)
				switch {
				case !ok:
					p.violation("%s:/%s holds %q, which no syscall wrote", id, name, tok)
				case l.err != nil:
					p.violation("%s:/%s holds %q, whose %s was refused: %v", id, name, tok, l.op, l.err)
				case l.agent != id || cerr != nil || clean != "/"+name:
					p.violation("%s:/%s holds %q, written by %s to %q", id, name, tok, l.agent, l.path)
				default:
					sum := sha256.Sum256([]byte(tok + "\n"))
					o, ok := outcomes["sha256:"+hex.EncodeToString(sum[:])]
					if !ok {
						p.violation("%s:/%s holds %q with no outcome recorded", id, name, tok)
						break
					}
					p.checkDecisionBefore(o)
				}
			}
			return nil
		}))
	}
	for tok, id := range p.keep {
		if !found[tok] {
			p.violation("%s: /state/keep/%s was written and is gone (deletes there are denied)", id, tok)
		}
	}
}

// checkDecisionBefore checks that outcome o has a permitting decision with
// the same trace recorded before it.
func (p *propRun) checkDecisionBefore(o recorder.Entry) {
	v, ok := p.sink.decisions.Load(o.Trace)
	if !ok {
		p.violation("outcome %d (trace %s) has no decision", o.Seq, o.Trace)
		return
	}
	d := v.(recorder.Entry)
	if d.Status != kernel.StatusPermitted || !(d.Effect.Permits() || d.Effect == agentos.Approve) {
		p.violation("outcome %d (trace %s) follows a decision %s/%s", o.Seq, o.Trace, d.Effect, d.Status)
	}
	if d.Seq >= o.Seq {
		p.violation("outcome %d (trace %s) is not after its decision %d", o.Seq, o.Trace, d.Seq)
	}
}

// checkRuns checks that every tool run has an ok (or killed/cancelled)
// outcome after a permitting decision in the recorder itself.
func (p *propRun) checkRuns(ctx context.Context, rec *recorder.Recorder) {
	outs := map[string]recorder.Entry{}
	for e, err := range rec.Query(ctx, recorder.Filter{Kind: recorder.KindOutcome, Op: agentos.OpExec}) {
		require.NoError(p.t, err)
		outs[e.Trace] = e
	}
	decs := map[string]recorder.Entry{}
	for e, err := range rec.Query(ctx, recorder.Filter{Kind: recorder.KindDecision, Op: agentos.OpExec}) {
		require.NoError(p.t, err)
		decs[e.Trace] = e
	}
	for _, r := range p.runs {
		d, ok := decs[r.trace]
		if !ok {
			p.violation("tool %s ran (trace %s) with no decision in the recorder", r.tool, r.trace)
			continue
		}
		if d.Status != kernel.StatusPermitted {
			p.violation("tool %s ran (trace %s) after decision status %s", r.tool, r.trace, d.Status)
		}
		if d.Tool != r.tool {
			p.violation("tool %s ran for a decision about %q", r.tool, d.Tool)
		}
		o, ok := outs[r.trace]
		if !ok {
			p.violation("tool %s ran (trace %s) with no outcome", r.tool, r.trace)
			continue
		}
		if o.Seq <= d.Seq {
			p.violation("tool %s outcome %d not after decision %d", r.tool, o.Seq, d.Seq)
		}
	}
}
