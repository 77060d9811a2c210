package policy

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

// fakeResolver answers from a table; it never touches the network.
type fakeResolver struct {
	mu    sync.Mutex
	addrs map[string][]string
	calls []string
}

func (f *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, network+" "+host)
	as, ok := f.addrs[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range as {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

const egressYAML = `spec:
  rules:
    - {name: tools, effect: allow, when: 'action.op == "exec"'}
  egress:
    - name: analysts-db
      role: analyst
      cidrs: [10.20.0.0/16, 127.0.0.1, "::1"]
      hosts: [DB.internal.]
      ports: [5432, "8000-8100"]
    - name: data-dns
      labels: {team: data}
      cidrs: [10.0.0.53]
      ports: [53]
      protocols: [udp, tcp]
    - name: everyone-api
      role: "*"
      hosts: [api.example.com]
      ports: [443]
`

func TestEgressParse(t *testing.T) {
	d := doc(t, "net", egressYAML)
	require.Len(t, d.Egress, 3)
	r := d.Egress[0]
	assert.Equal(t, "analysts-db", r.Name)
	assert.Equal(t, "analyst", r.Role)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}, r.CIDRs)
	assert.Equal(t, []string{"db.internal"}, r.Hosts)
	assert.Equal(t, []PortRange{{5432, 5432}, {8000, 8100}}, r.Ports)
	assert.Equal(t, []Protocol{TCP}, r.Protocols, "tcp by default")
	assert.Equal(t, 8, r.Line)
	assert.Equal(t, []Protocol{UDP, TCP}, d.Egress[1].Protocols)
	assert.Equal(t, map[string]string{"team": "data"}, d.Egress[1].Labels)
	assert.True(t, d.Egress[2].Selects(Subject{}), `role "*" selects every agent`)
}

func TestEgressParseErrors(t *testing.T) {
	cases := []struct {
		name, body string
		line, col  int
		want       string
	}{
		{"unknown field", "  - {name: e, role: a, cidrs: [10.0.0.0/8], ports: [1], prots: [tcp]}\n", 6, 57, `unknown field "prots"`},
		{"bad CIDR", "  - name: e\n    role: a\n    cidrs: [10.0.0.0/33]\n    ports: [1]\n", 8, 13, `"10.0.0.0/33" is not a CIDR`},
		{"host bits", "  - name: e\n    role: a\n    cidrs: [10.0.0.1/8]\n    ports: [1]\n", 8, 13, "did you mean 10.0.0.0/8"},
		{"port zero", "  - name: e\n    role: a\n    cidrs: [10.0.0.0/8]\n    ports: [0]\n", 9, 13, "between 1 and 65535"},
		{"port too big", "  - name: e\n    role: a\n    cidrs: [10.0.0.0/8]\n    ports: [443, 70000]\n", 9, 18, "between 1 and 65535"},
		{"empty range", "  - name: e\n    role: a\n    cidrs: [10.0.0.0/8]\n    ports: [9-1]\n", 9, 13, "is empty"},
		{"bad protocol", "  - name: e\n    role: a\n    cidrs: [10.0.0.0/8]\n    ports: [1]\n    protocols: [icmp]\n", 10, 17, `unknown protocol "icmp"`},
		{"no selector", "  - name: e\n    cidrs: [10.0.0.0/8]\n    ports: [1]\n", 6, 5, "by role or labels"},
		{"no destination", "  - name: e\n    role: a\n    ports: [1]\n", 6, 5, "needs cidrs or hosts"},
		{"no ports", "  - name: e\n    role: a\n    cidrs: [10.0.0.0/8]\n", 6, 5, "missing field ports"},
		{"address as host", "  - name: e\n    role: a\n    hosts: [10.0.0.1]\n    ports: [1]\n", 8, 13, "list it under cidrs"},
		{"bad host", "  - name: e\n    role: a\n    hosts: [\"a b\"]\n    ports: [1]\n", 8, 13, "not a valid hostname"},
		{"duplicate", "  - {name: e, role: a, cidrs: [10.0.0.0/8], ports: [1]}\n  - {name: e, role: a, cidrs: [10.0.0.0/8], ports: [1]}\n", 7, 5, "duplicate egress rule"},
		{"not a list", "    name: e\n", 6, 5, "spec.egress must be a list, not a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("e.yaml", []byte(header+"metadata: {name: net}\nspec:\n  egress:\n"+c.body))
			require.Error(t, err)
			require.ErrorIs(t, err, agentos.ErrInvalid)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Contains(t, err.Error(), c.want)
			assert.Equal(t, c.line, pe.Line, err.Error())
			assert.Equal(t, c.col, pe.Column, err.Error())
		})
	}
}

func TestEgressOfSubjects(t *testing.T) {
	res := &fakeResolver{addrs: map[string][]string{
		"db.internal":     {"10.30.0.5", "::ffff:10.30.0.6", "10.30.0.5"},
		"api.example.com": {"203.0.113.7", "2001:db8::7"},
	}}
	clk := newFakeClock()
	e := engine(t, []Option{WithResolver(res), WithClock(clk.Now)}, doc(t, "net", egressYAML))

	analyst := e.Egress(Subject{ID: "a1", Role: "analyst"})
	assert.Equal(t, e.Version(), analyst.PolicyVersion)
	require.Len(t, analyst.Allow, 2)
	db := analyst.Allow[0]
	assert.Equal(t, "net", db.Policy)
	assert.Equal(t, "analysts-db", db.Rule)
	assert.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("10.30.0.5/32"), netip.MustParsePrefix("10.30.0.6/32"),
	}, db.Prefixes, "hosts resolved at load, deduplicated and unmapped")
	assert.Equal(t, "everyone-api", analyst.Allow[1].Rule)
	require.Len(t, analyst.Resolutions, 2)
	assert.Equal(t, Resolution{Policy: "net", Rule: "analysts-db", Host: "db.internal",
		Addrs: []netip.Addr{netip.MustParseAddr("10.30.0.5"), netip.MustParseAddr("10.30.0.6")}, At: clk.Now()}, analyst.Resolutions[0])

	data := e.Egress(Subject{ID: "d1", Role: "engineer", Labels: map[string]string{"team": "data", "x": "y"}})
	require.Len(t, data.Allow, 2)
	assert.Equal(t, "data-dns", data.Allow[0].Rule)
	assert.Equal(t, []Protocol{UDP, TCP}, data.Allow[0].Protocols)

	other := e.Egress(Subject{ID: "o1", Role: "intern"})
	require.Len(t, other.Allow, 1)
	assert.Equal(t, "everyone-api", other.Allow[0].Rule)

	assert.Len(t, e.Resolutions(), 2)
	assert.ElementsMatch(t, []string{"ip db.internal", "ip api.example.com"}, res.calls, "each host resolved once, at load")
	// The result is a copy.
	analyst.Allow[0].Prefixes[0] = netip.Prefix{}
	assert.Equal(t, netip.MustParsePrefix("10.20.0.0/16"), e.Egress(Subject{Role: "analyst"}).Allow[0].Prefixes[0])
}

func TestEgressFailClosed(t *testing.T) {
	noEgress := doc(t, "plain", "spec:\n  rules:\n    - {name: r, effect: allow, when: 'true'}\n")
	e := engine(t, nil, noEgress)
	assert.Empty(t, e.Egress(Subject{ID: "a", Role: "admin"}).Allow, "no egress section, no egress")
	e = engine(t, nil)
	assert.Empty(t, e.Egress(Subject{ID: "a"}).Allow, "no document, no egress")
	var nilEngine *Engine
	assert.Empty(t, nilEngine.Egress(Subject{}).Allow)

	lab := doc(t, "lab", "spec:\n  egress:\n    - {name: e, labels: {team: data, env: prod}, cidrs: [10.0.0.0/8], ports: [1]}\n")
	e = engine(t, nil, lab)
	assert.Empty(t, e.Egress(Subject{Labels: map[string]string{"team": "data"}}).Allow, "every label must match")
	assert.Len(t, e.Egress(Subject{Labels: map[string]string{"team": "data", "env": "prod"}}).Allow, 1)
}

func TestEgressResolution(t *testing.T) {
	d := doc(t, "net", egressYAML)
	_, err := NewEngine([]*Document{d})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	assert.Contains(t, err.Error(), "needs a resolver")
	assert.Contains(t, err.Error(), "net.yaml:11:15", "the host's position")

	res := &fakeResolver{addrs: map[string][]string{"db.internal": {"10.0.0.1"}}}
	_, err = NewEngine([]*Document{d}, WithResolver(res))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `resolving host "api.example.com": no such host`)

	res.addrs["api.example.com"] = nil
	_, err = NewEngine([]*Document{d}, WithResolver(res))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "resolved to no address")
}

func TestEgressReload(t *testing.T) {
	v1 := doc(t, "net", "spec:\n  egress:\n    - {name: e, role: analyst, cidrs: [10.0.0.0/8], ports: [443]}\n")
	e := engine(t, nil, v1)
	before := e.Egress(Subject{Role: "analyst"})
	require.Len(t, before.Allow, 1)

	v2 := doc(t, "net", "spec:\n  egress:\n    - {name: e, role: analyst, cidrs: [10.0.0.0/8, 192.168.0.0/16], ports: [443, 8443]}\n")
	require.NoError(t, e.Reload([]*Document{v2}))
	after := e.Egress(Subject{Role: "analyst"})
	require.Len(t, after.Allow, 1)
	assert.Len(t, after.Allow[0].Prefixes, 2)
	assert.Equal(t, []PortRange{{443, 443}, {8443, 8443}}, after.Allow[0].Ports)
	assert.NotEqual(t, before.PolicyVersion, after.PolicyVersion)

	// A reload that fails (an unresolvable host) changes nothing.
	bad := doc(t, "net", "spec:\n  egress:\n    - {name: e, role: analyst, hosts: [nowhere.invalid], ports: [443]}\n")
	require.Error(t, e.Reload([]*Document{bad}))
	assert.Equal(t, after, e.Egress(Subject{Role: "analyst"}))
}

func TestEgressJSON(t *testing.T) {
	src := `{"apiVersion": "agentos/v1", "kind": "Policy", "metadata": {"name": "j"},
 "spec": {"egress": [{"name": "e", "role": "*", "cidrs": ["2001:db8::/32"], "ports": [443, "1000-2000"], "protocols": ["udp"]}]}}`
	d, err := Parse("j.json", []byte(src))
	require.NoError(t, err)
	require.Len(t, d.Egress, 1)
	assert.Equal(t, []PortRange{{443, 443}, {1000, 2000}}, d.Egress[0].Ports)
	assert.Equal(t, "1000-2000", d.Egress[0].Ports[1].String())
	assert.True(t, strings.HasPrefix(d.Egress[0].CIDRs[0].String(), "2001:db8::"))
}

// ctxKey marks the caller's context, to see that it reaches the resolver.
type ctxKey struct{}

// blockingResolver answers from the caller's context: it records the
// value under ctxKey and waits until ctx ends.
type blockingResolver struct {
	mu   sync.Mutex
	seen []any
}

func (b *blockingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	b.mu.Lock()
	b.seen = append(b.seen, ctx.Value(ctxKey{}))
	b.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestEgressResolutionUsesCallerContext(t *testing.T) {
	d := doc(t, "net", "spec:\n  egress:\n    - {name: e, role: analyst, hosts: [db.internal], ports: [443]}\n")
	for _, tc := range []struct {
		name string
		load func(ctx context.Context, res Resolver) error
	}{
		{"NewEngineContext", func(ctx context.Context, res Resolver) error {
			_, err := NewEngineContext(ctx, []*Document{d}, WithResolver(res), WithResolveTimeout(time.Hour))
			return err
		}},
		{"ReloadContext", func(ctx context.Context, res Resolver) error {
			e := engine(t, nil, doc(t, "net", "spec:\n  egress:\n    - {name: e, role: analyst, cidrs: [10.0.0.0/8], ports: [443]}\n"))
			e.cfg.resolver, e.cfg.resolveTimeout = res, time.Hour
			before := e.Egress(Subject{Role: "analyst"})
			err := e.ReloadContext(ctx, []*Document{d})
			assert.Equal(t, before, e.Egress(Subject{Role: "analyst"}), "a reload cut short changes nothing")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &blockingResolver{}
			ctx, cancel := context.WithTimeout(context.WithValue(t.Context(), ctxKey{}, "caller"), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := tc.load(ctx, res)
			require.ErrorIs(t, err, context.DeadlineExceeded, "the caller's deadline ended the resolution")
			require.ErrorIs(t, err, agentos.ErrInvalid)
			assert.Less(t, time.Since(start), time.Minute, "not the hour of the resolve timeout")
			assert.Equal(t, []any{"caller"}, res.seen, "the resolver got the caller's context")

			ctx, cancel = context.WithCancel(t.Context())
			cancel()
			require.ErrorIs(t, tc.load(ctx, res), context.Canceled)
		})
	}
}
