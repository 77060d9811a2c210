package lexical

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/agent-os/agentos"
)

// BM25 parameters of [Index.Search] (Okapi BM25 with the usual values).
const (
	K1 = 1.2
	B  = 0.75
)

// MaxQueryTerms is the most distinct query terms Search scores; later
// ones are ignored.
const MaxQueryTerms = 1024

// Hit is one result of [Index.Search]: a document id and its BM25 score.
type Hit struct {
	ID    string
	Score float64
}

// posting records that a document holds a term tf times.
type posting struct {
	doc int32 // index in Index.docs
	tf  int32
}

// doc is an indexed document. terms holds its distinct term ids in
// ascending order and pos[i] the index of its posting in the posting list
// of terms[i], so that a removal finds each of its postings in O(1).
type doc struct {
	id    string
	terms []int32
	pos   []int32
}

// Index is an inverted index scored with Okapi BM25. It is safe for
// concurrent use: any number of Search and Len calls run together, Add and
// Remove one at a time. A document holds at most [MaxTokens] tokens; the
// number of documents is the caller's to bound (Add cannot refuse one).
//
// Invariants: docs is dense (a removal moves the last document into the
// gap); lens[d] is the token count of docs[d]; postings[t] lists every
// document holding term t exactly once, and docs[p.doc].pos at t's place
// is p's index in the list; a term whose list empties is forgotten and its
// id reused.
type Index struct {
	mu       sync.RWMutex
	byID     map[string]int32
	docs     []doc
	lens     []int32
	total    int64 // sum of lens
	termIDs  map[string]int32
	postings [][]posting
	free     []int32 // ids of forgotten terms
	names    []string

	acc sync.Pool // *accumulator
}

// accumulator is the scratch space of one search.
type accumulator struct {
	score   []float64
	touched []int32
}

// New returns an empty index.
func New() *Index {
	return &Index{byID: map[string]int32{}, termIDs: map[string]int32{}}
}

// Len returns the number of documents.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.docs)
}

// Add indexes text, split by [Tokenize], under id, replacing the document
// of an existing id. A text without tokens is a document that no query
// matches; it still counts in the collection statistics.
func (x *Index) Add(id, text string) {
	toks := Tokenize(text)
	tf := make(map[string]int32, len(toks))
	for _, t := range toks {
		tf[t]++
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.byID[id]; ok {
		x.remove(id)
	}
	d := int32(len(x.docs))
	nd := doc{id: strings.Clone(id), terms: make([]int32, 0, len(tf)), pos: make([]int32, len(tf))}
	for t := range tf {
		nd.terms = append(nd.terms, x.termID(t))
	}
	slices.Sort(nd.terms)
	for i, t := range nd.terms {
		nd.pos[i] = int32(len(x.postings[t]))
		x.postings[t] = append(x.postings[t], posting{doc: d, tf: tf[x.names[t]]})
	}
	x.docs = append(x.docs, nd)
	x.lens = append(x.lens, int32(len(toks)))
	x.total += int64(len(toks))
	x.byID[nd.id] = d
}

// termID returns the id of term t, creating it if needed.
func (x *Index) termID(t string) int32 {
	if id, ok := x.termIDs[t]; ok {
		return id
	}
	t = strings.Clone(t) // a token may share the bytes of a caller's text
	var id int32
	if n := len(x.free); n > 0 {
		id = x.free[n-1]
		x.free = x.free[:n-1]
		x.names[id] = t
	} else {
		id = int32(len(x.postings))
		x.postings = append(x.postings, nil)
		x.names = append(x.names, t)
	}
	x.termIDs[t] = id
	return id
}

// Remove deletes the document id and reports whether it was present.
// It costs O(distinct terms of the document), whatever the size of the
// index.
func (x *Index) Remove(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.remove(id)
}

func (x *Index) remove(id string) bool {
	d, ok := x.byID[id]
	if !ok {
		return false
	}
	gone := x.docs[d]
	x.total -= int64(x.lens[d])
	// Take its postings out: the last posting of each list moves into the
	// gap, and the document that owns it learns its new place.
	for i, t := range gone.terms {
		list := x.postings[t]
		p, last := gone.pos[i], int32(len(list)-1)
		if p != last {
			moved := list[last]
			list[p] = moved
			md := &x.docs[moved.doc]
			j, _ := slices.BinarySearch(md.terms, t)
			md.pos[j] = p
		}
		list[last] = posting{}
		x.postings[t] = list[:last]
		if last == 0 {
			x.postings[t] = nil
			delete(x.termIDs, x.names[t])
			x.names[t] = ""
			x.free = append(x.free, t)
		}
	}
	// Move the last document into its slot and repoint its postings.
	lastDoc := int32(len(x.docs) - 1)
	if d != lastDoc {
		md := x.docs[lastDoc]
		x.docs[d] = md
		x.lens[d] = x.lens[lastDoc]
		x.byID[md.id] = d
		for i, t := range md.terms {
			x.postings[t][md.pos[i]].doc = d
		}
	}
	x.docs[lastDoc] = doc{}
	x.docs = x.docs[:lastDoc]
	x.lens = x.lens[:lastDoc]
	delete(x.byID, id)
	return true
}

// Search returns the k documents that score best against query under
// Okapi BM25 (k1 = [K1], b = [B], IDF = ln(1 + (N − n + 0.5)/(n + 0.5))),
// best first, equal scores in ascending id order. The query is split by
// [Tokenize]; each distinct term counts once (at most [MaxQueryTerms] of
// them), so an identifier that a document holds whole scores above one
// whose parts are spread apart. Only documents whose id keep accepts are
// returned (nil keeps all); keep is called under the index's read lock, at
// most once per matching document, and must not call back into x. A query
// without tokens, or whose terms no document holds, has no hits and no
// error; a k below 1 gives an error wrapping agentos.ErrInvalid.
func (x *Index) Search(query string, k int, keep func(id string) bool) ([]Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("lexical: k = %d, want at least 1: %w", k, agentos.ErrInvalid)
	}
	terms := distinct(Tokenize(query), MaxQueryTerms)
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.docs)
	if n == 0 || len(terms) == 0 {
		return []Hit{}, nil
	}
	acc, _ := x.acc.Get().(*accumulator)
	if acc == nil {
		acc = &accumulator{}
	}
	defer x.acc.Put(acc)
	if len(acc.score) < n {
		acc.score = make([]float64, n)
	}
	score := acc.score[:n]
	touched := acc.touched[:0]
	avgdl := float64(x.total) / float64(n)
	for _, t := range terms {
		id, ok := x.termIDs[t]
		if !ok {
			continue
		}
		list := x.postings[id]
		w := idf(n, len(list))
		for _, p := range list {
			// Every contribution is positive (idf > 0, tf ≥ 1), so a
			// zero score means a document not seen yet.
			if score[p.doc] == 0 {
				touched = append(touched, p.doc)
			}
			score[p.doc] += w * tfNorm(float64(p.tf), float64(x.lens[p.doc]), avgdl)
		}
	}
	top := topK{ids: x.docs, items: make([]scored, 0, min(k, len(touched)))}
	for _, d := range touched {
		s := score[d]
		score[d] = 0
		if keep == nil || keep(x.docs[d].id) {
			top.offer(scored{score: s, doc: d}, k)
		}
	}
	acc.touched = touched[:0]
	items := top.items
	slices.SortFunc(items, func(a, b scored) int {
		switch {
		case top.worse(a, b):
			return 1
		case top.worse(b, a):
			return -1
		}
		return 0
	})
	hits := make([]Hit, len(items))
	for i, it := range items {
		hits[i] = Hit{ID: x.docs[it.doc].id, Score: it.score}
	}
	return hits, nil
}

// idf is BM25's inverse document frequency of a term held by n of N
// documents; it is positive for every n ≤ N.
func idf(N, n int) float64 {
	return math.Log(1 + (float64(N)-float64(n)+0.5)/(float64(n)+0.5))
}

// tfNorm is BM25's saturated term frequency of a term held tf times by a
// document of dl tokens, avgdl the mean document length.
func tfNorm(tf, dl, avgdl float64) float64 {
	return tf * (K1 + 1) / (tf + K1*(1-B+B*dl/avgdl))
}

// distinct returns the first max distinct strings of toks, in order.
func distinct(toks []string, max int) []string {
	seen := make(map[string]bool, len(toks))
	out := toks[:0]
	for _, t := range toks {
		if !seen[t] && len(out) < max {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// scored is a scored document.
type scored struct {
	score float64
	doc   int32
}

// topK is a min-heap of at most k scored documents whose root is the
// worst kept one: lowest score, and of equal scores the greatest id.
type topK struct {
	ids   []doc
	items []scored
}

func (h *topK) worse(a, b scored) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return h.ids[a.doc].id > h.ids[b.doc].id
}

// offer adds it if fewer than k are kept, or replaces the root if it is
// better than the root.
func (h *topK) offer(it scored, k int) {
	s := h.items
	if len(s) < k {
		s = append(s, it)
		for i := len(s) - 1; i > 0; {
			p := (i - 1) / 2
			if !h.worse(s[i], s[p]) {
				break
			}
			s[i], s[p] = s[p], s[i]
			i = p
		}
		h.items = s
		return
	}
	if !h.worse(s[0], it) {
		return
	}
	s[0] = it
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && h.worse(s[r], s[l]) {
			m = r
		}
		if !h.worse(s[m], s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
}
