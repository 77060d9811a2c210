// Package vfs is the per-agent virtual file system of agentos: a namespace
// ([FS]) of mounts addressed by absolute paths, through which an agent reads
// and writes its memory and state once policy has allowed the syscall.
//
// # Layout
//
// [NewAgentFS] builds the standard namespace of one agent:
//
//	/mem/working/      MemMount: scratch memory, read-write
//	/mem/episodic/     AppendOnlyMount: create and append, never overwrite or delete
//	/mem/semantic/     a SearchMount (vector store), mounted by its provider
//	/state/            MemMount: agent state files
//	/state/checkpoints/  read-only view of the namespace's checkpoints
//	/policy/           StaticMount: the loaded policy documents, read-only
//
// [FS.Checkpoint] snapshots every snapshot-capable mount (/mem/working and
// /state) together; [FS.Rollback] restores them atomically.
//
// # Mounts
//
// A [Mount] is the read side (ReadFile, Stat, ReadDir). Capabilities are
// optional interfaces found by type assertion, like io/fs: [WriteMount],
// [AppendMount], [CreateMount], [SnapshotMount], [SearchMount]. What a mount
// does not implement, the namespace refuses: a mount with no mutating
// capability is read-only (agentos.ErrReadOnly), one that can only append or
// create is append-only (agentos.ErrAppendOnly). Package vfs/vfstest checks an
// implementation against these contracts.
//
// # Paths
//
// [Clean] is the single path validator; the kernel runs it before policy so
// that policy decides on the path that will be touched. It refuses ".."
// components, NUL and control characters, invalid UTF-8, backslashes and
// over-long paths. A path belongs to the mount with the longest prefix that
// matches at a component boundary: "/policyX" is not under "/policy".
//
// # Errors, quotas, concurrency
//
// Errors are *fs.PathError values wrapping the agentos sentinels; a missing
// file matches both agentos.ErrNotFound and fs.ErrNotExist. A namespace
// enforces a [Quota] on bytes, file count, file size and number of
// checkpoints (agentos.ErrQuota); a refused write changes nothing. The bytes
// are the memory it holds: file data, names and nodes ([FileOverhead],
// [DirOverhead]) and checkpoint copies, so empty files at deep paths are
// not free. A [Budget] shared by many namespaces bounds them together. Every type is safe for concurrent use, data is copied in and out,
// and modification times come from an injected clock. [FS.IOFS] exposes the
// read side as an io/fs file system that passes testing/fstest.TestFS.
package vfs
