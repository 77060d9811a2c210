//go:build !linux

package recorder

import "os"

// datasync flushes f to stable storage (os.File.Sync: fsync, or
// F_FULLFSYNC on Darwin).
func datasync(f *os.File) error { return f.Sync() }
