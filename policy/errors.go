package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/agent-os/agentos"
)

// Sentinel errors of the policy package. Every load-time error is an
// [*Error] that also wraps [agentos.ErrInvalid]; test with errors.Is.
var (
	// ErrBudget marks a rule whose estimated evaluation cost is over the
	// engine's budget (see [WithCostBudget]).
	ErrBudget = errors.New("policy: estimated cost over budget")
	// ErrRateLimited marks the evaluation error recorded when the rate
	// limiter cannot track another bucket (see [WithMaxRateBuckets]).
	ErrRateLimited = errors.New("policy: rate limit exceeded")
	// ErrUndecided is wrapped by every error Decide returns: the engine
	// could not decide, and the returned Decision denies.
	ErrUndecided = errors.New("policy: could not decide")
)

// Error is a load-time error: a document that does not parse, a field that
// is not known, an expression that does not compile or costs too much. It
// names the file, the policy, the rule (or variable) and the position in
// the file. Error wraps [agentos.ErrInvalid], and Err when it is set.
type Error struct {
	File   string // file name given to Parse, or the path read
	Policy string // metadata.name, when known
	Rule   string // rule or variable the error is about, when there is one
	Line   int    // 1-based line in File, 0 when unknown
	Column int    // 1-based column in File, 0 when unknown
	Msg    string // what is wrong
	Err    error  // a more specific cause (ErrBudget, a CEL error), may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("<policy>")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Policy != "" {
		fmt.Fprintf(&b, "policy %q: ", e.Policy)
	}
	if e.Rule != "" {
		fmt.Fprintf(&b, "%s: ", e.Rule)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns agentos.ErrInvalid and, when set, Err.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{agentos.ErrInvalid, e.Err}
	}
	return []error{agentos.ErrInvalid}
}

// maxReportedErrors bounds how many load errors one call reports.
const maxReportedErrors = 20

// errorList collects load errors up to a bound.
type errorList struct {
	errs    []error
	dropped int
}

func (l *errorList) add(err error) {
	if err == nil {
		return
	}
	if len(l.errs) >= maxReportedErrors {
		l.dropped++
		return
	}
	l.errs = append(l.errs, err)
}

func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	if l.dropped > 0 {
		l.errs = append(l.errs, fmt.Errorf("%w: and %d more errors", agentos.ErrInvalid, l.dropped))
	}
	if len(l.errs) == 1 {
		return l.errs[0]
	}
	return errors.Join(l.errs...)
}
