package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// span is the part of stdouttrace's JSON the test reads.
type span struct {
	Name        string
	SpanContext struct{ SpanID string }
	Parent      struct{ SpanID string }
	Attributes  []struct {
		Key   string
		Value struct{ Value any }
	}
	Status struct{ Code, Description string }
	Events []struct{ Name string }
}

func (s span) attr(key string) any {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.Value
		}
	}
	return nil
}

// TestRun runs the example as "go run ./examples/otel" does and reads back
// what its exporters wrote.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, slog.New(slog.DiscardHandler), config{}))

	spans := map[string][]span{}
	var metricNames []string
	dec := json.NewDecoder(&out)
	for {
		var doc map[string]json.RawMessage
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		raw, err := json.Marshal(doc)
		require.NoError(t, err)
		switch {
		case doc["SpanContext"] != nil:
			var s span
			require.NoError(t, json.Unmarshal(raw, &s))
			spans[s.Name] = append(spans[s.Name], s)
		case doc["ScopeMetrics"] != nil:
			var rm struct {
				ScopeMetrics []struct {
					Metrics []struct{ Name string }
				}
			}
			require.NoError(t, json.Unmarshal(raw, &rm))
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					metricNames = append(metricNames, m.Name)
				}
			}
		}
	}

	task := spans["analyst.task"]
	require.Len(t, task, 1)
	execs := spans["agentos.syscall/exec"]
	require.Len(t, execs, 2)
	byRule := map[any]span{}
	for _, s := range execs {
		require.Equal(t, task[0].SpanContext.SpanID, s.Parent.SpanID, "the agent's span parents each syscall")
		require.Equal(t, "analyst", s.attr("agentos.agent"))
		require.Equal(t, "sql.query", s.attr("agentos.tool"))
		require.NotEmpty(t, s.attr("agentos.trace"))
		byRule[s.attr("agentos.rule")] = s
	}
	allowed, denied := byRule["sql-read"], byRule["no-destructive-sql"]
	require.Equal(t, "allow", allowed.attr("agentos.effect"))
	require.Equal(t, "ok", allowed.attr("agentos.status"))
	require.Equal(t, "deny", denied.attr("agentos.effect"))
	require.Equal(t, "Error", denied.Status.Code)
	require.Equal(t, "denied by rule no-destructive-sql", denied.Status.Description)
	require.Len(t, denied.Events, 1)
	require.Equal(t, "agentos.kill", denied.Events[0].Name)

	tool := spans["sql.execute"]
	require.Len(t, tool, 1)
	require.Equal(t, allowed.SpanContext.SpanID, tool[0].Parent.SpanID, "the tool's span nests under the syscall's")

	require.NotContains(t, out.String(), "DROP TABLE", "argument values stay out of telemetry")
	require.Subset(t, metricNames, []string{"agentos.decisions", "agentos.syscall.duration", "agentos.signals", "agentos.recorder.queue.depth"})
}
