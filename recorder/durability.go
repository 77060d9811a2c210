package recorder

// Durability returns the recorder's durability mode: WriteAhead, or
// Buffered, in which Append returns before the entry is committed.
func (r *Recorder) Durability() Durability { return r.opts.Durability }

// InMemory reports whether the recorder keeps its entries in memory only
// (opened with the path "" or ":memory:").
func (r *Recorder) InMemory() bool { return r.base == "" }

// MaxEntryBytes returns the largest encoded entry Append accepts
// (Options.MaxEntryBytes with its default filled in).
func (r *Recorder) MaxEntryBytes() int { return r.opts.MaxEntryBytes }

// Lost returns nil while every entry Append accepted was committed or is
// still queued, and from the first failed commit of entries acknowledged
// before their commit (Buffered mode, or AppendLater in WriteAhead mode)
// on, for good, the *LostError of the entries it lost (errors.Is ErrLost, and its
// cause, such as ErrStorageFull). Unlike the error Append and Flush report
// once, it stays: a caller that acknowledged work on the strength of
// Append's answer checks it to stop acknowledging more. It is cheap (one
// atomic load) and safe for concurrent use.
func (r *Recorder) Lost() error {
	if l := r.lost.Load(); l != nil {
		return l
	}
	return nil
}
