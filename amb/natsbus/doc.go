// Package natsbus implements [amb.Bus] on NATS JetStream, for agents spread
// over processes and machines.
//
// Every published message is stored in one JetStream stream (subjects
// <prefix>.m.<topic>, dead letters <prefix>.d.<topic>) and acknowledged by
// the server before Publish returns; each subscription reads through its
// own pull consumer with explicit acks, so delivery is at least once: a
// handler's nil return acks, an error naks with the [amb.Retry] backoff,
// and the message is dead-lettered on "_dlq.<topic>" when its deliveries
// run out. Messages whose deliveries the server exhausts without the
// handler seeing the last one (ack timeouts, a crashed process) are found
// through JetStream's max-deliveries advisories and dead-lettered too; a
// derived message id makes the two paths store one dead letter. Requests
// use core NATS request/reply on <prefix>.r.<topic> and are not stored.
//
// Replay uses the consumer's deliver policy ([amb.DeliverAll],
// [amb.StartAtSeq] with stream sequences, [amb.StartAtTime] with server
// storage time). [amb.Durable] names a consumer that outlives the
// subscription and the process.
//
// Publish retries, with the same Nats-Msg-Id so that JetStream drops
// duplicates, while the server is unreachable, until its ctx ends: with a
// file-backed stream no acknowledged message is lost when the server stops
// and comes back, and with Replicas 3 in a cluster none is lost when one
// node goes away. Reconnecting is the connection's job ([Connect] enables
// it).
//
// Priorities travel in a header but JetStream delivers in stream order;
// [Bus.Capabilities] says so, and the conformance suite does not require
// priority order here. Package natstest runs embedded servers for tests.
package natsbus
