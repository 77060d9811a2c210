package proc

// DefaultSandboxID is the user and group id a sandboxed program runs as
// when the caller is root and [Sandbox] names no other: nobody/nogroup.
const DefaultSandboxID = 65534

// Sandbox confines a program (Linux only; see [SandboxSupported]). What it
// does depends on the caller:
//
// When the caller is root, the program starts through a small init that
// is this binary itself, re-executed (/proc/self/exe with a marker, as
// runc does, because Go runs no code of ours between fork and exec). The
// init runs as pid 1 of a new pid namespace, in a new mount namespace
// whose mounts are made private (nothing propagates to the host) and a
// new cgroup namespace rooted at the program's cgroup. There it mounts a
// fresh cgroup2 file system, read-only and rooted at that cgroup, over
// each cgroup2 mount, remounts every cgroup v1 and bpf file system
// read-only, and mounts a fresh /proc that shows only the namespace's
// processes. It then empties the capability bounding set and the ambient
// set, drops every supplementary group, sets the user and group ids to
// UID and GID, clears the remaining capability sets, sets no_new_privs
// (so that no set-user-id binary or file capability gives anything back),
// scopes abstract UNIX sockets and signals to the program's own processes
// with Landlock (Linux 6.12 or later; older kernels skip this step) and
// executes the program, which becomes the namespace's pid 1. When it
// dies, the kernel kills every other process of the namespace, setsid and
// double-forked ones included, before its parent's wait returns.
//
// When the caller is not root, the program runs as the caller, with
// no_new_privs, no ambient capabilities and the Landlock scopes, in the
// caller's namespaces.
//
// A setup step that fails makes Run fail before the program runs.
type Sandbox struct {
	// UID and GID are the ids the program runs as when the caller is root
	// (DefaultSandboxID when 0: the sandbox never runs a program as root).
	UID, GID uint32
}

func (s *Sandbox) ids() (uint32, uint32) {
	uid, gid := s.UID, s.GID
	if uid == 0 {
		uid = DefaultSandboxID
	}
	if gid == 0 {
		gid = DefaultSandboxID
	}
	return uid, gid
}
