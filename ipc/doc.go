// Package ipc connects agents with typed pipes.
//
// A [Stage] turns an In into an Out ([Func] adapts a plain function).
// Stages compose into a [Pipeline] with [Then] and [Pipe3], [Pipe4],
// [Pipe5]; the compiler checks that each stage's output type is the next
// one's input type. [Pipeline.Execute] runs one value through the stages in
// the calling goroutine; [Pipeline.Stream] runs a channel of values through
// them concurrently, one goroutine per stage ([Parallel] gives a stage
// several), over bounded channels ([WithBuffer]) with backpressure, and
// delivers one [Result] per value in input order. An element that fails is
// reported in its own Result and the stream goes on; cancelling the
// context stops every goroutine, and the output channel is closed once all
// of them have returned.
//
// [PolicyCheck] makes a stage that lets a value cross only if a [Gate]
// admits it, naming the payload by its Go type ([TypeName]: "research.Result"
// for type Result of package …/research). The kernel provides the Gate
// between two agents, turning each crossing into an OpSend syscall that
// policy decides and the flight recorder logs; a refusal is an error for
// which errors.Is(err, agentos.ErrDenied) holds, and the refused value
// never reaches the next stage.
package ipc
