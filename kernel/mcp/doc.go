// Package mcp is the governed MCP gateway: it puts the kernel between an
// agent and the Model Context Protocol in both directions.
//
// Serve: [NewServer] exposes the tools of an [atr.Registry] as an MCP server
// for one agent, and runs every tools/call as that agent's syscall
// ([kernel.Agent.Exec]): the kernel decides it by policy and records it in
// the flight recorder. A call policy denies becomes an MCP error result
// whose text names the rule and its message; nothing runs. [Run] serves it
// on stdio or any transport, [HTTPHandler] on streamable HTTP.
//
// Front: [Connect] opens a session with an upstream MCP server (in process,
// a subprocess on stdio through mcp.CommandTransport, or streamable HTTP),
// lists its tools, scans each definition with package atr/scan and
// approves, pins or quarantines it. The approved tools become kernel tools
// ([Upstream.Register] into the kernel's registry, or [Upstream.Options])
// whose calls go through the gateway: a quarantined tool is refused with
// [ErrQuarantined], arguments are validated against the approved schema
// before the upstream sees them, each call is bounded by a timeout, and a
// dead or hung upstream is an error ([ErrUpstream]), never a hang. The
// agent reaches them only through Exec, so policy decides and the recorder
// records every call.
//
// # Usage
//
//	u, err := mcp.Connect(ctx, &mcpsdk.CommandTransport{Command: exec.Command("github-mcp-server", "stdio")},
//		mcp.WithPrefix("github."),
//		mcp.WithPins(pins), // loaded with mcp.LoadPinsFile
//		mcp.WithOnEvent(func(ev mcp.Event) { /* record, alert */ }),
//	)
//	if err != nil {
//		return err
//	}
//	defer u.Close()
//	for _, q := range u.Quarantined() {
//		// show q.Findings to an operator; u.Approve(q.Tool, q.Digest) if they agree
//	}
//	reg := atr.New()
//	if err := u.Register(reg); err != nil {
//		return err
//	}
//	k, err := kernel.New(kernel.WithRegistry(reg), kernel.WithPolicyFile("policy.yaml"))
//	// ...
//	out, err := agent.Exec(ctx, "github.create_issue", args)
//
// Policy sees an upstream tool's registry entry: tool.sideEffect (atr.Network
// unless [WithSideEffect] classifies it) and tool.tags ("mcp" and
// "mcp.upstream:NAME", the host's name for the server), so a rule can
// cover every tool of one server.
//
// # Pins and rug pulls
//
// Each approved definition is pinned: its [Digest] (name, description,
// input and output schema, title, annotations) is stored in [Pins], which
// an operator can save, review and load ([Pins.SaveFile], [LoadPinsFile]).
// When the upstream's tool list changes — it sends
// notifications/tools/list_changed, or a call finds the last listing older
// than the recheck interval ([WithRecheck]) — the gateway lists again; a
// definition that differs from its pin is quarantined (ReasonChanged) until
// an operator approves the new one with [Upstream.Approve], which takes the
// digest they reviewed so that a definition changed after review is not
// approved by mistake ([ErrStale]). Every quarantine, approval, removal and
// failure is reported as an [Event] to [WithOnEvent] and to the logger. By
// default ([ApproveAtConnect]) clean tools listed at Connect are trusted on
// first use, and tools that appear later wait for an operator.
//
// # Threat model
//
// The upstream server is untrusted: its definitions are text that the
// agent's model reads as instructions, and its results are data. The
// scanner catches the known shapes of tool poisoning — hidden Unicode,
// hidden markup, injection phrases (after folding look-alike letters),
// encoded payloads, exfiltration hints, text hidden after blank lines,
// look-alike names shadowing known tools, schemas that accept anything —
// and pinning catches any change after review. It cannot catch intent: a
// description that asks for something harmful in words the patterns do not
// know, or a tool whose code does something other than its description
// says, passes the scan. That is why every call still goes through policy,
// why upstream tools are classified atr.Network by default (their effect
// happens on another machine; the server's own annotations are hints from
// an untrusted party and are not believed), and why the recorder keeps the
// trail. Results are not scanned: a tool's output can carry an injection
// into the model's next turn, and policy on the following calls is the
// defence. The gateway offers the upstream no client capabilities (no
// roots, no sampling, no elicitation), so the server cannot ask the agent's
// model or file system for anything, and the name a server introduces itself
// with is never what policy sees ([WithName]). What a hostile server can cost
// is bounded: the tools per listing ([WithMaxTools]), the text scanned per
// definition (atr/scan's bounds: each of the four scans of a definition
// reads at most 256 KiB, about 0.1 s on the benchmark machine), the time
// per call ([WithCallTimeout]) and per listing ([WithListTimeout]), the bytes per
// result ([MaxResultBytes]). The server side trusts its own
// registry; it exposes exactly the tools given and nothing else.
//
// # Concurrency
//
// An [Upstream] is safe for concurrent use. It owns two goroutines, joined
// by [Upstream.Close]: one waits for the session to end and marks the
// upstream down, the other re-lists the tools after a list_changed
// notification. Event callbacks run on the goroutine that detected the
// event. The server of [NewServer] runs each call on the SDK's goroutine for
// that request.
package mcp
