package kernel_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
)

// A kernel with a tracer provider starts one span per syscall. Its
// agentos.trace attribute is the trace id of the syscall's recorder
// entries; a denial sets the span's status to Error.
func ExampleWithTracerProvider() {
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(ctx)

	k, err := kernel.New(
		kernel.WithPolicySource("example.yaml", []byte(examplePolicy)),
		kernel.WithTool("sql.query", func(ctx context.Context, args map[string]any) (any, error) {
			return "1 row", nil
		}),
		kernel.WithTracerProvider(tp),
	)
	if err != nil {
		panic(err)
	}
	defer k.Close()
	a, err := k.Spawn(ctx, "agent-001")
	if err != nil {
		panic(err)
	}
	_, _ = a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT count(*) FROM t"})
	_, _ = a.Exec(ctx, "sql.query", map[string]any{"query": "DROP TABLE t"})

	rec := k.Recorder().(*recorder.Recorder)
	for _, s := range spans.Ended() {
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		var recorded int
		for e, err := range rec.Query(ctx, recorder.Filter{Trace: attrs["agentos.trace"]}) {
			if err != nil {
				panic(err)
			}
			if e.Kind == recorder.KindDecision {
				recorded++
			}
		}
		fmt.Printf("%s tool=%s effect=%s rule=%s status=%s span=%s recorded=%d\n",
			s.Name(), attrs["agentos.tool"], attrs["agentos.effect"], attrs["agentos.rule"],
			attrs["agentos.status"], s.Status().Code, recorded)
	}
	// Output:
	// agentos.syscall/exec tool=sql.query effect=allow rule=sql status=ok span=Unset recorded=1
	// agentos.syscall/exec tool=sql.query effect=deny rule=no-destructive-sql status=denied span=Error recorded=1
}
