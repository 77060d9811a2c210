package vfs

import (
	"context"
	"sync"
	"time"

	"github.com/agent-os/agentos"
)

// AppendOnlyMount is an in-memory mount whose files can be created and grown
// but never overwritten, truncated or removed: the shape of /mem/episodic/.
// It implements [AppendMount] and [CreateMount] but not [WriteMount] or
// [SnapshotMount], so a namespace refuses writes over existing files and
// deletes with agentos.ErrAppendOnly, and a rollback leaves it untouched:
// what happened stays recorded.
//
// It holds whatever it is given: bound its size by mounting it in a
// namespace with a [Quota]. It is safe for concurrent use.
type AppendOnlyMount struct {
	clock func() time.Time
	mu    sync.RWMutex
	t     tree
}

var (
	_ Mount       = (*AppendOnlyMount)(nil)
	_ AppendMount = (*AppendOnlyMount)(nil)
	_ CreateMount = (*AppendOnlyMount)(nil)
)

// NewAppendOnlyMount returns an empty append-only mount. clock stamps
// modification times; nil means time.Now.
func NewAppendOnlyMount(clock func() time.Time) *AppendOnlyMount {
	if clock == nil {
		clock = time.Now
	}
	return &AppendOnlyMount{clock: clock, t: tree{root: newDir(clock())}}
}

// ReadFile implements [Mount].
func (m *AppendOnlyMount) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if err := precheck(ctx, agentos.OpRead, name); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.t.readFile(agentos.OpRead, name)
}

// Stat implements [Mount].
func (m *AppendOnlyMount) Stat(ctx context.Context, name string) (FileInfo, error) {
	if err := precheck(ctx, agentos.OpStat, name); err != nil {
		return FileInfo{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.t.stat(agentos.OpStat, name)
}

// ReadDir implements [Mount].
func (m *AppendOnlyMount) ReadDir(ctx context.Context, name string) ([]FileInfo, error) {
	if err := precheck(ctx, agentos.OpList, name); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.t.readDir(agentos.OpList, name)
}

// AppendFile implements [AppendMount]: it creates the file when missing.
func (m *AppendOnlyMount) AppendFile(ctx context.Context, name string, data []byte) error {
	if err := precheck(ctx, agentos.OpAppend, name); err != nil {
		return err
	}
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t.put(agentos.OpAppend, name, data, putAppend, now)
}

// CreateFile implements [CreateMount]. An existing file is refused with an
// error matching both agentos.ErrAppendOnly and fs.ErrExist.
func (m *AppendOnlyMount) CreateFile(ctx context.Context, name string, data []byte) error {
	if err := precheck(ctx, agentos.OpWrite, name); err != nil {
		return err
	}
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t.put(agentos.OpWrite, name, data, putCreate, now)
}
