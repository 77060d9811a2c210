package vfs

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/agent-os/agentos"
)

// node is a file or a directory of a tree. Directories exist only while they
// hold something (they are implied by file names), except the root.
type node struct {
	dir  bool
	data []byte
	mod  time.Time
	kids map[string]*node // directories only
}

func newDir(mod time.Time) *node { return &node{dir: true, mod: mod, kids: map[string]*node{}} }

func (n *node) info(name string) FileInfo {
	return FileInfo{Name: name, Size: int64(len(n.data)), ModTime: n.mod, IsDir: n.dir}
}

// tree is an in-memory file tree. It is not safe for concurrent use; the
// mounts that embed one guard it.
type tree struct {
	root *node
}

func baseName(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// lookup returns the node for a valid name, or nil.
func (t *tree) lookup(name string) *node {
	n := t.root
	if name == "." {
		return n
	}
	for rest := name; n != nil; {
		if !n.dir {
			return nil
		}
		comp, tail, more := strings.Cut(rest, "/")
		n = n.kids[comp]
		if !more {
			return n
		}
		rest = tail
	}
	return nil
}

func (t *tree) stat(op agentos.Op, name string) (FileInfo, error) {
	n := t.lookup(name)
	if n == nil {
		return FileInfo{}, mountError(op, name, errNotExist)
	}
	return n.info(baseName(name)), nil
}

func (t *tree) readFile(op agentos.Op, name string) ([]byte, error) {
	n := t.lookup(name)
	switch {
	case n == nil:
		return nil, mountError(op, name, errNotExist)
	case n.dir:
		return nil, mountError(op, name, detail(errInvalid, "is a directory"))
	}
	return slices.Clone(n.data), nil
}

func (t *tree) readDir(op agentos.Op, name string) ([]FileInfo, error) {
	n := t.lookup(name)
	switch {
	case n == nil:
		return nil, mountError(op, name, errNotExist)
	case !n.dir:
		return nil, mountError(op, name, detail(errInvalid, "not a directory"))
	}
	out := make([]FileInfo, 0, len(n.kids))
	for _, k := range slices.Sorted(maps.Keys(n.kids)) {
		out = append(out, n.kids[k].info(k))
	}
	return out, nil
}

type putMode uint8

const (
	putReplace putMode = iota // create or replace
	putAppend                 // create or append
	putCreate                 // create only
)

// put stores data under name. Every check happens before the first change, so
// a failed put changes nothing. data is copied unless owned, when a new or
// replaced file takes data itself (appending always copies).
func (t *tree) put(op agentos.Op, name string, data []byte, mode putMode, now time.Time, owned bool) error {
	keep := func() []byte {
		if owned {
			return data
		}
		return slices.Clone(data)
	}
	if name == "." {
		return mountError(op, name, detail(errInvalid, "is a directory"))
	}
	// Find the deepest existing ancestor and make sure no ancestor is a file.
	parent := t.root
	rest := name
	for {
		comp, tail, more := strings.Cut(rest, "/")
		if !more {
			break
		}
		next := parent.kids[comp]
		if next == nil {
			break
		}
		if !next.dir {
			return mountError(op, name, detail(errInvalid, "parent is a file"))
		}
		parent, rest = next, tail
	}
	// rest is now relative to parent; its components, except the last, do
	// not exist yet.
	if !strings.Contains(rest, "/") {
		if old := parent.kids[rest]; old != nil {
			if old.dir {
				return mountError(op, name, detail(errInvalid, "is a directory"))
			}
			switch mode {
			case putCreate:
				return mountError(op, name, detail(errExist, "file exists"))
			case putAppend:
				old.data = append(old.data, data...)
			default:
				old.data = keep()
			}
			old.mod = now
			return nil
		}
	}
	for {
		comp, tail, more := strings.Cut(rest, "/")
		parent.mod = now
		if !more {
			parent.kids[comp] = &node{data: keep(), mod: now}
			return nil
		}
		d := newDir(now)
		parent.kids[comp] = d
		parent, rest = d, tail
	}
}

// remove deletes a file and the directories it leaves empty.
func (t *tree) remove(op agentos.Op, name string, now time.Time) error {
	n := t.lookup(name)
	switch {
	case n == nil:
		return mountError(op, name, errNotExist)
	case n.dir:
		return mountError(op, name, detail(errInvalid, "is a directory"))
	}
	t.prune(t.root, name, now)
	return nil
}

// prune removes name below d and reports whether d became empty.
func (t *tree) prune(d *node, name string, now time.Time) bool {
	comp, tail, more := strings.Cut(name, "/")
	if more && t.prune(d.kids[comp], tail, now) {
		delete(d.kids, comp)
	} else if !more {
		delete(d.kids, comp)
	}
	d.mod = now
	return len(d.kids) == 0
}

// files returns a deep copy of every file, sorted by name.
func (t *tree) files() []SnapshotFile {
	var out []SnapshotFile
	// The names are built in one buffer and made strings only for files:
	// a checkpoint holds one string per file, and leaves no garbage per
	// directory level behind.
	var buf []byte
	var walk func(d *node)
	walk = func(d *node) {
		for _, k := range slices.Sorted(maps.Keys(d.kids)) {
			n := d.kids[k]
			mark := len(buf)
			if mark > 0 {
				buf = append(buf, '/')
			}
			buf = append(buf, k...)
			if n.dir {
				walk(n)
			} else {
				out = append(out, SnapshotFile{Name: string(buf), Data: slices.Clone(n.data), ModTime: n.mod})
			}
			buf = buf[:mark]
		}
	}
	walk(t.root)
	return slices.Clip(out)
}

// build makes a new tree holding exactly the files of s (copied). It fails on
// an invalid or duplicate name or a file below a file.
func build(op agentos.Op, s Snapshot, rootMod time.Time) (*tree, error) {
	t := &tree{root: newDir(rootMod)}
	for _, f := range s.Files {
		if f.Name == "." || !ValidName(f.Name) {
			return nil, checkNameOrDot(op, f.Name)
		}
		if err := t.put(op, f.Name, f.Data, putCreate, f.ModTime, false); err != nil {
			return nil, mountError(op, f.Name, detail(errInvalid, "conflicting snapshot entry"))
		}
	}
	// Directory times: the latest time of anything below them.
	var fix func(d *node) time.Time
	fix = func(d *node) time.Time {
		latest := time.Time{}
		for _, k := range d.kids {
			m := k.mod
			if k.dir {
				m = fix(k)
			}
			if m.After(latest) {
				latest = m
			}
		}
		if len(d.kids) > 0 {
			d.mod = latest
		}
		return d.mod
	}
	for _, k := range t.root.kids {
		if k.dir {
			fix(k)
		}
	}
	return t, nil
}

func checkNameOrDot(op agentos.Op, name string) error {
	if name == "." {
		return mountError(op, name, detail(errInvalid, "the root is not a file"))
	}
	return checkName(op, name)
}
