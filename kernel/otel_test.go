package kernel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// otelKernel is a test kernel whose spans go to a SpanRecorder and whose
// metrics to a ManualReader. The tool "sql.query" starts a span of its own
// from the context it is given.
type otelKernel struct {
	*kerneltest.Kernel
	spans   *tracetest.SpanRecorder
	tp      *sdktrace.TracerProvider
	reader  *sdkmetric.ManualReader
	toolCtx trace.SpanContext // the span context the last tool call saw
}

func newOtelKernel(t *testing.T, opts ...kernel.Option) *otelKernel {
	t.Helper()
	ok := &otelKernel{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	ok.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(ok.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(ok.reader))
	t.Cleanup(func() {
		require.NoError(t, ok.tp.Shutdown(context.Background()))
		require.NoError(t, mp.Shutdown(context.Background()))
	})
	sql := func(ctx context.Context, args map[string]any) (any, error) {
		ok.toolCtx = trace.SpanContextFromContext(ctx)
		_, sp := ok.tp.Tracer("sql-tool").Start(ctx, "sql.run")
		defer sp.End()
		return "rows: 1", nil
	}
	failing := func(context.Context, map[string]any) (any, error) {
		return nil, errors.New("upstream unavailable")
	}
	all := append([]kernel.Option{
		kerneltest.Policy(testPolicy + `
    - name: flaky
      effect: allow
      when: action.op == "exec" && action.tool == "flaky"
`),
		kernel.WithTool("sql.query", sql),
		kernel.WithTool("flaky", failing),
		kernel.WithTool("payments.send", sql),
		kernel.WithTracerProvider(ok.tp),
		kernel.WithMeterProvider(mp),
	}, opts...)
	ok.Kernel = kerneltest.New(t, all...)
	return ok
}

// syscallSpans returns the ended syscall spans, in order.
func (ok *otelKernel) syscallSpans() []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range ok.spans.Ended() {
		if strings.HasPrefix(s.Name(), kernel.SpanPrefix) {
			out = append(out, s)
		}
	}
	return out
}

func attrsOf(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestOtelPermittedExecSpan(t *testing.T) {
	ok := newOtelKernel(t)
	ok.MustSpawn("alice")
	a := ok.Agent("alice")

	// The agent's own span parents the syscall's.
	ctx, agentSpan := ok.tp.Tracer("agent").Start(context.Background(), "agent.step")
	res, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT secret_column FROM t"})
	agentSpan.End()
	require.NoError(t, err)
	require.Equal(t, "rows: 1", res)

	spans := ok.syscallSpans()
	require.Len(t, spans, 1)
	sp := spans[0]
	require.Equal(t, kernel.SpanPrefix+"exec", sp.Name())
	require.Equal(t, agentSpan.SpanContext().SpanID(), sp.Parent().SpanID(), "the caller's span is the parent")
	require.Equal(t, agentSpan.SpanContext().TraceID(), sp.SpanContext().TraceID())

	dec := ok.LastDecision("alice")
	attrs := attrsOf(sp)
	require.Equal(t, map[attribute.Key]string{
		kernel.AttrAgent:  "alice",
		kernel.AttrOp:     "exec",
		kernel.AttrTool:   "sql.query",
		kernel.AttrTrace:  dec.Trace,
		kernel.AttrEffect: "allow",
		kernel.AttrRule:   "sql",
		kernel.AttrStatus: "ok",
	}, stringAttrs(attrs))
	require.NotEmpty(t, dec.Trace)
	require.Equal(t, codes.Unset, sp.Status().Code)

	// The tool ran inside the syscall's span, and its own span nests.
	require.Equal(t, sp.SpanContext().SpanID(), ok.toolCtx.SpanID())
	var tool sdktrace.ReadOnlySpan
	for _, s := range ok.spans.Ended() {
		if s.Name() == "sql.run" {
			tool = s
		}
	}
	require.NotNil(t, tool)
	require.Equal(t, sp.SpanContext().SpanID(), tool.Parent().SpanID())

	// Privacy: no argument value reaches any span.
	for _, s := range ok.spans.Ended() {
		for _, kv := range s.Attributes() {
			require.NotContains(t, kv.Value.Emit(), "secret_column")
		}
	}
}

func stringAttrs(m map[attribute.Key]attribute.Value) map[attribute.Key]string {
	out := map[attribute.Key]string{}
	for k, v := range m {
		out[k] = v.Emit()
	}
	return out
}

func TestOtelDeniedSpans(t *testing.T) {
	ok := newOtelKernel(t)
	ctx := context.Background()

	t.Run("killing denial", func(t *testing.T) {
		ok.spans.Reset()
		a := ok.MustSpawn("mallory")
		_, err := a.Exec(ctx, "sql.query", map[string]any{"query": "DROP TABLE users"})
		kerneltest.DeniedBy(t, err, "no-destructive-sql")
		spans := ok.syscallSpans()
		require.Len(t, spans, 1)
		sp := spans[0]
		attrs := stringAttrs(attrsOf(sp))
		require.Equal(t, "deny", attrs[kernel.AttrEffect])
		require.Equal(t, "no-destructive-sql", attrs[kernel.AttrRule])
		require.Equal(t, "denied", attrs[kernel.AttrStatus])
		require.Equal(t, ok.LastDecision("mallory").Trace, attrs[kernel.AttrTrace])
		require.Equal(t, codes.Error, sp.Status().Code)
		require.Equal(t, "denied by rule no-destructive-sql", sp.Status().Description)
		require.Len(t, sp.Events(), 1)
		require.Equal(t, kernel.EventKill, sp.Events()[0].Name)
		require.NotContains(t, strings.Join(valuesOf(sp), " "), "DROP TABLE", "arguments stay out of spans")
	})

	t.Run("refusal keeps the agent", func(t *testing.T) {
		ok.spans.Reset()
		a := ok.MustSpawn("bob")
		err := a.Write(ctx, "/mem/working/secret/key", []byte("x"))
		kerneltest.DeniedBy(t, err, "secrets")
		spans := ok.syscallSpans()
		require.Len(t, spans, 1)
		sp := spans[0]
		require.Equal(t, kernel.SpanPrefix+"write", sp.Name())
		attrs := stringAttrs(attrsOf(sp))
		require.Equal(t, "/mem/working/secret/key", attrs[kernel.AttrPath])
		require.Equal(t, codes.Error, sp.Status().Code)
		require.Empty(t, sp.Events(), "a refusal kills nobody")
		require.NoError(t, a.Err())
	})

	t.Run("kernel refusal before policy", func(t *testing.T) {
		ok.spans.Reset()
		a := ok.MustSpawn("carol")
		_, err := a.Read(ctx, "/mem/../../etc/passwd")
		kerneltest.DeniedBy(t, err, kernel.RulePath)
		spans := ok.syscallSpans()
		require.Len(t, spans, 1)
		attrs := stringAttrs(attrsOf(spans[0]))
		require.Equal(t, kernel.RulePath, attrs[kernel.AttrRule])
		require.Equal(t, "deny", attrs[kernel.AttrEffect])
		require.NotContains(t, attrs, kernel.AttrPath, "a refused path is not echoed")
		require.Equal(t, codes.Error, spans[0].Status().Code)
	})

	t.Run("tool error", func(t *testing.T) {
		ok.spans.Reset()
		a := ok.MustSpawn("dave")
		_, err := a.Exec(ctx, "flaky", nil)
		require.ErrorContains(t, err, "upstream unavailable")
		spans := ok.syscallSpans()
		require.Len(t, spans, 1)
		sp := spans[0]
		attrs := stringAttrs(attrsOf(sp))
		require.Equal(t, "allow", attrs[kernel.AttrEffect])
		require.Equal(t, "error", attrs[kernel.AttrStatus])
		require.Equal(t, codes.Error, sp.Status().Code)
		require.Contains(t, sp.Status().Description, "upstream unavailable")
	})
}

func valuesOf(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, kv := range s.Attributes() {
		out = append(out, kv.Value.Emit())
	}
	for _, ev := range s.Events() {
		for _, kv := range ev.Attributes {
			out = append(out, kv.Value.Emit())
		}
	}
	return append(out, s.Status().Description)
}

func TestOtelApprovalEvent(t *testing.T) {
	for _, grant := range []bool{true, false} {
		t.Run(map[bool]string{true: "granted", false: "refused"}[grant], func(t *testing.T) {
			approver := func(context.Context, agentos.Action, agentos.Decision) (bool, error) { return grant, nil }
			ok := newOtelKernel(t, kernel.WithApprover(approver, time.Second))
			a := ok.MustSpawn("payer")
			_, err := a.Exec(context.Background(), "payments.send", map[string]any{"amount": 10})
			if grant {
				require.NoError(t, err)
			} else {
				kerneltest.DeniedBy(t, err, "payments-approval")
			}
			spans := ok.syscallSpans()
			require.Len(t, spans, 1)
			sp := spans[0]
			require.Equal(t, "approve", stringAttrs(attrsOf(sp))[kernel.AttrEffect])
			var ev *sdktrace.Event
			for i := range sp.Events() {
				if sp.Events()[i].Name == kernel.EventApproval {
					ev = &sp.Events()[i]
				}
			}
			require.NotNil(t, ev)
			require.Contains(t, ev.Attributes, kernel.AttrApproved.Bool(grant))
			if grant {
				require.Equal(t, codes.Unset, sp.Status().Code)
			} else {
				require.Equal(t, codes.Error, sp.Status().Code)
			}
		})
	}
}

// collect reads the kernel's metrics.
func (ok *otelKernel) collect(t *testing.T) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, ok.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != kernel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

func sumOf(t *testing.T, data metricdata.Aggregation, kvs ...attribute.KeyValue) int64 {
	t.Helper()
	s, ok := data.(metricdata.Sum[int64])
	require.True(t, ok, "%T is not an int64 sum", data)
	want := attribute.NewSet(kvs...)
	for _, dp := range s.DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Value
		}
	}
	return 0
}

func TestOtelMetrics(t *testing.T) {
	ok := newOtelKernel(t)
	ctx := context.Background()
	a := ok.MustSpawn("alice")
	for range 2 {
		_, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
		require.NoError(t, err)
	}
	_, err := a.Read(ctx, "/mem/../x")
	kerneltest.DeniedBy(t, err, kernel.RulePath)
	m := ok.MustSpawn("mallory")
	_, err = m.Exec(ctx, "sql.query", map[string]any{"query": "DELETE FROM users"})
	kerneltest.DeniedBy(t, err, "no-destructive-sql")

	got := ok.collect(t)
	dec := got[kernel.MetricDecisions]
	require.NotNil(t, dec)
	require.EqualValues(t, 2, sumOf(t, dec, kernel.AttrEffect.String("allow"), kernel.AttrRule.String("sql")))
	require.EqualValues(t, 1, sumOf(t, dec, kernel.AttrEffect.String("deny"), kernel.AttrRule.String("no-destructive-sql")))
	require.EqualValues(t, 1, sumOf(t, dec, kernel.AttrEffect.String("deny"), kernel.AttrRule.String(kernel.RulePath)))

	h, isHist := got[kernel.MetricSyscallDuration].(metricdata.Histogram[float64])
	require.True(t, isHist)
	counts := map[string]uint64{}
	for _, dp := range h.DataPoints {
		op, _ := dp.Attributes.Value(kernel.AttrOp)
		eff, _ := dp.Attributes.Value(kernel.AttrEffect)
		counts[op.AsString()+"/"+eff.AsString()] += dp.Count
		_, hasPath := dp.Attributes.Value(kernel.AttrPath)
		require.False(t, hasPath, "paths are never metric attributes")
	}
	require.Equal(t, map[string]uint64{"exec/allow": 2, "exec/deny": 1, "read/deny": 1}, counts)

	// The denial killed mallory: SIGPOLICY, escalated to SIGKILL.
	require.Eventually(t, func() bool {
		sig := ok.collect(t)[kernel.MetricSignals]
		if sig == nil {
			return false
		}
		return sumOf(t, sig, kernel.AttrSignal.String("SIGPOLICY"), kernel.AttrSignalAction.String("escalated")) == 1
	}, 5*time.Second, time.Millisecond, "the signal observer runs on the dispatcher's queue")

	// The in-memory recorder has a queue of none and commits nothing to time.
	depth, isGauge := got[kernel.MetricRecorderQueueDepth].(metricdata.Gauge[int64])
	require.True(t, isGauge)
	require.Len(t, depth.DataPoints, 1)
	require.Zero(t, depth.DataPoints[0].Value)
}

func TestOtelRecorderMetrics(t *testing.T) {
	rec, err := recorder.Open(t.TempDir()+"/rec.db", &recorder.Options{Durability: recorder.WriteAhead})
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no SQLite in this build")
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rec.Close()) })
	ok := newOtelKernel(t, kernel.WithRecorder(rec))
	a := ok.MustSpawn("alice")
	_, err = a.Exec(context.Background(), "sql.query", map[string]any{"query": "SELECT 1"})
	require.NoError(t, err)

	got := ok.collect(t)
	n := histCount(t, got, kernel.MetricRecorderCommitDuration)
	require.Positive(t, n, "the decision's WriteAhead commit is timed")
	require.GreaterOrEqual(t, histSum(t, got, kernel.MetricRecorderCommitEntries), int64(2), "spawn and decision at least")
	require.Contains(t, got, kernel.MetricRecorderQueueDepth)
	require.Positive(t, histCount(t, got, kernel.MetricRecorderSyncDuration), "the decision waited for an fsync")
	require.GreaterOrEqual(t, histSum(t, got, kernel.MetricRecorderSyncEntries), int64(2))

	// Close detaches the kernel from the recorder and the provider.
	require.NoError(t, ok.Close())
	before := n
	_, err = rec.Append(context.Background(), recorder.Entry{Kind: recorder.KindLifecycle, Message: "after"})
	require.NoError(t, err)
	got = ok.collect(t)
	n = histCount(t, got, kernel.MetricRecorderCommitDuration)
	// Close's own lifecycle entry and flush are measured; the append after
	// it is not.
	require.LessOrEqual(t, n, before+2)
	_, stillObserved := got[kernel.MetricRecorderQueueDepth]
	require.False(t, stillObserved, "the queue gauge's callback is unregistered")
}

func TestOtelProvidersRefused(t *testing.T) {
	_, err := kernel.New(kernel.WithTracerProvider(nil))
	require.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = kernel.New(kernel.WithMeterProvider(nil))
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

// Without providers the kernel starts no span: the tool sees its caller's
// span, and nothing else is recorded.
func TestOtelOffStartsNothing(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	var seen trace.SpanContext
	k := kerneltest.New(t, kerneltest.Policy(testPolicy), kernel.WithTool("sql.query", func(ctx context.Context, _ map[string]any) (any, error) {
		seen = trace.SpanContextFromContext(ctx)
		return nil, nil
	}))
	a := k.MustSpawn("alice")
	ctx, sp := tp.Tracer("agent").Start(context.Background(), "agent.step")
	_, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
	sp.End()
	require.NoError(t, err)
	require.Equal(t, sp.SpanContext(), seen, "the tool runs in the caller's span")
	require.Len(t, spans.Ended(), 1, "only the caller's own span")
}

func TestOtelTracerOnly(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	k := kerneltest.New(t, kerneltest.Policy(testPolicy), kernel.WithTracerProvider(tp))
	a := k.MustSpawn("alice")
	require.NoError(t, a.Write(context.Background(), "/mem/working/notes", []byte("n")))
	require.Len(t, spans.Ended(), 1)
	require.Equal(t, kernel.SpanPrefix+"write", spans.Ended()[0].Name())
}

func TestOtelStrictRefusalKills(t *testing.T) {
	ok := newOtelKernel(t, kernel.WithStrict())
	a := ok.MustSpawn("alice")
	_, err := a.Read(context.Background(), "/mem/../../etc")
	kerneltest.DeniedBy(t, err, kernel.RulePath)
	spans := ok.syscallSpans()
	require.Len(t, spans, 1)
	require.Len(t, spans[0].Events(), 1)
	require.Equal(t, kernel.EventKill, spans[0].Events()[0].Name)
}

// A syscall that ends before a decision (here: its context ends while the
// agent is stopped) has a span in error without effect or rule, and its
// duration is counted under the effect "none".
func TestOtelUndecidedSyscall(t *testing.T) {
	ok := newOtelKernel(t)
	a := ok.MustSpawn("alice")
	require.NoError(t, ok.Signal(context.Background(), "alice", signals.SIGSTOP, "pause"))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := a.Exec(ctx, "sql.query", map[string]any{"query": "SELECT 1"})
		errc <- err
	}()
	d := signalsOf(t, ok.Kernel, "alice")
	require.Eventually(t, func() bool { return d.Waiting() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-errc, agentos.ErrStopped)

	spans := ok.syscallSpans()
	require.Len(t, spans, 1)
	attrs := stringAttrs(attrsOf(spans[0]))
	require.NotContains(t, attrs, kernel.AttrEffect)
	require.NotContains(t, attrs, kernel.AttrRule)
	require.Equal(t, codes.Error, spans[0].Status().Code)

	h := ok.collect(t)[kernel.MetricSyscallDuration].(metricdata.Histogram[float64])
	var none uint64
	for _, dp := range h.DataPoints {
		if v, _ := dp.Attributes.Value(kernel.AttrEffect); v.AsString() == "none" {
			none += dp.Count
		}
	}
	require.EqualValues(t, 1, none)
	_, isSum := ok.collect(t)[kernel.MetricDecisions]
	require.False(t, isSum, "nothing was decided")
}

// Hostile op and tool names are bounded on spans: at most 256 bytes of
// valid UTF-8 (plus an ellipsis), and an unknown op names no span of its
// own.
func TestOtelAttributesBounded(t *testing.T) {
	ok := newOtelKernel(t)
	a := ok.MustSpawn("alice")
	long := "bad\xff" + strings.Repeat("x", 2000)
	_, err := a.Do(context.Background(), agentos.Action{Op: agentos.Op(long), Tool: long}, func(context.Context) (any, error) { return nil, nil })
	kerneltest.DeniedBy(t, err, kernel.RuleUnknownOp)
	spans := ok.syscallSpans()
	require.Len(t, spans, 1)
	require.Equal(t, kernel.SpanPrefix+"unknown", spans[0].Name())
	for _, kv := range spans[0].Attributes() {
		s := kv.Value.Emit()
		require.True(t, utf8.ValidString(s), "%s is not valid UTF-8", kv.Key)
		require.LessOrEqual(t, len(s), 256+len("…"), "%s is not bounded", kv.Key)
	}
}

// ruleEvaluator allows everything, each decision by a rule of the name the
// action's tool gives.
type ruleEvaluator struct{}

func (ruleEvaluator) Decide(_ context.Context, in policy.Input) (agentos.Decision, error) {
	return agentos.Decision{Effect: agentos.Allow, Rule: in.Action.Tool}, nil
}

// Rules are metric attributes only up to MaxMetricRules distinct pairs;
// past it decisions count under RuleOther.
func TestOtelRuleCardinalityBounded(t *testing.T) {
	var opts []kernel.Option
	for i := range kernel.MaxMetricRules + 10 {
		opts = append(opts, kernel.WithTool(fmt.Sprintf("t%d", i), func(context.Context, map[string]any) (any, error) { return nil, nil }))
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background())) })
	k := kerneltest.New(t, append(opts, kernel.WithPolicy(ruleEvaluator{}), kernel.WithMeterProvider(mp))...)
	a := k.MustSpawn("alice")
	for i := range kernel.MaxMetricRules + 10 {
		_, err := a.Exec(context.Background(), fmt.Sprintf("t%d", i), nil)
		require.NoError(t, err)
	}
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	var dec metricdata.Sum[int64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == kernel.MetricDecisions {
				dec = m.Data.(metricdata.Sum[int64])
			}
		}
	}
	require.Len(t, dec.DataPoints, kernel.MaxMetricRules+1)
	require.EqualValues(t, 10, sumOf(t, dec, kernel.AttrEffect.String("allow"), kernel.AttrRule.String(kernel.RuleOther)))
}

// Observers and telemetry see the same syscalls.
func TestOtelWithObserver(t *testing.T) {
	var seen atomic.Int64
	ok := newOtelKernel(t, kernel.WithObserver(func(context.Context, kernel.Syscall) { seen.Add(1) }))
	a := ok.MustSpawn("alice")
	_, err := a.Exec(context.Background(), "sql.query", map[string]any{"query": "SELECT 1"})
	require.NoError(t, err)
	require.EqualValues(t, 1, seen.Load())
	require.Len(t, ok.syscallSpans(), 1)
}

// A kernel takes one of the recorder's commit functions while it is open
// and gives it back at Close; New fails, registering nothing, when the
// recorder has none left.
func TestOtelRecorderHooksReleased(t *testing.T) {
	rec, err := recorder.Open("", nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rec.Close()) })
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background())) })
	open := func() (*kernel.Kernel, error) {
		return kernel.New(kernel.WithRecorder(rec), kernel.WithMeterProvider(mp))
	}
	var kernels []*kernel.Kernel
	for range recorder.MaxCommitFuncs {
		k, err := open()
		require.NoError(t, err)
		kernels = append(kernels, k)
	}
	_, err = open()
	require.ErrorIs(t, err, agentos.ErrInvalid)
	require.NoError(t, kernels[0].Close())
	k, err := open()
	require.NoError(t, err, "Close gave its commit function back")
	kernels = append(kernels[1:], k)
	for _, k := range kernels {
		require.NoError(t, k.Close())
	}
}

// histCount is the number of observations of the float histogram name.
func histCount(t *testing.T, got map[string]metricdata.Aggregation, name string) uint64 {
	t.Helper()
	h, ok := got[name].(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a histogram", name)
	var n uint64
	for _, dp := range h.DataPoints {
		n += dp.Count
	}
	return n
}

// histSum is the sum of the observations of the integer histogram name.
func histSum(t *testing.T, got map[string]metricdata.Aggregation, name string) int64 {
	t.Helper()
	h, ok := got[name].(metricdata.Histogram[int64])
	require.True(t, ok, "%s is a histogram", name)
	var sum int64
	for _, dp := range h.DataPoints {
		sum += dp.Sum
	}
	return sum
}
