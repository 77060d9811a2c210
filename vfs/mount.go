package vfs

import (
	"context"
	"time"
)

// Mount is the read side every mounted file system provides. Names are
// mount-relative, slash-separated and valid per [ValidName]; "." is the
// mount's root, which is always a directory.
//
// Implementations must be safe for concurrent use, honour ctx (a call with a
// done context fails with an error wrapping ctx.Err()), refuse invalid names
// with an error matching agentos.ErrInvalid, report a missing name with an
// error matching agentos.ErrNotFound, and never share stored bytes with a
// caller: ReadFile returns a copy.
//
// Extra capabilities are optional interfaces found by type assertion, in the
// style of io/fs: [WriteMount], [AppendMount], [CreateMount],
// [SnapshotMount] and [SearchMount]. A mount with none of the mutating ones
// is read-only. Package vfstest checks an implementation against all of
// these rules.
type Mount interface {
	// ReadFile returns a copy of the named file's contents. Reading a
	// directory fails with an error matching agentos.ErrInvalid.
	ReadFile(ctx context.Context, name string) ([]byte, error)
	// Stat describes the named file or directory.
	Stat(ctx context.Context, name string) (FileInfo, error)
	// ReadDir lists the named directory, sorted by name. Listing a file
	// fails with an error matching agentos.ErrInvalid.
	ReadDir(ctx context.Context, name string) ([]FileInfo, error)
}

// WriteMount is a mount whose files can be replaced and removed.
type WriteMount interface {
	Mount
	// WriteFile creates or replaces the named file with a copy of data,
	// creating parent directories as needed. Writing over a directory, or
	// below a file, fails with agentos.ErrInvalid and changes nothing.
	WriteFile(ctx context.Context, name string, data []byte) error
	// Remove deletes the named file. Removing a directory fails with
	// agentos.ErrInvalid; a missing file with agentos.ErrNotFound.
	Remove(ctx context.Context, name string) error
}

// AppendMount is a mount whose files can grow at the end.
type AppendMount interface {
	Mount
	// AppendFile appends a copy of data to the named file, creating it (and
	// its parent directories) when it does not exist.
	AppendFile(ctx context.Context, name string, data []byte) error
}

// CreateMount is a mount that can create a file that does not exist yet
// without being able to replace one that does (an append-only mount).
type CreateMount interface {
	Mount
	// CreateFile creates the named file with a copy of data. When the file
	// exists it fails with an error matching fs.ErrExist and changes nothing.
	CreateFile(ctx context.Context, name string, data []byte) error
}

// SnapshotMount is a mount whose whole contents can be captured and put back,
// for checkpoints.
type SnapshotMount interface {
	Mount
	// Snapshot returns a deep copy of every file in the mount. Later changes
	// to the mount do not affect it.
	Snapshot(ctx context.Context) (Snapshot, error)
	// Restore replaces the whole contents of the mount with s, atomically:
	// a concurrent reader sees the contents before or after, never a mix. It
	// copies the data in and keeps no reference to s. An invalid snapshot (a
	// bad name, a file below another file) fails with agentos.ErrInvalid and
	// changes nothing.
	Restore(ctx context.Context, s Snapshot) error
}

// SearchMount is a mount that answers similarity queries over its files, such
// as a vector store mounted at /mem/semantic/. A namespace dispatches
// agentos.OpSearch to it.
type SearchMount interface {
	Mount
	// Search returns at most q.K results for q.Text among the files under
	// dir, best first (Score non-increasing). Result paths are mount-relative.
	// q.K < 1 fails with agentos.ErrInvalid.
	Search(ctx context.Context, dir string, q Query) ([]SearchResult, error)
}

// FileInfo describes a file or directory. Name is the base name; for a
// mount's root it is ".". Size is 0 for directories.
type FileInfo struct {
	Name    string
	Size    int64
	ModTime time.Time
	IsDir   bool
}

// Snapshot is the full contents of a mount at one moment: every file with its
// data and modification time, sorted by name. Directories are implied by the
// file names.
type Snapshot struct {
	Files []SnapshotFile
}

// SnapshotFile is one file of a [Snapshot].
type SnapshotFile struct {
	Name    string // mount-relative, valid per ValidName
	Data    []byte
	ModTime time.Time
}

// Size returns the total bytes and the number of files in s.
func (s Snapshot) Size() (bytes int64, files int64) {
	for _, f := range s.Files {
		bytes += int64(len(f.Data))
	}
	return bytes, int64(len(s.Files))
}

// Limits on search queries; a namespace refuses larger ones with
// agentos.ErrInvalid.
const (
	MaxSearchK       = 100      // most results one query may ask for
	MaxQueryTextSize = 16 << 10 // bytes of query text
)

// Query is a similarity search request.
type Query struct {
	Text string // what to look for
	K    int    // how many results at most, 1..MaxSearchK
}

// SearchResult is one hit of a search, best first.
type SearchResult struct {
	Path    string  // mount-relative from a mount; absolute from a namespace
	Score   float64 // higher is more similar
	Content []byte  // the matching text (the file or the part that matched)
}
