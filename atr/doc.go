// Package atr is the agent tool registry: it holds the tools an agent may
// call, each under a name and a semantic version, with the JSON Schema its
// arguments must satisfy, the class of side effect it has ([SideEffect]),
// its cost, tags, the permissions policy should demand, and an optional
// timeout.
//
// # Usage
//
// [Register] turns a Go function whose argument is a struct into a typed
// tool whose input schema is derived from the struct (jsonschema.For: every
// field without omitempty is required, unknown properties are refused).
// [Registry.Add] takes an untyped function with an explicit schema: kernel
// tools, command tools, and tools imported from an MCP server with
// [ImportMCP]. [Registry.Resolve] picks a version by semver constraint
// ("^1.2", "~1.2.3", ">=1, <2"; "" for the current one) and [ParseRef]
// splits "name@constraint". [Tool.Validate] checks arguments and names the
// offending field as a JSON pointer in an [*ArgError]; [Tool.Call] runs a
// tool only with valid arguments, recovering panics ([*PanicError]) and
// bounding time ([Meta.Timeout]). [Registry.OpenAI], [Registry.Anthropic]
// and [Registry.MCP] export the current version of every tool in those
// formats, deterministically; [Registry.ByExportName] maps a function name
// a model chose back to the tool.
//
// Names are 1 to 64 bytes of ASCII letters, digits, '_', '-' and '.'
// ([CheckName]): what every export format accepts once '.' becomes '_'
// ([ExportName]), with collisions refused at registration.
//
// # Concurrency
//
// A [Registry] is safe for concurrent use; the *Tool values it returns are
// immutable and safe for concurrent use too. Tool functions run on the
// goroutine that calls [Tool.Call]. The package starts no goroutines.
//
// # Caveats
//
// Whether arguments are valid is decided by jsonschema-go; atr adds a
// second walk, only on failure, to find the field to blame. That validator
// recurses without a budget, so schemas it could not finish are refused
// when a tool is added: non-local $ref, $dynamicRef, nested $id, $ref
// cycles that apply a schema to the same value again, and fan-out above
// [MaxSchemaFanout]. Everything else is bounded as well: [MaxTools],
// [MaxVersionsPerTool], [MaxArgDepth], [MaxArgNodes], [MaxImportBytes].
// A Go function cannot be stopped from outside: a tool that ignores its
// context runs past its timeout, and Call then reports [ErrTimeout].
package atr
