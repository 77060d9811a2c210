package bpf

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/agent-os/agentos"
)

// Proto is a set of transport protocols a Rule allows.
type Proto uint8

// The protocols egress rules know. Other IP protocols (ICMP, SCTP, raw IP)
// are never allowed.
const (
	TCP Proto = 1 << iota
	UDP
	// AnyProto is TCP and UDP.
	AnyProto = TCP | UDP
)

func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case AnyProto:
		return "tcp+udp"
	}
	return fmt.Sprintf("proto(%d)", uint8(p))
}

// PortRange is the ports First through Last, inclusive.
type PortRange struct {
	First, Last uint16
}

// Bounds on an allow-list.
const (
	// MaxPrefixes bounds the distinct prefixes of one rule list.
	MaxPrefixes = 16384
	// MaxRangesPerPrefix bounds the port ranges that apply to one prefix
	// (its own and those of the shorter prefixes that contain it, after
	// merging adjacent and overlapping ranges, per protocol).
	MaxRangesPerPrefix = 16
)

// Rule allows connections and datagrams to the addresses of Prefix, on
// Ports, over Protocols. The zero Protocols means TCP and UDP; no Ports
// means every port. IPv4 and IPv6 are separate: 0.0.0.0/0 allows no IPv6
// address and ::/0 no IPv4 one; an IPv4-mapped IPv6 prefix
// (::ffff:10.0.0.0/104) is the IPv4 prefix it maps. Loopback is not
// special: 127.0.0.0/8 and ::1/128 must be listed to be reachable.
type Rule struct {
	Prefix    netip.Prefix
	Protocols Proto
	Ports     []PortRange
}

func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(r.Prefix.String())
	p := r.Protocols
	if p == 0 {
		p = AnyProto
	}
	fmt.Fprintf(&b, " %s", p)
	if len(r.Ports) == 0 {
		b.WriteString(" all ports")
	}
	for i, pr := range r.Ports {
		sep := ","
		if i == 0 {
			sep = " port "
		}
		if pr.First == pr.Last {
			fmt.Fprintf(&b, "%s%d", sep, pr.First)
		} else {
			fmt.Fprintf(&b, "%s%d-%d", sep, pr.First, pr.Last)
		}
	}
	return b.String()
}

// trieKey is a prefix as the programs store it: 128-bit, IPv4 mapped.
type trieKey struct {
	addr [16]byte
	bits int
	v4   bool
}

func keyOf(p netip.Prefix) trieKey {
	a := p.Addr()
	if a.Is4() {
		return trieKey{addr: netip.AddrFrom16(a.As16()).As16(), bits: p.Bits() + 96, v4: true}
	}
	return trieKey{addr: a.As16(), bits: p.Bits()}
}

type protoRange struct {
	first, last uint16
	protos      Proto
}

// entry is one element of the trie: a prefix and what it allows.
type entry struct {
	key    trieKey
	ranges []protoRange
}

// compileRules validates rules and computes the trie entries: one per
// distinct prefix, carrying the union of the ranges of every rule whose
// prefix contains it (of the same family), so that the longest match
// alone decides. Errors wrap agentos.ErrInvalid.
func compileRules(rules []Rule) ([]entry, error) {
	type acc struct {
		key    trieKey
		ranges []protoRange
	}
	byKey := map[trieKey]*acc{}
	var order []trieKey
	for i, r := range rules {
		if !r.Prefix.IsValid() {
			return nil, fmt.Errorf("%w: bpf: rule %d: invalid prefix", agentos.ErrInvalid, i+1)
		}
		p := r.Prefix
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return nil, fmt.Errorf("%w: bpf: rule %d: IPv4-mapped prefix %s shorter than /96", agentos.ErrInvalid, i+1, p)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if p.Addr().Zone() != "" {
			return nil, fmt.Errorf("%w: bpf: rule %d: prefix %s has a zone", agentos.ErrInvalid, i+1, r.Prefix)
		}
		p = p.Masked()
		protos := r.Protocols
		if protos == 0 {
			protos = AnyProto
		}
		if protos&^AnyProto != 0 {
			return nil, fmt.Errorf("%w: bpf: rule %d: unknown protocols %#x", agentos.ErrInvalid, i+1, uint8(r.Protocols))
		}
		ports := r.Ports
		if len(ports) == 0 {
			ports = []PortRange{{0, 65535}}
		}
		k := keyOf(p)
		a := byKey[k]
		if a == nil {
			if len(byKey) >= MaxPrefixes {
				return nil, fmt.Errorf("%w: bpf: more than %d prefixes", agentos.ErrInvalid, MaxPrefixes)
			}
			a = &acc{key: k}
			byKey[k] = a
			order = append(order, k)
		}
		for _, pr := range ports {
			if pr.First > pr.Last {
				return nil, fmt.Errorf("%w: bpf: rule %d: port range %d-%d is empty", agentos.ErrInvalid, i+1, pr.First, pr.Last)
			}
			a.ranges = append(a.ranges, protoRange{pr.First, pr.Last, protos})
		}
	}
	// Without an IPv4 rule covering it, IPv4 space must not fall back to an
	// IPv6 prefix (::/0 contains ::ffff:0:0/96): a sentinel at the root of
	// IPv4 space stops the match there.
	root4 := keyOf(netip.MustParsePrefix("0.0.0.0/0"))
	if _, ok := byKey[root4]; !ok {
		byKey[root4] = &acc{key: root4}
		order = append(order, root4)
	}
	entries := make([]entry, 0, len(order))
	for _, k := range order {
		var all []protoRange
		for bits := k.bits; bits >= 0; bits-- {
			if k.v4 && bits < 96 {
				break
			}
			anc := trieKey{addr: maskAddr(k.addr, bits), bits: bits, v4: k.v4}
			if a, ok := byKey[anc]; ok {
				all = append(all, a.ranges...)
			}
		}
		merged := mergeRanges(all)
		if len(merged) > MaxRangesPerPrefix {
			return nil, fmt.Errorf("%w: bpf: %d port ranges apply to %s, over the limit of %d",
				agentos.ErrInvalid, len(merged), k.prefix(), MaxRangesPerPrefix)
		}
		entries = append(entries, entry{key: k, ranges: merged})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := cmp.Compare(a.key.bits, b.key.bits); c != 0 {
			return c
		}
		return slices.Compare(a.key.addr[:], b.key.addr[:])
	})
	return entries, nil
}

func (k trieKey) prefix() netip.Prefix {
	a := netip.AddrFrom16(k.addr)
	if k.v4 {
		return netip.PrefixFrom(a.Unmap(), k.bits-96)
	}
	return netip.PrefixFrom(a, k.bits)
}

func maskAddr(a [16]byte, bits int) [16]byte {
	var out [16]byte
	for i := range 16 {
		switch {
		case bits >= 8:
			out[i] = a[i]
			bits -= 8
		case bits > 0:
			out[i] = a[i] & ^byte(0xff>>bits)
			bits = 0
		}
	}
	return out
}

// mergeRanges merges overlapping and adjacent ranges per protocol, then
// joins equal ranges of different protocols.
func mergeRanges(in []protoRange) []protoRange {
	var out []protoRange
	for _, bit := range []Proto{TCP, UDP} {
		var rs []protoRange
		for _, r := range in {
			if r.protos&bit != 0 {
				rs = append(rs, protoRange{r.first, r.last, bit})
			}
		}
		slices.SortFunc(rs, func(a, b protoRange) int { return cmp.Compare(a.first, b.first) })
		for _, r := range rs {
			if n := len(out); n > 0 && out[n-1].protos == bit && uint32(r.first) <= uint32(out[n-1].last)+1 {
				out[n-1].last = max(out[n-1].last, r.last)
				continue
			}
			out = append(out, r)
		}
	}
	// Join a UDP range equal to a TCP range.
	var joined []protoRange
	for _, r := range out {
		if r.protos == UDP {
			if i := slices.IndexFunc(joined, func(j protoRange) bool {
				return j.protos == TCP && j.first == r.first && j.last == r.last
			}); i >= 0 {
				joined[i].protos |= UDP
				continue
			}
		}
		joined = append(joined, r)
	}
	return joined
}

// allows reports whether entries allow dst over ip protocol ipproto (6 or
// 17), as the programs decide it: the longest matching prefix alone. It
// mirrors the programs for tests and for [Allows].
func allows(entries []entry, dst netip.AddrPort, ipproto uint8) bool {
	bit := Proto(0)
	switch ipproto {
	case 6:
		bit = TCP
	case 17:
		bit = UDP
	default:
		return false
	}
	a := netip.AddrFrom16(dst.Addr().As16())
	addr := a.As16()
	best := -1
	for i, e := range entries {
		if maskAddr(addr, e.key.bits) == e.key.addr && (best < 0 || e.key.bits > entries[best].key.bits) {
			best = i
		}
	}
	if best < 0 {
		return false
	}
	for _, r := range entries[best].ranges {
		if r.protos&bit != 0 && dst.Port() >= r.first && dst.Port() <= r.last {
			return true
		}
	}
	return false
}

// Allows reports whether rules allow a connection or datagram to dst over
// ip protocol ipproto (6 for TCP, 17 for UDP), exactly as the attached
// programs decide it. It needs no privileges. An invalid rule list allows
// nothing and returns its error.
func Allows(rules []Rule, dst netip.AddrPort, ipproto uint8) (bool, error) {
	entries, err := compileRules(rules)
	if err != nil {
		return false, err
	}
	return allows(entries, dst, ipproto), nil
}
