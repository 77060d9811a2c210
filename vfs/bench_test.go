package vfs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agent-os/agentos/vfs"
)

// small is the file the benchmarks write and read: a typical note in working
// memory.
var small = []byte(strings.Repeat("x", 128))

// benchNS returns a standard namespace and its /mem/working mount, reached
// directly through a second namespace-free handle for the baseline.
func benchNS(b *testing.B) (*vfs.FS, *vfs.MemMount) {
	b.Helper()
	f, err := vfs.New()
	if err != nil {
		b.Fatal(err)
	}
	m := vfs.NewMemMount(nil)
	for _, mt := range []struct {
		prefix string
		m      vfs.Mount
	}{
		{vfs.PrefixWorking, m},
		{vfs.PrefixEpisodic, vfs.NewAppendOnlyMount(nil)},
		{vfs.PrefixState, vfs.NewMemMount(nil)},
		{vfs.PrefixCheckpoints, f.CheckpointMount()},
	} {
		if err := f.Mount(context.Background(), mt.prefix, mt.m); err != nil {
			b.Fatal(err)
		}
	}
	return f, m
}

// BenchmarkWrite compares replacing a small file in /mem/working through the
// namespace (clean, resolve, quota, lock) with writing it straight into the
// mount.
func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	b.Run("namespace", func(b *testing.B) {
		f, _ := benchNS(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := f.Write(ctx, "/mem/working/notes/task.txt", small); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mount", func(b *testing.B) {
		_, m := benchNS(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := m.WriteFile(ctx, "notes/task.txt", small); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRead compares reading a small file in /mem/working through the
// namespace with reading it straight from the mount.
func BenchmarkRead(b *testing.B) {
	ctx := context.Background()
	b.Run("namespace", func(b *testing.B) {
		f, _ := benchNS(b)
		if err := f.Write(ctx, "/mem/working/notes/task.txt", small); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.Read(ctx, "/mem/working/notes/task.txt"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mount", func(b *testing.B) {
		_, m := benchNS(b)
		if err := m.WriteFile(ctx, "notes/task.txt", small); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.ReadFile(ctx, "notes/task.txt"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClean measures path validation of a canonical and a messy path.
func BenchmarkClean(b *testing.B) {
	for _, c := range []struct{ name, path string }{
		{"canonical", "/mem/working/notes/task.txt"},
		{"messy", "/mem//working/./notes/task.txt/"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := vfs.Clean(c.path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckpointRollback measures a checkpoint and a rollback of a
// working memory of 100 small files.
func BenchmarkCheckpointRollback(b *testing.B) {
	ctx := context.Background()
	f, _ := benchNS(b)
	for i := range 100 {
		if err := f.Write(ctx, "/mem/working/f"+strings.Repeat("x", i%10)+string(rune('a'+i%26))+string(rune('a'+i/26)), small); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := f.Checkpoint(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Rollback(ctx, c.ID); err != nil {
			b.Fatal(err)
		}
		if err := f.DeleteCheckpoint(ctx, c.ID); err != nil {
			b.Fatal(err)
		}
	}
}
