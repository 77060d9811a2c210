package policy

// withoutIndex makes the engine evaluate every rule for every action; the
// tests compare its decisions with the indexed engine's.
func withoutIndex() Option {
	return func(c *config) error {
		c.unindexed = true
		return nil
	}
}
