package caas

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/tokens"
)

// Quota bounds one collection. An Ingest that would exceed it fails with an
// error wrapping [agentos.ErrQuota] and changes nothing.
type Quota struct {
	// MaxVectors is the most chunks the collection holds.
	MaxVectors int
	// MaxBytes is the most bytes of chunk text plus document text it
	// holds.
	MaxBytes int64
}

// The quota of each collection unless [WithQuota] says otherwise; a zero
// field of a Quota given to WithQuota takes its value from here.
const (
	DefaultMaxVectors       = 100_000
	DefaultMaxBytes   int64 = 256 << 20
)

// fileSuffix ends the name of a collection's file in the WithDir directory.
const fileSuffix = ".chromem.gob.gz"

// Option configures a [Service].
type Option func(*Service) error

// WithClock sets the clock that dates documents with no Time and is the
// Now of queries that give none (default time.Now).
func WithClock(clock func() time.Time) Option {
	return func(s *Service) error {
		if clock == nil {
			return fmt.Errorf("caas: nil clock: %w", agentos.ErrInvalid)
		}
		s.clock = clock
		return nil
	}
}

// WithQuota sets the quota of every collection; zero fields take
// DefaultMaxVectors and DefaultMaxBytes.
func WithQuota(q Quota) Option {
	return func(s *Service) error {
		if q.MaxVectors < 0 || q.MaxBytes < 0 {
			return fmt.Errorf("caas: negative quota %+v: %w", q, agentos.ErrInvalid)
		}
		if q.MaxVectors == 0 {
			q.MaxVectors = DefaultMaxVectors
		}
		if q.MaxBytes == 0 {
			q.MaxBytes = DefaultMaxBytes
		}
		s.quota = q
		return nil
	}
}

// WithDir makes the service durable: New loads each collection from its
// file in dir (created if missing), and Save and Close write each changed
// collection back as a gzip'd chromem-go export, atomically (a temporary
// file, fsync, rename, fsync of the directory). Changes since the last
// Save are lost if the process dies.
func WithDir(dir string) Option {
	return func(s *Service) error {
		if dir == "" {
			return fmt.Errorf("caas: empty directory: %w", agentos.ErrInvalid)
		}
		s.dir = dir
		return nil
	}
}

// WithTokenCounter sets the counter of Context's token budgets (default:
// the o200k_base encoding of gpt-4o).
func WithTokenCounter(c *tokens.Counter) Option {
	return func(s *Service) error {
		if c == nil {
			return fmt.Errorf("caas: nil token counter: %w", agentos.ErrInvalid)
		}
		s.counter = c
		return nil
	}
}

// WithChunking sets how Ingest splits documents (see [Split]).
func WithChunking(o ChunkOptions) Option {
	return func(s *Service) error {
		o, err := o.withDefaults()
		if err != nil {
			return err
		}
		s.chunking = o
		return nil
	}
}

// Service holds named collections of documents, each searchable by
// meaning and by words. It is safe for concurrent use.
type Service struct {
	embed    agentos.Embedder
	clock    func() time.Time
	quota    Quota
	dir      string
	counter  *tokens.Counter
	chunking ChunkOptions

	closed atomic.Bool
	mu     sync.Mutex // guards cols and serialises Save
	cols   map[string]*Collection
}

// New returns a service that embeds with embed. A nil embed is an error
// wrapping [agentos.ErrInvalid]: the service never falls back to a
// network model. With [WithDir], the collections saved there are loaded;
// a file that cannot be read is an error naming it.
func New(embed agentos.Embedder, opts ...Option) (*Service, error) {
	if embed == nil {
		return nil, fmt.Errorf("caas: nil embedder: %w", agentos.ErrInvalid)
	}
	s := &Service{
		embed:    embed,
		clock:    time.Now,
		quota:    Quota{MaxVectors: DefaultMaxVectors, MaxBytes: DefaultMaxBytes},
		chunking: ChunkOptions{MaxBytes: DefaultChunkBytes},
		cols:     make(map[string]*Collection),
	}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("caas: nil option: %w", agentos.ErrInvalid)
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if s.counter == nil {
		c, err := tokens.For("gpt-4o")
		if err != nil {
			return nil, fmt.Errorf("caas: token counter: %w", err)
		}
		s.counter = c
	}
	if s.dir != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// load reads every collection file of the directory.
func (s *Service) load() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("caas: %w", err)
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("caas: %w", err)
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), fileSuffix)
		if !ok || e.IsDir() {
			continue
		}
		file := filepath.Join(s.dir, e.Name())
		if err := validName(name); err != nil {
			return fmt.Errorf("caas: %s: %w", file, err)
		}
		if len(s.cols) == MaxCollections {
			return fmt.Errorf("caas: %s: more than %d collections: %w", s.dir, MaxCollections, agentos.ErrQuota)
		}
		c, err := loadCollection(s, name, file)
		if err != nil {
			return err
		}
		s.cols[name] = c
	}
	return nil
}

// validName checks a collection name: 1 to MaxCollectionName bytes of
// [A-Za-z0-9._:-], not "." or "..".
func validName(name string) error {
	if name == "" || len(name) > MaxCollectionName || name == "." || name == ".." {
		return fmt.Errorf("caas: collection name %.140q: empty, \".\", \"..\" or longer than %d bytes: %w", name, MaxCollectionName, agentos.ErrInvalid)
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._:-", r)) {
			return fmt.Errorf("caas: collection name %q: character %q not in [A-Za-z0-9._:-]: %w", name, r, agentos.ErrInvalid)
		}
	}
	return nil
}

// Collection returns the named collection, creating it when absent. The
// name must match [A-Za-z0-9._:-]{1,128} (and not be "." or ".."); a bad
// name is an error wrapping [agentos.ErrInvalid], a collection beyond
// MaxCollections one wrapping [agentos.ErrQuota], and a closed service
// returns [agentos.ErrClosed].
func (s *Service) Collection(ctx context.Context, name string) (*Collection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, fmt.Errorf("caas: collection %q: %w", name, agentos.ErrClosed)
	}
	if c, ok := s.cols[name]; ok {
		return c, nil
	}
	if len(s.cols) >= MaxCollections {
		return nil, fmt.Errorf("caas: collection %q: already %d collections: %w", name, MaxCollections, agentos.ErrQuota)
	}
	c, err := newCollection(s, name)
	if err != nil {
		return nil, err
	}
	s.cols[name] = c
	return c, nil
}

// Collections returns the names of the collections, sorted.
func (s *Service) Collections() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.cols))
	for n := range s.cols {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Save writes every collection changed since the last save to the WithDir
// directory; without WithDir it does nothing. After Close it returns
// [agentos.ErrClosed].
func (s *Service) Save(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("caas: save: %w", agentos.ErrClosed)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saveLocked(ctx)
}

func (s *Service) saveLocked(ctx context.Context) error {
	if s.dir == "" {
		return nil
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(s.cols)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.cols[name].save(filepath.Join(s.dir, name+fileSuffix)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close saves (with WithDir) and closes the service; every later call of
// the service or its collections returns [agentos.ErrClosed], as does a
// second Close. The service is closed even when the save fails; the error
// says which file.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return fmt.Errorf("caas: close: %w", agentos.ErrClosed)
	}
	// Wait for writers in flight: each collection's lock is taken once.
	for _, c := range s.cols {
		c.mu.Lock()
		c.mu.Unlock() //nolint:staticcheck // an empty critical section is the point
	}
	return s.saveLocked(context.Background())
}
