package bpf_test

import (
	"fmt"
	"net/netip"

	"github.com/agent-os/agentos/bpf"
)

// Allows shows how the attached programs decide, without privileges: the
// longest matching prefix decides, carrying the ports of every rule that
// contains it; loopback must be listed like any other address.
func ExampleAllows() {
	rules := []bpf.Rule{
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Protocols: bpf.TCP, Ports: []bpf.PortRange{{First: 443, Last: 443}}},
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Protocols: bpf.TCP, Ports: []bpf.PortRange{{First: 5432, Last: 5432}}},
	}
	for _, d := range []string{"10.1.2.3:443", "10.1.2.3:5432", "10.2.0.1:5432", "127.0.0.1:443"} {
		ok, _ := bpf.Allows(rules, netip.MustParseAddrPort(d), 6)
		fmt.Println(d, ok)
	}
	// Output:
	// 10.1.2.3:443 true
	// 10.1.2.3:5432 true
	// 10.2.0.1:5432 false
	// 127.0.0.1:443 false
}
