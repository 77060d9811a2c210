package vfs_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/vfs"
)

func ExampleNewAgentFS() {
	ctx := context.Background()
	policy, _ := vfs.NewStaticMount(map[string][]byte{"base.yaml": []byte("defaultEffect: deny\n")}, time.Unix(0, 0))
	f, err := vfs.NewAgentFS(policy)
	if err != nil {
		panic(err)
	}
	_ = f.Write(ctx, "/mem/working/task.txt", []byte("Analyze data"))
	data, _ := f.Read(ctx, "/mem/working/task.txt")
	fmt.Println(string(data))

	err = f.Write(ctx, "/policy/base.yaml", []byte("defaultEffect: allow\n"))
	fmt.Println(errors.Is(err, agentos.ErrReadOnly), err)

	_, err = f.Read(ctx, "/policyX/base.yaml")
	fmt.Println(errors.Is(err, agentos.ErrNotFound), errors.Is(err, fs.ErrNotExist))
	// Output:
	// Analyze data
	// true write /policy/base.yaml: agentos: read-only
	// true true
}

func ExampleClean() {
	for _, p := range []string{"/mem//working/./notes/", "/mem/working/../../etc/passwd", "/mem/working/a\x00b"} {
		c, err := vfs.Clean(p)
		fmt.Printf("%q %v\n", c, err)
	}
	// Output:
	// "/mem/working/notes" <nil>
	// "" clean "/mem/working/../../etc/passwd": agentos: invalid argument: ".." component
	// "" clean "/mem/working/a\x00b": agentos: invalid argument: NUL byte
}

func ExampleFS_Checkpoint() {
	ctx := context.Background()
	f, _ := vfs.NewAgentFS(nil)
	_ = f.Write(ctx, "/mem/working/plan", []byte("step 1"))
	c, _ := f.Checkpoint(ctx)

	_ = f.Write(ctx, "/mem/working/plan", []byte("step 2 went wrong"))
	_ = f.Rollback(ctx, c.ID)

	data, _ := f.Read(ctx, "/mem/working/plan")
	fmt.Println(c.ID, string(data))
	// Output:
	// ckpt-000001 step 1
}

func ExampleFS_Append() {
	ctx := context.Background()
	f, _ := vfs.NewAgentFS(nil)
	_ = f.Append(ctx, "/mem/episodic/log", []byte("observed;"))
	_ = f.Append(ctx, "/mem/episodic/log", []byte("acted;"))
	err := f.Write(ctx, "/mem/episodic/log", []byte("rewritten history"))
	data, _ := f.Read(ctx, "/mem/episodic/log")
	fmt.Println(string(data), errors.Is(err, agentos.ErrAppendOnly))
	// Output:
	// observed;acted; true
}

func ExampleWithQuota() {
	ctx := context.Background()
	f, _ := vfs.NewAgentFS(nil, vfs.WithQuota(vfs.Quota{MaxFileSize: 4}))
	err := f.Write(ctx, "/mem/working/big", []byte("12345"))
	fmt.Println(errors.Is(err, agentos.ErrQuota))
	// Output:
	// true
}

func ExampleFS_IOFS() {
	ctx := context.Background()
	f, _ := vfs.NewAgentFS(nil)
	_ = f.Write(ctx, "/mem/working/a/b.txt", []byte("x"))
	_ = fs.WalkDir(f.IOFS(), "mem", func(p string, d fs.DirEntry, err error) error {
		fmt.Println(p, d.IsDir())
		return err
	})
	// Output:
	// mem true
	// mem/episodic true
	// mem/working true
	// mem/working/a true
	// mem/working/a/b.txt false
}
