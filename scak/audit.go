package scak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// Defaults and bounds of an Auditor.
const (
	// DefaultMaxPromptBytes bounds the prompt sent to the teacher.
	DefaultMaxPromptBytes = 16 << 10
	// DefaultAuditTimeout bounds one call to the teacher.
	DefaultAuditTimeout = time.Minute
	// DefaultTeacherTokens is the MaxTokens asked of the teacher.
	DefaultTeacherTokens = 2048
	// MaxReplySize bounds the teacher reply ParseDiagnosis reads.
	MaxReplySize = 64 << 10
	// MaxPatchesPerDiagnosis bounds the patches one diagnosis proposes.
	MaxPatchesPerDiagnosis = 8
	// MaxToolResults bounds the tool results shown to the teacher.
	MaxToolResults = 16
	// maxFieldShown bounds each text field shown to the teacher.
	maxFieldShown = 2 << 10
)

// ToolResult is one tool call of the audited run, as the teacher sees it.
type ToolResult struct {
	Tool   string
	Args   string // the arguments as JSON text
	Result string // what came back ("" when nothing did)
	Err    string // the error, if the call failed
}

// AuditInput is what the teacher is shown of the run that failed.
type AuditInput struct {
	// Prompt is what the agent was asked.
	Prompt string
	// Answer is what it answered.
	Answer string
	// Calls are the tool calls it made, in order.
	Calls []ToolResult
	// Tools are the tools it could have called.
	Tools []string
	// Model is the model the agent ran on (kept in the patches'
	// provenance: a model upgrade purges syntax-level lessons of it).
	Model string
}

// Diagnosis is the teacher's finding about one failure.
type Diagnosis struct {
	Failure Failure
	// Confirmed is false when the teacher judged the detector wrong: the
	// outcome was not a failure. Such a diagnosis proposes no patch.
	Confirmed bool
	// Cause is the teacher's account of what went wrong, in a sentence.
	Cause string
	// Patches are the corrections proposed, not yet stored: scoped to the
	// failure's agent (and task, unless the teacher widened them to the
	// agent), with their provenance filled in.
	Patches []Patch
	// Teacher names the model that answered.
	Teacher string
	Usage   agentos.Usage
}

// AuditStats counts what an Auditor saw and what it sent to the teacher.
type AuditStats struct {
	// Seen counts the outcomes reviewed, failed or not.
	Seen int64
	// Audited counts the teacher calls made.
	Audited int64
	// Rejected counts teacher replies that were not a valid diagnosis, and
	// Errors the calls that failed.
	Rejected, Errors int64
	// FalsePositives counts diagnoses that found no failure.
	FalsePositives int64
	// Proposed counts the patches the diagnoses proposed.
	Proposed int64
}

// AuditOption configures an Auditor.
type AuditOption func(*auditConfig) error

type auditConfig struct {
	clock     func() time.Time
	maxPrompt int
	timeout   time.Duration
	tokens    int
	name      string
}

// WithAuditClock sets the clock that stamps proposed patches.
func WithAuditClock(now func() time.Time) AuditOption {
	return func(c *auditConfig) error {
		if now == nil {
			return fmt.Errorf("scak: %w: nil clock", agentos.ErrInvalid)
		}
		c.clock = now
		return nil
	}
}

// WithMaxPromptBytes bounds the prompt sent to the teacher
// (DefaultMaxPromptBytes; at least 1 KiB).
func WithMaxPromptBytes(n int) AuditOption {
	return func(c *auditConfig) error {
		if n < 1<<10 {
			return fmt.Errorf("scak: %w: max prompt bytes %d is under 1024", agentos.ErrInvalid, n)
		}
		c.maxPrompt = n
		return nil
	}
}

// WithAuditTimeout bounds one teacher call (DefaultAuditTimeout).
func WithAuditTimeout(d time.Duration) AuditOption {
	return func(c *auditConfig) error {
		if d <= 0 {
			return fmt.Errorf("scak: %w: audit timeout must be positive", agentos.ErrInvalid)
		}
		c.timeout = d
		return nil
	}
}

// WithTeacherName names the teacher in provenance when its completions do
// not (Completion.Model empty).
func WithTeacherName(name string) AuditOption {
	return func(c *auditConfig) error {
		if err := checkName("teacher name", name, true); err != nil {
			return err
		}
		c.name = name
		return nil
	}
}

// Auditor is the differential audit: outcomes the detectors found nothing
// wrong with are only counted; a failure goes to a stronger teacher model,
// whose reply must be a strict JSON diagnosis. An *Auditor is safe for
// concurrent use if its teacher is (agentos.Model requires it); it calls
// the teacher on the caller's goroutine.
type Auditor struct {
	teacher agentos.Model
	cfg     auditConfig

	seen, audited, rejected, errs, falsePos, proposed atomic.Int64
}

// NewAuditor returns an Auditor asking teacher. Errors wrap
// agentos.ErrInvalid (a nil teacher, a bad option).
func NewAuditor(teacher agentos.Model, opts ...AuditOption) (*Auditor, error) {
	if teacher == nil {
		return nil, fmt.Errorf("scak: %w: nil teacher model", agentos.ErrInvalid)
	}
	cfg := auditConfig{clock: time.Now, maxPrompt: DefaultMaxPromptBytes, timeout: DefaultAuditTimeout, tokens: DefaultTeacherTokens, name: "teacher"}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("scak: %w: nil audit option", agentos.ErrInvalid)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return &Auditor{teacher: teacher, cfg: cfg}, nil
}

// Stats returns the counts so far.
func (a *Auditor) Stats() AuditStats {
	return AuditStats{
		Seen: a.seen.Load(), Audited: a.audited.Load(), Rejected: a.rejected.Load(),
		Errors: a.errs.Load(), FalsePositives: a.falsePos.Load(), Proposed: a.proposed.Load(),
	}
}

// Review is the differential audit of one outcome and the failures the
// detectors found in it. With none, it counts the outcome and asks no one
// (audited is false). Otherwise it audits the most confident failure (the
// first of equals) with Audit.
func (a *Auditor) Review(ctx context.Context, failures []Failure, in AuditInput) (d Diagnosis, audited bool, err error) {
	if len(failures) == 0 {
		a.seen.Add(1)
		return Diagnosis{}, false, nil
	}
	best := 0
	for i, f := range failures {
		if f.Confidence > failures[best].Confidence {
			best = i
		}
	}
	d, err = a.audit(ctx, failures[best], in)
	return d, true, err
}

// Audit asks the teacher what went wrong in failure f, and what would
// correct it. The prompt is bounded (WithMaxPromptBytes), the call by
// WithAuditTimeout and ctx. Errors: ErrDiagnosis (wrapping
// agentos.ErrInvalid) when the reply is not a valid diagnosis — an
// unreadable reply never counts as "nothing wrong"; agentos.ErrInvalid for
// a failure without a kind; the teacher's error, wrapped.
func (a *Auditor) Audit(ctx context.Context, f Failure, in AuditInput) (Diagnosis, error) {
	return a.audit(ctx, f, in)
}

func (a *Auditor) audit(ctx context.Context, f Failure, in AuditInput) (Diagnosis, error) {
	a.seen.Add(1)
	if f.Kind == "" {
		return Diagnosis{}, fmt.Errorf("scak: %w: a failure without a kind", agentos.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return Diagnosis{}, err
	}
	p := a.prompt(f, in)
	tctx, cancel := context.WithTimeout(ctx, a.cfg.timeout)
	defer cancel()
	a.audited.Add(1)
	c, err := a.teacher.Generate(tctx, p)
	if err != nil {
		a.errs.Add(1)
		return Diagnosis{}, fmt.Errorf("scak: asking the teacher: %w", err)
	}
	w, err := ParseDiagnosis(c.Text)
	if err != nil {
		a.rejected.Add(1)
		return Diagnosis{}, err
	}
	teacher := c.Model
	if teacher == "" {
		teacher = a.cfg.name
	}
	teacher = truncate(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(teacher, "?")), MaxNameSize)
	d := Diagnosis{Failure: f, Confirmed: w.Verdict == verdictFailure, Cause: w.Cause, Teacher: teacher, Usage: c.Usage}
	if !d.Confirmed {
		a.falsePos.Add(1)
		return d, nil
	}
	now := a.cfg.clock().UTC()
	for i, wp := range w.Patches {
		p := Patch{
			Type:    wp.Type,
			Scope:   Scope{Agent: f.Agent, Task: f.Task},
			Level:   wp.Level,
			Key:     wp.Key,
			Content: wp.Content,
			Tool:    wp.Tool,
			Provenance: Provenance{
				Trace: f.Trace, Failure: f.Kind, Model: in.Model, Auditor: teacher,
				Cause: truncate(w.Cause, MaxReasonSize), Created: now,
			},
		}
		if wp.Scope == "agent" {
			p.Scope.Task = ""
		}
		if err := p.Validate(); err != nil {
			a.rejected.Add(1)
			return Diagnosis{}, fmt.Errorf("%w: patch %d: %w", ErrDiagnosis, i, err)
		}
		d.Patches = append(d.Patches, p)
	}
	a.proposed.Add(int64(len(d.Patches)))
	return d, nil
}

// teacherInstructions is the system message of every audit.
const teacherInstructions = `You audit a failed run of an AI agent. A detector flagged the failure below.
Decide whether it is a real failure, say why it happened, and propose corrections for later runs.
Reply with one JSON object and nothing else:
{"verdict": "failure" | "false_positive",
 "cause": "one sentence",
 "patches": [{"type": "prompt_rule" | "memory" | "tool_rule" | "policy_proposal",
              "level": "syntax" | "business",
              "scope": "task" | "agent",
              "key": "short-name-of-what-it-corrects",
              "content": "the rule, the lesson, or the policy YAML document",
              "tool": {"tool": "name", "require_args": ["arg"], "fallback": "other tool"}}]}
"tool" is for tool_rule only. "syntax" lessons correct how this model writes or calls tools;
"business" lessons are about the task and the organisation. A false_positive has no patches.`

// prompt builds the bounded audit prompt.
func (a *Auditor) prompt(f Failure, in AuditInput) agentos.Prompt {
	var b strings.Builder
	fmt.Fprintf(&b, "Failure: %s (confidence %.2f)\n", show(string(f.Kind)), f.Confidence)
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", label, show(v))
		}
	}
	line("Agent", string(f.Agent))
	line("Task", f.Task)
	line("Operation", string(f.Op))
	line("Tool", f.Tool)
	line("Rule", f.Rule)
	line("Evidence", f.Evidence)
	line("Request", in.Prompt)
	line("Answer", in.Answer)
	for i, c := range in.Calls {
		if i == MaxToolResults {
			fmt.Fprintf(&b, "(%d more tool calls not shown)\n", len(in.Calls)-i)
			break
		}
		fmt.Fprintf(&b, "Call %d: %s(%s)", i+1, show(c.Tool), show(c.Args))
		switch {
		case c.Err != "":
			fmt.Fprintf(&b, " failed: %s\n", show(c.Err))
		case c.Result == "":
			b.WriteString(" returned nothing\n")
		default:
			fmt.Fprintf(&b, " returned: %s\n", show(c.Result))
		}
	}
	if len(in.Tools) > 0 {
		tools := in.Tools
		if len(tools) > 64 {
			tools = tools[:64]
		}
		line("Tools available", strings.Join(tools, ", "))
	}
	user := b.String()
	if room := a.cfg.maxPrompt - len(teacherInstructions); len(user) > room {
		user = truncate(user, max(room, 0))
	}
	return agentos.Prompt{
		Messages: []agentos.Message{
			{Role: agentos.RoleSystem, Content: teacherInstructions},
			{Role: agentos.RoleUser, Content: user},
		},
		MaxTokens: a.cfg.tokens,
	}
}

// show bounds and sanitises one field for the prompt.
func show(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > maxFieldShown {
		s = truncate(s, maxFieldShown) + "…"
	}
	return strings.ReplaceAll(s, "\n", " ")
}

const (
	verdictFailure       = "failure"
	verdictFalsePositive = "false_positive"
)

// DiagnosisReply is a teacher's reply as ParseDiagnosis reads it.
type DiagnosisReply struct {
	Verdict string       `json:"verdict"`
	Cause   string       `json:"cause"`
	Patches []ReplyPatch `json:"patches"`
}

// ReplyPatch is one patch of a DiagnosisReply.
type ReplyPatch struct {
	Type    PatchType  `json:"type"`
	Level   PatchLevel `json:"level"`
	Scope   string     `json:"scope"` // "task" (the default) or "agent"
	Key     string     `json:"key"`
	Content string     `json:"content"`
	Tool    *ToolUse   `json:"tool"`
}

// ParseDiagnosis reads a teacher's reply strictly: one JSON object,
// optionally inside one Markdown code fence, with no unknown field and
// nothing after it, at most MaxReplySize bytes; a verdict of "failure" or
// "false_positive"; a cause; at most MaxPatchesPerDiagnosis patches of
// known types, levels and scopes with content (a false positive has none).
// Whether each patch validates is checked by the Auditor, which knows its
// scope and provenance. Errors wrap ErrDiagnosis and agentos.ErrInvalid.
func ParseDiagnosis(reply string) (DiagnosisReply, error) {
	bad := func(format string, args ...any) (DiagnosisReply, error) {
		return DiagnosisReply{}, fmt.Errorf("%w: %w: %s", ErrDiagnosis, agentos.ErrInvalid, fmt.Sprintf(format, args...))
	}
	if len(reply) > MaxReplySize {
		return bad("reply is %d bytes, over %d", len(reply), MaxReplySize)
	}
	if !utf8.ValidString(reply) {
		return bad("reply is not valid UTF-8")
	}
	body := unfence(strings.TrimSpace(reply))
	if body == "" {
		return bad("empty reply")
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	var w DiagnosisReply
	if err := dec.Decode(&w); err != nil {
		return bad("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("data after the JSON object")
	}
	switch w.Verdict {
	case verdictFailure, verdictFalsePositive:
	default:
		return bad("verdict %q (want failure or false_positive)", w.Verdict)
	}
	if strings.TrimSpace(w.Cause) == "" {
		return bad("no cause")
	}
	if w.Verdict == verdictFalsePositive && len(w.Patches) > 0 {
		return bad("a false positive proposes %d patches", len(w.Patches))
	}
	if len(w.Patches) > MaxPatchesPerDiagnosis {
		return bad("%d patches, over %d", len(w.Patches), MaxPatchesPerDiagnosis)
	}
	for i, p := range w.Patches {
		switch {
		case !p.Type.Valid():
			return bad("patch %d: unknown type %q", i, p.Type)
		case !p.Level.Valid():
			return bad("patch %d: unknown level %q", i, p.Level)
		case p.Scope != "" && p.Scope != "task" && p.Scope != "agent":
			return bad("patch %d: unknown scope %q (want task or agent)", i, p.Scope)
		case strings.TrimSpace(p.Content) == "":
			return bad("patch %d: no content", i)
		case (p.Type == ToolRule) != (p.Tool != nil):
			return bad("patch %d: a tool rule, and only a tool rule, carries a tool", i)
		}
	}
	return w, nil
}

// unfence strips one Markdown code fence around s ("```json … ```").
func unfence(s string) string {
	if !strings.HasPrefix(s, "```") || !strings.HasSuffix(s, "```") || len(s) < 6 {
		return s
	}
	inner := s[3 : len(s)-3]
	nl := strings.IndexByte(inner, '\n')
	if nl < 0 {
		return s
	}
	if lang := strings.TrimSpace(inner[:nl]); lang != "" && lang != "json" {
		return s
	}
	return strings.TrimSpace(inner[nl+1:])
}
