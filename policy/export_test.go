package policy

// withoutIndex makes the engine evaluate every rule for every action; the
// tests compare its decisions with the indexed engine's.
func withoutIndex() Option {
	return func(c *config) error {
		c.unindexed = true
		return nil
	}
}

// withoutDirect makes the engine hand every rule the index selects to its
// CEL program (the residual), never to direct evaluation; the tests and
// benchmarks compare it with the default engine.
func withoutDirect() Option {
	return func(c *config) error {
		c.nodirect = true
		return nil
	}
}
