package bpf

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests read the committed object; they need no privileges and run
// on any system.

func TestProgramSpecs(t *testing.T) {
	spec, err := loadEgress()
	require.NoError(t, err)
	want := map[string]struct {
		typ    ebpf.ProgramType
		attach ebpf.AttachType
	}{
		"connect4":   {ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Connect},
		"connect6":   {ebpf.CGroupSockAddr, ebpf.AttachCGroupInet6Connect},
		"sendmsg4":   {ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP4Sendmsg},
		"sendmsg6":   {ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP6Sendmsg},
		"egress_skb": {ebpf.CGroupSKB, ebpf.AttachCGroupInetEgress},
	}
	require.Len(t, spec.Programs, len(want))
	require.ElementsMatch(t, programs, keys(want))
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			p := spec.Programs[name]
			require.NotNil(t, p)
			assert.Equal(t, w.typ, p.Type)
			assert.Equal(t, w.attach, p.AttachType)
			assert.Equal(t, "Dual MIT/GPL", p.License)
			insns := p.Instructions
			require.NotEmpty(t, insns)
			assert.Less(t, len(insns), 4096, "small enough for any verifier")
			last := insns[len(insns)-1].OpCode
			assert.True(t, last == asm.Exit.Op(asm.ImmSource) || last == asm.Ja.Op(asm.ImmSource),
				"cannot run off its end (ends with %v)", last)
			exits := 0
			refs := map[string]bool{}
			var calls []asm.BuiltinFunc
			for _, ins := range insns {
				if r := ins.Reference(); r != "" && ins.IsLoadFromMap() {
					refs[r] = true
				}
				if ins.OpCode.JumpOp() == asm.Exit {
					exits++
				}
				if ins.IsBuiltinCall() {
					calls = append(calls, asm.BuiltinFunc(ins.Constant))
				}
			}
			assert.Positive(t, exits)
			assert.True(t, refs["allow"], "looks up the allow-list")
			assert.True(t, refs["events"], "reports to the ring buffer")
			assert.True(t, refs["lost"], "counts lost events")
			assert.True(t, refs[".rodata"], "reads the cgroup id")
			assert.Contains(t, calls, asm.FnRingbufReserve)
			assert.Contains(t, calls, asm.FnRingbufSubmit)
			assert.Contains(t, calls, asm.FnMapLookupElem)
			if w.typ == ebpf.CGroupSKB {
				assert.Contains(t, calls, asm.FnSkbLoadBytes)
				assert.NotContains(t, calls, asm.FnGetCurrentPidTgid, "a packet's pid is not known")
			} else {
				assert.Contains(t, calls, asm.FnGetCurrentPidTgid)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestMapSpecs(t *testing.T) {
	spec, err := loadEgress()
	require.NoError(t, err)

	allow := spec.Maps["allow"]
	require.NotNil(t, allow)
	assert.Equal(t, ebpf.ArrayOfMaps, allow.Type)
	assert.EqualValues(t, 4, allow.KeySize)
	assert.EqualValues(t, 1, allow.MaxEntries)
	inner := allow.InnerMap
	require.NotNil(t, inner)
	assert.Equal(t, ebpf.LPMTrie, inner.Type)
	assert.EqualValues(t, 4+16, inner.KeySize, "prefix length and a 128-bit address")
	assert.EqualValues(t, 8+MaxRangesPerPrefix*8, inner.ValueSize)
	assert.NotZero(t, inner.Flags&1, "BPF_F_NO_PREALLOC, which LPM tries need")

	events := spec.Maps["events"]
	require.NotNil(t, events)
	assert.Equal(t, ebpf.RingBuf, events.Type)
	assert.EqualValues(t, DefaultRingBufferSize, events.MaxEntries)

	lost := spec.Maps["lost"]
	require.NotNil(t, lost)
	assert.Equal(t, ebpf.PerCPUArray, lost.Type)
	assert.EqualValues(t, 8, lost.ValueSize)

	v := spec.Variables["cgroup_id"]
	require.NotNil(t, v)
	assert.True(t, v.Constant())
	assert.EqualValues(t, 8, v.Size())
}

// TestTypesMatchGo checks the C structs against their Go mirrors.
func TestTypesMatchGo(t *testing.T) {
	spec, err := loadEgress()
	require.NoError(t, err)
	for name, size := range map[string]int{"event": eventSize, "lpm_key": 20, "allow_entry": 8 + MaxRangesPerPrefix*8, "port_range": 8} {
		var s *btf.Struct
		require.NoError(t, spec.Types.TypeByName(name, &s), name)
		assert.EqualValues(t, size, s.Size, name)
	}
	var ev *btf.Struct
	require.NoError(t, spec.Types.TypeByName("event", &ev))
	offsets := map[string]uint32{}
	for _, m := range ev.Members {
		offsets[m.Name] = m.Offset.Bytes()
	}
	assert.Equal(t, map[string]uint32{"time_ns": 0, "cgroup_id": 8, "task_cgroup_id": 16, "pid": 24, "tid": 28,
		"port": 32, "protocol": 34, "family": 35, "hook": 36, "_pad": 37, "addr": 40, "comm": 56}, offsets,
		"decodeEvent reads these offsets")
}
