package policy_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/agent-os/agentos/policy"
)

// staticResolver resolves from a table, as a test or an air-gapped
// deployment would; pass net.DefaultResolver to use the system's.
type staticResolver map[string][]netip.Addr

func (r staticResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return r[host], nil
}

// The egress section of a policy gives each agent the network
// destinations its tool processes may reach; the bpf package enforces
// them in the kernel. An agent no rule selects gets no egress.
func ExampleEngine_Egress() {
	doc, err := policy.Parse("net.yaml", []byte(`apiVersion: agentos/v1
kind: Policy
metadata: {name: net}
spec:
  egress:
    - name: analysts-db
      role: analyst
      cidrs: [10.20.0.0/16]
      hosts: [db.internal]
      ports: [5432]
`))
	if err != nil {
		panic(err)
	}
	// Hostnames are resolved once, at load, within the caller's context
	// (and the resolve timeout): a load can be cancelled.
	ctx := context.Background()
	eng, err := policy.NewEngineContext(ctx, []*policy.Document{doc},
		policy.WithResolver(staticResolver{"db.internal": {netip.MustParseAddr("10.30.0.5")}}))
	if err != nil {
		panic(err)
	}
	for _, role := range []string{"analyst", "intern"} {
		eg := eng.Egress(policy.Subject{ID: "a1", Role: role})
		fmt.Println(role, len(eg.Allow), "rules")
		for _, a := range eg.Allow {
			fmt.Println(" ", a.Rule, a.Prefixes, a.Ports, a.Protocols)
		}
	}
	for _, r := range eng.Resolutions() {
		fmt.Println("resolved", r.Host, r.Addrs)
	}
	// Output:
	// analyst 1 rules
	//   analysts-db [10.20.0.0/16 10.30.0.5/32] [5432] [tcp]
	// intern 0 rules
	// resolved db.internal [10.30.0.5]
}
