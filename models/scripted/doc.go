// Package scripted is a language model that answers by rule: canned replies
// for tests and examples, deterministic and offline.
//
// [New] takes rules, tried in order; the first whose [Matcher] accepts the
// prompt answers it, with a fixed text, a text/template of the prompt, a
// sequence of texts (one per call), or an error. A prompt no rule matches
// is an error wrapping [agentos.ErrNotFound], never an empty success; end
// the rules with [Otherwise] to give a default answer. Usage is counted
// with package tokens in the encoding of the model's name, the prompt's
// MaxTokens and Stop are honoured as a real model honours them, and every
// prompt is recorded for assertions ([Model.Calls]). Latency is scripted
// per rule through an injected sleep, so tests need not wait.
//
// A [*Model] is safe for concurrent use; a sequence hands its texts out in
// the order calls reach it.
package scripted
