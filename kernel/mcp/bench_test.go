package mcp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agent-os/agentos/atr"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/kernel/mcp"
)

// benchPaths builds the two paths a tools/call can take, both over
// loopback HTTP (streamable HTTP, the SDK's defaults on every hop):
//
//	direct:  SDK client → upstream HTTP server → search handler
//	gateway: SDK client → gateway HTTP server (NewServer) → kernel Exec
//	         (schema check, policy decision, two recorder entries in an
//	         in-memory recorder) → gateway tool (quarantine check,
//	         argument validation) → upstream SDK client → upstream HTTP
//	         server → search handler
//
// The gateway path has two HTTP round trips to the direct path's one, so
// its ratio to the direct path measures the gateway's whole cost,
// including the extra hop an agent pays for putting a gateway in front of
// a server at all, not the kernel's cost alone.
//
// Measured with
//
//	go test -run=NONE -bench='Call|Ratio' -benchtime=3s -count=2 ./kernel/mcp/
//
// on 2 shared AMD EPYC cores: direct 0.51–0.58 ms per call, gateway
// 1.04–1.07 ms (BenchmarkCallRatio: 2.0–2.35×, about one extra hop's
// worth); an agent's Exec through the gateway's front against the direct
// call (BenchmarkExecRatio, one hop each) 1.05–1.07×, i.e. policy, two
// recorder entries, the quarantine check and argument validation cost
// about 40 µs on a call whose HTTP round trip costs about 600 µs.
func benchPaths(b *testing.B) (direct, gateway func(context.Context) error) {
	direct, gateway, _ = benchAll(b)
	return direct, gateway
}

// benchAll returns the two paths of benchPaths and a third, exec: agent
// code in the gateway's process calling a.Exec (policy, recorder, gateway
// checks) → upstream SDK client → upstream HTTP server — the path of an
// agent built on agentos, one HTTP round trip like direct.
func benchAll(b *testing.B) (direct, gateway, exec func(context.Context) error) {
	up := newFakeUpstream(nil)
	ups := httptest.NewServer(mcpsdk.NewStreamableHTTPHandler(func(*http.Request) *mcpsdk.Server { return up.srv }, nil))
	b.Cleanup(ups.Close)
	ctx := context.Background()
	newClient := func(url string) *mcpsdk.ClientSession {
		cs, err := mcpsdk.NewClient(&mcpsdk.Implementation{Name: "bench", Version: "1"}, nil).
			Connect(ctx, &mcpsdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cs.Close() })
		return cs
	}

	dc := newClient(ups.URL)
	direct = func(ctx context.Context) error {
		_, err := dc.CallTool(ctx, &mcpsdk.CallToolParams{Name: "search", Arguments: map[string]any{"q": "x"}})
		return err
	}

	u, err := mcp.Connect(ctx, &mcpsdk.StreamableClientTransport{Endpoint: ups.URL, MaxRetries: -1}, mcp.WithPrefix("up."))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = u.Close() })
	reg := atr.New()
	if err := u.Register(reg); err != nil {
		b.Fatal(err)
	}
	k := kerneltest.New(b, kernel.WithRegistry(reg), kerneltest.Policy(upstreamPolicy))
	a := k.MustSpawn("agent-1")
	srv, err := mcp.NewServer(a, reg)
	if err != nil {
		b.Fatal(err)
	}
	gs := httptest.NewServer(mcp.HTTPHandler(srv, nil))
	b.Cleanup(gs.Close)
	gc := newClient(gs.URL)
	gateway = func(ctx context.Context) error {
		res, err := gc.CallTool(ctx, &mcpsdk.CallToolParams{Name: "up.search", Arguments: map[string]any{"q": "x"}})
		if err == nil && res.IsError {
			b.Fatalf("gateway call failed: %v", res.Content[0])
		}
		return err
	}
	exec = func(ctx context.Context) error {
		_, err := a.Exec(ctx, "up.search", map[string]any{"q": "x"})
		return err
	}
	return direct, gateway, exec
}

// BenchmarkCallDirect is a tools/call from an SDK client straight to the
// upstream over loopback HTTP.
func BenchmarkCallDirect(b *testing.B) {
	direct, _ := benchPaths(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := direct(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallGateway is the same call governed by the gateway (see
// benchPaths).
func BenchmarkCallGateway(b *testing.B) {
	_, gateway := benchPaths(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := gateway(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallRatio alternates the two paths in one run, so that both see
// the same machine load, and reports each one's time per call and their
// ratio (gateway/direct).
func BenchmarkCallRatio(b *testing.B) {
	direct, gateway := benchPaths(b)
	alternate(b, direct, gateway, "gateway-ns/call")
}

// BenchmarkExecRatio alternates the direct path with an agent's Exec
// through the gateway's front (see benchAll): both one HTTP round trip to
// the upstream, so the ratio is what governing the call costs.
func BenchmarkExecRatio(b *testing.B) {
	direct, _, exec := benchAll(b)
	alternate(b, direct, exec, "exec-ns/call")
}

// alternate times direct and other one after the other in each iteration
// and reports both per call and their ratio (other/direct).
func alternate(b *testing.B, direct, other func(context.Context) error, unit string) {
	ctx := context.Background()
	var dt, ot time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		if err := direct(ctx); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := other(ctx); err != nil {
			b.Fatal(err)
		}
		ot += time.Since(t1)
		dt += t1.Sub(t0)
		n++
	}
	b.ReportMetric(float64(dt.Nanoseconds())/float64(n), "direct-ns/call")
	b.ReportMetric(float64(ot.Nanoseconds())/float64(n), unit)
	b.ReportMetric(float64(ot)/float64(dt), "ratio")
}
