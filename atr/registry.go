package atr

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/google/jsonschema-go/jsonschema"
)

// Registry holds tools by name and version. The zero value is not usable;
// call [New]. A Registry is safe for concurrent use: lookups share a read
// lock, additions take the write lock, and the *Tool values it returns are
// immutable.
type Registry struct {
	mu sync.RWMutex
	// tools maps a name to its versions, ascending by semver precedence.
	tools map[string][]*Tool
	// exports maps ExportName(name) to name, to keep export names unique.
	exports map[string]string

	// cmu guards constraints, parsed constraints by text. Parsing costs
	// more than the lookup; callers repeat few distinct constraints. It is
	// emptied when it reaches maxCachedConstraints. semver.Constraints is
	// read-only once parsed, so the values are shared.
	cmu         sync.Mutex
	constraints map[string]*semver.Constraints
}

// maxCachedConstraints bounds Registry.constraints.
const maxCachedConstraints = 256

// New returns an empty registry bounded by [MaxTools] names and
// [MaxVersionsPerTool] versions per name.
func New() *Registry {
	return &Registry{tools: make(map[string][]*Tool), exports: make(map[string]string),
		constraints: make(map[string]*semver.Constraints)}
}

// Add registers an untyped tool: t.Func runs it, and t.InputSchema (nil
// means the open schema {"type":"object"}) describes its arguments. The
// registry keeps its own copy; later changes to t, its schemas or its
// slices do not reach it.
//
// Errors: [ErrInvalidTool] for a bad name (see [CheckName]), bad metadata
// (an empty or unknown [SideEffect], a version that is not strict semver,
// a negative cost or timeout, bad tags), a nil Func, or an input schema
// that does not resolve, whose type is not "object", or that validation
// could not finish in bounded time and space (non-local $ref, $ref cycles
// on one value, fan-out above [MaxSchemaFanout], more than
// [MaxSchemaNodes] subschemas, a Go pointer cycle); [ErrDuplicate] when
// the name and version are taken or the name's [ExportName] belongs to
// another name; [ErrFull] past [MaxTools] or [MaxVersionsPerTool].
func (r *Registry) Add(t Tool) error {
	p, err := t.prepare()
	if err != nil {
		return err
	}
	return r.insert(p)
}

// Prepare checks t as [Registry.Add] does and returns the immutable copy a
// registry would hold (schema cloned, resolved and checked, metadata in
// canonical form), without registering it anywhere: for a caller that
// validates or exports one definition on its own. Errors are those of
// [Registry.Add] except [ErrDuplicate] and [ErrFull].
func Prepare(t Tool) (*Tool, error) { return t.prepare() }

// Register registers the Go function fn as a typed tool. Its input schema
// is jsonschema.For[In], which makes every field without omitempty or
// omitzero required and forbids properties the struct does not have; its
// output schema is jsonschema.For[Out]. In must be a struct type (not a
// pointer or a map), so the arguments are always a JSON object with known
// properties. [Tool.Call] decodes validated arguments into an In as
// encoding/json would with unknown fields refused (directly for the common
// field types, through a JSON round trip for the rest), and returns fn's
// Out as any.
//
// Errors: those of [Registry.Add], and [ErrInvalidTool] when In is not a
// struct, fn is nil, or jsonschema.For cannot describe In or Out (channels,
// functions, maps with non-string keys, recursive types).
func Register[In, Out any](r *Registry, name string, fn func(context.Context, In) (Out, error), m Meta) error {
	if fn == nil {
		return fmt.Errorf("%w: tool %q: nil function", ErrInvalidTool, name)
	}
	if k := reflect.TypeFor[In]().Kind(); k != reflect.Struct {
		return fmt.Errorf("%w: tool %q: argument type %s is a %s, want a struct", ErrInvalidTool, name, reflect.TypeFor[In](), k)
	}
	in, err := jsonschema.For[In](nil)
	if err != nil {
		return fmt.Errorf("%w: tool %q: argument schema: %v", ErrInvalidTool, name, err)
	}
	out, err := jsonschema.For[Out](nil)
	if err != nil {
		return fmt.Errorf("%w: tool %q: result schema: %v", ErrInvalidTool, name, err)
	}
	fast := newDecoder(reflect.TypeFor[In]())
	t := Tool{
		Name:         name,
		Meta:         m,
		InputSchema:  in,
		OutputSchema: out,
		handler: func(ctx context.Context, args map[string]any) (any, error) {
			var v In
			if fast != nil && fast(reflect.ValueOf(&v).Elem(), args) {
				return fn(ctx, v)
			}
			var strict In // the fast path may have filled v in part
			if err := decodeStrict(name, args, &strict); err != nil {
				return nil, err
			}
			return fn(ctx, strict)
		},
	}
	p, err := t.prepare()
	if err != nil {
		return err
	}
	return r.insert(p)
}

func (r *Registry) insert(t *Tool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	versions, exists := r.tools[t.Name]
	exp := ExportName(t.Name)
	if owner, ok := r.exports[exp]; ok && owner != t.Name {
		return fmt.Errorf("%w: tool %q exports as %q, which tool %q already does", ErrDuplicate, t.Name, exp, owner)
	}
	if !exists && len(r.tools) >= MaxTools {
		return fmt.Errorf("%w: %d tools", ErrFull, MaxTools)
	}
	if len(versions) >= MaxVersionsPerTool {
		return fmt.Errorf("%w: tool %q has %d versions", ErrFull, t.Name, MaxVersionsPerTool)
	}
	i, found := slices.BinarySearchFunc(versions, t.version, func(e *Tool, v *semver.Version) int {
		return e.version.Compare(v)
	})
	if found {
		return fmt.Errorf("%w: tool %q version %s (have %s)", ErrDuplicate, t.Name, t.Meta.Version, versions[i].Meta.Version)
	}
	// A new slice, so a caller iterating an old one (Versions copies, but
	// pickLocked's result is read after unlock) never sees it change.
	r.tools[t.Name] = slices.Insert(slices.Clip(versions), i, t)
	r.exports[exp] = t.Name
	return nil
}

// Resolve returns the version of name that constraint selects.
//
// constraint is a Masterminds semver constraint: "1.2.3" (exactly), "^1.2"
// (>=1.2.0, <2.0.0), "~1.2.3" (>=1.2.3, <1.3.0), ">=1, <2" (comma is and),
// "1.x", "^1 || ^2". As in that library, a prerelease version satisfies a
// constraint only when the constraint itself names a prerelease
// ("^2.0.0-0"). Among the versions that satisfy it, Resolve returns the
// newest one that is not deprecated, or the newest deprecated one when all
// are.
//
// The empty constraint means "the current version": the newest stable
// version that is not deprecated; failing that the newest stable deprecated
// one; failing that (a tool published only as prereleases) the newest
// prerelease, not deprecated first.
//
// Errors: [ErrNotFound] when no tool has the name; [ErrNoVersion] when none
// of its versions satisfies the constraint; [ErrConstraint] when the
// constraint does not parse or is longer than [MaxConstraintLen].
func (r *Registry) Resolve(name, constraint string) (*Tool, error) {
	var c *semver.Constraints
	if constraint != "" {
		var err error
		if c, err = r.constraint(constraint); err != nil {
			return nil, err
		}
	}
	r.mu.RLock()
	versions := r.tools[name]
	r.mu.RUnlock()
	if len(versions) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if t := pick(versions, c); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("%w: tool %q has no version matching %q", ErrNoVersion, name, constraint)
}

// constraint returns constraint parsed, from the cache when it can.
func (r *Registry) constraint(constraint string) (*semver.Constraints, error) {
	r.cmu.Lock()
	c, ok := r.constraints[constraint]
	r.cmu.Unlock()
	if ok {
		return c, nil
	}
	c, err := parseConstraint(constraint)
	if err != nil {
		return nil, err
	}
	r.cmu.Lock()
	if len(r.constraints) >= maxCachedConstraints {
		clear(r.constraints)
	}
	r.constraints[constraint] = c
	r.cmu.Unlock()
	return c, nil
}

func parseConstraint(constraint string) (*semver.Constraints, error) {
	if len(constraint) > MaxConstraintLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrConstraint, MaxConstraintLen)
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrConstraint, constraint, err)
	}
	return c, nil
}

// pick applies Resolve's preference order to versions (ascending). It reads
// a slice the registry never modifies in place.
func pick(versions []*Tool, c *semver.Constraints) *Tool {
	if c != nil {
		var deprecated *Tool
		for _, t := range slices.Backward(versions) {
			if !c.Check(t.version) {
				continue
			}
			if t.Meta.Deprecated == "" {
				return t
			}
			if deprecated == nil {
				deprecated = t
			}
		}
		return deprecated
	}
	var best *Tool
	rank := func(t *Tool) int {
		// Higher is better: stable before prerelease, then not deprecated.
		n := 0
		if t.version.Prerelease() == "" {
			n += 2
		}
		if t.Meta.Deprecated == "" {
			n++
		}
		return n
	}
	for _, t := range slices.Backward(versions) {
		if best == nil || rank(t) > rank(best) {
			best = t
		}
	}
	return best
}

// Tools returns every registered version, sorted by name and then by
// version, oldest first.
func (r *Registry) Tools() []*Tool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.tools))
	n := 0
	for name, vs := range r.tools {
		names = append(names, name)
		n += len(vs)
	}
	slices.Sort(names)
	out := make([]*Tool, 0, n)
	for _, name := range names {
		out = append(out, r.tools[name]...)
	}
	return out
}

// Versions returns the versions of name, oldest first; nil if there are
// none.
func (r *Registry) Versions(name string) []*Tool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.tools[name])
}

// current returns, sorted by name, the version Resolve(name, "") picks for
// every name: what the exports describe.
func (r *Registry) current() []*Tool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Tool, 0, len(r.tools))
	for _, vs := range r.tools {
		out = append(out, pick(vs, nil))
	}
	slices.SortFunc(out, func(a, b *Tool) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// ByExportName returns the current version (as Resolve(name, "")) of the
// tool whose [ExportName] is exportName: the way back from a function name
// a model chose in an OpenAI or Anthropic export. A registered name is
// also accepted as it is. Errors: [ErrNotFound].
func (r *Registry) ByExportName(exportName string) (*Tool, error) {
	r.mu.RLock()
	name, ok := r.exports[exportName]
	if !ok {
		if _, ok = r.tools[exportName]; ok {
			name = exportName
		}
	}
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: no tool exports as %q", ErrNotFound, exportName)
	}
	return r.Resolve(name, "")
}

// ParseRef splits a tool reference "name@constraint" ("sql.query@^1.2")
// into its name and constraint; a bare name has constraint "". Names cannot
// contain '@' (see [CheckName]), so the first '@' separates the two.
// Errors wrap [ErrInvalidTool] for a bad name and [ErrConstraint] for an
// empty or unparsable constraint after '@'.
func ParseRef(ref string) (name, constraint string, err error) {
	name, constraint, hasAt := strings.Cut(ref, "@")
	if err := CheckName(name); err != nil {
		return "", "", fmt.Errorf("tool reference %q: %w", ref, err)
	}
	if !hasAt {
		return name, "", nil
	}
	if constraint == "" {
		return "", "", fmt.Errorf("%w: tool reference %q: empty constraint after '@'", ErrConstraint, ref)
	}
	if _, err := parseConstraint(constraint); err != nil {
		return "", "", fmt.Errorf("tool reference %q: %w", ref, err)
	}
	return name, constraint, nil
}
