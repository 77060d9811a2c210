package emk

// SetCandidates lowers the candidate bound of a Text query, so that tests
// can reach it with few episodes.
func SetCandidates(s *Store, n int) { s.cfg.candidates = n }

// CanonicalJSON exposes the encoding ComputeID hashes.
func CanonicalJSON(e Episode) []byte { return e.canonicalJSON() }
