package vfs

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
)

// StaticMount is a read-only mount over a fixed set of files, the shape of
// /policy/: the kernel gives it the loaded policy documents' names and bytes.
// It implements only [Mount], so a namespace refuses every write, append and
// delete with agentos.ErrReadOnly.
//
// [StaticMount.Replace] swaps the whole contents atomically (on a policy
// reload): a reader sees the old set or the new one, never a mix. One
// StaticMount may be mounted in many namespaces at once. It is safe for
// concurrent use.
type StaticMount struct {
	t atomic.Pointer[tree]
}

var _ Mount = (*StaticMount)(nil)

// NewStaticMount returns a read-only mount holding a copy of files (name →
// contents; names valid per [ValidName]), every file and directory stamped
// with modTime. An invalid name or a file below another file fails with
// agentos.ErrInvalid.
func NewStaticMount(files map[string][]byte, modTime time.Time) (*StaticMount, error) {
	m := &StaticMount{}
	if err := m.Replace(files, modTime); err != nil {
		return nil, err
	}
	return m, nil
}

// Replace atomically swaps the mount's contents for a copy of files. On error
// the old contents stay.
func (m *StaticMount) Replace(files map[string][]byte, modTime time.Time) error {
	s := Snapshot{Files: make([]SnapshotFile, 0, len(files))}
	for name, data := range files {
		s.Files = append(s.Files, SnapshotFile{Name: name, Data: data, ModTime: modTime})
	}
	t, err := build(agentos.OpWrite, s, modTime)
	if err != nil {
		return err
	}
	m.t.Store(t)
	return nil
}

// ReadFile implements [Mount].
func (m *StaticMount) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if err := precheck(ctx, agentos.OpRead, name); err != nil {
		return nil, err
	}
	return m.t.Load().readFile(agentos.OpRead, name)
}

// Stat implements [Mount].
func (m *StaticMount) Stat(ctx context.Context, name string) (FileInfo, error) {
	if err := precheck(ctx, agentos.OpStat, name); err != nil {
		return FileInfo{}, err
	}
	return m.t.Load().stat(agentos.OpStat, name)
}

// ReadDir implements [Mount].
func (m *StaticMount) ReadDir(ctx context.Context, name string) ([]FileInfo, error) {
	if err := precheck(ctx, agentos.OpList, name); err != nil {
		return nil, err
	}
	return m.t.Load().readDir(agentos.OpList, name)
}
