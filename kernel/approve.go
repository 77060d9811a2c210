package kernel

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/policy"
)

// ErrNoApprover is returned by [Kernel.Approve] for a kernel without
// [WithApprover]: nothing can be approved, as for its agents every approve
// decision is a deny.
var ErrNoApprover = errors.New("kernel: no approver is configured")

// Approve asks the kernel's approver ([WithApprover]) about act under
// decision d, as the syscall path asks it about an approve decision: within
// the approver's timeout, a panic turned into an error. It reports true
// only when the approver said yes in time; an error, a timeout or no
// approver at all ([ErrNoApprover]) is false with the reason. Host-side
// components that change what governs agents — a proposed policy change
// (scak.Proposer) — take the same approval path as agents' actions.
func (k *Kernel) Approve(ctx context.Context, act agentos.Action, d agentos.Decision) (bool, error) {
	if k.approver == nil {
		return false, ErrNoApprover
	}
	actx, cancel := context.WithTimeout(ctx, k.approveTO)
	defer cancel()
	ok, err := callApprover(actx, k.approver, act, d)
	switch {
	case actx.Err() != nil:
		return false, fmt.Errorf("kernel: approval not granted: %w", context.Cause(actx))
	case err != nil:
		return false, fmt.Errorf("kernel: approval not granted: %w", err)
	}
	return ok, nil
}

// PolicyDocuments returns the documents of the kernel's policy as they are
// now (after any [Kernel.ReloadPolicy]), the ones its agents' /policy/ view
// shows; nil when its Evaluator ([WithPolicy]) does not list its documents.
// The documents are shared and must not be modified.
func (k *Kernel) PolicyDocuments() []*policy.Document {
	return slices.Clone(documentsOf(k.eval))
}
