package caas

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	chromem "github.com/philippgille/chromem-go"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/caas/internal/lexical"
	"github.com/agent-os/agentos/caas/internal/vindex"
)

// The chromem-go collections of one caas collection's DB: the chunks with
// their vectors, and the documents as ingested. chromem-go requires a
// vector on every document; documents are never searched, so each carries
// the same one-dimensional vector, docVector.
const (
	chunksName = "chunks"
	docsName   = "docs"
	metaPrefix = "meta:"
)

var docVector = []float32{1}

// IngestReport says what an Ingest stored.
type IngestReport struct {
	// Chunks is the number of chunks stored.
	Chunks int
	// Bytes is what the document counts against the quota: its text plus
	// its chunks' text.
	Bytes int64
	// Replaced is true when the Source was there before and its chunks
	// were replaced.
	Replaced bool
}

// SourceInfo describes one ingested document.
type SourceInfo struct {
	Source string
	Bytes  int64
	Chunks int
	Time   time.Time
}

// Usage is what a collection holds, counted as its Quota counts.
type Usage struct {
	Documents, Vectors int
	Bytes              int64
}

type entry struct {
	doc    Document
	chunks []Chunk
	bytes  int64
}

// Collection is a named set of documents, searchable by meaning
// (embeddings in an exact vector index) and by words (BM25). chromem-go is
// its store of record: every chunk with its vector and metadata, and every
// document as ingested, which is what WithDir persists. A Collection is
// safe for concurrent use: searches run together; Ingest embeds outside
// the lock and then takes it exclusively to swap a document's chunks in.
type Collection struct {
	name string
	svc  *Service

	mu      sync.RWMutex
	db      *chromem.DB
	chunks  *chromem.Collection
	docs    *chromem.Collection
	vec     *vindex.Index // nil until the first vector fixes the dimension
	lex     *lexical.Index
	sources map[string]*entry
	byID    map[string]*Chunk
	usage   Usage
	dirty   atomic.Bool // changed since the last save or load; set under mu's write lock
}

func newCollection(s *Service, name string) (*Collection, error) {
	c := &Collection{
		name:    name,
		svc:     s,
		db:      chromem.NewDB(),
		lex:     lexical.New(),
		sources: make(map[string]*entry),
		byID:    make(map[string]*Chunk),
	}
	c.dirty.Store(true)
	var err error
	emb := chromem.EmbeddingFunc(s.embed)
	if c.chunks, err = c.db.CreateCollection(chunksName, nil, emb); err != nil {
		return nil, fmt.Errorf("caas: collection %q: %w", name, err)
	}
	if c.docs, err = c.db.CreateCollection(docsName, nil, emb); err != nil {
		return nil, fmt.Errorf("caas: collection %q: %w", name, err)
	}
	return c, nil
}

// Name returns the collection's name.
func (c *Collection) Name() string { return c.name }

func (c *Collection) closedErr(op string) error {
	if c.svc.closed.Load() {
		return fmt.Errorf("caas: %s %s: %w", c.name, op, agentos.ErrClosed)
	}
	return nil
}

// indexText is what is embedded and indexed for a chunk: its heading (when
// the chunk does not already hold it) then its text, so that a body chunk
// is found by its section's title.
func indexText(ch *Chunk) string {
	if ch.Heading == "" || strings.Contains(ch.Text, ch.Heading) {
		return ch.Text
	}
	return ch.Heading + "\n" + ch.Text
}

// checkVector refuses what the vector index would: a wrong dimension, NaN
// or infinite components, all zero.
func checkVector(v []float32, dims int) error {
	if len(v) == 0 || dims > 0 && len(v) != dims {
		return fmt.Errorf("%d dimensions, want %d", len(v), dims)
	}
	if len(v) > vindex.MaxDims {
		return fmt.Errorf("%d dimensions, more than %d", len(v), vindex.MaxDims)
	}
	var ss float64
	for i, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("component %d is %v", i, f)
		}
		ss += float64(f) * float64(f)
	}
	if ss == 0 {
		return errors.New("all zero")
	}
	return nil
}

// Ingest splits d (see [Split]), embeds each chunk, and stores the chunks
// in the store of record and both indexes. Ingesting a Source again
// replaces its chunks; readers see the old chunks or the new ones, never a
// mix. Errors, each leaving the collection unchanged: the errors of Split
// and a bad Meta (wrapping [agentos.ErrInvalid]); [ErrEmbedding] naming the
// chunk when the embedder fails or returns a vector of the wrong
// dimension, NaN, infinite or zero; ctx's error when it ends; an error
// wrapping [agentos.ErrQuota] when the collection would exceed its Quota;
// [agentos.ErrClosed] after Close.
func (c *Collection) Ingest(ctx context.Context, d Document) (IngestReport, error) {
	if err := c.closedErr("ingest"); err != nil {
		return IngestReport{}, err
	}
	if err := checkMeta(d.Meta); err != nil {
		return IngestReport{}, fmt.Errorf("caas: %s: %w", d.Source, err)
	}
	if d.Kind == "" {
		d.Kind = DetectKind(d.Source)
	}
	if d.Time.IsZero() {
		d.Time = c.svc.clock()
	}
	d.Meta = maps.Clone(d.Meta)
	cs, err := Split(d, c.svc.chunking)
	if err != nil {
		return IngestReport{}, err
	}
	c.mu.RLock()
	dims := 0
	if c.vec != nil {
		dims = c.vec.Dims()
	}
	c.mu.RUnlock()
	vecs := make([][]float32, len(cs))
	bytes := int64(len(d.Text))
	for i := range cs {
		if err := ctx.Err(); err != nil {
			return IngestReport{}, fmt.Errorf("caas: ingest %s: %w", d.Source, err)
		}
		v, err := c.svc.embed(ctx, indexText(&cs[i]))
		if err == nil {
			err = checkVector(v, dims)
		}
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return IngestReport{}, fmt.Errorf("caas: ingest %s: chunk %s: %w", d.Source, cs[i].ID, err)
			}
			return IngestReport{}, fmt.Errorf("caas: ingest %s: chunk %s: %w: %w", d.Source, cs[i].ID, ErrEmbedding, err)
		}
		if dims == 0 {
			dims = len(v)
		}
		vecs[i] = slices.Clone(v)
		bytes += int64(len(cs[i].Text))
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.closedErr("ingest"); err != nil {
		return IngestReport{}, err
	}
	if c.vec != nil && c.vec.Dims() != dims {
		return IngestReport{}, fmt.Errorf("caas: ingest %s: %w: vectors of %d dimensions, the collection has %d", d.Source, ErrEmbedding, dims, c.vec.Dims())
	}
	old := c.sources[d.Source]
	u := c.usage
	if old != nil {
		u.Vectors -= len(old.chunks)
		u.Bytes -= old.bytes
	}
	u.Vectors += len(cs)
	u.Bytes += bytes
	q := c.svc.quota
	if u.Vectors > q.MaxVectors || u.Bytes > q.MaxBytes {
		return IngestReport{}, fmt.Errorf("caas: ingest %s into %s: %d vectors and %d bytes would exceed the quota of %d and %d: %w",
			d.Source, c.name, u.Vectors, u.Bytes, q.MaxVectors, q.MaxBytes, agentos.ErrQuota)
	}
	if c.vec == nil {
		x, err := vindex.New(dims, vindex.WithMaxLen(max(q.MaxVectors, 1)))
		if err != nil {
			return IngestReport{}, fmt.Errorf("caas: ingest %s: %w", d.Source, err)
		}
		c.vec = x
	}
	e := &entry{doc: d, chunks: cs, bytes: bytes}
	if err := c.swap(ctx, old, e, vecs); err != nil {
		return IngestReport{}, fmt.Errorf("caas: ingest %s: %w", d.Source, err)
	}
	if old == nil {
		u.Documents++
	}
	c.usage = u
	c.dirty.Store(true)
	return IngestReport{Chunks: len(cs), Bytes: bytes, Replaced: old != nil}, nil
}

// swap replaces the chunks of old (nil for a new source) by those of e in
// every store, under the write lock. The vectors were checked, so the
// index cannot refuse them; should it anyway, the old state is put back.
func (c *Collection) swap(ctx context.Context, old, e *entry, vecs [][]float32) error {
	var oldVecs [][]float32
	if old != nil {
		oldVecs = make([][]float32, len(old.chunks))
		for i := range old.chunks {
			doc, err := c.chunks.GetByID(ctx, old.chunks[i].ID)
			if err != nil {
				return fmt.Errorf("store of record lost chunk %s: %w", old.chunks[i].ID, err)
			}
			oldVecs[i] = doc.Embedding
		}
		c.drop(ctx, old)
	}
	if err := c.put(ctx, e, vecs); err != nil {
		c.drop(ctx, e)
		if old != nil {
			if err2 := c.put(ctx, old, oldVecs); err2 != nil {
				return errors.Join(err, fmt.Errorf("restoring the old chunks: %w", err2))
			}
		}
		return err
	}
	return nil
}

// put adds an entry to every store.
func (c *Collection) put(ctx context.Context, e *entry, vecs [][]float32) error {
	for i := range e.chunks {
		ch := &e.chunks[i]
		if err := c.vec.Add(ch.ID, vecs[i]); err != nil {
			return err
		}
		c.lex.Add(ch.ID, indexText(ch))
		c.byID[ch.ID] = ch
		err := c.chunks.AddDocument(ctx, chromem.Document{
			ID:        ch.ID,
			Metadata:  chunkMeta(ch),
			Embedding: vecs[i],
			Content:   ch.Text,
		})
		if err != nil {
			return err
		}
	}
	c.sources[e.doc.Source] = e
	return c.docs.AddDocument(ctx, chromem.Document{
		ID:        e.doc.Source,
		Metadata:  docMeta(e),
		Embedding: docVector,
		Content:   e.doc.Text,
	})
}

// drop removes an entry from every store.
func (c *Collection) drop(ctx context.Context, e *entry) {
	ids := make([]string, len(e.chunks))
	for i := range e.chunks {
		ids[i] = e.chunks[i].ID
		c.vec.Remove(ids[i])
		c.lex.Remove(ids[i])
		delete(c.byID, ids[i])
	}
	if len(ids) > 0 {
		_ = c.chunks.Delete(ctx, nil, nil, ids...) // only fails for no ids
	}
	_ = c.docs.Delete(ctx, nil, nil, e.doc.Source)
	delete(c.sources, e.doc.Source)
}

func chunkMeta(ch *Chunk) map[string]string {
	return map[string]string{
		"source":  ch.Source,
		"start":   strconv.Itoa(ch.Start),
		"end":     strconv.Itoa(ch.End),
		"tier":    strconv.Itoa(int(ch.Tier)),
		"heading": ch.Heading,
		"time":    ch.Time.Format(time.RFC3339Nano),
	}
}

func docMeta(e *entry) map[string]string {
	m := map[string]string{
		"kind":   string(e.doc.Kind),
		"time":   e.doc.Time.Format(time.RFC3339Nano),
		"chunks": strconv.Itoa(len(e.chunks)),
	}
	for k, v := range e.doc.Meta {
		m[metaPrefix+k] = v
	}
	return m
}

// Remove deletes a document and its chunks. An absent source is an error
// wrapping [agentos.ErrNotFound].
func (c *Collection) Remove(ctx context.Context, source string) error {
	if err := c.closedErr("remove"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.sources[source]
	if e == nil {
		return fmt.Errorf("caas: %s: remove %.200q: %w", c.name, source, agentos.ErrNotFound)
	}
	c.drop(ctx, e)
	c.usage.Documents--
	c.usage.Vectors -= len(e.chunks)
	c.usage.Bytes -= e.bytes
	c.dirty.Store(true)
	return nil
}

// Document returns a document as it was ingested (with its Kind and Time
// filled in). An absent source is an error wrapping [agentos.ErrNotFound].
func (c *Collection) Document(ctx context.Context, source string) (Document, error) {
	if err := c.closedErr("document"); err != nil {
		return Document{}, err
	}
	if err := ctx.Err(); err != nil {
		return Document{}, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.sources[source]
	if e == nil {
		return Document{}, fmt.Errorf("caas: %s: document %.200q: %w", c.name, source, agentos.ErrNotFound)
	}
	d := e.doc
	d.Meta = maps.Clone(d.Meta)
	return d, nil
}

// Sources describes the documents under a directory prefix ("" for all;
// "a" and "a/" both mean the directory a), sorted by Source. A prefix that
// is not a valid path matches nothing.
func (c *Collection) Sources(prefix string) []SourceInfo {
	p, err := normPrefix(prefix)
	if err != nil {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []SourceInfo
	for src, e := range c.sources {
		if under(src, p) {
			out = append(out, SourceInfo{Source: src, Bytes: e.bytes, Chunks: len(e.chunks), Time: e.doc.Time})
		}
	}
	slices.SortFunc(out, func(a, b SourceInfo) int { return strings.Compare(a.Source, b.Source) })
	return out
}

// Usage returns what the collection holds.
func (c *Collection) Usage() Usage {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.usage
}

// save writes the collection to file if it changed since it was last
// saved or loaded: a temporary file in the same directory, fsync'd,
// renamed over file, and the directory fsync'd, so a crash leaves the old
// file or the new one.
func (c *Collection) save(file string) (err error) {
	// The read lock keeps writers (which hold the write lock while they
	// change the stores and set dirty) out for the export, and lets
	// searches go on. Saves are serialised by the service's lock.
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.dirty.Load() {
		return nil
	}
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, ".tmp-"+c.name+"-*")
	if err != nil {
		return fmt.Errorf("caas: save %s: %w", file, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = c.db.ExportToWriter(tmp, true, ""); err != nil {
		return fmt.Errorf("caas: save %s: %w", file, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("caas: save %s: %w", file, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("caas: save %s: %w", file, err)
	}
	if err = os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("caas: save %s: %w", file, err)
	}
	if d, err2 := os.Open(dir); err2 == nil {
		err2 = d.Sync()
		d.Close()
		if err2 != nil {
			return fmt.Errorf("caas: save %s: sync directory: %w", file, err2)
		}
	}
	c.dirty.Store(false)
	return nil
}

// corrupt is the error of a collection file that cannot be loaded.
func corrupt(file string, format string, args ...any) error {
	return fmt.Errorf("caas: collection file %s is corrupt: %s: %w", file, fmt.Sprintf(format, args...), agentos.ErrInvalid)
}

// loadCollection reads a collection saved by save, and checks it: every
// chunk must slice its document exactly and carry a valid vector.
func loadCollection(s *Service, name, file string) (*Collection, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("caas: load %s: %w", file, err)
	}
	defer f.Close()
	return decodeCollection(s, name, file, f)
}

// decodeCollection reads a collection from r (gzip'd or not), named label
// in errors. At most MaxFileBytes are decompressed, so a small file
// that inflates without end is an error, not an exhausted memory.
func decodeCollection(s *Service, name, label string, r io.Reader) (*Collection, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, corrupt(label, "%v", err)
		}
		defer zr.Close()
		src = zr
	}
	raw, err := io.ReadAll(io.LimitReader(src, MaxFileBytes+1))
	if err != nil {
		return nil, corrupt(label, "%v", err)
	}
	if len(raw) > MaxFileBytes {
		return nil, corrupt(label, "more than %d bytes decompressed", MaxFileBytes)
	}
	c, err := newCollection(s, name)
	if err != nil {
		return nil, err
	}
	// The file is decoded here, not by chromem's ImportFromReader, which
	// trusts it: a document whose map key is not its ID, or a nil one,
	// made chromem's query panic on a fuzzed file. The types mirror
	// chromem's export (gob matches fields by name).
	var file struct {
		Collections map[string]*struct {
			Name      string
			Metadata  map[string]string
			Documents map[string]*chromem.Document
		}
	}
	if err := gob.NewDecoder(bytes.NewReader(raw)).Decode(&file); err != nil {
		return nil, corrupt(label, "%v", err)
	}
	chunks, docs := file.Collections[chunksName], file.Collections[docsName]
	if chunks == nil || docs == nil || len(file.Collections) != 2 {
		return nil, corrupt(label, "want the collections %q and %q", chunksName, docsName)
	}
	for _, m := range []map[string]*chromem.Document{chunks.Documents, docs.Documents} {
		for id, d := range m {
			if d == nil || d.ID != id {
				return nil, corrupt(label, "document %.200q stored under %.200q", docID(d), id)
			}
		}
	}
	ctx := context.Background()
	total := 0
	for _, src := range slices.Sorted(maps.Keys(docs.Documents)) {
		e, vecs, err := loadEntry(docs.Documents[src], chunks.Documents, c.vecDims())
		if err != nil {
			return nil, corrupt(label, "document %.200q: %v", src, err)
		}
		if c.vec == nil {
			// Room for what the file holds even if the quota was lowered
			// since: the collection loads, and refuses ingests until it
			// is back under.
			if c.vec, err = vindex.New(len(vecs[0]), vindex.WithMaxLen(max(s.quota.MaxVectors, len(chunks.Documents), 1))); err != nil {
				return nil, corrupt(label, "%v", err)
			}
		}
		if err := c.put(ctx, e, vecs); err != nil {
			return nil, corrupt(label, "document %.200q: %v", src, err)
		}
		c.usage.Documents++
		c.usage.Vectors += len(e.chunks)
		c.usage.Bytes += e.bytes
		total += len(e.chunks)
	}
	if total != len(chunks.Documents) {
		return nil, corrupt(label, "%d chunks stored, %d belong to documents", len(chunks.Documents), total)
	}
	c.dirty.Store(false)
	return c, nil
}

func docID(d *chromem.Document) string {
	if d == nil {
		return "<nil>"
	}
	return d.ID
}

func (c *Collection) vecDims() int {
	if c.vec == nil {
		return 0
	}
	return c.vec.Dims()
}

// loadEntry rebuilds a document and its chunks from their stored form,
// checking that every chunk slices the document and has a usable vector
// of dims dimensions (any, when 0).
func loadEntry(r *chromem.Document, chunks map[string]*chromem.Document, dims int) (*entry, [][]float32, error) {
	if err := ValidSource(r.ID); err != nil {
		return nil, nil, err
	}
	t, err := time.Parse(time.RFC3339Nano, r.Metadata["time"])
	if err != nil {
		return nil, nil, err
	}
	n, err := strconv.Atoi(r.Metadata["chunks"])
	if err != nil || n < 1 || n > MaxChunks {
		return nil, nil, fmt.Errorf("bad chunk count %q", r.Metadata["chunks"])
	}
	d := Document{Source: r.ID, Kind: Kind(r.Metadata["kind"]), Text: r.Content, Time: t}
	switch d.Kind {
	case KindText, KindMarkdown, KindGo, KindCode:
	default:
		return nil, nil, fmt.Errorf("unknown kind %q", d.Kind)
	}
	if err := checkText(d.Text); err != nil {
		return nil, nil, err
	}
	for k, v := range r.Metadata {
		if mk, ok := strings.CutPrefix(k, metaPrefix); ok {
			if d.Meta == nil {
				d.Meta = make(map[string]string)
			}
			d.Meta[mk] = v
		}
	}
	if err := checkMeta(d.Meta); err != nil {
		return nil, nil, err
	}
	e := &entry{doc: d, chunks: make([]Chunk, n), bytes: int64(len(d.Text))}
	vecs := make([][]float32, n)
	for i := range n {
		id := d.Source + "#" + strconv.Itoa(i)
		cd := chunks[id]
		if cd == nil {
			return nil, nil, fmt.Errorf("chunk %s missing", id)
		}
		m := cd.Metadata
		start, err1 := strconv.Atoi(m["start"])
		end, err2 := strconv.Atoi(m["end"])
		tier, err3 := strconv.Atoi(m["tier"])
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, nil, fmt.Errorf("chunk %s: %w", id, err)
		}
		if m["source"] != d.Source || start < 0 || end > len(d.Text) || start >= end || d.Text[start:end] != cd.Content || !Tier(tier).valid() {
			return nil, nil, fmt.Errorf("chunk %s does not slice its document", id)
		}
		if err := checkVector(cd.Embedding, dims); err != nil {
			return nil, nil, fmt.Errorf("chunk %s: vector: %v", id, err)
		}
		dims = len(cd.Embedding)
		e.chunks[i] = Chunk{ID: id, Source: d.Source, Start: start, End: end, Tier: Tier(tier), Heading: m["heading"], Text: d.Text[start:end], Time: t}
		vecs[i] = cd.Embedding
		e.bytes += int64(end - start)
	}
	return e, vecs, nil
}
