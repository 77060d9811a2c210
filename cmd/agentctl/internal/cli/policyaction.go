package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/vfs"
)

// actionSpec is an action as an operator writes it, in JSON for policy
// explain and in YAML for policy tests. Its fields are those a policy can
// see.
type actionSpec struct {
	ID          string            `json:"id,omitempty" yaml:"id"`
	Agent       string            `json:"agent,omitempty" yaml:"agent"` // action.agent and agent.id
	Role        string            `json:"role,omitempty" yaml:"role"`
	Trust       float64           `json:"trust,omitempty" yaml:"trust"`
	Labels      map[string]string `json:"labels,omitempty" yaml:"labels"`
	Op          string            `json:"op" yaml:"op"`
	Path        string            `json:"path,omitempty" yaml:"path"`
	Tool        string            `json:"tool,omitempty" yaml:"tool"`
	Args        map[string]any    `json:"args,omitempty" yaml:"args"`
	Target      string            `json:"target,omitempty" yaml:"target"`
	PayloadType string            `json:"payloadType,omitempty" yaml:"payloadType"`
	Meta        map[string]string `json:"meta,omitempty" yaml:"meta"`
	Peer        *subjectSpec      `json:"peer,omitempty" yaml:"peer"`
	ToolInfo    *toolSpec         `json:"toolInfo,omitempty" yaml:"toolInfo"`
	At          string            `json:"at,omitempty" yaml:"at"` // RFC 3339; action.at and now
}

// subjectSpec is the peer of an action.
type subjectSpec struct {
	ID     string            `json:"id,omitempty" yaml:"id"`
	Role   string            `json:"role,omitempty" yaml:"role"`
	Trust  float64           `json:"trust,omitempty" yaml:"trust"`
	Labels map[string]string `json:"labels,omitempty" yaml:"labels"`
}

// toolSpec is the tool registry's description of an exec's tool (the CEL
// variable tool, with tool.registered true).
type toolSpec struct {
	Name        string   `json:"name,omitempty" yaml:"name"`
	Version     string   `json:"version,omitempty" yaml:"version"`
	SideEffect  string   `json:"sideEffect,omitempty" yaml:"sideEffect"`
	Cost        float64  `json:"cost,omitempty" yaml:"cost"`
	Tags        []string `json:"tags,omitempty" yaml:"tags"`
	Permissions []string `json:"permissions,omitempty" yaml:"permissions"`
	Deprecated  bool     `json:"deprecated,omitempty" yaml:"deprecated"`
}

// actionFormatHelp documents actionSpec for --help.
const actionFormatHelp = `An action is a JSON (or, in tests, YAML) object of the fields policy sees:

  op           read, write, append, stat, list, delete, exec, send, search,
               checkpoint, rollback, spawn or signal (required)
  agent        the acting agent (action.agent, agent.id)
  role, trust, labels          agent.role, agent.trust, agent.labels
  path         action.path, cleaned as the kernel cleans it
  tool, args   action.tool, action.args (an exec's arguments; integers
               reach policy as int, other numbers as double)
  target, payloadType, meta, id                 the action fields
  peer         {id, role, trust, labels}: the other party (peer.present)
  toolInfo     {name, version, sideEffect, cost, tags, permissions,
               deprecated}: the registry's description (tool.registered)
  at           RFC 3339 time of the action (action.at and now; default:
               the time of the run)`

// Bounds on what an action may hold.
const (
	maxActionBytes = 1 << 20
	maxArgsDepth   = kernel.MaxArgsDepth
	maxArgsValues  = kernel.MaxArgsValues
)

// decodeActionJSON decodes one JSON action strictly: unknown fields, a
// second value and malformed JSON are errors that name the line and
// column.
func decodeActionJSON(src []byte) (*actionSpec, error) {
	if len(src) > maxActionBytes {
		return nil, fmt.Errorf("action is over %d bytes", maxActionBytes)
	}
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, errors.New("no action: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var a actionSpec
	if err := dec.Decode(&a); err != nil {
		return nil, jsonError(src, dec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		line, col := lineCol(src, dec.InputOffset())
		return nil, fmt.Errorf("%d:%d: more than one JSON value", line, col)
	}
	return &a, nil
}

// jsonError adds the line and column to a JSON decoding error.
func jsonError(src []byte, dec *json.Decoder, err error) error {
	off := dec.InputOffset()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset - 1 // the offending byte is the last one read
	case errors.As(err, &te):
		off = te.Offset
	case errors.Is(err, io.ErrUnexpectedEOF):
		off = int64(len(src))
	}
	line, col := lineCol(src, off)
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return fmt.Errorf("%d:%d: %s", line, col, msg)
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(src []byte, off int64) (int, int) {
	off = max(0, min(off, int64(len(src))))
	before := src[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// input builds the policy input of a, as the kernel builds it: the path
// cleaned, an exec's arguments never nil, integers as int64. now is the
// time when a gives none.
func (a *actionSpec) input(now time.Time) (policy.Input, error) {
	op := agentos.Op(a.Op)
	if a.Op == "" {
		return policy.Input{}, errors.New("op is missing")
	}
	if !op.Valid() {
		return policy.Input{}, fmt.Errorf("unknown op %q (want one of %s)", a.Op, opList())
	}
	act := agentos.Action{
		ID:          a.ID,
		Agent:       agentos.AgentID(a.Agent),
		Op:          op,
		Path:        a.Path,
		Tool:        a.Tool,
		Target:      agentos.AgentID(a.Target),
		PayloadType: a.PayloadType,
		Meta:        a.Meta,
	}
	if act.Path != "" || needsPath(op) {
		p, err := vfs.Clean(act.Path)
		if err != nil {
			return policy.Input{}, fmt.Errorf("path %q: the kernel refuses it before policy: %v", a.Path, err)
		}
		act.Path = p
	}
	if a.Args != nil || op == agentos.OpExec {
		n := maxArgsValues
		v, err := normalizeArg(a.Args, 0, &n)
		if err != nil {
			return policy.Input{}, fmt.Errorf("args: %v", err)
		}
		if a.Args == nil {
			v = map[string]any{}
		}
		act.Args = v.(map[string]any)
	}
	act.At = now
	if a.At != "" {
		t, err := time.Parse(time.RFC3339Nano, a.At)
		if err != nil {
			return policy.Input{}, fmt.Errorf("at %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", a.At)
		}
		act.At = t
	}
	in := policy.Input{
		Action: act,
		Agent:  policy.Subject{ID: a.Agent, Role: a.Role, Trust: a.Trust, Labels: a.Labels},
		Now:    act.At,
	}
	if a.Peer != nil {
		in.Peer = &policy.Subject{ID: a.Peer.ID, Role: a.Peer.Role, Trust: a.Peer.Trust, Labels: a.Peer.Labels}
	}
	if t := a.ToolInfo; t != nil {
		name := t.Name
		if name == "" {
			name = a.Tool
		}
		in.Tool = &policy.Tool{Name: name, Version: t.Version, SideEffect: t.SideEffect, Cost: t.Cost,
			Tags: t.Tags, Permissions: t.Permissions, Deprecated: t.Deprecated}
	}
	return in, nil
}

// needsPath mirrors the kernel: file ops always carry a (cleaned) path.
func needsPath(op agentos.Op) bool {
	switch op {
	case agentos.OpRead, agentos.OpWrite, agentos.OpAppend, agentos.OpStat, agentos.OpList, agentos.OpDelete:
		return true
	}
	return false
}

func opList() string {
	ops := agentos.Ops()
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// normalizeArg copies an argument value decoded from JSON or YAML into the
// values the kernel hands policy: nil, bool, string, int64, float64,
// []any and map[string]any. budget counts the values left.
func normalizeArg(v any, depth int, budget *int) (any, error) {
	if depth > maxArgsDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxArgsDepth)
	}
	*budget--
	if *budget < 0 {
		return nil, fmt.Errorf("more than %d values", maxArgsValues)
	}
	switch x := v.(type) {
	case nil, bool:
		return x, nil
	case string:
		if !utf8.ValidString(x) {
			return nil, errors.New("a string is not valid UTF-8")
		}
		return x, nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("integer %d overflows int64", x)
		}
		return int64(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errors.New("a number is not finite")
		}
		return x, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s is out of range", x)
		}
		return f, nil
	case time.Time:
		// YAML reads an unquoted timestamp as a time; policy sees text.
		return x.Format(time.RFC3339Nano), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := normalizeArg(e, depth+1, budget)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := normalizeArg(e, depth+1, budget)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("key %v is not a string", k)
			}
			c, err := normalizeArg(e, depth+1, budget)
			if err != nil {
				return nil, err
			}
			out[ks] = c
		}
		return out, nil
	}
	return nil, fmt.Errorf("a value of type %T is not JSON-like", v)
}

// decisionView is a decision as agentctl prints it.
type decisionView struct {
	Effect        string   `json:"effect"`
	Rule          string   `json:"rule"`
	Message       string   `json:"message,omitempty"`
	Severity      string   `json:"severity,omitempty"`
	PolicyVersion string   `json:"policy_version,omitempty"`
	Refuse        bool     `json:"refuse,omitempty"`
	Errors        []string `json:"errors,omitempty"`
}

func viewDecision(d agentos.Decision) decisionView {
	return decisionView{Effect: d.Effect.String(), Rule: d.Rule, Message: d.Message, Severity: d.Severity.String(),
		PolicyVersion: d.PolicyVersion, Refuse: d.Refuse, Errors: d.Errors}
}

// verdict renders "effect by rule" ("by default" without a rule).
func verdict(effect, rule string) string {
	if rule == "" {
		return effect + " by default"
	}
	return effect + " by " + rule
}
