package atr

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"
)

// Bounds of a registry and of the metadata it accepts.
const (
	// MaxTools is the most distinct tool names one [Registry] holds.
	MaxTools = 10_000
	// MaxVersionsPerTool is the most versions one name may have.
	MaxVersionsPerTool = 64
	// MaxNameLen is the longest tool name, in bytes. It is the limit of
	// OpenAI's and Anthropic's function names, so every registered name can
	// be exported.
	MaxNameLen = 64
	// MaxDescriptionLen is the longest description, and the longest
	// deprecation note, in bytes.
	MaxDescriptionLen = 8 << 10
	// MaxLabels is the most tags, and the most permissions, one tool may
	// carry.
	MaxLabels = 64
	// MaxLabelLen is the longest tag or permission, in bytes.
	MaxLabelLen = 256
	// MaxConstraintLen is the longest version constraint [Registry.Resolve]
	// and [ParseRef] accept, in bytes.
	MaxConstraintLen = 256
	// DefaultVersion is the version a tool registered with an empty
	// [Meta.Version] gets.
	DefaultVersion = "1.0.0"
)

// SideEffect classifies what a tool may do to the world. Policy reads it
// (a rule can deny every "payment" tool), and the exports map it to MCP's
// behaviour hints. It is required: a tool without one is refused, because
// an unclassified tool would otherwise pass for harmless.
type SideEffect string

// The side-effect classes, from least to most consequential in spirit;
// the order has no meaning to the registry.
const (
	// None: a pure computation (a calculator, a formatter).
	None SideEffect = "none"
	// Read: reads data it is allowed to see, changes nothing.
	Read SideEffect = "read"
	// Write: creates or updates data.
	Write SideEffect = "write"
	// Delete: destroys data.
	Delete SideEffect = "delete"
	// Network: talks to other machines; effects beyond our control.
	Network SideEffect = "network"
	// Filesystem: reads and writes the host's files.
	Filesystem SideEffect = "filesystem"
	// Payment: moves money.
	Payment SideEffect = "payment"
	// Unclassified: the registrant says it cannot tell (a function or
	// program registered without a description of its effects). It is a
	// deliberate statement, never a default: an empty SideEffect is still
	// refused. Policy should treat it like the most consequential classes,
	// and the exports give it the hints of Network.
	Unclassified SideEffect = "unclassified"
)

// Valid reports whether s is one of the named classes.
func (s SideEffect) Valid() bool {
	switch s {
	case None, Read, Write, Delete, Network, Filesystem, Payment, Unclassified:
		return true
	}
	return false
}

// ReadOnly reports whether s changes nothing (None or Read).
func (s SideEffect) ReadOnly() bool { return s == None || s == Read }

// Meta is what a tool declares about itself besides its schema.
type Meta struct {
	// Version is a semantic version without a "v" prefix ("1.2.3",
	// "2.0.0-beta.1"). Empty means [DefaultVersion]. The registry stores the
	// canonical form.
	Version string
	// Description tells a model what the tool does. At most
	// [MaxDescriptionLen] bytes of valid UTF-8.
	Description string
	// SideEffect is required and must be [SideEffect.Valid].
	SideEffect SideEffect
	// Cost is what one call costs, in units the deployment chooses
	// (dollars, tokens). Finite and >= 0.
	Cost float64
	// Tags are free labels for search and policy. At most [MaxLabels],
	// each non-empty, at most [MaxLabelLen] bytes, no duplicates.
	Tags []string
	// Permissions are the permissions a caller must hold; the registry
	// stores them for policy to check and enforces nothing itself. Same
	// bounds as Tags.
	Permissions []string
	// Deprecated, when non-empty, marks the version deprecated and says why
	// or what to use instead. [Registry.Resolve] prefers versions that are
	// not deprecated.
	Deprecated string
	// Timeout bounds one [Tool.Call]; zero means no bound of the tool's own
	// (the caller's context still applies). Not negative.
	Timeout time.Duration
}

// clone returns m with its slices copied, so the registry's copy cannot be
// changed through the caller's.
func (m Meta) clone() Meta {
	m.Tags = cloneStrings(m.Tags)
	m.Permissions = cloneStrings(m.Permissions)
	return m
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}

// check validates m and returns it in canonical form with its parsed
// version.
func (m Meta) check() (Meta, *semver.Version, error) {
	if m.Version == "" {
		m.Version = DefaultVersion
	}
	if len(m.Version) > MaxConstraintLen {
		return m, nil, fmt.Errorf("%w: version longer than %d bytes", ErrInvalidTool, MaxConstraintLen)
	}
	v, err := semver.StrictNewVersion(m.Version)
	if err != nil {
		return m, nil, fmt.Errorf("%w: version %q is not a semantic version (want MAJOR.MINOR.PATCH): %v", ErrInvalidTool, m.Version, err)
	}
	m.Version = v.String()
	if !m.SideEffect.Valid() {
		if m.SideEffect == "" {
			return m, nil, fmt.Errorf("%w: side effect is required (one of none, read, write, delete, network, filesystem, payment)", ErrInvalidTool)
		}
		return m, nil, fmt.Errorf("%w: unknown side effect %q", ErrInvalidTool, m.SideEffect)
	}
	if err := checkText("description", m.Description); err != nil {
		return m, nil, err
	}
	if err := checkText("deprecation note", m.Deprecated); err != nil {
		return m, nil, err
	}
	if math.IsNaN(m.Cost) || math.IsInf(m.Cost, 0) || m.Cost < 0 {
		return m, nil, fmt.Errorf("%w: cost %v is not a finite number >= 0", ErrInvalidTool, m.Cost)
	}
	if m.Timeout < 0 {
		return m, nil, fmt.Errorf("%w: negative timeout %s", ErrInvalidTool, m.Timeout)
	}
	if err := checkLabels("tag", m.Tags); err != nil {
		return m, nil, err
	}
	if err := checkLabels("permission", m.Permissions); err != nil {
		return m, nil, err
	}
	return m.clone(), v, nil
}

func checkText(what, s string) error {
	switch {
	case len(s) > MaxDescriptionLen:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidTool, what, MaxDescriptionLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidTool, what)
	}
	return nil
}

func checkLabels(what string, labels []string) error {
	if len(labels) > MaxLabels {
		return fmt.Errorf("%w: more than %d %ss", ErrInvalidTool, MaxLabels, what)
	}
	seen := make(map[string]bool, len(labels))
	for _, l := range labels {
		switch {
		case l == "":
			return fmt.Errorf("%w: empty %s", ErrInvalidTool, what)
		case len(l) > MaxLabelLen:
			return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidTool, what, MaxLabelLen)
		case !utf8.ValidString(l) || strings.ContainsFunc(l, isControl):
			return fmt.Errorf("%w: %s %q is not printable UTF-8", ErrInvalidTool, what, l)
		case seen[l]:
			return fmt.Errorf("%w: duplicate %s %q", ErrInvalidTool, what, l)
		}
		seen[l] = true
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// CheckName reports whether name may name a tool: 1 to [MaxNameLen] bytes of
// ASCII letters, digits, '_', '-' and '.'. That is the kernel's rule
// (non-empty, valid UTF-8, no control characters) narrowed to what every
// export format accepts once '.' is mapped to '_' (see [ExportName]). The
// error wraps [ErrInvalidTool].
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidTool)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: name longer than %d bytes", ErrInvalidTool, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return fmt.Errorf("%w: name %q: byte %d (%q) is not a letter, digit, '_', '-' or '.'", ErrInvalidTool, name, i, name[i])
		}
	}
	return nil
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// ExportName is the name a tool has in the OpenAI and Anthropic exports,
// whose function names may not contain '.': every '.' becomes '_'
// ("sql.query" -> "sql_query"). The registry refuses a name whose export
// name is another registered name's, so the mapping is one to one within
// a registry and [Registry.ByExportName] inverts it. MCP keeps the name as
// it is.
func ExportName(name string) string { return strings.ReplaceAll(name, ".", "_") }
