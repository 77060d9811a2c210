// Package tokens counts and cuts text in the tokens of OpenAI's byte-pair
// encodings, offline: the vocabularies of cl100k_base and o200k_base are
// compiled into the binary (github.com/tiktoken-go/tokenizer), so nothing is
// downloaded at run time.
//
// A model name chooses the encoding ([EncodingFor] documents the mapping);
// a name it does not know falls back to o200k_base, the encoding of every
// current OpenAI chat model, and the count is then an estimate (a Llama or
// Mistral server tokenizes differently). [CountMessages] adds the per-message
// overhead of the chat format as OpenAI's cookbook documents it. Encodings
// are loaded once, on first use, and every function and [*Counter] is safe
// for concurrent use.
package tokens
