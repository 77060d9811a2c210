// Package emk is the episodic memory of agentos: what each agent did, what
// came of it and what it learnt, kept so that it can ask, before acting,
// "what went wrong last time I did this?".
//
// # Usage
//
// [Open] a file (or "" for memory) with an embedder ([WithEmbedder], for
// example models/glove's offline one) and [Store.Append] an [Episode] per
// experience: goal, action, result, reflection, [Outcome], meta labels and
// the ids of the earlier episodes it follows from. [Store.Failures] and
// [Store.Successes] answer the common questions; [Store.Query] filters by
// agent, outcome, time and meta and ranks by a documented mix of
// similarity and recency ([Query]). [Store.Trace] follows causal links
// either way; [Store.MarkAntiPattern] flags an episode; [Store.Sleep]
// distils old episodes into facts. [Decode] reads an episode an agent
// wrote, strictly. The kernel mounts a store at /mem/episodic/ and governs
// each call as a syscall; this package knows nothing of that.
//
// # Episodes are immutable and content-addressed
//
// An episode's ID is the SHA-256 of a canonical encoding of all its fields
// but the embedding ([Episode.ComputeID]). Appending the same episode again
// returns the stored one. Nothing is ever updated or deleted: SQLite
// triggers refuse UPDATE and DELETE on every table (which stops mistakes,
// not someone with the file), a correction is a new episode caused by the
// old one, and a sleep cycle adds facts whose causes are the episodes they
// distil, recording those in an append-only table so that no cycle distils
// them twice. Causes must already be stored, so Append cannot build a
// cycle; Trace still guards against one in a tampered file.
//
// # Bounds
//
// Every size is bounded: an episode's fields ([MaxFieldSize],
// [MaxAgentSize], [MaxMetaEntries], [MaxMetaKeySize], [MaxMetaValueSize],
// [MaxCauses], [MaxDims]) and its JSON ([MaxEpisodeSize]); the store
// ([WithMaxEpisodes], default [DefaultMaxEpisodes], beyond which Append
// fails with agentos.ErrQuota); a batch ([MaxBatch]); a page ([MaxListLimit]);
// a query's answer ([MaxK]) and the episodes a Text query scores: the
// [MaxCandidates] most recent that pass the filters, so an older match is
// found only by a narrower query; a trace ([MaxTraceDepth],
// [MaxTraceNodes]); a sleep cycle ([MaxSleepEpisodes], a summary of at
// most [MaxFieldSize], [MaxSummarySize] from a model).
//
// # Similarity
//
// With an embedder, similarity is the cosine of embeddings, computed in Go
// over the candidates' stored vectors (float32, little-endian). Without
// one, a Text query falls back to lexical scoring: the cosine of the word
// sets of the query and the episode, which finds shared words, not shared
// meaning. Vectors from one embedder only are comparable: a store reopened
// with another embedder scores the old vectors of other dimensions as 0
// and those of the same dimensions as if they were comparable, so keep one
// embedder per file.
//
// # Concurrency
//
// A [*Store] is safe for concurrent use. Writes (Append, AppendBatch, the
// commit of Sleep) are serialised; reads of a file run in parallel with
// them (WAL, a pool of readers); an in-memory store has one connection,
// shared by all. Embedders and summarizers are called on the calling
// goroutine, outside the store's locks; sleep cycles run one at a time.
// The package starts no goroutine. Close waits for the calls in progress.
//
// # Caveats
//
// Meta filters are not indexed: SQLite reads the meta of every episode the
// other filters leave (about 4 ms over 10,000 episodes). The episode bound
// is counted from the largest row id, which equals the number of episodes
// because none is deleted. One process should write a
// file at a time (SQLite serialises writers across processes, and the
// store's bound and idempotence hold per transaction, but nothing else is
// coordinated). Without cgo there is no SQLite: Open fails with an error
// wrapping errors.ErrUnsupported.
package emk
