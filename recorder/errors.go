package recorder

import (
	"crypto/sha256"
	"errors"
	"fmt"
)

// Errors returned by the recorder, besides the agentos sentinels
// (agentos.ErrClosed after Close, agentos.ErrInvalid for a malformed entry
// or option, agentos.ErrReadOnly for an append to a read-only recorder).
var (
	// ErrQueueFull is returned by Append in Buffered mode when the queue is
	// full and Options.WhenFull is Fail. The entry was not recorded.
	ErrQueueFull = errors.New("recorder: queue full, entry not recorded")
	// ErrCorrupt means the file is not a recorder database, or is damaged.
	ErrCorrupt = errors.New("recorder: not a recorder database or damaged")
	// ErrSchemaVersion means the database was written by a newer recorder
	// (see *SchemaError).
	ErrSchemaVersion = errors.New("recorder: unsupported schema version")
	// ErrStorageFull means the database reached Options.MaxBytes or the
	// disk is full. The entries of the failed commit were not recorded;
	// everything recorded before is intact.
	ErrStorageFull = errors.New("recorder: storage full")
	// ErrTampered is wrapped by *ChainError: the chain does not verify.
	ErrTampered = errors.New("recorder: chain does not verify")
	// ErrLost is wrapped by *LostError: buffered entries that Append had
	// accepted could not be written.
	ErrLost = errors.New("recorder: buffered entries lost")
	// ErrSync means an fsync of the recorder's file failed (Sync: SyncFull):
	// entries written since the last good fsync may not be on disk. It is
	// final: the Appends waiting on that fsync fail with it, and so does
	// every later Append and Flush, since a later fsync that succeeds does
	// not bring back pages the failed one dropped. Close the recorder and
	// check the file with Verify.
	ErrSync = errors.New("recorder: fsync failed")
	// ErrConflict means another writer appended to the same file.
	ErrConflict = errors.New("recorder: another writer appended to the file")
	// ErrSignature means a signed anchor does not verify with the key it
	// was checked against.
	ErrSignature = errors.New("recorder: anchor signature does not verify")
)

// SchemaError reports a database whose schema version this recorder cannot
// read. errors.Is(err, ErrSchemaVersion) is true for it.
type SchemaError struct {
	Path  string
	Found int64 // version in the file
	Want  int64 // newest version this recorder knows
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("recorder: %s has schema version %d, this recorder reads up to %d", e.Path, e.Found, e.Want)
}

// Is makes errors.Is(err, ErrSchemaVersion) true.
func (e *SchemaError) Is(target error) bool { return target == ErrSchemaVersion }

// Reason is why a chain link is broken.
type Reason string

// The reasons Verify gives for the first broken link.
const (
	ReasonEdited    Reason = "edited"    // a stored field or hash differs from what was hashed
	ReasonDeleted   Reason = "deleted"   // one or more entries are missing from the middle
	ReasonInserted  Reason = "inserted"  // entries that were never appended sit in the chain
	ReasonReordered Reason = "reordered" // entries were moved to other positions
	ReasonTruncated Reason = "truncated" // entries up to the anchor are missing from the tail
	// ReasonGenesis: the chain does not start where it was expected to (a
	// rewritten genesis, or a file of a rollover set replaced by another).
	ReasonGenesis Reason = "genesis"
	// ReasonRewritten: the chain links, but an entry differs from an anchor
	// kept elsewhere: the entries after the last matching anchor point were
	// rewritten and every hash from there recomputed.
	ReasonRewritten Reason = "rewritten"
)

// ChainError is a broken chain: the first bad sequence and why.
// errors.Is(err, ErrTampered) is true for it.
type ChainError struct {
	Seq    uint64 // first sequence that is not what was appended
	Reason Reason
	Detail string
	// File is the file in which the break was found ("" in memory).
	File string
}

func (e *ChainError) Error() string {
	s := fmt.Sprintf("recorder: chain broken at seq %d: %s", e.Seq, e.Reason)
	if e.File != "" {
		s = fmt.Sprintf("recorder: %s: chain broken at seq %d: %s", e.File, e.Seq, e.Reason)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is makes errors.Is(err, ErrTampered) true.
func (e *ChainError) Is(target error) bool { return target == ErrTampered }

// LostError reports buffered entries that Append had accepted (and given
// sequence numbers) but that could not be committed. The sequence numbers
// First..Last are reused by later entries. errors.Is(err, ErrLost) is true,
// and errors.Is also matches the cause (for example ErrStorageFull).
type LostError struct {
	First, Last uint64
	Err         error
}

func (e *LostError) Error() string {
	return fmt.Sprintf("recorder: buffered entries %d..%d were not recorded: %v", e.First, e.Last, e.Err)
}

// Unwrap returns ErrLost and the cause.
func (e *LostError) Unwrap() []error { return []error{ErrLost, e.Err} }

func sumHash(b []byte) Hash { return Hash(sha256.Sum256(b)) }
