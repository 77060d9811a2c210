package vfs

import (
	"strings"
	"sync/atomic"

	"github.com/agent-os/agentos"
)

// What a namespace charges against Quota.MaxBytes (and its [Budget]) besides
// file data. Memory is held by names and nodes too: an empty file at a deep
// path, or its copy in a checkpoint, costs far more than its zero bytes.
const (
	// FileOverhead is charged for every file, live or held by a checkpoint,
	// besides its data and its name: its node, its directory slot, its
	// snapshot record.
	FileOverhead = 256
	// DirOverhead is charged for every directory component of a live file's
	// name, as though none of its directories were shared with another
	// file: a directory node and its table. Counting each file's own chain
	// keeps the charge an upper bound that is exact to undo, whatever the
	// mount shares.
	DirOverhead = 384
)

// nameCost is what a live file named name (mount-relative) costs besides
// its data.
func nameCost(name string) int64 {
	return int64(len(name)) + FileOverhead + DirOverhead*int64(strings.Count(name, "/"))
}

// recordCost is what a checkpoint's copy of the file named name costs
// besides its data: a snapshot is a flat list of names.
func recordCost(name string) int64 {
	return int64(len(name)) + FileOverhead
}

// snapCost returns the data bytes, the files, the overhead as live files
// and the overhead as checkpoint records of s.
func snapCost(s Snapshot) (bytes, files, live, held int64) {
	for _, sf := range s.Files {
		bytes += int64(len(sf.Data))
		live += nameCost(sf.Name)
		held += recordCost(sf.Name)
	}
	return bytes, int64(len(s.Files)), live, held
}

// DefaultBudget is a size for a [Budget] shared by many namespaces when the
// caller has no better figure: 1 GiB, sixteen namespaces at the default
// quota.
const DefaultBudget = 1 << 30

// Budget bounds the memory that many namespaces hold together, as a kernel's
// agents do: each namespace given it with [WithBudget] charges it exactly
// what it counts against its own Quota.MaxBytes (file data, names and nodes,
// checkpoint copies), and a change that would take the budget past its
// maximum fails with agentos.ErrQuota and changes nothing. [FS.Close] gives
// a namespace's charge back. A Budget is safe for concurrent use.
type Budget struct {
	max  int64
	used atomic.Int64
}

// NewBudget returns a budget of max bytes; max must be positive.
func NewBudget(max int64) (*Budget, error) {
	if max <= 0 {
		return nil, detail(errInvalid, "vfs: budget of %d bytes must be positive", max)
	}
	return &Budget{max: max}, nil
}

// Max returns the budget's size in bytes.
func (b *Budget) Max() int64 { return b.max }

// Used returns the bytes charged to the budget now.
func (b *Budget) Used() int64 { return b.used.Load() }

// reserve charges n > 0 bytes, or fails with agentos.ErrQuota.
func (b *Budget) reserve(n int64) error {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return detail(agentos.ErrQuota, "%d bytes more would exceed the shared budget of %d bytes (%d in use)", n, b.max, u)
		}
		if b.used.CompareAndSwap(u, u+n) {
			return nil
		}
	}
}

func (b *Budget) release(n int64) { b.used.Add(-n) }

// WithBudget makes the namespace charge what it holds to b as well as to its
// quota (see [Budget]).
func WithBudget(b *Budget) Option {
	return func(f *FS) error {
		if b == nil {
			return detail(errInvalid, "vfs: nil budget")
		}
		f.budget = b
		return nil
	}
}

// grow charges n more bytes to the namespace's budget, if any. Callers hold
// f.mu and have checked the quota.
func (f *FS) grow(n int64) error {
	if f.budget == nil || n <= 0 {
		return nil
	}
	return f.budget.reserve(n)
}

// shrink gives n bytes back to the namespace's budget, if any.
func (f *FS) shrink(n int64) {
	if f.budget != nil && n > 0 {
		f.budget.release(n)
	}
}

// Close gives back to its [Budget] everything the namespace charged and
// makes every later change fail with agentos.ErrClosed; reads keep working.
// A kernel closes the namespace of an agent it reaps. Close is idempotent.
func (f *FS) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	f.ckMu.RLock()
	held := f.ckBytes + f.ckOver
	f.ckMu.RUnlock()
	f.shrink(f.bytes + f.over + held)
	return nil
}
