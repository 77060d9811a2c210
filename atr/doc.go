// Package atr is the agent tool registry: it holds the tools an agent may
// call, each under a name and a semantic version, with the JSON Schema its
// arguments must satisfy, the class of side effect it has ([SideEffect]),
// its cost, tags, the permissions policy should demand, and an optional
// timeout. [Register] turns a Go function whose argument is a struct into a
// typed tool whose schema is derived from the struct; [Registry.Add] takes
// an untyped function with an explicit schema (kernel tools, command tools,
// tools imported from an MCP server with [ImportMCP]). [Registry.Resolve]
// picks a version by semver constraint, [Tool.Validate] checks arguments
// and names the offending field in an [*ArgError], and [Tool.Call] runs a
// tool only with valid arguments, recovering panics and bounding time.
// [Registry.OpenAI], [Registry.Anthropic] and [Registry.MCP] export the
// current version of every tool in those formats, deterministically.
//
// A [Registry] is safe for concurrent use and bounded ([MaxTools],
// [MaxVersionsPerTool]); the tools it returns are immutable. The package
// starts no goroutines.
package atr
