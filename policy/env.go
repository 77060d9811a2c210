package policy

import (
	"fmt"
	"reflect"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/agent-os/agentos"
)

// CEL type names of the declared variables.
const (
	actionTypeName  = "agentos.Action"
	subjectTypeName = "agentos.Subject"
)

var (
	actionType  = types.NewObjectType(actionTypeName)
	subjectType = types.NewObjectType(subjectTypeName)
	stringMap   = types.NewMapType(types.StringType, types.StringType)
	dynMap      = types.NewMapType(types.StringType, types.DynType)
)

// Subject is an agent as policy sees it: the acting agent (agent) or the
// other party of a message or signal (peer).
type Subject struct {
	ID     string
	Role   string
	Trust  float64 // 0..1 by convention; iatp fills it for peers
	Labels map[string]string
}

// Input is what one decision is about.
type Input struct {
	Action agentos.Action
	Agent  Subject
	// Peer is the other party, when there is one (OpSend, OpSignal). When
	// nil, the CEL variable peer is an empty subject (trust 0) whose
	// peer.present is false.
	Peer *Subject
	// Tool describes the tool of an OpExec as the tool registry knows it
	// (CEL variable tool). When nil, tool is a description with every
	// field at its zero value and tool.registered false.
	Tool *Tool
	// Now is the decision time (CEL variable now). Zero means the engine's
	// clock (see WithClock).
	Now time.Time
}

// Tool is a tool's registered description as policy sees it, in the CEL
// variable tool: a map whose keys are always all present, so a rule may
// read any of them on any action without a has() guard (on an action that
// is not a tool call they hold zero values).
//
//	tool.registered   bool: the tool is in the kernel's registry
//	tool.name         string
//	tool.version      string: the semantic version that will run
//	tool.sideEffect   string: none, read, write, delete, network, filesystem, payment
//	tool.cost         double: the registry's cost per call
//	tool.tags         list(string)
//	tool.permissions  list(string): what a caller must hold
//	tool.deprecated   bool
//
// A rule such as
//
//	tool.sideEffect in ["delete", "payment"] && agent.role == "intern"
//
// applies to every tool of those classes without naming one.
type Tool struct {
	Name        string
	Version     string
	SideEffect  string
	Cost        float64
	Tags        []string
	Permissions []string
	Deprecated  bool
}

// celValue is the CEL value of the tool variable.
func (t *Tool) celValue(adapter types.Adapter) ref.Val {
	var z Tool
	registered := t != nil
	if t == nil {
		t = &z
	}
	tags, perms := t.Tags, t.Permissions
	if tags == nil {
		tags = []string{}
	}
	if perms == nil {
		perms = []string{}
	}
	return types.NewStringInterfaceMap(adapter, map[string]any{
		"registered":  registered,
		"name":        t.Name,
		"version":     t.Version,
		"sideEffect":  t.SideEffect,
		"cost":        t.Cost,
		"tags":        tags,
		"permissions": perms,
		"deprecated":  t.Deprecated,
	})
}

// field describes one field of a declared object type.
type field struct {
	typ   *types.Type
	get   func(st *evalState, which int) ref.Val
	isSet func(st *evalState, which int) bool
}

// Object values handed to CEL are small handles into the per-decision
// evalState: which selects action (0), agent (1) or peer (2).
const (
	whichAction = iota
	whichAgent
	whichPeer
)

var actionFields = map[string]*field{
	"id":          strField(0, func(a *agentos.Action) string { return a.ID }),
	"agent":       strField(1, func(a *agentos.Action) string { return string(a.Agent) }),
	"op":          strField(2, func(a *agentos.Action) string { return string(a.Op) }),
	"path":        strField(3, func(a *agentos.Action) string { return a.Path }),
	"tool":        strField(4, func(a *agentos.Action) string { return a.Tool }),
	"target":      strField(5, func(a *agentos.Action) string { return string(a.Target) }),
	"payloadType": strField(6, func(a *agentos.Action) string { return a.PayloadType }),
	"args": {
		typ: dynMap,
		get: func(st *evalState, _ int) ref.Val {
			if st.args == nil {
				st.args = types.NewStringInterfaceMap(st.adapter, st.in.Action.Args)
			}
			return st.args
		},
		isSet: func(st *evalState, _ int) bool { return len(st.in.Action.Args) > 0 },
	},
	"meta": {
		typ: stringMap,
		get: func(st *evalState, _ int) ref.Val {
			return types.NewStringStringMap(st.adapter, st.in.Action.Meta)
		},
		isSet: func(st *evalState, _ int) bool { return len(st.in.Action.Meta) > 0 },
	},
	"at": {
		typ:   types.TimestampType,
		get:   func(st *evalState, _ int) ref.Val { return types.Timestamp{Time: st.in.Action.At} },
		isSet: func(st *evalState, _ int) bool { return !st.in.Action.At.IsZero() },
	},
}

// strField is a string field of the action. Its CEL value is made once per
// decision, on first use, and shared by every rule.
func strField(slot int, f func(*agentos.Action) string) *field {
	return &field{
		typ: types.StringType,
		get: func(st *evalState, _ int) ref.Val {
			if v := st.strs[slot]; v != nil {
				return v
			}
			v := types.String(f(&st.in.Action))
			st.strs[slot] = v
			return v
		},
		isSet: func(st *evalState, _ int) bool { return f(&st.in.Action) != "" },
	}
}

var subjectFields = map[string]*field{
	"id": {
		typ:   types.StringType,
		get:   func(st *evalState, w int) ref.Val { return types.String(st.subject(w).ID) },
		isSet: func(st *evalState, w int) bool { return st.subject(w).ID != "" },
	},
	"role": {
		typ:   types.StringType,
		get:   func(st *evalState, w int) ref.Val { return types.String(st.subject(w).Role) },
		isSet: func(st *evalState, w int) bool { return st.subject(w).Role != "" },
	},
	"trust": {
		typ:   types.DoubleType,
		get:   func(st *evalState, w int) ref.Val { return types.Double(st.subject(w).Trust) },
		isSet: func(st *evalState, w int) bool { return st.subject(w).Trust != 0 },
	},
	"labels": {
		typ: stringMap,
		get: func(st *evalState, w int) ref.Val {
			return types.NewStringStringMap(st.adapter, st.subject(w).Labels)
		},
		isSet: func(st *evalState, w int) bool { return len(st.subject(w).Labels) > 0 },
	},
	"present": {
		typ:   types.BoolType,
		get:   func(st *evalState, w int) ref.Val { return types.Bool(st.present(w)) },
		isSet: func(st *evalState, w int) bool { return st.present(w) },
	},
}

// provider declares agentos.Action and agentos.Subject to the CEL checker
// and resolves their fields at run time without reflection.
type provider struct {
	*types.Registry
}

func fieldsOf(typeName string) map[string]*field {
	switch typeName {
	case actionTypeName:
		return actionFields
	case subjectTypeName:
		return subjectFields
	}
	return nil
}

func (p provider) FindStructType(name string) (*types.Type, bool) {
	switch name {
	case actionTypeName:
		return types.NewTypeTypeWithParam(actionType), true
	case subjectTypeName:
		return types.NewTypeTypeWithParam(subjectType), true
	}
	return p.Registry.FindStructType(name)
}

func (p provider) FindStructFieldNames(name string) ([]string, bool) {
	if fs := fieldsOf(name); fs != nil {
		names := make([]string, 0, len(fs))
		for n := range fs {
			names = append(names, n)
		}
		return names, true
	}
	return p.Registry.FindStructFieldNames(name)
}

func (p provider) FindStructFieldType(name, fieldName string) (*types.FieldType, bool) {
	if fs := fieldsOf(name); fs != nil {
		f, ok := fs[fieldName]
		if !ok {
			return nil, false
		}
		return &types.FieldType{
			Type: f.typ,
			IsSet: func(target any) bool {
				o, ok := target.(*object)
				return ok && f.isSet(o.st, o.which)
			},
			GetFrom: func(target any) (any, error) {
				o, ok := target.(*object)
				if !ok {
					return nil, fmt.Errorf("no field %q on %T", fieldName, target)
				}
				return f.get(o.st, o.which), nil
			},
		}, true
	}
	return p.Registry.FindStructFieldType(name, fieldName)
}

// NewValue refuses to build declared objects inside expressions: policies
// read actions, they do not construct them.
func (p provider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if fieldsOf(name) != nil {
		return types.NewErr("cannot construct %s in a policy expression", name)
	}
	return p.Registry.NewValue(name, fields)
}

// object is the CEL value of action, agent or peer: a handle into the
// evalState of the decision in progress.
type object struct {
	st    *evalState
	which int
}

var (
	_ ref.Val = (*object)(nil)
)

func (o *object) fields() map[string]*field {
	if o.which == whichAction {
		return actionFields
	}
	return subjectFields
}

func (o *object) ConvertToNative(t reflect.Type) (any, error) {
	switch o.which {
	case whichAction:
		if t == reflect.TypeFor[agentos.Action]() {
			return o.st.in.Action, nil
		}
	default:
		if t == reflect.TypeFor[Subject]() {
			return *o.st.subject(o.which), nil
		}
	}
	return nil, fmt.Errorf("policy: cannot convert %s to %v", o.Type().TypeName(), t)
}

func (o *object) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return o.Type().(*types.Type)
	}
	if t.TypeName() == o.Type().TypeName() {
		return o
	}
	return types.NewErr("type conversion error from %s to %s", o.Type().TypeName(), t.TypeName())
}

// Equal compares two objects field by field.
func (o *object) Equal(other ref.Val) ref.Val {
	p, ok := other.(*object)
	if !ok || (o.which == whichAction) != (p.which == whichAction) {
		return types.False
	}
	for _, f := range o.fields() {
		if f.get(o.st, o.which).Equal(f.get(p.st, p.which)) != types.True {
			return types.False
		}
	}
	return types.True
}

func (o *object) Type() ref.Type {
	if o.which == whichAction {
		return actionType
	}
	return subjectType
}

func (o *object) Value() any { return o }

// Get implements traits.Indexer for dynamic access (o["op"]).
func (o *object) Get(index ref.Val) ref.Val {
	name, ok := index.(types.String)
	if !ok {
		return types.ValOrErr(index, "no such key: %v", index)
	}
	f, ok := o.fields()[string(name)]
	if !ok {
		return types.NewErr("no such field: %s", name)
	}
	return f.get(o.st, o.which)
}

// IsSet implements traits.FieldTester: has(o.f) is true when the field is
// not its zero value.
func (o *object) IsSet(index ref.Val) ref.Val {
	name, ok := index.(types.String)
	if !ok {
		return types.NewErr("no such field: %v", index)
	}
	f, ok := o.fields()[string(name)]
	if !ok {
		return types.NewErr("no such field: %s", name)
	}
	return types.Bool(f.isSet(o.st, o.which))
}

// evalState is the activation of one decision: the CEL variables are
// views into the Input, built once per decision without copying maps.
// It is owned by one goroutine for the length of one decision.
type evalState struct {
	in      Input
	adapter types.Adapter
	now     time.Time // zero until first needed; then Input.Now or clock()
	clock   func() time.Time
	nowVal  ref.Val
	args    ref.Val
	tool    ref.Val
	strs    [7]ref.Val
	noPeer  Subject
	objs    [3]object
	lookups lookupCache // map entries read by direct evaluation
}

var _ interpreter.Activation = (*evalState)(nil)

func (st *evalState) reset(in *Input, clock func() time.Time, adapter types.Adapter) {
	st.in = *in
	st.clock = clock
	st.adapter = adapter
	st.args, st.tool = nil, nil
	st.strs = [7]ref.Val{}
	st.now, st.nowVal = in.Now, nil
	st.lookups.n = 0
	for i := range st.objs {
		st.objs[i] = object{st: st, which: i}
	}
}

// time returns the decision time, reading the clock at most once per
// decision and only when a rule or a rate limit needs it.
func (st *evalState) time() time.Time {
	if st.now.IsZero() {
		st.now = st.clock()
	}
	return st.now
}

func (st *evalState) subject(which int) *Subject {
	if which == whichAgent {
		return &st.in.Agent
	}
	if st.in.Peer == nil {
		return &st.noPeer
	}
	return st.in.Peer
}

func (st *evalState) present(which int) bool {
	return which == whichAgent || st.in.Peer != nil
}

// ResolveName implements interpreter.Activation.
func (st *evalState) ResolveName(name string) (any, bool) {
	switch name {
	case "action":
		return &st.objs[whichAction], true
	case "agent":
		return &st.objs[whichAgent], true
	case "peer":
		return &st.objs[whichPeer], true
	case "tool":
		if st.tool == nil {
			st.tool = st.in.Tool.celValue(st.adapter)
		}
		return st.tool, true
	case "now":
		if st.nowVal == nil {
			st.nowVal = types.Timestamp{Time: st.time()}
		}
		return st.nowVal, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (st *evalState) Parent() interpreter.Activation { return nil }

// baseEnv builds the CEL environment every document extends.
func baseEnv(maxRange int64) (*cel.Env, error) {
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	opts := []cel.EnvOption{
		cel.CustomTypeAdapter(reg),
		cel.CustomTypeProvider(provider{reg}),
		cel.Variable("action", actionType),
		cel.Variable("agent", subjectType),
		cel.Variable("peer", subjectType),
		cel.Variable("tool", dynMap),
		cel.Variable("now", types.TimestampType),
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
		cel.ParserExpressionSizeLimit(MaxExpressionLength),
		cel.ParserRecursionLimit(100),
		ext.Strings(),
		ext.Lists(ext.ListsMaxRangeSize(maxRange)),
		ext.Sets(),
		ext.Bindings(),
	}
	opts = append(opts, helperFunctions()...)
	return cel.NewEnv(opts...)
}
