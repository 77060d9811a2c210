// Package caas is context as a service: named collections of documents
// that an agent's memory is made of, searchable by meaning and by words,
// and packed into a context window within a token budget. The kernel
// mounts a [Collection] at an agent's /mem/semantic/: writing a file
// ingests it, reading reads it back, a search is a governed syscall. caas
// knows nothing of the kernel, the VFS or policy.
//
// # Usage
//
// [New] takes an [agentos.Embedder] (models/glove offline; models/openai
// for an OpenAI-compatible endpoint) and options ([WithDir], [WithQuota],
// [WithClock], [WithTokenCounter], [WithChunking]).
// [Service.Collection] gets or creates a collection; [Collection.Ingest]
// splits a [Document] into chunks ([Split]), embeds each and indexes it;
// [Collection.Search] ranks chunks for a [Query]; [Collection.Context]
// packs a [ContextRequest] into a [Context] with citations.
//
// # Tiers
//
// [Split] cuts by structure and gives each chunk a [Tier]: contracts
// (Markdown headings, Go package clauses, signatures and type
// declarations with their docs), bodies (section text, function bodies),
// notes (comments, footnotes, blockquotes). Queries can select tiers;
// context packing weights them (contract 1.2, body 1.0, note 0.8 by
// default), since a signature says more per token than the code under it.
//
// # Hybrid ranking
//
// Each chunk is in an exact vector index (cosine over every row) and a
// BM25 index. [ModeHybrid], the default, normalises each side's scores
// per query (cosines min-max over the vector candidates, BM25 as a
// fraction of the best) and adds them with weights 0.2 and 0.8, so that an
// exact identifier in a query (http.NewRequest, max_tokens) finds its
// chunk even when the embedder does not; [Collection.Search] says why not
// reciprocal rank fusion. [ModeVector] and [ModeLexical] use one side.
//
// # Hot, warm, cold and decay
//
// A context is built from hot blocks (the current situation: always in,
// first; if they alone exceed the budget the request fails with
// [ErrBudget] rather than truncating them), warm blocks (persona, standing
// instructions: next, dropped if they do not fit), then retrieved chunks.
// Chunks older than ColdAfter (default 30 days) are the cold archive, left
// out unless IncludeCold. Scores decay with age as 1/(1+days·rate):
// halved after a day at rate 1, 0.125 after a week, under 0.01 after a
// year; the context default rate is 0.1 a day ([DefaultDecayRate]), a
// query's default none. Chunks are packed whole, best first by score ×
// decay × tier weight; adjacent chunks of one source are merged; each
// block is cited by source and byte offsets into the stored document.
// Token counts come from models/tokens, and the final text is counted
// again, so Tokens never exceeds MaxTokens.
//
// # Persistence
//
// chromem-go is the store of record: every chunk with its vector and
// metadata, and every document as ingested. Without [WithDir] all is in
// memory. With it, each collection is one gzip'd chromem-go export
// (NAME.chromem.gob.gz) written by [Service.Save] and [Service.Close]
// atomically (temporary file, fsync, rename, fsync of the directory) and
// loaded and checked by [New]; a file that does not load is an error
// naming it; the file is decoded and checked by caas (every chunk must
// slice its document), not trusted. chromem-go's own NewPersistentDB was
// not used: it writes one file per document synchronously on every add
// (its author advises against it for large sets), so an ingest of a
// thousand chunks is a thousand file writes; each file is truncated and
// rewritten in place with no fsync, so a crash can leave a torn one; and
// a document's chunks are not replaced atomically. A snapshot per
// collection is one write, atomic, paid for when the caller chooses. The
// price: what was ingested since the last Save is lost if the process
// dies.
//
// # Bounds
//
// Sources of at most [MaxSourceBytes], documents of at most
// [MaxDocumentBytes] and [MaxChunks] chunks, chunks of at most
// ChunkOptions.MaxBytes, [MaxCollections] collections, K at most [MaxK],
// a [Quota] of vectors and bytes per collection ([DefaultMaxVectors], [DefaultMaxBytes]), hot and
// warm blocks bounded by [MaxBlocks] and [MaxBlockBytes]. Documents with
// a NUL byte or more than 1% invalid UTF-8 are refused as binary
// ([ErrBinary]).
//
// # Concurrency
//
// A [Service] and its collections are safe for concurrent use. Searches
// and context builds share a collection's read lock; Ingest embeds outside
// any lock, then swaps a document's chunks in under the write lock, so a
// reader sees all the old chunks or all the new. The embedder is called
// from the goroutine that called Ingest, Search or Context.
//
// # Caveats
//
// The offline embedder (models/glove) is a bag of words: it knows topics,
// not word order or negation, and is why BM25 carries most of the hybrid
// weight. An OpenAI-compatible model through models/openai is the upgrade
// path; the weights were tuned on glove. Decay re-ranks a bounded candidate
// pool (max(4K, 64) per side), not the whole collection.
package caas
