// Command otel shows a kernel reporting to OpenTelemetry: a span per
// syscall and the kernel's metrics, written by the stdout exporters as one
// JSON document per line. An agent's own span ("analyst.task") parents two
// syscalls: a read-only query policy allows, whose tool starts a span of
// its own under the syscall's, and a destructive one policy denies (the
// span's status is Error and an agentos.kill event says the agent was
// killed). Each syscall span's agentos.trace attribute is the trace id of
// its flight-recorder entries. The kernel logs through log/slog, to
// standard error.
//
// Run it with:
//
//	go run ./examples/otel
//
// # A real collector
//
// With -otlp the spans go to an OpenTelemetry collector over OTLP/HTTP
// instead of standard output (metrics still go to standard output):
//
//	go run ./examples/otel -otlp localhost:4318 -insecure
//
// which is, in a program of your own:
//
//	exp, err := otlptracehttp.New(ctx,
//		otlptracehttp.WithEndpoint("collector.example:4318"), // host:port, no scheme
//		// otlptracehttp.WithInsecure(),                      // plain HTTP, for a local collector
//	)
//	if err != nil { ... }
//	tp := sdktrace.NewTracerProvider(
//		sdktrace.WithBatcher(exp), // export off the syscall path, in batches
//		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("my-agents"))),
//	)
//	defer tp.Shutdown(ctx) // flushes the last batch
//	k, err := kernel.New(kernel.WithTracerProvider(tp), ...)
//
// The exporter's settings can also come from the standard environment
// variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS…),
// which otlptracehttp reads; the kernel itself reads none. Metrics go to a
// collector the same way with the otlpmetrichttp exporter (module
// go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp) in a
// sdkmetric.NewPeriodicReader given to WithMeterProvider. A collector
// usually runs as:
//
//	docker run -p 4318:4318 otel/opentelemetry-collector
//
// Spans carry no argument values, results or payloads (see
// kernel.WithTracerProvider); the flight recorder keeps those.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
)

const policyYAML = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: otel-example, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: sql-read
      effect: allow
      when: action.op == "exec" && action.tool == "sql.query" && sql.readonly(action.args.query)
    - name: no-destructive-sql
      effect: deny
      severity: critical
      when: action.op == "exec" && action.tool == "sql.query" && sql.destructive(action.args.query)
      message: destructive SQL is not allowed
`

// config is what the flags set.
type config struct {
	otlp     string // collector host:port; "" writes spans to out
	insecure bool   // plain HTTP to the collector
}

func main() {
	var c config
	flag.StringVar(&c.otlp, "otlp", "", "send spans to this OTLP/HTTP collector (host:port) instead of standard output")
	flag.BoolVar(&c.insecure, "insecure", false, "use plain HTTP to the collector")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), os.Stdout, log, c); err != nil {
		log.Error("otel example", "err", err)
		os.Exit(1)
	}
}

// run builds the providers and the kernel, makes the agent's two
// syscalls, and shuts the providers down, which writes what they hold to
// out.
func run(ctx context.Context, out io.Writer, log *slog.Logger, c config) (err error) {
	res := resource.NewSchemaless(semconv.ServiceName("agentos-otel-example"))

	var spanExp sdktrace.SpanExporter
	if c.otlp != "" {
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(c.otlp)}
		if c.insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if spanExp, err = otlptracehttp.New(ctx, opts...); err != nil {
			return fmt.Errorf("otlp exporter: %w", err)
		}
	} else if spanExp, err = stdouttrace.New(stdouttrace.WithWriter(out), stdouttrace.WithoutTimestamps()); err != nil {
		return fmt.Errorf("stdout trace exporter: %w", err)
	}
	// A batcher exports off the syscall path; Shutdown flushes it.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(spanExp), sdktrace.WithResource(res))
	defer func() { err = errors.Join(err, tp.Shutdown(context.WithoutCancel(ctx))) }()

	metricExp, err := stdoutmetric.New(stdoutmetric.WithWriter(out), stdoutmetric.WithoutTimestamps())
	if err != nil {
		return fmt.Errorf("stdout metric exporter: %w", err)
	}
	// The periodic reader collects at Shutdown too (the interval is only
	// for a long-running program).
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp)), sdkmetric.WithResource(res))
	defer func() { err = errors.Join(err, mp.Shutdown(context.WithoutCancel(ctx))) }()

	k, err := kernel.New(
		kernel.WithPolicySource("otel-example.yaml", []byte(policyYAML)),
		kernel.WithTool("sql.query", func(ctx context.Context, args map[string]any) (any, error) {
			// The tool's own span nests under the syscall's.
			_, sp := tp.Tracer("example/sql").Start(ctx, "sql.execute")
			defer sp.End()
			return "3 rows", nil
		}),
		kernel.WithTracerProvider(tp),
		kernel.WithMeterProvider(mp),
		kernel.WithLogger(log),
	)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, k.Close()) }()

	a, err := k.Spawn(ctx, "analyst")
	if err != nil {
		return err
	}
	ctx, task := tp.Tracer("example/agent").Start(ctx, "analyst.task")
	defer task.End()

	rows, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT region, sum(total) FROM sales GROUP BY region"})
	if err != nil {
		return fmt.Errorf("the read-only query should be allowed: %w", err)
	}
	log.Info("query allowed", "result", rows)

	_, err = a.Exec(ctx, "sql.query", map[string]any{"query": "DROP TABLE sales"})
	if !errors.Is(err, agentos.ErrDenied) {
		return fmt.Errorf("the destructive query should be denied, got %v", err)
	}
	log.Info("query denied", "err", err)

	// Export the metrics while the kernel is open: Close unregisters its
	// callbacks (the recorder's queue depth), so the collection Shutdown
	// makes afterwards holds the counters and histograms only.
	if err := mp.ForceFlush(ctx); err != nil {
		return fmt.Errorf("exporting metrics: %w", err)
	}
	return nil
}
