package bpf

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

func pfx(s string) netip.Prefix   { return netip.MustParsePrefix(s) }
func dst(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestAllows(t *testing.T) {
	rules := []Rule{
		{Prefix: pfx("10.0.0.0/8"), Protocols: TCP, Ports: []PortRange{{443, 443}}},
		{Prefix: pfx("10.1.0.0/16"), Protocols: TCP, Ports: []PortRange{{80, 80}}},
		{Prefix: pfx("10.1.2.3/32"), Protocols: UDP, Ports: []PortRange{{53, 53}}},
		{Prefix: pfx("127.0.0.1/32"), Protocols: TCP, Ports: []PortRange{{8000, 8100}}},
		{Prefix: pfx("2001:db8::/32")}, // every port, TCP and UDP
		{Prefix: pfx("::ffff:192.168.0.0/112"), Protocols: UDP},
	}
	cases := []struct {
		dst   string
		proto uint8
		want  bool
	}{
		{"10.9.9.9:443", 6, true},
		{"10.9.9.9:80", 6, false},
		{"10.1.2.3:443", 6, true}, // the /8 rule still applies under the /16 and /32
		{"10.1.2.3:80", 6, true},
		{"10.1.2.3:53", 17, true},
		{"10.1.2.3:53", 6, false},
		{"10.1.9.9:443", 17, false},
		{"127.0.0.1:8000", 6, true},
		{"127.0.0.1:8100", 6, true},
		{"127.0.0.1:8101", 6, false},
		{"127.0.0.2:8000", 6, false}, // loopback is not special
		{"[::1]:8000", 6, false},
		{"[2001:db8::1]:1", 17, true},
		{"[2001:db8::1]:65535", 6, true},
		{"[2001:db9::1]:80", 6, false},
		{"[::ffff:10.1.2.3]:80", 6, true}, // IPv4-mapped is IPv4
		{"192.168.3.4:9", 17, true},
		{"192.168.3.4:9", 6, false},
		{"8.8.8.8:53", 17, false},
		{"10.9.9.9:443", 1, false}, // ICMP never
	}
	for _, c := range cases {
		got, err := Allows(rules, dst(c.dst), c.proto)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "%s proto %d", c.dst, c.proto)
	}
}

func TestFamiliesAreSeparate(t *testing.T) {
	got, err := Allows([]Rule{{Prefix: pfx("::/0")}}, dst("1.2.3.4:80"), 6)
	require.NoError(t, err)
	assert.False(t, got, "::/0 allows no IPv4 address")
	got, err = Allows([]Rule{{Prefix: pfx("0.0.0.0/0")}}, dst("[2001:db8::1]:80"), 6)
	require.NoError(t, err)
	assert.False(t, got, "0.0.0.0/0 allows no IPv6 address")
	got, err = Allows([]Rule{{Prefix: pfx("0.0.0.0/0")}, {Prefix: pfx("::/0")}}, dst("1.2.3.4:80"), 6)
	require.NoError(t, err)
	assert.True(t, got)
	got, err = Allows(nil, dst("127.0.0.1:80"), 6)
	require.NoError(t, err)
	assert.False(t, got, "no rule, no egress")
}

func TestCompileRulesMerges(t *testing.T) {
	entries, err := compileRules([]Rule{
		{Prefix: pfx("10.0.0.0/8"), Protocols: TCP, Ports: []PortRange{{1, 10}, {11, 20}, {5, 7}}},
		{Prefix: pfx("10.0.0.0/8"), Protocols: UDP, Ports: []PortRange{{1, 20}}},
		{Prefix: pfx("10.0.0.1/8")}, // masked to 10.0.0.0/8
	})
	require.NoError(t, err)
	var ten *entry
	for i := range entries {
		if entries[i].key.prefix() == pfx("10.0.0.0/8") {
			ten = &entries[i]
		}
	}
	require.NotNil(t, ten)
	assert.Equal(t, []protoRange{{0, 65535, AnyProto}}, ten.ranges)
	assert.Len(t, entries, 2, "10.0.0.0/8 and the IPv4 root sentinel")

	entries, err = compileRules([]Rule{{Prefix: pfx("10.0.0.0/8"), Protocols: TCP, Ports: []PortRange{{1, 10}, {11, 20}, {30, 40}}},
		{Prefix: pfx("10.0.0.0/8"), Protocols: UDP, Ports: []PortRange{{1, 20}}}})
	require.NoError(t, err)
	assert.Equal(t, []protoRange{{1, 20, AnyProto}, {30, 40, TCP}}, entries[1].ranges)
}

func TestCompileRulesErrors(t *testing.T) {
	many := make([]PortRange, MaxRangesPerPrefix+1)
	for i := range many {
		many[i] = PortRange{uint16(i * 10), uint16(i * 10)}
	}
	cases := []struct {
		name  string
		rules []Rule
		why   string
	}{
		{"invalid prefix", []Rule{{}}, "invalid prefix"},
		{"empty range", []Rule{{Prefix: pfx("10.0.0.0/8"), Ports: []PortRange{{10, 1}}}}, "empty"},
		{"unknown protocol", []Rule{{Prefix: pfx("10.0.0.0/8"), Protocols: 4}}, "unknown protocols"},
		{"too many ranges", []Rule{{Prefix: pfx("10.0.0.0/8"), Ports: many}}, "over the limit"},
		{"short mapped prefix", []Rule{{Prefix: pfx("::ffff:0:0/90")}}, "shorter than /96"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := compileRules(c.rules)
			require.ErrorIs(t, err, agentos.ErrInvalid)
			assert.Contains(t, err.Error(), c.why)
		})
	}
}

func TestRuleString(t *testing.T) {
	assert.Equal(t, "10.0.0.0/8 tcp port 443,8000-8100",
		Rule{Prefix: pfx("10.0.0.0/8"), Protocols: TCP, Ports: []PortRange{{443, 443}, {8000, 8100}}}.String())
	assert.Equal(t, "::1/128 tcp+udp all ports", Rule{Prefix: pfx("::1/128")}.String())
}

func TestDecodeEvent(t *testing.T) {
	b := make([]byte, eventSize)
	ne := binary.NativeEndian
	ne.PutUint64(b[0:], uint64(5*time.Second))
	ne.PutUint64(b[8:], 42)
	ne.PutUint64(b[16:], 43)
	ne.PutUint32(b[24:], 1000)
	ne.PutUint32(b[28:], 1001)
	ne.PutUint16(b[32:], 8080)
	b[34], b[35], b[36] = 6, 2, byte(HookConnect4)
	a := netip.MustParseAddr("::ffff:127.0.0.1").As16()
	copy(b[40:], a[:])
	copy(b[56:], "curl\x00garbage")
	now := time.Date(2025, 1, 1, 0, 0, 10, 0, time.UTC)
	ev, err := decodeEvent(b, 7*time.Second, now)
	require.NoError(t, err)
	assert.Equal(t, Event{Time: now.Add(-2 * time.Second), CgroupID: 42, TaskCgroupID: 43, Pid: 1000, Tid: 1001,
		Comm: "curl", Dest: dst("127.0.0.1:8080"), Protocol: 6, Hook: HookConnect4}, ev)
	assert.Contains(t, ev.String(), "tcp 127.0.0.1:8080 from pid 1000")
	_, err = decodeEvent(b[:10], 0, now)
	assert.Error(t, err)
}

func TestParseMountinfo(t *testing.T) {
	hybrid := `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	mnt, ok := parseMountinfo(strings.NewReader(hybrid))
	require.True(t, ok)
	assert.Equal(t, "/sys/fs/cgroup/unified", mnt)
	unified := `29 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate`
	mnt, ok = parseMountinfo(strings.NewReader(unified))
	require.True(t, ok)
	assert.Equal(t, "/sys/fs/cgroup", mnt)
	mnt, ok = parseMountinfo(strings.NewReader(`50 22 0:40 / /mnt/my\040cgroups rw - cgroup2 none rw`))
	require.True(t, ok)
	assert.Equal(t, "/mnt/my cgroups", mnt)
	_, ok = parseMountinfo(strings.NewReader("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\ngarbage\n"))
	assert.False(t, ok)
}

func TestOptions(t *testing.T) {
	_, err := (&Options{RingBufferSize: 5000}).withDefaults()
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = (&Options{EventBuffer: -1}).withDefaults()
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	o, err := (*Options)(nil).withDefaults()
	require.NoError(t, err)
	assert.Equal(t, DefaultEventBuffer, o.EventBuffer)
}
