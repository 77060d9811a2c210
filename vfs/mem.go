package vfs

import (
	"context"
	"sync"
	"time"

	"github.com/agent-os/agentos"
)

// memTree is the in-memory file tree both memory mounts are built on: the
// read side and appending, which every memory mount has. Each mount adds
// the writes it allows, so that its capability interfaces (found by type
// assertion) say exactly what it takes.
type memTree struct {
	clock func() time.Time
	mu    sync.RWMutex
	t     tree
}

func newMemTree(clock func() time.Time) memTree {
	if clock == nil {
		clock = time.Now
	}
	return memTree{clock: clock, t: tree{root: newDir(clock())}}
}

// ReadFile implements [Mount].
func (m *memTree) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if err := precheck(ctx, agentos.OpRead, name); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.t.readFile(agentos.OpRead, name)
}

// Stat implements [Mount].
func (m *memTree) Stat(ctx context.Context, name string) (FileInfo, error) {
	if err := precheck(ctx, agentos.OpStat, name); err != nil {
		return FileInfo{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.t.stat(agentos.OpStat, name)
}

// ReadDir implements [Mount].
func (m *memTree) ReadDir(ctx context.Context, name string) ([]FileInfo, error) {
	if err := precheck(ctx, agentos.OpList, name); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.t.readDir(agentos.OpList, name)
}

// AppendFile implements [AppendMount]: it creates the file when missing.
func (m *memTree) AppendFile(ctx context.Context, name string, data []byte) error {
	return m.put(ctx, agentos.OpAppend, name, data, putAppend)
}

// put stores a copy of data at name in the given mode, under the write lock.
func (m *memTree) put(ctx context.Context, op agentos.Op, name string, data []byte, mode putMode) error {
	return m.store(ctx, op, name, data, mode, false)
}

// writeOwned implements ownedWriter: it stores data itself.
func (m *memTree) writeOwned(ctx context.Context, name string, data []byte, mode putMode) error {
	op := agentos.OpWrite
	if mode == putAppend {
		op = agentos.OpAppend
	}
	return m.store(ctx, op, name, data, mode, true)
}

func (m *memTree) store(ctx context.Context, op agentos.Op, name string, data []byte, mode putMode, owned bool) error {
	if err := precheck(ctx, op, name); err != nil {
		return err
	}
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t.put(op, name, data, mode, now, owned)
}

// ownedWriter is a mount of this package that can store a caller's slice
// without copying it, for FS.WriteOwned and FS.AppendOwned. The namespace
// calls it only in the mode its capabilities allow (putCreate for a mount
// that can only create).
type ownedWriter interface {
	writeOwned(ctx context.Context, name string, data []byte, mode putMode) error
}

var (
	_ ownedWriter = (*MemMount)(nil)
	_ ownedWriter = (*AppendOnlyMount)(nil)
)

// ownedWriterOf returns m's ownedWriter when m is exactly one of this
// package's memory mounts. A type that embeds one gets writeOwned promoted
// but may override WriteFile, AppendFile or CreateFile: it is written
// through those, with a copy.
func ownedWriterOf(m Mount) ownedWriter {
	switch m := m.(type) {
	case *MemMount:
		return m
	case *AppendOnlyMount:
		return m
	}
	return nil
}

// MemMount is an in-memory read-write mount, the backing of /mem/working/
// and /state/. Directories are implied by the files below them: writing
// "a/b/c" creates "a" and "a/b", and removing the last file of a directory
// removes the directory.
//
// It holds whatever it is given: bound its size by mounting it in a
// namespace with a [Quota]. It is safe for concurrent use.
type MemMount struct {
	memTree
}

var (
	_ Mount         = (*MemMount)(nil)
	_ WriteMount    = (*MemMount)(nil)
	_ AppendMount   = (*MemMount)(nil)
	_ SnapshotMount = (*MemMount)(nil)
)

// NewMemMount returns an empty in-memory mount. clock stamps modification
// times; nil means time.Now.
func NewMemMount(clock func() time.Time) *MemMount {
	return &MemMount{memTree: newMemTree(clock)}
}

// WriteFile implements [WriteMount].
func (m *MemMount) WriteFile(ctx context.Context, name string, data []byte) error {
	return m.put(ctx, agentos.OpWrite, name, data, putReplace)
}

// Remove implements [WriteMount].
func (m *MemMount) Remove(ctx context.Context, name string) error {
	if err := precheck(ctx, agentos.OpDelete, name); err != nil {
		return err
	}
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t.remove(agentos.OpDelete, name, now)
}

// Snapshot implements [SnapshotMount].
func (m *MemMount) Snapshot(ctx context.Context) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Snapshot{Files: m.t.files()}, nil
}

// Restore implements [SnapshotMount].
func (m *MemMount) Restore(ctx context.Context, s Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := build(agentos.OpRollback, s, m.clock())
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.t = *t
	m.mu.Unlock()
	return nil
}

// precheck runs the checks every mount method starts with.
func precheck(ctx context.Context, op agentos.Op, name string) error {
	if err := ctx.Err(); err != nil {
		return mountError(op, name, err)
	}
	return checkName(op, name)
}
