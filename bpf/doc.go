// Package bpf enforces network egress rules in the Linux kernel, below the
// agent and its tools: eBPF programs (github.com/cilium/ebpf) attached to
// the cgroup v2 an agent's tool processes run in allow connect() and
// unconnected UDP sends only to the destinations of an allow-list, and a
// packet-level program drops whatever else a socket of the cgroup tries to
// send. A denied connect or send fails with EPERM; a denied packet is
// dropped; every denial is reported as an [Event] carrying the cgroup id,
// so that the kernel can raise SIGPOLICY for the agent that owns it.
//
// # Usage
//
//	e, err := bpf.New(nil) // errors.Is(err, errors.ErrUnsupported): run without it
//	cg, err := bpf.NewCgroup("agentos", "agent-001")
//	att, err := e.Attach(cg, []bpf.Rule{{
//		Prefix: netip.MustParsePrefix("10.20.0.0/16"), Protocols: bpf.TCP,
//		Ports: []bpf.PortRange{{First: 5432, Last: 5432}},
//	}})
//	// start tools inside cg (proc.RunOptions.Cgroup = cg), then:
//	for ev := range e.Events() { /* ev.CgroupID → agent → SIGPOLICY */ }
//	err = att.Update(newRules) // atomic, nothing detached
//	err = cg.Kill()            // cgroup.kill; Freeze/Thaw for SIGSTOP/SIGCONT
//
// [Cgroup] manages one cgroup v2 directory: found from the mount table,
// created under a configurable parent, killed at once (cgroup.kill),
// frozen and thawed (cgroup.freeze, waiting for cgroup.events), removed
// with its descendants once empty. Its [Cgroup.FD] lets a program start
// directly inside it; its [Cgroup.ID] is the id the programs report.
//
// # Rules
//
// A [Rule] allows a prefix, ports and protocols (TCP, UDP). Nothing else
// is allowed: not loopback (list 127.0.0.0/8 or ::1 to allow it), not
// ICMP or raw IP, and IPv4 and IPv6 are separate (0.0.0.0/0 allows no IPv6
// address). The programs look the destination up in an LPM trie keyed by
// prefix (IPv4 as IPv4-mapped IPv6); each prefix carries the ports of
// every rule whose prefix contains it, so the longest match alone decides
// exactly as the union of the rules would. [Allows] computes the same
// decision in Go, without privileges.
//
// # Updates
//
// Each attachment holds its trie in slot 0 of an array of maps. Update
// builds a complete new trie and installs it with one map update: a
// decision in flight keeps the trie it looked up (the kernel frees it
// after its readers are done), every later decision sees the new one, no
// decision sees a mix, and no program is detached.
//
// # Events
//
// The programs write denials to a ring buffer shared by the attachments of
// an Enforcer. The Enforcer owns one goroutine that reads it and delivers
// [Event] values on [Enforcer.Events], a bounded channel; a denial that
// finds the ring buffer or the channel full is dropped and counted
// ([Enforcer.Dropped]). Close stops the goroutine and closes the channel.
//
// # Requirements
//
// Linux 5.8 or later (ring buffer; starting a process inside a cgroup
// needs 5.7, cgroup.kill 5.14, with a fallback), cgroup v2 mounted
// (hybrid mode is fine), and CAP_BPF with CAP_NET_ADMIN, or CAP_SYS_ADMIN
// (root). [New] probes all of it and returns an [*UnsupportedError]
// wrapping errors.ErrUnsupported naming what is missing; on other systems
// every constructor returns one. The programs are compiled from egress.c
// with bpf2go; the objects are committed, so building needs no clang (see
// gen.go to regenerate them).
//
// # Concurrency
//
// [Enforcer], [Attachment] and [Cgroup] are safe for concurrent use.
// Attach programs before starting processes in a cgroup: the five
// programs are attached one after the other. Closing an Attachment lifts
// enforcement from its cgroup: kill the cgroup first.
package bpf
