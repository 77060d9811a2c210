package kernel_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/bpf"
	"github.com/agent-os/agentos/internal/proc/proctest"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
)

// requireEnv, when set to 1, turns the skip of a test that needs cgroups
// or eBPF into a failure: CI sets it (as for package bpf).
const requireEnv = "AGENTOS_REQUIRE_BPF"

// skipOrFail skips a privileged test, or fails it under AGENTOS_REQUIRE_BPF=1.
func skipOrFail(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv(requireEnv) == "1" {
		tb.Fatalf("cgroups and eBPF are required here (%s=1) but unavailable: %s", requireEnv, why)
	}
	tb.Skipf("needs root (cgroup v2, CAP_BPF) — set %s=1 to make this a failure: %s", requireEnv, why)
}

// buildHelper builds the test helper program (see proctest) for t.
func buildHelper(t *testing.T) string {
	t.Helper()
	p, err := proctest.Build(proctest.SharedDir(t)) // executable by the tools' user
	require.NoError(t, err)
	return p
}

// commandPolicy allows the exec of the tools named in it and nothing else.
const commandPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: commands, version: "1"}
spec:
  rules:
    - name: tools
      effect: allow
      when: action.op == "exec" && action.tool in ["mark", "helper", "spew", "tree"]
`

// commandTools are the command tools of the tests: helper runs the helper
// program in any of its modes.
func commandTools(helper string) []kernel.Option {
	return []kernel.Option{
		kernel.WithCommand("mark", kernel.Command{
			Script: `echo started > "$1"`, Args: []string{"{file}"},
			Params: []kernel.CommandParam{{Name: "file", Required: true}},
		}),
		kernel.WithCommand("mark.denied", kernel.Command{
			Script: `echo started > "$1"`, Args: []string{"{file}"},
			Params: []kernel.CommandParam{{Name: "file", Required: true}},
		}),
		kernel.WithCommand("helper", kernel.Command{
			Path: helper, Args: []string{"{mode}", "{a}", "{b}"},
			Params: []kernel.CommandParam{{Name: "mode", Required: true, Pattern: `[a-z]+`}, {Name: "a"}, {Name: "b"}},
		}),
		kernel.WithCommand("spew", kernel.Command{
			Path: helper, Args: []string{"spew", "{n}"}, MaxStdout: 1000, MaxStderr: 10,
			Params: []kernel.CommandParam{{Name: "n", Required: true, Pattern: `[0-9]+`}},
		}),
	}
}

// cgroupParent is the cgroup parent of this test process's kernels.
var cgroupParent = fmt.Sprintf("agentos-kernel-test-%d", os.Getpid())

// testCgroupParent is the option that puts a test kernel's cgroups under
// cgroupParent, which is removed when the test ends (after the kernel).
func testCgroupParent(t *testing.T) kernel.Option {
	t.Cleanup(func() {
		if mnt, err := bpf.CgroupMount(); err == nil {
			_ = os.Remove(filepath.Join(mnt, cgroupParent))
		}
	})
	return kernel.WithCgroupParent(cgroupParent)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// outcome returns the outcome entry of the newest exec of agent id.
func outcome(t *testing.T, k *kerneltest.Kernel, id agentos.AgentID) recorder.Entry {
	t.Helper()
	es := k.Query(recorder.Filter{Agent: id, Kind: recorder.KindOutcome, Op: agentos.OpExec, Order: recorder.Descending, Limit: 1})
	require.Len(t, es, 1)
	return es[0]
}

func TestCommandRunsOnlyWhenAllowed(t *testing.T) {
	helper := buildHelper(t)
	k := kerneltest.New(t, append(commandTools(helper), kerneltest.Policy(commandPolicy), testCgroupParent(t))...)
	ctx := t.Context()
	dir := proctest.SharedDir(t) // writable by the tools' user

	denied := filepath.Join(dir, "denied")
	bad := k.MustSpawn("bad")
	_, err := bad.Exec(ctx, "mark.denied", map[string]any{"file": denied})
	kerneltest.DeniedBy(t, err, "")
	assert.NoFileExists(t, denied, "a denied command never starts")
	kerneltest.Killed(t, bad.Err())

	allowed := filepath.Join(dir, "allowed")
	good := k.MustSpawn("good")
	res, err := good.Exec(ctx, "mark", map[string]any{"file": allowed})
	require.NoError(t, err)
	assert.FileExists(t, allowed)
	cr := res.(*kernel.CommandResult)
	assert.Equal(t, 0, cr.ExitCode)
	assert.Equal(t, sha(nil), cr.Stdout.SHA256)

	res, err = good.Exec(ctx, "helper", map[string]any{"mode": "echo", "a": "hello", "b": 42})
	require.NoError(t, err)
	cr = res.(*kernel.CommandResult)
	assert.Equal(t, "hello\n42\n", string(cr.Stdout.Data))
	assert.Equal(t, []string{"echo", "hello", "42"}, cr.Argv[1:])
	o := outcome(t, k, "good")
	assert.Equal(t, recorder.StatusOK, o.Status)
	assert.Equal(t, sha([]byte("hello\n42\n")), o.ResultDigest, "the outcome carries the digest of stdout")
	assert.Contains(t, o.Detail, "exit=0")
	assert.Contains(t, o.Detail, fmt.Sprintf("pid=%d", cr.Pid))

	t.Run("arguments are validated", func(t *testing.T) {
		for name, args := range map[string]map[string]any{
			"undeclared":   {"mode": "echo", "x": "1"},
			"pattern":      {"mode": "ECHO"},
			"leading dash": {"mode": "echo", "a": "--output=/etc/passwd"},
			"missing":      {"a": "1"},
		} {
			_, err := good.Exec(ctx, "helper", args)
			assert.ErrorIs(t, err, agentos.ErrInvalid, name)
			switch name {
			case "undeclared", "missing":
				// The registry's schema refuses these before policy.
				var v *agentos.PolicyViolation
				require.ErrorAs(t, err, &v, name)
				assert.Equal(t, kernel.RuleToolArgs, v.Decision.Rule, name)
			default:
				// The command's own checks refuse these after policy.
				assert.NotErrorIs(t, err, agentos.ErrDenied, name)
			}
		}
		assert.NoError(t, good.Err(), "a refused argument does not kill")
	})
	t.Run("exit status", func(t *testing.T) {
		_, err := good.Exec(ctx, "helper", map[string]any{"mode": "exit", "a": 3})
		var ce *kernel.CommandError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, 3, ce.Result.ExitCode)
		o := outcome(t, k, "good")
		assert.Equal(t, recorder.StatusError, o.Status)
		assert.Contains(t, o.Detail, "exit=3")
		assert.Contains(t, o.Error, "status 3")
	})
	t.Run("output limit", func(t *testing.T) {
		res, err := good.Exec(ctx, "spew", map[string]any{"n": 100000})
		require.NoError(t, err)
		cr := res.(*kernel.CommandResult)
		assert.Len(t, cr.Stdout.Data, 1000)
		assert.EqualValues(t, 100000, cr.Stdout.Size)
		assert.True(t, cr.Stdout.Truncated)
		assert.Len(t, cr.Stderr.Data, 10)
		all := make([]byte, 100000)
		for i := range all {
			all[i] = byte('a' + i%4096%26)
		}
		assert.Equal(t, sha(all), cr.Stdout.SHA256, "the digest covers every byte, kept or not")
		o := outcome(t, k, "good")
		assert.Equal(t, sha(all), o.ResultDigest)
		assert.Contains(t, o.Detail, "stdout=100000B")
		assert.Contains(t, o.Detail, "(truncated)")
	})
}

func TestWithCommandErrors(t *testing.T) {
	for name, opts := range map[string][]kernel.Option{
		"relative path": {kernel.WithCommand("x", kernel.Command{Path: "bin/x"})},
		"no path":       {kernel.WithCommand("x", kernel.Command{})},
		"undeclared":    {kernel.WithCommand("x", kernel.Command{Path: "/bin/true", Args: []string{"{nope}"}})},
		"duplicate": {
			kernel.WithTool("x", func(context.Context, map[string]any) (any, error) { return nil, nil }),
			kernel.WithCommand("x", kernel.Command{Path: "/bin/true"}),
		},
		"egress without cgroups": {kernel.WithoutCgroups(), kernel.WithEgressEnforcement(kernel.EgressIfSupported)},
		"egress mode":            {kernel.WithEgressEnforcement(0)},
		"cgroup parent":          {kernel.WithCgroupParent("../etc")},
	} {
		t.Run(name, func(t *testing.T) {
			k, err := kernel.New(opts...)
			require.ErrorIs(t, err, agentos.ErrInvalid)
			require.Nil(t, k)
		})
	}
}

// lifecycle returns the kernel-wide lifecycle entries.
func lifecycle(t *testing.T, k *kerneltest.Kernel) []recorder.Entry {
	t.Helper()
	return k.Query(recorder.Filter{Kind: recorder.KindLifecycle})
}

func filter(es []recorder.Entry, substr string) []recorder.Entry {
	var out []recorder.Entry
	for _, e := range es {
		if strings.Contains(e.Message, substr) {
			out = append(out, e)
		}
	}
	return out
}

type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestEgressResolutionsRecorded(t *testing.T) {
	doc, err := policy.Parse("egress.yaml", []byte(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: egress, version: "3"}
spec:
  rules: []
  egress:
    - name: db
      role: "*"
      hosts: [db.internal]
      ports: [5432]
`))
	require.NoError(t, err)
	eng, err := policy.NewEngine([]*policy.Document{doc}, policy.WithResolver(fakeResolver{
		"db.internal": {netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.0.8")},
	}))
	require.NoError(t, err)
	k := kerneltest.New(t, kernel.WithPolicy(eng))
	res := filter(lifecycle(t, k), "egress hostnames resolved")
	require.Len(t, res, 1)
	assert.Contains(t, res[0].Detail, "egress/db db.internal=10.0.0.7,10.0.0.8")
	assert.Contains(t, res[0].PolicyVersion, "egress@3")
}

func TestCommandPrivilegeOptions(t *testing.T) {
	cmd := kernel.Command{Path: "/bin/true"}
	priv := kernel.Command{Path: "/bin/true", Privileged: true}
	for _, tc := range []struct {
		name string
		opts []kernel.Option
		ok   bool
	}{
		{"root uid refused", []kernel.Option{kernel.WithToolUser(0, 100)}, false},
		{"root gid refused", []kernel.Option{kernel.WithToolUser(100, 0)}, false},
		{"a user", []kernel.Option{kernel.WithToolUser(1000, 1000), kernel.WithCommand("t", cmd), kernel.WithoutCgroups()}, true},
		{"privileged without enforcement", []kernel.Option{kernel.WithCommand("t", priv), kernel.WithoutCgroups()}, true},
		// A privileged program could detach the eBPF programs or leave
		// its cgroup: enforcement and privilege exclude each other,
		// whatever the order of the options.
		{"privileged with enforcement", []kernel.Option{kernel.WithCommand("t", priv), kernel.WithEgressEnforcement(kernel.EgressIfSupported), testCgroupParent(t)}, false},
		{"enforcement with privileged", []kernel.Option{kernel.WithEgressEnforcement(kernel.EgressIfSupported), kernel.WithCommand("t", priv), testCgroupParent(t)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := kernel.New(append([]kernel.Option{kerneltest.Policy(commandPolicy)}, tc.opts...)...)
			if tc.ok {
				require.NoError(t, err)
				require.NoError(t, k.Close())
				return
			}
			require.ErrorIs(t, err, agentos.ErrInvalid)
			assert.Nil(t, k)
		})
	}
}

// waitResolver blocks each lookup until the caller's context ends.
type waitResolver struct{}

func (waitResolver) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// ReloadPolicy resolves the new policy's egress hostnames within the
// caller's context: a cancelled reload ends at once and changes nothing.
func TestReloadPolicyResolvesWithinContext(t *testing.T) {
	doc := func(egress string) *policy.Document {
		d, err := policy.Parse("net.yaml", []byte("apiVersion: agentos/v1\nkind: Policy\nmetadata: {name: net}\nspec:\n  egress:\n    - {name: e, role: \"*\", "+egress+", ports: [443]}\n"))
		require.NoError(t, err)
		return d
	}
	eng, err := policy.NewEngine([]*policy.Document{doc("cidrs: [10.0.0.0/8]")},
		policy.WithResolver(waitResolver{}), policy.WithResolveTimeout(time.Hour))
	require.NoError(t, err)
	k := kerneltest.New(t, kernel.WithPolicy(eng))
	before := eng.Version()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err = k.ReloadPolicy(ctx, []*policy.Document{doc("hosts: [db.internal]")})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, before, eng.Version(), "the reload changed nothing")
}
