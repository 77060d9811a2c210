//go:build !linux

package bpf

// Enforcer attaches eBPF egress programs to cgroups. It needs Linux: New
// fails elsewhere.
type Enforcer struct{}

// Attachment is the egress programs attached to one cgroup.
type Attachment struct{}

// New returns an error wrapping errors.ErrUnsupported: eBPF enforcement
// needs Linux.
func New(opts *Options) (*Enforcer, error) {
	if _, err := opts.withDefaults(); err != nil {
		return nil, err
	}
	return nil, errNotLinux("eBPF enforcement")
}

// Events returns nil: no Enforcer exists here.
func (e *Enforcer) Events() <-chan Event { return nil }

// Dropped returns 0.
func (e *Enforcer) Dropped() uint64 { return 0 }

// Attach returns an error wrapping errors.ErrUnsupported.
func (e *Enforcer) Attach(cg *Cgroup, rules []Rule) (*Attachment, error) {
	return nil, errNotLinux("eBPF enforcement")
}

// Close does nothing.
func (e *Enforcer) Close() error { return nil }

// Update returns an error wrapping errors.ErrUnsupported.
func (a *Attachment) Update(rules []Rule) error { return errNotLinux("eBPF enforcement") }

// Rules returns nil.
func (a *Attachment) Rules() []Rule { return nil }

// Cgroup returns nil.
func (a *Attachment) Cgroup() *Cgroup { return nil }

// Close does nothing.
func (a *Attachment) Close() error { return nil }
