package vfs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/agent-os/agentos"
)

// Checkpoint captures every snapshot-capable mount of the namespace (in the
// standard layout /mem/working and /state) in one consistent snapshot and
// returns its description; the id is what [FS.Rollback] takes. No other
// operation of the namespace runs meanwhile, so the checkpoint never holds
// half of a concurrent change.
//
// A checkpoint's copies count against Quota.MaxBytes (their data, their
// names and FileOverhead per file: an empty file is not free), and at most
// Quota.MaxCheckpoints are kept: beyond either, Checkpoint fails with
// agentos.ErrQuota and nothing is kept. Old checkpoints are never dropped
// silently; remove them with [FS.DeleteCheckpoint].
func (f *FS) Checkpoint(ctx context.Context) (CheckpointInfo, error) {
	const op = agentos.OpCheckpoint
	if err := ctx.Err(); err != nil {
		return CheckpointInfo{}, pathError(op, "/", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return CheckpointInfo{}, pathError(op, "/", agentos.ErrClosed)
	}
	f.ckMu.RLock()
	n, held := len(f.ckpts), f.ckBytes+f.ckOver
	f.ckMu.RUnlock()
	if n >= f.quota.MaxCheckpoints {
		return CheckpointInfo{}, pathError(op, "/", detail(agentos.ErrQuota, "%d checkpoints kept, the limit", n))
	}
	c := &checkpoint{snaps: map[string]Snapshot{}}
	for _, e := range f.mounts {
		if e.s == nil {
			continue
		}
		s, err := e.s.Snapshot(ctx)
		if err != nil {
			return CheckpointInfo{}, pathError(op, e.prefix, err)
		}
		b, files, _, over := snapCost(s)
		c.info.Bytes += b
		c.info.Files += files
		c.over += over
		c.snaps[e.prefix] = s
	}
	if err := f.fits(f.bytes+f.over, f.files, held+c.info.Bytes+c.over); err != nil {
		return CheckpointInfo{}, pathError(op, "/", err)
	}
	if err := f.grow(c.info.Bytes + c.over); err != nil {
		return CheckpointInfo{}, pathError(op, "/", err)
	}
	c.info.Mounts = slices.Sorted(maps.Keys(c.snaps))
	c.info.Created = f.clock()
	f.ckMu.Lock()
	defer f.ckMu.Unlock()
	f.ckSeq++
	c.seq = f.ckSeq
	c.info.ID = fmt.Sprintf("ckpt-%06d", c.seq)
	f.ckpts[c.info.ID] = c
	f.ckBytes += c.info.Bytes
	f.ckOver += c.over
	return c.info.clone(), nil
}

func (i CheckpointInfo) clone() CheckpointInfo {
	i.Mounts = slices.Clone(i.Mounts)
	return i
}

// Rollback restores every mount captured by checkpoint id to its contents at
// that checkpoint, atomically: no other operation of the namespace runs
// meanwhile, so a concurrent reader sees all mounts as before or all as after,
// never a mix. Once started it runs to completion even if ctx ends; if a
// mount refuses its snapshot, the mounts already restored are put back and
// the error is returned — joined with the error of any mount that refused
// to be put back, whose contents are then those of the checkpoint (its
// usage is counted again from what it holds). The checkpoint is kept (roll back to it again as
// often as needed); mounts without snapshots (append-only, read-only) are
// untouched.
//
// An unknown id fails with agentos.ErrNotFound; a rollback that would take the
// namespace over its quota (because files of other mounts or newer
// checkpoints were added since) fails with agentos.ErrQuota and changes
// nothing.
func (f *FS) Rollback(ctx context.Context, id string) error {
	const op = agentos.OpRollback
	if err := ctx.Err(); err != nil {
		return pathError(op, id, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return pathError(op, ckptPath(id), agentos.ErrClosed)
	}
	f.ckMu.RLock()
	c, held := f.ckpts[id], f.ckBytes+f.ckOver
	f.ckMu.RUnlock()
	if c == nil {
		return pathError(op, ckptPath(id), detail(errNotExist, "no such checkpoint"))
	}
	type target struct {
		e                  *mountEntry
		snap               Snapshot
		bytes, files, over int64
	}
	var targets []target
	bytes, files, over := f.bytes, f.files, f.over
	for _, e := range f.mounts {
		s, ok := c.snaps[e.prefix]
		if !ok || e.s == nil {
			continue
		}
		b, n, o, _ := snapCost(s)
		if e.metered() {
			bytes += b - e.bytes
			files += n - e.files
			over += o - e.over
		}
		targets = append(targets, target{e, s, b, n, o})
	}
	if err := f.fits(bytes+over, files, held); err != nil {
		return pathError(op, ckptPath(id), err)
	}
	grow := bytes + over - f.bytes - f.over
	if err := f.grow(grow); err != nil {
		return pathError(op, ckptPath(id), err)
	}
	// Keep what is there now, to undo a partial restore.
	run := context.WithoutCancel(ctx)
	undo := make([]Snapshot, len(targets))
	for i, t := range targets {
		s, err := t.e.s.Snapshot(run)
		if err != nil {
			f.shrink(grow)
			return pathError(op, t.e.prefix, err)
		}
		undo[i] = s
	}
	for i, t := range targets {
		if err := t.e.s.Restore(run, t.snap); err != nil {
			f.shrink(grow)
			errs := []error{pathError(op, t.e.prefix, err)}
			for j := range i {
				// The mount took this content moments ago; if it refuses it
				// now, it holds the checkpoint's, and says so.
				if uerr := targets[j].e.s.Restore(run, undo[j]); uerr != nil {
					errs = append(errs, pathError(op, targets[j].e.prefix, fmt.Errorf("undoing a partial rollback: %w", uerr)))
					errs = append(errs, f.recount(run, targets[j].e))
				}
			}
			return errors.Join(errs...)
		}
	}
	for _, t := range targets {
		if t.e.metered() {
			t.e.bytes, t.e.files, t.e.over = t.bytes, t.files, t.over
		}
	}
	f.bytes, f.files, f.over = bytes, files, over
	if grow < 0 {
		f.shrink(-grow)
	}
	return nil
}

// recount counts the usage of a metered mount again from what it holds,
// after a change whose effect is not known (a failed undo). The budget is
// charged the difference even past its maximum: the memory is held.
func (f *FS) recount(ctx context.Context, e *mountEntry) error {
	if !e.metered() {
		return nil
	}
	b, n, o, err := walkUsage(ctx, e.m, ".")
	if err != nil {
		return pathError(agentos.OpRollback, e.prefix, fmt.Errorf("counting usage: %w", err))
	}
	d := b + o - e.bytes - e.over
	if f.budget != nil {
		f.budget.used.Add(d)
	}
	f.bytes += b - e.bytes
	f.files += n - e.files
	f.over += o - e.over
	e.bytes, e.files, e.over = b, n, o
	return nil
}

// Checkpoints lists the kept checkpoints, oldest first.
func (f *FS) Checkpoints(ctx context.Context) ([]CheckpointInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, pathError(agentos.OpList, PrefixCheckpoints, err)
	}
	f.ckMu.RLock()
	defer f.ckMu.RUnlock()
	return f.checkpointsLocked(), nil
}

func (f *FS) checkpointsLocked() []CheckpointInfo {
	cs := slices.SortedFunc(maps.Values(f.ckpts), func(a, b *checkpoint) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]CheckpointInfo, len(cs))
	for i, c := range cs {
		out[i] = c.info.clone()
	}
	return out
}

// DeleteCheckpoint removes checkpoint id, freeing its bytes. An unknown id
// fails with agentos.ErrNotFound.
func (f *FS) DeleteCheckpoint(ctx context.Context, id string) error {
	const op = agentos.OpDelete
	if err := ctx.Err(); err != nil {
		return pathError(op, ckptPath(id), err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ckMu.Lock()
	defer f.ckMu.Unlock()
	c := f.ckpts[id]
	if c == nil {
		return pathError(op, ckptPath(id), detail(errNotExist, "no such checkpoint"))
	}
	delete(f.ckpts, id)
	f.ckBytes -= c.info.Bytes
	f.ckOver -= c.over
	if !f.closed {
		f.shrink(c.info.Bytes + c.over)
	}
	return nil
}

func ckptPath(id string) string {
	if ValidName(id) && !strings.Contains(id, "/") {
		return PrefixCheckpoints + "/" + id
	}
	return fmt.Sprintf("%s/%q", PrefixCheckpoints, id)
}

// CheckpointMount returns a read-only [Mount] listing the namespace's
// checkpoints: one file per checkpoint, named by its id, holding its
// description as JSON ({"id", "created", "bytes", "files", "mounts"}).
// [NewAgentFS] mounts it at [PrefixCheckpoints], so that reading checkpoints
// is an ordinary, policy-governed read.
func (f *FS) CheckpointMount() Mount { return checkpointMount{f} }

type checkpointMount struct{ f *FS }

var _ Mount = checkpointMount{}

type manifest struct {
	ID      string   `json:"id"`
	Created string   `json:"created"`
	Bytes   int64    `json:"bytes"`
	Files   int64    `json:"files"`
	Mounts  []string `json:"mounts"`
}

func (c *checkpoint) manifest() []byte {
	b, _ := json.Marshal(manifest{ // a struct of strings and integers always marshals
		ID: c.info.ID, Created: c.info.Created.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"),
		Bytes: c.info.Bytes, Files: c.info.Files, Mounts: c.info.Mounts,
	})
	return append(b, '\n')
}

func (m checkpointMount) lookup(ctx context.Context, op agentos.Op, name string) (*checkpoint, error) {
	if err := precheck(ctx, op, name); err != nil {
		return nil, err
	}
	if name == "." {
		return nil, nil
	}
	m.f.ckMu.RLock()
	c := m.f.ckpts[name]
	m.f.ckMu.RUnlock()
	if c == nil {
		return nil, mountError(op, name, errNotExist)
	}
	return c, nil
}

// ReadFile implements [Mount].
func (m checkpointMount) ReadFile(ctx context.Context, name string) ([]byte, error) {
	c, err := m.lookup(ctx, agentos.OpRead, name)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, mountError(agentos.OpRead, name, detail(errInvalid, "is a directory"))
	}
	return c.manifest(), nil
}

// Stat implements [Mount].
func (m checkpointMount) Stat(ctx context.Context, name string) (FileInfo, error) {
	c, err := m.lookup(ctx, agentos.OpStat, name)
	if err != nil {
		return FileInfo{}, err
	}
	if c == nil {
		return FileInfo{Name: ".", ModTime: m.f.created, IsDir: true}, nil
	}
	return FileInfo{Name: name, Size: int64(len(c.manifest())), ModTime: c.info.Created}, nil
}

// ReadDir implements [Mount].
func (m checkpointMount) ReadDir(ctx context.Context, name string) ([]FileInfo, error) {
	c, err := m.lookup(ctx, agentos.OpList, name)
	if err != nil {
		return nil, err
	}
	if c != nil {
		return nil, mountError(agentos.OpList, name, detail(errInvalid, "not a directory"))
	}
	m.f.ckMu.RLock()
	defer m.f.ckMu.RUnlock()
	out := make([]FileInfo, 0, len(m.f.ckpts))
	for _, id := range slices.Sorted(maps.Keys(m.f.ckpts)) {
		c := m.f.ckpts[id]
		out = append(out, FileInfo{Name: id, Size: int64(len(c.manifest())), ModTime: c.info.Created})
	}
	return out, nil
}
