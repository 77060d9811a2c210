package emk

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
)

// Store bounds.
const (
	// DefaultMaxEpisodes is the episode bound of a store opened without
	// [WithMaxEpisodes].
	DefaultMaxEpisodes = 1_000_000
	// MaxBatch bounds the episodes of one [Store.AppendBatch].
	MaxBatch = 1000
	// MaxListLimit bounds the page size of [Store.List].
	MaxListLimit = 1000
)

// schemaVersion is PRAGMA user_version of the databases this code writes.
const schemaVersion = 1

// applicationID is PRAGMA application_id of an emk database ("AEMK").
const applicationID = 0x41454d4b

// Errors of Open besides those of SQLite.
var (
	// ErrForeign is returned by Open for an SQLite database that another
	// application wrote.
	ErrForeign = fmt.Errorf("emk: not an episodic memory database: %w", agentos.ErrInvalid)
	// ErrNewerSchema is returned by Open for a database written by a newer
	// version of this package.
	ErrNewerSchema = fmt.Errorf("emk: database schema is newer than this code reads: %w", errors.ErrUnsupported)
	// ErrCorrupt is returned when the database holds something this
	// package never writes (a malformed row).
	ErrCorrupt = errors.New("emk: corrupt database")
)

// schema creates a version-1 database. episodes.seq is the rowid, so the
// table keeps append order, and max(seq) is the number of episodes (rows are
// never deleted). meta is the canonical JSON object of Episode.Meta ("{}"
// for none), so SQLite's json_each reads it; causes are the sorted cause ids
// joined by commas (and also one row each in links, which the traversal
// reads in both directions). Embeddings are float32 little-endian blobs,
// keyed by the episode's seq. compressed records which episodes a sleep
// cycle already distilled into which fact. Triggers make every table
// append-only.
const schema = `
CREATE TABLE episodes (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	agent      TEXT NOT NULL,
	time       INTEGER NOT NULL,
	outcome    TEXT NOT NULL,
	goal       TEXT NOT NULL,
	action     TEXT NOT NULL,
	result     TEXT NOT NULL,
	reflection TEXT NOT NULL,
	meta       TEXT NOT NULL,
	causes     TEXT NOT NULL
);
CREATE INDEX episodes_agent_time   ON episodes(agent, time);
CREATE INDEX episodes_time         ON episodes(time);
CREATE INDEX episodes_outcome_time ON episodes(outcome, time);
CREATE TABLE embeddings (seq INTEGER PRIMARY KEY, vec BLOB NOT NULL);
CREATE TABLE links (
	effect TEXT NOT NULL,
	cause  TEXT NOT NULL,
	PRIMARY KEY (effect, cause)
) WITHOUT ROWID;
CREATE INDEX links_cause ON links(cause, effect);
CREATE TABLE compressed (id TEXT PRIMARY KEY, fact TEXT NOT NULL) WITHOUT ROWID;
`

var appendOnlyTables = []string{"episodes", "embeddings", "links", "compressed"}

func triggers() string {
	var b strings.Builder
	for _, t := range appendOnlyTables {
		fmt.Fprintf(&b, "CREATE TRIGGER %[1]s_no_update BEFORE UPDATE ON %[1]s BEGIN SELECT RAISE(ABORT, 'emk: %[1]s are append-only'); END;\n", t)
		fmt.Fprintf(&b, "CREATE TRIGGER %[1]s_no_delete BEFORE DELETE ON %[1]s BEGIN SELECT RAISE(ABORT, 'emk: %[1]s are append-only'); END;\n", t)
	}
	return b.String()
}

const episodeColumns = `e.seq, e.id, e.agent, e.time, e.outcome, e.goal, e.action, e.result, e.reflection, e.meta, e.causes, m.vec`

const selectEpisodes = `SELECT ` + episodeColumns + ` FROM episodes e LEFT JOIN embeddings m ON m.seq = e.seq`

const (
	insertEpisodeSQL = `INSERT INTO episodes (id, agent, time, outcome, goal, action, result, reflection, meta, causes)
		VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING`
	insertEmbeddingSQL = `INSERT INTO embeddings (seq, vec) VALUES (?,?)`
	insertLinkSQL      = `INSERT INTO links (effect, cause) VALUES (?,?)`
	existsSQL          = `SELECT 1 FROM episodes WHERE id = ?`
	countSQL           = `SELECT coalesce(max(seq), 0) FROM episodes`
	getSQL             = selectEpisodes + ` WHERE e.id = ?`
)

type config struct {
	embed       agentos.Embedder
	now         func() time.Time
	maxEpisodes int
	candidates  int // MaxCandidates; lowered by tests
}

// Option configures a Store; an option given a bad value makes Open fail
// with an error wrapping agentos.ErrInvalid.
type Option func(*config) error

// WithEmbedder gives the store an embedder: Append embeds each episode's
// text (goal, action, result and reflection, one per line) and Query ranks
// by cosine similarity to the embedded query text. Without one, Text
// queries fall back to lexical scoring (see [Query]). The embedder is
// called on the goroutine that calls Append or Query, outside the store's
// locks.
func WithEmbedder(e agentos.Embedder) Option {
	return func(c *config) error {
		if e == nil {
			return invalid("WithEmbedder: nil embedder")
		}
		c.embed = e
		return nil
	}
}

// WithClock sets the clock that stamps episodes without a Time and that
// queries and sleep cycles without a Now measure age against.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return invalid("WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithMaxEpisodes bounds the episodes the store holds (default
// DefaultMaxEpisodes); an Append beyond it fails with an error wrapping
// agentos.ErrQuota. The bound counts every episode in the file, facts
// included.
func WithMaxEpisodes(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return invalid("WithMaxEpisodes(%d): must be at least 1", n)
		}
		c.maxEpisodes = n
		return nil
	}
}

// Store is an episodic memory in one SQLite database. It is safe for
// concurrent use: writes are serialised, reads of a file database run in
// parallel with them (WAL), and those of an in-memory one share its single
// connection.
type Store struct {
	cfg  config
	path string
	w, r *sql.DB

	mu     sync.RWMutex // held shared by every operation, exclusively by Close
	closed bool

	wmu     sync.Mutex // serialises writers
	sleepMu sync.Mutex // serialises sleep cycles

	stmts map[string]*sql.Stmt // prepared on w, immutable after Open
}

// connector opens SQLite connections and runs per-connection pragmas.
type connector struct {
	dsn     string
	pragmas []string
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := sqliteDriver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	ec, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("emk: unexpected driver connection %T", conn)
	}
	for _, p := range c.pragmas {
		if _, err := ec.ExecContext(ctx, p, nil); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

func (c *connector) Driver() driver.Driver { return sqliteDriver }

var memCounter atomic.Uint64

// readConns is the size of the reader pool of a file database.
const readConns = 4

// Open opens the episodic memory at path, creating it when absent, or a
// new in-memory one when path is "" (a shared-cache database whose name is
// unique to this Store, gone at Close). A file is opened in WAL mode. Open
// refuses an SQLite file another application wrote ([ErrForeign]) and one
// with a newer schema ([ErrNewerSchema]); without cgo it fails with an
// error wrapping errors.ErrUnsupported.
func Open(path string, opts ...Option) (_ *Store, err error) {
	cfg := config{now: time.Now, maxEpisodes: DefaultMaxEpisodes, candidates: MaxCandidates}
	for _, o := range opts {
		if o == nil {
			return nil, invalid("nil Option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if errNoSQLite != nil {
		return nil, errNoSQLite
	}
	s := &Store{cfg: cfg, path: path, stmts: map[string]*sql.Stmt{}}
	defer func() {
		if err != nil {
			s.closeDBs()
		}
	}()
	pragmas := []string{"PRAGMA busy_timeout=10000", "PRAGMA synchronous=NORMAL"}
	if path == "" {
		var nonce [8]byte
		rand.Read(nonce[:])
		dsn := fmt.Sprintf("file:emk-%d-%s?mode=memory&cache=shared", memCounter.Add(1), hex.EncodeToString(nonce[:]))
		// One connection: shared-cache connections lock tables against
		// each other without waiting, and the database lives while it is
		// open.
		s.w = sql.OpenDB(&connector{dsn: dsn, pragmas: pragmas})
		s.w.SetMaxOpenConns(1)
		s.w.SetMaxIdleConns(1)
		s.w.SetConnMaxLifetime(0)
		s.w.SetConnMaxIdleTime(0)
		s.r = s.w
	} else {
		q := url.Values{}
		q.Set("_txlock", "immediate")
		dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
		s.w = sql.OpenDB(&connector{dsn: dsn, pragmas: append(pragmas[:len(pragmas):len(pragmas)], "PRAGMA journal_mode=WAL")})
		s.w.SetMaxOpenConns(1)
		s.w.SetMaxIdleConns(1)
		s.r = sql.OpenDB(&connector{dsn: dsn, pragmas: append(pragmas, "PRAGMA query_only=1")})
		s.r.SetMaxOpenConns(readConns)
		s.r.SetMaxIdleConns(readConns)
	}
	ctx := context.Background()
	if err := s.init(ctx); err != nil {
		return nil, err
	}
	for _, q := range []string{insertEpisodeSQL, insertEmbeddingSQL, insertLinkSQL, existsSQL, getSQL, countSQL, insertCompressedSQL} {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return nil, s.wrap(err)
		}
		s.stmts[q] = st
	}
	return s, nil
}

func (s *Store) name() string {
	if s.path == "" {
		return ":memory:"
	}
	return s.path
}

func (s *Store) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("emk: %s: %w", s.name(), err)
}

// init checks the database's identity and schema version, creating the
// schema in an empty database.
func (s *Store) init(ctx context.Context) error {
	var appID, version, tables int64
	if err := s.w.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrForeign, s.name(), err)
	}
	if err := s.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.wrap(err)
	}
	if err := s.w.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return s.wrap(err)
	}
	switch {
	case appID == 0 && version == 0 && tables == 0:
		return s.create(ctx)
	case appID != applicationID:
		return fmt.Errorf("%w: %s has application_id %#x", ErrForeign, s.name(), appID)
	case version > schemaVersion:
		return fmt.Errorf("%w: %s has version %d, this code reads up to %d", ErrNewerSchema, s.name(), version, schemaVersion)
	case version < 1:
		return fmt.Errorf("%w: %s has schema version %d", ErrCorrupt, s.name(), version)
	}
	return nil
}

func (s *Store) create(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	defer tx.Rollback()
	for _, q := range []string{schema, triggers(),
		fmt.Sprintf("PRAGMA application_id=%d", applicationID),
		fmt.Sprintf("PRAGMA user_version=%d", schemaVersion)} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return s.wrap(err)
		}
	}
	return s.wrap(tx.Commit())
}

// Close closes the store. It waits for operations in progress; later calls
// of every method fail with agentos.ErrClosed, and Close itself returns nil
// again.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	if s.r != nil && s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}

// enter admits an operation; the caller must call s.mu.RUnlock when done.
func (s *Store) enter(op string) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return fmt.Errorf("emk: %s: %w", op, agentos.ErrClosed)
	}
	return nil
}

// embedText is the text embedded for an episode.
func embedText(e *Episode) string {
	var parts []string
	for _, f := range []string{e.Goal, e.Action, e.Result, e.Reflection} {
		if strings.TrimSpace(f) != "" {
			parts = append(parts, f)
		}
	}
	return strings.Join(parts, "\n")
}

func (s *Store) embed(ctx context.Context, text string) ([]float32, error) {
	v, err := s.cfg.embed(ctx, text)
	if err != nil {
		return nil, fmt.Errorf("emk: embed: %w", err)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("emk: embed: the embedder returned an empty vector")
	}
	if err := checkEmbedding(v); err != nil {
		return nil, fmt.Errorf("emk: embed: %w", err)
	}
	return v, nil
}

// prepare validates es and fills Time, ID and Embedding.
func (s *Store) prepare(ctx context.Context, es []Episode) ([]Episode, error) {
	out := make([]Episode, len(es))
	var now time.Time
	for i, e := range es {
		e = e.normalize()
		e.Embedding = nil
		if e.Time.IsZero() {
			if now.IsZero() {
				now = s.cfg.now().UTC()
			}
			e.Time = now
		}
		if err := e.Validate(); err != nil {
			if len(es) > 1 {
				return nil, fmt.Errorf("episode %d: %w", i, err)
			}
			return nil, err
		}
		e.ID = e.ComputeID()
		out[i] = e
	}
	if s.cfg.embed != nil {
		for i := range out {
			v, err := s.embed(ctx, embedText(&out[i]))
			if err != nil {
				return nil, err
			}
			out[i].Embedding = v
		}
	}
	return out, nil
}

// Append validates e, sets its Time (the store's clock, when zero), ID and
// Embedding, stores it and returns it as stored. Appending an episode
// whose content address is already stored changes nothing and returns the
// stored episode (Append is idempotent by content: the same experience
// told twice, Time included, is one episode). Errors: agentos.ErrInvalid
// for an episode Validate refuses, agentos.ErrNotFound for a cause that is
// not stored, agentos.ErrQuota beyond the store's bound, agentos.ErrClosed
// after Close, and the embedder's error.
func (s *Store) Append(ctx context.Context, e Episode) (Episode, error) {
	out, err := s.AppendBatch(ctx, []Episode{e})
	if err != nil {
		return Episode{}, err
	}
	return out[0], nil
}

// AppendBatch appends es (at most MaxBatch) in one transaction: all or
// none. An episode may name an earlier one of the same batch as a cause.
// It returns the episodes as stored, in order; see [Store.Append] for the
// rest.
func (s *Store) AppendBatch(ctx context.Context, es []Episode) ([]Episode, error) {
	if len(es) > MaxBatch {
		return nil, invalid("batch of %d episodes, over the limit of %d", len(es), MaxBatch)
	}
	if len(es) == 0 {
		return []Episode{}, nil
	}
	out, err := s.prepare(ctx, es)
	if err != nil {
		return nil, err
	}
	if err := s.enter("append"); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer tx.Rollback()
	if err := s.insert(ctx, tx, out, nil); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, s.wrap(err)
	}
	return out, nil
}

// insert stores prepared episodes in tx, replacing those already stored by
// the stored version. When compressed is not nil, compressed[i] lists the
// episodes that out[i] distils, recorded in the compressed table.
func (s *Store) insert(ctx context.Context, tx *sql.Tx, out []Episode, compressed [][]string) error {
	// The statements prepared at Open, bound to tx when first needed.
	bound := map[string]*sql.Stmt{}
	stmt := func(q string) *sql.Stmt {
		st, ok := bound[q]
		if !ok {
			st = tx.StmtContext(ctx, s.stmts[q])
			bound[q] = st
		}
		return st
	}
	var count int64
	if err := stmt(countSQL).QueryRowContext(ctx).Scan(&count); err != nil {
		return s.wrap(err)
	}
	for i := range out {
		e := &out[i]
		for _, c := range e.Causes {
			var one int
			if err := stmt(existsSQL).QueryRowContext(ctx, c).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("emk: cause %s of episode %s: %w", c, e.ID, agentos.ErrNotFound)
			} else if err != nil {
				return s.wrap(err)
			}
		}
		res, err := stmt(insertEpisodeSQL).ExecContext(ctx, e.ID, e.Agent, e.Time.UnixNano(), string(e.Outcome),
			e.Goal, e.Action, e.Result, e.Reflection, metaJSON(e.Meta), strings.Join(e.Causes, ","))
		if err != nil {
			return s.wrap(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return s.wrap(err)
		}
		if n == 0 { // already stored: give back the stored version
			stored, _, err := scanEpisode(stmt(getSQL).QueryRowContext(ctx, e.ID))
			if err != nil {
				return s.wrap(err)
			}
			*e = stored
		} else {
			if count++; count > int64(s.cfg.maxEpisodes) {
				return fmt.Errorf("emk: append: the store holds its bound of %d episodes: %w", s.cfg.maxEpisodes, agentos.ErrQuota)
			}
			seq, err := res.LastInsertId()
			if err != nil {
				return s.wrap(err)
			}
			if e.Embedding != nil {
				if _, err := stmt(insertEmbeddingSQL).ExecContext(ctx, seq, vecBlob(e.Embedding)); err != nil {
					return s.wrap(err)
				}
			}
			for _, c := range e.Causes {
				if _, err := stmt(insertLinkSQL).ExecContext(ctx, e.ID, c); err != nil {
					return s.wrap(err)
				}
			}
		}
		if compressed != nil {
			for _, id := range compressed[i] {
				if _, err := stmt(insertCompressedSQL).ExecContext(ctx, id, e.ID); err != nil {
					return s.wrap(err)
				}
			}
		}
	}
	return nil
}

func metaJSON(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // a map of strings always encodes
	return string(b)
}

func vecBlob(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func blobVec(b []byte) ([]float32, error) {
	if len(b)%4 != 0 || len(b)/4 > MaxDims {
		return nil, fmt.Errorf("%w: embedding blob of %d bytes", ErrCorrupt, len(b))
	}
	if len(b) == 0 {
		return nil, nil
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

type rowScanner interface{ Scan(dest ...any) error }

// scanEpisode reads one row of selectEpisodes: the episode and its row id.
func scanEpisode(r rowScanner) (Episode, int64, error) {
	var (
		e                    Episode
		seq, t               int64
		outcome, meta, cause string
		vec                  []byte
	)
	if err := r.Scan(&seq, &e.ID, &e.Agent, &t, &outcome, &e.Goal, &e.Action, &e.Result, &e.Reflection, &meta, &cause, &vec); err != nil {
		return Episode{}, 0, err
	}
	e.Time = time.Unix(0, t).UTC()
	e.Outcome = Outcome(outcome)
	if meta != "{}" {
		if err := json.Unmarshal([]byte(meta), &e.Meta); err != nil {
			return Episode{}, 0, fmt.Errorf("%w: episode %s: meta: %v", ErrCorrupt, e.ID, err)
		}
	}
	if cause != "" {
		e.Causes = strings.Split(cause, ",")
	}
	var err error
	if e.Embedding, err = blobVec(vec); err != nil {
		return Episode{}, 0, err
	}
	return e, seq, nil
}

// Get returns the episode with the content address id. Errors:
// agentos.ErrInvalid for a malformed id, agentos.ErrNotFound, and
// agentos.ErrClosed after Close.
func (s *Store) Get(ctx context.Context, id string) (Episode, error) {
	if !validID(id) {
		return Episode{}, invalid("%q is not an episode id", id)
	}
	if err := s.enter("get"); err != nil {
		return Episode{}, err
	}
	defer s.mu.RUnlock()
	e, _, err := scanEpisode(s.r.QueryRowContext(ctx, getSQL, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Episode{}, fmt.Errorf("emk: episode %s: %w", id, agentos.ErrNotFound)
	}
	if err != nil {
		return Episode{}, s.wrap(err)
	}
	return e, nil
}

// Count returns the number of episodes of agent, or of every agent when
// agent is "". Errors: agentos.ErrClosed after Close.
func (s *Store) Count(ctx context.Context, agent string) (int, error) {
	if err := s.enter("count"); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	var n int
	var err error
	if agent == "" {
		err = s.r.QueryRowContext(ctx, "SELECT count(*) FROM episodes").Scan(&n)
	} else {
		err = s.r.QueryRowContext(ctx, "SELECT count(*) FROM episodes WHERE agent = ?", agent).Scan(&n)
	}
	return n, s.wrap(err)
}

// List returns up to limit (1..MaxListLimit) episodes of agent (every
// agent when ""), in the stable order of (Time, ID), starting after the
// episode whose id is after ("" starts at the beginning). To page, pass the
// ID of the last episode of a page as the next after. Errors:
// agentos.ErrInvalid for a bad limit or malformed after, agentos.ErrNotFound
// when after is not stored, agentos.ErrClosed after Close.
func (s *Store) List(ctx context.Context, agent, after string, limit int) ([]Episode, error) {
	if limit < 1 || limit > MaxListLimit {
		return nil, invalid("list limit %d is outside 1..%d", limit, MaxListLimit)
	}
	if after != "" && !validID(after) {
		return nil, invalid("%q is not an episode id", after)
	}
	if err := s.enter("list"); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var where []string
	var args []any
	if agent != "" {
		where = append(where, "e.agent = ?")
		args = append(args, agent)
	}
	if after != "" {
		var t int64
		err := s.r.QueryRowContext(ctx, "SELECT time FROM episodes WHERE id = ?", after).Scan(&t)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("emk: list after %s: %w", after, agentos.ErrNotFound)
		} else if err != nil {
			return nil, s.wrap(err)
		}
		where = append(where, "(e.time > ? OR e.time = ? AND e.id > ?)")
		args = append(args, t, t, after)
	}
	q := selectEpisodes
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY e.time, e.id LIMIT ?"
	args = append(args, limit)
	out, _, err := s.queryEpisodes(ctx, q, args...)
	return out, err
}

// queryEpisodes runs a selectEpisodes query and returns the episodes and
// their row ids.
func (s *Store) queryEpisodes(ctx context.Context, q string, args ...any) ([]Episode, []int64, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, s.wrap(err)
	}
	defer rows.Close()
	out := []Episode{}
	var seqs []int64
	for rows.Next() {
		e, seq, err := scanEpisode(rows)
		if err != nil {
			return nil, nil, s.wrap(err)
		}
		out = append(out, e)
		seqs = append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, s.wrap(err)
	}
	return out, seqs, nil
}
