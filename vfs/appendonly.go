package vfs

import (
	"context"
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
	memTree
}

var (
	_ Mount       = (*AppendOnlyMount)(nil)
	_ AppendMount = (*AppendOnlyMount)(nil)
	_ CreateMount = (*AppendOnlyMount)(nil)
)

// NewAppendOnlyMount returns an empty append-only mount. clock stamps
// modification times; nil means time.Now.
func NewAppendOnlyMount(clock func() time.Time) *AppendOnlyMount {
	return &AppendOnlyMount{memTree: newMemTree(clock)}
}

// CreateFile implements [CreateMount]. An existing file is refused with an
// error matching both agentos.ErrAppendOnly and fs.ErrExist.
func (m *AppendOnlyMount) CreateFile(ctx context.Context, name string, data []byte) error {
	return m.put(ctx, agentos.OpWrite, name, data, putCreate)
}
