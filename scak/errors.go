package scak

import "errors"

// Sentinel errors of the self-correction side of the package (audit,
// triage, patches, policy proposals). Test for them with errors.Is; they
// are wrapped with detail. Bad arguments wrap agentos.ErrInvalid, unknown
// patch ids agentos.ErrNotFound and full stores agentos.ErrQuota.
var (
	// ErrConflict is returned when a patch would be active beside another
	// patch of the same type and key, for overlapping scopes, that says
	// something else: nothing is applied until one of them goes.
	ErrConflict = errors.New("scak: conflicting patches")
	// ErrDiagnosis is returned when the teacher's reply is not a valid
	// diagnosis. An unreadable reply is never taken as "nothing wrong".
	ErrDiagnosis = errors.New("scak: teacher reply is not a valid diagnosis")
	// ErrState is returned when a patch is not in a state that allows the
	// transition asked for (activating a rolled-back patch, say).
	ErrState = errors.New("scak: patch state does not allow this")
	// ErrNotApproved is returned when a policy proposal was not approved:
	// the approver said no, failed, or did not answer in time. Nothing was
	// applied.
	ErrNotApproved = errors.New("scak: policy proposal not approved")
)
