package vindex

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/agent-os/agentos"
)

// Limits of an index.
const (
	// MaxDims is the largest number of dimensions New accepts.
	MaxDims = 4096
	// MaxIDLen is the longest id, in bytes, that Add accepts.
	MaxIDLen = 4096
	// DefaultMaxLen is the number of rows an index holds unless
	// [WithMaxLen] says otherwise.
	DefaultMaxLen = 1 << 22
	// ParallelMin is the number of rows from which Search splits its scan
	// across goroutines (when GOMAXPROCS > 1), each taking at least half
	// of ParallelMin rows. On 2 idle cores the split scan of 100-d rows
	// was 1.7 times as fast as one goroutine from 40k rows on, and 1.2 to
	// 1.4 times from 5k to 20k (BenchmarkSplit); on cores that other work
	// keeps busy it gains nothing. Below ParallelMin one goroutine scans,
	// leaving the other cores to concurrent searches, where a sub-
	// millisecond scan gains little from being halved.
	ParallelMin = 20000
)

// Hit is one result of [Index.Search]: an id and its cosine similarity
// to the query (approximate under [WithInt8]).
type Hit struct {
	ID    string
	Score float32
}

// Option changes how [New] builds an index.
type Option func(*config) error

type config struct {
	int8   bool
	maxLen int
}

// WithInt8 stores each row as int8 components with one float32 scale per
// row (max |component| / 127), a quarter of the memory of float32 rows.
// Search is then approximate: the query stays float32, and a score differs
// from the exact cosine by at most scale/2 · ‖q‖₁ (q the unit query), so
// near-ties may swap. Recall@10 against the exact index is measured by
// TestInt8Recall.
func WithInt8() Option {
	return func(c *config) error { c.int8 = true; return nil }
}

// WithMaxLen bounds the number of rows (default [DefaultMaxLen]); Add of a
// new id beyond it fails with an error wrapping agentos.ErrQuota. n must be
// between 1 and 2³¹−1.
func WithMaxLen(n int) Option {
	return func(c *config) error {
		if n < 1 || n > math.MaxInt32 {
			return fmt.Errorf("vindex: max length %d not in 1..%d: %w", n, math.MaxInt32, agentos.ErrInvalid)
		}
		c.maxLen = n
		return nil
	}
}

// Index is a flat vector index. Row i of the slab holds the unit vector of
// ids[i]; rows maps each id to its row. It is safe for concurrent use:
// any number of Search, Len and Dims calls run together, Add and Remove
// one at a time.
type Index struct {
	dims   int
	int8   bool
	maxLen int

	mu     sync.RWMutex
	ids    []string
	rows   map[string]int
	f32    []float32 // len(ids)*dims, float32 mode
	i8     []int8    // len(ids)*dims, int8 mode
	scales []float32 // len(ids), int8 mode

	// parallelMin is ParallelMin and procs (when not 0) replaces
	// GOMAXPROCS: fields so that tests and benchmarks can drive the serial
	// and the split scan over the same data.
	parallelMin int
	procs       int
}

// New returns an empty index of vectors of dims dimensions (1 to
// [MaxDims]). A bad dims or option gives an error wrapping
// agentos.ErrInvalid.
func New(dims int, opts ...Option) (*Index, error) {
	if dims < 1 || dims > MaxDims {
		return nil, fmt.Errorf("vindex: dims %d not in 1..%d: %w", dims, MaxDims, agentos.ErrInvalid)
	}
	c := config{maxLen: DefaultMaxLen}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	return &Index{
		dims:        dims,
		int8:        c.int8,
		maxLen:      c.maxLen,
		rows:        make(map[string]int),
		parallelMin: ParallelMin,
	}, nil
}

// Dims returns the number of dimensions of the index's vectors.
func (x *Index) Dims() int { return x.dims }

// Len returns the number of rows (ids) in the index.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.ids)
}

// unit returns v divided by its L2 norm, computed in float64, or an error
// wrapping agentos.ErrInvalid when v has the wrong length, a NaN or
// infinite component, or no direction (all zero). what names v in the
// error.
func (x *Index) unit(v []float32, what string) ([]float32, error) {
	if len(v) != x.dims {
		return nil, fmt.Errorf("vindex: %s has %d dimensions, index has %d: %w", what, len(v), x.dims, agentos.ErrInvalid)
	}
	var ss float64
	for i, f := range v {
		d := float64(f)
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return nil, fmt.Errorf("vindex: %s component %d is %v: %w", what, i, f, agentos.ErrInvalid)
		}
		ss += d * d
	}
	if ss == 0 {
		return nil, fmt.Errorf("vindex: %s is all zero: %w", what, agentos.ErrInvalid)
	}
	norm := math.Sqrt(ss)
	u := make([]float32, len(v))
	for i, f := range v {
		u[i] = float32(float64(f) / norm)
	}
	return u, nil
}

// quantize writes u (a unit vector) as int8 components into dst and
// returns the scale: u[i] ≈ scale · dst[i].
func quantize(dst []int8, u []float32) float32 {
	var m float32
	for _, f := range u {
		m = max(m, abs32(f))
	}
	scale := m / 127
	for i, f := range u {
		q := math.Round(float64(f / scale))
		dst[i] = int8(max(-127, min(127, q)))
	}
	return scale
}

func abs32(f float32) float32 {
	if f < 0 {
		return -f
	}
	return f
}

// Add stores a copy of v, L2-normalised, under id, replacing the vector of
// an existing id. A v of the wrong length, with a NaN or infinite
// component, or all zero, and an empty id or one longer than [MaxIDLen],
// give an error wrapping agentos.ErrInvalid; a new id beyond the index's
// maximum length gives one wrapping agentos.ErrQuota. On error the index
// is unchanged.
func (x *Index) Add(id string, v []float32) error {
	if id == "" || len(id) > MaxIDLen {
		return fmt.Errorf("vindex: id of %d bytes not in 1..%d: %w", len(id), MaxIDLen, agentos.ErrInvalid)
	}
	u, err := x.unit(v, "vector")
	if err != nil {
		return fmt.Errorf("%w (id %q)", err, id)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	row, ok := x.rows[id]
	if !ok {
		if len(x.ids) >= x.maxLen {
			return fmt.Errorf("vindex: index full (%d rows), cannot add %q: %w", x.maxLen, id, agentos.ErrQuota)
		}
		row = len(x.ids)
		// The map and the slice share the id's bytes; a clone keeps a
		// caller's larger string (a substring) from being retained.
		id = strings.Clone(id)
		x.ids = append(x.ids, id)
		x.rows[id] = row
		if x.int8 {
			x.i8 = slices.Grow(x.i8, x.dims)[:len(x.i8)+x.dims]
			x.scales = append(x.scales, 0)
		} else {
			x.f32 = slices.Grow(x.f32, x.dims)[:len(x.f32)+x.dims]
		}
	}
	off := row * x.dims
	if x.int8 {
		x.scales[row] = quantize(x.i8[off:off+x.dims], u)
	} else {
		copy(x.f32[off:off+x.dims], u)
	}
	return nil
}

// Remove deletes id and reports whether it was present. The last row moves
// into the freed one, so Remove is O(1) and the rows stay contiguous; the
// slab shrinks when it is less than a quarter full.
func (x *Index) Remove(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	row, ok := x.rows[id]
	if !ok {
		return false
	}
	last := len(x.ids) - 1
	d := x.dims
	if row != last {
		moved := x.ids[last]
		x.ids[row] = moved
		x.rows[moved] = row
		if x.int8 {
			copy(x.i8[row*d:(row+1)*d], x.i8[last*d:])
			x.scales[row] = x.scales[last]
		} else {
			copy(x.f32[row*d:(row+1)*d], x.f32[last*d:])
		}
	}
	delete(x.rows, id)
	x.ids[last] = ""
	x.ids = x.ids[:last]
	if x.int8 {
		x.i8 = x.i8[:last*d]
		x.scales = x.scales[:last]
	} else {
		x.f32 = x.f32[:last*d]
	}
	if c := cap(x.ids); c > 1024 && last < c/4 {
		x.ids = slices.Clip(slices.Clone(x.ids))
		x.i8 = slices.Clip(slices.Clone(x.i8))
		x.scales = slices.Clip(slices.Clone(x.scales))
		x.f32 = slices.Clip(slices.Clone(x.f32))
	}
	return true
}

// Search returns the k rows most similar to q by cosine similarity (the
// dot product of unit vectors), best first, equal scores in ascending id
// order. Only rows whose id keep accepts are considered (nil keeps every
// row); if fewer than k are, all of them are returned, which is not an
// error. q is normalised first; a q of the wrong length, with a NaN or
// infinite component, or all zero, and a k below 1, give an error
// wrapping agentos.ErrInvalid.
//
// keep is called once per row, under the index's read lock, so it must not
// call back into x; on indexes of [ParallelMin] rows or more it is called
// from several goroutines at once, so it must be safe for concurrent use
// (a lookup in a map that is not being written is). A panic in keep is
// re-raised in the goroutine that called Search.
func (x *Index) Search(q []float32, k int, keep func(id string) bool) ([]Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("vindex: k = %d, want at least 1: %w", k, agentos.ErrInvalid)
	}
	u, err := x.unit(q, "query")
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.ids)
	k = min(k, n)
	if k == 0 {
		return []Hit{}, nil
	}
	var top heap
	if workers := x.workers(n); workers > 1 {
		top = x.scanParallel(u, k, keep, n, workers)
	} else {
		top = heap{ids: x.ids, items: make([]item, 0, k)}
		x.scan(&top, u, keep, 0, n)
	}
	items := top.items
	slices.SortFunc(items, func(a, b item) int {
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
		hits[i] = Hit{ID: x.ids[it.row], Score: it.score}
	}
	return hits, nil
}

// workers returns how many goroutines scan n rows.
func (x *Index) workers(n int) int {
	p := runtime.GOMAXPROCS(0)
	if x.procs > 0 {
		p = x.procs
	}
	if p < 2 || n < x.parallelMin {
		return 1
	}
	// Each worker gets at least half of ParallelMin rows.
	return max(1, min(p, n/max(1, x.parallelMin/2)))
}

// scanParallel splits rows [0, n) into workers contiguous chunks, scans
// each into its own heap in its own goroutine, waits for all of them and
// merges the heaps.
func (x *Index) scanParallel(u []float32, k int, keep func(string) bool, n, workers int) heap {
	heaps := make([]heap, workers)
	panics := make([]any, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		heaps[w] = heap{ids: x.ids, items: make([]item, 0, min(k, hi-lo))}
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					panics[w] = r
				}
			}()
			x.scan(&heaps[w], u, keep, lo, hi)
		})
	}
	wg.Wait()
	for _, p := range panics {
		if p != nil {
			panic(p)
		}
	}
	top := heaps[0]
	top.items = slices.Grow(top.items, k-len(top.items))
	for _, h := range heaps[1:] {
		for _, it := range h.items {
			top.offer(it, k)
		}
	}
	return top
}

// scan offers rows [lo, hi) to h, which keeps at most cap(h.items) of them.
func (x *Index) scan(h *heap, u []float32, keep func(string) bool, lo, hi int) {
	k := cap(h.items)
	d := x.dims
	for r := lo; r < hi; r++ {
		if keep != nil && !keep(x.ids[r]) {
			continue
		}
		var s float32
		if x.int8 {
			s = x.scales[r] * dotI8(u, x.i8[r*d:(r+1)*d])
		} else {
			s = dot(u, x.f32[r*d:(r+1)*d])
		}
		// The common case, a row worse than the k-th best so far, costs
		// one comparison.
		if len(h.items) == k && s < h.items[0].score {
			continue
		}
		h.offer(item{score: s, row: int32(r)}, k)
	}
}

// dot returns the dot product of a and b[:len(a)] with eight independent
// accumulators, so that consecutive additions do not wait on each other.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	for len(a) >= 8 {
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
		s4 += a[4] * b[4]
		s5 += a[5] * b[5]
		s6 += a[6] * b[6]
		s7 += a[7] * b[7]
		a, b = a[8:], b[8:]
	}
	for i := range a {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// dotI8 is dot with int8 components in b.
func dotI8(a []float32, b []int8) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	for len(a) >= 8 {
		s0 += a[0] * float32(b[0])
		s1 += a[1] * float32(b[1])
		s2 += a[2] * float32(b[2])
		s3 += a[3] * float32(b[3])
		s4 += a[4] * float32(b[4])
		s5 += a[5] * float32(b[5])
		s6 += a[6] * float32(b[6])
		s7 += a[7] * float32(b[7])
		a, b = a[8:], b[8:]
	}
	for i := range a {
		s0 += a[i] * float32(b[i])
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// item is a scored row.
type item struct {
	score float32
	row   int32
}

// heap is a min-heap of at most cap(items) items whose root is the worst
// kept item: lowest score, and of equal scores the greatest id.
type heap struct {
	ids   []string
	items []item
}

// worse reports whether a ranks below b.
func (h *heap) worse(a, b item) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return h.ids[a.row] > h.ids[b.row]
}

// offer adds it if fewer than k items are kept, or replaces the root if it
// is better than the root.
func (h *heap) offer(it item, k int) {
	s := h.items
	if len(s) < k {
		s = append(s, it)
		i := len(s) - 1
		for i > 0 {
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
	i := 0
	for {
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
