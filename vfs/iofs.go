package vfs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"time"
)

// ReadFS is the io/fs view of a namespace or a mount: an fs.FS that also
// implements fs.ReadDirFS, fs.ReadFileFS and fs.StatFS. Names follow io/fs
// rules ("mem/working/a.txt", "." for the root). Files are read-only; their
// contents are copied when opened. It passes testing/fstest.TestFS.
//
// io/fs methods take no context; the view uses context.Background. It is
// safe for concurrent use, as the namespace or mount under it is; an open
// fs.File is not (like *os.File's directory reads).
type ReadFS interface {
	fs.ReadDirFS
	fs.ReadFileFS
	fs.StatFS
}

// IOFS returns the read side of the namespace as a [ReadFS]. Every call goes
// through the namespace (path validation, mount resolution, locking).
func (f *FS) IOFS() ReadFS { return ioFS{nsReader{f}} }

// MountFS returns the read side of a single mount as a [ReadFS].
func MountFS(m Mount) ReadFS { return ioFS{mountReader{m}} }

// reader is the read side the io/fs view needs, with io/fs names.
type reader interface {
	readFile(ctx context.Context, name string) ([]byte, error)
	stat(ctx context.Context, name string) (FileInfo, error)
	readDir(ctx context.Context, name string) ([]FileInfo, error)
}

type nsReader struct{ f *FS }

func abs(name string) string {
	if name == "." {
		return "/"
	}
	return "/" + name
}

func (r nsReader) readFile(ctx context.Context, name string) ([]byte, error) {
	return r.f.Read(ctx, abs(name))
}
func (r nsReader) stat(ctx context.Context, name string) (FileInfo, error) {
	return r.f.Stat(ctx, abs(name))
}
func (r nsReader) readDir(ctx context.Context, name string) ([]FileInfo, error) {
	return r.f.List(ctx, abs(name))
}

type mountReader struct{ m Mount }

func (r mountReader) readFile(ctx context.Context, name string) ([]byte, error) {
	return r.m.ReadFile(ctx, name)
}
func (r mountReader) stat(ctx context.Context, name string) (FileInfo, error) {
	return r.m.Stat(ctx, name)
}
func (r mountReader) readDir(ctx context.Context, name string) ([]FileInfo, error) {
	return r.m.ReadDir(ctx, name)
}

type ioFS struct{ r reader }

var (
	_ ReadFS         = ioFS{}
	_ fs.ReadDirFile = (*dirFile)(nil)
	_ fs.File        = (*file)(nil)
	_ io.ReadSeeker  = (*file)(nil)
	_ io.ReaderAt    = (*file)(nil)
	_ fs.FileInfo    = info{}
	_ fs.DirEntry    = info{}
)

// fsError rewrites an error to carry the io/fs name.
func fsError(op, name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: op, Path: name, Err: normalize(err)}
}

func valid(op, name string) error {
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: errInvalid}
	}
	return nil
}

func (v ioFS) Open(name string) (fs.File, error) {
	if err := valid("open", name); err != nil {
		return nil, err
	}
	ctx := context.Background()
	fi, err := v.r.stat(ctx, name)
	if err != nil {
		return nil, fsError("open", name, err)
	}
	fi.Name = baseOf(name)
	if fi.IsDir {
		entries, err := v.r.readDir(ctx, name)
		if err != nil {
			return nil, fsError("open", name, err)
		}
		return &dirFile{fi: info{fi}, entries: entries}, nil
	}
	data, err := v.r.readFile(ctx, name)
	if err != nil {
		return nil, fsError("open", name, err)
	}
	fi.Size = int64(len(data))
	return &file{fi: info{fi}, Reader: bytes.NewReader(data)}, nil
}

func (v ioFS) ReadFile(name string) ([]byte, error) {
	if err := valid("readfile", name); err != nil {
		return nil, err
	}
	data, err := v.r.readFile(context.Background(), name)
	if err != nil {
		return nil, fsError("readfile", name, err)
	}
	return data, nil
}

func (v ioFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := valid("readdir", name); err != nil {
		return nil, err
	}
	entries, err := v.r.readDir(context.Background(), name)
	if err != nil {
		return nil, fsError("readdir", name, err)
	}
	return toEntries(entries), nil
}

func (v ioFS) Stat(name string) (fs.FileInfo, error) {
	if err := valid("stat", name); err != nil {
		return nil, err
	}
	fi, err := v.r.stat(context.Background(), name)
	if err != nil {
		return nil, fsError("stat", name, err)
	}
	fi.Name = baseOf(name)
	return info{fi}, nil
}

func baseOf(name string) string {
	if name == "." {
		return "."
	}
	return baseName(name)
}

func toEntries(in []FileInfo) []fs.DirEntry {
	out := make([]fs.DirEntry, len(in))
	for i, fi := range in {
		out[i] = info{fi}
	}
	return out
}

// info adapts FileInfo to fs.FileInfo and fs.DirEntry.
type info struct{ fi FileInfo }

func (i info) Name() string               { return i.fi.Name }
func (i info) Size() int64                { return i.fi.Size }
func (i info) ModTime() time.Time         { return i.fi.ModTime }
func (i info) IsDir() bool                { return i.fi.IsDir }
func (i info) Sys() any                   { return nil }
func (i info) Type() fs.FileMode          { return i.Mode().Type() }
func (i info) Info() (fs.FileInfo, error) { return i, nil }
func (i info) String() string             { return fs.FormatFileInfo(i) }
func (i info) Mode() fs.FileMode {
	if i.fi.IsDir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

type file struct {
	fi info
	*bytes.Reader
}

func (f *file) Stat() (fs.FileInfo, error) { return f.fi, nil }
func (f *file) Close() error               { return nil }

type dirFile struct {
	fi      info
	entries []FileInfo
	off     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.fi, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.fi.Name(), Err: errInvalid}
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return toEntries(slices.Clone(rest)), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return toEntries(rest[:n]), nil
}
