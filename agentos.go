package agentos

import (
	"fmt"
	"strings"
	"time"
)

// AgentID names an agent. It is chosen by the caller of Spawn and is unique
// within one kernel.
type AgentID string

// Op is the kind of syscall an agent makes. Policies test it as action.op.
type Op string

// The syscall operations. Any other value is unknown and is denied by the
// kernel before policy is consulted.
const (
	OpRead       Op = "read"       // read a file
	OpWrite      Op = "write"      // create or replace a file
	OpAppend     Op = "append"     // append to a file (the only write an append-only mount takes)
	OpStat       Op = "stat"       // file metadata
	OpList       Op = "list"       // list a directory
	OpDelete     Op = "delete"     // remove a file
	OpExec       Op = "exec"       // call a tool
	OpSend       Op = "send"       // send a message or a pipe value to another agent or topic
	OpSearch     Op = "search"     // similarity search in a vector mount
	OpCheckpoint Op = "checkpoint" // snapshot working memory and state
	OpRollback   Op = "rollback"   // restore a checkpoint
	OpSpawn      Op = "spawn"      // create an agent
	OpSignal     Op = "signal"     // send a signal to an agent
)

// Ops lists every known operation, in a stable order.
func Ops() []Op {
	return []Op{OpRead, OpWrite, OpAppend, OpStat, OpList, OpDelete, OpExec,
		OpSend, OpSearch, OpCheckpoint, OpRollback, OpSpawn, OpSignal}
}

// Valid reports whether op is one of the known operations. The comparison is
// exact: "READ" or "read " is not valid.
func (op Op) Valid() bool {
	switch op {
	case OpRead, OpWrite, OpAppend, OpStat, OpList, OpDelete, OpExec,
		OpSend, OpSearch, OpCheckpoint, OpRollback, OpSpawn, OpSignal:
		return true
	}
	return false
}

// SideEffect reports whether op changes state outside the caller (a write,
// a tool call, a message). Shadow mode records these without executing them.
func (op Op) SideEffect() bool {
	switch op {
	case OpRead, OpStat, OpList, OpSearch:
		return false
	}
	return true
}

// Action is one syscall as policy sees it. Fields that do not apply to an op
// are left empty. Args is user data (tool arguments) and may hold any
// JSON-compatible value.
type Action struct {
	ID          string            // trace id, unique per syscall; links its recorder entries
	Agent       AgentID           // the agent making the call
	Op          Op                // what it asks to do
	Path        string            // VFS path for file ops
	Tool        string            // tool name for OpExec
	Args        map[string]any    // tool arguments for OpExec
	Target      AgentID           // receiving agent (or topic) for OpSend and OpSignal
	PayloadType string            // package-qualified Go type name of a sent value
	Meta        map[string]string // free-form labels
	At          time.Time         // when the call was made
}

// String renders a short human description of the action.
func (a Action) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", a.Agent, a.Op)
	if a.Tool != "" {
		fmt.Fprintf(&b, " tool=%q", a.Tool)
	}
	if a.Path != "" {
		fmt.Fprintf(&b, " path=%q", a.Path)
	}
	if a.Target != "" {
		fmt.Fprintf(&b, " target=%q", a.Target)
	}
	if a.PayloadType != "" {
		fmt.Fprintf(&b, " payload=%s", a.PayloadType)
	}
	return b.String()
}
