package kernel_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/internal/proc/proctest"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// treeTool starts the helper with its stdout in a file: "spawn 30s" writes
// the pid of the child it starts (in its process group) there, then sleeps.
func treeTool(helper string) kernel.Option {
	return kernel.WithCommand("tree", kernel.Command{
		Script: `exec "$1" spawn 30s > "$2"`, Args: []string{helper, "{file}"},
		Params: []kernel.CommandParam{{Name: "file", Required: true}},
	})
}

// escapeTool starts, with bash's job control, a child in a process group
// of its own (it escapes its tool's group) and writes its pid to a file.
func escapeTool(helper string) kernel.Option {
	return kernel.WithCommand("escape", kernel.Command{
		Path:   "/bin/bash",
		Script: "set -m\n\"$1\" sleep 30s &\necho $! > \"$2\"\nexec \"$1\" sleep 30s\n",
		Args:   []string{helper, "{file}"},
		Params: []kernel.CommandParam{{Name: "file", Required: true}},
	})
}

const treePolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: tree, version: "1"}
spec:
  rules:
    - name: tools
      effect: allow
      when: action.op == "exec" && action.tool in ["tree", "escape", "helper"]
`

// helperPids returns the host pids of the processes that run the helper
// program at path. A sandboxed tool sees pids of its own pid namespace, so
// the pids it prints mean nothing here.
func helperPids(t *testing.T, path string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == path && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitPid waits for a tool to write a pid to file.
func waitPid(t *testing.T, file string, done <-chan error) int {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if b, err := os.ReadFile(file); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				return pid
			}
		}
		select {
		case err := <-done:
			t.Fatalf("the tool ended before writing its child's pid: %v", err)
		case <-deadline:
			t.Fatal("no pid written")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

func assertGone(t *testing.T, pid int) {
	t.Helper()
	assert.Eventually(t, func() bool { return !alive(pid) }, 5*time.Second, 5*time.Millisecond, "process %d survived its agent", pid)
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func exec(a *kernel.Agent, tool string, args map[string]any) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := a.Exec(context.Background(), tool, args)
		done <- err
	}()
	return done
}

func TestCommandProcessGroupsOnly(t *testing.T) {
	helper := buildHelper(t)
	k := kerneltest.New(t, kerneltest.Policy(treePolicy), treeTool(helper), kernel.WithoutCgroups())
	require.Len(t, filter(lifecycle(t, k), "process groups only"), 1, "said once in the recorder")

	a := k.MustSpawn("a")
	file := filepath.Join(proctest.SharedDir(t), "pid")
	done := exec(a, "tree", map[string]any{"file": file})
	waitPid(t, file, done)
	var pids []int
	require.Eventually(t, func() bool { pids = helperPids(t, helper); return len(pids) == 2 }, 10*time.Second, 5*time.Millisecond, "the tool and its child run")
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGKILL, ""))
	kerneltest.Killed(t, <-done)
	for _, pid := range pids {
		assertGone(t, pid)
	}
	assert.Empty(t, k.CgroupPath("a"))
}

// sandboxKernel builds a kernel whose command tools run in cgroups (and,
// with egress, under eBPF enforcement), skipping the test where the host
// cannot.
func sandboxKernel(t *testing.T, egress bool, opts ...kernel.Option) *kerneltest.Kernel {
	t.Helper()
	opts = append(opts, testCgroupParent(t))
	if egress {
		opts = append(opts, kernel.WithEgressEnforcement(kernel.EgressIfSupported))
	}
	k := kerneltest.New(t, opts...)
	notes := lifecycle(t, k)
	for _, e := range filter(notes, "command tools run in a cgroup per agent") {
		if !egress || strings.Contains(e.Message, "with egress enforced by eBPF") {
			return k
		}
	}
	var why []string
	for _, e := range notes {
		if e.Error != "" {
			why = append(why, e.Message+": "+e.Error)
		}
	}
	skipOrFail(t, strings.Join(why, "; "))
	return nil
}

func TestCommandCgroupDiesWithAgent(t *testing.T) {
	helper := buildHelper(t)
	opts := []kernel.Option{kerneltest.Policy(treePolicy), treeTool(helper)}
	_, bashErr := os.Stat("/bin/bash")
	if bashErr == nil {
		opts = append(opts, escapeTool(helper))
	}
	k := sandboxKernel(t, false, opts...)
	for _, sig := range []signals.Signal{signals.SIGKILL, signals.SIGTRUST} {
		t.Run(sig.String(), func(t *testing.T) {
			id := agentos.AgentID("agent:" + sig.String()) // ':' is not a cgroup name character
			a := k.MustSpawn(id)
			tool, file := "tree", filepath.Join(proctest.SharedDir(t), "pid")
			if bashErr == nil {
				tool = "escape"
			}
			done := exec(a, tool, map[string]any{"file": file})
			waitPid(t, file, done)
			cg := k.CgroupPath(id)
			require.NotEmpty(t, cg)
			var pids []int
			require.Eventually(t, func() bool { pids = helperPids(t, helper); return len(pids) == 2 }, 10*time.Second, 5*time.Millisecond, "the tool and its child run")
			procs, err := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
			require.NoError(t, err)
			for _, pid := range pids {
				assert.Contains(t, strings.Fields(string(procs)), strconv.Itoa(pid), "every process of the tool runs in the agent's cgroup")
			}
			if tool == "escape" {
				var leaders int
				for _, pid := range pids {
					if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
						leaders++
					}
				}
				require.Equal(t, 2, leaders, "the child left its tool's process group")
			}

			require.NoError(t, k.Signal(context.Background(), a.ID(), sig, ""))
			kerneltest.Killed(t, <-done)
			for _, pid := range pids {
				assertGone(t, pid)
			}
			assert.NoDirExists(t, cg, "the agent's cgroup is removed")
			assert.Empty(t, k.CgroupPath(id))
			_, err = a.Exec(t.Context(), "tree", map[string]any{"file": file})
			kerneltest.Killed(t, err)
		})
	}
}

func cgroupFrozen(t *testing.T, cg string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cg, "cgroup.events"))
	require.NoError(t, err)
	return strings.Contains(string(b), "frozen 1")
}

// countTool counts as fast as it can, appending each number to a file.
func countTool() kernel.Option {
	return kernel.WithCommand("count", kernel.Command{
		Script: `i=0; while :; do i=$((i+1)); echo $i >> "$1"; done`, Args: []string{"{file}"},
		Params: []kernel.CommandParam{{Name: "file", Required: true}},
	})
}

// count returns how much countTool has written.
func count(t *testing.T, file string) int64 {
	t.Helper()
	fi, err := os.Stat(file)
	require.NoError(t, err)
	return fi.Size()
}

func TestCommandCgroupFreezes(t *testing.T) {
	k := sandboxKernel(t, false, kerneltest.Policy(strings.ReplaceAll(treePolicy, `"helper"]`, `"helper", "count"]`)), countTool())
	a := k.MustSpawn("a")
	file := filepath.Join(proctest.SharedDir(t), "count")
	done := exec(a, "count", map[string]any{"file": file})
	require.Eventually(t, func() bool { _, err := os.Stat(file); return err == nil }, 10*time.Second, time.Millisecond)
	cg := k.CgroupPath("a")
	require.NotEmpty(t, cg)
	require.False(t, cgroupFrozen(t, cg))

	for _, stop := range []signals.Signal{signals.SIGSTOP, signals.SIGBUDGET} {
		require.NoError(t, k.Signal(context.Background(), a.ID(), stop, ""))
		require.True(t, cgroupFrozen(t, cg), "%v freezes the cgroup", stop)
		n := count(t, file)
		time.Sleep(20 * time.Millisecond)
		assert.Equal(t, n, count(t, file), "%v stops the tool: its count does not move", stop)
		require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGCONT, ""))
		assert.False(t, cgroupFrozen(t, cg), "SIGCONT thaws it")
		assert.Eventually(t, func() bool { return count(t, file) > n }, 10*time.Second, time.Millisecond, "the tool counts again")
	}
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGSTOP, ""))
	require.NoError(t, k.Signal(context.Background(), a.ID(), signals.SIGKILL, ""), "a frozen cgroup is killed too")
	kerneltest.Killed(t, <-done)
	assert.NoDirExists(t, cg)
}

// loopbackListener accepts and closes connections until the test ends.
func loopbackListener(t *testing.T) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	})
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

func egressPolicy(ports ...int) string {
	var ps []string
	for _, p := range ports {
		ps = append(ps, strconv.Itoa(p))
	}
	return fmt.Sprintf(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: egress, version: "%d"}
spec:
  rules:
    - name: tools
      effect: allow
      when: action.op == "exec" && action.tool == "helper"
  egress:
    - name: loopback
      role: "*"
      cidrs: [127.0.0.1]
      ports: [%s]
`, len(ports), strings.Join(ps, ", "))
}

func TestEgressEnforcement(t *testing.T) {
	helper := buildHelper(t)
	allowed, allowedPort := loopbackListener(t)
	attacker, attackerPort := loopbackListener(t)
	k := sandboxKernel(t, true, kerneltest.Policy(egressPolicy(allowedPort)), commandTools(helper)[2])
	ctx := t.Context()

	a := k.MustSpawn("a")
	res, err := a.Exec(ctx, "helper", map[string]any{"mode": "tcp", "a": allowed.Addr().String()})
	require.NoError(t, err)
	assert.Equal(t, "ok\n", string(res.(*kernel.CommandResult).Stdout.Data), "the allowed listener is reachable")

	res, err = a.Exec(ctx, "helper", map[string]any{"mode": "tcp", "a": attacker.Addr().String()})
	if err == nil {
		assert.Equal(t, "EPERM\n", string(res.(*kernel.CommandResult).Stdout.Data), "connect() is refused in the kernel")
	} else {
		kerneltest.Killed(t, err) // SIGPOLICY arrived before the result
	}
	select {
	case <-a.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not receive SIGPOLICY")
	}
	assert.Equal(t, signals.Terminated, a.State())
	var se *signals.SignalError
	require.ErrorAs(t, a.Err(), &se)
	assert.Equal(t, signals.SIGPOLICY, se.Signal)

	var denial *recorder.Entry
	for _, e := range k.Decisions("a") {
		if e.Rule == kernel.RuleEgress {
			denial = &e
		}
	}
	require.NotNil(t, denial, "the denial is in the recorder")
	assert.Equal(t, agentos.Deny, denial.Effect)
	assert.Equal(t, agentos.OpExec, denial.Op)
	assert.Equal(t, recorder.StatusDenied, denial.Status)
	assert.Contains(t, string(denial.Args), fmt.Sprintf(`"dest":"127.0.0.1:%d"`, attackerPort))
	assert.Contains(t, string(denial.Args), `"hook":"connect4"`)
	assert.Contains(t, denial.PolicyVersion, "egress@1")

	t.Run("reload widens the allow-list in place", func(t *testing.T) {
		b := k.MustSpawn("b")
		res, err := b.Exec(ctx, "helper", map[string]any{"mode": "tcp", "a": allowed.Addr().String()})
		require.NoError(t, err)
		require.Equal(t, "ok\n", string(res.(*kernel.CommandResult).Stdout.Data))
		cg := k.CgroupPath("b")
		require.NotEmpty(t, cg)

		doc, err := policy.Parse("egress.yaml", []byte(egressPolicy(allowedPort, attackerPort)))
		require.NoError(t, err)
		require.NoError(t, k.ReloadPolicy(ctx, []*policy.Document{doc}))
		res, err = b.Exec(ctx, "helper", map[string]any{"mode": "tcp", "a": attacker.Addr().String()})
		require.NoError(t, err)
		assert.Equal(t, "ok\n", string(res.(*kernel.CommandResult).Stdout.Data))
		assert.NoError(t, b.Err(), "nothing was denied")
		assert.Equal(t, cg, k.CgroupPath("b"), "same cgroup, programs not reattached")
	})
	t.Run("the dead agent's cgroup is gone", func(t *testing.T) {
		assert.Empty(t, k.CgroupPath("a"))
		require.NoError(t, k.Reap("a"))
	})
}

// whoami runs the helper's whoami as a command tool and parses it.
func whoami(t *testing.T, k *kerneltest.Kernel, id agentos.AgentID, tool string) map[string][]string {
	t.Helper()
	res, err := k.MustSpawn(id).Exec(t.Context(), tool, map[string]any{"mode": "whoami"})
	require.NoError(t, err)
	m := map[string][]string{}
	for l := range strings.Lines(string(res.(*kernel.CommandResult).Stdout.Data)) {
		key, v, ok := strings.Cut(l, ":")
		require.True(t, ok, l)
		m[key] = strings.Fields(v)
	}
	return m
}

func TestCommandToolsRunUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "the kernel process is not root")
	}
	helper := buildHelper(t)
	tool := func(name string, privileged bool) kernel.Option {
		return kernel.WithCommand(name, kernel.Command{
			Path: helper, Args: []string{"{mode}"}, Privileged: privileged,
			Params: []kernel.CommandParam{{Name: "mode", Required: true}},
		})
	}
	pol := kerneltest.Policy(strings.ReplaceAll(treePolicy, `"helper"]`, `"helper", "root"]`))
	zero := []string{"0000000000000000"}
	for _, tc := range []struct {
		name     string
		opts     []kernel.Option
		uid, gid string
	}{
		{"default user", nil, "65534", "65534"},
		{"configured user", []kernel.Option{kernel.WithToolUser(4242, 4343)}, "4242", "4343"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := sandboxKernel(t, false, append(tc.opts, pol, tool("helper", false), tool("root", true))...)
			st := whoami(t, k, "a", "helper")
			assert.Equal(t, []string{tc.uid, tc.uid, tc.uid, tc.uid}, st["Uid"])
			assert.Equal(t, []string{tc.gid, tc.gid, tc.gid, tc.gid}, st["Gid"])
			assert.Empty(t, st["Groups"])
			for _, set := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
				assert.Equal(t, zero, st[set], set)
			}
			assert.Equal(t, []string{"1"}, st["NoNewPrivs"])
			assert.Equal(t, []string{"1"}, st["NSpid"], "the init of a pid namespace of its own")
			notes := filter(lifecycle(t, k), "command tools run as uid "+tc.uid+" gid "+tc.gid)
			require.Len(t, notes, 1, "the recorder says how tools run")
			assert.Contains(t, notes[0].Message, `privileged, unsandboxed: "root"`)

			st = whoami(t, k, "b", "root")
			assert.Equal(t, []string{"0", "0", "0", "0"}, st["Uid"], "a Privileged command keeps the kernel's user")
			assert.NotEqual(t, zero, st["CapEff"])
		})
	}
}
