// Package attack holds the project's attack suite: tests, named by threat,
// that try to break the promise agentos makes through its public API, the
// way an outsider would.
//
// Each test asserts the promise, not a mechanism:
//
//   - denied never runs: an action that policy forbids has no effect;
//   - nothing commits after SIGKILL returns, in process or in a tool's
//     processes;
//   - no tampering with the flight recorder goes unnoticed;
//   - no record is lost once success was reported;
//   - no command tool escapes its sandbox (uid, capabilities, namespaces,
//     cgroup, eBPF egress);
//   - no resource use beyond quota.
//
// The suite runs in .ci/run as root with no skips: tests that need root or
// eBPF fail instead of skipping when AGENTOS_REQUIRE_BPF is set. The package
// has no non-test code; docs/ARCHITECTURE.md describes the threat model the
// tests are written against.
package attack
