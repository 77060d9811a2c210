package mcp

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/atr/scan"
	"github.com/agent-os/agentos/kernel"
)

// Upstream is a governed connection to one MCP server: the front of the
// gateway. [Connect] lists the server's tools, scans and pins them;
// [Upstream.Register] or [Upstream.Options] make the approved ones kernel
// tools, so that an agent reaches them only through [kernel.Agent.Exec].
//
// Every method is safe for concurrent use. The Upstream owns two
// goroutines, joined by [Upstream.Close]: one that waits for the session
// to end, and one that re-lists the tools after a list_changed
// notification.
type Upstream struct {
	cfg    config
	client *mcpsdk.Client
	sess   *mcpsdk.ClientSession
	server string // the name the upstream introduced itself with (its claim, for display)
	name   string // the host's name for it (WithName, or the prefix), for policy

	refreshCh chan struct{}
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	listMu sync.Mutex // one listing at a time

	mu         sync.Mutex
	tools      map[string]*entry // by gateway name
	lastList   time.Time
	closed     bool
	down       error // why the session ended; nil while it lives
	registered map[*atr.Registry]map[string]int
}

type state int

const (
	approved state = iota + 1
	quarantined
	removed
)

// entry is one tool the upstream listed, as the gateway judged it.
type entry struct {
	name     string // gateway name
	def      *mcpsdk.Tool
	digest   [32]byte
	findings []scan.Finding
	state    state
	reason   Reason
	detail   string
	since    time.Time
	pinned   [32]byte  // the pin a changed definition differs from
	tool     *atr.Tool // the definition prepared for validation; nil when it cannot be
	gen      int       // approvals of this tool so far; the atr version is 1.0.gen-1
}

// Connect opens a session with the MCP server at the other end of t, lists
// its tools (every page), scans each with atr/scan, and approves, pins or
// quarantines each as the options say (see [Approval]). It fails when the
// session cannot be opened or the first listing fails; ctx bounds both.
// The Upstream must be closed.
func Connect(ctx context.Context, t mcpsdk.Transport, opts ...Option) (*Upstream, error) {
	cfg := defaults()
	for _, o := range opts {
		if o == nil {
			return nil, invalid("nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.pins == nil {
		cfg.pins = NewPins()
	}
	if t == nil {
		return nil, invalid("nil transport")
	}
	u := &Upstream{
		cfg:        cfg,
		name:       cmp.Or(cfg.name, strings.TrimSuffix(cfg.prefix, ".")),
		refreshCh:  make(chan struct{}, 1),
		stop:       make(chan struct{}),
		tools:      map[string]*entry{},
		registered: map[*atr.Registry]map[string]int{},
	}
	u.client = mcpsdk.NewClient(&mcpsdk.Implementation{Name: "agentos-gateway", Version: "1"}, &mcpsdk.ClientOptions{
		Logger:       cfg.log,
		Capabilities: &mcpsdk.ClientCapabilities{}, // no roots, no sampling: the gateway offers the server nothing
		ToolListChangedHandler: func(context.Context, *mcpsdk.ToolListChangedRequest) {
			select { // coalesce: one listing pending is enough
			case u.refreshCh <- struct{}{}:
			default:
			}
		},
	})
	sess, err := u.client.Connect(ctx, t, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: connecting: %w", ErrUpstream, err)
	}
	u.sess = sess
	if ir := sess.InitializeResult(); ir != nil && ir.ServerInfo != nil {
		u.server = ir.ServerInfo.Name
	}
	if err := u.refresh(ctx, true); err != nil {
		_ = sess.Close()
		return nil, err
	}
	u.wg.Add(2)
	go u.watch()
	go u.relist()
	return u, nil
}

// Server returns the name the upstream server introduced itself with: its
// own claim, for display. Policy sees the host's name for it (see
// [WithName]).
func (u *Upstream) Server() string { return u.server }

// watch waits for the session to end and marks the upstream down.
func (u *Upstream) watch() {
	defer u.wg.Done()
	err := u.sess.Wait()
	if err == nil {
		err = errors.New("session closed")
	}
	u.mu.Lock()
	closed := u.closed
	u.down = err
	u.mu.Unlock()
	if !closed {
		u.emit(Event{Kind: EventUpstreamDown, Upstream: u.server, Detail: err.Error(), At: u.cfg.now()})
	}
}

// relist re-lists the tools after each list_changed notification. Close
// ends a listing in flight by closing the session.
func (u *Upstream) relist() {
	defer u.wg.Done()
	for {
		select {
		case <-u.stop:
			return
		case <-u.refreshCh:
			if err := u.refresh(context.Background(), false); err != nil && !errors.Is(err, agentos.ErrClosed) {
				u.cfg.log.Warn("mcp: re-listing tools after list_changed", "upstream", u.server, "err", err)
			}
		}
	}
}

// Refresh lists the upstream's tools now and judges every definition that
// is new or changed. Errors: one wrapping [ErrUpstream] when the listing
// failed (nothing changes then), agentos.ErrClosed after Close.
func (u *Upstream) Refresh(ctx context.Context) error { return u.refresh(ctx, false) }

func (u *Upstream) refresh(ctx context.Context, initial bool) error {
	u.listMu.Lock()
	defer u.listMu.Unlock()
	if err := u.usable(); err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, u.cfg.listTimeout)
	defer cancel()
	var defs []*mcpsdk.Tool
	for t, err := range u.sess.Tools(lctx, nil) {
		if err != nil {
			err = fmt.Errorf("%w: listing tools: %w", ErrUpstream, err)
			u.emit(Event{Kind: EventRefreshFailed, Upstream: u.server, Detail: err.Error(), At: u.cfg.now()})
			return err
		}
		if len(defs) == u.cfg.maxTools {
			err := fmt.Errorf("%w: listing tools: more than %d tools", ErrUpstream, u.cfg.maxTools)
			u.emit(Event{Kind: EventRefreshFailed, Upstream: u.server, Detail: err.Error(), At: u.cfg.now()})
			return err
		}
		defs = append(defs, t)
	}
	u.apply(defs, initial)
	return nil
}

// apply judges a complete listing against what the gateway knew. New and
// changed definitions are scanned without holding u.mu, so calls go on
// meanwhile; listMu keeps listings from overlapping.
func (u *Upstream) apply(defs []*mcpsdk.Tool, initial bool) {
	now := u.cfg.now()
	seen := map[string]int{}
	for _, d := range defs {
		seen[u.cfg.prefix+d.Name]++
	}
	u.mu.Lock()
	known := make(map[string][32]byte, len(u.tools))
	for name, e := range u.tools {
		if e.state != removed {
			known[name] = e.digest
		}
	}
	u.mu.Unlock()

	var fresh []*entry
	for _, d := range defs {
		name := u.cfg.prefix + d.Name
		digest, derr := Digest(d)
		if old, ok := known[name]; ok && derr == nil && old == digest && seen[name] == 1 {
			continue // unchanged
		}
		e := &entry{name: name, def: d, digest: digest, since: now}
		u.inspect(e, derr, seen[name])
		fresh = append(fresh, e)
	}

	var events []Event
	u.mu.Lock()
	u.lastList = now
	for _, e := range fresh {
		old := u.tools[e.name]
		if old != nil {
			e.gen = old.gen
		}
		ev := u.decide(e, initial)
		if e.state == approved && old != nil && old.state == approved && old.digest == e.digest {
			ev = nil
		}
		u.tools[e.name] = e
		if ev != nil {
			events = append(events, *ev)
		}
	}
	for name, e := range u.tools {
		if seen[name] == 0 && e.state != removed {
			e.state, e.since = removed, now
			events = append(events, Event{Kind: EventRemoved, Upstream: u.server, Tool: name, Digest: e.digest, At: now})
		}
	}
	u.mu.Unlock()
	slices.SortFunc(events, func(a, b Event) int { return strings.Compare(a.Tool, b.Tool) })
	for _, ev := range events {
		u.emit(ev)
	}
}

// inspect scans a new or changed definition and checks that the gateway
// can offer it; a definition it cannot offer is quarantined as
// ReasonInvalid whatever its pin says.
func (u *Upstream) inspect(e *entry, digestErr error, listed int) {
	d := e.def
	// Scan everything the model would read.
	schema, _ := json.Marshal(d.InputSchema)
	e.findings = u.cfg.scanner.Tool(d.Name, d.Description, schema)
	if d.Title != "" {
		e.findings = append(e.findings, u.cfg.scanner.Text("title", d.Title)...)
	}
	if d.Annotations != nil && d.Annotations.Title != "" {
		e.findings = append(e.findings, u.cfg.scanner.Text("annotations/title", d.Annotations.Title)...)
	}
	if d.OutputSchema != nil {
		out, _ := json.Marshal(d.OutputSchema)
		for _, f := range u.cfg.scanner.Tool(d.Name, "", out) {
			if f.Field != "name" && f.Kind != scan.KindPermissive && f.Field != "description" {
				f.Field = "outputSchema" + strings.TrimPrefix(f.Field, "inputSchema")
				e.findings = append(e.findings, f)
			}
		}
	}
	e.findings = append(e.findings, scan.Shadowing(d.Name, u.cfg.known)...)

	switch {
	case digestErr != nil:
		e.state, e.reason, e.detail = quarantined, ReasonInvalid, digestErr.Error()
	case listed > 1:
		e.state, e.reason, e.detail = quarantined, ReasonInvalid, fmt.Sprintf("listed %d times", listed)
	default:
		tool, err := u.prepare(e)
		if err != nil {
			e.state, e.reason, e.detail = quarantined, ReasonInvalid, err.Error()
		}
		e.tool = tool
	}
}

// decide sets the state of a new or changed definition e that inspect
// found offerable (u.mu held), and returns the event to report.
func (u *Upstream) decide(e *entry, initial bool) *Event {
	quarantine := func(r Reason, detail string) *Event {
		e.state, e.reason, e.detail = quarantined, r, detail
		return &Event{Kind: EventQuarantined, Upstream: u.server, Tool: e.name, Reason: r, Detail: detail,
			Findings: e.findings, Digest: e.digest, Pinned: e.pinned, At: e.since}
	}
	if e.reason == ReasonInvalid {
		return quarantine(ReasonInvalid, e.detail)
	}
	pin, pinned := u.cfg.pins.Get(e.name)
	switch {
	case pinned && pin.Digest == e.digest:
		return u.approve(e, "")
	case pinned:
		e.pinned = pin.Digest
		return quarantine(ReasonChanged, "the definition differs from the one approved on "+pin.ApprovedAt.UTC().Format(time.RFC3339))
	case scan.Max(e.findings) >= u.cfg.threshold:
		return quarantine(ReasonFindings, fmt.Sprintf("%d finding(s) at or above %s", len(scan.AtLeast(e.findings, u.cfg.threshold)), u.cfg.threshold))
	case u.cfg.approval == ApproveClean, u.cfg.approval == ApproveAtConnect && initial:
		by := "policy:clean"
		if u.cfg.approval == ApproveAtConnect {
			by = "trust-on-first-use"
		}
		return u.approve(e, by)
	case u.cfg.approval == ApproveAtConnect:
		return quarantine(ReasonNew, "appeared after Connect; an operator must approve it")
	default:
		return quarantine(ReasonUnpinned, "not pinned; an operator must approve it")
	}
}

// approve makes e callable; by, when not empty, pins it as approved by by.
// u.mu is held.
func (u *Upstream) approve(e *entry, by string) *Event {
	if by != "" {
		if err := u.cfg.pins.Set(e.name, Pin{Digest: e.digest, ApprovedAt: e.since, By: by}); err != nil {
			e.state, e.reason, e.detail = quarantined, ReasonInvalid, err.Error()
			return &Event{Kind: EventQuarantined, Upstream: u.server, Tool: e.name, Reason: ReasonInvalid, Detail: e.detail, Digest: e.digest, At: e.since}
		}
	}
	e.gen++
	tool, err := u.prepareVersion(e)
	if err != nil { // inspect prepared it once; a failure here is not expected
		e.gen--
		e.state, e.reason, e.detail = quarantined, ReasonInvalid, err.Error()
		return &Event{Kind: EventQuarantined, Upstream: u.server, Tool: e.name, Reason: ReasonInvalid, Detail: e.detail, Digest: e.digest, At: e.since}
	}
	e.state, e.reason, e.detail, e.tool = approved, "", "", tool
	return &Event{Kind: EventApproved, Upstream: u.server, Tool: e.name, Findings: e.findings, Digest: e.digest, Detail: by, At: e.since}
}

// prepare checks that e can be an atr tool and returns it prepared, for
// argument validation.
func (u *Upstream) prepare(e *entry) (*atr.Tool, error) { return u.prepareVersion(e) }

func (u *Upstream) prepareVersion(e *entry) (*atr.Tool, error) {
	t, err := u.atrTool(e)
	if err != nil {
		return nil, err
	}
	reg := atr.New()
	if err := reg.Add(t); err != nil {
		return nil, err
	}
	return reg.Resolve(t.Name, "")
}

// atrTool is the registry's view of e's definition. Its Func calls the
// upstream through the gateway's checks.
func (u *Upstream) atrTool(e *entry) (atr.Tool, error) {
	d := e.def
	var in, out *jsonschema.Schema
	if err := remarshal(d.InputSchema, &in); err != nil {
		return atr.Tool{}, fmt.Errorf("input schema: %w", err)
	}
	if d.OutputSchema != nil {
		if err := remarshal(d.OutputSchema, &out); err != nil {
			return atr.Tool{}, fmt.Errorf("output schema: %w", err)
		}
	}
	tags := []string{"mcp"}
	if u.name != "" {
		tags = append(tags, "mcp.upstream:"+u.name)
	}
	name := e.name
	return atr.Tool{
		Name: name,
		Meta: atr.Meta{
			Version:     fmt.Sprintf("1.0.%d", max(e.gen-1, 0)),
			Description: d.Description,
			SideEffect:  u.cfg.sideEffect(d),
			Tags:        tags,
		},
		InputSchema:  in,
		OutputSchema: out,
		Func:         func(ctx context.Context, args map[string]any) (any, error) { return u.call(ctx, name, args) },
	}, nil
}

func remarshal(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

// Digest returns the digest the gateway pins for a tool definition as the
// upstream lists it: scan.Fingerprint over the upstream's name of the
// tool, its description and the JSON object
//
//	{"annotations": …, "inputSchema": …, "outputSchema": …, "title": …}
//
// (null for an absent member), so that a change to anything a model or a
// client reads — the description, a schema, a title, a hint such as
// readOnlyHint — changes the digest. _meta and icons are not covered.
func Digest(t *mcpsdk.Tool) ([32]byte, error) {
	doc, err := json.Marshal(struct {
		Annotations  *mcpsdk.ToolAnnotations `json:"annotations"`
		InputSchema  any                     `json:"inputSchema"`
		OutputSchema any                     `json:"outputSchema"`
		Title        string                  `json:"title"`
	}{t.Annotations, t.InputSchema, t.OutputSchema, t.Title})
	if err != nil {
		return [32]byte{}, fmt.Errorf("mcp: tool %q: %w: %v", t.Name, agentos.ErrInvalid, err)
	}
	return scan.Fingerprint(t.Name, t.Description, doc)
}

func (u *Upstream) usable() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.closed:
		return fmt.Errorf("mcp: upstream %s: %w", u.server, agentos.ErrClosed)
	case u.down != nil:
		return fmt.Errorf("%w: upstream %s is down: %w", ErrUpstream, u.server, u.down)
	}
	return nil
}

// call runs one call of tool name (the gateway's name) with args: the
// Func of every tool the gateway offers. It re-lists first when the last
// listing is older than the recheck interval, refuses a tool that is not
// approved with ErrQuarantined, validates args against the approved
// schema, then calls the upstream within the call timeout.
func (u *Upstream) call(ctx context.Context, name string, args map[string]any) (any, error) {
	if err := u.usable(); err != nil {
		return nil, err
	}
	if u.cfg.recheck >= 0 {
		u.mu.Lock()
		due := u.cfg.now().Sub(u.lastList) >= u.cfg.recheck
		u.mu.Unlock()
		if due {
			if err := u.refresh(ctx, false); err != nil {
				return nil, err
			}
		}
	}
	u.mu.Lock()
	e := u.tools[name]
	var (
		upName string
		tool   *atr.Tool
		err    error
	)
	switch {
	case e == nil || e.state == removed:
		err = fmt.Errorf("mcp: tool %s: %w: the upstream does not offer it", name, agentos.ErrNotFound)
	case e.state == quarantined:
		err = fmt.Errorf("%w: %s (%s: %s)", ErrQuarantined, name, e.reason, e.detail)
	default:
		upName, tool = e.def.Name, e.tool
	}
	u.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := tool.Validate(args); err != nil {
		return nil, err
	}
	if args == nil {
		args = map[string]any{}
	}
	cause := fmt.Errorf("%w: tool %s: no answer within %s: %w", ErrUpstream, name, u.cfg.callTimeout, context.DeadlineExceeded)
	cctx, cancel := context.WithTimeoutCause(ctx, u.cfg.callTimeout, cause)
	defer cancel()
	res, err := u.sess.CallTool(cctx, &mcpsdk.CallToolParams{Name: upName, Arguments: args})
	switch {
	case err != nil && context.Cause(cctx) == cause:
		return nil, cause
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("mcp: tool %s: %w", name, context.Cause(ctx))
	case err != nil:
		return nil, fmt.Errorf("%w: tool %s: %w", ErrUpstream, name, err)
	case res == nil:
		return nil, fmt.Errorf("%w: tool %s: empty result", ErrUpstream, name)
	case res.IsError:
		return nil, &ToolError{Tool: name, Message: cut(contentText(res.Content), MaxErrorText)}
	}
	return resultValue(res)
}

// resultValue turns a call result into the tool's result: the structured
// content when there is one, else the text when every block is text, else
// the content blocks as JSON; text or JSON over MaxResultBytes is an error.
// (The SDK's transports bound each message before this.)
func resultValue(res *mcpsdk.CallToolResult) (any, error) {
	if res.StructuredContent != nil {
		return res.StructuredContent, nil
	}
	allText := true
	for _, c := range res.Content {
		if _, ok := c.(*mcpsdk.TextContent); !ok {
			allText = false
		}
	}
	if allText {
		text := contentText(res.Content)
		if len(text) > MaxResultBytes {
			return nil, fmt.Errorf("%w: result of %d bytes is over the bound of %d", ErrUpstream, len(text), MaxResultBytes)
		}
		return text, nil
	}
	b, err := json.Marshal(res.Content)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding result: %v", ErrUpstream, err)
	}
	if len(b) > MaxResultBytes {
		return nil, fmt.Errorf("%w: result of %d bytes is over the bound of %d", ErrUpstream, len(b), MaxResultBytes)
	}
	return json.RawMessage(b), nil
}

func contentText(cs []mcpsdk.Content) string {
	var parts []string
	for _, c := range cs {
		if t, ok := c.(*mcpsdk.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 { // drop a rune the cut split
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s + "…"
}

// Approve approves the definition of tool name whose digest is digest (as
// [Upstream.Quarantined] reported it), pins it as approved by an operator,
// and makes the tool callable. Passing the digest means an operator
// approves exactly what they reviewed: if the upstream changed the
// definition meanwhile, Approve fails with [ErrStale].
//
// Errors: agentos.ErrNotFound for a tool the upstream does not list,
// ErrStale, an error wrapping agentos.ErrInvalid for a tool quarantined as
// ReasonInvalid (it cannot be offered at all), agentos.ErrClosed after
// Close.
func (u *Upstream) Approve(name string, digest [32]byte) error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return fmt.Errorf("mcp: upstream %s: %w", u.server, agentos.ErrClosed)
	}
	e := u.tools[name]
	var err error
	switch {
	case e == nil || e.state == removed:
		err = fmt.Errorf("mcp: tool %s: %w", name, agentos.ErrNotFound)
	case e.digest != digest:
		err = fmt.Errorf("%w: tool %s", ErrStale, name)
	case e.state == quarantined && e.reason == ReasonInvalid:
		err = invalid("tool %s cannot be offered: %s", name, e.detail)
	case e.state == approved:
		u.mu.Unlock()
		return nil
	}
	if err != nil {
		u.mu.Unlock()
		return err
	}
	e.since = u.cfg.now()
	ev := u.approve(e, "operator")
	u.mu.Unlock()
	u.emit(*ev)
	return nil
}

// Quarantined returns the quarantined tools, sorted by name.
func (u *Upstream) Quarantined() []Quarantine {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []Quarantine
	for _, name := range slices.Sorted(maps.Keys(u.tools)) {
		e := u.tools[name]
		if e.state == quarantined {
			out = append(out, Quarantine{Tool: name, Reason: e.reason, Detail: e.detail,
				Findings: slices.Clone(e.findings), Description: e.def.Description, Digest: e.digest, Since: e.since})
		}
	}
	return out
}

// Tools returns the approved tools, sorted by name, as registry tools whose
// Func calls the upstream through the gateway's checks (quarantine,
// argument validation, timeout). Hand them to an [atr.Registry] or use
// [Upstream.Register]; agents should reach them only through the kernel.
func (u *Upstream) Tools() []*atr.Tool {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []*atr.Tool
	for _, name := range slices.Sorted(maps.Keys(u.tools)) {
		if e := u.tools[name]; e.state == approved && e.tool != nil {
			out = append(out, e.tool)
		}
	}
	return out
}

// Register adds the approved tools to reg, each approved definition once,
// classified by [WithSideEffect] and tagged "mcp" and
// "mcp.upstream:NAME" (see [WithName]), which policy reads as
// tool.sideEffect and tool.tags. Give reg to kernel.WithRegistry: the
// kernel then validates arguments against the approved schema before
// policy, and tools registered later are callable without rebuilding the
// kernel. A tool re-approved after a change is added as a new version
// (1.0.N for its N+1st approval), which reg.Resolve then prefers. Call
// Register again after Approve to add what was approved since. A tool
// quarantined after it was registered stays in reg, with its approved
// description, and its calls fail with ErrQuarantined. Errors are those of
// reg.Add, joined, and agentos.ErrClosed after Close.
func (u *Upstream) Register(reg *atr.Registry) error {
	if reg == nil {
		return invalid("nil registry")
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return fmt.Errorf("mcp: upstream %s: %w", u.server, agentos.ErrClosed)
	}
	done := u.registered[reg]
	if done == nil {
		done = map[string]int{}
		u.registered[reg] = done
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(u.tools)) {
		e := u.tools[name]
		if e.state != approved || done[name] >= e.gen {
			continue
		}
		t, err := u.atrTool(e)
		if err == nil {
			err = reg.Add(t)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		done[name] = e.gen
	}
	return errors.Join(errs...)
}

// Options returns a kernel.WithTool option for each approved tool, for a
// kernel without a registry of the caller's: the kernel then knows the
// tools only by name (an open schema, side effect unclassified), the
// gateway still validates arguments before the upstream sees them, and
// tools approved later cannot be added. [Upstream.Register] with
// kernel.WithRegistry is the better fit.
func (u *Upstream) Options() []kernel.Option {
	var opts []kernel.Option
	for _, t := range u.Tools() {
		opts = append(opts, kernel.WithTool(t.Name, t.Call))
	}
	return opts
}

func (u *Upstream) emit(ev Event) {
	switch ev.Kind {
	case EventQuarantined, EventUpstreamDown, EventRefreshFailed:
		u.cfg.log.Warn("mcp: "+string(ev.Kind), "upstream", ev.Upstream, "tool", ev.Tool, "reason", ev.Reason, "detail", ev.Detail, "findings", len(ev.Findings))
	default:
		u.cfg.log.Info("mcp: "+string(ev.Kind), "upstream", ev.Upstream, "tool", ev.Tool, "detail", ev.Detail)
	}
	if k := u.cfg.kernel; k != nil {
		sev := agentos.SeverityInfo
		switch ev.Kind {
		case EventQuarantined:
			sev = agentos.SeverityHigh
		case EventUpstreamDown, EventRefreshFailed:
			sev = agentos.SeverityMedium
		}
		msg := "mcp " + string(ev.Kind) + " " + ev.Upstream
		if ev.Tool != "" {
			msg += " " + ev.Tool
		}
		detail := fmt.Sprintf("reason=%s digest=%x", ev.Reason, ev.Digest)
		if ev.Pinned != ([32]byte{}) {
			detail += fmt.Sprintf(" pinned=%x", ev.Pinned)
		}
		if len(ev.Findings) > 0 {
			detail += fmt.Sprintf(" findings=%d", len(ev.Findings))
		}
		if ev.Detail != "" {
			detail += "; " + ev.Detail
		}
		if err := k.RecordEvent(context.Background(), msg, detail, sev); err != nil {
			u.cfg.log.Error("mcp: recording an event", "kind", ev.Kind, "tool", ev.Tool, "err", err)
		}
	}
	if u.cfg.onEvent != nil {
		u.cfg.onEvent(ev)
	}
}

// Close ends the session with the upstream (for a command transport, the
// server process is asked to exit and then killed) and waits for the
// gateway's goroutines. Calls in flight fail; later calls and a second
// Close return an error wrapping agentos.ErrClosed.
func (u *Upstream) Close() error {
	first := false
	u.closeOnce.Do(func() {
		first = true
		u.mu.Lock()
		u.closed = true
		u.mu.Unlock()
		close(u.stop)
		u.closeErr = u.sess.Close()
		u.wg.Wait()
	})
	if !first {
		return fmt.Errorf("mcp: upstream %s: %w", u.server, agentos.ErrClosed)
	}
	return u.closeErr
}
