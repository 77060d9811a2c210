package kernel

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/bpf"
	"github.com/agent-os/agentos/policy"
)

func TestEgressRules(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name  string
		allow []policy.EgressAllow
		want  []bpf.Rule
	}{
		{name: "none", allow: nil, want: nil},
		{
			name: "one rule per prefix, prefixes masked",
			allow: []policy.EgressAllow{{
				Prefixes:  []netip.Prefix{p("10.20.3.4/16"), p("::1/128")},
				Ports:     []policy.PortRange{{First: 443, Last: 443}, {First: 8000, Last: 8100}},
				Protocols: []policy.Protocol{policy.TCP, policy.UDP},
			}},
			want: []bpf.Rule{
				{Prefix: p("10.20.0.0/16"), Protocols: bpf.TCP | bpf.UDP, Ports: []bpf.PortRange{{First: 443, Last: 443}, {First: 8000, Last: 8100}}},
				{Prefix: p("::1/128"), Protocols: bpf.TCP | bpf.UDP, Ports: []bpf.PortRange{{First: 443, Last: 443}, {First: 8000, Last: 8100}}},
			},
		},
		{
			name: "udp only",
			allow: []policy.EgressAllow{{
				Prefixes: []netip.Prefix{p("127.0.0.1/32")}, Ports: []policy.PortRange{{First: 53, Last: 53}},
				Protocols: []policy.Protocol{policy.UDP},
			}},
			want: []bpf.Rule{{Prefix: p("127.0.0.1/32"), Protocols: bpf.UDP, Ports: []bpf.PortRange{{First: 53, Last: 53}}}},
		},
		{
			// bpf reads no ports or no protocols as "all": the kernel
			// must not turn an empty list into an open one.
			name: "no ports or no protocols allow nothing",
			allow: []policy.EgressAllow{
				{Prefixes: []netip.Prefix{p("0.0.0.0/0")}, Protocols: []policy.Protocol{policy.TCP}},
				{Prefixes: []netip.Prefix{p("0.0.0.0/0")}, Ports: []policy.PortRange{{First: 1, Last: 65535}}},
			},
			want: nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, egressRules(tc.allow))
		})
	}
}

func TestCgroupName(t *testing.T) {
	for id, want := range map[agentos.AgentID]string{
		"agent-001":  "agent-001",
		"team:a@b.c": "team_a_b.c",
		"x":          "x",
	} {
		assert.Equal(t, want, cgroupName(id))
	}
	long := make([]byte, 128)
	for i := range long {
		long[i] = 'a'
	}
	assert.Len(t, cgroupName(agentos.AgentID(long)), 100)
}
