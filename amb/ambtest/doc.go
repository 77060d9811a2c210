// Package ambtest is the conformance suite for [amb.Bus] implementations.
// One suite, [Run], is run against every bus (the in-memory bus in package
// amb, the JetStream bus in amb/natsbus), so that they mean the same thing
// by publish/subscribe, wildcards, request/reply, ordering, retries and the
// dead-letter queue, validation, slow subscribers, replay and Close.
//
// A guarantee that differs between implementations (priority reordering,
// for instance) is tested only where the bus declares it through
// [amb.Capable].
package ambtest
