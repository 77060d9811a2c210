// Package lexical is the keyword half of the context service's retrieval:
// [Tokenize] turns text into lowercase terms, keeping identifiers whole and
// split ("http.NewRequest" also gives "http", "new" and "request"), and
// [Index] is an inverted index of such terms that ranks documents with
// Okapi BM25 (k1 = 1.2, b = 0.75). Postings are contiguous slices; each
// document remembers where its postings are, so [Index.Remove] and a
// replacing [Index.Add] cost O(terms of the document), and [Index.Search]
// reads only the postings of the query's terms, keeping the best k in a
// bounded heap, best first, ties broken by id ascending. An Index is safe
// for concurrent use.
package lexical
