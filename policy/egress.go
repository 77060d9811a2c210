package policy

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/agent-os/agentos"
)

// Bounds of the egress section.
const (
	MaxEgressRules        = 1000 // egress rules in one document
	MaxEgressEntries      = 1024 // CIDRs, hosts or ports in one egress rule
	MaxHostAddrs          = 64   // addresses kept per resolved hostname
	DefaultResolveTimeout = 5 * time.Second
)

// Protocol is a transport protocol an egress rule allows.
type Protocol string

// The protocols of egress rules.
const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// PortRange is the ports First through Last, inclusive (1–65535).
type PortRange struct {
	First, Last uint16
}

func (r PortRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// EgressRule is one entry of a document's egress section: the agents it
// applies to (by role, by labels, or both), and the destinations their
// tool processes may reach. Egress is an allow-list: what no rule allows
// is denied, and an agent that no rule selects has no network egress at
// all.
//
//	spec:
//	  egress:
//	    - name: analysts-db
//	      role: analyst              # "*" selects every agent
//	      labels: {team: data}       # all must match
//	      cidrs: [10.20.0.0/16, 127.0.0.1]
//	      hosts: [db.internal]       # resolved when the engine loads
//	      ports: [5432, 8000-8100]
//	      protocols: [tcp]           # tcp (default), udp
type EgressRule struct {
	Name        string
	Description string
	Role        string            // "" when not given; "*" for every agent
	Labels      map[string]string // every label must match; nil when not given
	CIDRs       []netip.Prefix    // a bare address is a /32 or /128
	Hosts       []string          // hostnames, resolved at load
	Ports       []PortRange
	Protocols   []Protocol
	Line        int
	Column      int
	hostPos     []exprPos
}

// Selects reports whether the rule applies to the subject.
func (r *EgressRule) Selects(s Subject) bool {
	if r.Role != "" && r.Role != "*" && r.Role != s.Role {
		return false
	}
	for k, v := range r.Labels {
		if got, ok := s.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Resolver resolves hostnames of egress rules. *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// WithResolver sets the resolver for hostnames in egress rules. Without
// one, a document that names a host fails to load: resolution is never
// implicit. Pass net.DefaultResolver to use the system's.
func WithResolver(r Resolver) Option {
	return func(c *config) error {
		if r == nil {
			return fmt.Errorf("%w: policy: nil resolver", agentos.ErrInvalid)
		}
		c.resolver = r
		return nil
	}
}

// WithResolveTimeout bounds the resolution of all hostnames of one load
// (DefaultResolveTimeout).
func WithResolveTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: policy: resolve timeout must be positive", agentos.ErrInvalid)
		}
		c.resolveTimeout = d
		return nil
	}
}

// Resolution records how a hostname of an egress rule was resolved when
// the engine loaded the documents.
type Resolution struct {
	Policy, Rule string
	Host         string
	Addrs        []netip.Addr
	At           time.Time
}

// EgressAllow is one egress rule that applies to an agent, with its
// hostnames resolved: connections and datagrams to Prefixes, on Ports,
// over Protocols, are allowed.
type EgressAllow struct {
	Policy, Rule string
	Prefixes     []netip.Prefix // the rule's CIDRs, then its hosts' addresses
	Ports        []PortRange
	Protocols    []Protocol
}

// EgressRules is the egress allow-list of one agent under the active
// documents. An empty Allow means no egress at all.
type EgressRules struct {
	PolicyVersion string
	Allow         []EgressAllow
	// Resolutions are the hostname resolutions the Allow entries use.
	Resolutions []Resolution
}

type compiledEgress struct {
	doc   *Document
	rule  *EgressRule
	allow EgressAllow
	res   []Resolution
}

// Egress returns the egress allow-list of subject under the active
// documents: every egress rule, of every document, that selects it (egress
// rules only allow, so they combine by union). It is fail-closed: a
// subject no rule selects gets an empty list. The result shares nothing
// with the engine.
func (e *Engine) Egress(subject Subject) EgressRules {
	if e == nil {
		return EgressRules{}
	}
	rs := e.cur.Load()
	out := EgressRules{PolicyVersion: rs.version}
	for _, c := range rs.egress {
		if !c.rule.Selects(subject) {
			continue
		}
		a := c.allow
		a.Prefixes = slices.Clone(a.Prefixes)
		a.Ports = slices.Clone(a.Ports)
		a.Protocols = slices.Clone(a.Protocols)
		out.Allow = append(out.Allow, a)
		for _, r := range c.res {
			r.Addrs = slices.Clone(r.Addrs)
			out.Resolutions = append(out.Resolutions, r)
		}
	}
	return out
}

// Resolutions returns every hostname resolution of the active documents,
// made when they were loaded (the kernel records them).
func (e *Engine) Resolutions() []Resolution {
	if e == nil {
		return nil
	}
	var out []Resolution
	for _, c := range e.cur.Load().egress {
		for _, r := range c.res {
			r.Addrs = slices.Clone(r.Addrs)
			out = append(out, r)
		}
	}
	return out
}

// compileEgress resolves the hostnames of every egress rule, within ctx
// and the resolve timeout.
func compileEgress(ctx context.Context, docs []*Document, cfg *config, errs *errorList) []compiledEgress {
	var out []compiledEgress
	ctx, cancel := context.WithTimeout(ctx, cfg.resolveTimeout)
	defer cancel()
	for _, d := range docs {
		for i := range d.Egress {
			r := &d.Egress[i]
			c := compiledEgress{doc: d, rule: r, allow: EgressAllow{
				Policy: d.Name, Rule: r.Name,
				Prefixes: slices.Clone(r.CIDRs), Ports: slices.Clone(r.Ports), Protocols: slices.Clone(r.Protocols),
			}}
			ok := true
			for j, h := range r.Hosts {
				fail := func(msg string, err error) {
					e := &Error{File: d.File, Policy: d.Name, Rule: "egress " + strconv.Quote(r.Name),
						Line: r.Line, Column: r.Column, Msg: msg, Err: err}
					if j < len(r.hostPos) {
						e.Line, e.Column = r.hostPos[j].line, r.hostPos[j].col
					}
					errs.add(e)
					ok = false
				}
				if cfg.resolver == nil {
					fail(fmt.Sprintf("host %q needs a resolver (policy.WithResolver); none is configured", h), nil)
					continue
				}
				addrs, err := cfg.resolver.LookupNetIP(ctx, "ip", h)
				if err != nil {
					fail(fmt.Sprintf("resolving host %q: %v", h, err), err)
					continue
				}
				var kept []netip.Addr
				for _, a := range addrs {
					a = a.Unmap().WithZone("")
					if a.IsValid() && !slices.Contains(kept, a) && len(kept) < MaxHostAddrs {
						kept = append(kept, a)
					}
				}
				if len(kept) == 0 {
					fail(fmt.Sprintf("host %q resolved to no address", h), nil)
					continue
				}
				slices.SortFunc(kept, netip.Addr.Compare)
				for _, a := range kept {
					c.allow.Prefixes = append(c.allow.Prefixes, netip.PrefixFrom(a, a.BitLen()))
				}
				c.res = append(c.res, Resolution{Policy: d.Name, Rule: r.Name, Host: h, Addrs: kept, At: cfg.clock()})
			}
			if ok {
				out = append(out, c)
			}
		}
	}
	return out
}

var hostPattern = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$`)

func (p *parser) egress(n *yaml.Node, d *Document) {
	d.Egress = namedList(p, n, "egress", "egress rule", MaxEgressRules, p.egressRule, func(r EgressRule) string { return r.Name })
}

func (p *parser) egressRule(n *yaml.Node, i int) (EgressRule, bool) {
	label := fmt.Sprintf("egress #%d", i+1)
	f := p.fields(n, label, "an egress rule",
		"name", "description", "role", "labels", "cidrs", "hosts", "ports", "protocols")
	if f == nil {
		return EgressRule{}, false
	}
	r := EgressRule{Line: n.Line, Column: n.Column}
	ok := true
	bad := func(x *yaml.Node, format string, args ...any) {
		p.errorf(x, label, format, args...)
		ok = false
	}
	if x, has := f["name"]; !has {
		bad(n, "missing field name")
		return r, false
	} else if s, good := p.str(x, label, "name"); !good {
		return r, false
	} else if !namePattern.MatchString(s) {
		bad(x, "egress rule name %q is not a valid name (letters, digits, '.', '_', '-'; at most 128)", s)
		return r, false
	} else {
		r.Name = s
		label = "egress " + strconv.Quote(s)
	}
	if x, has := f["description"]; has {
		r.Description, _ = p.str(x, label, "description")
	}
	if x, has := f["role"]; has {
		if s, good := p.str(x, label, "role"); !good {
			ok = false
		} else if s == "" {
			bad(x, "role is empty (write \"*\" to select every agent)")
		} else {
			r.Role = s
		}
	}
	if x, has := f["labels"]; has {
		if x.Kind != yaml.MappingNode {
			bad(x, "labels must be a mapping of label to value, not %s", kindName(x))
		} else {
			r.Labels = map[string]string{}
			for k := 0; k+1 < len(x.Content); k += 2 {
				kn, vn := x.Content[k], x.Content[k+1]
				ks, g1 := p.str(kn, label, "label name")
				vs, g2 := p.str(vn, label, "label value")
				if !g1 || !g2 {
					ok = false
					continue
				}
				if _, dup := r.Labels[ks]; dup {
					bad(kn, "label %q given twice", ks)
					continue
				}
				r.Labels[ks] = vs
			}
		}
	}
	if _, hasRole := f["role"]; !hasRole && len(r.Labels) == 0 {
		bad(n, "an egress rule must select agents by role or labels (role: \"*\" selects every agent)")
	}
	list := func(field string) []*yaml.Node {
		x, has := f[field]
		if !has {
			return nil
		}
		if x.Kind != yaml.SequenceNode {
			bad(x, "%s must be a list, not %s", field, kindName(x))
			return nil
		}
		if len(x.Content) == 0 {
			bad(x, "%s is empty", field)
			return nil
		}
		if len(x.Content) > MaxEgressEntries {
			bad(x, "%s has %d entries, over the limit of %d", field, len(x.Content), MaxEgressEntries)
			return nil
		}
		return x.Content
	}
	for _, x := range list("cidrs") {
		s, good := p.str(x, label, "a CIDR")
		if !good {
			ok = false
			continue
		}
		pfx, err := parseCIDR(s)
		if err != nil {
			bad(x, "%v", err)
			continue
		}
		r.CIDRs = append(r.CIDRs, pfx)
	}
	for _, x := range list("hosts") {
		s, good := p.str(x, label, "a host")
		if !good {
			ok = false
			continue
		}
		switch {
		case isAddr(s):
			bad(x, "host %q is an address or a CIDR: list it under cidrs", s)
		case len(s) > 253 || !hostPattern.MatchString(s):
			bad(x, "host %q is not a valid hostname", s)
		default:
			r.Hosts = append(r.Hosts, strings.TrimSuffix(strings.ToLower(s), "."))
			r.hostPos = append(r.hostPos, exprPos{line: x.Line, col: x.Column})
		}
	}
	if _, c := f["cidrs"]; !c {
		if _, h := f["hosts"]; !h {
			bad(n, "an egress rule needs cidrs or hosts (its destinations)")
		}
	}
	if _, has := f["ports"]; !has {
		bad(n, "missing field ports (write [1-65535] for every port)")
	}
	for _, x := range list("ports") {
		pr, err := parsePorts(x)
		if err != nil {
			bad(x, "%v", err)
			continue
		}
		r.Ports = append(r.Ports, pr)
	}
	if _, has := f["protocols"]; !has {
		r.Protocols = []Protocol{TCP}
	}
	for _, x := range list("protocols") {
		s, good := p.str(x, label, "a protocol")
		if !good {
			ok = false
			continue
		}
		switch pr := Protocol(strings.ToLower(s)); pr {
		case TCP, UDP:
			if !slices.Contains(r.Protocols, pr) {
				r.Protocols = append(r.Protocols, pr)
			}
		default:
			bad(x, "unknown protocol %q (want tcp or udp)", s)
		}
	}
	return r, ok
}

func isAddr(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// parseCIDR accepts a canonical CIDR or a bare address.
func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR or an IP address", s)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address %q has a zone", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (%v)", s, strings.TrimPrefix(err.Error(), "netip.ParsePrefix("+strconv.Quote(s)+"): "))
	}
	if m := pfx.Masked(); m != pfx {
		return netip.Prefix{}, fmt.Errorf("CIDR %q has bits set past its prefix length (did you mean %s?)", s, m)
	}
	return pfx, nil
}

// parsePorts reads 443, "443" or "8000-8100".
func parsePorts(x *yaml.Node) (PortRange, error) {
	if x.Kind != yaml.ScalarNode || (x.Tag != "!!int" && x.Tag != "!!str") {
		return PortRange{}, fmt.Errorf("a port must be a number or a range such as 8000-8100, not %s", kindName(x))
	}
	port := func(s string) (uint16, error) {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v < 1 || v > 65535 {
			return 0, fmt.Errorf("port %q is not a number between 1 and 65535", s)
		}
		return uint16(v), nil
	}
	lo, hi, isRange := strings.Cut(x.Value, "-")
	first, err := port(lo)
	if err != nil {
		return PortRange{}, err
	}
	last := first
	if isRange {
		if last, err = port(hi); err != nil {
			return PortRange{}, err
		}
		if last < first {
			return PortRange{}, fmt.Errorf("port range %q is empty", x.Value)
		}
	}
	return PortRange{first, last}, nil
}
