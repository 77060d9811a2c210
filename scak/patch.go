package scak

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// PatchType is what a patch corrects.
type PatchType string

const (
	// PromptRule is a rule prepended to the agent's system prompt.
	PromptRule PatchType = "prompt_rule"
	// Memory is a lesson the agent retrieves before acting (stored as an
	// emk episode when the Store has one).
	Memory PatchType = "memory"
	// ToolRule is a rule about a tool's use: arguments it needs, a tool to
	// turn to when it comes back empty.
	ToolRule PatchType = "tool_rule"
	// PolicyProposal is a change of policy: a policy document that is
	// evaluated as a shadow policy and applied only once approved (see
	// [Proposer]).
	PolicyProposal PatchType = "policy_proposal"
)

// Valid reports whether t is one of the patch types.
func (t PatchType) Valid() bool {
	switch t {
	case PromptRule, Memory, ToolRule, PolicyProposal:
		return true
	}
	return false
}

// PatchLevel says what a lesson is about, which decides whether it
// survives a model upgrade ([Store.ModelUpgrade]).
type PatchLevel string

const (
	// Syntax lessons correct how one model talks and calls tools (a JSON
	// format, an argument it keeps forgetting): a new model does not need
	// them.
	Syntax PatchLevel = "syntax"
	// Business lessons are about the task and the organisation (where the
	// data lives, who approves payments): they outlive any model.
	Business PatchLevel = "business"
)

// Valid reports whether l is Syntax or Business.
func (l PatchLevel) Valid() bool { return l == Syntax || l == Business }

// PatchState is where a patch is in its life.
type PatchState string

// The states of a patch. Proposed patches become active (Activate, or an
// approved policy proposal) or rejected; active ones may be rolled back or
// purged. Rejected, rolled-back and purged are final.
const (
	Proposed   PatchState = "proposed"
	Active     PatchState = "active"
	RolledBack PatchState = "rolled_back"
	Purged     PatchState = "purged"
	Rejected   PatchState = "rejected"
)

// Valid reports whether s is one of the states.
func (s PatchState) Valid() bool {
	switch s {
	case Proposed, Active, RolledBack, Purged, Rejected:
		return true
	}
	return false
}

// Final reports whether no transition leaves s.
func (s PatchState) Final() bool { return s == RolledBack || s == Purged || s == Rejected }

// Scope says which runs a patch applies to. An empty field matches every
// value: Scope{Agent: "a1"} applies to every task of a1.
type Scope struct {
	Agent agentos.AgentID `json:"agent,omitempty"`
	Task  string          `json:"task,omitempty"`
}

// Covers reports whether a patch of scope s applies to a run of scope run.
func (s Scope) Covers(run Scope) bool {
	return (s.Agent == "" || s.Agent == run.Agent) && (s.Task == "" || s.Task == run.Task)
}

// overlaps reports whether some run is covered by both scopes.
func (s Scope) overlaps(o Scope) bool {
	return (s.Agent == "" || o.Agent == "" || s.Agent == o.Agent) &&
		(s.Task == "" || o.Task == "" || s.Task == o.Task)
}

func (s Scope) String() string {
	a, t := string(s.Agent), s.Task
	if a == "" {
		a = "*"
	}
	if t == "" {
		t = "*"
	}
	return a + "/" + t
}

// ToolUse is the content of a ToolRule patch.
type ToolUse struct {
	// Tool is the tool the rule is about.
	Tool string `json:"tool"`
	// RequireArgs are arguments a call of Tool must carry.
	RequireArgs []string `json:"require_args,omitempty"`
	// Fallback is a tool to call when Tool fails or comes back empty.
	Fallback string `json:"fallback,omitempty"`
}

func (u *ToolUse) equal(o *ToolUse) bool {
	if u == nil || o == nil {
		return u == o
	}
	return u.Tool == o.Tool && u.Fallback == o.Fallback && slices.Equal(u.RequireArgs, o.RequireArgs)
}

// Provenance is where a patch came from and who let it apply.
type Provenance struct {
	// Trace is the kernel trace id of the failure the patch corrects.
	Trace string `json:"trace,omitempty"`
	// Failure is the kind of that failure: the measure counts its
	// recurrences.
	Failure Kind `json:"failure"`
	// Model is the model the failing agent ran on; a model upgrade purges
	// syntax-level lessons learnt on the old one.
	Model string `json:"model,omitempty"`
	// Auditor is the teacher model that diagnosed the failure.
	Auditor string `json:"auditor,omitempty"`
	// Cause is the teacher's diagnosis, in a sentence.
	Cause   string    `json:"cause,omitempty"`
	Created time.Time `json:"created"`
	// ApprovedBy names who activated the patch; Approved is when.
	ApprovedBy string    `json:"approved_by,omitempty"`
	Approved   time.Time `json:"approved,omitzero"`
}

// Patch is one typed correction.
type Patch struct {
	// ID is assigned by [Store.Propose]: a content hash of type, scope,
	// key, content, tool rule and provenance trace.
	ID    string     `json:"id"`
	Type  PatchType  `json:"type"`
	Scope Scope      `json:"scope"`
	Level PatchLevel `json:"level"`
	// Key names what the patch is about ("empty-primary-source"). Two
	// patches of one type and key whose scopes overlap must say the same
	// thing to be active together. Empty means the type's default key (a
	// ToolRule's tool; the policy document's name; else the content).
	Key string `json:"key,omitempty"`
	// Content is the rule's text, the memory, the tool rule's explanation,
	// or the policy proposal's YAML document.
	Content string `json:"content"`
	// Tool is the tool rule (ToolRule only).
	Tool       *ToolUse   `json:"tool,omitempty"`
	Provenance Provenance `json:"provenance"`
	State      PatchState `json:"state"`
	// Reason says why the patch is in its state (rolled back because…).
	Reason  string    `json:"reason,omitempty"`
	Updated time.Time `json:"updated"`
	// Episode is the emk episode that holds a Memory patch, when the store
	// has an episodic memory.
	Episode string `json:"episode,omitempty"`
	// Before and After count the runs the patch covers, and those in
	// which its failure recurred, before it was active and since (see
	// [Store.RecordRun], [Store.Measure]).
	Before Tally `json:"before"`
	After  Tally `json:"after"`
}

// Bounds of a patch.
const (
	MaxKeySize     = 256
	MaxContentSize = 64 << 10 // a policy document fits
	MaxReasonSize  = 1024
	MaxNameSize    = 256 // agent, task, tool, model and auditor names
	MaxRequireArgs = 32
)

func checkName(field, s string, required bool) error {
	switch {
	case s == "" && required:
		return fmt.Errorf("scak: %w: patch %s is empty", agentos.ErrInvalid, field)
	case len(s) > MaxNameSize:
		return fmt.Errorf("scak: %w: patch %s is %d bytes, over %d", agentos.ErrInvalid, field, len(s), MaxNameSize)
	case !utf8.ValidString(s):
		return fmt.Errorf("scak: %w: patch %s is not valid UTF-8", agentos.ErrInvalid, field)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("scak: %w: patch %s %q has control characters", agentos.ErrInvalid, field, s)
	}
	return nil
}

func checkText(field, s string, limit int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("scak: %w: patch %s is empty", agentos.ErrInvalid, field)
	case len(s) > limit:
		return fmt.Errorf("scak: %w: patch %s is %d bytes, over %d", agentos.ErrInvalid, field, len(s), limit)
	case !utf8.ValidString(s):
		return fmt.Errorf("scak: %w: patch %s is not valid UTF-8", agentos.ErrInvalid, field)
	}
	return nil
}

// Validate checks what a patch says, not where it is in its life: a known
// type and level (a policy proposal is business-level), bounded UTF-8 fields, a tool rule on ToolRule patches
// only, a failure kind in the provenance. A PolicyProposal's document is
// checked by [Proposer] (it needs the policy compiler). Errors wrap
// agentos.ErrInvalid.
func (p *Patch) Validate() error {
	if !p.Type.Valid() {
		return fmt.Errorf("scak: %w: unknown patch type %q", agentos.ErrInvalid, p.Type)
	}
	if !p.Level.Valid() {
		return fmt.Errorf("scak: %w: unknown patch level %q (want syntax or business)", agentos.ErrInvalid, p.Level)
	}
	if p.Type == PolicyProposal && p.Level != Business {
		return fmt.Errorf("scak: %w: a policy proposal is a business rule, not a %s lesson", agentos.ErrInvalid, p.Level)
	}
	if err := checkName("agent", string(p.Scope.Agent), false); err != nil {
		return err
	}
	if err := checkName("task", p.Scope.Task, false); err != nil {
		return err
	}
	if len(p.Key) > MaxKeySize || !utf8.ValidString(p.Key) {
		return fmt.Errorf("scak: %w: patch key is over %d bytes or not UTF-8", agentos.ErrInvalid, MaxKeySize)
	}
	if err := checkText("content", p.Content, MaxContentSize); err != nil {
		return err
	}
	if p.Type == ToolRule {
		if p.Tool == nil {
			return fmt.Errorf("scak: %w: a tool rule needs its tool", agentos.ErrInvalid)
		}
		if err := checkName("tool", p.Tool.Tool, true); err != nil {
			return err
		}
		if err := checkName("fallback tool", p.Tool.Fallback, false); err != nil {
			return err
		}
		if p.Tool.Fallback == p.Tool.Tool {
			return fmt.Errorf("scak: %w: tool %q cannot be its own fallback", agentos.ErrInvalid, p.Tool.Tool)
		}
		if len(p.Tool.RequireArgs) > MaxRequireArgs {
			return fmt.Errorf("scak: %w: %d required arguments, over %d", agentos.ErrInvalid, len(p.Tool.RequireArgs), MaxRequireArgs)
		}
		for _, a := range p.Tool.RequireArgs {
			if err := checkName("required argument", a, true); err != nil {
				return err
			}
		}
		if p.Tool.Fallback == "" && len(p.Tool.RequireArgs) == 0 {
			return fmt.Errorf("scak: %w: tool rule for %q says nothing (no required argument, no fallback)", agentos.ErrInvalid, p.Tool.Tool)
		}
	} else if p.Tool != nil {
		return fmt.Errorf("scak: %w: a %s patch carries a tool rule", agentos.ErrInvalid, p.Type)
	}
	pv := &p.Provenance
	if pv.Failure == "" {
		return fmt.Errorf("scak: %w: patch provenance names no failure kind", agentos.ErrInvalid)
	}
	for _, f := range []struct{ name, v string }{
		{"failure kind", string(pv.Failure)}, {"trace", pv.Trace}, {"model", pv.Model},
		{"auditor", pv.Auditor}, {"approver", pv.ApprovedBy},
	} {
		if err := checkName(f.name, f.v, false); err != nil {
			return err
		}
	}
	if len(pv.Cause) > MaxReasonSize || !utf8.ValidString(pv.Cause) {
		return fmt.Errorf("scak: %w: patch cause is over %d bytes or not UTF-8", agentos.ErrInvalid, MaxReasonSize)
	}
	if err := checkName("episode id", p.Episode, false); err != nil {
		return err
	}
	if len(p.Reason) > MaxReasonSize || !utf8.ValidString(p.Reason) {
		return fmt.Errorf("scak: %w: patch reason is over %d bytes or not UTF-8", agentos.ErrInvalid, MaxReasonSize)
	}
	return nil
}

// key returns the patch's conflict key.
func (p *Patch) key() string {
	switch {
	case p.Key != "":
		return p.Key
	case p.Type == ToolRule && p.Tool != nil:
		return "tool:" + p.Tool.Tool
	}
	return "content:" + p.Content
}

// agrees reports whether p and o say the same thing.
func (p *Patch) agrees(o *Patch) bool {
	return p.Content == o.Content && p.Tool.equal(o.Tool)
}

// conflicts reports whether p and o may not be active together.
func (p *Patch) conflicts(o *Patch) bool {
	return p.Type == o.Type && p.key() == o.key() && p.Scope.overlaps(o.Scope) && !p.agrees(o)
}

// computeID is the content address of a patch.
func (p *Patch) computeID() string {
	h := sha256.New()
	field := func(s string) {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	field(string(p.Type))
	field(string(p.Scope.Agent))
	field(p.Scope.Task)
	field(string(p.Level))
	field(p.Key)
	field(p.Content)
	if p.Tool != nil {
		field(p.Tool.Tool)
		field(p.Tool.Fallback)
		for _, a := range p.Tool.RequireArgs {
			field(a)
		}
	}
	field(p.Provenance.Trace)
	return "p-" + hex.EncodeToString(h.Sum(nil)[:8])
}

// Applied is what the active patches tell one run. It is a value the run
// owns.
type Applied struct {
	// Patches are the ids of the patches applied, in the order they were
	// proposed.
	Patches []string
	// PromptRules are rules for the system prompt.
	PromptRules []string
	// ToolRules are rules about tools.
	ToolRules []ToolUse
	// Memories are lessons to recall before acting.
	Memories []string
}

// Empty reports whether no patch applies.
func (a Applied) Empty() bool { return len(a.Patches) == 0 }

// System returns the system-prompt text of the applied prompt rules,
// tool rules and memories, one per line, or "" when none applies.
func (a Applied) System() string {
	var b strings.Builder
	for _, r := range a.PromptRules {
		b.WriteString("Rule: ")
		b.WriteString(r)
		b.WriteByte('\n')
	}
	for _, t := range a.ToolRules {
		if len(t.RequireArgs) > 0 {
			fmt.Fprintf(&b, "Tool rule: call %s with %s.\n", t.Tool, strings.Join(t.RequireArgs, ", "))
		}
		if t.Fallback != "" {
			fmt.Fprintf(&b, "Tool rule: when %s fails or finds nothing, call %s.\n", t.Tool, t.Fallback)
		}
	}
	for _, m := range a.Memories {
		b.WriteString("Lesson: ")
		b.WriteString(m)
		b.WriteByte('\n')
	}
	return b.String()
}

// Prepend returns p with the applied patches as a system message before
// its messages (p itself is not modified); with nothing applied it returns
// p unchanged.
func (a Applied) Prepend(p agentos.Prompt) agentos.Prompt {
	sys := a.System()
	if sys == "" {
		return p
	}
	msgs := make([]agentos.Message, 0, len(p.Messages)+1)
	msgs = append(msgs, agentos.Message{Role: agentos.RoleSystem, Content: strings.TrimSuffix(sys, "\n")})
	p.Messages = append(msgs, p.Messages...)
	return p
}

// Fallback returns the fallback tool of the applied tool rules for tool,
// or "".
func (a Applied) Fallback(tool string) string {
	for _, t := range a.ToolRules {
		if t.Tool == tool && t.Fallback != "" {
			return t.Fallback
		}
	}
	return ""
}
