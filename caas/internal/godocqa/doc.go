// Package godocqa is a labelled retrieval set built from real text: the doc
// comments of the exported functions, methods and types of 43 well-known
// packages of the Go standard library, with queries whose right answer is
// known.
//
// Each [Doc] is one symbol: Source "pkg/Symbol" ("strings/HasPrefix",
// "bufio/Reader.ReadString"), Text its declaration and doc comment. Each
// [Query] names the Source that answers it and is of one of two kinds:
//
//   - [KindDescription]: the first sentence of a symbol's doc comment with
//     the symbol's and the package's names removed ("reports whether the
//     string s begins with prefix"). The answer's Text leaves that sentence
//     out, so the query never appears in it verbatim: these measure
//     semantic match.
//   - [KindIdentifier]: a short question naming the symbol in code form
//     ("how do I use strings.NewReplacer", "what does MaxBytesReader do"),
//     the name unambiguous in the set: these measure exact-identifier
//     recall, where a bag-of-words embedder is weak.
//
// The data, testdata/docs.jsonl and testdata/queries.jsonl, is generated
// by [Generate] from the toolchain's sources (go generate runs ./gen) and
// embedded; [Load] returns it. [Generate] is deterministic for a given Go
// release: packages are sorted, files are read as for linux/amd64 without
// cgo, and the selection is fixed by a hash of each symbol's name.
// testdata/version.txt records the release it ran on; the test that
// regenerates the set compares it byte for byte only under that release and
// skips under any other, whose doc comments may differ, so the set never
// makes the build depend on the Go version.
package godocqa
