package vfs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agent-os/agentos"
)

// Standard mount points of an agent's namespace (see [NewAgentFS]).
const (
	PrefixWorking     = "/mem/working"       // MemMount: scratch memory
	PrefixEpisodic    = "/mem/episodic"      // AppendOnlyMount: what happened
	PrefixSemantic    = "/mem/semantic"      // a SearchMount (vector store), mounted by its provider
	PrefixState       = "/state"             // MemMount: agent state files
	PrefixCheckpoints = "/state/checkpoints" // read-only view of the checkpoints
	PrefixPolicy      = "/policy"            // read-only view of the loaded policies
)

// Quota bounds what one namespace may store. A zero field means its default;
// negative values are refused by [New].
type Quota struct {
	// MaxBytes bounds the memory the namespace holds: the data of all
	// files in writable mounts, what their names and nodes cost (see
	// [FileOverhead] and [DirOverhead]), and the checkpoints' copies of
	// both (see [Usage.Total]). Default 64 MiB.
	MaxBytes int64
	// MaxFiles bounds the number of files in writable mounts. Default 4096.
	MaxFiles int64
	// MaxFileSize bounds one file. Default 8 MiB.
	MaxFileSize int64
	// MaxCheckpoints bounds the number of checkpoints kept. Default 16.
	MaxCheckpoints int
}

// defaultQuota is the quota of a namespace created without WithQuota.
var defaultQuota = Quota{MaxBytes: 64 << 20, MaxFiles: 4096, MaxFileSize: 8 << 20, MaxCheckpoints: 16}

// Usage is what a namespace currently stores, counted against its [Quota].
type Usage struct {
	Bytes              int64 // bytes of file data in writable mounts
	Files              int64 // files in writable mounts
	Overhead           int64 // bytes charged for the names and nodes of those files
	CheckpointBytes    int64 // bytes of file data held by checkpoints
	CheckpointOverhead int64 // bytes charged for the names and records checkpoints hold
	Checkpoints        int   // checkpoints kept
}

// Total returns the bytes counted against Quota.MaxBytes: data and
// overhead, live and held by checkpoints.
func (u Usage) Total() int64 {
	return u.Bytes + u.Overhead + u.CheckpointBytes + u.CheckpointOverhead
}

// Option configures a namespace.
type Option func(*FS) error

// WithClock sets the clock that stamps checkpoints and synthetic directories
// (and, in [NewAgentFS], the mounts it creates). Default time.Now.
func WithClock(clock func() time.Time) Option {
	return func(f *FS) error {
		if clock == nil {
			return detail(errInvalid, "vfs: nil clock")
		}
		f.clock = clock
		return nil
	}
}

// WithQuota sets the namespace's quota; zero fields take their defaults.
func WithQuota(q Quota) Option {
	return func(f *FS) error {
		if q.MaxBytes < 0 || q.MaxFiles < 0 || q.MaxFileSize < 0 || q.MaxCheckpoints < 0 {
			return detail(errInvalid, "vfs: negative quota %+v", q)
		}
		f.quota = q
		return nil
	}
}

// WithEpisodicMount makes [NewAgentFS] mount m at [PrefixEpisodic] instead of
// a fresh [AppendOnlyMount]: the kernel mounts an agent's view of its
// episodic memory store there. [New] ignores it.
func WithEpisodicMount(m Mount) Option {
	return func(f *FS) error {
		if m == nil {
			return detail(errInvalid, "vfs: nil episodic mount")
		}
		f.episodic = m
		return nil
	}
}

// mountEntry is one mount of a namespace with its capabilities resolved once.
type mountEntry struct {
	prefix string
	m      Mount
	w      WriteMount
	a      AppendMount
	c      CreateMount
	s      SnapshotMount
	q      SearchMount
	// usage of the mount, counted when it is writable (w, a or c set):
	// data bytes, files, and the overhead of their names (nameCost).
	bytes, files, over int64
}

func (e *mountEntry) metered() bool { return e.w != nil || e.a != nil || e.c != nil }

type checkpoint struct {
	info  CheckpointInfo
	seq   uint64
	over  int64               // recordCost of its files
	snaps map[string]Snapshot // by mount prefix
}

// CheckpointInfo describes a checkpoint.
type CheckpointInfo struct {
	ID      string
	Created time.Time
	Bytes   int64    // bytes of file data it holds
	Files   int64    // files it holds
	Mounts  []string // prefixes of the mounts it captured, sorted
}

// FS is one agent's namespace: a table of mounts addressed by absolute paths.
// Paths are validated by [Clean]; a path belongs to the mount with the
// longest prefix that matches at a component boundary ("/policyX" is not
// under "/policy"). Ancestors of mount points ("/", "/mem") are read-only
// directories that list the mount points below them.
//
// Every method returns errors as *fs.PathError wrapping the agentos
// sentinels: a missing file matches both agentos.ErrNotFound and
// fs.ErrNotExist; an invalid path agentos.ErrInvalid; a write to a read-only
// mount agentos.ErrReadOnly; an overwrite or delete in an append-only mount
// agentos.ErrAppendOnly; a write beyond the quota agentos.ErrQuota. A failed
// write changes nothing.
//
// FS is safe for concurrent use. Reads run in parallel; writes, checkpoints
// and rollbacks are serialized, and a checkpoint or rollback excludes every
// other operation of the namespace, so it is atomic across mounts.
type FS struct {
	clock   func() time.Time
	quota   Quota
	budget  *Budget // shared with other namespaces; nil without WithBudget
	created time.Time
	// episodic replaces the AppendOnlyMount NewAgentFS puts at
	// PrefixEpisodic (WithEpisodicMount).
	episodic Mount

	mu     sync.RWMutex // the namespace lock: readers shared, mutations exclusive
	mounts []*mountEntry
	virt   map[string][]string // synthetic directory → sorted child names
	bytes  int64               // live bytes in metered mounts
	files  int64               // live files in metered mounts
	over   int64               // overhead of the live files' names (nameCost)
	closed bool                // Close was called: changes fail

	ckMu    sync.RWMutex // guards the fields below; taken after mu
	ckpts   map[string]*checkpoint
	ckBytes int64 // data bytes held by checkpoints
	ckOver  int64 // overhead of the records checkpoints hold (recordCost)
	ckSeq   uint64
}

// New returns an empty namespace (no mounts; "/" is an empty directory).
func New(opts ...Option) (*FS, error) {
	f := &FS{clock: time.Now, quota: defaultQuota, ckpts: map[string]*checkpoint{}}
	for _, o := range opts {
		if err := o(f); err != nil {
			return nil, err
		}
	}
	f.quota.MaxBytes = cmp.Or(f.quota.MaxBytes, defaultQuota.MaxBytes)
	f.quota.MaxFiles = cmp.Or(f.quota.MaxFiles, defaultQuota.MaxFiles)
	f.quota.MaxFileSize = cmp.Or(f.quota.MaxFileSize, defaultQuota.MaxFileSize)
	f.quota.MaxCheckpoints = cmp.Or(f.quota.MaxCheckpoints, defaultQuota.MaxCheckpoints)
	f.created = f.clock()
	f.virt = map[string][]string{"/": nil}
	return f, nil
}

// NewAgentFS returns a namespace with the standard agent layout:
// [PrefixWorking] and [PrefixState] as fresh [MemMount]s, [PrefixEpisodic] as
// a fresh [AppendOnlyMount] (or the mount given by [WithEpisodicMount]), [PrefixPolicy] as policy (shared, read-only; nil
// means an empty [StaticMount]), and [PrefixCheckpoints] as the read-only view
// of the namespace's checkpoints ([FS.CheckpointMount]). A vector store is
// mounted at [PrefixSemantic] by its provider with [FS.Mount].
func NewAgentFS(policy Mount, opts ...Option) (*FS, error) {
	f, err := New(opts...)
	if err != nil {
		return nil, err
	}
	if policy == nil {
		policy, err = NewStaticMount(nil, f.created)
		if err != nil {
			return nil, err
		}
	}
	var episodic Mount = NewAppendOnlyMount(f.clock)
	if f.episodic != nil {
		episodic = f.episodic
	}
	ctx := context.Background() // fresh mounts: nothing to walk, nothing to wait for
	for _, m := range []struct {
		prefix string
		m      Mount
	}{
		{PrefixWorking, NewMemMount(f.clock)},
		{PrefixEpisodic, episodic},
		{PrefixState, NewMemMount(f.clock)},
		{PrefixCheckpoints, f.CheckpointMount()},
		{PrefixPolicy, policy},
	} {
		if err := f.Mount(ctx, m.prefix, m.m); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Quota returns the namespace's effective quota (defaults filled in).
func (f *FS) Quota() Quota { return f.quota }

// Usage returns what the namespace stores now.
func (f *FS) Usage() Usage {
	f.mu.RLock()
	defer f.mu.RUnlock()
	f.ckMu.RLock()
	defer f.ckMu.RUnlock()
	return Usage{
		Bytes: f.bytes, Files: f.files, Overhead: f.over,
		CheckpointBytes: f.ckBytes, CheckpointOverhead: f.ckOver, Checkpoints: len(f.ckpts),
	}
}

// Mount attaches m at prefix. The prefix is cleaned; mounting twice at the
// same prefix fails with agentos.ErrInvalid. Mounts nest: "/state/checkpoints"
// takes precedence over "/state" for the paths below it. A writable mount's
// existing files are walked and counted against the quota; if they do not
// fit, Mount fails with agentos.ErrQuota and nothing is mounted.
func (f *FS) Mount(ctx context.Context, prefix string, m Mount) error {
	const op = "mount"
	p, err := clean(prefix)
	if err != nil {
		return err
	}
	if m == nil {
		return pathError(op, p, detail(errInvalid, "nil mount"))
	}
	e := &mountEntry{prefix: p, m: m}
	e.w, _ = m.(WriteMount)
	e.a, _ = m.(AppendMount)
	e.c, _ = m.(CreateMount)
	e.s, _ = m.(SnapshotMount)
	e.q, _ = m.(SearchMount)
	if e.metered() {
		if e.bytes, e.files, e.over, err = walkUsage(ctx, m, "."); err != nil {
			return pathError(op, p, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return pathError(op, p, agentos.ErrClosed)
	}
	for _, o := range f.mounts {
		if o.prefix == p {
			return pathError(op, p, detail(errInvalid, "already mounted"))
		}
	}
	if e.metered() {
		if err := f.fits(f.bytes+f.over+e.bytes+e.over, f.files+e.files, f.ckHeldLocked()); err != nil {
			return pathError(op, p, err)
		}
		if err := f.grow(e.bytes + e.over); err != nil {
			return pathError(op, p, err)
		}
	}
	mounts := append(slices.Clone(f.mounts), e)
	// Longest prefix first, so the first match is the longest.
	slices.SortStableFunc(mounts, func(a, b *mountEntry) int { return cmp.Compare(len(b.prefix), len(a.prefix)) })
	f.mounts = mounts
	f.bytes += e.bytes
	f.files += e.files
	f.over += e.over
	f.virt = virtualDirs(mounts)
	return nil
}

// ckHeldLocked returns what the checkpoints hold, data and overhead.
func (f *FS) ckHeldLocked() int64 {
	f.ckMu.RLock()
	defer f.ckMu.RUnlock()
	return f.ckBytes + f.ckOver
}

// virtualDirs maps every ancestor of a mount point to its children.
func virtualDirs(mounts []*mountEntry) map[string][]string {
	kids := map[string]map[string]bool{"/": {}}
	for _, e := range mounts {
		for p := e.prefix; p != "/"; {
			parent := path.Dir(p)
			if kids[parent] == nil {
				kids[parent] = map[string]bool{}
			}
			kids[parent][path.Base(p)] = true
			p = parent
		}
	}
	out := make(map[string][]string, len(kids))
	for d, k := range kids {
		out[d] = slices.Sorted(maps.Keys(k))
	}
	return out
}

// walkUsage counts the data bytes, the files and the overhead of the
// names (nameCost) below dir of m.
func walkUsage(ctx context.Context, m Mount, dir string) (bytes, files, over int64, err error) {
	entries, err := m.ReadDir(ctx, dir)
	if err != nil {
		return 0, 0, 0, err
	}
	for _, e := range entries {
		name := e.Name
		if dir != "." {
			name = dir + "/" + e.Name
		}
		if e.IsDir {
			b, n, o, err := walkUsage(ctx, m, name)
			if err != nil {
				return 0, 0, 0, err
			}
			bytes, files, over = bytes+b, files+n, over+o
			continue
		}
		bytes, files, over = bytes+e.Size, files+1, over+nameCost(name)
	}
	return bytes, files, over, nil
}

// resolve finds the mount of a clean path and the mount-relative name.
// Callers hold f.mu.
func (f *FS) resolve(p string) (*mountEntry, string) {
	for _, e := range f.mounts {
		switch {
		case e.prefix == p:
			return e, "."
		case e.prefix == "/":
			return e, p[1:]
		case len(p) > len(e.prefix) && p[len(e.prefix)] == '/' && strings.HasPrefix(p, e.prefix):
			return e, p[len(e.prefix)+1:]
		}
	}
	return nil, ""
}

// begin cleans p and checks ctx: the start of every path method. A refused
// path is reported with the method's op.
func begin(ctx context.Context, op agentos.Op, p string) (string, error) {
	cp, err := clean(p)
	if err != nil {
		pe := *err.(*fs.PathError)
		pe.Op = string(op)
		return "", &pe
	}
	if err := ctx.Err(); err != nil {
		return "", pathError(op, cp, err)
	}
	return cp, nil
}

// noMount is the error for a clean path no mount covers.
func (f *FS) noMount(op agentos.Op, p string) error {
	if _, ok := f.virt[p]; ok {
		return pathError(op, p, detail(errInvalid, "is a directory"))
	}
	return pathError(op, p, detail(errNotExist, "no mount"))
}

// Read returns a copy of the file at p.
func (f *FS) Read(ctx context.Context, p string) ([]byte, error) {
	cp, err := begin(ctx, agentos.OpRead, p)
	if err != nil {
		return nil, err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, rel := f.resolve(cp)
	if e == nil {
		return nil, f.noMount(agentos.OpRead, cp)
	}
	data, err := e.m.ReadFile(ctx, rel)
	if err != nil {
		return nil, pathError(agentos.OpRead, cp, err)
	}
	return data, nil
}

// Stat describes the file or directory at p. Its Name is the base name of p
// ("/" for the root).
func (f *FS) Stat(ctx context.Context, p string) (FileInfo, error) {
	cp, err := begin(ctx, agentos.OpStat, p)
	if err != nil {
		return FileInfo{}, err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.statLocked(ctx, cp)
}

func (f *FS) statLocked(ctx context.Context, cp string) (FileInfo, error) {
	e, rel := f.resolve(cp)
	_, virtual := f.virt[cp]
	switch {
	case e != nil && (rel == "." || !virtual):
		fi, err := e.m.Stat(ctx, rel)
		if err != nil {
			return FileInfo{}, pathError(agentos.OpStat, cp, err)
		}
		fi.Name = path.Base(cp)
		return fi, nil
	case virtual:
		return FileInfo{Name: path.Base(cp), ModTime: f.created, IsDir: true}, nil
	}
	return FileInfo{}, pathError(agentos.OpStat, cp, detail(errNotExist, "no mount"))
}

// List returns the entries of the directory at p, sorted by name. Mount
// points below p are listed as directories, hiding any entry of the same
// name in the mount that holds p.
func (f *FS) List(ctx context.Context, p string) ([]FileInfo, error) {
	cp, err := begin(ctx, agentos.OpList, p)
	if err != nil {
		return nil, err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, rel := f.resolve(cp)
	kids, virtual := f.virt[cp]
	var out []FileInfo
	if e != nil {
		out, err = e.m.ReadDir(ctx, rel)
		if err != nil {
			if !virtual || !(errors.Is(err, agentos.ErrNotFound) || errors.Is(err, agentos.ErrInvalid)) {
				return nil, pathError(agentos.OpList, cp, err)
			}
			out = nil // a mount point's ancestor is a directory whatever the mount says
		}
	} else if !virtual {
		return nil, pathError(agentos.OpList, cp, detail(errNotExist, "no mount"))
	}
	if len(kids) == 0 {
		return out, nil
	}
	out = slices.DeleteFunc(out, func(fi FileInfo) bool { _, found := slices.BinarySearch(kids, fi.Name); return found })
	for _, k := range kids {
		fi, err := f.statLocked(ctx, path.Join(cp, k))
		if err != nil {
			return nil, pathError(agentos.OpList, cp, err)
		}
		out = append(out, fi)
	}
	slices.SortFunc(out, func(a, b FileInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Write creates or replaces the file at p with a copy of data. In a mount
// that can only create files (append-only), it creates a new file and refuses
// an existing one with agentos.ErrAppendOnly.
func (f *FS) Write(ctx context.Context, p string, data []byte) error {
	return f.mutate(ctx, agentos.OpWrite, p, data, false)
}

// WriteOwned is Write without the copy: the namespace takes data as it is
// and the caller must never modify it again. The mounts of this package
// store data itself; another mount copies it as usual. It lets a caller
// that made its own copy (the kernel, to digest exactly what it stores)
// store that one copy.
func (f *FS) WriteOwned(ctx context.Context, p string, data []byte) error {
	return f.mutate(ctx, agentos.OpWrite, p, data, true)
}

// Append appends a copy of data to the file at p, creating it when missing.
func (f *FS) Append(ctx context.Context, p string, data []byte) error {
	return f.mutate(ctx, agentos.OpAppend, p, data, false)
}

// AppendOwned is Append without the copy when the file is created (see
// [FS.WriteOwned]): the caller must never modify data again.
func (f *FS) AppendOwned(ctx context.Context, p string, data []byte) error {
	return f.mutate(ctx, agentos.OpAppend, p, data, true)
}

// Delete removes the file at p.
func (f *FS) Delete(ctx context.Context, p string) error {
	return f.mutate(ctx, agentos.OpDelete, p, nil, false)
}

func (f *FS) mutate(ctx context.Context, op agentos.Op, p string, data []byte, owned bool) error {
	cp, err := begin(ctx, op, p)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return pathError(op, cp, agentos.ErrClosed)
	}
	e, rel := f.resolve(cp)
	if e == nil {
		return f.noMount(op, cp)
	}
	if _, virtual := f.virt[cp]; virtual {
		return pathError(op, cp, detail(errInvalid, "is a directory"))
	}
	// Pick the mount method before touching anything.
	type method uint8
	const (
		none method = iota
		writeFile
		createFile
		appendFile
		remove
	)
	do := none
	switch op {
	case agentos.OpWrite:
		switch {
		case e.w != nil:
			do = writeFile
		case e.c != nil:
			do = createFile
		}
	case agentos.OpAppend:
		if e.a != nil {
			do = appendFile
		} else if e.w != nil {
			return pathError(op, cp, detail(errUnsupported, "mount cannot append"))
		}
	case agentos.OpDelete:
		if e.w != nil {
			do = remove
		}
	}
	if do == none {
		if e.a != nil || e.c != nil {
			return pathError(op, cp, errAppendOnly)
		}
		return pathError(op, cp, errReadOnly)
	}
	// Quota: compute the usage after the change and refuse it before the
	// mount sees it.
	var oldSize int64
	existed := false
	if fi, err := e.m.Stat(ctx, rel); err == nil {
		if !fi.IsDir {
			oldSize, existed = fi.Size, true
		}
	} else if !errors.Is(err, agentos.ErrNotFound) && !errors.Is(err, agentos.ErrInvalid) {
		return pathError(op, cp, err)
	}
	var dBytes, dFiles, dOver int64
	switch op {
	case agentos.OpWrite:
		if int64(len(data)) > f.quota.MaxFileSize {
			return pathError(op, cp, detail(agentos.ErrQuota, "file of %d bytes exceeds the %d-byte limit", len(data), f.quota.MaxFileSize))
		}
		dBytes = int64(len(data)) - oldSize
		if !existed {
			dFiles, dOver = 1, nameCost(rel)
		}
	case agentos.OpAppend:
		if oldSize+int64(len(data)) > f.quota.MaxFileSize {
			return pathError(op, cp, detail(agentos.ErrQuota, "file of %d bytes exceeds the %d-byte limit", oldSize+int64(len(data)), f.quota.MaxFileSize))
		}
		dBytes = int64(len(data))
		if !existed {
			dFiles, dOver = 1, nameCost(rel)
		}
	case agentos.OpDelete:
		if existed {
			dBytes, dFiles, dOver = -oldSize, -1, -nameCost(rel)
		}
	}
	grow := dBytes + dOver
	if grow > 0 || dFiles > 0 {
		if err := f.fits(f.bytes+f.over+grow, f.files+dFiles, f.ckHeldLocked()); err != nil {
			return pathError(op, cp, err)
		}
		if err := f.grow(grow); err != nil {
			return pathError(op, cp, err)
		}
	}
	ow := ownedWriterOf(e.m)
	switch {
	case do == writeFile && owned && ow != nil:
		err = ow.writeOwned(ctx, rel, data, putReplace)
	case do == writeFile:
		err = e.w.WriteFile(ctx, rel, data)
	case do == createFile && owned && ow != nil:
		err = ow.writeOwned(ctx, rel, data, putCreate)
	case do == createFile:
		err = e.c.CreateFile(ctx, rel, data)
	case do == appendFile && owned && ow != nil:
		err = ow.writeOwned(ctx, rel, data, putAppend)
	case do == appendFile:
		err = e.a.AppendFile(ctx, rel, data)
	case do == remove:
		err = e.w.Remove(ctx, rel)
	}
	if err != nil {
		f.shrink(grow)
		return pathError(op, cp, err)
	}
	if grow < 0 {
		f.shrink(-grow)
	}
	e.bytes += dBytes
	e.files += dFiles
	e.over += dOver
	f.bytes += dBytes
	f.files += dFiles
	f.over += dOver
	return nil
}

// fits reports, as an error matching agentos.ErrQuota, whether the given
// totals exceed the quota: live is what the files hold (data and overhead),
// held what the checkpoints hold.
func (f *FS) fits(live, files, held int64) error {
	if live+held > f.quota.MaxBytes {
		return detail(agentos.ErrQuota, "%d bytes (%d in checkpoints) exceed the %d-byte limit", live+held, held, f.quota.MaxBytes)
	}
	if files > f.quota.MaxFiles {
		return detail(agentos.ErrQuota, "%d files exceed the %d-file limit", files, f.quota.MaxFiles)
	}
	return nil
}

// Search runs q against the search-capable mount holding p, restricted to the
// directory p. Result paths are absolute. A mount that cannot search fails
// with agentos.ErrInvalid (and errors.ErrUnsupported); q.K outside
// 1..[MaxSearchK] or a query longer than [MaxQueryTextSize] fails with
// agentos.ErrInvalid.
func (f *FS) Search(ctx context.Context, p string, q Query) ([]SearchResult, error) {
	cp, err := begin(ctx, agentos.OpSearch, p)
	if err != nil {
		return nil, err
	}
	if q.K < 1 || q.K > MaxSearchK {
		return nil, pathError(agentos.OpSearch, cp, detail(errInvalid, "k=%d outside 1..%d", q.K, MaxSearchK))
	}
	if len(q.Text) > MaxQueryTextSize {
		return nil, pathError(agentos.OpSearch, cp, detail(errInvalid, "query of %d bytes exceeds %d", len(q.Text), MaxQueryTextSize))
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, rel := f.resolve(cp)
	if e == nil {
		return nil, f.noMount(agentos.OpSearch, cp)
	}
	if e.q == nil {
		return nil, pathError(agentos.OpSearch, cp, detail(errUnsupported, "mount cannot search"))
	}
	res, err := e.q.Search(ctx, rel, q)
	if err != nil {
		return nil, pathError(agentos.OpSearch, cp, err)
	}
	if len(res) > q.K {
		res = res[:q.K]
	}
	for i := range res {
		if !ValidName(res[i].Path) || res[i].Path == "." {
			return nil, pathError(agentos.OpSearch, cp, fmt.Errorf("mount returned invalid result path %q", res[i].Path))
		}
		res[i].Path = path.Join(e.prefix, res[i].Path)
	}
	return res, nil
}
