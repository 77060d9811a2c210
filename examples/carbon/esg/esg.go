// Package esg holds the claim type of the carbon example. It lives in a
// package of its own so that policy can name it as the pipe reports it,
// "esg.Claim", whichever program runs the example.
package esg

// Kind says what a claim asserts.
type Kind string

// Claim kinds.
const (
	// Total: the facility emitted Value tCO2e in the quarter.
	Total Kind = "total"
	// Cut: the facility's emissions fell by Value percent from the
	// quarter before.
	Cut Kind = "cut"
)

// Claim is one statement of a sustainability report.
type Claim struct {
	ID       string
	Facility string
	Quarter  string // "2026-Q3"
	Kind     Kind
	Value    float64
	Text     string
}
