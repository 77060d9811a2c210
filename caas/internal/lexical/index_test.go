package lexical

import (
	"cmp"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

var seedFlag = flag.Uint64("lexical.seed", 0, "seed of the randomised tests (0: a fresh one, printed)")

// seed returns the seed of a randomised test and logs it so that a failure
// can be replayed with -lexical.seed.
func seed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -lexical.seed=%d)", s, s)
	return s
}

func TestSearchErrors(t *testing.T) {
	x := New()
	x.Add("a", "hello")
	for _, k := range []int{0, -1} {
		h, err := x.Search("hello", k, nil)
		require.ErrorIs(t, err, agentos.ErrInvalid)
		assert.Nil(t, h)
	}
}

func TestSearchBasics(t *testing.T) {
	x := New()
	h, err := x.Search("anything", 3, nil)
	require.NoError(t, err)
	assert.Empty(t, h, "empty index")

	x.Add("go", "Go http.NewRequest builds a request; the client sends the request.")
	x.Add("py", "Python requests.get sends an HTTP request.")
	x.Add("tok", "max_tokens bounds the completion length.")
	x.Add("empty", "")
	x.Add("dup", "max_tokens bounds the completion length.")
	assert.Equal(t, 5, x.Len())

	for _, q := range []string{"", "  ...  ", "zebra unicorn", "\xff"} {
		h, err := x.Search(q, 3, nil)
		require.NoError(t, err, q)
		assert.Empty(t, h, "%q", q)
	}

	h, err = x.Search("NewRequest", 10, nil)
	require.NoError(t, err)
	require.NotEmpty(t, h)
	assert.Equal(t, "go", h[0].ID)
	assert.Len(t, h, 2, "go has newrequest, new and request; py has request")
	assert.Equal(t, "py", h[1].ID)

	// Equal documents tie; the smaller id comes first.
	h, err = x.Search("max tokens", 10, nil)
	require.NoError(t, err)
	require.Len(t, h, 2)
	assert.Equal(t, []string{"dup", "tok"}, []string{h[0].ID, h[1].ID})
	assert.Equal(t, h[0].Score, h[1].Score)

	h, err = x.Search("max tokens", 1, func(id string) bool { return id != "dup" })
	require.NoError(t, err)
	assert.Equal(t, []string{"tok"}, ids(h))

	// Replace and remove.
	x.Add("dup", "nothing about limits")
	h, err = x.Search("max_tokens", 10, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"tok"}, ids(h))
	assert.True(t, x.Remove("tok"))
	assert.False(t, x.Remove("tok"))
	assert.False(t, x.Remove("nope"))
	h, err = x.Search("max_tokens", 10, nil)
	require.NoError(t, err)
	assert.Empty(t, h)
	assert.Equal(t, 4, x.Len())
	// A term whose last document went is forgotten.
	x.mu.RLock()
	_, ok := x.termIDs["max_tokens"]
	x.mu.RUnlock()
	assert.False(t, ok)
}

// TestBM25Value checks one score by hand: two documents, one query term.
func TestBM25Value(t *testing.T) {
	x := New()
	x.Add("a", "apple apple banana")     // 3 tokens
	x.Add("b", "banana cherry date fig") // 4 tokens
	h, err := x.Search("apple", 5, nil)
	require.NoError(t, err)
	require.Len(t, h, 1)
	N, n, tf, dl, avgdl := 2.0, 1.0, 2.0, 3.0, 3.5
	idf := math.Log(1 + (N-n+0.5)/(n+0.5))
	want := idf * tf * 2.2 / (tf + 1.2*(1-0.75+0.75*dl/avgdl))
	assert.InDelta(t, want, h[0].Score, 1e-12)
}

func ids(h []Hit) []string {
	out := []string{}
	for _, x := range h {
		out = append(out, x.ID)
	}
	return out
}

// refIndex is the plainest reference: the texts, every score computed
// from scratch by tokenising every document.
type refIndex map[string]string

func (r refIndex) search(query string, k int, keep func(string) bool) []Hit {
	N := len(r)
	if N == 0 {
		return nil
	}
	docs := map[string][]string{}
	total := 0
	df := map[string]int{}
	for id, text := range r {
		toks := Tokenize(text)
		docs[id] = toks
		total += len(toks)
		seen := map[string]bool{}
		for _, t := range toks {
			if !seen[t] {
				seen[t] = true
				df[t]++
			}
		}
	}
	avgdl := float64(total) / float64(N)
	var q []string
	for _, t := range Tokenize(query) {
		if !slices.Contains(q, t) && len(q) < MaxQueryTerms {
			q = append(q, t)
		}
	}
	var all []Hit
	for id, toks := range docs {
		if keep != nil && !keep(id) {
			continue
		}
		var score float64
		matched := false
		for _, t := range q {
			tf := 0
			for _, u := range toks {
				if u == t {
					tf++
				}
			}
			if tf == 0 {
				continue
			}
			matched = true
			idf := math.Log(1 + (float64(N)-float64(df[t])+0.5)/(float64(df[t])+0.5))
			score += idf * (float64(tf) * (1.2 + 1)) / (float64(tf) + 1.2*(1-0.75+0.75*float64(len(toks))/avgdl))
		}
		if matched {
			all = append(all, Hit{id, score})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	sort.SliceStable(all, func(i, j int) bool { return all[i].Score > all[j].Score })
	return all[:min(k, len(all))]
}

// check compares one answer with the reference's: the i-th score equals
// the reference's i-th up to rounding (a document missed or misranked
// shows there), each hit's own score equals its reference score, order is
// by score then id, and of documents with the same text (exact ties) none
// left out sorts before one returned.
func check(t *testing.T, x refIndex, query string, k int, keep func(string) bool, got []Hit, what string) {
	t.Helper()
	want := x.search(query, k, keep)
	require.Len(t, got, len(want), "%s: %v vs %v", what, got, want)
	all := x.search(query, math.MaxInt, keep)
	byID := map[string]float64{}
	for _, h := range all {
		byID[h.ID] = h.Score
	}
	in := map[string]bool{}
	for i, h := range got {
		require.False(t, in[h.ID], "%s: %q twice", what, h.ID)
		in[h.ID] = true
		ref, ok := byID[h.ID]
		require.True(t, ok, "%s: %q does not match or is not kept", what, h.ID)
		require.InDelta(t, ref, h.Score, 1e-9*(1+math.Abs(ref)), "%s: score of %q", what, h.ID)
		require.InDelta(t, want[i].Score, h.Score, 1e-9*(1+math.Abs(ref)), "%s: rank %d is %q, reference has %q", what, i, h.ID, want[i].ID)
		if i > 0 {
			p := got[i-1]
			require.True(t, p.Score > h.Score || p.Score == h.Score && p.ID < h.ID, "%s: %v before %v", what, p, h)
		}
	}
	if len(got) == 0 {
		return
	}
	for id := range byID {
		if in[id] {
			continue
		}
		for _, h := range got {
			if x[id] == x[h.ID] && id < h.ID {
				t.Fatalf("%s: %q has the text of hit %q and sorts first, but was left out", what, id, h.ID)
			}
		}
	}
}

// vocab returns n random words, some of them identifiers that Tokenize
// splits, so that parts and wholes overlap between documents.
func vocab(r *rand.Rand, n int) []string {
	syll := []string{"ka", "lo", "mi", "ne", "ru", "ta", "zo", "pe", "qu", "xi"}
	word := func() string {
		var b strings.Builder
		for range 1 + r.IntN(3) {
			b.WriteString(syll[r.IntN(len(syll))])
		}
		return b.String()
	}
	var out []string
	for range n {
		w := word()
		switch r.IntN(6) {
		case 0:
			w += "_" + word()
		case 1:
			w += "." + strings.ToUpper(word()[:1]) + word()
		case 2:
			w = strings.ToUpper(w)
		case 3:
			w += strings.ToUpper(word()[:1]) + word()
		}
		out = append(out, w)
	}
	return out
}

func TestDifferential(t *testing.T) {
	s := seed(t)
	r := rand.New(rand.NewPCG(s, s^0x5851f42d4c957f2d))
	rounds := 200
	if testing.Short() {
		rounds = 40
	}
	searches := 0
	for round := range rounds {
		words := vocab(r, 1+r.IntN(60))
		zipf := rand.NewZipf(r, 1.1+r.Float64(), 1, uint64(len(words)-1))
		text := func(maxWords int) string {
			n := r.IntN(maxWords + 1)
			parts := make([]string, n)
			for i := range parts {
				parts[i] = words[zipf.Uint64()]
				if r.IntN(20) == 0 {
					parts[i] = "unknownword"
				}
			}
			return strings.Join(parts, []string{" ", ", ", "\n", "(", "\xff"}[r.IntN(5)])
		}
		x, ref := New(), refIndex{}
		idSpace := 1 + r.IntN(80)
		var texts []string // earlier texts, reused to make exact ties
		ops := 1 + r.IntN(150)
		for op := range ops {
			what := fmt.Sprintf("round %d op %d (len %d)", round, op, len(ref))
			switch c := r.IntN(10); {
			case c < 5:
				id := fmt.Sprintf("d%d", r.IntN(idSpace))
				var tx string
				if len(texts) > 0 && r.IntN(4) == 0 {
					tx = texts[r.IntN(len(texts))]
				} else {
					tx = text(40)
					texts = append(texts, tx)
				}
				x.Add(id, tx)
				ref[id] = tx
			case c < 7:
				id := fmt.Sprintf("d%d", r.IntN(idSpace))
				_, had := ref[id]
				require.Equal(t, had, x.Remove(id), what)
				delete(ref, id)
			default:
				q := text(5)
				k := 1 + r.IntN(len(ref)+3)
				var keep func(string) bool
				switch r.IntN(3) {
				case 1:
					m := 2 + r.IntN(3)
					keep = func(id string) bool { return int(id[len(id)-1])%m != 0 }
				case 2:
					keep = func(string) bool { return false }
				}
				got, err := x.Search(q, k, keep)
				require.NoError(t, err, what)
				check(t, ref, q, k, keep, got, fmt.Sprintf("%s query %q k %d", what, q, k))
				searches++
			}
			require.Equal(t, len(ref), x.Len(), what)
		}
		x.mu.RLock()
		consistent(t, x)
		x.mu.RUnlock()
	}
	t.Logf("%d rounds, %d searches checked", rounds, searches)
}

// consistent checks the index's invariants (see Index).
func consistent(t *testing.T, x *Index) {
	t.Helper()
	require.Len(t, x.lens, len(x.docs))
	require.Len(t, x.byID, len(x.docs))
	var total int64
	for d, dc := range x.docs {
		require.Equal(t, int32(d), x.byID[dc.id])
		total += int64(x.lens[d])
		require.True(t, slices.IsSorted(dc.terms))
		for i, term := range dc.terms {
			require.Equal(t, int32(d), x.postings[term][dc.pos[i]].doc)
		}
	}
	require.Equal(t, total, x.total)
	live := 0
	for term, list := range x.postings {
		if len(list) > 0 {
			live++
			require.Equal(t, int32(term), x.termIDs[x.names[term]])
		}
	}
	require.Equal(t, live, len(x.termIDs))
}

func TestConcurrent(t *testing.T) {
	x := New()
	r0 := rand.New(rand.NewPCG(1, 1))
	words := vocab(r0, 50)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for i := range 2000 {
				id := fmt.Sprint(r.IntN(300))
				if i%3 == 0 {
					x.Remove(id)
					continue
				}
				var b strings.Builder
				for range 20 {
					b.WriteString(words[r.IntN(len(words))] + " ")
				}
				x.Add(id, b.String())
			}
		})
	}
	for s := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(s), 5))
			for range 500 {
				k := 1 + r.IntN(10)
				h, err := x.Search(words[r.IntN(len(words))]+" "+words[r.IntN(len(words))], k, func(id string) bool { return id != "7" })
				if !assert.NoError(t, err) {
					return
				}
				assert.LessOrEqual(t, len(h), k)
				assert.True(t, slices.IsSortedFunc(h, func(a, b Hit) int {
					return cmp.Or(cmp.Compare(b.Score, a.Score), strings.Compare(a.ID, b.ID))
				}))
				for _, hit := range h {
					assert.NotEqual(t, "7", hit.ID)
					assert.Greater(t, hit.Score, 0.0)
				}
				_ = x.Len()
			}
		})
	}
	wg.Wait()
	consistent(t, x)
}

// FuzzIndex decodes a program of adds, removals and searches over a tiny
// vocabulary and checks every answer against the reference.
func FuzzIndex(f *testing.F) {
	f.Add([]byte("\x00\x01ab\x00\x00\x02bc\x00\x02ab\x00"))
	f.Add([]byte("\x00\x01aBc.d\x00\x00\x01aBc.d\x00\x01\x01\x02c\x00\x02d\x00"))
	f.Add([]byte("\x00\x03x_y x_y\x00\x00\x04y\x00\x02x\x00\x01\x04\x02y x\x00"))
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 2048 {
			return
		}
		x, ref := New(), refIndex{}
		p := prog
		next := func() byte {
			if len(p) == 0 {
				return 0
			}
			b := p[0]
			p = p[1:]
			return b
		}
		str := func() string { // up to a zero byte
			i := 0
			for i < len(p) && p[i] != 0 {
				i++
			}
			s := string(p[:i])
			p = p[min(i+1, len(p)):]
			return s
		}
		for step := 0; len(p) > 0; step++ {
			what := fmt.Sprintf("step %d", step)
			switch next() % 3 {
			case 0:
				id := fmt.Sprintf("d%d", next()%8)
				tx := str()
				x.Add(id, tx)
				ref[id] = tx
			case 1:
				id := fmt.Sprintf("d%d", next()%8)
				_, had := ref[id]
				if x.Remove(id) != had {
					t.Fatalf("%s: Remove(%s) != %v", what, id, had)
				}
				delete(ref, id)
			case 2:
				k := int(int8(next())) % 10
				q := str()
				got, err := x.Search(q, k, nil)
				if k < 1 {
					if err == nil || got != nil {
						t.Fatalf("%s: k %d gave %v, %v", what, k, got, err)
					}
					continue
				}
				require.NoError(t, err)
				check(t, ref, q, k, nil, got, what)
			}
		}
		consistent(t, x)
	})
}
