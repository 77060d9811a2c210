// Package research holds the values the pipeline example's agents hand each
// other. Their package name is what policy sees: a Result crossing a pipe is
// action.payloadType "research.Result".
package research

// Result is a researcher's finished work, which the summarizer may receive.
type Result struct {
	Topic    string
	Findings []string
	Sources  int
}

// Notes are a researcher's raw, unreviewed notes, which policy keeps from
// crossing to another agent.
type Notes struct {
	Topic string
	Raw   string
}
