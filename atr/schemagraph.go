package atr

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
)

// Bounds on the schemas a registry accepts. jsonschema-go validates by
// plain recursion with no budget, so a schema whose $ref loops back to the
// same value overflows the stack (a fatal error, not a panic), and one
// that applies many subschemas to the same value, level after level, takes
// exponential time. An MCP server chooses its schemas, so both are refused
// when the tool is added.
const (
	// MaxSchemaNodes is the most subschemas one schema may hold.
	MaxSchemaNodes = 10_000
	// MaxSchemaFanout is the most schema evaluations one argument value
	// may cost: the subschemas that apply to it through allOf, anyOf,
	// oneOf, not, if/then/else, dependentSchemas and $ref, counted with
	// multiplicity, at any depth of the arguments.
	MaxSchemaFanout = 1024
	// maxSchemaStates and maxSchemaWork bound the work of the fan-out
	// check itself; a schema that needs more is refused as too complex.
	maxSchemaStates = 20_000
	maxSchemaWork   = 2_000_000
)

// errSchemaShape is the cause of every refusal checkSchemaGraph makes.
var errSchemaShape = errors.New("schema cannot be validated in bounded time and space")

// schemaGraph indexes a schema for the checks.
type schemaGraph struct {
	root    *jsonschema.Schema
	ids     map[*jsonschema.Schema]int
	anchors map[string]*jsonschema.Schema
	refs    map[*jsonschema.Schema]*jsonschema.Schema
}

// checkSchemaGraph refuses a schema the validator could not finish with:
// references other than local ones ("#", "#/json/pointer", "#anchor"),
// $dynamicRef, $id below the root (it would change what "#" means),
// more than [MaxSchemaNodes] subschemas, a cycle of subschemas that apply
// to the same value, or a fan-out above [MaxSchemaFanout].
func checkSchemaGraph(root *jsonschema.Schema) error {
	g := &schemaGraph{root: root, ids: map[*jsonschema.Schema]int{}, anchors: map[string]*jsonschema.Schema{},
		refs: map[*jsonschema.Schema]*jsonschema.Schema{}}
	if err := g.index(root, true); err != nil {
		return err
	}
	for s := range g.ids {
		if s.Ref == "" {
			continue
		}
		target := g.resolve(s.Ref)
		if target == nil {
			return fmt.Errorf("%w: $ref %q is not a local reference to a subschema", errSchemaShape, s.Ref)
		}
		g.refs[s] = target
	}
	if err := g.acyclic(); err != nil {
		return err
	}
	return g.fanout()
}

func (g *schemaGraph) index(s *jsonschema.Schema, isRoot bool) error {
	if s == nil {
		return nil
	}
	if _, ok := g.ids[s]; ok {
		return nil // shared subschema (a Go-built schema may reuse one)
	}
	if len(g.ids) >= MaxSchemaNodes {
		return fmt.Errorf("%w: more than %d subschemas", errSchemaShape, MaxSchemaNodes)
	}
	g.ids[s] = len(g.ids)
	if s.DynamicRef != "" || s.DynamicAnchor != "" {
		return fmt.Errorf("%w: $dynamicRef and $dynamicAnchor are not supported", errSchemaShape)
	}
	if s.ID != "" && !isRoot {
		return fmt.Errorf("%w: $id %q below the root is not supported", errSchemaShape, s.ID)
	}
	if s.Anchor != "" {
		g.anchors[s.Anchor] = s
	}
	for _, c := range children(s) {
		if err := g.index(c, false); err != nil {
			return err
		}
	}
	return nil
}

// children lists every subschema of s, in a fixed order.
func children(s *jsonschema.Schema) []*jsonschema.Schema {
	var out []*jsonschema.Schema
	add := func(c ...*jsonschema.Schema) {
		for _, x := range c {
			if x != nil {
				out = append(out, x)
			}
		}
	}
	addMap := func(m map[string]*jsonschema.Schema) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			add(m[k])
		}
	}
	addMap(s.Defs)
	addMap(s.Definitions)
	addMap(s.Properties)
	addMap(s.PatternProperties)
	addMap(s.DependentSchemas)
	addMap(s.DependencySchemas)
	add(s.PrefixItems...)
	add(s.ItemsArray...)
	add(s.AllOf...)
	add(s.AnyOf...)
	add(s.OneOf...)
	add(s.Items, s.AdditionalItems, s.Contains, s.UnevaluatedItems, s.AdditionalProperties, s.PropertyNames,
		s.UnevaluatedProperties, s.Not, s.If, s.Then, s.Else, s.ContentSchema)
	return out
}

// sameValue lists the subschemas s applies to the value s itself applies
// to, with multiplicity; $ref is resolved.
func (g *schemaGraph) sameValue(s *jsonschema.Schema) []*jsonschema.Schema {
	var out []*jsonschema.Schema
	if t := g.refs[s]; t != nil {
		out = append(out, t)
	}
	out = append(out, s.AllOf...)
	out = append(out, s.AnyOf...)
	out = append(out, s.OneOf...)
	for _, c := range []*jsonschema.Schema{s.Not, s.If, s.Then, s.Else} {
		if c != nil {
			out = append(out, c)
		}
	}
	for _, m := range []map[string]*jsonschema.Schema{s.DependentSchemas, s.DependencySchemas} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			out = append(out, m[k])
		}
	}
	return out
}

// resolve follows a local reference; nil if it is not one or leads
// nowhere.
func (g *schemaGraph) resolve(ref string) *jsonschema.Schema {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil
	}
	if frag == "" {
		return g.root
	}
	if !strings.HasPrefix(frag, "/") {
		return g.anchors[frag]
	}
	s := g.root
	toks := strings.Split(frag[1:], "/")
	unescape := strings.NewReplacer("~1", "/", "~0", "~")
	for i := 0; i < len(toks); i++ {
		if s == nil {
			return nil
		}
		key := func() (string, bool) {
			if i+1 >= len(toks) {
				return "", false
			}
			i++
			return unescape.Replace(toks[i]), true
		}
		index := func(list []*jsonschema.Schema) *jsonschema.Schema {
			k, ok := key()
			if !ok {
				return nil
			}
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(list) {
				return nil
			}
			return list[n]
		}
		field := func(m map[string]*jsonschema.Schema) *jsonschema.Schema {
			k, ok := key()
			if !ok {
				return nil
			}
			return m[k]
		}
		switch unescape.Replace(toks[i]) {
		case "$defs":
			s = field(s.Defs)
		case "definitions":
			s = field(s.Definitions)
		case "properties":
			s = field(s.Properties)
		case "patternProperties":
			s = field(s.PatternProperties)
		case "dependentSchemas":
			s = field(s.DependentSchemas)
		case "prefixItems":
			s = index(s.PrefixItems)
		case "allOf":
			s = index(s.AllOf)
		case "anyOf":
			s = index(s.AnyOf)
		case "oneOf":
			s = index(s.OneOf)
		case "items":
			if s.ItemsArray != nil {
				s = index(s.ItemsArray)
			} else {
				s = s.Items
			}
		case "additionalItems":
			s = s.AdditionalItems
		case "contains":
			s = s.Contains
		case "additionalProperties":
			s = s.AdditionalProperties
		case "propertyNames":
			s = s.PropertyNames
		case "unevaluatedItems":
			s = s.UnevaluatedItems
		case "unevaluatedProperties":
			s = s.UnevaluatedProperties
		case "not":
			s = s.Not
		case "if":
			s = s.If
		case "then":
			s = s.Then
		case "else":
			s = s.Else
		default:
			return nil
		}
	}
	return s
}

// acyclic refuses a cycle among the same-value edges: validating would
// recurse without consuming any of the arguments.
func (g *schemaGraph) acyclic() error {
	const (
		white = iota
		grey
		black
	)
	color := make(map[*jsonschema.Schema]int, len(g.ids))
	var visit func(s *jsonschema.Schema) error
	visit = func(s *jsonschema.Schema) error {
		switch color[s] {
		case grey:
			return fmt.Errorf("%w: a $ref cycle applies a schema to the same value forever", errSchemaShape)
		case black:
			return nil
		}
		color[s] = grey
		for _, c := range g.sameValue(s) {
			if err := visit(c); err != nil {
				return err
			}
		}
		color[s] = black
		return nil
	}
	for s := range g.ids {
		if err := visit(s); err != nil {
			return err
		}
	}
	return nil
}

// state is a multiset of schemas applied to one value: schema id to the
// number of paths that apply it.
type state map[int]int

// fanout simulates, for the worst-case arguments, which schemas apply to a
// value at each depth, and refuses when one value would cost more than
// [MaxSchemaFanout] evaluations. Values are told apart by what decides
// which subschemas reach them: the property name (each named property, and
// one class for any other name) or the array index (each prefixItems
// position, and one class for the rest). A state seen before is not
// explored again: it costs what it cost then.
func (g *schemaGraph) fanout() error {
	byID := make([]*jsonschema.Schema, len(g.ids))
	for s, id := range g.ids {
		byID[id] = s
	}
	memo := map[*jsonschema.Schema]state{}
	var closure func(s *jsonschema.Schema) (state, error)
	closure = func(s *jsonschema.Schema) (state, error) {
		if st, ok := memo[s]; ok {
			return st, nil
		}
		st := state{g.ids[s]: 1}
		for _, c := range g.sameValue(s) {
			cs, err := closure(c)
			if err != nil {
				return nil, err
			}
			if err := st.add(cs, 1); err != nil {
				return nil, err
			}
		}
		memo[s] = st
		return st, nil
	}
	// hasChildren reports whether s applies subschemas to the values
	// inside the one it checks; a schema without (a bare $ref, a string
	// schema) adds to the cost of its own value only, so it is dropped
	// from the state before the state is explored, which lets states that
	// differ only in such schemas share one exploration.
	hasChildren := func(s *jsonschema.Schema) bool {
		return s.Properties != nil || s.PatternProperties != nil || s.AdditionalProperties != nil ||
			s.UnevaluatedProperties != nil || s.PropertyNames != nil || s.Items != nil || s.ItemsArray != nil ||
			s.PrefixItems != nil || s.AdditionalItems != nil || s.Contains != nil || s.UnevaluatedItems != nil
	}
	work := 0
	seen := map[string]bool{}
	var explore func(st state, depth int) error
	explore = func(st state, depth int) error {
		for id := range st {
			if !hasChildren(byID[id]) {
				delete(st, id)
			}
		}
		if depth > MaxArgDepth || len(st) == 0 {
			return nil
		}
		sig := st.signature()
		if seen[sig] {
			return nil
		}
		if len(seen) >= maxSchemaStates {
			return fmt.Errorf("%w: too many distinct combinations of subschemas", errSchemaShape)
		}
		seen[sig] = true
		classes := map[string]state{}
		into := func(class string, cs state, n int) error {
			work += len(cs)
			if work > maxSchemaWork {
				return fmt.Errorf("%w: too many subschemas to check for fan-out", errSchemaShape)
			}
			if classes[class] == nil {
				classes[class] = state{}
			}
			return classes[class].add(cs, n)
		}
		push := func(class string, s *jsonschema.Schema, n int) error {
			if s == nil {
				return nil
			}
			cs, err := closure(s)
			if err != nil {
				return err
			}
			return into(class, cs, n)
		}
		maxPrefix := 0
		for id := range st {
			s := byID[id]
			maxPrefix = max(maxPrefix, len(s.PrefixItems), len(s.ItemsArray))
		}
		// "?" is a property no schema here names; worst case, every
		// pattern matches it and additional and unevaluated schemas apply.
		// A named property gets its own subschemas and, as the worst case
		// again, everything "?" gets.
		for _, id := range slices.Sorted(maps.Keys(st)) {
			s, n := byID[id], st[id]
			if err := push("?", s.AdditionalProperties, n); err != nil {
				return err
			}
			if err := push("?", s.UnevaluatedProperties, n); err != nil {
				return err
			}
			for _, k := range slices.Sorted(maps.Keys(s.PatternProperties)) {
				if err := push("?", s.PatternProperties[k], n); err != nil {
					return err
				}
			}
			for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
				if err := push("p:"+k, s.Properties[k], n); err != nil {
					return err
				}
			}
			if err := push("names", s.PropertyNames, n); err != nil {
				return err
			}
			rest := []*jsonschema.Schema{s.Items, s.AdditionalItems, s.Contains, s.UnevaluatedItems}
			if s.ItemsArray != nil {
				rest[0] = nil // draft-07 tuple: items is positional
			}
			for i := range maxPrefix {
				class := "i:" + strconv.Itoa(i)
				var pos *jsonschema.Schema
				switch {
				case i < len(s.PrefixItems):
					pos = s.PrefixItems[i]
				case i < len(s.ItemsArray):
					pos = s.ItemsArray[i]
				}
				if err := push(class, pos, n); err != nil {
					return err
				}
				for _, c := range rest {
					if err := push(class, c, n); err != nil {
						return err
					}
				}
			}
			for _, c := range rest {
				if err := push("i:*", c, n); err != nil {
					return err
				}
			}
		}
		if other := classes["?"]; other != nil {
			for class := range classes {
				if strings.HasPrefix(class, "p:") {
					if err := into(class, other, 1); err != nil {
						return err
					}
				}
			}
		}
		for _, class := range slices.Sorted(maps.Keys(classes)) {
			if err := explore(classes[class], depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	rootState, err := closure(g.root)
	if err != nil {
		return err
	}
	return explore(rootState, 1)
}

// add adds n copies of other to st, refusing a total above
// MaxSchemaFanout.
func (st state) add(other state, n int) error {
	total := 0
	for id, c := range other {
		st[id] += c * n
		if st[id] > MaxSchemaFanout {
			return fmt.Errorf("%w: one value would be checked against more than %d subschemas", errSchemaShape, MaxSchemaFanout)
		}
	}
	for _, c := range st {
		total += c
	}
	if total > MaxSchemaFanout {
		return fmt.Errorf("%w: one value would be checked against more than %d subschemas", errSchemaShape, MaxSchemaFanout)
	}
	return nil
}

func (st state) signature() string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(st)) {
		b.WriteString(strconv.Itoa(id))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(st[id]))
		b.WriteByte(',')
	}
	return b.String()
}

// checkSchemaTree refuses a Go-built schema that is not a finite tree of
// at most MaxSchemaNodes subschemas once shared subschemas are counted
// each time they appear: CloneSchemas and Resolve copy and walk it as a
// tree, so a pointer cycle would recurse forever and a deeply shared one
// would be copied exponentially often. A schema decoded from JSON is
// always a tree; this guards schemas built in Go.
func checkSchemaTree(root *jsonschema.Schema) error {
	size := map[*jsonschema.Schema]int{}
	onStack := map[*jsonschema.Schema]bool{}
	var walk func(s *jsonschema.Schema) (int, error)
	walk = func(s *jsonschema.Schema) (int, error) {
		if n, ok := size[s]; ok {
			return n, nil
		}
		if onStack[s] {
			return 0, fmt.Errorf("%w: the schema contains itself (a pointer cycle)", errSchemaShape)
		}
		onStack[s] = true
		defer delete(onStack, s)
		n := 1
		for _, c := range children(s) {
			cn, err := walk(c)
			if err != nil {
				return 0, err
			}
			n += cn
			if n > MaxSchemaNodes {
				return 0, fmt.Errorf("%w: more than %d subschemas", errSchemaShape, MaxSchemaNodes)
			}
		}
		size[s] = n
		return n, nil
	}
	_, err := walk(root)
	return err
}
