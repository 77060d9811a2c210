// Package recorder is the flight recorder of agentos: an append-only,
// hash-chained, crash-safe log of every decision and outcome, stored in
// SQLite (github.com/mattn/go-sqlite3, WAL mode) for a file, or in plain Go
// memory.
//
// # Usage
//
// [Open] a file (or "" for memory), [Recorder.Append] one [KindDecision]
// entry before a syscall runs and one [KindOutcome] entry with the same
// Trace when it completes; signals, lifecycle events and panics get their
// own kinds. Entries are never updated in place: the outcome is a second
// entry, so the verdict and the result are both covered by the chain.
// [Recorder.Query] reads entries by agent, op, tool, payload type, effect,
// kind, time range and trace; [Recorder.Verify] checks the chain;
// [Recorder.Export] and [Import] move it as JSON Lines, re-verifying on
// import.
//
// # Two stores
//
// [Open] with a path stores the chain in an SQLite file. [Open] with "" (or
// ":memory:") keeps it in the process's memory, in plain Go data structures
// (entries in fixed-size chunks, no SQL, no cgo): the kernel's default
// recorder, and the one to use in tests. Both stores give the same API and
// guarantees: the same entries, chain and hashes (byte for byte, so an
// [Recorder.Export] of one imports into the other with [Import]), the same
// answers to [Recorder.Query] and [Recorder.Stats], and a [Recorder.Verify]
// that walks and checks every link. In memory, [WriteAhead] and [Buffered]
// both mean that Append returns once the entry is in the chain; nothing is
// durable, and nothing survives the process: export or use a file for
// that. A program built with CGO_ENABLED=0 has the memory store only;
// opening a file then fails with an error wrapping errors.ErrUnsupported.
//
// Memory is bounded by [Options.MaxEntries]: past it, each Append drops the
// oldest entry (a ring). The recorder keeps the sequence and hash of the
// last entry dropped as the genesis of what it holds, so that Verify checks
// the rest from there and says how many it could not check
// ([Report.Evicted], [Stats.Evicted]); Query never returns a dropped entry,
// and [Recorder.Anchor] still names the chain from its start. A kernel
// entry takes about 256 bytes of heap in memory (its fields in one string
// in their hashed encoding, plus an 88-byte slot; see
// BenchmarkMemoryBytesPerEntry): without a bound, a million entries hold
// about 250 MiB. A query by trace in memory goes through an index that the
// first such query builds (about 40 bytes an entry) and later appends and
// evictions keep; until then appends pay nothing for it.
//
// # What an entry records
//
// An [Entry] holds, besides its sequence, time, trace, agent and kind:
//
//   - the action: op, tool, path, target, args (canonical JSON), the
//     payload type of a value sent and the action's meta labels (direction,
//     sender, pattern…), each in its own column, meta as a canonical JSON
//     object;
//   - the verdict: policy version, rule, effect, message, severity;
//   - the outcome: status, error, duration, result digest;
//   - detail, free text for signal, lifecycle and panic entries.
//
// Every one of them is covered by the entry's hash. Payload type and meta
// are bounded ([MaxPayloadType], [MaxMetaEntries], [MaxMetaKey],
// [MaxMetaValue]) and the whole entry by [Options.MaxEntryBytes].
//
// # The chain
//
// Every entry carries the hash of the entry before it and its own hash:
// SHA-256 over the previous hash and a canonical, versioned encoding of its
// sequence number and every field ([ComputeHash]). The first entry of a
// file links to the file's genesis: zero for a first file, the last hash
// of the previous file after a rollover. SQLite triggers refuse UPDATE and
// DELETE on the tables, so the recorder's own connection cannot change
// history by mistake.
//
// # What is durable when
//
// In [WriteAhead] mode (the default) Append returns only after the entry's
// transaction has committed; with the default [SyncFull] the commit is
// fsynced, so an acknowledged entry survives a crash of the process and of
// the machine. With [SyncNormal] it survives a crash of the process (the
// data is in the operating system's cache) but may be lost if the machine
// loses power. Concurrent appenders share one commit (group commit).
//
// With SyncFull the fsync is the recorder's, not SQLite's: a commit is
// written with synchronous=NORMAL (its frames in the WAL, no fsync), the
// write lock is released, and the WAL is fsynced before the Appends of that
// commit return. The next commit is written while the disk syncs the last
// one, and one fsync covers every commit written before it began; a commit
// is not started while one already waits for the next fsync, so that
// batches stay whole. The promise is the one SQLite's FULL gives: an
// acknowledged entry is in a WAL frame that a completed fsync covered. A
// failed fsync is final ([ErrSync]): every later Append fails, since a
// later fsync that succeeds does not bring back the pages the failed one
// may have dropped. A reader may see an entry before its fsync completes
// (its syscall's effect, which waits for the Append, has not run yet); the
// [Recorder.Anchor] moves only with the fsync. A file that is not in WAL
// mode is left to SQLite's FULL.
//
// [Recorder.AppendLater] queues an entry in WriteAhead mode without
// waiting: it takes its place in the chain at once and is committed with
// the next commit, which the next waiting Append, a Flush, a read, Close
// or at the latest a timer of [Options.FlushInterval] makes. The kernel
// appends a syscall's decision with Append (durable before the effect)
// and its outcome with AppendLater, so that the outcome rides on the next
// decision's commit: one fsync per syscall. A commit of such entries that
// fails is a loss, reported as in Buffered mode ([Recorder.Lost]); a crash
// before it leaves a permitted decision ([StatusPermitted]) without an
// outcome, an unknown outcome: the effect may or may not have happened.
// [Recorder.Stats] (the current file) and [Recorder.Verify] (the whole
// chain) list them ([Unknown]); syscalls running while they read show
// there too, and a kernel closed cleanly leaves none.
//
// In [Buffered] mode Append returns once the entry is queued, with its
// sequence number already fixed. A flusher commits the queue when
// [Options.BatchSize] entries wait, every [Options.FlushInterval], on
// [Recorder.Flush] and on [Recorder.Close]. Entries still queued when the
// process dies are lost; everything committed before is not. The queue is
// bounded: when it is full Append blocks, or fails with [ErrQueueFull]
// under [Fail]. Nothing is dropped silently: if a commit fails (disk full,
// [ErrStorageFull]) the entries already accepted are reported as a
// [*LostError] by the next Append, Flush or Close, and the chain goes on
// from the last committed entry.
//
// # What Verify proves, and what it cannot
//
// [Recorder.Verify] walks the chain from the zero genesis, through every
// file of a rolled-over recorder, and reports the first broken link: a
// stored field, hash or link that was edited, entries deleted from the
// start or the middle, entries inserted or moved, a genesis that was
// rewritten ([ChainError] names the first bad sequence, the reason and the
// file). A chain starts at the zero genesis: a file whose stored genesis is
// not zero is accepted only when the caller says which genesis it expects,
// with an [Anchor] that names it, so that deleting the oldest entries and
// moving the genesis onto the last deleted one is reported, not believed.
// [VerifyFiles] checks a rollover set the same way and names a file that
// was deleted, listed out of order, listed twice or replaced by a file of
// another chain.
//
// What a chain alone cannot reveal, to anyone: a tail cut off after entry
// n (a valid chain of n entries), and a chain rewritten from some entry on
// by someone who can write the file and recomputes every later hash (or
// writes a whole new file from the zero genesis). The chain is not secret
// and not signed; whoever can write the file can make it consistent. Only
// an anchor kept where that person cannot write reveals these:
// [Recorder.Anchor] returns the chain by both ends (genesis and head),
// [SignAnchor] signs one with an Ed25519 key, and a [Publisher] publishes
// one every N entries or T seconds to an [AnchorSink] (in memory, a file,
// or a NATS JetStream stream with package amb/natsbus, so that the proof
// lives off the host). [Recorder.VerifyAnchors] and [VerifyFilesAnchored]
// then require the chain to start at the anchors' genesis and to pass
// through every anchored point with the anchored hash: a truncated tail is
// [ReasonTruncated], a recomputed chain [ReasonRewritten], located between
// the last anchor that matches and the first that does not. Anchors are
// worth what their storage is: an anchor file on the recorder's own disk
// stops forgery (the signature) but not deletion, and entries appended
// after the last anchor published are proven by nothing but the chain.
// Verify against every anchor kept, not only the latest: a recorder
// reopened after someone rewrote its file publishes anchors of the
// rewritten chain (its genesis included), which only the earlier anchors
// contradict.
// A kernel records into the recorder through [Recorder.Append]; see
// kernel.WithAnchors for publishing while it runs.
//
// # Concurrency
//
// A [Recorder] is safe for concurrent use. One goroutine, started by Open
// and joined by Close, writes; Query iterates in pages and holds no
// connection or lock while the caller's loop body runs. In memory, Append
// seals and stores under a mutex and starts no goroutine; readers copy a
// view of the chunks under it and read entries, which are never changed
// once stored, without it. Two Recorders (or
// processes) must not append to the same file: the second gets
// [ErrConflict].
package recorder
