package recorder

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
)

// schemaVersion is PRAGMA user_version of the databases this code writes.
const schemaVersion = 1

// applicationID is PRAGMA application_id of a recorder database ("AGOR").
const applicationID = 0x41474f52

// schema creates a version-1 database. entries.seq is the rowid, so the
// chain is ordered by the table itself; the hash has no index (a unique index
// on a random column makes inserts several times slower and the sequence
// already orders the chain). Tool and payload type, empty for most entries,
// have partial indexes that hold only the entries that have one.
//
// Every index is paid on every append (a page written per index per
// commit; with all eight indexes Buffered appends ran at half the rate of
// none, BenchmarkIndexCost), so only the columns whose lookups would
// otherwise read the whole file have one: agent (many values; "what did
// this agent do"), trace (the two or so entries of one syscall), time (a
// window), and tool and payload type (partial: they cost only on the
// entries that have one). Op, kind and effect have a handful of values
// each: a page of newest matches is found by scanning back from the head
// (the first page of Query by op, kind or effect measured as fast without
// their index as with it), and Stats counts them in one pass either way;
// files written before keep those indexes, which nothing needs. meta is the
// canonical JSON object of Entry.Meta (the empty string for none), TEXT so that
// SQLite's JSON functions read it. Triggers make both tables append-only.
const schema = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE entries (
	seq            INTEGER PRIMARY KEY,
	time           INTEGER NOT NULL,
	trace          TEXT NOT NULL,
	agent          TEXT NOT NULL,
	kind           TEXT NOT NULL,
	op             TEXT NOT NULL,
	tool           TEXT NOT NULL,
	path           TEXT NOT NULL,
	target         TEXT NOT NULL,
	args           BLOB NOT NULL,
	payload_type   TEXT NOT NULL,
	meta           TEXT NOT NULL,
	policy_version TEXT NOT NULL,
	rule           TEXT NOT NULL,
	effect         INTEGER NOT NULL,
	message        TEXT NOT NULL,
	severity       INTEGER NOT NULL,
	status         TEXT NOT NULL,
	error          TEXT NOT NULL,
	duration       INTEGER NOT NULL,
	result_digest  TEXT NOT NULL,
	detail         TEXT NOT NULL,
	prev_hash      BLOB NOT NULL,
	hash           BLOB NOT NULL
);
CREATE INDEX entries_agent  ON entries(agent);
CREATE INDEX entries_tool   ON entries(tool) WHERE tool <> '';
CREATE INDEX entries_payload_type ON entries(payload_type) WHERE payload_type <> '';
CREATE INDEX entries_trace  ON entries(trace);
CREATE INDEX entries_time   ON entries(time);
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
	BEGIN SELECT RAISE(ABORT, 'recorder: entries are append-only'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
	BEGIN SELECT RAISE(ABORT, 'recorder: entries are append-only'); END;
CREATE TRIGGER meta_no_update BEFORE UPDATE ON meta
	BEGIN SELECT RAISE(ABORT, 'recorder: meta is append-only'); END;
CREATE TRIGGER meta_no_delete BEFORE DELETE ON meta
	BEGIN SELECT RAISE(ABORT, 'recorder: meta is append-only'); END;
`

// columns lists the entry columns in insert and select order; numColumns
// counts them.
const columns = `seq, time, trace, agent, kind, op, tool, path, target, args, payload_type, meta,
	policy_version, rule, effect, message, severity, status, error, duration, result_digest, detail,
	prev_hash, hash`

const numColumns = 24

const insertSQL = `INSERT INTO entries (` + columns + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

// insertArgs returns the insert parameters of a sealed entry whose Meta
// encodes to meta (see metaJSON), as rawWriter.bind sets them.
func insertArgs(e *Entry, meta string) []any {
	var v [numColumns]driver.NamedValue
	bindEntry(&v, e, meta)
	out := make([]any, numColumns)
	for i := range v {
		out[i] = v[i].Value
	}
	return out
}

// connector opens SQLite connections and runs per-connection pragmas.
type connector struct {
	dsn     string
	pragmas []string
	opened  atomic.Int64 // connections opened
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	c.opened.Add(1)
	conn, err := sqliteDriver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	ec, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("recorder: unexpected driver connection %T", conn)
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

// store is one SQLite database file (or the in-memory database): a writer
// handle with a single connection and a reader pool (the same handle when in
// memory, so that every access sees the one in-memory database).
type store struct {
	path    string // "" when in memory
	w, r    *sql.DB
	insert  *sql.Stmt
	genesis Anchor
	head    Anchor    // durable head when opened
	raw     rawWriter // writeBatch's statements, on the writer's connection
	// syncer, when set, makes commits durable after they are written (the
	// writer commits with synchronous=NORMAL): see walsync.go. Nil when
	// SQLite syncs each commit itself, or not at all.
	syncer syncer
}

func syncPragma(s Sync) string {
	if s == SyncFull {
		return "PRAGMA synchronous=FULL"
	}
	return "PRAGMA synchronous=NORMAL"
}

// openStore opens (creating when absent and not read-only) the database at
// path, or an in-memory one when path is "". genesis is written into a new
// database; an existing one keeps its own.
func openStore(ctx context.Context, path string, o *Options, genesis Anchor) (_ *store, err error) {
	s := &store{path: path}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	// A file written with SyncFull commits with synchronous=NORMAL and is
	// synced by the recorder after each commit, outside SQLite's write lock
	// (walsync.go), when it is in WAL mode.
	pipelined := path != "" && !o.ReadOnly && o.Sync == SyncFull
	writerSync := syncPragma(o.Sync)
	if pipelined {
		writerSync = syncPragma(SyncNormal)
	}
	pragmas := []string{"PRAGMA busy_timeout=10000", syncPragma(o.Sync)}
	var wc *connector
	if path == "" {
		c := &connector{dsn: ":memory:", pragmas: pragmas}
		s.w = sql.OpenDB(c)
		s.w.SetMaxOpenConns(1)
		s.w.SetMaxIdleConns(1)
		s.w.SetConnMaxLifetime(0)
		s.w.SetConnMaxIdleTime(0)
		s.r = s.w
	} else {
		q := url.Values{}
		q.Set("_txlock", "immediate")
		if o.ReadOnly {
			q.Set("mode", "ro")
		}
		dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
		wp := []string{"PRAGMA busy_timeout=10000", writerSync}
		if !o.ReadOnly {
			wp = append(wp, "PRAGMA journal_mode=WAL")
		}
		wc = &connector{dsn: dsn, pragmas: wp}
		s.w = sql.OpenDB(wc)
		s.w.SetMaxOpenConns(1)
		s.w.SetMaxIdleConns(1)
		s.r = sql.OpenDB(&connector{dsn: dsn, pragmas: append(pragmas, "PRAGMA query_only=1")})
		s.r.SetMaxOpenConns(o.ReadConns)
		s.r.SetMaxIdleConns(o.ReadConns)
	}
	if err := s.init(ctx, o, genesis); err != nil {
		return nil, err
	}
	if pipelined {
		var mode string
		if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			return nil, s.wrap(err)
		}
		if strings.EqualFold(mode, "wal") {
			s.syncer = newWALFile(path, &wc.opened)
			if err := s.syncer.sync(); err != nil { // what init wrote
				return nil, err
			}
		} else {
			// No WAL to sync behind SQLite's back: let it sync each commit.
			wc.pragmas[1] = syncPragma(SyncFull)
			if _, err := s.w.ExecContext(ctx, wc.pragmas[1]); err != nil {
				return nil, s.wrap(err)
			}
		}
	}
	if o.MaxBytes > 0 && !o.ReadOnly {
		var pageSize int64
		if err := s.w.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
			return nil, s.wrap(err)
		}
		pages := max(o.MaxBytes/pageSize, 1)
		if _, err := s.w.ExecContext(ctx, "PRAGMA max_page_count="+strconv.FormatInt(pages, 10)); err != nil {
			return nil, s.wrap(err)
		}
	}
	if !o.ReadOnly {
		if s.insert, err = s.w.PrepareContext(ctx, insertSQL); err != nil {
			return nil, s.wrap(err)
		}
	}
	return s, nil
}

func (s *store) name() string {
	if s.path == "" {
		return ":memory:"
	}
	return s.path
}

// wrap turns SQLite errors into the recorder's sentinels.
func (s *store) wrap(err error) error {
	if err == nil {
		return nil
	}
	switch sqliteKind(err) {
	case sqliteCorrupt:
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, s.name(), err)
	case sqliteFull:
		return fmt.Errorf("%w: %s: %w", ErrStorageFull, s.name(), err)
	}
	return fmt.Errorf("recorder: %s: %w", s.name(), err)
}

// init checks the file's identity and schema version, creating the schema
// in an empty database, and loads the genesis and the head.
func (s *store) init(ctx context.Context, o *Options, genesis Anchor) error {
	var appID, version, tables int64
	if err := s.w.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return s.wrap(err)
	}
	if err := s.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.wrap(err)
	}
	if err := s.w.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return s.wrap(err)
	}
	switch {
	case appID == 0 && version == 0 && tables == 0:
		if o.ReadOnly {
			return fmt.Errorf("%w: %s is empty", ErrCorrupt, s.name())
		}
		if err := s.create(ctx, genesis); err != nil {
			return err
		}
	case appID != applicationID:
		return fmt.Errorf("%w: %s is an SQLite database of another application (application_id %#x)", ErrCorrupt, s.name(), appID)
	case version > schemaVersion:
		return &SchemaError{Path: s.name(), Found: version, Want: schemaVersion}
	case version < 1:
		return fmt.Errorf("%w: %s has schema version %d", ErrCorrupt, s.name(), version)
	}
	var seq int64
	var hash []byte
	err := s.w.QueryRowContext(ctx, "SELECT value FROM meta WHERE key='genesis_seq'").Scan(&seq)
	if err == nil {
		err = s.w.QueryRowContext(ctx, "SELECT value FROM meta WHERE key='genesis_hash'").Scan(&hash)
	}
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s has no genesis", ErrCorrupt, s.name())
		}
		return s.wrap(err)
	}
	if seq < 0 || len(hash) != HashSize {
		return fmt.Errorf("%w: %s has a malformed genesis", ErrCorrupt, s.name())
	}
	s.genesis = Anchor{Seq: uint64(seq), Hash: Hash(hash)}
	s.head = s.genesis
	err = s.w.QueryRowContext(ctx, "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").Scan(&seq, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return s.wrap(err)
	case len(hash) != HashSize || uint64(seq) <= s.genesis.Seq:
		return fmt.Errorf("%w: %s: malformed head entry %d", ErrCorrupt, s.name(), seq)
	default:
		s.head = Anchor{Seq: uint64(seq), Hash: Hash(hash)}
	}
	return nil
}

func (s *store) create(ctx context.Context, genesis Anchor) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	defer tx.Rollback()
	stmts := []string{schema,
		fmt.Sprintf("PRAGMA application_id=%d", applicationID),
		fmt.Sprintf("PRAGMA user_version=%d", schemaVersion)}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return s.wrap(err)
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('genesis_seq', ?), ('genesis_hash', ?)",
		int64(genesis.Seq), genesis.Hash[:]); err != nil {
		return s.wrap(err)
	}
	return s.wrap(tx.Commit())
}

// writeBatch inserts sealed entries in one transaction, after checking that
// nobody else appended since head. It works on the writer's driver
// connection (rawWriter): the values of each entry are bound straight into
// SQLite's prepared statement.
func (s *store) writeBatch(ctx context.Context, head Anchor, batch []*item) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return s.wrap(err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error { return s.raw.write(ctx, s, dc, head, batch) })
}

// rawWriter holds the insert and the head check prepared on the writer's
// driver connection, and the values of one insert. Binding through the
// driver interfaces skips database/sql's per-statement work (argument
// conversion, a lock and a connection check per row): 10.1 → 6.9–8.6 µs
// per row with 64 agents' rows in 128-row transactions on this machine.
// Used under the recorder's wmu only.
type rawWriter struct {
	conn   any // the driver connection insert and maxSeq belong to
	insert driver.StmtExecContext
	maxSeq driver.StmtQueryContext
	closer []driver.Stmt
	vals   [numColumns]driver.NamedValue
}

// prepare readies w on the driver connection dc, once per connection.
func (w *rawWriter) prepare(ctx context.Context, dc any) error {
	if w.conn == dc && w.insert != nil {
		return nil
	}
	w.close()
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return fmt.Errorf("recorder: driver connection %T cannot prepare", dc)
	}
	ins, err := pc.PrepareContext(ctx, insertSQL)
	if err != nil {
		return err
	}
	w.closer = append(w.closer, ins)
	max, err := pc.PrepareContext(ctx, "SELECT max(seq) FROM entries")
	if err != nil {
		w.close()
		return err
	}
	w.closer = append(w.closer, max)
	ie, ok1 := ins.(driver.StmtExecContext)
	mq, ok2 := max.(driver.StmtQueryContext)
	if !ok1 || !ok2 {
		w.close()
		return fmt.Errorf("recorder: driver statement %T lacks ExecContext or QueryContext", ins)
	}
	w.conn, w.insert, w.maxSeq = dc, ie, mq
	for i := range w.vals {
		w.vals[i].Ordinal = i + 1
	}
	return nil
}

// close closes the prepared statements (their connection is still open).
func (w *rawWriter) close() error {
	var errs []error
	for _, st := range w.closer {
		errs = append(errs, st.Close())
	}
	w.conn, w.insert, w.maxSeq, w.closer = nil, nil, nil, nil
	return errors.Join(errs...)
}

func (w *rawWriter) write(ctx context.Context, s *store, dc any, head Anchor, batch []*item) (err error) {
	if err := w.prepare(ctx, dc); err != nil {
		return s.wrap(err)
	}
	bt, ok := dc.(driver.ConnBeginTx)
	if !ok {
		return fmt.Errorf("recorder: driver connection %T cannot begin a transaction", dc)
	}
	tx, err := bt.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return s.wrap(err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	rows, err := w.maxSeq.QueryContext(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	var dest [1]driver.Value
	err = rows.Next(dest[:])
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s.wrap(err)
	}
	last, valid := dest[0].(int64)
	if valid && uint64(last) != head.Seq || !valid && head.Seq != s.genesis.Seq {
		return fmt.Errorf("%w: %s: head is %d, expected %d", ErrConflict, s.name(), last, head.Seq)
	}
	for _, it := range batch {
		w.bind(&it.e, it.meta)
		if _, err := w.insert.ExecContext(ctx, w.vals[:]); err != nil {
			return s.wrap(err)
		}
	}
	clear(w.vals[:]) // hold no entry's values past the batch
	for i := range w.vals {
		w.vals[i].Ordinal = i + 1
	}
	if err := tx.Commit(); err != nil {
		return s.wrap(err)
	}
	committed = true
	return nil
}

// bind sets the values of the insert of a sealed entry whose Meta encodes
// to meta (see metaJSON).
func (w *rawWriter) bind(e *Entry, meta string) { bindEntry(&w.vals, e, meta) }

// bindEntry sets v to the insert values of a sealed entry whose Meta
// encodes to meta, in the order of columns: the one mapping of an entry to
// its row, for the writer and for Import.
func bindEntry(v *[numColumns]driver.NamedValue, e *Entry, meta string) {
	args := []byte(e.Args)
	if args == nil {
		args = []byte{}
	}
	v[0].Value, v[1].Value, v[2].Value, v[3].Value = int64(e.Seq), e.Time.UnixNano(), e.Trace, string(e.Agent)
	v[4].Value, v[5].Value, v[6].Value, v[7].Value = string(e.Kind), string(e.Op), e.Tool, e.Path
	v[8].Value, v[9].Value, v[10].Value, v[11].Value = string(e.Target), args, e.PayloadType, meta
	v[12].Value, v[13].Value, v[14].Value, v[15].Value = e.PolicyVersion, e.Rule, int64(e.Effect), e.Message
	v[16].Value, v[17].Value, v[18].Value, v[19].Value = int64(e.Severity), string(e.Status), e.Error, int64(e.Duration)
	v[20].Value, v[21].Value, v[22].Value, v[23].Value = e.ResultDigest, e.Detail, e.PrevHash[:], e.Hash[:]
}

func (s *store) close() error {
	var errs []error
	if s.raw.conn != nil && s.w != nil {
		if conn, err := s.w.Conn(context.Background()); err == nil {
			errs = append(errs, conn.Raw(func(dc any) error {
				if dc != s.raw.conn {
					s.raw = rawWriter{} // prepared on a connection closed since
					return nil
				}
				return s.raw.close()
			}))
			errs = append(errs, conn.Close())
		}
	}
	if s.syncer != nil {
		errs = append(errs, s.syncer.close())
	}
	if s.insert != nil {
		errs = append(errs, s.insert.Close())
	}
	if s.r != nil && s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}

// sqliteErrKind is what the recorder needs to know of a SQLite error.
type sqliteErrKind uint8

const (
	sqliteOther sqliteErrKind = iota
	sqliteCorrupt
	sqliteFull
)
