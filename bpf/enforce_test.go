package bpf_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/bpf"
)

func port(tb testing.TB, addr net.Addr) uint16 {
	tb.Helper()
	ap, err := netip.ParseAddrPort(addr.String())
	require.NoError(tb, err)
	return ap.Port()
}

func loopback(p uint16, protos bpf.Proto) bpf.Rule {
	return bpf.Rule{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Protocols: protos, Ports: []bpf.PortRange{{p, p}}}
}

func TestEnforcement(t *testing.T) {
	e := enforcer(t)
	cg := cgroup(t, "enforce")
	allowed := listener(t, "tcp4", "127.0.0.1:0")
	denied := listener(t, "tcp4", "127.0.0.1:0")
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer udp.Close()
	allowedPort, deniedPort, udpPort := port(t, allowed.Addr()), port(t, denied.Addr()), port(t, udp.LocalAddr())

	att, err := e.Attach(cg, []bpf.Rule{loopback(allowedPort, bpf.TCP)})
	require.NoError(t, err)
	defer att.Close()
	assert.Equal(t, cg, att.Cgroup())

	t.Run("allowed connect", func(t *testing.T) {
		out, _ := run(t, cg, "tcp", allowed.Addr().String())
		assert.Equal(t, "ok", out)
	})
	t.Run("denied connect is EPERM and reported", func(t *testing.T) {
		out, pid := run(t, cg, "tcp", denied.Addr().String())
		assert.Equal(t, "EPERM", out)
		ev := nextEvent(t, e, cg.ID())
		assert.Equal(t, bpf.HookConnect4, ev.Hook)
		assert.Equal(t, pid, ev.Pid)
		assert.Equal(t, cg.ID(), ev.TaskCgroupID)
		assert.Equal(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), deniedPort), ev.Dest)
		assert.EqualValues(t, 6, ev.Protocol)
		assert.Equal(t, "helper", ev.Comm)
		assert.WithinDuration(t, time.Now(), ev.Time, time.Minute)
	})
	t.Run("unconnected UDP send is refused and reported", func(t *testing.T) {
		out, pid := run(t, cg, "udp", udp.LocalAddr().String())
		assert.Equal(t, "EPERM", out)
		ev := nextEvent(t, e, cg.ID())
		assert.Equal(t, bpf.HookSendmsg4, ev.Hook)
		assert.Equal(t, pid, ev.Pid)
		assert.Equal(t, udpPort, ev.Dest.Port())
		assert.EqualValues(t, 17, ev.Protocol)
	})
	t.Run("raw packet is dropped by the skb backstop", func(t *testing.T) {
		out, _ := run(t, cg, "raw", udp.LocalAddr().String())
		assert.NotEqual(t, "ok", out, "the kernel reports the dropped packet to the sender")
		ev := nextEvent(t, e, cg.ID())
		assert.Equal(t, bpf.HookPacket, ev.Hook)
		assert.Equal(t, 0, ev.Pid)
		assert.Equal(t, udpPort, ev.Dest.Port())
		assert.EqualValues(t, 17, ev.Protocol)
		require.NoError(t, udp.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
		_, _, err := udp.ReadFrom(make([]byte, 64))
		assert.Error(t, err, "nothing arrived")
	})
	t.Run("IPv6 loopback is not allowed unless listed", func(t *testing.T) {
		ln6 := ipv6Loopback(t)
		ln6.Close()
		out, _ := run(t, cg, "tcp", ln6.Addr().String())
		assert.Equal(t, "EPERM", out)
		ev := nextEvent(t, e, cg.ID())
		assert.Equal(t, bpf.HookConnect6, ev.Hook)
	})
	t.Run("processes outside the cgroup are unaffected", func(t *testing.T) {
		out, _ := run(t, nil, "tcp", denied.Addr().String())
		assert.Equal(t, "ok", out)
		out, _ = run(t, nil, "udp", udp.LocalAddr().String())
		assert.Equal(t, "ok", out)
	})
	t.Run("update widens without reattaching", func(t *testing.T) {
		require.NoError(t, att.Update([]bpf.Rule{loopback(allowedPort, bpf.TCP), loopback(deniedPort, bpf.TCP), loopback(udpPort, bpf.UDP)}))
		out, _ := run(t, cg, "tcp", denied.Addr().String())
		assert.Equal(t, "ok", out)
		out, _ = run(t, cg, "udp", udp.LocalAddr().String())
		assert.Equal(t, "ok", out)
		assert.Len(t, att.Rules(), 3)
		// And narrows again.
		require.NoError(t, att.Update(nil))
		out, _ = run(t, cg, "tcp", allowed.Addr().String())
		assert.Equal(t, "EPERM", out)
	})
	t.Run("bad rules leave the list in force", func(t *testing.T) {
		require.NoError(t, att.Update([]bpf.Rule{loopback(allowedPort, bpf.TCP)}))
		require.Error(t, att.Update([]bpf.Rule{{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Ports: []bpf.PortRange{{9, 1}}}}))
		out, _ := run(t, cg, "tcp", allowed.Addr().String())
		assert.Equal(t, "ok", out)
	})
	t.Run("detach lifts enforcement", func(t *testing.T) {
		require.NoError(t, att.Close())
		require.NoError(t, att.Close(), "idempotent")
		out, _ := run(t, cg, "tcp", denied.Addr().String())
		assert.Equal(t, "ok", out)
	})
}

// ipv6Loopback returns a listener on [::1]. Where the host has no IPv6
// loopback it sets one up (disable_ipv6=0 on lo, then ::1/128 on lo),
// undoing the sysctl when the test ends; only where even root cannot does
// the test skip, and under AGENTOS_REQUIRE_BPF=1 it fails instead.
func ipv6Loopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err == nil {
		return ln
	}
	const sysctl = "/proc/sys/net/ipv6/conf/lo/disable_ipv6"
	if old, rerr := os.ReadFile(sysctl); rerr == nil && strings.TrimSpace(string(old)) == "1" {
		if werr := os.WriteFile(sysctl, []byte("0"), 0); werr == nil {
			t.Cleanup(func() { _ = os.WriteFile(sysctl, old, 0) })
		} else {
			err = errors.Join(err, werr)
		}
	}
	if ln, err2 := net.Listen("tcp6", "[::1]:0"); err2 == nil {
		return ln
	}
	if ip, lerr := exec.LookPath("ip"); lerr == nil {
		if out, aerr := exec.Command(ip, "-6", "addr", "add", "::1/128", "dev", "lo").CombinedOutput(); aerr != nil {
			err = errors.Join(err, fmt.Errorf("ip -6 addr add ::1/128 dev lo: %w: %s", aerr, out))
		}
	} else {
		err = errors.Join(err, lerr)
	}
	ln, err2 := net.Listen("tcp6", "[::1]:0")
	if err2 != nil {
		skipOrFail(t, fmt.Errorf("no IPv6 loopback, and setting one up failed: %w", errors.Join(err, err2)))
	}
	return ln
}

func TestEnforcerClose(t *testing.T) {
	e := enforcer(t)
	cg := cgroup(t, "close")
	_, err := e.Attach(cg, nil)
	require.NoError(t, err)
	ln := listener(t, "tcp4", "127.0.0.1:0")
	out, _ := run(t, cg, "tcp", ln.Addr().String())
	assert.Equal(t, "EPERM", out, "an empty list allows nothing")
	require.NoError(t, e.Close())
	require.NoError(t, e.Close())
	_, ok := <-e.Events()
	for ok {
		_, ok = <-e.Events()
	}
	out, _ = run(t, cg, "tcp", ln.Addr().String())
	assert.Equal(t, "ok", out, "Close detached every attachment")
	_, err = e.Attach(cg, nil)
	require.ErrorIs(t, err, agentos.ErrClosed)
}
